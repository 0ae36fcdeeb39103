"""`make bench` / `python -m bench`: measure, print tables, write BENCHMARKS.md.

    python -m bench [--persons 1000000] [--seed 7] [--data DIR] [--no-write]
                    [--only ingest,standardize,gx,reports | --skip gx] [--workers 2] [--gx-rows 1000000]
                    [--reports-home HOME]

Stages, in this order (all four by default):

    ingest       every source through the real connectors into the raw layer, against a floor;
                 the raw layer it lands is kept for the next stage   (bench/ingest.py)
    standardize  raw layer → standardized tables + quarantine, per table and the whole
                 district; lands whatever the raw layer lacks first  (bench/standardize.py)
    gx           Great Expectations vs the same checks as one DuckDB query: a controlled
                 8-check suite on a 1M-row synthetic table (and polars expressions)
                 (bench/gx_vs_duckdb.py), then every table's real suite on the standardized
                 district the standardize stage kept                 (bench/gx_suites.py)
    reports      一表通: every template's workbooks issued for all units, 300 returned workbooks
                 (filled untimed) ingested, roll-up and summary export, in a scratch home over a
                 published library: --reports-home, else the standardize stage's home once
                 published, else `citybase demo --persons N --seed S` built once under --data
                                                                     (bench/reports.py)

Each measurement runs in its own fresh process so its peak memory (max RSS) is its own. Each
stage writes its own section of BENCHMARKS.md, in place, with machine, date, commit, command and
the load average before and after it (other work on the machine skews every number).
"""

from __future__ import annotations

import argparse
import pickle
import shlex
import sys
import time
from datetime import date
from pathlib import Path

from bench import gx_suites, gx_vs_duckdb, ingest, report
from bench import reports as bench_reports
from bench import standardize as std

STAGES = ("ingest", "standardize", "gx", "reports")
BENCHMARKS = report.ROOT / "BENCHMARKS.md"


