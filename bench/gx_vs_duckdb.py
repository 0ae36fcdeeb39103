"""Great Expectations (through expectations.bridge) vs one DuckDB query, same checks, same data.

    python -m bench.gx_vs_duckdb [--rows 1000000] [--seed 7] [--samples 5] [--per-expectation]

A synthetic standardized table of ~10 columns (person_no, name, id_number, phone, sex, age,
birth_date, status, amount, updated_at) with a little dirt in it, and 8 checks: row count > 0,
person_no unique, name not null, id_number valid (ISO 7064 check character: citybase's custom
expectation), phone matches a mobile pattern, sex in a code list, age in 0..120, birth_date in a
date range. They run three ways:

    GX      expectations.bridge.validate: polars → pandas (the columns the suite uses), GX 1.x
            pandas engine, SUMMARY results with up to --samples masked values per expectation
    DuckDB  one SQL query over the Arrow data: the same counts and up to --samples values each
    polars  the same rules as polars expressions (how row rules run in warehouse.standardize)

It prints a table of timings and a per-check comparison of the unexpected counts (they must
agree). GX's import and context are timed separately: a process pays them once. Run alone it
writes nothing; `python -m bench` runs it as its `gx` stage (`measure` in a fresh process) and
writes the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
SEXES = ("男", "女")
STATUSES = ("参保缴费", "暂停缴费", "终止参保")
BIRTH_MIN, BIRTH_MAX = "1900-01-01", "2026-12-31"
PHONE_RE = "^1[3-9][0-9]{9}$"

SUITE = {
    "name": "bench__insured_person",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "person_no"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}},
        {"type": "expect_column_values_to_be_valid_chinese_id_number", "kwargs": {"column": "id_number"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "phone", "regex": PHONE_RE}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "sex", "value_set": list(SEXES)}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 0, "max_value": 120}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "birth_date", "min_value": BIRTH_MIN, "max_value": BIRTH_MAX}},
    ],
}
CHECKS = ["row_count", "person_no_unique", "name_not_null", "id_number_valid", "phone_pattern", "sex_in_set",
          "age_range", "birth_date_range"]


# ---- data ------------------------------------------------------------------------------------

def make_table(rows: int, seed: int) -> pl.DataFrame:
    """A standardized-looking table with about 0.1% dirt per checked column."""
    rng = np.random.default_rng(seed)
    dirty = lambda share: rng.random(rows) < share  # noqa: E731
    surnames = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
    given = np.array(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"))
    name_len = rng.choice([1, 2], rows, p=[0.3, 0.7])
    names = pl.Series(surnames[rng.integers(0, len(surnames), rows)]) + pl.Series(given[rng.integers(0, len(given), rows)])
    second = pl.Series(given[rng.integers(0, len(given), rows)])
    names = pl.select(pl.when(pl.Series(name_len == 2)).then(names + second).otherwise(names)).to_series()
    names = pl.select(pl.when(pl.Series(dirty(0.001))).then(None).otherwise(names)).to_series()

    birth = (np.datetime64("1930-01-01") + rng.integers(0, 365 * 90, rows).astype("timedelta64[D]"))
    birth_dates = pl.Series("birth_date", birth).cast(pl.Date)
    regions = np.array(["410102", "410103", "410104", "410105", "410122", "410184"])
    seq = rng.integers(0, 1000, rows)
    body = (pl.Series(regions[rng.integers(0, len(regions), rows)])
            + birth_dates.dt.strftime("%Y%m%d") + pl.Series([f"{s:03d}" for s in seq]))
    digits = np.frombuffer(body.str.join("").item().encode(), dtype=np.uint8).reshape(rows, 17) - 48
    check = (digits.astype(np.int32) @ np.array(ID_WEIGHTS)) % 11
    check_char = np.array(list(ID_CHECK))[check]
    wrong_char = np.array(list(ID_CHECK))[(check + 1) % 11]
    ids = body + pl.Series(np.where(dirty(0.001), wrong_char, check_char))
    ids = pl.select(pl.when(pl.Series(dirty(0.01))).then(None).otherwise(ids)).to_series()

    phones = pl.Series(["1" + str(p) for p in rng.integers(3, 10, rows)]) + pl.Series(
        [f"{n:09d}" for n in rng.integers(0, 10**9, rows)])
    phones = pl.select(pl.when(pl.Series(dirty(0.001))).then(phones.str.slice(0, 10)).otherwise(phones)).to_series()

    person_no = pl.Series([f"P{i:08d}" for i in range(rows)])
    dup = np.flatnonzero(dirty(0.0005))
    person_no = person_no.scatter(dup, person_no.gather(np.maximum(dup - 1, 0)))

    age = 2026 - birth_dates.dt.year().cast(pl.Int64)
    age = pl.select(pl.when(pl.Series(dirty(0.0002))).then(pl.lit(130, pl.Int64)).otherwise(age)).to_series()
    sex = pl.Series(np.array(SEXES + ("未知",))[np.where(dirty(0.0005), 2, rng.integers(0, 2, rows))])
    future = pl.Series(dirty(0.0002))
    birth_dates = pl.select(pl.when(future).then(pl.lit(date(2030, 1, 1))).otherwise(birth_dates)).to_series()

    return pl.DataFrame({
        "person_no": person_no,
        "name": names,
        "id_number": ids,
        "phone": phones,
        "sex": sex,
        "age": age,
        "birth_date": birth_dates,
        "status": pl.Series(np.array(STATUSES)[rng.integers(0, 3, rows)]),
        "amount": pl.Series(rng.integers(0, 10**6, rows) / 100).cast(pl.Decimal(12, 2)),
        "updated_at": pl.datetime_range(datetime(2026, 1, 1), datetime(2026, 1, 1) + timedelta(seconds=rows - 1),
                                        "1s", eager=True),
    })


# ---- the three ways ----------------------------------------------------------------------------

def run_gx(frame: pl.DataFrame, samples: int, per_expectation: bool = False) -> dict:
    started = time.perf_counter()
    from expectations import bridge

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench__insured_person.json"
        path.write_text(json.dumps(SUITE, ensure_ascii=False), encoding="utf-8")
        suite = bridge.load_suite(path)  # imports GX (+ custom expectations)
    loaded = time.perf_counter()
    bridge.get_context()
    ready = time.perf_counter()
    first = bridge.validate(frame, suite, sample_size=samples)
    second = bridge.validate(frame, suite, sample_size=samples)
    counts = dict(zip(CHECKS, [
        first.expectations[0].observed_value, *[e.unexpected_count for e in first.expectations[1:]]]))
    alone = {}
    if per_expectation:
        for check, exp in zip(CHECKS, SUITE["expectations"]):
            one = bridge._gx().ExpectationSuite(name=f"one_{check}", expectations=[exp])
            alone[check] = bridge.validate(frame, one, sample_size=samples).timings["total"]
    return {
        "alone": alone,
        "import_and_load_suite": loaded - started,
        "context": ready - loaded,
        "first": first.timings,
        "second": second.timings,
        "counts": counts,
        "runtime": bridge.runtime_seconds(),
    }


def _id_check_sql(col: str, digits17: str) -> str:
    """ISO 7064 MOD 11-2 in SQL; `digits17` is the first 17 characters as a BIGINT (digits by
    integer division: about twice as fast in DuckDB as 17 substr + casts)."""
    total = " + ".join(f"{w} * (({digits17} // {10 ** (16 - i)}) % 10)" for i, w in enumerate(ID_WEIGHTS))
    return (f"(regexp_full_match({col}, '[0-9]{{17}}[0-9X]') AND "
            f"substr('{ID_CHECK}', CAST(({total}) % 11 AS INTEGER) + 1, 1) = substr({col}, 18, 1))")


def duckdb_query(samples: int) -> str:
    def bad(cond: str, value: str) -> str:
        return (f"count(*) FILTER (WHERE {cond}), "
                f"list({value}) FILTER (WHERE {cond})[1:{samples}]")

    # A value passes a column rule when it is null (as GX's map expectations do), except not-null.
    return f"""
    WITH dup AS (SELECT person_no, count(*) AS n FROM t GROUP BY person_no HAVING count(*) > 1)
    SELECT
        count(*),
        (SELECT coalesce(sum(n), 0) FROM dup), (SELECT list(person_no)[1:{samples}] FROM dup),
        {bad("name IS NULL", "name")},
        {bad("id_number IS NOT NULL AND NOT " + _id_check_sql("id_number", "id17"), "id_number")},
        {bad(f"phone IS NOT NULL AND NOT regexp_full_match(phone, '{PHONE_RE[1:-1]}')", "phone")},
        {bad("sex IS NOT NULL AND sex NOT IN ('男', '女')", "sex")},
        {bad("age IS NOT NULL AND NOT (age BETWEEN 0 AND 120)", "age")},
        {bad(f"birth_date IS NOT NULL AND NOT (birth_date BETWEEN DATE '{BIRTH_MIN}' AND DATE '{BIRTH_MAX}')",
             "birth_date")}
    FROM (SELECT *, TRY_CAST(substr(id_number, 1, 17) AS BIGINT) AS id17 FROM t)
    """


def run_duckdb(frame: pl.DataFrame, samples: int) -> dict:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    t = frame.to_arrow()  # noqa: F841  (DuckDB scans the Arrow table by its variable name)
    con.register("t", t)
    ready = time.perf_counter()
    sql = duckdb_query(samples)
    timings = []
    row = None
    for _ in range(2):
        t0 = time.perf_counter()
        row = con.execute(sql).fetchone()
        timings.append(time.perf_counter() - t0)
    con.close()
    counts = dict(zip(CHECKS, [row[0], row[1], *row[3::2]]))
    return {"connect": ready - started, "first": timings[0], "second": timings[1], "counts": counts}


def run_polars(frame: pl.DataFrame) -> dict:
    from warehouse.normalize.identifiers import id_check_char

    ids = pl.col("id_number")
    rules = {
        "row_count": pl.len(),
        "person_no_unique": pl.col("person_no").is_duplicated().sum(),
        "name_not_null": pl.col("name").is_null().sum(),
        "id_number_valid": (ids.is_not_null() & ~(ids.str.contains(r"^[0-9]{17}[0-9X]$")
                                                  & (id_check_char(ids.str.slice(0, 17)) == ids.str.slice(17, 1))
                                                  ).fill_null(False)).sum(),
        "phone_pattern": (~pl.col("phone").str.contains(PHONE_RE)).sum(),
        "sex_in_set": (~pl.col("sex").is_in(list(SEXES))).sum(),
        "age_range": (~pl.col("age").is_between(0, 120)).sum(),
        "birth_date_range": (~pl.col("birth_date").is_between(date.fromisoformat(BIRTH_MIN),
                                                              date.fromisoformat(BIRTH_MAX))).sum(),
    }
    timings = []
    out = None
    for _ in range(2):
        t0 = time.perf_counter()
        out = frame.select(**rules).row(0, named=True)
        timings.append(time.perf_counter() - t0)
    return {"first": timings[0], "second": timings[1], "counts": {k: int(v) for k, v in out.items()}}


# ---- report ----------------------------------------------------------------------------------

def measure(rows: int = 1_000_000, seed: int = 7, samples: int = 5, per_expectation: bool = False) -> dict:
    """Generate the table and run the three ways on it; plain data (picklable) back."""
    t0 = time.perf_counter()
    frame = make_table(rows, seed)
    data = {"rows": frame.height, "columns": frame.width, "mb": frame.estimated_size("mb"),
            "generated_s": time.perf_counter() - t0}
    duck = run_duckdb(frame, samples)
    fast = run_polars(frame)
    gx = run_gx(frame, samples, per_expectation)
    del frame
    agree = all(gx["counts"][c] == duck["counts"][c] == fast["counts"][c] for c in CHECKS)
    versions = {m: _version(m) for m in ("great_expectations", "pandas", "duckdb", "polars")}
    return {"data": data, "duckdb": duck, "polars": fast, "gx": _plain(gx), "agree": agree, "versions": versions,
            "samples": samples, "expectations": len(SUITE["expectations"])}


def _plain(value):
    """numpy scalars and the like → Python numbers, so the result pickles and prints plainly."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def ratio(result: dict) -> tuple[float, float]:
    """GX / DuckDB and GX / polars, each on its 2nd (warm) run."""
    g2 = result["gx"]["second"]["total"]
    return g2 / result["duckdb"]["second"], g2 / result["polars"]["second"]


