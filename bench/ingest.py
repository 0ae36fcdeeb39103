"""Ingest benchmark: rows/s per connector into the raw layer, against a floor.

The floor is the least work that could land the same bytes as Parquet: DuckDB reading the
same CSV / JSON-lines files (a UTF-8 copy where the source is GBK, since DuckDB cannot read
GBK without an extension) and writing Parquet; for workbooks, calamine (fastexcel) straight
to Parquet; for SQL, a bare DB-API fetchall into Arrow and Parquet. The ratio is what our
connectors and raw layer (text-typing, metadata columns, manifests, lossless fallbacks) cost.

What a measured load lands is kept (moved, untimed, into `<data>/raw-<persons>-<seed>/`, each
dataset replacing the previous run's), so the standardization stage works on
exactly the raw layer this stage produced.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

@dataclass(frozen=True)
class Case:
    source: str
    dataset: str
    kind: str  # sql | file | http
    label: str
    files: tuple[str, ...] = ()
    table: str = ""
    url: str = ""
    floor: bool = True


def ensure_district(district_dir: Path, persons: int, seed: int) -> str:
    """Generate the benchmark district once and keep it (generation is not what we measure)."""
    if (district_dir / "district.json").exists():
        return "cached"
    import district

    started = time.perf_counter()
    district.generate(district_dir, persons=persons, seed=seed)
    return f"generated in {time.perf_counter() - started:.0f}s"


def _departments():
    from pipelines.definitions import DEPARTMENTS

    return DEPARTMENTS


def cases(district_dir: Path) -> list[Case]:
    out = []
    for module in _departments():
        dept = module.DEPARTMENT
        for spec in module.DATASETS:
            kind = type(spec).__name__
            if kind == "SqlTableSpec":
                url = f"sqlite:///{district_dir / 'systems' / f'{dept.key}.sqlite'}"
                out.append(Case(dept.key, spec.dataset, "sql", f"{dept.label} {spec.table}", table=spec.table, url=url))
            elif kind == "FileDatasetSpec":
                folder = district_dir / "exports" / dept.key
                found = sorted({str(p) for pattern in spec.patterns for p in folder.glob(pattern)})
                if found:
                    suffix = Path(found[0]).suffix
                    out.append(Case(dept.key, spec.dataset, "file", f"{dept.label} {spec.dataset} ({suffix})", files=tuple(found)))
            else:
                tickets = district_dir / "systems" / "hotline" / "tickets.jsonl"
                out.append(Case(dept.key, spec.dataset, "http", f"{dept.label} {spec.dataset} (HTTP)", files=(str(tickets),), floor=False))
    return out


def _spec(case: Case):
    for module in _departments():
        if module.DEPARTMENT.key == case.source:
            return next(s for s in module.DATASETS if s.dataset == case.dataset)
    raise LookupError(case)


def raw_dir(data: Path, persons: int, seed: int) -> Path:
    """Where the benchmark district's raw layer is kept between stages."""
    return data / f"raw-{persons}-{seed}"


