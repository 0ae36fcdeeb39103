"""Golden records: one row per entity, each attribute chosen by survivorship rules.

Rules (in the order the config lists them, then the record id as the last tie-break, so the
choice is deterministic):

    source_priority   the input listed first in the config wins
    valid             a value the config's `valid_when` condition accepts wins
    most_recent       the record with the latest `recorded_at` wins
    most_frequent     the value most records of the entity agree on wins

Every attribute carries `<attr>_source`: the label of the source it came from.
"""

from __future__ import annotations

import polars as pl

from warehouse.resolve.config import EntityConfig


def golden_records(records: pl.DataFrame, xref: pl.DataFrame, config: EntityConfig) -> pl.DataFrame:
    """records (from engine.gather) + xref (record_id → entity_id) → one row per entity."""
    id_col = f"{config.entity}_id"
    rows = records.join(xref, on="record_id")
    base = rows.group_by("entity_id").agg(
        pl.len().alias("record_count"),
        pl.col("source_label").unique().sort().alias("sources"),
        *((pl.col(config.recorded_at).min().alias("first_seen"), pl.col(config.recorded_at).max().alias("last_seen"))
          if config.recorded_at else ()),
    )
    for attr, rules in config.survivorship.items():
        candidates = rows.filter(pl.col(attr).is_not_null())
        keys, descending = [], []
        for rule in rules:
            if rule == "source_priority":
                keys.append(pl.col("source_rank")); descending.append(False)
            elif rule == "valid" and f"_valid_{attr}" in candidates.columns:
                keys.append(pl.col(f"_valid_{attr}")); descending.append(True)
            elif rule == "most_recent" and config.recorded_at:
                keys.append(pl.col(config.recorded_at)); descending.append(True)
            elif rule == "most_frequent":
                keys.append(pl.len().over("entity_id", attr)); descending.append(True)
        keys.append(pl.col("record_id")); descending.append(False)
        chosen = (
            candidates.sort(keys, descending=descending, nulls_last=True)
            .group_by("entity_id", maintain_order=True)
            .first()
            .select("entity_id", pl.col(attr), pl.col("source_label").alias(f"{attr}_source"))
        )
        base = base.join(chosen, on="entity_id", how="left")
    return base.rename({"entity_id": id_col}).sort(id_col)
