"""Shared stage: the quality scorecard over every standardized table."""

import dagster as dg
import polars as pl

from pipelines.factories import std_key
from pipelines.resources import CitybaseHome
from warehouse.quality import scorecard
from warehouse.raw import RawStore
from warehouse.standardize import write_parquet


def scorecard_defs(departments: list) -> dg.Definitions:
    specs = [spec for d in departments for spec in d.TABLES]

    @dg.asset(
        key=["quality", "scorecard"],
        deps=[std_key(d.DEPARTMENT, spec.dataset) for d in departments for spec in d.TABLES],
        group_name="quality",
        owners=["team:data-governance"],
        description="数据质量评分卡：每个来源、每个批次的完整性、有效性、唯一性、及时性与隔离统计",
        kinds={"polars", "parquet"},
        tags={"layer": "quality"},
    )
    def quality_scorecard(citybase: CitybaseHome) -> dg.MaterializeResult:
        settings = citybase.settings()
        card = scorecard(RawStore(settings.raw_dir), settings.home, specs)
        write_parquet(card, settings.home / "quality" / "scorecard.parquet")
        latest = card.sort("batch_id").group_by("source", "dataset", maintain_order=True).last().sort("source", "dataset")
        shown = latest.select(
            "source", "dataset", "raw_rows", "quarantined_rows",
            *(pl.col(c).round(4) for c in ("quarantine_rate", "completeness", "validity", "uniqueness")),
        )
        return dg.MaterializeResult(
            metadata={
                "batches": card.height,
                "tables": latest.height,
                "latest_batch_per_table": dg.MetadataValue.md(_markdown(shown)),
            }
        )

    return dg.Definitions(assets=[quality_scorecard])


def _markdown(frame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width + "\n"
    return head + "\n".join("| " + " | ".join("–" if v is None else str(v) for v in row) + " |" for row in frame.iter_rows())
