"""一表通 benchmark: workbooks out (下发), returns in (回收), roll-up (汇总), on a published home.

    python -m bench.reports --home HOME [--home HOME2] [--period 2026-10] [--returns 300]
                            [--templates a,b] [--units N] [--wait-load 0.6] [--workers 2]
                            [--json FILE] [--no-write]
    python -m bench --only reports                       (the `reports` stage of `make bench`)

Nothing in HOME changes: the benchmark works in a scratch home whose `base/` is a symlink to
HOME's published library (read-only) and whose reports state (forms, workbooks, returns, raw
batches of source `reports`) starts empty; the scratch home is removed afterwards (`--keep`).
Each measurement runs in a fresh (spawned) process, so its peak RSS is its own:

1. generate   `reports.generate.generate` for every unit of every shipped template, one process
              per template (imports before the clock); then all again in a second scratch home,
              spread over 2 processes, largest first (wall time including process start).
              Goal: all of them in under 30 s on 2 cores.
2. ingest     returned workbooks, filled as staff would (openpyxl: every editable required cell
              with a value the template's rules and checks accept, the 填表人 line signed), prepared
              untimed; then `reports.intake.ingest` per workbook in one process, after one
              warm-up ingest whose time is reported apart as the first-call cost. The phone / ID
              normalizers intake calls are wrapped with a timer (in that process only).
              Then, apart, one signed workbook without rows per template (a unit with nothing
              to report). Goal: a median under 100 ms per workbook. Every one must be accepted.
3. roll-up    `reports.rollup.rollup` and `reports.rollup.export` per template, one process per
              template, after the ingests.

The workbooks returned are units with rows first (units without only if there are too few),
spread over the templates (an equal share each, capped by what it has; what one cannot take goes
to the others) and, within a template, evenly by row count, so the set is representative of what
comes back.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import date, timedelta
from pathlib import Path

from bench import report

TITLE = "一表通: workbooks out, returns in, roll-up"
GOAL_GENERATE_S = 30.0
GOAL_INGEST_MS = 100.0
RETURNS = 300
DEFAULT_PERIOD = "2026-10"
SIGNER = "王网格"


# ---- the scratch home -----------------------------------------------------------------------------

def published(home: Path) -> bool:
    return (home / "base" / "CURRENT").is_file()


def scratch_home(home: Path, parent: Path | None = None) -> Path:
    """A fresh home whose base/ is HOME's published library (symlinked) and nothing else."""
    if not published(home):
        raise SystemExit(f"{home} holds no published base library (base/CURRENT): run `citybase demo --home {home}`")
    root = Path(tempfile.mkdtemp(prefix="citybase-bench-reports-", dir=parent))
    (root / "base").symlink_to((home / "base").resolve(), target_is_directory=True)
    return root


def bench_home(data: Path, persons: int, seed: int, standardized_home: Path, log=print) -> Path:
    """The published home for the `reports` stage of `python -m bench`: the standardize stage's home
    if it has been published, else `<data>/demo-<persons>-<seed>`, built once (untimed) with
    `citybase demo --persons N --seed S --home DIR`."""
    if published(standardized_home):
        return standardized_home
    home = data / f"demo-{persons}-{seed}"
    if published(home):
        return home
    exe = Path(sys.executable).parent / "citybase"
    cmd = [str(exe) if exe.exists() else (shutil.which("citybase") or "citybase"), "demo", "--persons", str(persons),
           "--seed", str(seed), "--home", str(home)]
    log(f"no published home yet: building one (untimed): {shlex.join(cmd)}")
    env = {k: v for k, v in os.environ.items() if k not in ("CITYBASE_HOTLINE_URL", "CITYBASE_HOME", "DAGSTER_HOME")}
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, check=False)
    if not published(home):
        raise SystemExit(f"`citybase demo` (exit {done.returncode}) left no published base library in {home}")
    log(f"built {home} in {time.perf_counter() - started:.0f}s (exit {done.returncode})")
    return home


