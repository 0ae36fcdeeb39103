"""Stable entity ids across runs.

A run clusters records afresh; ids are then carried over from the previous run's xref
(record_id → entity_id). The rule, applied to every new cluster and every old id:

1. A new cluster may keep one of the ids its records had. Among them it prefers the id of the
   *larger* old cluster, then the *older* id (lower sequence number).
2. An old id goes to at most one new cluster: the one holding most of its old records, then the
   one whose first record_id sorts first. So when clusters merge, the larger older cluster's id
   survives and the others are recorded as merged into it; when a cluster splits, the part
   with most of its records keeps the id and the others get new ids, recorded as split from it.
3. Clusters left without an id get new ones, numbered in order of their first record_id after
   the highest number ever issued (numbers are never reused).

Re-running on the same input therefore changes no id; adding records changes no existing
entity's id unless the new evidence merges or splits it, and every such change is recorded.
"""

from __future__ import annotations

import polars as pl

XREF_SCHEMA = {"record_id": pl.String, "entity_id": pl.String}
CHANGE_SCHEMA = {"entity_id": pl.String, "change": pl.String, "related_id": pl.String, "records": pl.Int64}


def _seq(col: str, prefix: str) -> pl.Expr:
    return pl.col(col).str.strip_prefix(prefix).cast(pl.Int64, strict=False)


def assign_ids(clusters: pl.DataFrame, previous: pl.DataFrame | None, *, prefix: str, width: int = 9,
               issued: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """clusters: record_id, cluster → (xref: record_id, entity_id; changes; highest number issued)."""
    previous = previous if previous is not None else pl.DataFrame(schema=XREF_SCHEMA)
    issued = max(issued, int(previous.select(_seq("entity_id", prefix).max()).item() or 0))
    # Strings are compared once, in two sorts: a record's place in record_id order (`_r`) and an
    # old id's number in entity_id order (`old`) stand in for them everywhere after. A cluster is
    # known by the place of its first record (`first_record`), the rule's tie-break.
    recs = (clusters.select("record_id", "cluster").sort("record_id").with_row_index("_r")
            .with_columns(pl.col("_r").min().over("cluster").alias("first_record"), pl.len().over("cluster").alias("size")))
    first = recs.filter(pl.col("_r") == pl.col("first_record")).select("first_record", "size")
    prev = previous.select("record_id", "entity_id").sort("entity_id").with_columns(pl.col("entity_id").rle_id().alias("old"))
    old_ids = prev.group_by("old", maintain_order=True).agg(pl.col("entity_id").first(), pl.len().alias("old_size"))
    matched = prev.join(recs.select("record_id", "first_record"), on="record_id", how="left")  # null: the record is gone
    overlap = (
        matched.filter(pl.col("first_record").is_not_null())
        .group_by("first_record", "old").agg(pl.len().alias("overlap"))
        .with_columns(pl.lit(old_ids["old_size"]).gather("old").alias("old_size"),  # `old` is a row of old_ids
                      pl.lit(old_ids.select(_seq("entity_id", prefix))["entity_id"]).gather("old").alias("seq"))
    )
    # Rounds of proposals: each cluster without an id proposes its preferred id not yet taken;
    # each id accepts its preferred proposer. Every round assigns at least one (1-2 rounds).
    # (`old` last: ids alike in size and number, which the rule leaves open, go in entity_id order.)
    rounds = []
    candidates = overlap
    while candidates.height:
        proposals = _first(candidates, "first_record", ["old_size", "seq", "old"], [True, False, False])
        accepted = _first(proposals, "old", ["overlap", "first_record"], [True, False]).select("first_record", "old")
        rounds.append(accepted)
        candidates = (candidates.join(accepted.select("first_record"), on="first_record", how="anti")
                      .join(accepted.select("old"), on="old", how="anti"))
    assigned = pl.concat(rounds) if rounds else pl.DataFrame(schema={"first_record": recs.schema["first_record"], "old": prev.schema["old"]})
    fresh = (first.join(assigned, on="first_record", how="anti").sort("first_record")
             .with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + issued + 1).alias("n")))
    issued += fresh.height
    fresh = fresh.select("first_record", "size", (pl.lit(prefix) + pl.col("n").cast(pl.String).str.zfill(width)).alias("entity_id"))
    ids = pl.concat([assigned.select("first_record", pl.lit(old_ids["entity_id"]).gather("old").alias("entity_id")),
                     fresh.select("first_record", "entity_id")])
    xref = recs.join(ids, on="first_record").sort("_r").select("record_id", "entity_id")
    return xref, _changes(overlap, assigned, ids, fresh, old_ids, matched), issued


def _first(frame: pl.DataFrame, group: str, order: list[str], descending: list[bool]) -> pl.DataFrame:
    """Each group's first row in `order`; most groups have one row, and only the others are sorted."""
    alone = frame.select(pl.len().over(group) == 1).to_series()
    contested = frame.filter(~alone).sort([group, *order], descending=[False, *descending]).filter(pl.col(group).is_first_distinct())
    return pl.concat([frame.filter(alone), contested])


def _changes(overlap: pl.DataFrame, assigned: pl.DataFrame, ids: pl.DataFrame, fresh: pl.DataFrame,
             old_ids: pl.DataFrame, matched: pl.DataFrame) -> pl.DataFrame:
    # Old ids never equal fresh ones (fresh numbers exceed every old one), so an old id survives
    # exactly when a cluster was assigned it, and its records moved when their cluster was not.
    old_name = old_ids.select("old", pl.col("entity_id").alias("old_id"))
    moved = (overlap.join(assigned, on=["first_record", "old"], how="anti")
             .join(ids.rename({"entity_id": "now"}), on="first_record").join(old_name, on="old")
             .with_columns(pl.col("old").is_in(assigned["old"].implode()).alias("survives")))
    # An old id that survives elsewhere lost records to `now` (split); one that vanished merged.
    split = moved.filter(pl.col("survives")).select(
        pl.col("now").alias("entity_id"), pl.lit("split_from").alias("change"), pl.col("old_id").alias("related_id"),
        pl.col("overlap").cast(pl.Int64).alias("records"))
    merged = moved.filter(~pl.col("survives")).select(
        pl.col("old_id").alias("entity_id"), pl.lit("merged_into").alias("change"), pl.col("now").alias("related_id"),
        pl.col("overlap").cast(pl.Int64).alias("records"))
    new = (fresh.join(overlap, on="first_record", how="anti")
           .select("entity_id", pl.lit("new").alias("change"), pl.lit(None, pl.String).alias("related_id"),
                   pl.col("size").cast(pl.Int64).alias("records")))
    gone = matched.filter(pl.col("first_record").is_null()).group_by("old").len()
    retired = (gone.join(assigned, on="old", how="anti").join(moved, on="old", how="anti")
               .join(old_name, on="old")
               .select(pl.col("old_id").alias("entity_id"), pl.lit("retired").alias("change"),
                       pl.lit(None, pl.String).alias("related_id"), pl.col("len").cast(pl.Int64).alias("records")))
    return pl.concat([new, merged, split, retired]).cast(CHANGE_SCHEMA).sort("change", "entity_id", "related_id")
