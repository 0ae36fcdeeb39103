"""一表通: workbooks issued per period from the base library, returns read back as a source,
rolled up per period. Thin assets over `reports`.

    reports/<template>/workbooks   partitioned by period: one pre-filled workbook per unit
    reports/<template>/rollup      partitioned by period: 网格 → 社区 → 街道 → 区, summary workbook
    raw/reports/form_value         the returns inbox: each workbook checked, accepted or refused
    std/reports/form_value         what units filed, one row per value (DHIS2's data values)
"""

import hashlib
import json

import dagster as dg

from pipelines.factories import Department, raw_asset, raw_key, standardized_tables
from pipelines.reports.tables import TABLES
from pipelines.resources import CitybaseHome
from reports import inbox, rollup
from reports.generate import generate
from reports.template import Template, templates

DEPARTMENT = Department("reports", "一表通", "team:reports", "街道、社区、网格回收的一表通工作簿")
BASE_LIBRARY = dg.AssetKey(["base", "library"])

PARTITIONS = {
    "month": dg.MonthlyPartitionsDefinition(start_date="2026-01", fmt="%Y-%m", end_offset=0),
    "quarter": dg.TimeWindowPartitionsDefinition(start="2026-01", cron_schedule="0 0 1 1,4,7,10 *", fmt="%Y-%m",
                                                 end_offset=0),
}


def _period(template: Template, partition_key: str) -> str:
    """Partition key → period: months are '2026-11'; a quarter's key is its first month."""
    if template.period == "quarter":
        year, month = partition_key.split("-")
        return f"{year}Q{(int(month) - 1) // 3 + 1}"
    return partition_key


def template_assets(template: Template) -> list[dg.AssetsDefinition]:
    partitions = PARTITIONS[template.period]
    group = "reports"

    @dg.asset(
        key=["reports", template.id, "workbooks"],
        deps=[BASE_LIBRARY],
        partitions_def=partitions,
        group_name=group,
        owners=[DEPARTMENT.owner],
        description=f"{template.title}（{template.level}级，v{template.version}）：按期下发预填工作簿",
        kinds={"xlsx"},
        tags={"layer": "reports"},
    )
    def _workbooks(context: dg.AssetExecutionContext, citybase: CitybaseHome) -> dg.MaterializeResult:
        period = _period(template, context.partition_key)
        done = generate(citybase.settings().home, template, period, actor="dagster")
        return dg.MaterializeResult(metadata={
            "period": period, "issued": len(done.issued), "kept_submitted": len(done.kept), "rows": done.rows,
            "prefilled_share": dg.MetadataValue.float(round(done.prefilled_share, 4)),
        })

    @dg.asset(
        key=["reports", template.id, "rollup"],
        deps=[_workbooks.key, raw_key(DEPARTMENT, "form_value")],
        partitions_def=partitions,
        group_name=group,
        owners=[DEPARTMENT.owner],
        description=f"{template.title}：逐级汇总（{template.level} → 区）与汇总表导出",
        kinds={"polars", "xlsx"},
        tags={"layer": "reports"},
    )
    def _rollup(context: dg.AssetExecutionContext, citybase: CitybaseHome) -> dg.MaterializeResult:
        home = citybase.settings().home
        period = _period(template, context.partition_key)
        path = rollup.export(home, template, period)
        done = rollup.completeness(rollup.rollup(home, template, period).forms)
        meta = done.to_dicts()[0] if done.height else {}
        return dg.MaterializeResult(metadata={"period": period, "summary": str(path),
                                              **{k: v for k, v in meta.items() if isinstance(v, (int, float, str))}})

    return [_workbooks, _rollup]


def _load_returns(settings, department, full_refresh):
    return inbox.process(settings.home, settings.inbox(department.key))


returns_asset = raw_asset(DEPARTMENT, "form_value", "回收的一表通工作簿：逐个校验，整本接收或整本拒收（*.xlsx）",
                          "xlsx", _load_returns)


@dg.sensor(
    name="reports_returns_inbox",
    target=[returns_asset],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="一表通：回收目录里有新的工作簿时校验入库",
)
def returns_sensor(context: dg.SensorEvaluationContext, citybase: CitybaseHome):
    folder = citybase.settings().inbox(DEPARTMENT.key)
    listing = [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in inbox.pending(folder)]
    if not listing:
        return dg.SkipReason(f"no returned workbooks in {folder}")
    run_key = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=run_key, asset_selection=[returns_asset.key])


defs = dg.Definitions.merge(
    dg.Definitions(assets=[a for t in templates().values() for a in template_assets(t)] + [returns_asset],
                   sensors=[returns_sensor]),
    standardized_tables(DEPARTMENT, TABLES),
)