def timing_table(result: dict) -> str:
    gx, duck, fast = result["gx"], result["duckdb"], result["polars"]
    g1, g2 = gx["first"], gx["second"]
    rows = [
        ("GX import (+ custom expectations, suite load)", gx["import_and_load_suite"], "once per process"),
        ("GX ephemeral context + pandas datasource", gx["context"], "once per process"),
        ("GX validate, 1st: polars → pandas", g1["prepare"], f"{result['expectations']} expectations"),
        ("GX validate, 1st: GX run", g1["validate"], ""),
        ("GX validate, 1st: total", g1["total"], ""),
        ("GX validate, 2nd: total", g2["total"], f"prepare {g2['prepare']:.2f} + run {g2['validate']:.2f}"),
        ("DuckDB one query, 1st", duck["first"], f"connect + register Arrow {duck['connect']:.3f}s"),
        ("DuckDB one query, 2nd", duck["second"], ""),
        ("polars expressions, 1st", fast["first"], "counts only"),
        ("polars expressions, 2nd", fast["second"], "counts only"),
    ]
    lines = ["| step | seconds | note |", "|---|---:|---|"]
    lines += [f"| {label} | {seconds:.3f} | {note} |" for label, seconds, note in rows]
    return "\n".join(lines)


def alone_table(result: dict) -> str:
    lines = ["| GX expectation alone | seconds (incl. pandas conversion of its column) |", "|---|---:|"]
    lines += [f"| {check} | {seconds:.3f} |" for check, seconds in result["gx"]["alone"].items()]
    return "\n".join(lines)


