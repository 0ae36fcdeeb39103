"""Shared stages after standardization: entity resolution per entity type, then the publish
of the base library snapshot. Thin assets over `warehouse.resolve` and `warehouse.base_library`."""

import dagster as dg
import polars as pl

from pipelines.factories import std_key
from pipelines.resources import CitybaseHome
from warehouse import base_library
from warehouse.resolve import builtin, load_state, resolve_entity

ENTITIES = {  # entity type → what users call it
    "person": "人口",
    "enterprise": "法人",
    "building": "楼栋",
    "heritage_site": "文物点",
}


def _std_key_of(table: str, departments: list) -> dg.AssetKey:
    for d in departments:
        for spec in d.TABLES:
            if spec.table == table:
                return std_key(d.DEPARTMENT, spec.dataset)
    raise KeyError(f"no standardized table {table}")


def entity_asset(entity: str, departments: list) -> dg.AssetsDefinition:
    config = builtin(entity)
    tables = sorted({i.table for i in config.inputs})

    @dg.asset(
        key=["entities", entity],
        deps=[_std_key_of(t, departments) for t in tables],
        group_name="entities",
        owners=["team:data-governance"],
        description=f"{ENTITIES[entity]}实体识别：{', '.join(i.label or i.table for i in config.inputs)} → 稳定 {entity}_id + 黄金记录",
        kinds={"splink", "duckdb", "parquet"} if config.probabilistic else {"polars", "parquet"},
        tags={"layer": "entities"},
    )
    def _asset(context: dg.AssetExecutionContext, citybase: CitybaseHome) -> dg.MaterializeResult:
        settings = citybase.settings()
        frames = {t: base_library.read_standardized(settings.home, t) for t in tables}
        result = resolve_entity(config, frames, settings.home / "entities" / entity)
        meta = result.metadata()
        truth = settings.district_dir / "truth"
        if (truth / "source_rows.parquet").exists():  # the synthetic district knows the answer
            from district.evaluate import evaluate

            scores = evaluate(result.xref.select("record_id", "role", pl.col(f"{entity}_id").alias("entity")),
                              frames, truth, entity)
            meta.update({f"truth_{k}": round(scores[k], 4) for k in ("precision", "recall", "f1")})
        context.log.info(f"{entity}: {result.golden.height} entities from {result.records.height} records")
        return dg.MaterializeResult(metadata=meta)

    return _asset


def entity_defs(departments: list) -> dg.Definitions:
    entities = [entity_asset(e, departments) for e in ENTITIES]

    @dg.asset(
        key=["base", "library"],
        # + what units filed in 一表通 returns (table form_value)
        deps=[a.key for a in entities] + [dg.AssetKey(["quality", "scorecard"]), dg.AssetKey(["std", "reports", "form_value"])],
        group_name="entities",
        owners=["team:data-governance"],
        description="统一基础库：原子发布的快照（Parquet + base.duckdb 目录），默认视图脱敏",
        kinds={"duckdb", "parquet"},
        tags={"layer": "base"},
        pool="base_library",  # one writer of base.duckdb at a time
    )
    def base_library_snapshot(citybase: CitybaseHome) -> dg.MaterializeResult:
        settings = citybase.settings()
        states = {e: load_state(settings.home / "entities" / e) for e in ENTITIES}
        tables = base_library.build(settings.home, states)
        version = base_library.publish(settings.home, tables, notes={e: s.state for e, s in states.items()})
        return dg.MaterializeResult(metadata={
            "snapshot_version": version,
            "catalog": str(settings.home / "base" / "base.duckdb"),
            "tables": dg.MetadataValue.json({t: f.height for t, f in tables.items()}),
            "schema_version": base_library.SCHEMA_VERSION,
        })

    return dg.Definitions(assets=[*entities, base_library_snapshot])