def _stages(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    return chosen


def run_ingest(args, district_dir: Path) -> str:
    rows = []
    raw_root = ingest.raw_dir(args.data, args.persons, args.seed)
    for case in ingest.cases(district_dir):
        result = report.run_isolated(ingest.run_case, case, str(args.data / "work"), str(raw_root))
        floor = report.run_isolated(ingest.run_floor, case, str(args.data / "work")) if case.floor else None
        rows.append((case, result, floor))
        print(ingest.format_row(case, result, floor), flush=True)
    table = ingest.markdown_table(rows)
    print(f"\n{table}\n")
    return table


def run_standardize(args, district_dir: Path) -> dict:
    raw_root = ingest.raw_dir(args.data, args.persons, args.seed)
    home = std.home_dir(args.data, args.persons, args.seed)
    result = std.run(raw_root, district_dir, args.data / "work", home, workers=args.workers,
                     log=lambda line: print(line, flush=True))
    print(f"\n{std.tables_markdown(result['per_table'])}\n\n{std.district_markdown(result)}\n\n"
          f"{std.kinds_markdown(result['per_table'])}\n")
    return result


def run_gx(args, district_dir: Path) -> dict:
    result = report.run_isolated(gx_vs_duckdb.measure, args.gx_rows, args.seed)
    to_duck, to_polars = gx_vs_duckdb.ratio(result)
    print(f"{gx_vs_duckdb.timing_table(result)}\n\nGX / DuckDB {to_duck:.1f}x, GX / polars {to_polars:.1f}x; "
          f"counts agree: {result['agree']}\n\n{gx_vs_duckdb.counts_table(result)}\n", flush=True)
    if not result["agree"]:
        raise SystemExit("GX, DuckDB and polars disagree on the unexpected counts")

    # The real suites on the standardized district the standardize stage kept.
    raw_root = ingest.raw_dir(args.data, args.persons, args.seed)
    home = std.home_dir(args.data, args.persons, args.seed)
    wanted = std.tables()
    specs = pickle.dumps([t.spec for t in wanted])
    if not _standardized(raw_root, home, wanted):
        ingest.ensure_district(district_dir, args.persons, args.seed)
        std.ensure_raw(raw_root, district_dir, args.data / "work", wanted)
        print("standardizing the district first (untimed): the standardize stage's output is missing", flush=True)
        report.run_isolated(std.run_district, specs, str(raw_root), str(home))
    suites = report.run_isolated(gx_suites.measure, specs, str(raw_root), str(home))
    print(f"GX ready (import + context) {suites['gx_ready_s']:.1f}s, warm-up {suites['warm_s']:.1f}s\n\n"
          f"{gx_suites.markdown(suites)}\n", flush=True)
    if not gx_suites.agree(suites):
        raise SystemExit("GX and the DuckDB translation of the suites disagree (see the table)")
    return {"synthetic": result, "suites": suites}


def run_reports(args) -> dict:
    log = lambda line: print(line, flush=True)  # noqa: E731
    home = args.reports_home or bench_reports.bench_home(
        args.data, args.persons, args.seed, std.home_dir(args.data, args.persons, args.seed), log=log)
    result = bench_reports.run(home, workers=args.workers, log=log)
    print(f"\n{bench_reports.home_markdown(result)}\n", flush=True)
    return result


def _standardized(raw_root: Path, home: Path, wanted) -> bool:
    from warehouse.raw import RawStore
    from warehouse.standardize import layer_path

    store = RawStore(raw_root)
    for t in wanted:
        batches = store.batches(t.spec.source, t.spec.dataset)
        if not batches or not layer_path(home, "standardized", t.spec, batches[-1].batch_id).exists():
            return False
    return True


GX_TITLE = "GX vs DuckDB: 8 checks on a 1M-row synthetic standardized table"


def gx_section(result: dict, provenance: str) -> str:
    d = result["data"]
    to_duck, to_polars = gx_vs_duckdb.ratio(result)
    g2 = result["gx"]["second"]["total"]
    return (
        f"{provenance}. `bench/gx_vs_duckdb.py` in a fresh process: a synthetic standardized table shaped "
        f"like 医保 insured_person ({d['rows']:,} rows × {d['columns']} columns, {d['mb']:.0f} MB in polars, "
        f"~0.1% dirt per checked column) and {result['expectations']} checks (row count, key unique, not null, "
        f"ID checksum — citybase's custom expectation —, phone pattern, code set, two ranges), run three ways: "
        f"a GX 1.x suite through `expectations.bridge.validate` (polars → pandas, SUMMARY results, "
        f"{result['samples']} masked samples per expectation), one DuckDB query over the Arrow data (the same "
        f"counts and samples), and polars expressions (counts only: how row rules run in "
        f"`warehouse.standardize`). The real suites on the real tables follow in the next section.\n\n"
        f"{gx_vs_duckdb.timing_table(result)}\n\n"
        f"**Cost of GX: {g2:.2f} s per validation vs {result['duckdb']['second']:.2f} s for one DuckDB query "
        f"= {to_duck:.1f}x** (warm, 2nd runs; {to_polars:.0f}x the polars expressions), plus "
        f"{result['gx']['import_and_load_suite']:.1f} s once per process to import GX. Peak RSS of the process "
        f"(table, pandas copy, GX): {result['peak_rss_mb']:,.0f} MB. The three ways agree on every count: "
        f"{'yes' if result['agree'] else '**no**'}.\n\n"
        f"{gx_vs_duckdb.counts_table(result)}\n\n{gx_vs_duckdb.versions_line(result)}.\n"
    )


def suites_section(result: dict, provenance: str, *, persons: int, seed: int) -> str:
    v = result["versions"]
    return (
        f"{provenance}. `bench/gx_suites.py` in a fresh process, on the standardized district of {persons:,} "
        f"persons (seed {seed}) that the standardize stage kept: every table's own suite "
        f"(`expectations/suites/<table>.json`) on its newest batch, with that batch's facts, as the "
        f"`expectations` asset check runs it (GX: `expectations.bridge.validate`, polars → pandas for the "
        f"columns the suite names, SUMMARY results with 5 masked samples per expectation), against the "
        f"same suite translated into one DuckDB query over the same frame (registering it as Arrow "
        f"included; unexpected and non-null counts and 5 samples per expectation; batch facts as a "
        f"one-row CTE). GX import + context {result['gx_ready_s']:.1f} s and a first small validation "
        f"{result['warm_s']:.1f} s are paid once per process and not in the table. The two must agree "
        f"on every expectation's count and outcome; 'failed' is how many expectations did not pass "
        f"(findings about the synthetic dirt, not errors). GX {v['great_expectations']}, "
        f"DuckDB {v['duckdb']}.\n\n{gx_suites.markdown(result)}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache" / "citybase-bench")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--only", type=_stages, help=f"comma-separated stages to run ({', '.join(STAGES)})")
    parser.add_argument("--skip", type=_stages, default=[], help="comma-separated stages to leave out")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes for the parallel runs (standardize: whole district; reports: generate)")
    parser.add_argument("--gx-rows", type=int, default=1_000_000, help="rows of the GX vs DuckDB table")
    parser.add_argument("--reports-home", type=Path,
                        help="published home for the reports stage (default: built with `citybase demo`)")
    args = parser.parse_args()
    stages = [s for s in STAGES if s in (args.only or STAGES) and s not in args.skip]
    if not stages:
        parser.error("no stage left to run")

    command = shlex.join(["python", "-m", "bench", *sys.argv[1:]])
    machine, commit, when = report.machine(), report.commit(), date.today().isoformat()
    district_dir = args.data / f"district-{args.persons}-{args.seed}"
    started = time.perf_counter()
    if {"ingest", "standardize"} & set(stages):
        gen = ingest.ensure_district(district_dir, args.persons, args.seed)
        print(f"district: {args.persons:,} persons, seed {args.seed} → {district_dir} ({gen})")

    for stage in stages:
        load_before = report.load_average()
        print(f"== {stage} (load average {load_before})", flush=True)
        if stage == "ingest":
            result = run_ingest(args, district_dir)
        elif stage == "standardize":
            result = run_standardize(args, district_dir)
        elif stage == "reports":
            result = run_reports(args)
        else:
            result = run_gx(args, district_dir)
        load_after = report.load_average()
        print(f"== {stage} done (load average {load_after})", flush=True)
        if args.no_write:
            continue
        provenance = report.provenance(when=when, machine=machine, commit=commit, load_before=load_before,
                                       load_after=load_after, command=command)
        if stage == "ingest":
            report.write_section(BENCHMARKS, ingest.TITLE,
                                 ingest.section(result, provenance=provenance, persons=args.persons, seed=args.seed))
        elif stage == "standardize":
            report.write_section(BENCHMARKS, std.TITLE,
                                 std.section(result, provenance=provenance, persons=args.persons, seed=args.seed))
        elif stage == "reports":
            report.write_section(BENCHMARKS, bench_reports.TITLE, bench_reports.section([result], provenance))
        else:
            report.write_section(BENCHMARKS, GX_TITLE, gx_section(result["synthetic"], provenance))
            report.write_section(BENCHMARKS, gx_suites.TITLE, suites_section(result["suites"], provenance,
                                                                             persons=args.persons, seed=args.seed))
        print(f"wrote the {stage} section of {BENCHMARKS}")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
