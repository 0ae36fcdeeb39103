"""The expectation suites as checks on the standardized layer: what the `expectations` asset
check of every standardized table does, as a plain function (the Dagster check in
`pipelines/factories.py` only turns the answer into an AssetCheckResult).

    has_suite(table) -> bool                     is there an expectations/suites/<table>.json
    cached_suite(table) -> gx.ExpectationSuite   loaded strictly once per process (reloaded
                                                 when the file changes)
    check_latest_batch(store, home, spec) -> TableCheck
        the suite run on the standardized output of the table's newest raw batch, with that
        batch's facts: raw rows and loaded_at from the raw manifest, quarantined rows from the
        batch's quarantine file.

A TableCheck is plain data: `passed`, the worst failed severity ('critical' / 'warning' /
'info', None when it passed), a one-line description and JSON-able metadata in which every
sample value is already masked (`expectations.bridge.default_mask`).

Why the newest batch and not the whole table: a batch is one delivery (a month's roster, a
night's extraction), so its quarantine rate and freshness are what the department has to
answer for, and re-validating every old batch on every run would cost GX seconds for nothing.
Importing this module does not import Great Expectations; the first check does (seconds).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq

from expectations.bridge import SuiteResult, batch_facts, load_suite, suite_path, validate
from warehouse.raw import Batch, RawStore
from warehouse.standardize import TableSpec, layer_path

if TYPE_CHECKING:
    import great_expectations as gx

CRITICAL, WARNING = "critical", "warning"


def has_suite(table: str) -> bool:
    return suite_path(table).is_file()


_SUITES: dict[str, tuple[tuple[int, int], Any]] = {}
_SUITES_LOCK = threading.Lock()


def cached_suite(table: str) -> gx.ExpectationSuite:
    """The table's suite, read strictly the first time and kept; read again when the file changed
    (a long-lived code server picks up an edited suite without a restart)."""
    path = suite_path(table)
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _SUITES_LOCK:
        cached = _SUITES.get(table)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_suite(path))
            _SUITES[table] = cached
        return cached[1]


@dataclass
class TableCheck:
    table: str
    suite: str
    batch_id: str | None
    passed: bool
    severity: str | None  # worst failed severity: 'critical' | 'warning' | 'info'; None when passed
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-able, samples masked
    result: SuiteResult | None = None

    @property
    def warning_only(self) -> bool:
        """Failed, but only expectations whose severity is below critical."""
        return not self.passed and self.severity in (WARNING, "info")


def latest_batch(store: RawStore, spec: TableSpec) -> Batch | None:
    batches = store.batches(spec.source, spec.dataset)
    return batches[-1] if batches else None


def check_latest_batch(store: RawStore, home: Path, spec: TableSpec, *, now: datetime | None = None,
                       sample_size: int = 5) -> TableCheck:
    """Run the table's suite on the standardized output of its newest raw batch."""
    table = spec.table
    batch = latest_batch(store, spec)
    if batch is None:
        return _not_checked(table, None, f"{table}: no raw batch has landed yet, nothing to check")
    std = layer_path(home, "standardized", spec, batch.batch_id)
    held = layer_path(home, "quarantine", spec, batch.batch_id)
    if not (std.exists() and held.exists()):
        return _not_checked(table, batch, f"{table}: raw batch {batch.batch_id} is not standardized yet")

    frame = pl.read_parquet(std)
    facts = batch_facts(raw_rows=batch.rows, quarantined_rows=pq.read_metadata(held).num_rows,
                        loaded_at=batch.loaded_at, now=now)
    result = validate(frame, cached_suite(table), facts=facts, sample_size=sample_size)
    severity = result.worst_failed_severity
    metadata = {
        **result.metadata(),
        "batch_id": batch.batch_id,
        "source_file": batch.origin.get("file"),
        "raw_rows": batch.rows,
        "quarantined_rows": facts["quarantined_rows"],
        "quarantine_rate": round(facts["quarantine_rate"], 4),
        "hours_since_load": None if facts["hours_since_load"] is None else round(facts["hours_since_load"], 2),
        "failed_expectations": failed_markdown(result),
    }
    return TableCheck(table, result.suite, batch.batch_id, result.success, severity,
                      describe(result, batch.batch_id), {k: v for k, v in metadata.items() if v is not None}, result)


def _not_checked(table: str, batch: Batch | None, why: str) -> TableCheck:
    return TableCheck(table, table, batch.batch_id if batch else None, False, CRITICAL, why,
                      {"suite": table, **({"batch_id": batch.batch_id} if batch else {})})


def _label(outcome) -> str:
    column = outcome.column or ",".join(outcome.columns)
    return f"{outcome.type}({column})" if column else outcome.type


def describe(result: SuiteResult, batch_id: str) -> str:
    stats = result.statistics
    if result.success:
        return f"{stats['evaluated']} expectations passed on batch {batch_id} ({result.row_count:,} rows)"
    failed = result.failed
    shown = ", ".join(f"{_label(o)} [{o.severity}]" for o in failed[:3])
    more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (f"{len(failed)} of {stats['evaluated']} expectations failed on batch {batch_id} "
            f"(worst: {result.worst_failed_severity}): {shown}{more}")


def failed_markdown(result: SuiteResult) -> str | None:
    """The failed expectations as a markdown table for the UI (samples already masked)."""
    if result.success:
        return None
    head = "| expectation | column | severity | unexpected | observed / samples |\n|---|---|---|---|---|\n"
    lines = []
    for o in result.failed:
        unexpected = "–" if o.unexpected_count is None else (
            f"{o.unexpected_count:,} ({o.unexpected_percent:.2f}%)" if o.unexpected_percent is not None
            else f"{o.unexpected_count:,}")
        shown = o.exception or (", ".join(map(str, o.unexpected_samples)) if o.unexpected_samples
                                else ("" if o.observed_value is None else str(o.observed_value)))
        cells = [o.type, o.column or ",".join(o.columns) or "–", o.severity, unexpected, shown or "–"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return head + "\n".join(lines)
