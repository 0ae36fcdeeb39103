"""Factories that turn a department's declaration into Dagster definitions.

Seven departments share three shapes (SQL tables, a file inbox, a paged HTTP API), so each
department folder declares *what* it has and these factories build the assets, the run
config, the sensor or schedule. The assets are thin: the work is in `warehouse.landing`.

(No `from __future__ import annotations` here: Dagster reads the asset functions'
annotations at definition time to find their config and resources.)
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from citybase.config import Settings
from connectors.errors import SourceError
from expectations.checks import check_latest_batch, has_suite
from warehouse import landing
from warehouse.landing import FileDatasetSpec, HttpDatasetSpec, LoadReport, SqlTableSpec
from warehouse.raw import RawStore
from warehouse.standardize import TableSpec, reconcile, standardize_dataset

from pipelines.resources import CitybaseHome

TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Department:
    key: str  # english id, also the raw folder and Dagster group: medical_insurance
    label: str  # what users read: 医保
    owner: str  # Dagster owner: team:… or an e-mail
    system: str  # the departmental system, described for the UI


class LoadConfig(dg.Config):
    """Run config of every raw load. A backfill is a full refresh: it lands everything the
    source holds now as new batches beside the old ones (raw batches are never rewritten)."""

    full_refresh: bool = Field(
        default=False,
        description="Ignore the watermark / files already seen and land everything again as new batches.",
    )


def raw_key(department: Department, dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", department.key, dataset])


# A load: (settings, department, full_refresh) -> LoadReport, one of warehouse.landing's.
Load = Callable[[Settings, Department, bool], LoadReport]


def raw_asset(department: Department, dataset: str, description: str, kind: str, load: Load) -> dg.AssetsDefinition:
    """The one shape of every raw asset: run the load, report its metadata, fail cleanly."""

    @dg.asset(
        key=raw_key(department, dataset),
        group_name=department.key,
        owners=[department.owner],
        description=f"{department.label}（{department.system}）→ raw: {description}",
        kinds={kind, "parquet"},
        tags={"layer": "raw", "department": department.key},
    )
    def _asset(context: dg.AssetExecutionContext, config: LoadConfig, citybase: CitybaseHome) -> dg.MaterializeResult:
        try:
            report = load(citybase.settings(), department, config.full_refresh)
        except SourceError as exc:
            # A source problem is a clean failure naming the department and the cause.
            meta = exc.report.metadata() if isinstance(exc, landing.LoadFailed) else {}
            raise dg.Failure(description=f"{department.label} {department.key}: {exc}", metadata=meta, allow_retries=False) from None
        context.log.info(f"{dataset}: {report.rows} rows landed in {len(report.batches)} batch(es)")
        return dg.MaterializeResult(metadata=report.metadata())

    return _asset


def sql_source(department: Department, datasets: list[SqlTableSpec], cron: str = "0 2 * * *") -> dg.Definitions:
    """One asset per table, extracted incrementally by watermark; a nightly schedule."""

    def build(spec: SqlTableSpec) -> dg.AssetsDefinition:
        def load(settings: Settings, dept: Department, full_refresh: bool) -> LoadReport:
            return landing.load_sql_table(
                RawStore(settings.raw_dir), source=dept.key, spec=spec, url=settings.source_url(dept.key),
                full_refresh=full_refresh, label=dept.label,
            )

        return raw_asset(department, spec.dataset, spec.description, "sql", load)

    assets = [build(spec) for spec in datasets]
    job = dg.define_asset_job(f"{department.key}_raw_load", selection=assets)
    schedule = dg.ScheduleDefinition(
        name=f"{department.key}_nightly", job=job, cron_schedule=cron, execution_timezone=TIMEZONE
    )
    return dg.Definitions(assets=assets, jobs=[job], schedules=[schedule])


def inbox_source(department: Department, datasets: list[FileDatasetSpec]) -> dg.Definitions:
    """One asset per dataset of a file inbox; a sensor that requests a load when files arrive."""

    def build(spec: FileDatasetSpec) -> dg.AssetsDefinition:
        def load(settings: Settings, dept: Department, full_refresh: bool) -> LoadReport:
            return landing.load_inbox(
                RawStore(settings.raw_dir), source=dept.key, spec=spec, inbox=settings.inbox(dept.key),
                full_refresh=full_refresh,
            )

        description = f"{spec.description}（文件：{' '.join(spec.patterns)}）"
        return raw_asset(department, spec.dataset, description, "file", load)

    assets = [build(spec) for spec in datasets]

    @dg.sensor(
        name=f"{department.key}_inbox",
        target=assets,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"{department.label}: load files dropped into the inbox",
    )
    def _sensor(context: dg.SensorEvaluationContext, citybase: CitybaseHome):
        # Cheap listing (name, size, mtime); the load itself dedupes by content hash.
        inbox = citybase.settings().inbox(department.key)
        listing = {
            spec.dataset: sorted(
                (p.name, p.stat().st_size, int(p.stat().st_mtime))
                for pattern in spec.patterns
                for p in inbox.glob(pattern)
                if p.is_file() and not p.name.startswith((".", "~$"))
            )
            for spec in datasets
        }
        before = json.loads(context.cursor) if context.cursor else {}
        changed = [d for d, files in listing.items() if files and json.dumps(files) != json.dumps(before.get(d))]
        context.update_cursor(json.dumps(listing))
        if not changed:
            return dg.SkipReason(f"no new files in {inbox}")
        run_key = hashlib.sha256(json.dumps({d: listing[d] for d in changed}).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=run_key, asset_selection=[raw_key(department, d) for d in changed])

    return dg.Definitions(assets=assets, sensors=[_sensor])


def http_source(department: Department, spec: HttpDatasetSpec, cron: str = "*/15 * * * *") -> dg.Definitions:
    """One asset for a paged JSON API polled past its `updated_since` watermark."""

    def load(settings: Settings, dept: Department, full_refresh: bool) -> LoadReport:
        return landing.load_http(
            RawStore(settings.raw_dir), source=dept.key, spec=spec, base_url=settings.source_url(dept.key),
            full_refresh=full_refresh, label=dept.label,
        )

    asset = raw_asset(department, spec.dataset, spec.description, "api", load)
    job = dg.define_asset_job(f"{department.key}_raw_load", selection=[asset])
    schedule = dg.ScheduleDefinition(
        name=f"{department.key}_poll", job=job, cron_schedule=cron, execution_timezone=TIMEZONE
    )
    return dg.Definitions(assets=[asset], jobs=[job], schedules=[schedule])


def std_key(department: Department, dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["std", department.key, dataset])


def standardized_tables(department: Department, tables: list[TableSpec]) -> dg.Definitions:
    """One standardized asset per raw dataset, with a blocking check that nothing was lost and,
    when the table has a suite, a non-blocking Great Expectations check (`expectations`)."""

    def build(spec: TableSpec) -> tuple[dg.AssetsDefinition, list[dg.AssetChecksDefinition]]:
        key = std_key(department, spec.dataset)

        @dg.asset(
            key=key,
            # Checked against other standardized tables (the org tree): standardize those first.
            deps=[raw_key(department, spec.dataset), *(dg.AssetKey(["std", *t.split("__", 1)]) for t in spec.references)],
            group_name=department.key,
            owners=[department.owner],
            description=f"{department.label} → standardized: {spec.description}（坏行进入隔离区 quarantine）",
            kinds={"polars", "parquet"},
            tags={"layer": "standardized", "department": department.key},
            metadata={"key": ", ".join(spec.key), "fields": ", ".join(f.name for f in spec.fields)},
        )
        def _asset(context: dg.AssetExecutionContext, citybase: CitybaseHome) -> dg.MaterializeResult:
            settings = citybase.settings()
            report = standardize_dataset(RawStore(settings.raw_dir), settings.home, spec)
            context.log.info(f"{spec.table}: {report.rows} rows, {report.quarantined} quarantined")
            return dg.MaterializeResult(metadata=report.metadata())

        @dg.asset_check(asset=key, name="reconciled", blocking=True, description="每批：原始行数 = 标准化行数 + 隔离行数")
        def _reconciled(citybase: CitybaseHome) -> dg.AssetCheckResult:
            settings = citybase.settings()
            rows = reconcile(RawStore(settings.raw_dir), settings.home, spec)
            bad = [r for r in rows if not r.ok]
            return dg.AssetCheckResult(
                passed=not bad,
                severity=dg.AssetCheckSeverity.ERROR,
                description=None if not bad else f"{len(bad)} batch(es) do not add up",
                metadata={
                    "batches": len(rows),
                    "raw_rows": sum(r.raw for r in rows),
                    "standardized_rows": sum(max(r.standardized, 0) for r in rows),
                    "quarantined_rows": sum(max(r.quarantined, 0) for r in rows),
                    "mismatches": dg.MetadataValue.json(
                        [{"batch": r.batch_id, "raw": r.raw, "standardized": r.standardized, "quarantined": r.quarantined} for r in bad]
                    ),
                },
            )

        if not has_suite(spec.table):
            return _asset, [_reconciled]
        return _asset, [_reconciled, expectations_check(key, spec)]

    built = [build(spec) for spec in tables]
    return dg.Definitions(assets=[a for a, _ in built], asset_checks=[c for _, checks in built for c in checks])


def expectations_check(key: dg.AssetKey, spec: TableSpec) -> dg.AssetChecksDefinition:
    """The table's Great Expectations suite (expectations/suites/<table>.json) on its newest
    batch. Not blocking: a failed expectation is a finding about the data, reported with masked
    samples; WARN when only warning-severity expectations failed, ERROR otherwise."""

    @dg.asset_check(
        asset=key,
        name="expectations",
        blocking=False,
        description=f"Great Expectations 套件 {spec.table}.json：对最新一批的标准化结果逐条校验（样例已脱敏）",
    )
    def _expectations(citybase: CitybaseHome) -> dg.AssetCheckResult:
        settings = citybase.settings()
        check = check_latest_batch(RawStore(settings.raw_dir), settings.home, spec)
        return dg.AssetCheckResult(
            passed=check.passed,
            severity=dg.AssetCheckSeverity.WARN if check.warning_only else dg.AssetCheckSeverity.ERROR,
            description=check.description,
            metadata=_check_metadata(check.metadata),
        )

    return _expectations


def _check_metadata(metadata: dict) -> dict:
    """Plain values as they are; lists and dicts as JSON, the failures table as markdown."""
    out = {}
    for name, value in metadata.items():
        if name == "failed_expectations":
            out[name] = dg.MetadataValue.md(value)
        elif isinstance(value, (list, dict)):
            out[name] = dg.MetadataValue.json(value)
        else:
            out[name] = value
    return out
