"""How well entities were resolved, against the district's ground truth.

Pairwise precision, recall and F1: every pair of records placed in one cluster is a predicted
match; every pair of records describing one true entity is a true match. Only records the
truth links to an entity of the evaluated type count (a hotline caller the truth knows as an
enterprise is not a person to be found); how many records were left out is reported.

The truth names a source row by its system's key (SQL tables, the hotline) or by
`<file>:<row>` (export files); `truth_keys` derives that from the standardized lineage.
Pipelines never read this module: it is for `citybase demo`'s report, tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

# Standardized table → the column holding the system key the truth uses (SQL and API sources).
SYSTEM_KEYS = {
    "medical_insurance__insured_person": "person_no",
    "medical_insurance__payment": "payment_id",
    "pension__recipient": "person_no",
    "pension__payout": "payout_id",
    "hotline__ticket": "ticket_no",
}


def truth_keys(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """record_id (as the resolver builds it) → (source, row_key) as the truth writes it."""
    parts = []
    for table, frame in frames.items():
        source = table.split("__", 1)[0]
        if table in SYSTEM_KEYS:
            key = pl.col(SYSTEM_KEYS[table]).cast(pl.String)
        else:
            key = pl.concat_str(pl.col("_source_file"), pl.lit(":"), pl.col("_row_number").cast(pl.String))
        parts.append(frame.select(
            pl.concat_str(pl.lit(f"{table}/"), pl.col("_batch_id"), pl.lit("/"), pl.col("_row_number").cast(pl.String)).alias("record_id"),
            pl.lit(source).alias("source"),
            key.alias("row_key"),
        ))
    return pl.concat(parts) if parts else pl.DataFrame(schema={"record_id": pl.String, "source": pl.String, "row_key": pl.String})


def pairwise_scores(clusters: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """clusters: record_id, entity (any id); truth: record_id, true_id. Pairwise P / R / F1."""
    joined = clusters.join(truth, on="record_id", how="inner")

    def pairs(*by: str) -> int:
        return int(joined.group_by(*by).len().select((pl.col("len") * (pl.col("len") - 1) // 2).sum()).item() or 0)

    predicted, actual, both = pairs("entity"), pairs("true_id"), pairs("entity", "true_id")
    precision = both / predicted if predicted else 1.0
    recall = both / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": joined.height,
        "true_entities": int(joined["true_id"].n_unique()),
        "clusters": int(joined["entity"].n_unique()),
        "predicted_pairs": predicted, "true_pairs": actual, "correct_pairs": both,
        "precision": precision, "recall": recall, "f1": f1,
    }


def evaluate(clusters: pl.DataFrame, frames: Mapping[str, pl.DataFrame], truth_dir: Path, entity_type: str) -> dict:
    """Score a resolver's clusters (record_id, role, entity) for one entity type against the truth."""
    links = pl.read_parquet(truth_dir / "source_rows.parquet").filter(pl.col("entity_type") == entity_type)
    rows = clusters.select(
        "record_id", "role", pl.col("record_id").str.replace(r"#[a-z_]+$", "").alias("row_id"))
    truth = (
        rows.join(truth_keys(frames).rename({"record_id": "row_id"}), on="row_id")
        .join(links.select("source", "row_key", "role", pl.col("entity_id").alias("true_id")), on=["source", "row_key", "role"])
        .select("record_id", "true_id")
        .unique("record_id")
    )
    scores = pairwise_scores(clusters.select("record_id", "entity"), truth)
    scores["records_not_in_truth"] = clusters.height - scores["records"]
    return scores