def run_case(case: Case, work: str, keep: str | None = None) -> dict:
    """Land one dataset into a fresh raw store and time it; with `keep`, move what landed
    into the raw store at `keep` afterwards (replacing that dataset there)."""
    from warehouse import landing
    from warehouse.raw import RawStore

    root = Path(work) / f"raw-{uuid.uuid4().hex[:8]}"
    store = RawStore(root)
    spec = _spec(case)
    try:
        started = time.perf_counter()
        if case.kind == "sql":
            report = landing.load_sql_table(store, source=case.source, spec=spec, url=case.url)
        elif case.kind == "file":
            inbox = root / "inbox"
            inbox.mkdir(parents=True)
            for f in case.files:  # delivered as files: the inbox refuses symbolic links
                _deliver(Path(f), inbox / Path(f).name)
            report = landing.load_inbox(store, source=case.source, spec=spec, inbox=inbox)
        else:
            from district.hotline import HotlineServer

            with HotlineServer(Path(case.files[0])) as server:
                started = time.perf_counter()
                report = landing.load_http(store, source=case.source, spec=spec, base_url=server.url)
        seconds = time.perf_counter() - started
        if keep:
            _keep(store, RawStore(keep), case)
        return {"rows": report.rows, "seconds": seconds, "bytes": _input_bytes(case)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _deliver(source: Path, target: Path) -> None:
    """A hard link where the filesystem allows one (a regular file, no copying), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _keep(landed, kept, case: Case) -> None:
    source, target = landed.dataset_dir(case.source, case.dataset), kept.dataset_dir(case.source, case.dataset)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _input_bytes(case: Case) -> int:
    if case.kind == "sql":
        return 0
    return sum(Path(f).stat().st_size for f in case.files)


def run_floor(case: Case, work: str) -> dict:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(work) / f"floor-{uuid.uuid4().hex[:8]}"
    out.mkdir(parents=True)
    try:
        # Transcoding GBK to UTF-8 is preparation for DuckDB, not timed: the floor is generous.
        inputs = []
        for f in case.files:
            path = Path(f)
            if path.suffix == ".csv":
                data = path.read_bytes()
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    utf8 = out / path.name
                    utf8.write_bytes(data.decode("gb18030").encode("utf-8"))
                    path = utf8
            inputs.append(path)
        con = duckdb.connect()
        rows = 0
        started = time.perf_counter()
        if case.kind == "sql":
            db = sqlite3.connect(case.url.removeprefix("sqlite:///"))
            cur = db.execute(f'SELECT * FROM "{case.table}"')
            names = [d[0] for d in cur.description]
            data = cur.fetchall()
            table = pa.table({n: pa.array([r[i] for r in data]) for i, n in enumerate(names)})
            pq.write_table(table, out / "floor.parquet")
            rows = table.num_rows
        for i, path in enumerate(inputs):
            target = str(out / f"{i}.parquet")
            if path.suffix == ".csv":
                # Lenient like our connector must be: the district's files have ragged lines.
                rel = con.read_csv(
                    str(path), all_varchar=True, header=True, delimiter=",", quotechar='"',
                    strict_mode=False, null_padding=True,
                )
            elif path.suffix == ".jsonl":
                rel = con.sql(f"SELECT * FROM read_json('{path}', format='newline_delimited', ignore_errors=true)")
            else:
                import fastexcel

                reader = fastexcel.read_excel(str(path))
                sheet = pa.Table.from_batches([reader.load_sheet(0, header_row=None, dtypes="string").to_arrow()])
                pq.write_table(sheet, target)
                rows += sheet.num_rows
                continue
            rel.write_parquet(target)
            rows += pq.ParquetFile(target).metadata.num_rows
        return {"rows": rows, "seconds": time.perf_counter() - started}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def format_row(case: Case, result: dict, floor: dict | None) -> str:
    rate = result["rows"] / result["seconds"] if result["seconds"] else 0
    text = f"{case.label:<40} {result['rows']:>10,} rows {result['seconds']:7.2f}s {rate:>12,.0f} rows/s  peak {result['peak_rss_mb']:,.0f} MB"
    if floor:
        text += f"  | floor {floor['seconds']:6.2f}s  ratio {result['seconds'] / floor['seconds']:.2f}x"
    return text


def markdown_table(rows) -> str:
    lines = [
        "| source | connector | rows | seconds | rows/s | peak RSS (MB) | floor s | ratio to floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, result, floor in rows:
        rate = result["rows"] / result["seconds"] if result["seconds"] else 0
        floor_s = f"{floor['seconds']:.2f}" if floor else "–"
        ratio = f"{result['seconds'] / floor['seconds']:.2f}x" if floor and floor["seconds"] else "–"
        lines.append(
            f"| {case.label} | {case.kind} | {result['rows']:,} | {result['seconds']:.2f} | {rate:,.0f} | {result['peak_rss_mb']:,.0f} | {floor_s} | {ratio} |"
        )
    return "\n".join(lines)


TITLE = "Ingest: connectors → raw layer"


def section(table: str, *, provenance: str, persons: int, seed: int) -> str:
    return (
        f"{provenance}. Synthetic district of {persons:,} persons (seed {seed}). One fresh process per "
        f"measurement (peak RSS is that process's). Floor: DuckDB read_csv/read_json → Parquet on the same "
        f"files (a UTF-8 copy of GBK files, transcoding not timed), calamine → Parquet for "
        f"workbooks, bare DB-API fetchall → Arrow → Parquet for SQL. The HTTP row includes the "
        f"hotline server, which runs in the measured process and holds every ticket in memory.\n\n{table}\n"
    )
