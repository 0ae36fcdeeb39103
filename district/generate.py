"""generate() and advance(): the district on disk, month by month."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import polars as pl

from district import building_tax, civil_affairs, heritage, registry, traceability
from district.dirt import DIRT, ROW_DIRT
from district.hotline_data import TICKETS_FILE, simulate_month, write_lines
from district.months import BASE_MONTHS, Month
from district.rand import rng
from district.systems_sql import SQL_SYSTEMS, advance_systems, create_systems, sqlite_path
from district.truth import Truth
from district.world import World, build_world, evolve

MONTHLY_EXPORTS = (civil_affairs, building_tax, traceability, registry)
META = "district.json"


def generate(out_dir: Path, persons: int = 20_000, seed: int = 7) -> dict:
    """Write the whole district under out_dir (its earlier outputs are replaced) and return
    the summary that is also written to district.json."""
    out = Path(out_dir)
    for old in ("systems", "exports", "truth", META):
        target = out / old
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    months = [Month(m) for m in BASE_MONTHS]
    world = build_world(persons, seed)
    truth = Truth()
    counts = create_systems(world, months, out, seed, truth)
    counts |= heritage.write_register(world.heritage, out, seed, truth)
    lines = 0
    previous = None
    for month in months:
        counts |= _monthly_files(world, month, out, seed, truth)
        simulate_month(world, month, seed, truth)
        lines += write_lines(out, world, previous, month.cutoff)
        previous = month.cutoff
    counts[TICKETS_FILE.as_posix()] = lines
    counts |= world.save(out / "truth")
    counts |= truth.write(out / "truth")
    summary = {"seed": seed, "persons": persons, "months": list(BASE_MONTHS), "counts": dict(sorted(counts.items())),
               "dirt": {"rates": DIRT, "row_rates": ROW_DIRT, "observed": _observed(truth.stats)}, "advances": []}
    _write_meta(out, summary)
    return summary


def advance(out_dir: Path, seed: int | None = None) -> dict:
    """One month later: births and move-ins, SQL inserts and updates stamped in the new month,
    new and progressed tickets appended to tickets.jsonl, the month's export files. `seed`
    (default: the district's) drives the month's events; the result depends only on the
    files on disk and the seed."""
    out = Path(out_dir)
    meta = json.loads((out / META).read_text(encoding="utf-8"))
    month = Month(meta["months"][-1]).next()
    previous = Month(meta["months"][-1]).cutoff
    s = meta["seed"] if seed is None else seed
    world = World.load(out / "truth")
    links = pl.read_parquet(out / "truth" / "source_rows.parquet")
    truth = Truth()
    changes = evolve(world, month, rng(s, "advance", month.label))
    sql_counts, replaced = advance_systems(world, month, out, s, truth, links, changes)
    counts = _monthly_files(world, month, out, s, truth)
    new_tickets = simulate_month(world, month, s, truth)
    lines = write_lines(out, world, previous, month.cutoff)
    world.save(out / "truth")
    truth_counts = truth.write(out / "truth", replaced=pl.DataFrame(
        replaced, schema=["source", "dataset", "row_key", "field"], orient="row"))

    result = {"month": month.label, "seed": s, "births": changes["births"], "move_ins": changes["move_ins"],
              "job_changes": changes["job_changes"], **sql_counts, "tickets.new": new_tickets,
              "tickets.lines_appended": lines, "files_written": dict(sorted(counts.items()))}
    meta["months"].append(month.label)
    meta["counts"] |= counts | truth_counts | _sql_counts(out)
    meta["counts"][TICKETS_FILE.as_posix()] += lines
    meta["counts"] = dict(sorted(meta["counts"].items()))
    observed = meta["dirt"]["observed"]
    for key, (eligible, dirty) in truth.stats.items():
        old = observed.get(key, {"eligible": 0, "dirty": 0})
        observed[key] = {"eligible": old["eligible"] + eligible, "dirty": old["dirty"] + dirty}
    meta["dirt"]["observed"] = dict(sorted(observed.items()))
    meta["advances"].append({k: v for k, v in result.items() if k != "files_written"})
    _write_meta(out, meta)
    return result


def _monthly_files(world: World, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    counts = {}
    for module in MONTHLY_EXPORTS:
        counts |= module.write_month(world, month, out, seed, truth)
    counts |= heritage.write_readings(world.heritage, month, out, seed, truth)
    return counts


def _sql_counts(out: Path) -> dict[str, int]:
    counts = {}
    for source, spec in SQL_SYSTEMS.items():
        con = sqlite3.connect(sqlite_path(out, source))
        try:
            for table in spec["tables"]:
                (n,) = con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
                counts[f"systems/{source}.sqlite#{table}"] = n
        finally:
            con.close()
    return counts


def _observed(stats: dict[str, list[int]]) -> dict[str, dict[str, int]]:
    return {k: {"eligible": int(e), "dirty": int(d)} for k, (e, d) in sorted(stats.items())}


def _write_meta(out: Path, meta: dict) -> None:
    (out / META).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
