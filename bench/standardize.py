"""Standardization benchmark: raw layer → standardized tables + quarantine, per table.

    python -m bench --only standardize            (measure, write the section of BENCHMARKS.md)
    python -m bench.standardize --profile [--tables medical_insurance__insured_person,...]
                                                  (cProfile each table, print where time goes)

Input is the raw layer the ingest stage kept (`<data>/raw-<persons>-<seed>/`); datasets missing
there are landed first (untimed). For every TableSpec of every department in
`pipelines.definitions.DEPARTMENTS`, `warehouse.standardize.standardize_dataset` runs in a fresh
process (peak RSS is that process's; imports are paid before the clock starts) into a scratch
home that is removed afterwards. Inside that process the engine's normalizers (`KINDS`),
`read_raw_batch` and `write_parquet` are wrapped with timers — at run time, in the benchmark
process only; warehouse code is not changed — so each table's time splits into reading the raw
batch, each field's normalizer, the engine's own assembly (issue lists, blockers, originals as
JSON, quarantine rows) and writing Parquet. Every run is reconciled (raw = standardized +
quarantined) before its output is deleted.

The whole district is then standardized twice more, the way it would run for real: all tables
one after another in one process (its output is kept in `<data>/home-<persons>-<seed>/` for the
gx stage), and spread over two worker processes (the machine's cores), largest first. Both wall
times include process start and imports.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import multiprocessing as mp
import pickle
import pstats
import shutil
import time
import uuid
from collections import defaultdict
from pathlib import Path

GOAL_SECONDS = 60.0
TITLE = "Standardization: raw layer → standardized tables + quarantine"


@dataclasses.dataclass(frozen=True)
class Table:
    label: str  # '医保 insured_person'
    spec: object  # warehouse.standardize.TableSpec (pickled to the child: no Dagster import there)

    @property
    def name(self) -> str:
        return self.spec.table


def tables() -> list[Table]:
    from pipelines.definitions import DEPARTMENTS

    return [Table(f"{module.DEPARTMENT.label} {spec.dataset}", spec) for module in DEPARTMENTS for spec in module.TABLES]


def ensure_raw(raw_root: Path, district_dir: Path, work: Path, wanted: list[Table], log=print) -> list[str]:
    """Land (untimed, through the ingest stage's own code) every dataset missing from raw_root."""
    from bench import ingest
    from bench.report import run_isolated
    from warehouse.raw import RawStore

    store = RawStore(raw_root)
    missing = {(t.spec.source, t.spec.dataset) for t in wanted if not store.batches(t.spec.source, t.spec.dataset)}
    landed = []
    for case in ingest.cases(district_dir):
        if (case.source, case.dataset) in missing:
            result = run_isolated(ingest.run_case, case, str(work), str(raw_root))
            landed.append(f"{case.source}/{case.dataset}")
            log(f"landed {case.label}: {result['rows']:,} rows in {result['seconds']:.1f}s (raw layer was missing it)")
    return landed


# ---- in the child process ----------------------------------------------------------------------

class _Clock:
    """Seconds spent in the wrapped functions of warehouse.standardize, by part."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = defaultdict(float)  # read | write | normalize
        self.fields: dict[tuple[str, str], float] = defaultdict(float)  # (kind, raw column) → s
        self.rows: dict[tuple[str, str], int] = defaultdict(int)

    def wrap(self, part: str, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.parts[part] += time.perf_counter() - t0

        return timed

    def wrap_kind(self, kind: str, fn):
        def timed(values, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(values, *args, **kwargs)
            finally:
                seconds = time.perf_counter() - t0
                self.parts["normalize"] += seconds
                self.fields[(kind, values.name)] += seconds
                self.rows[(kind, values.name)] += len(values)

        return timed


def _instrument(ws) -> _Clock:
    """Wrap what exists of the engine's hooks; a renamed hook only loses its breakdown."""
    clock = _Clock()
    kinds = getattr(ws, "KINDS", None)
    if isinstance(kinds, dict):
        for name, kind in list(kinds.items()):
            if dataclasses.is_dataclass(kind) and hasattr(kind, "normalize"):
                kinds[name] = dataclasses.replace(kind, normalize=clock.wrap_kind(name, kind.normalize))
    for attr, part in (("read_raw_batch", "read"), ("write_parquet", "write")):
        if callable(getattr(ws, attr, None)):
            setattr(ws, attr, clock.wrap(part, getattr(ws, attr)))
    return clock


def _field_names(spec) -> dict[tuple[str, str], str]:
    return {(f.kind, source): f.name for f in spec.fields for source in f.sources}


def _standardize(ws, store, home: Path, spec) -> dict:
    raw_rows = sum(b.rows for b in store.batches(spec.source, spec.dataset))
    started = time.perf_counter()
    report = ws.standardize_dataset(store, home, spec)
    seconds = time.perf_counter() - started
    recon = ws.reconcile(store, home, spec)
    return {
        "raw_rows": raw_rows,
        "rows": report.rows,
        "quarantined": report.quarantined,
        "batches": len(report.batches_done),
        "by_rule": dict(report.by_rule),
        "seconds": seconds,
        "reconciled": bool(recon) and all(r.ok for r in recon),
    }


# Specs travel to the children pickled (bytes), so that unpickling them — which imports
# warehouse.standardize, polars and pyarrow — happens where the import time is measured.

def run_table(spec_bytes: bytes, raw_root: str, work: str) -> dict:
    """One table, timed, in this (fresh) process; imports are paid before the clock starts."""
    t0 = time.perf_counter()
    import warehouse.standardize as ws
    from warehouse.raw import RawStore

    spec = pickle.loads(spec_bytes)

    imports = time.perf_counter() - t0
    clock = _instrument(ws)
    home = Path(work) / f"std-{uuid.uuid4().hex[:8]}"
    try:
        result = _standardize(ws, RawStore(raw_root), home, spec)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    names = _field_names(spec)
    result["imports"] = imports
    result["parts"] = dict(clock.parts)
    result["fields"] = [
        {"field": names.get(key, key[1]), "kind": key[0], "rows": clock.rows[key], "seconds": s}
        for key, s in sorted(clock.fields.items(), key=lambda kv: -kv[1])
    ]
    return result


def run_district(specs_bytes: bytes, raw_root: str, home: str) -> dict:
    """Every table one after another in this process, into `home` (emptied first and kept: the
    gx stage checks these outputs); the wall time includes the imports."""
    t0 = time.perf_counter()
    import warehouse.standardize as ws
    from warehouse.raw import RawStore

    specs = pickle.loads(specs_bytes)
    imports = time.perf_counter() - t0
    for layer in ("standardized", "quarantine"):
        shutil.rmtree(Path(home) / layer, ignore_errors=True)
    store = RawStore(raw_root)
    results = [_standardize(ws, store, Path(home), spec) for spec in specs]
    return {"imports": imports, "tables": results, "work_seconds": time.perf_counter() - t0}


def _worker_table(spec_bytes: bytes, raw_root: str, work: str) -> dict:
    from bench.report import measured

    return measured(_one_in_worker, spec_bytes, raw_root, work)


def _one_in_worker(spec_bytes: bytes, raw_root: str, work: str) -> dict:
    t0 = time.perf_counter()
    import warehouse.standardize as ws
    from warehouse.raw import RawStore

    spec = pickle.loads(spec_bytes)

    imports = time.perf_counter() - t0  # ~0 after a worker's first table
    home = Path(work) / f"std-{uuid.uuid4().hex[:8]}"
    try:
        result = _standardize(ws, RawStore(raw_root), home, spec)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {**result, "imports": imports}


def run_parallel(specs: list, raw_root: str, work: str, workers: int) -> dict:
    """The tables spread over `workers` fresh processes, largest first (wall includes the
    processes' start and imports). Returns the wall time and each table's result."""
    from warehouse.raw import RawStore

    store = RawStore(raw_root)
    order = sorted(specs, key=lambda s: -sum(b.rows for b in store.batches(s.source, s.dataset)))
    started = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers) as pool:
        results = pool.starmap(_worker_table, [(pickle.dumps(spec), raw_root, work) for spec in order], chunksize=1)
    wall = time.perf_counter() - started
    return {"wall": wall, "tables": results, "workers": workers}


