"""The quality scorecard: per source, dataset and batch, how good the data is and what is wrong.

    completeness  share of declared field values delivered (not empty), valid or not
    validity      share of the delivered values that passed their checks (not flagged)
    uniqueness    share of standardized rows whose business key is unique within the batch
    timeliness    hours from the newest record (the spec's `timestamp` field) to the load
    quarantine    rows held back, in total and by rule

Computed from the standardized and quarantine files, so it can be rebuilt at any time and
always agrees with them. Ratios are in [0, 1]; null where they do not apply.

Completeness and validity are separate questions: an empty optional value is never a flag on
its row (most optional fields are often empty), it lowers completeness and is counted per
field in `empty_by_field`; a value that was delivered but failed a check lowers validity and
is counted in `issues_by_field`. An empty *required* value sends the row to quarantine
('<kind>.empty' in `quarantine_by_rule`), so it never lowers completeness. Per cell:
delivered = canonical value present or flagged (a flag nulls an invalid value).
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
    "empty_by_field": pl.String,  # JSON {field: standardized rows without a value}
}


def batch_scores(rows: pl.DataFrame, quarantine: pl.DataFrame, spec: TableSpec, batch: Batch) -> dict:
    n_std, n_q = rows.height, quarantine.height
    fields = [f.name for f in spec.fields if f.name in rows.columns]
    completeness = validity = uniqueness = None
    issues_by_field: dict[str, int] = {}
    empty_by_field: dict[str, int] = {}
    if n_std:
        flagged = (
            rows.select(pl.col("_issues").list.explode().str.split_exact(":", 1).struct.field("field_0").alias("f"))
            .drop_nulls()
            .group_by("f")
            .len()
        )
        issues_by_field = dict(flagged.iter_rows())
        if fields:
            # ',name:issue,…,' once per row; a field's flag is ',<field>:' in it.
            tags = pl.concat_str(pl.lit(","), pl.col("_issues").list.join(","), pl.lit(","))
            cells = rows.select(tags.alias("__tags"), *fields).select(
                *(pl.col(f).is_not_null().alias(f"{f}__value") for f in fields),
                *(pl.col("__tags").str.contains(f",{f}:", literal=True).alias(f"{f}__flag") for f in fields),
            )
            counts = cells.select(
                *((pl.col(f"{f}__value") | pl.col(f"{f}__flag")).sum().alias(f"{f}__delivered") for f in fields),
                *((pl.col(f"{f}__value") & ~pl.col(f"{f}__flag")).sum().alias(f"{f}__valid") for f in fields),
            ).row(0, named=True)
            delivered = sum(counts[f"{f}__delivered"] for f in fields)
            valid = sum(counts[f"{f}__valid"] for f in fields)
            completeness = delivered / (n_std * len(fields))
            validity = valid / delivered if delivered else None
            empty_by_field = {f: n_std - counts[f"{f}__delivered"] for f in fields if counts[f"{f}__delivered"] < n_std}
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
        "empty_by_field": json.dumps(dict(sorted(empty_by_field.items())), ensure_ascii=False),
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
