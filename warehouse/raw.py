"""The raw layer: every load lands losslessly as an immutable batch of Parquet.

    <home>/raw/<source>/<dataset>/<batch_id>/part-00000.parquet
                                            /_manifest.json     written last: the commit marker

Every original column is stored as text exactly as received (typed SQL values are cast to
their canonical text form and their Arrow type recorded in the manifest, so they cast
back exactly), plus load metadata columns. A batch is assembled in a hidden `.tmp-*`
folder and renamed into place in one step, so a failed load leaves nothing behind and a
reader never sees half a batch. Batches are never rewritten.

State (watermarks, which files were already loaded) is read back from the manifests:
there is no second ledger that could disagree with what is actually on disk.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Load metadata added to every raw row. Original columns never start with these names.
META_COLUMNS = (
    "_batch_id",
    "_source",
    "_dataset",
    "_row_number",  # line / Excel row in the file, or position in the extraction (1-based)
    "_source_file",
    "_source_table",  # SQL table, HTTP endpoint or workbook sheet
    "_file_sha256",
    "_loaded_at",
)
MANIFEST = "_manifest.json"
_STALE_TMP_SECONDS = 3600


@dataclass(frozen=True)
class Batch:
    """A committed raw batch, as described by its manifest."""

    source: str
    dataset: str
    batch_id: str
    path: Path
    rows: int
    kind: str  # sql | file | http
    loaded_at: str
    origin: dict[str, Any]
    columns: list[str]
    source_types: dict[str, str]
    parts: list[str]

    @property
    def part_paths(self) -> list[Path]:
        return [self.path / p for p in self.parts]


def new_batch_id(now: datetime | None = None) -> str:
    """Sortable by time, unique across processes: 20261122T015500123456Z-9f3a."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """The canonical text form of a typed column; castable back to its type without loss."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        # Bytes are not text: keep them exact as hex (rare in departmental data; not a hot path).
        return pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    return pc.cast(column, pa.string())


def arrow_type(text: str) -> pa.DataType:
    """Parse a type as recorded in a manifest (`str(pa_type)`) back into an Arrow type."""
    if m := re.fullmatch(r"decimal(?:128|256)?\((\d+), (-?\d+)\)", text):
        return pa.decimal128(int(m[1]), int(m[2]))
    if m := re.fullmatch(r"timestamp\[(\w+)(?:, tz=(.+))?\]", text):
        return pa.timestamp(m[1], tz=m[2])
    return pa.type_for_alias({"date32[day]": "date32", "date64[ms]": "date64"}.get(text, text))


def restore_types(table: pa.Table, source_types: dict[str, str]) -> pa.Table:
    """Raw text columns cast back to the types the source system had."""
    for name, text in source_types.items():
        if name in table.column_names and not text.startswith(("binary", "large_binary")):
            i = table.column_names.index(name)
            table = table.set_column(i, name, table[name].cast(arrow_type(text)))
    return table