def district_facts(home: Path) -> dict:
    """persons, seed and months of the synthetic district the home was built from (if known)."""
    try:
        facts = json.loads((home / "district" / "district.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: facts.get(k) for k in ("persons", "seed", "months")}


def default_period(home: Path) -> str:
    months = district_facts(home).get("months") or []
    return months[-1] if months else DEFAULT_PERIOD


# ---- 1. generate (child process) ------------------------------------------------------------------

def generate_one(scratch: str, period: str, template_id: str, units: int | None) -> dict:
    from reports import forms, prefill
    from reports.generate import generate
    from reports.template import get

    home = Path(scratch)
    template = get(template_id)
    codes = None
    if units is not None:
        con = prefill.open_library(home)
        try:
            codes = [u.code for u in prefill.units(con, template.level)][:units]
        finally:
            con.close()
    started = time.perf_counter()
    done = generate(home, template, period, codes, actor="bench")
    seconds = time.perf_counter() - started
    rows = [f.rows for f in forms.FormStore(home).list(template_id, period)]
    return {"template": template_id, "title": template.title, "level": template.level, "kind": template.kind,
            "issued": len(done.issued), "rows": done.rows, "cells": done.cells, "prefilled": done.prefilled,
            "share": done.prefilled_share, "seconds": seconds, "rows_per_workbook": rows}


# ---- 2. returned workbooks, filled as staff would (untimed) ---------------------------------------

def _care(i: int, row: dict, start: date, end: date) -> dict:
    visits = i % 4
    out = {"visit_count": visits,
           "care_method": ("入户走访", "电话问候", "代办服务")[i % 3] if visits else "未联系上",
           "last_visit_date": start + timedelta(days=i % ((end - start).days + 1)) if visits else None}
    if row.get("difficulty") is None:
        out["difficulty"] = "无"
    return out


def _rental(i: int, row: dict, start: date, end: date) -> dict:
    residents = row.get("actual_residents") or row.get("registered_residents") or 3
    if i % 5 == 4:  # verified: not let
        return {"rented": "否", "group_rental": "否", "actual_residents": residents}
    return {"rented": "是", "group_rental": "是" if residents >= 3 else "否", "actual_residents": residents,
            "landlord_name": "张房东", "landlord_phone": f"139{10_000_000 + i * 7919 % 89_999_999:08d}",
            "lease_end": date(end.year + 1, 6, 30)}


def _vacant(i: int, row: dict, start: date, end: date) -> dict:
    occupied = int(row.get("occupied_units") or 0)
    vacant = i % 6
    return {"total_units": occupied + vacant + i % 3, "vacant_units": vacant, "rentable_units": vacant // 2}


def _hotline(i: int, row: dict, start: date, end: date) -> dict:
    received = int(row.get("received") or 0)
    closed = int(row.get("verified_closed") if row.get("verified_closed") is not None else row.get("closed") or 0)
    closed = min(closed, received)
    return {"verified_closed": closed, "unresolved_reason": "正在协调相关部门办理" if closed < received else None}


def _building(i: int, row: dict, start: date, end: date) -> dict:
    if i % 11 == 10:  # moved out: a note explains any tax still filed this month
        return {"occupancy_status": "已迁出", "office_area": 0, "note": "本月迁出，税收关系正在转出"}
    return {"occupancy_status": "新入驻" if i % 7 == 6 else "在驻", "office_area": 50 + (i % 10) * 25.5}


FILLERS = {"key_population_care": _care, "rental_housing": _rental, "vacant_housing": _vacant,
           "hotline_summary": _hotline, "building_economy": _building}


def _generic(template, row: dict, start: date) -> dict:
    """A template without a filler of its own: a plain value in every empty required editable cell."""
    out = {}
    for c in template.columns:
        if not (c.editable and c.required and row.get(c.id) is None):
            continue
        if c.type == "choice":
            out[c.id] = c.choices[0]
        elif c.type in ("integer", "number"):
            out[c.id] = c.min if c.min is not None else 0
        elif c.type == "date":
            out[c.id] = start
        elif c.type == "phone":
            out[c.id] = "13800138000"
        else:
            out[c.id] = "已核实"
    return out


def fill(src: Path, dst: Path, template, rows: int, period: str) -> None:
    """One returned workbook: the issued one with its editable cells filled in and 填表人 signed."""
    import openpyxl

    from reports.template import period_bounds
    from reports.workbook import footer_rows

    start, end = period_bounds(template.period, period)
    layout = template.layout
    col_of = {c.id: layout.col(j) + 1 for j, c in enumerate(template.columns)}  # openpyxl is 1-based
    editable = {c.id for c in template.columns if c.editable}
    filler = FILLERS.get(template.id)
    wb = openpyxl.load_workbook(src)
    ws = wb[template.sheet_name]
    for i in range(rows):
        r = layout.first_data_row + 1 + i
        row = {cid: ws.cell(r, col).value for cid, col in col_of.items()}
        values = filler(i, row, start, end) if filler else _generic(template, row, start)
        for cid, value in values.items():
            if cid not in editable:
                raise ValueError(f"{template.id}: the filler writes {cid}, which is not editable")
            ws.cell(r, col_of[cid]).value = value
    footer = footer_rows(template, rows + template.new_rows)  # the blank rows for additions stay blank
    r, c = footer["filled_by"]
    ws.cell(r + 1, c + 1).value = SIGNER
    r, c = footer["filled_on"]
    ws.cell(r + 1, c + 1).value = end + timedelta(days=3)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)


def _shares(available: dict[str, int], total: int) -> dict[str, int]:
    """An equal share per template, capped by what it has; what one cannot take goes to the others."""
    share = {t: 0 for t in available}
    left = min(total, sum(available.values()))
    open_ = sorted(available, key=lambda t: available[t])
    while left and open_:
        each = max(1, left // len(open_))
        for t in list(open_):
            take = min(each, available[t] - share[t], left)
            share[t] += take
            left -= take
            if share[t] >= available[t]:
                open_.remove(t)
            if not left:
                break
    return share


def _spread(forms_, k: int) -> list:
    """k forms: those with rows, evenly by row count (all of them if k is larger), then empty ones."""
    with_rows = sorted((f for f in forms_ if f.rows > 0), key=lambda f: (f.rows, f.unit_code))
    empty = sorted((f for f in forms_ if f.rows == 0), key=lambda f: f.unit_code)
    if k >= len(with_rows):
        return with_rows + empty[: k - len(with_rows)]
    if k == 1:
        return [with_rows[len(with_rows) // 2]]
    return [with_rows[round(i * (len(with_rows) - 1) / (k - 1))] for i in range(k)]


def prepare_returns(scratch: str, period: str, template_ids: list[str], total: int) -> dict:
    """Fill `total` returned workbooks plus one for the warm-up; their paths, in ingest order."""
    from reports import forms
    from reports.template import get

    home = Path(scratch)
    store = forms.FormStore(home)
    issued = {t: store.list(t, period) for t in template_ids}
    # Units with rows first, across all templates; units with none only if that is not enough.
    shares = _shares({t: sum(f.rows > 0 for f in fs) for t, fs in issued.items()}, total + 1)
    short = total + 1 - sum(shares.values())
    if short > 0:
        more = _shares({t: sum(f.rows == 0 for f in fs) for t, fs in issued.items()}, short)
        shares = {t: shares[t] + more[t] for t in shares}
    picked = {t: _spread(issued[t], shares[t]) for t in template_ids}
    # Apart from the timed set: one signed workbook without rows per template (a unit with nothing to report).
    taken = {(f.template_id, f.unit_code) for fs in picked.values() for f in fs}
    empty = [next(f for f in issued[t] if f.rows == 0 and (t, f.unit_code) not in taken)
             for t in template_ids if any(f.rows == 0 and (t, f.unit_code) not in taken for f in issued[t])]
    # The warm-up: the median-sized workbook of the template with the most picks.
    most = max(picked, key=lambda t: (len(picked[t]), t))
    warm = picked[most].pop(len(picked[most]) // 2) if picked[most] else None
    started = time.perf_counter()
    out: list[dict] = []
    # Interleave the templates, as returns arrive in no particular order.
    queues = {t: list(v) for t, v in picked.items()}
    order = []
    while any(queues.values()):
        for t in template_ids:
            if queues[t]:
                order.append(queues[t].pop(0))
    for f in ([warm] if warm else []) + order + empty:
        template = get(f.template_id)
        dst = home / "returned" / f.template_id / f"{f.unit_code}.xlsx"
        fill(home / f.workbook, dst, template, f.rows, period)
        out.append({"template": f.template_id, "unit": f.unit_code, "rows": f.rows, "path": str(dst)})
    first = 1 if warm else 0
    return {"warm": out[0] if warm else None, "returns": out[first:len(out) - len(empty)],
            "empty": out[len(out) - len(empty):], "seconds": time.perf_counter() - started}


# ---- 2. ingest (child process) --------------------------------------------------------------------

def ingest_all(scratch: str, warm: dict | None, returns: list[dict], empty: list[dict] | None = None) -> dict:
    started = time.perf_counter()
    from reports import intake

    imports = time.perf_counter() - started
    home = Path(scratch)
    # Time spent in the per-cell phone / ID normalizers `intake._parse` calls (wrapped here, in this
    # process only; reports/ is not changed).
    spent = [0.0]

    def timed(fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t
        return wrapper

    intake.normalize_phone = timed(intake.normalize_phone)
    intake.normalize_id_number = timed(intake.normalize_id_number)

    def one(item: dict) -> dict:
        path = Path(item["path"])
        data = path.read_bytes()
        spent[0] = 0.0
        t0 = time.perf_counter()
        try:
            outcome = intake.ingest(home, data, name=path.name, actor="bench")
        except Exception as exc:  # a crash is a bug in reports/, reported like a refusal, not fatal here
            seconds = time.perf_counter() - t0
            frames = traceback.extract_tb(exc.__traceback__)
            where = next((f for f in reversed(frames) if f"{os.sep}reports{os.sep}" in f.filename), frames[-1])
            return {**item, "ms": seconds * 1000, "accepted": False, "problem_count": 1, "normalize_ms": spent[0] * 1000,
                    "problems": [f"[crash] {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno}"
                                 f" {where.line})"]}
        seconds = time.perf_counter() - t0
        result = {**item, "ms": seconds * 1000, "accepted": outcome.accepted, "stored_rows": outcome.rows,
                  "changed": outcome.changed_cells, "normalize_ms": spent[0] * 1000}
        if not outcome.accepted:
            result["problems"] = [f"[{p.rule}] {p}" for p in outcome.problems[:10]]
            result["problem_count"] = len(outcome.problems)
        return result

    first = one(warm) if warm else None
    results = [one(item) for item in returns]
    return {"imports_s": imports, "first": first, "results": results, "empty": [one(item) for item in empty or []]}


# ---- 3. roll-up (child process) -------------------------------------------------------------------

def rollup_one(scratch: str, period: str, template_id: str) -> dict:
    import polars as pl

    from reports import rollup
    from reports.template import get

    home = Path(scratch)
    template = get(template_id)
    t0 = time.perf_counter()
    result = rollup.rollup(home, template, period)
    t1 = time.perf_counter()
    path = rollup.export(home, template, period)
    t2 = time.perf_counter()
    district = result.table.filter(pl.col("level") == "区")
    return {"template": template_id, "rollup_s": t1 - t0, "export_s": t2 - t1,
            "units_filed": int(district["units_filed"][0]) if district.height else 0,
            "rows": int(district["rows"][0] or 0) if district.height else 0,
            "table_rows": result.table.height + (result.by_row.height if result.by_row is not None else 0),
            "summary_kb": path.stat().st_size / 1024}


# ---- 1b. generate on 2 cores -----------------------------------------------------------------------

def generate_parallel(home: Path, period: str, template_ids: list[str], units: int | None, *, workers: int = 2,
                      scratch_parent: Path | None = None) -> dict:
    """Every template again, in a second fresh scratch home, spread over `workers` spawned processes
    (one per template, in the order given); wall time includes process start and imports."""
    import multiprocessing as mp

    scratch = scratch_home(home, scratch_parent)
    try:
        ctx = mp.get_context("spawn")
        started = time.perf_counter()
        with ctx.Pool(workers, maxtasksperchild=1) as pool:
            results = pool.starmap(report.measured, [(generate_one, str(scratch), period, t, units)
                                                     for t in template_ids], chunksize=1)
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"workers": workers, "wall": wall, "results": results}


# ---- the whole run ----------------------------------------------------------------------------------

def run(home: Path, *, period: str | None = None, template_ids: list[str] | None = None, units: int | None = None,
        returns: int = RETURNS, scratch_parent: Path | None = None, keep: bool = False, workers: int = 2,
        log=print) -> dict:
    from reports.template import templates

    home = Path(home).resolve()
    period = period or default_period(home)
    template_ids = template_ids or sorted(templates())
    scratch = scratch_home(home, scratch_parent)
    log(f"home {home} (published base library, read-only) → scratch {scratch}; period {period}")
    load_before = report.load_average()
    try:
        gen = []
        for tid in template_ids:
            t0 = time.perf_counter()
            r = report.run_isolated(generate_one, str(scratch), period, tid, units)
            r["wall"] = time.perf_counter() - t0
            gen.append(r)
            log(format_generate(r))
        prepared = report.run_isolated(prepare_returns, str(scratch), period, template_ids, returns)
        log(f"prepared {len(prepared['returns'])} returned workbooks (+1 warm-up) with openpyxl in "
            f"{prepared['seconds']:.1f}s (untimed)")
        ingested = report.run_isolated(ingest_all, str(scratch), prepared["warm"], prepared["returns"],
                                       prepared["empty"])
        log(ingest_line(ingested))
        for r in ingested["results"] + ingested["empty"]:
            if not r["accepted"]:
                log(f"REFUSED {r['template']} {r['unit']} ({r['rows']} rows): {r['problem_count']} problem(s)\n  "
                    + "\n  ".join(r["problems"]))
        rolled = []
        for tid in template_ids:
            r = report.run_isolated(rollup_one, str(scratch), period, tid)
            rolled.append(r)
            log(f"roll-up {tid:<22} rollup {r['rollup_s']:.2f}s  export {r['export_s']:.2f}s  "
                f"filed {r['units_filed']}  peak {r['peak_rss_mb']:,.0f} MB")
        largest_first = [r["template"] for r in sorted(gen, key=lambda r: -r["seconds"])]
        parallel = generate_parallel(home, period, largest_first, units, workers=workers, scratch_parent=scratch_parent)
        log(f"generate, {workers} processes, largest first: {parallel['wall']:.1f}s wall incl. process start and "
            f"imports (generating {max(r['seconds'] for r in parallel['results']):.1f}s in the slowest)")
    finally:
        if keep:
            log(f"kept the scratch home {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"home": str(home), "period": period, "district": district_facts(home), "units_limit": units,
            "generate": gen, "parallel": parallel, "prepared_s": prepared["seconds"], "ingest": ingested,
            "rollup": rolled,
            "load_before": load_before, "load_after": report.load_average()}


# ---- numbers ----------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def fit(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least squares ms = a + b·rows: the fixed cost of a workbook and the cost of a row."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - b * mx, b


def ingest_stats(results: list[dict]) -> dict:
    ms = [r["ms"] for r in results]
    rows = [r["rows"] for r in results]
    return {"n": len(results), "rows": sum(rows), "median": statistics.median(ms) if ms else float("nan"),
            "p95": percentile(ms, 0.95), "max": max(ms) if ms else float("nan"),
            "ms_per_row": sum(ms) / sum(rows) if sum(rows) else float("nan"),
            "rows_median": statistics.median(rows) if rows else 0, "rows_max": max(rows) if rows else 0,
            "accepted": sum(r["accepted"] for r in results)}


def format_generate(r: dict) -> str:
    rate = r["issued"] / r["seconds"] if r["seconds"] else 0
    return (f"generate {r['template']:<22} {r['issued']:>4} workbooks {r['rows']:>8,} rows {r['seconds']:6.2f}s "
            f"{rate:6.1f} wb/s  pre-filled {r['share']:.0%}  peak {r['peak_rss_mb']:,.0f} MB")


def ingest_line(ingested: dict) -> str:
    s = ingest_stats(ingested["results"])
    first = ingested["first"]
    text = (f"ingest {s['n']} workbooks ({s['rows']:,} rows): median {s['median']:.1f} ms, p95 {s['p95']:.1f} ms, "
            f"max {s['max']:.1f} ms, {s['ms_per_row']:.2f} ms/row; accepted {s['accepted']}/{s['n']}")
    if first:
        text += f"; first call {first['ms']:.0f} ms ({'accepted' if first['accepted'] else 'REFUSED'})"
    return text + f"; peak {ingested['peak_rss_mb']:,.0f} MB"


def _med_max(values: list[int]) -> str:
    return f"{statistics.median(values):g} / {max(values):,}" if values else "–"


def generate_table(gen: list[dict]) -> str:
    lines = ["| template | level | units | rows | rows per workbook (median / max) | seconds | workbooks/s "
             "| pre-filled | peak RSS (MB) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in gen:
        rate = r["issued"] / r["seconds"] if r["seconds"] else 0
        lines.append(f"| {r['title']} `{r['template']}` | {r['level']} | {r['issued']} | {r['rows']:,} "
                     f"| {_med_max(r['rows_per_workbook'])} | {r['seconds']:.2f} | {rate:.1f} | {r['share']:.1%} "
                     f"| {r['peak_rss_mb']:,.0f} |")
    issued = sum(r["issued"] for r in gen)
    seconds = sum(r["seconds"] for r in gen)
    cells = sum(r["cells"] for r in gen)
    share = sum(r["prefilled"] for r in gen) / cells if cells else 0
    every = [n for r in gen for n in r["rows_per_workbook"]]
    lines.append(f"| **all {len(gen)} templates** | | **{issued}** | **{sum(r['rows'] for r in gen):,}** "
                 f"| {_med_max(every)} | **{seconds:.2f}** | **{issued / seconds if seconds else 0:.1f}** "
                 f"| {share:.1%} | {max(r['peak_rss_mb'] for r in gen):,.0f} (max) |")
    return "\n".join(lines)


def ingest_table(results: list[dict], titles: dict[str, str]) -> str:
    lines = ["| template | workbooks | rows | rows per workbook (median / max) | median ms | p95 ms | max ms "
             "| ms per row | phone/ID normalizers | accepted |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups = {}
    for r in results:
        groups.setdefault(r["template"], []).append(r)
    for tid, rs in [*groups.items(), ("__all__", results)]:
        s = ingest_stats(rs)
        name = "**all**" if tid == "__all__" else f"{titles.get(tid, tid)} `{tid}`"
        total = sum(r["ms"] for r in rs)
        norm = sum(r.get("normalize_ms", 0) for r in rs) / total if total else 0
        lines.append(f"| {name} | {s['n']} | {s['rows']:,} | {s['rows_median']:g} / {s['rows_max']:,} "
                     f"| {s['median']:.1f} | {s['p95']:.1f} | {s['max']:.1f} | {s['ms_per_row']:.2f} | {norm:.0%} "
                     f"| {s['accepted']}/{s['n']} |")
    return "\n".join(lines)


def rollup_table(rolled: list[dict], titles: dict[str, str]) -> str:
    lines = ["| template | units filed | rows rolled up | roll-up s | export s (its own roll-up + workbook) "
             "| summary workbook (KB) | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rolled:
        lines.append(f"| {titles.get(r['template'], r['template'])} `{r['template']}` | {r['units_filed']} "
                     f"| {r['rows']:,} | {r['rollup_s']:.2f} | {r['export_s']:.2f} | {r['summary_kb']:,.0f} "
                     f"| {r['peak_rss_mb']:,.0f} |")
    lines.append(f"| **all** | {sum(r['units_filed'] for r in rolled)} | {sum(r['rows'] for r in rolled):,} "
                 f"| **{sum(r['rollup_s'] for r in rolled):.2f}** | **{sum(r['export_s'] for r in rolled):.2f}** "
                 f"| | {max(r['peak_rss_mb'] for r in rolled):,.0f} (max) |")
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _refusals(refused: list[dict]) -> list[str]:
    """Refusals (and crashes) grouped by their first problem."""
    causes: dict[str, list[dict]] = {}
    for r in refused:
        causes.setdefault(r["problems"][0] if r.get("problems") else "?", []).append(r)
    lines = []
    for cause, rs in sorted(causes.items(), key=lambda kv: -len(kv[1]))[:8]:
        rows = sorted({r["rows"] for r in rs})
        shown = ", ".join(f"{r['template']} {r['unit']}" for r in rs[:3]) + (", …" if len(rs) > 3 else "")
        lines.append(f"  - {len(rs)} workbook(s) with {'/'.join(map(str, rows[:5]))}{'…' if len(rows) > 5 else ''} "
                     f"rows ({shown}): {cause}"
                     + (f" (+{rs[0]['problem_count'] - 1} more problem(s) in the first)" if rs[0]["problem_count"] > 1 else ""))
    return lines


def home_markdown(result: dict) -> str:
    """One home's measurements: the three tables and the goal lines."""
    gen, ing, rolled = result["generate"], result["ingest"], result["rollup"]
    titles = {r["template"]: r["title"] for r in gen}
    facts = result["district"]
    who = f"{facts['persons']:,} persons (seed {facts['seed']})" if facts.get("persons") else "home"
    gen_s = sum(r["seconds"] for r in gen)
    gen_wall = sum(r["wall"] for r in gen)
    issued = sum(r["issued"] for r in gen)
    par = result.get("parallel")
    s = ingest_stats(ing["results"])
    first = ing["first"]
    refused = [r for r in ing["results"] if not r["accepted"]]
    line = fit([(r["rows"], r["ms"]) for r in ing["results"]])
    wait = result.get("wait")
    lines = [f"### {who}: `{result['home']}`, period {result['period']}", ""]
    lines.append(f"Load average {result['load_before']} before, {result['load_after']} after"
                 + (f"; {wait}" if wait else "") + "."
                 + (f" Only the first {result['units_limit']} units of each template (a partial run)."
                    if result.get("units_limit") else ""))
    goal_met = gen_s < GOAL_GENERATE_S or (par is not None and par["wall"] < GOAL_GENERATE_S)
    gen_goal = (f"- Goal: every template's workbooks for all units in under {GOAL_GENERATE_S:.0f} s on 2 cores: "
                f"{_met(goal_met)}: {gen_s:.1f} s generating with the templates one after another (one core busy; "
                f"{gen_wall:.1f} s wall with each process's start and imports)")
    if par is not None:
        gen_goal += (f"; {par['workers']} processes, largest template first (in a second fresh scratch home): "
                     f"**{par['wall']:.1f} s wall** including process start and imports, the slowest template "
                     f"{max(r['seconds'] for r in par['results']):.1f} s generating, "
                     f"peak {max(r['peak_rss_mb'] for r in par['results']):,.0f} MB per process")
    lines += ["", f"**Generate** (下发): {issued} workbooks, one process per template.", "", generate_table(gen), "",
              gen_goal + ".", "",
              f"**Ingest** (回收): {s['n']} returned workbooks, filled with openpyxl beforehand "
              f"({result['prepared_s']:.0f} s, untimed), `intake.ingest` each in one process.", "",
              ingest_table(ing["results"], titles), ""]
    goal = (f"- Goal: a median under {GOAL_INGEST_MS:.0f} ms per returned workbook: {_met(s['median'] < GOAL_INGEST_MS)}, "
            f"median {s['median']:.1f} ms (p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms)")
    if refused:
        ok = ingest_stats([r for r in ing["results"] if r["accepted"]])
        goal += f"; over the {ok['n']} accepted only: median {ok['median']:.1f} ms"
    lines.append(goal + ".")
    norm = sum(r.get("normalize_ms", 0) for r in ing["results"])
    total_ms = sum(r["ms"] for r in ing["results"])
    if total_ms:
        lines.append(f"- Where the time goes: {norm / total_ms:.0%} of all ingest time is in the phone / ID "
                     f"normalizers intake calls (`normalize_phone`, `normalize_id_number`, timed by wrapping them "
                     f"in the benchmark process); the column above has it per template.")
    extra = [f"importing `reports.intake` {ing['imports_s'] * 1000:.0f} ms"]
    if first:
        extra.append(f"first call (warm-up, {first['template']}, {first['rows']} rows, not in the table) "
                     f"{first['ms']:.0f} ms")
    if line:
        extra.append(f"least squares over the {s['n']}: {line[0]:.1f} ms per workbook + {line[1]:.3f} ms per row")
    extra.append(f"peak RSS {ing['peak_rss_mb']:,.0f} MB")
    lines.append("- Once per process: " + "; ".join(extra) + ".")
    lines.append(f"- Rows per workbook returned: median {s['rows_median']:g}, max {s['rows_max']:,}; "
                 f"accepted {s['accepted']} of {s['n']}"
                 + ("." if not refused else f"; **refused {len(refused)}** (a bug: every one was filled validly):"))
    lines += _refusals(refused)
    empty = ing.get("empty") or []
    if empty:
        units_empty = sum(n == 0 for r in gen for n in r["rows_per_workbook"])
        bad = [r for r in empty if not r["accepted"]]
        lines.append(f"- Units with nothing to report: {units_empty} of the {issued} workbooks issued have no rows. "
                     f"One such workbook per template, signed and handed back (not in the table): "
                     f"{len(empty) - len(bad)} of {len(empty)} accepted"
                     + ("." if not bad else "; **the others fail** (a bug in `reports/intake.py`):"))
        lines += _refusals(bad)
    lines += ["", "**Roll-up** (汇总) after the ingests (the warm-up and accepted empty workbooks count as filed "
                  "too), one process per template.", "",
              rollup_table(rolled, titles)]
    return "\n".join(lines)


def section(results: list[dict], provenance: str) -> str:
    workers = next((r["parallel"]["workers"] for r in results if r.get("parallel")), 2)
    return (
        f"{provenance}. `bench/reports.py` on a published home (`citybase demo`), in a scratch home whose `base/` is "
        f"a symlink to the home's published library and whose reports state starts empty (the home is not "
        f"changed; it is the first period, so there are no last-period returns and `prefill: [last]` columns "
        f"start empty). Each step in fresh spawned processes (imports before the clock; peak RSS per process). "
        f"**Generate**: `reports.generate.generate` for every unit at each shipped template's filing level "
        f"(xlsx written, issued record, form state), then again on {workers} processes. **Ingest**: up to {RETURNS} "
        f"returned workbooks spread over the templates (units with rows first, an equal share per template capped "
        f"by what it has; within a template evenly by row count), each filled as staff would with openpyxl — "
        f"every editable required cell with a value the template's rules and cross-column checks accept, 填表人 "
        f"signed — then `reports.intake.ingest` on each in one process (precheck, signature, cells, checks, "
        f"write-back to returns + raw layer, state → 已提交), after one warm-up ingest reported apart. "
        f"**Roll-up**: `reports.rollup.rollup` and `reports.rollup.export` (summary workbook) per template after "
        f"the ingests.\n\n"
        + "\n\n".join(home_markdown(r) for r in results) + "\n"
    )


# ---- waiting for a quiet machine -------------------------------------------------------------------

def wait_for_load(threshold: float, minutes: float, log=print) -> str:
    """Poll every 30 s until the 1-minute load average is below threshold (at most `minutes`)."""
    started = time.monotonic()
    while True:
        one = os.getloadavg()[0]
        waited = (time.monotonic() - started) / 60
        if one < threshold:
            return (f"waited {waited:.0f} min for the 1-minute load average to drop below {threshold:g}"
                    if waited >= 0.5 else "")
        if waited >= minutes:
            return (f"**the 1-minute load average was still {one:.2f} after waiting {waited:.0f} min for it to drop "
                    f"below {threshold:g}: measured anyway, other work on the machine inflates these numbers**")
        log(f"load average {report.load_average()}: waiting for the 1-minute figure to drop below {threshold:g} "
            f"({waited:.1f} of {minutes:g} min)")
        time.sleep(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, action="append", required=True,
                        help="a published home (repeat for several; one BENCHMARKS.md section holds them all)")
    parser.add_argument("--period", help="report period (default: the district's last month)")
    parser.add_argument("--returns", type=int, default=RETURNS, help="returned workbooks to ingest")
    parser.add_argument("--templates", help="comma-separated template ids (default: all shipped)")
    parser.add_argument("--units", type=int, help="only the first N units of each template (quick runs)")
    parser.add_argument("--scratch", type=Path, help="where to make the scratch home (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch home")
    parser.add_argument("--wait-load", type=float, help="wait until the 1-minute load average is below this")
    parser.add_argument("--wait-minutes", type=float, default=25.0, help="wait at most this long (then measure)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel generate run")
    parser.add_argument("--json", type=Path, help="also write every measurement (per workbook) to this file")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    chosen = [t.strip() for t in args.templates.split(",")] if args.templates else None

    command = shlex.join(["python", "-m", "bench.reports", *sys.argv[1:]])
    machine, commit, when = report.machine(), report.commit(), date.today().isoformat()
    load_before = report.load_average()
    results = []
    for home in args.home:
        wait = wait_for_load(args.wait_load, args.wait_minutes) if args.wait_load is not None else ""
        result = run(home, period=args.period, template_ids=chosen, units=args.units, returns=args.returns,
                     scratch_parent=args.scratch, keep=args.keep, workers=args.workers,
                     log=lambda s: print(s, flush=True))
        result["wait"] = wait
        results.append(result)
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), "utf-8")
        print(f"\n{home_markdown(result)}\n", flush=True)
    if args.no_write:
        return
    provenance = report.provenance(when=when, machine=machine, commit=commit, load_before=load_before,
                                   load_after=report.load_average(), command=command)
    benchmarks = report.ROOT / "BENCHMARKS.md"
    report.write_section(benchmarks, TITLE, section(results, provenance))
    print(f"wrote the 一表通 section of {benchmarks}")


if __name__ == "__main__":
    main()