# ---- the stage ---------------------------------------------------------------------------------

def home_dir(data: Path, persons: int, seed: int) -> Path:
    """Where the benchmark district's standardized layer is kept for the gx stage."""
    return data / f"home-{persons}-{seed}"


def run(raw_root: Path, district_dir: Path, work: Path, home: Path, *, workers: int = 2, log=print) -> dict:
    from bench.report import run_isolated

    work.mkdir(parents=True, exist_ok=True)
    wanted = tables()
    landed = ensure_raw(raw_root, district_dir, work, wanted, log)
    per_table = []
    for table in wanted:
        result = run_isolated(run_table, pickle.dumps(table.spec), str(raw_root), str(work))
        per_table.append((table, result))
        log(format_row(table, result))
        if not result["reconciled"]:
            raise SystemExit(f"{table.name}: raw rows ≠ standardized + quarantined")
    specs = [t.spec for t in wanted]
    started = time.perf_counter()
    sequential = run_isolated(run_district, pickle.dumps(specs), str(raw_root), str(home))
    sequential["wall"] = time.perf_counter() - started
    log(f"whole district, one process: {sequential['wall']:.1f}s wall (imports {sequential['imports']:.1f}s), "
        f"peak {sequential['peak_rss_mb']:,.0f} MB")
    parallel = run_parallel(specs, str(raw_root), str(work), workers)
    log(f"whole district, {workers} processes: {parallel['wall']:.1f}s wall")
    return {"per_table": per_table, "sequential": sequential, "parallel": parallel, "landed": landed}