class BatchWriter:
    """Collects the parts of one batch in a temporary folder; `RawStore.write_batch` commits it."""

    def __init__(self, tmp: Path, source: str, dataset: str, batch_id: str, loaded_at: datetime):
        self._tmp = tmp
        self.source = source
        self.dataset = dataset
        self.batch_id = batch_id
        self.loaded_at = loaded_at
        self.rows = 0
        self.columns: list[str] = []
        self.source_types: dict[str, str] = {}
        self.parts: list[str] = []
        self.origin: dict[str, Any] = {}
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(
        self,
        data: pa.Table | pa.RecordBatch,
        *,
        row_numbers: pa.Array | None = None,
        source_file: str | None = None,
        source_table: str | None = None,
        file_sha256: str | None = None,
    ) -> None:
        """Append rows. Typed columns are stored as text; their type goes to the manifest."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        clash = [c for c in table.column_names if c in META_COLUMNS]
        if clash:
            raise ValueError(f"{self.source}.{self.dataset}: source columns {clash} collide with raw metadata names")
        n = table.num_rows
        if row_numbers is None:
            row_numbers = pa.array(range(self.rows + 1, self.rows + n + 1), pa.int64())
        columns: dict[str, Any] = {}
        for name, column in zip(table.column_names, table.columns):
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                self.source_types.setdefault(name, str(column.type))
            columns[name] = as_text(column)
        constant = lambda value, typ=pa.string(): pa.repeat(pa.scalar(value, typ), n)  # noqa: E731
        columns.update(
            _batch_id=constant(self.batch_id),
            _source=constant(self.source),
            _dataset=constant(self.dataset),
            _row_number=row_numbers.cast(pa.int64()),
            _source_file=constant(source_file),
            _source_table=constant(source_table),
            _file_sha256=constant(file_sha256),
            _loaded_at=constant(self.loaded_at, pa.timestamp("us", tz="UTC")),
        )
        out = pa.table(columns)
        for name in table.column_names:
            if name not in self.columns:
                self.columns.append(name)
        # One Parquet file per distinct schema (pages of JSON or sheets of a workbook may differ).
        if self._writer is None or not out.schema.equals(self._schema):
            self._close_part()
            name = f"part-{len(self.parts):05d}.parquet"
            self._writer = pq.ParquetWriter(self._tmp / name, out.schema, compression="zstd")
            self._schema = out.schema
            self.parts.append(name)
        self._writer.write_table(out, row_group_size=256_000)
        self.rows += n

    def _close_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def manifest(self, kind: str) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "dataset": self.dataset,
            "kind": kind,
            "loaded_at": self.loaded_at.isoformat(),
            "rows": self.rows,
            "columns": self.columns,
            "source_types": self.source_types,
            "parts": self.parts,
            "origin": self.origin,
        }


class RawStore:
    """The raw layer under one root folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def dataset_dir(self, source: str, dataset: str) -> Path:
        return self.root / source / dataset

    @contextmanager
    def write_batch(self, source: str, dataset: str, kind: str, keep_empty: bool = False) -> Iterator[BatchWriter]:
        """Open a batch; it is committed when the block ends without error, else discarded.

        A batch that received no rows is discarded too (nothing new, nothing to land)
        unless `keep_empty`.
        """
        folder = self.dataset_dir(source, dataset)
        folder.mkdir(parents=True, exist_ok=True)
        self._sweep_stale(folder)
        loaded_at = datetime.now(timezone.utc)
        batch_id = new_batch_id(loaded_at)
        tmp = folder / f".tmp-{batch_id}"
        tmp.mkdir()
        writer = BatchWriter(tmp, source, dataset, batch_id, loaded_at)
        try:
            yield writer
            writer._close_part()
            if writer.rows == 0 and not keep_empty:
                shutil.rmtree(tmp)
                return
            (tmp / MANIFEST).write_text(json.dumps(writer.manifest(kind), ensure_ascii=False, indent=1), "utf-8")
            _fsync_dir(tmp)
            os.rename(tmp, folder / batch_id)  # the commit: atomic on one filesystem
            _fsync_dir(folder)
        except BaseException:
            writer._close_part()
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @staticmethod
    def _sweep_stale(folder: Path) -> None:
        """Remove temp folders a crashed load left behind (older than an hour: not a live writer)."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        for tmp in folder.glob(".tmp-*"):
            if tmp.stat().st_mtime < cutoff:
                shutil.rmtree(tmp, ignore_errors=True)

    # ---- reading -----------------------------------------------------------------------
    def sources(self) -> list[tuple[str, str]]:
        """(source, dataset) pairs that have at least one committed batch."""
        found = {(m.parent.parent.parent.name, m.parent.parent.name) for m in self.root.glob(f"*/*/*/{MANIFEST}")}
        return sorted(found)

    def batches(self, source: str, dataset: str) -> list[Batch]:
        """Committed batches, oldest first."""
        out = []
        for manifest in sorted(self.dataset_dir(source, dataset).glob(f"*/{MANIFEST}")):
            m = json.loads(manifest.read_text("utf-8"))
            out.append(
                Batch(
                    source=m["source"],
                    dataset=m["dataset"],
                    batch_id=m["batch_id"],
                    path=manifest.parent,
                    rows=m["rows"],
                    kind=m["kind"],
                    loaded_at=m["loaded_at"],
                    origin=m["origin"],
                    columns=m["columns"],
                    source_types=m["source_types"],
                    parts=m["parts"],
                )
            )
        return out

    def watermark(self, source: str, dataset: str) -> str | None:
        """The high watermark of the newest batch that recorded one."""
        for batch in reversed(self.batches(source, dataset)):
            if batch.origin.get("high_watermark") is not None:
                return batch.origin["high_watermark"]
        return None

    def seen_files(self, source: str) -> set[str]:
        """Content hashes of every file already landed for a source (any dataset)."""
        seen = set()
        for manifest in (self.root / source).glob(f"*/*/{MANIFEST}"):
            sha = json.loads(manifest.read_text("utf-8"))["origin"].get("sha256")
            if sha:
                seen.add(sha)
        return seen

    def landed_files(self, source: str) -> dict[str, str]:
        """Content hash -> name of the file that first landed it, for every file of a source."""
        landed: dict[str, tuple[str, str]] = {}  # sha -> (batch_id, file)
        for manifest in (self.root / source).glob(f"*/*/{MANIFEST}"):
            m = json.loads(manifest.read_text("utf-8"))
            sha = m["origin"].get("sha256")
            if sha and (sha not in landed or m["batch_id"] < landed[sha][0]):
                landed[sha] = (m["batch_id"], m["origin"].get("file") or "")
        return {sha: file for sha, (_, file) in landed.items()}

    def relation(self, con: duckdb.DuckDBPyConnection, source: str, dataset: str, batch_ids: list[str] | None = None):
        """All rows of a dataset (or some batches) as a DuckDB relation; schemas unioned by name."""
        paths = [
            str(p)
            for b in self.batches(source, dataset)
            if batch_ids is None or b.batch_id in batch_ids
            for p in b.part_paths
        ]
        if not paths:
            raise LookupError(f"raw {source}.{dataset} has no batches")
        return con.read_parquet(paths, union_by_name=True)


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: the directory entry must reach the disk too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
