"""Landing: pull one dataset through its connector into the raw layer.

Pure functions over (connector, RawStore): Dagster assets wrap them thinly, tests call them
directly. Each returns a `LoadReport` that becomes the asset's materialization metadata.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from connectors import files, http, sql
from connectors.errors import SourceError, SourceUnavailable, UnreadableFile, safe_url
from connectors.retry import retry
from warehouse.raw import META_COLUMNS, RawStore


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
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file skipped, file landed with that content)
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
        if self.duplicates:
            meta["files_duplicate"] = "; ".join(f"{a} = {b}" for a, b in self.duplicates)
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

    A file is recognised by its content hash, so a re-delivered file is skipped; one re-sent
    under another name (or the same content twice in one delivery) is skipped and reported in
    `duplicates`. `full_refresh` lands every file again as new batches.

    A delivery that cannot be landed whole is refused: moved to `<inbox>/_rejected/` with a
    `.reason.txt` beside it (the reason names the cause, never cell values). That is a file that
    cannot be read (encoding, corruption, hostile workbook), an empty one (0 bytes, or no header
    and no data), one whose header uses raw metadata names, and anything that is not a plain file
    (symbolic links are never followed; folders, pipes; names with control characters or bytes
    that are not UTF-8). A file that changes while it is read (still being copied) is refused but
    left where it is, to be loaded once complete. The other files still land; then the load
    raises `LoadFailed` naming the refused ones.
    """
    started = time.perf_counter()
    report = LoadReport(source, spec.dataset)
    landed = {} if full_refresh else store.landed_files(source)  # sha -> file name
    entries = files.scan_inbox(inbox, list(spec.patterns)) if inbox.exists() else []

    def refuse(path: Path, reason: str, *, move: bool = True) -> None:
        if move:
            reason += _reject(inbox, path, reason)
        report.files_rejected.append((path.name, reason))

    for entry in entries:
        path = entry.path
        if entry.refused:
            refuse(path, entry.refused)
            continue
        sha = entry.sha256
        if sha in landed:
            report.files_skipped.append(path.name)
            if landed[sha] != path.name:
                report.duplicates.append((path.name, landed[sha]))
            continue
        if entry.size == 0 and not _changed_since_listed(path, entry):
            refuse(path, "is empty (0 bytes): nothing was delivered — an interrupted copy or a failed "
                         "export? Deliver it again")
            continue
        try:
            tables = read_file(path, spec)
        except UnreadableFile as exc:
            refuse(path, exc.reason)
            continue
        except Exception as exc:  # noqa: BLE001 — one broken file must not stop the others
            # Only the kind of error: its text could quote cell values.
            kind = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
            refuse(path, f"could not be read: the reader failed ({kind}); this is a fault in "
                         "citybase rather than necessarily in the file — report it with the file")
            continue
        changed = _changed_since_listed(path, entry)
        if changed:
            refuse(path, changed, move=False)
            continue
        problem = _nothing_to_land(tables) or _metadata_name_clash(tables)
        if problem:
            refuse(path, problem)
            continue
        # A header-only file is still a delivery: keep its batch so the file counts as seen.
        with store.write_batch(source, spec.dataset, kind="file", keep_empty=True) as batch:
            for t in tables:
                batch.write(
                    t.table, row_numbers=t.row_numbers, source_file=path.name, source_table=t.sheet, file_sha256=sha
                )
            batch.origin = {
                "file": path.name,
                "sha256": sha,
                "size": entry.size,
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
        landed[sha] = path.name
        report.batches.append(batch.batch_id)
        report.files_loaded.append(path.name)
        report.rows += batch.rows
    report.seconds = time.perf_counter() - started
    if report.files_rejected:
        listed = "; ".join(f"{files.printable_name(name)}: {reason}" for name, reason in report.files_rejected)
        raise LoadFailed(f"{source}.{spec.dataset}: {len(report.files_rejected)} file(s) refused — {listed}", report)
    return report


def _changed_since_listed(path: Path, entry: files.InboxEntry) -> str | None:
    """A file still being written differs now from when it was listed (and hashed)."""
    try:
        st = path.lstat()
    except OSError:
        return "disappeared while being read: it was not landed"
    if (st.st_size, st.st_mtime_ns) == (entry.size, entry.mtime_ns):
        return None
    return (f"changed while being read (size {entry.size:,} → {st.st_size:,} bytes): still being copied? "
            "It was left in the inbox and lands once it stops changing")


def _nothing_to_land(tables: list[files.FileTable]) -> str | None:
    """Why a file holds nothing to land, or None. A header alone lands (a month without
    records); a single cell alone is a title without its table, as is a workbook with titles only."""
    if any(len(t.header) > 1 or t.table.num_rows for t in tables):
        return None
    if not any(t.header or t.preamble for t in tables):
        if tables and tables[0].sheet is None:
            return "holds no header and no data (only blank lines): nothing to land"
        return "has no cells in any sheet: nothing to land"
    where = next((f"sheet {t.sheet!r}" for t in tables if t.sheet is not None), "the file")
    return (f"has no table: {where} holds only a title (a single cell per row) and no header row or "
            "data — a template that was never filled in?")


def _metadata_name_clash(tables: list[files.FileTable]) -> str | None:
    clash = sorted({c for t in tables for c in t.table.column_names if c in META_COLUMNS})
    if clash:
        return (f"has column(s) named {', '.join(clash)}, which are raw metadata names: rename them in the "
                "header and deliver again")
    return None


def _reject(inbox: Path, path: Path, reason: str) -> str:
    """Move a refused entry to `<inbox>/_rejected/` (a link itself, never its target) and write
    its reason beside it. Names are kept, made unique and shortened to what the file system
    allows. Returns a note to append to the reason when that could not be done, else ''."""
    rejected = inbox / files.REJECTED_DIR
    if not Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(inbox)):
        # Reached through a linked folder: moving it would take a file from outside the inbox.
        return " (left where it is: it lies outside the inbox)"
    if rejected.is_symlink():
        return f" (left where it is: {files.REJECTED_DIR} is a symbolic link, not followed)"
    try:
        rejected.mkdir(exist_ok=True)
        target = _free_name(rejected, path.name)
        if os.path.lexists(path):
            os.rename(path, target)  # same file system: atomic, never follows a link
        note = _fit_name(f"{target.name}.reason.txt", keep_end=".reason.txt")
        (rejected / note).write_text(f"{reason}\nfile: {files.printable_name(target.name)}\n", "utf-8")
    except OSError as exc:
        return f" (it could not be moved to {files.REJECTED_DIR}/: {exc.strerror or exc})"
    return ""


_NAME_MAX = 255  # bytes in one file name on Linux/macOS file systems


def _fit_name(name: str, keep_end: str = "") -> str:
    """`name` shortened (in the middle, on a character boundary) to fit _NAME_MAX bytes."""
    data = name.encode("utf-8", "surrogateescape")
    if len(data) <= _NAME_MAX:
        return name
    end = keep_end or Path(name).suffix
    if len(end.encode("utf-8", "surrogateescape")) > 64:
        end = ""
    head = name[: len(name) - len(end)]
    while len((head + "…" + end).encode("utf-8", "surrogateescape")) > _NAME_MAX:
        head = head[:-1]
    return head + "…" + end


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `name~2`, `name~3`... (before the suffix) when that is taken: a refused
    file never overwrites an earlier one."""
    name = _fit_name(name)
    target, k = folder / name, 1
    while os.path.lexists(target) or os.path.lexists(folder / f"{target.name}.reason.txt"):
        k += 1
        stem, suffix = Path(name).stem, Path(name).suffix
        target = folder / _fit_name(f"{stem}~{k}{suffix}", keep_end=f"~{k}{suffix}")
    return target


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
