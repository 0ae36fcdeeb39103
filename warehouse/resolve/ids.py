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
    first = clusters.group_by("cluster").agg(pl.col("record_id").min().alias("first_record"), pl.len().alias("size"))
    old_size = previous.group_by("entity_id").agg(pl.len().alias("old_size"))
    overlap = (
        clusters.join(previous, on="record_id")
        .group_by("cluster", "entity_id").agg(pl.len().alias("overlap"))
        .join(old_size, on="entity_id")
        .join(first, on="cluster")
        .with_columns(_seq("entity_id", prefix).alias("seq"))
    )
    # Rounds of proposals: each cluster without an id proposes its preferred id not yet taken;
    # each id accepts its preferred proposer. Stops when a round assigns nothing (1-2 rounds).
    assigned = pl.DataFrame(schema={"cluster": pl.Int64, "entity_id": pl.String})
    candidates = overlap
    while candidates.height:
        proposals = (candidates.sort(["cluster", "old_size", "seq"], descending=[False, True, False])
                     .group_by("cluster", maintain_order=True).first())
        accepted = (proposals.sort(["entity_id", "overlap", "first_record"], descending=[False, True, False])
                    .group_by("entity_id", maintain_order=True).first().select("cluster", "entity_id"))
        if accepted.height == 0:
            break
        assigned = pl.concat([assigned, accepted.cast(assigned.schema)])
        candidates = (candidates.join(accepted.select("cluster"), on="cluster", how="anti")
                      .join(accepted.select("entity_id"), on="entity_id", how="anti"))
    fresh = (first.join(assigned, on="cluster", how="anti").sort("first_record")
             .with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + issued + 1).alias("n")))
    issued += fresh.height
    fresh = fresh.select("cluster", (pl.lit(prefix) + pl.col("n").cast(pl.String).str.zfill(width)).alias("entity_id"))
    ids = pl.concat([assigned, fresh])
    xref = clusters.join(ids, on="cluster").select("record_id", "entity_id").sort("record_id")
    return xref, _changes(overlap, ids, fresh, previous, clusters), issued


def _changes(overlap: pl.DataFrame, ids: pl.DataFrame, fresh: pl.DataFrame, previous: pl.DataFrame,
             clusters: pl.DataFrame) -> pl.DataFrame:
    moved = overlap.join(ids.rename({"entity_id": "now"}), on="cluster").filter(pl.col("now") != pl.col("entity_id"))
    survivors = set(ids["entity_id"].to_list())
    # An old id that survives elsewhere lost records to `now` (split); one that vanished merged.
    split = moved.filter(pl.col("entity_id").is_in(list(survivors))).select(
        pl.col("now").alias("entity_id"), pl.lit("split_from").alias("change"), pl.col("entity_id").alias("related_id"),
        pl.col("overlap").cast(pl.Int64).alias("records"))
    merged = moved.filter(~pl.col("entity_id").is_in(list(survivors))).select(
        pl.col("entity_id"), pl.lit("merged_into").alias("change"), pl.col("now").alias("related_id"),
        pl.col("overlap").cast(pl.Int64).alias("records"))
    had_old = overlap.select("cluster").unique()
    new = (fresh.join(had_old, on="cluster", how="anti").join(clusters.group_by("cluster").len(), on="cluster")
           .select("entity_id", pl.lit("new").alias("change"), pl.lit(None, pl.String).alias("related_id"),
                   pl.col("len").cast(pl.Int64).alias("records")))
    gone = previous.join(clusters.select("record_id"), on="record_id", how="anti").group_by("entity_id").len()
    retired = (gone.filter(~pl.col("entity_id").is_in(list(survivors)) & ~pl.col("entity_id").is_in(moved["entity_id"].to_list()))
               .select("entity_id", pl.lit("retired").alias("change"), pl.lit(None, pl.String).alias("related_id"),
                       pl.col("len").cast(pl.Int64).alias("records")))
    return pl.concat([new, merged, split, retired]).cast(CHANGE_SCHEMA).sort("change", "entity_id")
