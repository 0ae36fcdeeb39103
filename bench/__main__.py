"""`make bench` / `python -m bench`: measure, print a table, write BENCHMARKS.md.

    python -m bench [--persons 1000000] [--seed 7] [--data DIR] [--no-write]

Each measurement runs in its own fresh process so its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import time
from datetime import date
from pathlib import Path

from bench import ingest

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {mp.cpu_count()} cores{mem}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def run_isolated(fn, *args) -> dict:
    """Run fn(*args) in a fresh process; return its result dict plus its own peak RSS."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(ingest.measured, (fn, *args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache" / "citybase-bench")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()

    load_before = "{:.2f}/{:.2f}/{:.2f} (1/5/15 min) at start".format(*os.getloadavg())
    district_dir = args.data / f"district-{args.persons}-{args.seed}"
    started = time.perf_counter()
    gen = ingest.ensure_district(district_dir, args.persons, args.seed)
    print(f"district: {args.persons:,} persons, seed {args.seed} → {district_dir} ({gen})")

    rows = []
    for case in ingest.cases(district_dir):
        result = run_isolated(ingest.run_case, case, str(args.data / "work"))
        floor = run_isolated(ingest.run_floor, case, str(args.data / "work")) if case.floor else None
        rows.append((case, result, floor))
        print(ingest.format_row(case, result, floor), flush=True)

    table = ingest.markdown_table(rows)
    print()
    print(table)
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    if not args.no_write:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        ingest.write_benchmarks(
            ROOT / "BENCHMARKS.md", table, machine=machine(), when=date.today().isoformat(),
            persons=args.persons, seed=args.seed, commit=commit, load=load_before,
        )
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
