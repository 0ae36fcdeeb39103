"""The published base library: immutable snapshots, switched to atomically (DESIGN.md inv. 3, 5).

    store = SnapshotStore(root)            root = <home>/base (created if missing)
    store.publish(tables, *, masked, notes=None, keep=5) -> version
    store.current() / store.versions() / store.manifest(version=None) / store.catalog_path()
    store.prune(keep) -> removed versions
    connect(root, version=None) -> read-only DuckDB connection

On disk:
    <root>/CURRENT                              the current version (one line)
    <root>/base.duckdb                          the current version's catalog (a copy)
    <root>/snapshots/<version>/<table>/part-0.parquet     zstd; the unmasked data
                              /base.duckdb      that version's catalog
                              /_snapshot.json   manifest, written last: version, created_at,
                                                tables (rows, columns, masked columns), notes
Versions are UTC time + microseconds, '20261122T083015Z-01e240': they sort in publish order,
also within one second (a clash or a clock step back takes the newest version + 1).

The catalog holds only views over that version's Parquet files (absolute paths: it works from
any working directory, as long as <root> is not moved; a moved home needs a republish):
    main.<table>      the default: personal columns masked (`warehouse/masking.py`:
                      410105********002X, 138****8000, 王*明, addresses cut at the house number)
    private.<table>   unmasked, for roles that may see personal data
    main._snapshot, main._snapshot_tables    the version, its time, row counts, masked columns
Every view also has a `_snapshot_version` column. The split is by schema, not access control:
whoever can read the files can read `private` and the Parquet; give other services the views.

Guarantees
- Readers never see a half-written library. A publish writes the Parquet files, the catalog
  (checkpointed, closed) and the manifest in a hidden `snapshots/.tmp-*` folder, renames it
  into place in one step, then switches with `os.replace` of a staged copy of the catalog onto
  `<root>/base.duckdb` and of `CURRENT`. A live `.duckdb` file is never written in place. A
  publish that fails before the switch leaves CURRENT, base.duckdb and the list of versions
  as they were, and nothing visible behind (leftovers of a crash are swept by the next
  publish). The catalog is switched before CURRENT: if writing CURRENT fails after that,
  readers already have the new version and CURRENT names the previous one until the next
  publish; both are retained.
- A connection sees one version, all tables from it, until it is closed: the catalog it
  opened is an unlinked-but-open file after a switch. To see a newer version, reconnect.
- Retention: a publish keeps the `keep` newest versions (never the current one) and deletes
  the older ones. A connection opened on version v keeps working through `keep - 1` more
  publishes; after that its Parquet files are gone and its next query fails with an IO
  error (reconnect and retry). So with keep >= 2, a reader that reconnects for each query or
  unit of work never fails, as long as one unit does not outlast keep - 1 publishes.
  keep = 1 gives no such promise (the previous version goes at the switch).
- Publishes are serialized by a lock file (`<root>/.publish.lock`, POSIX flock).

How other services read it:
    con = duckdb.connect('<home>/base/base.duckdb', read_only=True)   # any number of processes
    con.sql('SELECT * FROM person')            # masked; private.person is unmasked
Reconnecting means: close it, then connect again. In one process, DuckDB's Python client
returns the database that is already open for a path while any connection to it is open, so
a second `duckdb.connect` of the same path would still show the old version. `connect(root)`
here avoids that by attaching the file (READ_ONLY) to a fresh in-memory database, so each
call sees the version current at that moment. Plain Parquet readers: read CURRENT, then
`snapshots/<version>/<table>/*.parquet` (kept for at least keep - 1 further publishes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.masking import KINDS, mask_sql, quote_identifier

CATALOG = "base.duckdb"
MANIFEST = "_snapshot.json"
POINTER = "CURRENT"
PART = "part-0.parquet"
VERSION_COLUMN = "_snapshot_version"
FORMAT = "citybase.snapshot/1"

VERSION_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
TABLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COLUMN_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

Frame = pl.DataFrame | pa.Table


class SnapshotError(ValueError):
    """A publish was refused before anything was written (bad names, unknown columns, …)."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SnapshotStore:
    """Versioned snapshots of the base library under `root`; see the module docstring."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.snapshots_dir = self.root / "snapshots"
        self.snapshots_dir.mkdir(parents=True, exist_ok=True)

    # ---- reading the state --------------------------------------------------------------------

    def catalog_path(self) -> Path:
        """`<root>/base.duckdb`: the current version's catalog (open it read-only)."""
        return self.root / CATALOG

    def current(self) -> str | None:
        try:
            text = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def versions(self) -> list[str]:
        """Complete snapshots (manifest present), oldest first."""
        out = []
        for entry in self.snapshots_dir.iterdir():
            if VERSION_RE.match(entry.name) and not entry.is_symlink() and (entry / MANIFEST).is_file():
                out.append(entry.name)
        return sorted(out)

    def manifest(self, version: str | None = None) -> dict[str, Any]:
        version = version or self.current()
        if version is None:
            raise LookupError(f"nothing published under {self.root}")
        return json.loads((self.snapshots_dir / version / MANIFEST).read_text(encoding="utf-8"))

    # ---- publishing ---------------------------------------------------------------------------

    def publish(self, tables: Mapping[str, Frame], *, masked: Mapping[str, Mapping[str, str]],
                notes: dict | None = None, keep: int = 5) -> str:
        """Write `tables` as a new snapshot, switch to it, prune to `keep`; return its version.

        `masked` maps table -> {column: kind} (kinds: masking.KINDS); those columns are masked
        in the `main` views. `notes` (JSON-serialisable) go into the manifest.
        """
        if keep < 1:
            raise SnapshotError(f"keep must be at least 1, got {keep}")
        frames = _validate(tables, masked)
        masked = {t: dict(cols) for t, cols in masked.items() if cols}
        notes_json = json.loads(json.dumps(notes or {}, ensure_ascii=False))  # fail early if not JSON
        with self._lock():
            self._sweep()
            version = self._new_version()
            created_at = _utcnow()
            final = self.snapshots_dir / version
            self._build(final, version, created_at, frames, masked, notes_json)
            try:
                staged = self.root / f".{CATALOG}.{version}.tmp"
                shutil.copyfile(final / CATALOG, staged)
                _fsync_file(staged)
                os.replace(staged, self.catalog_path())  # the switch, for readers
            except BaseException:
                staged.unlink(missing_ok=True)
                _remove_version_dir(final)  # never current: take it away again
                raise
            _write_atomic(self.root / POINTER, version + "\n")
            _fsync_dir(self.root)
            self._prune(keep)
        return version

    def prune(self, keep: int) -> list[str]:
        """Delete all but the `keep` newest versions (never the current one); return them."""
        with self._lock():
            return self._prune(keep)

    # ---- internals ----------------------------------------------------------------------------

    def _build(self, final: Path, version: str, created_at: datetime, frames: dict[str, Frame],
               masked: dict[str, dict[str, str]], notes: dict) -> None:
        """Assemble the snapshot in a hidden folder; rename it to `final` when complete."""
        tmp = self.snapshots_dir / f".tmp-{version}"
        tmp.mkdir()
        try:
            rows = {}
            for name, frame in frames.items():
                (tmp / name).mkdir()
                _write_parquet(frame, tmp / name / PART)
                rows[name] = frame.height if isinstance(frame, pl.DataFrame) else frame.num_rows
            # The views must name the final paths, and DuckDB binds a view (opens its files)
            # when it is created: for the catalog build only, the final name points at the
            # hidden folder. Listings ignore the link (versions() wants a real folder).
            final.symlink_to(tmp.name, target_is_directory=True)
            try:
                columns = _build_catalog(tmp / CATALOG, final, version, created_at, rows, masked)
            finally:
                final.unlink()
            manifest = {
                "format": FORMAT,
                "version": version,
                "created_at": created_at.isoformat().replace("+00:00", "Z"),
                "catalog": CATALOG,
                "tables": {name: {"path": f"{name}/{PART}", "rows": rows[name], "columns": columns[name],
                                  "masked": masked.get(name, {})} for name in frames},
                "notes": notes,
            }
            _write_atomic(tmp / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
            _fsync_dir(tmp)
            os.rename(tmp, final)  # the snapshot appears complete, in one step
            _fsync_dir(self.snapshots_dir)
        except BaseException:
            if final.is_symlink():
                final.unlink()
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _new_version(self) -> str:
        now = _utcnow()
        candidate = now.strftime("%Y%m%dT%H%M%SZ") + f"-{now.microsecond:06x}"
        known = self.versions() + [v for v in [self.current()] if v and VERSION_RE.match(v)]
        latest = max(known, default=None)
        if latest is not None and candidate <= latest:  # same microsecond, or the clock stepped back
            stamp, counter = latest.split("-")
            if int(counter, 16) >= 0xFFFFFF:
                raise RuntimeError(f"cannot make a version after {latest}")
            candidate = f"{stamp}-{int(counter, 16) + 1:06x}"
        return candidate

    def _prune(self, keep: int) -> list[str]:
        if keep < 1:
            raise SnapshotError(f"keep must be at least 1, got {keep}")
        current = self.current()
        versions = self.versions()
        doomed = [v for v in versions[:-keep] if v != current]
        for version in doomed:
            _remove_version_dir(self.snapshots_dir / version)
        return doomed

    def _sweep(self) -> None:
        """Leftovers of a publish that crashed (we hold the lock: nobody else is writing)."""
        for entry in self.snapshots_dir.iterdir():
            if entry.is_symlink():
                entry.unlink()
            elif entry.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(entry, ignore_errors=True)
        for entry in self.root.glob(f".{CATALOG}.*.tmp"):
            entry.unlink(missing_ok=True)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / ".publish.lock", "a+b") as handle:
            try:
                import fcntl
            except ImportError:  # not POSIX: publishes must not overlap (Dagster pool of 1)
                yield
                return
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def connect(root: str | os.PathLike, version: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current base library (or to a retained `version`).

    The catalog is attached READ_ONLY as database `base` (the default database of the
    connection) to a fresh in-memory DuckDB, so every call sees the version current at that
    moment, even while this process holds older connections. Close it when done.
    """
    root = Path(root)
    path = root / CATALOG if version is None else root / "snapshots" / version / CATALOG
    if version is not None and not VERSION_RE.match(version):
        raise ValueError(f"not a snapshot version: {version!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no published base library at {path}")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {_sql_string(str(path.resolve()))} AS base (READ_ONLY)")
        con.execute("USE base")
    except BaseException:
        con.close()
        raise
    return con


# ---- helpers ------------------------------------------------------------------------------------

def _validate(tables: Mapping[str, Frame], masked: Mapping[str, Mapping[str, str]]) -> dict[str, Frame]:
    if not tables:
        raise SnapshotError("nothing to publish: no tables given")
    frames: dict[str, Frame] = {}
    for name, frame in tables.items():
        if not isinstance(name, str) or not TABLE_NAME_RE.match(name):
            raise SnapshotError(f"table name {name!r} refused: use lower-case letters, digits and '_', "
                                "starting with a letter, at most 63 characters")
        if not isinstance(frame, (pl.DataFrame, pa.Table)):
            raise SnapshotError(f"table {name!r}: expected a polars DataFrame or a pyarrow Table, "
                                f"got {type(frame).__name__}")
        columns = frame.columns if isinstance(frame, pl.DataFrame) else frame.column_names
        seen: set[str] = set()
        for column in columns:
            if not COLUMN_NAME_RE.match(column):
                raise SnapshotError(f"table {name!r}: column name {column!r} refused: use letters, digits "
                                    "and '_', not starting with a digit, at most 128 characters")
            if column.lower() in seen:
                raise SnapshotError(f"table {name!r}: column {column!r} appears twice (names are case-insensitive)")
            if column == VERSION_COLUMN:
                raise SnapshotError(f"table {name!r}: column {VERSION_COLUMN!r} is reserved (the views add it)")
            seen.add(column.lower())
        frames[name] = frame
    for name, spec in masked.items():
        if name not in frames:
            raise SnapshotError(f"masked names table {name!r}, which is not being published")
        columns = set(frames[name].columns if isinstance(frames[name], pl.DataFrame) else frames[name].column_names)
        for column, kind in spec.items():
            if column not in columns:
                raise SnapshotError(f"masked column {name}.{column} is not in the table")
            if kind not in KINDS:
                raise SnapshotError(f"masked column {name}.{column}: unknown kind {kind!r}; "
                                    f"expected one of {', '.join(KINDS)}")
    return frames


def _write_parquet(frame: Frame, path: Path) -> None:
    if isinstance(frame, pl.DataFrame):
        frame.write_parquet(path, compression="zstd", statistics=True)
    else:
        pq.write_table(frame, path, compression="zstd")
    _fsync_file(path)


def _build_catalog(path: Path, final: Path, version: str, created_at: datetime, rows: dict[str, int],
                   masked: dict[str, dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Create the snapshot's catalog (views over `final`'s Parquet); return each table's columns."""
    columns: dict[str, list[dict[str, str]]] = {}
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA private")
        stamp = _sql_string(version)
        for name in rows:
            source = f"read_parquet({_sql_string(str(final / name / PART))})"
            table = quote_identifier(name)
            con.execute(f"CREATE VIEW private.{table} AS SELECT *, {stamp} AS {VERSION_COLUMN} FROM {source}")
            spec = masked.get(name, {})
            replace = ""
            if spec:
                replace = " REPLACE (" + ", ".join(
                    f"{mask_sql(quote_identifier(c), kind)} AS {quote_identifier(c)}" for c, kind in spec.items()) + ")"
            con.execute(f"CREATE VIEW main.{table} AS SELECT *{replace}, {stamp} AS {VERSION_COLUMN} FROM {source}")
            described = con.execute(f"DESCRIBE private.{table}").fetchall()
            columns[name] = [{"name": r[0], "type": r[1]} for r in described if r[0] != VERSION_COLUMN]
        con.execute("CREATE TABLE main._snapshot (version VARCHAR, created_at TIMESTAMP)")
        con.execute("INSERT INTO main._snapshot VALUES (?, ?)", [version, created_at.replace(tzinfo=None)])
        con.execute("CREATE TABLE main._snapshot_tables (table_name VARCHAR, row_count BIGINT, masked_columns VARCHAR[])")
        con.executemany("INSERT INTO main._snapshot_tables VALUES (?, ?, ?)",
                        [[name, n, sorted(masked.get(name, {}))] for name, n in rows.items()])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if Path(f"{path}.wal").exists():
        raise RuntimeError(f"catalog {path} still has a write-ahead log after checkpoint and close")
    _fsync_file(path)
    return columns


def _remove_version_dir(folder: Path) -> None:
    """Rename out of the listing in one step, then delete."""
    trash = folder.with_name(f".trash-{folder.name}")
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
