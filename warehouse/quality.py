"""The quality scorecard: per source, dataset and batch, how good the data is and what is wrong.

    completeness  share of declared field values present (canonical value not null)
    validity      share of present raw values that passed their normalizer (not flagged)
    uniqueness    share of standardized rows whose business key is unique within the batch
    timeliness    hours from the newest record (the spec's `timestamp` field) to the load
    quarantine    rows held back, in total and by rule

Computed from the standardized and quarantine files, so it can be rebuilt at any time and
always agrees with them. Ratios are in [0, 1]; null where they do not apply.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from warehouse.raw import Batch, RawStore
from warehouse.standardize import TableSpec, layer_path

_CST_OFFSET = timedelta(hours=8)  # sources keep local time (Asia/Shanghai); loads are stamped in UTC

SCHEMA = {
    "source": pl.String,
    "dataset": pl.String,
    "batch_id": pl.String,
    "loaded_at": pl.Datetime("us", "UTC"),
    "raw_rows": pl.Int64,
    "standardized_rows": pl.Int64,
    "quarantined_rows": pl.Int64,
    "quarantine_rate": pl.Float64,
    "completeness": pl.Float64,
    "validity": pl.Float64,
    "uniqueness": pl.Float64,
    "timeliness_hours": pl.Float64,
    "quarantine_by_rule": pl.String,  # JSON {rule_id: rows}
    "issues_by_field": pl.String,  # JSON {field: flagged rows}
}


def batch_scores(rows: pl.DataFrame, quarantine: pl.DataFrame, spec: TableSpec, batch: Batch) -> dict:
    n_std, n_q = rows.height, quarantine.height
    fields = [f.name for f in spec.fields if f.name in rows.columns]
    completeness = validity = uniqueness = None
    issues_by_field: dict[str, int] = {}
    if n_std:
        present = rows.select(pl.col(fields).is_not_null().sum()).row(0) if fields else ()
        completeness = sum(present) / (n_std * len(fields)) if fields else None
        flagged = (
            rows.select(pl.col("_issues").list.explode().str.split_exact(":", 1).struct.field("field_0").alias("f"))
            .drop_nulls()
            .group_by("f")
            .len()
        )
        issues_by_field = dict(flagged.iter_rows())
        # Valid share of the values that were there to check: present + flagged (flags null the value).
        checked = sum(present) + sum(issues_by_field.values())
        validity = (checked - sum(issues_by_field.values())) / checked if checked else None
        if spec.key:
            uniqueness = rows.select(pl.struct(list(spec.key)).is_unique().mean()).item()
    timeliness = None
    if spec.timestamp and n_std and spec.timestamp in rows.columns:
        newest = rows[spec.timestamp].max()
        if newest is not None:
            loaded = datetime.fromisoformat(batch.loaded_at).replace(tzinfo=None)
            newest_dt = newest if isinstance(newest, datetime) else datetime.combine(newest, datetime.min.time())
            timeliness = round((loaded - (newest_dt.replace(tzinfo=None) - _CST_OFFSET)).total_seconds() / 3600, 3)
    by_rule = dict(quarantine.group_by("rule_id").len().iter_rows()) if n_q else {}
    return {
        "source": spec.source,
        "dataset": spec.dataset,
        "batch_id": batch.batch_id,
        "loaded_at": datetime.fromisoformat(batch.loaded_at),
        "raw_rows": batch.rows,
        "standardized_rows": n_std,
        "quarantined_rows": n_q,
        "quarantine_rate": n_q / batch.rows if batch.rows else None,
        "completeness": completeness,
        "validity": validity,
        "uniqueness": uniqueness,
        "timeliness_hours": timeliness,
        "quarantine_by_rule": json.dumps(dict(sorted(by_rule.items())), ensure_ascii=False),
        "issues_by_field": json.dumps(dict(sorted(issues_by_field.items())), ensure_ascii=False),
    }


def scorecard(store: RawStore, home: Path, specs: list[TableSpec]) -> pl.DataFrame:
    """One row per standardized batch of every table."""
    records = []
    for spec in specs:
        for batch in store.batches(spec.source, spec.dataset):
            std, held = (layer_path(home, layer, spec, batch.batch_id) for layer in ("standardized", "quarantine"))
            if std.exists() and held.exists():
                records.append(batch_scores(pl.read_parquet(std), pl.read_parquet(held), spec, batch))
    return pl.DataFrame(records, schema=SCHEMA)
