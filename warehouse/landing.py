"""Landing: pull one dataset through its connector into the raw layer.

Pure functions over (connector, RawStore): Dagster assets wrap them thinly, tests call them
directly. Each returns a `LoadReport` that becomes the asset's materialization metadata.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from connectors import files, http, sql
from connectors.errors import SourceError, SourceUnavailable, UnreadableFile, safe_url
from connectors.retry import retry
from warehouse.raw import RawStore


@dataclass
class LoadReport:
    source: str
    dataset: str
    rows: int = 0
    batches: list[str] = field(default_factory=list)
    watermark_before: str | None = None
    watermark_after: str | None = None
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)  # already landed (same content hash)
    files_rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0

    def metadata(self) -> dict:
        meta: dict = {"rows": self.rows, "batches": len(self.batches), "seconds": round(self.seconds, 3)}
        if self.batches:
            meta["batch_ids"] = ", ".join(self.batches)
        if self.watermark_before is not None or self.watermark_after is not None:
            meta["watermark_before"] = self.watermark_before or "(full load)"
            meta["watermark_after"] = self.watermark_after or "(none)"
        if self.files_loaded or self.files_skipped or self.files_rejected:
            meta["files_loaded"] = ", ".join(self.files_loaded) or "(none)"
            meta["files_skipped"] = len(self.files_skipped)
            meta["files_rejected"] = len(self.files_rejected)
        return meta


class LoadFailed(SourceError):
    """Some files of a load were refused; the good ones were landed (see `report`)."""

    def __init__(self, message: str, report: LoadReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class SqlTableSpec:
    """A table of a departmental database, extracted incrementally by its watermark column."""

    table: str
    watermark: str | None
    description: str = ""
    name: str = ""  # raw dataset name; defaults to the table name in lower case

    @property
    def dataset(self) -> str:
        return self.name or self.table.lower()


def load_sql_table(
    store: RawStore,
    *,
    source: str,
    spec: SqlTableSpec,
    url: str,
    full_refresh: bool = False,
    chunk_rows: int = 50_000,
    label: str = "",
    attempts: int = 3,
) -> LoadReport:
    """Extract a table (incrementally past the stored watermark) into one new raw batch.

    A failure part-way discards the batch and the whole extraction is retried, so a batch
    is always one complete extraction.
    """
    started = time.perf_counter()
    dataset, table, watermark_column = spec.dataset, spec.table, spec.watermark
    report = LoadReport(source, dataset)
    since = None if full_refresh or not watermark_column else store.watermark(source, dataset)
    report.watermark_before = since

    def load_once() -> None:
        with store.write_batch(source, dataset, kind="sql") as batch:
            high = since
            for chunk in sql.extract_table(
                url, table, watermark_column=watermark_column, since=since, chunk_rows=chunk_rows, source=label or source
            ):
                batch.write(chunk, source_table=table)
                if watermark_column and chunk.num_rows:
                    high = _max_text(high, sql.max_watermark(chunk, watermark_column))
            batch.origin = {
                "url": safe_url(url),
                "table": table,
                "watermark_column": watermark_column,
                "since": since,
                "high_watermark": high,
                "full_refresh": full_refresh,
            }
            report.rows = batch.rows
            report.watermark_after = high
            if batch.rows:
                report.batches = [batch.batch_id]

    retry(load_once, attempts=attempts, backoff=1.0, max_backoff=10.0, is_transient=_retryable)
    report.seconds = time.perf_counter() - started
    return report


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, SourceUnavailable)


def _max_text(a: str | None, b: str | None) -> str | None:
    """Watermarks are canonical text of one type, so the later one is the larger string...
    except for numbers, which compare as numbers."""
    if a is None or b is None:
        return a if b is None else b
    try:
        return a if float(a) >= float(b) else b
    except ValueError:
        return max(a, b)


@dataclass(frozen=True)
class FileDatasetSpec:
    """Which inbox files belong to a dataset, and how to read them."""

    dataset: str
    patterns: tuple[str, ...]
    description: str = ""
    header_rows: int | None = None  # workbooks: override header detection
    title_rows: int | None = None


def read_file(path: Path, spec: FileDatasetSpec) -> list[files.FileTable]:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return [files.read_csv(path)]
    if suffix in (".jsonl", ".ndjson"):
        return [files.read_jsonl(path)]
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return files.read_workbook(path, header_rows=spec.header_rows, title_rows=spec.title_rows)
    raise UnreadableFile(path, f"unsupported file type '{suffix}' (expected .csv, .jsonl or .xlsx)")


def load_inbox(
    store: RawStore,
    *,
    source: str,
    spec: FileDatasetSpec,
    inbox: Path,
    full_refresh: bool = False,
) -> LoadReport:
    """Land every new file of a dataset from the source's inbox, one batch per file.

    A file is recognised by its content hash, so a re-delivered file (even renamed) is
    skipped; `full_refresh` lands every file again as new batches. A file that cannot be
    read is moved to `<inbox>/_rejected/` with a `.reason.txt` beside it and reported;
    the other files still land, then the load raises `LoadFailed` naming the refused ones.
    """
    started = time.perf_counter()
    report = LoadReport(source, spec.dataset)
    seen = set() if full_refresh else store.seen_files(source)
    candidates = files.new_files(inbox, list(spec.patterns), set()) if inbox.exists() else []
    for path, sha in candidates:
        if sha in seen:
            report.files_skipped.append(path.name)
            continue
        try:
            tables = read_file(path, spec)
        except UnreadableFile as exc:
            report.files_rejected.append((path.name, exc.reason))
            _reject(inbox, path, exc.reason)
            continue
        # An empty delivery is still a delivery: keep its batch so the file counts as seen.
        with store.write_batch(source, spec.dataset, kind="file", keep_empty=True) as batch:
            for t in tables:
                batch.write(
                    t.table, row_numbers=t.row_numbers, source_file=path.name, source_table=t.sheet, file_sha256=sha
                )
            batch.origin = {
                "file": path.name,
                "sha256": sha,
                "size": path.stat().st_size,
                "full_refresh": full_refresh,
                "parts": [
                    {
                        "sheet": t.sheet,
                        "encoding": t.encoding,
                        "header": t.header,
                        "preamble": t.preamble,
                        "footer": t.footer,
                        "rows": t.table.num_rows,
                    }
                    for t in tables
                ],
            }
        seen.add(sha)
        report.batches.append(batch.batch_id)
        report.files_loaded.append(path.name)
        report.rows += batch.rows
    report.seconds = time.perf_counter() - started
    if report.files_rejected:
        listed = "; ".join(f"{name}: {reason}" for name, reason in report.files_rejected)
        raise LoadFailed(f"{source}.{spec.dataset}: {len(report.files_rejected)} file(s) refused — {listed}", report)
    return report


def _reject(inbox: Path, path: Path, reason: str) -> None:
    rejected = inbox / "_rejected"
    rejected.mkdir(exist_ok=True)
    shutil.move(str(path), rejected / path.name)
    (rejected / f"{path.name}.reason.txt").write_text(reason + "\n", "utf-8")


@dataclass(frozen=True)
class HttpDatasetSpec:
    dataset: str
    path: str
    watermark_field: str  # the change stamp, 'YYYY-MM-DD HH:MM:SS'
    key_field: str  # identifies a record (with its stamp) for the overlap below
    description: str = ""
    page_size: int = 500
    items_key: str = "data"
    next_key: str = "next_cursor"


def load_http(
    store: RawStore,
    *,
    source: str,
    spec: HttpDatasetSpec,
    base_url: str,
    full_refresh: bool = False,
    label: str = "",
) -> LoadReport:
    """Page through records updated since the stored watermark into one new raw batch.

    The API's `updated_since` is exclusive and stamps have one-second resolution, so a record
    written later within the watermark's own second would never be asked for. We therefore
    ask from one second earlier and drop the records already landed at the watermark second
    (their keys are kept in the manifest as `edge_keys`).
    """
    started = time.perf_counter()
    report = LoadReport(source, spec.dataset)
    previous = None if full_refresh else _last_with_watermark(store, source, spec.dataset)
    since = previous["high_watermark"] if previous else None
    edge_keys = set(previous.get("edge_keys", [])) if previous else set()
    report.watermark_before = since
    with store.write_batch(source, spec.dataset, kind="http") as batch:
        high = since
        for page in http.fetch_pages(
            base_url,
            spec.path,
            since=_one_second_before(since),
            page_size=spec.page_size,
            items_key=spec.items_key,
            next_key=spec.next_key,
            source=label or source,
        ):
            fresh = [r for r in page if not (str(r.get(spec.watermark_field)) == since and str(r.get(spec.key_field)) in edge_keys)]
            if not fresh:
                continue
            batch.write(http.records_to_table(fresh), source_table=spec.path)
            stamps = [str(r[spec.watermark_field]) for r in fresh if r.get(spec.watermark_field) is not None]
            page_high = max(stamps, default=None)
            if page_high is not None and (high is None or page_high > high):
                high, edge_keys = page_high, set()
            edge_keys |= {str(r.get(spec.key_field)) for r in fresh if str(r.get(spec.watermark_field)) == high}
        batch.origin = {
            "url": safe_url(base_url.rstrip("/") + spec.path),
            "since": since,
            "high_watermark": high,
            "watermark_field": spec.watermark_field,
            "edge_keys": sorted(edge_keys),
            "full_refresh": full_refresh,
        }
        report.rows = batch.rows
        report.watermark_after = high
        if batch.rows:
            report.batches = [batch.batch_id]
    report.seconds = time.perf_counter() - started
    return report


def _last_with_watermark(store: RawStore, source: str, dataset: str) -> dict | None:
    for batch in reversed(store.batches(source, dataset)):
        if batch.origin.get("high_watermark") is not None:
            return batch.origin
    return None


def _one_second_before(stamp: str | None) -> str | None:
    if stamp is None:
        return None
    try:
        return (datetime.fromisoformat(stamp) - timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp  # not a timestamp we understand: no overlap, exclusive as the API says
