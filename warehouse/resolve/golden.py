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
    id_col, at = f"{config.entity}_id", config.recorded_at
    attrs = list(config.survivorship)
    valid = [f"_valid_{a}" for a in attrs if f"_valid_{a}" in records.columns]
    keys = list(dict.fromkeys(["source_rank", *([at] if at else []), *valid]))
    # Rows in (entity_id, record_id) order: `_e` numbers the entities in output order, and
    # within an entity the row order is the record_id tie-break. (A left join + filter is the
    # inner join, faster in polars here.)
    rows = (records.select(list(dict.fromkeys(["record_id", "source_label", *keys, *attrs])))
            .join(xref.with_columns(pl.lit(True).alias("_hit")), on="record_id", how="left").filter(pl.col("_hit"))
            .sort("entity_id", "record_id")
            .with_columns(pl.col("entity_id").rle_id().alias("_e"))
            .with_columns(pl.len().over("_e").alias("record_count")))
    # Most entities have a single record: its values are the golden ones, nothing to sort.
    single = rows.filter(pl.col("record_count") == 1).select(
        "_e", "entity_id", "record_count", pl.concat_list("source_label").alias("sources"),
        *((pl.col(at).alias("first_seen"), pl.col(at).alias("last_seen")) if at else ()),
        *(c for a in attrs for c in (pl.col(a), pl.when(pl.col(a).is_not_null()).then(pl.col("source_label")).alias(f"{a}_source"))))
    multi = rows.filter(pl.col("record_count") > 1).with_row_index("_i")
    golden = multi.group_by("_e", maintain_order=True).agg(
        pl.col("entity_id").first(), pl.col("record_count").first(), pl.col("source_label").unique().sort().alias("sources"),
        *((pl.col(at).min().alias("first_seen"), pl.col(at).max().alias("last_seen")) if at else ()))
    for attr, rules in config.survivorship.items():
        order, descending = [pl.col("_e")], [False]
        for rule in rules:
            if rule == "source_priority":
                order.append(pl.col("source_rank")); descending.append(False)
            elif rule == "valid" and f"_valid_{attr}" in valid:
                order.append(pl.col(f"_valid_{attr}")); descending.append(True)
            elif rule == "most_recent" and at:
                order.append(pl.col(at)); descending.append(True)
            elif rule == "most_frequent":
                order.append(pl.len().over("_e", attr)); descending.append(True)
        order.append(pl.col("_i")); descending.append(False)
        # Sort only the key columns; the winners (in _e order) are then picked out of `multi`.
        winners = (multi.select(list(dict.fromkeys(["_i", "_e", *keys, attr]))).filter(pl.col(attr).is_not_null())
                   .sort(order, descending=descending, nulls_last=True).filter(pl.col("_e").is_first_distinct()))
        chosen = multi.select("_e", attr, pl.col("source_label").alias(f"{attr}_source"))[winners["_i"]]
        golden = golden.join(chosen, on="_e", how="left")
    return pl.concat([single, golden]).sort("_e").drop("_e").rename({"entity_id": id_col})