def _split(result: dict) -> tuple[float, float, float, float]:
    p = result["parts"]
    read, norm, write = p.get("read", 0.0), p.get("normalize", 0.0), p.get("write", 0.0)
    return read, norm, max(result["seconds"] - read - norm - write, 0.0), write


def format_row(table: Table, r: dict) -> str:
    rate = r["raw_rows"] / r["seconds"] if r["seconds"] else 0
    read, norm, engine, write = _split(r)
    return (f"{table.label:<34} {r['raw_rows']:>10,} raw → {r['rows']:>10,} + {r['quarantined']:>7,} quarantined "
            f"{r['seconds']:7.2f}s {rate:>10,.0f} rows/s  (read {read:.2f} normalize {norm:.2f} engine {engine:.2f} "
            f"write {write:.2f})  peak {r['peak_rss_mb']:,.0f} MB")


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds else "–"


def tables_markdown(per_table) -> str:
    lines = [
        "| table | raw rows | standardized | quarantined | seconds | rows/s | read | normalizers | engine | write "
        "| peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for table, r in per_table:
        read, norm, engine, write = _split(r)
        lines.append(
            f"| {table.label} | {r['raw_rows']:,} | {r['rows']:,} | {r['quarantined']:,} | {r['seconds']:.2f} "
            f"| {_rate(r['raw_rows'], r['seconds'])} | {read:.2f} | {norm:.2f} | {engine:.2f} | {write:.2f} "
            f"| {r['peak_rss_mb']:,.0f} |")
    raw = sum(r["raw_rows"] for _, r in per_table)
    seconds = sum(r["seconds"] for _, r in per_table)
    parts = [sum(_split(r)[i] for _, r in per_table) for i in range(4)]
    lines.append(
        f"| **all {len(per_table)} tables** | **{raw:,}** | **{sum(r['rows'] for _, r in per_table):,}** "
        f"| **{sum(r['quarantined'] for _, r in per_table):,}** | **{seconds:.2f}** | **{_rate(raw, seconds)}** "
        f"| {parts[0]:.2f} | {parts[1]:.2f} | {parts[2]:.2f} | {parts[3]:.2f} "
        f"| {max(r['peak_rss_mb'] for _, r in per_table):,.0f} (max) |")
    return "\n".join(lines)


def district_markdown(result: dict) -> str:
    per_table = result["per_table"]
    raw = sum(r["raw_rows"] for _, r in per_table)
    total = sum(r["seconds"] for _, r in per_table)
    seq, par = result["sequential"], result["parallel"]
    seq_work = sum(t["seconds"] for t in seq["tables"])

    def verdict(seconds: float) -> str:
        return "yes" if seconds < GOAL_SECONDS else "**no**"

    lines = [
        "| whole district | seconds | rows/s | peak RSS (MB) | under 60 s |",
        "|---|---:|---:|---:|---|",
        f"| sum of the per-table runs above (imports excluded) | {total:.1f} | {_rate(raw, total)} "
        f"| {max(r['peak_rss_mb'] for _, r in per_table):,.0f} | {verdict(total)} |",
        f"| one process, tables one after another: wall incl. start and {seq['imports']:.1f} s imports "
        f"(standardizing alone {seq_work:.1f} s) | {seq['wall']:.1f} | {_rate(raw, seq['wall'])} "
        f"| {seq['peak_rss_mb']:,.0f} | {verdict(seq['wall'])} |",
        f"| {par['workers']} processes, largest tables first: wall incl. start and imports | {par['wall']:.1f} "
        f"| {_rate(raw, par['wall'])} | {max(t['peak_rss_mb'] for t in par['tables']):,.0f} (per process) "
        f"| {verdict(par['wall'])} |",
    ]
    return "\n".join(lines)


def kinds_markdown(per_table, top: int = 12) -> str:
    """Normalizer time by kind over the district, then the slowest fields."""
    by_kind: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])  # fields, rows, seconds
    fields = []
    for table, r in per_table:
        for f in r["fields"]:
            k = by_kind[f["kind"]]
            k[0] += 1
            k[1] += f["rows"]
            k[2] += f["seconds"]
            fields.append((table, f))
    total = sum(k[2] for k in by_kind.values()) or 1.0
    lines = ["| normalizer kind | fields | rows | seconds | share | rows/s |", "|---|---:|---:|---:|---:|---:|"]
    for kind, (n, rows, seconds) in sorted(by_kind.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"| {kind} | {n} | {rows:,} | {seconds:.2f} | {seconds / total:.0%} | {_rate(rows, seconds)} |")
    lines += ["", "| slowest fields | kind | rows | seconds | rows/s |", "|---|---|---:|---:|---:|"]
    for table, f in sorted(fields, key=lambda tf: -tf[1]["seconds"])[:top]:
        lines.append(f"| {table.name}.{f['field']} | {f['kind']} | {f['rows']:,} | {f['seconds']:.2f} "
                     f"| {_rate(f['rows'], f['seconds'])} |")
    return "\n".join(lines)