def counts_table(result: dict) -> str:
    lines = ["| check | GX unexpected | DuckDB | polars |", "|---|---:|---:|---:|"]
    for check in CHECKS:
        a, b, c = (result[w]["counts"][check] for w in ("gx", "duckdb", "polars"))
        lines.append(f"| {check} | {a:,} | {b:,} | {c:,} |")
    return "\n".join(lines)


def versions_line(result: dict) -> str:
    v = result["versions"]
    return (f"Python {platform.python_version()}; GX {v['great_expectations']}, pandas {v['pandas']}, "
            f"DuckDB {v['duckdb']}, polars {v['polars']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=5, help="unexpected values kept per check")
    parser.add_argument("--per-expectation", action="store_true", help="also time each GX expectation alone")
    args = parser.parse_args()

    result = measure(args.rows, args.seed, args.samples, args.per_expectation)
    d = result["data"]
    print(f"data: {d['rows']:,} rows × {d['columns']} columns, {d['mb']:.0f} MB "
          f"(generated in {d['generated_s']:.1f}s); {result['expectations']} checks")
    print()
    print(timing_table(result))
    to_duck, to_polars = ratio(result)
    print(f"\nGX (2nd validate) / DuckDB (2nd query): {to_duck:.1f}x; GX / polars: {to_polars:.1f}x")
    if result["gx"]["alone"]:
        print()
        print(alone_table(result))
    print()
    print(counts_table(result))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ncounts agree: {result['agree']}; peak RSS {peak:.0f} MB; {versions_line(result)}")
    if not result["agree"]:
        raise SystemExit("the three ways disagree on the unexpected counts")


def _version(module: str) -> str:
    from importlib.metadata import version

    return version(module.replace("_", "-"))


if __name__ == "__main__":
    main()