def section(result: dict, *, provenance: str, persons: int, seed: int, notes: str = "") -> str:
    per_table = result["per_table"]
    landed = (f" Datasets the raw layer lacked were landed first (untimed): {', '.join(result['landed'])}."
              if result["landed"] else "")
    return (
        f"{provenance}. Synthetic district of {persons:,} persons (seed {seed}); input: the raw layer "
        f"the ingest stage kept (every batch of each dataset: SQL and HTTP sources land one, file sources "
        f"one per delivered file).{landed} Goal (issue 3): the whole district in "
        f"under {GOAL_SECONDS:.0f} s on 2 cores.\n\n"
        f"Per table: `warehouse.standardize.standardize_dataset` in a fresh process (imports paid before the "
        f"clock; peak RSS is that process's, about 200 MB of it polars/pyarrow), outputs written as Parquet "
        f"to a scratch home and reconciled (raw = standardized + quarantined: every table holds). "
        f"rows/s counts raw rows. read = raw Parquet → polars; normalizers = the fields' normalizer "
        f"functions; engine = the rest of `standardize` (issue lists, blockers, the original row as JSON, "
        f"quarantine rows with reasons); write = standardized + quarantine Parquet (zstd).\n\n"
        f"{tables_markdown(per_table)}\n\n{district_markdown(result)}\n\n"
        f"Where the normalizer time goes (per-table runs; a per-string library's first use in a process, "
        f"e.g. OpenCC's trigger set, counts in the field that pays it):\n\n{kinds_markdown(per_table)}\n"
        + (f"\n{notes.strip()}\n" if notes.strip() else "")
    )


# ---- profiling (standalone) ------------------------------------------------------------------

def profile(raw_root: Path, work: Path, names: list[str] | None, top: int, out: Path | None) -> None:
    """cProfile each table's standardize_dataset in this process; print the heaviest calls."""
    import warehouse.standardize as ws
    from warehouse.raw import RawStore

    store = RawStore(raw_root)
    for table in tables():
        if names and table.name not in names:
            continue
        home = work / f"std-profile-{uuid.uuid4().hex[:8]}"
        prof = cProfile.Profile()
        try:
            prof.enable()
            report = ws.standardize_dataset(store, home, table.spec)
            prof.disable()
        finally:
            shutil.rmtree(home, ignore_errors=True)
        stats = pstats.Stats(prof)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            stats.dump_stats(out / f"{table.name}.pstats")
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
        print(f"==== {table.name}: {report.rows:,} rows + {report.quarantined:,} quarantined; "
              f"{stats.total_tt:.2f}s under the profiler")
        print("\n".join(line for line in text.getvalue().splitlines()[6:] if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache" / "citybase-bench")
    parser.add_argument("--profile", action="store_true", help="cProfile each table instead of measuring")
    parser.add_argument("--tables", default="", help="comma-separated table names (source__dataset) to profile")
    parser.add_argument("--top", type=int, default=25, help="functions listed per table when profiling")
    parser.add_argument("--dump", type=Path, help="also write <table>.pstats files here")
    args = parser.parse_args()
    if not args.profile:
        parser.error("measuring is `python -m bench --only standardize`; this entry point profiles (--profile)")
    from bench import ingest

    raw_root = ingest.raw_dir(args.data, args.persons, args.seed)
    district_dir = args.data / f"district-{args.persons}-{args.seed}"
    ingest.ensure_district(district_dir, args.persons, args.seed)
    ensure_raw(raw_root, district_dir, args.data / "work", tables())
    profile(raw_root, args.data / "work", [n for n in args.tables.split(",") if n], args.top, args.dump)


if __name__ == "__main__":
    main()
