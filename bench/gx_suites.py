"""The real expectation suites on the real standardized district: GX vs the same checks as one
DuckDB query per table.

For every standardized table that has a suite (`expectations/suites/<table>.json`), on the
standardized output of its newest raw batch (what the `expectations` asset check validates):

    GX      `expectations.bridge.validate(frame, suite, facts=...)`, exactly as
            `expectations.checks.check_latest_batch` calls it (polars → pandas for the columns
            the suite names, GX 1.x pandas engine, SUMMARY results, 5 masked samples each)
    DuckDB  the suite translated into ONE query over the same frame (registered as Arrow):
            per expectation its unexpected count, non-null count and up to 5 sample values;
            batch facts (quarantine rate, hours since load) as a one-row CTE

GX's import and context are paid once per process, before the clock (reported apart), and one
small warm-up validation takes GX's first-call costs. The unexpected counts (the observed row
count for the row-count expectation, the outcome for batch facts) must agree, expectation by
expectation, or the translation is wrong and the stage fails. The translation knows the
expectation types the suites use; a suite with another type is reported, not guessed at.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.gx_vs_duckdb import ID_CHECK, ID_WEIGHTS

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TITLE = "Expectation suites: GX vs one DuckDB query on the standardized district"


class Untranslatable(ValueError):
    pass


# ---- the translation --------------------------------------------------------------------------

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _literal(value, dtype) -> str:
    """A bound or set member as the column's type sees it (GX compares date bounds on date and
    datetime columns as midnight datetimes: the same as comparing with the date)."""
    import polars as pl

    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if dtype == pl.Date and isinstance(value, str):
        return f"DATE {_str(value[:10])}"
    if isinstance(dtype, pl.Datetime) and isinstance(value, str):
        text = value if len(value) > 10 else value + " 00:00:00"
        return f"TIMESTAMP {_str(text.replace('T', ' '))}"
    if isinstance(value, (int, float)):
        return repr(value)
    return _str(value)


def _id_valid(col: str, digits: str) -> str:
    """ISO 7064 MOD 11-2; `digits` names the first 17 characters as a BIGINT, computed once per
    row in a subquery (inline, DuckDB would cast 17 times: ~0.6 s more per 1M rows)."""
    total = " + ".join(f"{w} * (({digits} // {10 ** (16 - i)}) % 10)" for i, w in enumerate(ID_WEIGHTS))
    return (f"(regexp_full_match({col}, '[0-9]{{17}}[0-9X]') AND "
            f"substr('{ID_CHECK}', CAST(({total}) % 11 AS INTEGER) + 1, 1) = substr({col}, 18, 1))")


def _uscc_valid(col: str, org: bool) -> str:
    def value(i: int, alphabet: str) -> str:
        return f"(strpos('{alphabet}', substr({col}, {i}, 1)) - 1)"

    main = " + ".join(f"{w} * {value(i + 1, USCC_ALPHABET)}" for i, w in enumerate(USCC_WEIGHTS))
    cond = (f"(regexp_full_match({col}, '[0-9A-HJ-NP-RTUWXY]{{18}}') AND "
            f"(31 - ({main}) % 31) % 31 = {value(18, USCC_ALPHABET)}")
    if org:
        s = " + ".join(f"{w} * {value(i + 9, BASE36)}" for i, w in enumerate(ORG_WEIGHTS))
        c = f"(11 - ({s}) % 11)"
        cond += f" AND (CASE {c} WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE CAST({c} AS VARCHAR) END) = substr({col}, 17, 1)"
    return cond + ")"


def _between(col: str, kw: dict, dtype) -> str:
    parts = []
    if kw.get("min_value") is not None:
        parts.append(f"{col} {'>' if kw.get('strict_min') else '>='} {_literal(kw['min_value'], dtype)}")
    if kw.get("max_value") is not None:
        parts.append(f"{col} {'<' if kw.get('strict_max') else '<='} {_literal(kw['max_value'], dtype)}")
    return " AND ".join(parts) or "TRUE"


def suite_query(configs: list[dict], schema: dict, facts: dict, samples: int = 5) -> tuple[str, list[str]]:
    """One SELECT over table `t` giving, per expectation, (unexpected, non-null, samples) — the
    row count's observed value in place of `unexpected` — and the kind of each expectation
    ('rows' | 'map' | 'facts'). Unknown types raise Untranslatable."""
    ctes, select, kinds, helpers = [], [], [], []

    def add_map(cond: str, value: str, denominator: str) -> None:
        select.append(f"count(*) FILTER (WHERE {cond}), count(*) FILTER (WHERE {denominator}), "
                      f"list({value}) FILTER (WHERE {cond})[1:{samples}]")
        kinds.append("map")

    if facts:
        cols = ", ".join(f"{'NULL' if v is None else repr(float(v))}::DOUBLE AS {_q(k)}" for k, v in facts.items())
        ctes.append(f"facts AS (SELECT {cols})")
    for i, c in enumerate(configs):
        kind, kw = c["type"], c.get("kwargs", {})
        target = (c.get("meta") or {}).get("target")
        col = _q(kw["column"]) if "column" in kw else None
        if target == "batch_facts":
            if kind != "expect_column_values_to_be_between":
                raise Untranslatable(f"{kind} on batch facts")
            # A missing or null fact fails (the bridge's rule), so count it as unexpected.
            cond = f"{col} IS NULL OR NOT ({_between(col, kw, None)})"
            select.append(f"(SELECT count(*) FILTER (WHERE {cond}) FROM facts), 1, NULL")
            kinds.append("facts")
        elif kind == "expect_table_row_count_to_be_between":
            select.append("count(*), NULL, NULL")
            kinds.append("rows")
        elif kind == "expect_column_values_to_not_be_null":
            add_map(f"{col} IS NULL", "NULL", "TRUE")
        elif kind == "expect_column_values_to_be_unique":
            ctes.append(f"dup{i} AS (SELECT {col} AS v, count(*) AS n FROM t WHERE {col} IS NOT NULL "
                        f"GROUP BY {col} HAVING count(*) > 1)")
            select.append(f"(SELECT coalesce(sum(n), 0) FROM dup{i}), count({col}), "
                          f"(SELECT list(v)[1:{samples}] FROM dup{i})")
            kinds.append("map")
        elif kind == "expect_compound_columns_to_be_unique":
            cols = [_q(x) for x in kw["column_list"]]
            if kw.get("ignore_row_if", "all_values_are_missing") == "any_value_is_missing":
                keep = " AND ".join(f"{x} IS NOT NULL" for x in cols)
            else:
                keep = "NOT (" + " AND ".join(f"{x} IS NULL" for x in cols) + ")"
            ctes.append(f"dup{i} AS (SELECT count(*) AS n FROM t WHERE {keep} GROUP BY {', '.join(cols)} "
                        f"HAVING count(*) > 1)")
            select.append(f"(SELECT coalesce(sum(n), 0) FROM dup{i}), count(*) FILTER (WHERE {keep}), NULL")
            kinds.append("map")
        elif kind in ("expect_column_pair_values_to_be_equal", "expect_column_pair_values_a_to_be_greater_than_b"):
            a, b = _q(kw["column_A"]), _q(kw["column_B"])
            how = kw.get("ignore_row_if", "both_values_are_missing")
            keep = {"either_value_is_missing": f"{a} IS NOT NULL AND {b} IS NOT NULL",
                    "both_values_are_missing": f"NOT ({a} IS NULL AND {b} IS NULL)",
                    "neither": "TRUE"}[how]
            ok = (f"{a} = {b}" if kind.endswith("_equal") else f"{a} {'>=' if kw.get('or_equal') else '>'} {b}")
            add_map(f"({keep}) AND NOT coalesce({ok}, FALSE)", f"[{a}::VARCHAR, {b}::VARCHAR]", keep)
        elif kind == "expect_column_values_to_be_in_set":
            dtype = schema[kw["column"]]
            members = ", ".join(_literal(v, dtype) for v in kw["value_set"]) or "NULL"
            add_map(f"{col} IS NOT NULL AND {col} NOT IN ({members})", col, f"{col} IS NOT NULL")
        elif kind == "expect_column_values_to_be_between":
            add_map(f"{col} IS NOT NULL AND NOT ({_between(col, kw, schema[kw['column']])})", col,
                    f"{col} IS NOT NULL")
        elif kind == "expect_column_values_to_match_regex":
            text = f"CAST({col} AS VARCHAR)"
            add_map(f"{col} IS NOT NULL AND NOT regexp_matches({text}, {_str(kw['regex'])})", col,
                    f"{col} IS NOT NULL")
        elif kind == "expect_column_values_to_be_valid_chinese_id_number":
            digits = f"__id17_{i}"
            helpers.append(f"TRY_CAST(substr({col}, 1, 17) AS BIGINT) AS {digits}")
            add_map(f"{col} IS NOT NULL AND NOT {_id_valid(col, digits)}", col, f"{col} IS NOT NULL")
        elif kind == "expect_column_values_to_be_valid_uscc":
            add_map(f"{col} IS NOT NULL AND NOT {_uscc_valid(col, bool(kw.get('check_org_code')))}", col,
                    f"{col} IS NOT NULL")
        else:
            raise Untranslatable(kind)
    with_ = ("WITH " + ", ".join(ctes) + " ") if ctes else ""
    source = f"(SELECT *, {', '.join(helpers)} FROM t) AS t" if helpers else "t"
    return f"{with_}SELECT {', '.join(select)} FROM {source}", kinds


def _success(config: dict, kind: str, unexpected: int, nonnull: int | None) -> bool:
    kw = config.get("kwargs", {})
    if kind == "rows":
        lo, hi = kw.get("min_value"), kw.get("max_value")
        return (lo is None or unexpected >= lo) and (hi is None or unexpected <= hi)
    if kind == "facts":
        return unexpected == 0
    if not nonnull:
        return True
    return (nonnull - unexpected) / nonnull >= kw.get("mostly", 1.0)


# ---- the run (one fresh process) --------------------------------------------------------------

def measure(specs_bytes: bytes, raw_root: str, home: str, samples: int = 5) -> dict:
    import pickle

    import duckdb
    import polars as pl
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    from expectations import bridge, checks

    bridge.get_context()
    gx_ready = time.perf_counter() - t0
    from warehouse.raw import RawStore
    from warehouse.standardize import layer_path

    store = RawStore(raw_root)
    warm = None
    out = []
    for spec in pickle.loads(specs_bytes):
        table = spec.table
        if not checks.has_suite(table):
            out.append({"table": table, "skipped": "no suite"})
            continue
        batch = checks.latest_batch(store, spec)
        std_path = layer_path(Path(home), "standardized", spec, batch.batch_id)
        held = layer_path(Path(home), "quarantine", spec, batch.batch_id)
        suite = checks.cached_suite(table)
        configs = [e.configuration.to_json_dict() for e in suite.expectations]
        t1 = time.perf_counter()
        frame = pl.read_parquet(std_path)
        read_s = time.perf_counter() - t1
        facts = bridge.batch_facts(raw_rows=batch.rows, quarantined_rows=pq.read_metadata(held).num_rows,
                                   loaded_at=batch.loaded_at)
        if warm is None:  # GX's first validation in a process pays one-off costs: not this table's
            t1 = time.perf_counter()
            bridge.validate(frame.head(100), suite, facts=facts, sample_size=samples)
            warm = time.perf_counter() - t1

        t1 = time.perf_counter()
        gx = bridge.validate(frame, suite, facts=facts, sample_size=samples)
        gx_s = time.perf_counter() - t1

        try:
            sql, kinds = suite_query(configs, dict(frame.schema), facts, samples)
        except Untranslatable as exc:
            out.append({"table": table, "rows": frame.height, "expectations": len(configs), "gx_s": gx_s,
                        "skipped": f"no DuckDB translation for {exc}"})
            continue
        t1 = time.perf_counter()
        con = duckdb.connect()
        con.register("t", frame.to_arrow())
        row = con.execute(sql).fetchone()
        con.close()
        duck_s = time.perf_counter() - t1

        mismatches = []
        for n, (config, kind, outcome) in enumerate(zip(configs, kinds, gx.expectations)):
            unexpected, nonnull = row[3 * n], row[3 * n + 1]
            ours = _success(config, kind, unexpected, nonnull)
            theirs = (outcome.observed_value if kind == "rows" else
                      None if kind == "facts" else outcome.unexpected_count)
            if (kind != "facts" and theirs != unexpected) or ours != outcome.success:
                mismatches.append(f"{config['type']}({config['kwargs'].get('column', '')}): GX {theirs} "
                                  f"{'ok' if outcome.success else 'failed'}, DuckDB {unexpected} "
                                  f"{'ok' if ours else 'failed'}")
        out.append({
            "table": table, "rows": frame.height, "columns": len(gx.columns), "expectations": len(configs),
            "read_s": read_s, "gx_s": gx_s, "gx_prepare_s": gx.timings["prepare"], "duck_s": duck_s,
            "failed": len(gx.failed), "mismatches": mismatches,
        })
        del frame
    import great_expectations as gx_module

    return {"gx_ready_s": gx_ready, "warm_s": warm or 0.0, "tables": out,
            "versions": {"great_expectations": gx_module.__version__, "duckdb": duckdb.__version__}}


def markdown(result: dict) -> str:
    lines = ["| table | rows | expectations | columns to pandas | GX s | DuckDB s | GX / DuckDB | failed (GX = DuckDB) |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    gx_total = duck_total = 0.0
    rows_total = 0
    for t in result["tables"]:
        if "duck_s" not in t:
            lines.append(f"| {t['table']} | {t.get('rows', 0):,} | {t.get('expectations', '–')} | – "
                         f"| {t.get('gx_s', 0):.2f} | – | – | {t['skipped']} |")
            continue
        gx_total += t["gx_s"]
        duck_total += t["duck_s"]
        rows_total += t["rows"]
        agree = "yes" if not t["mismatches"] else f"**no**: {'; '.join(t['mismatches'])}"
        lines.append(f"| {t['table']} | {t['rows']:,} | {t['expectations']} | {t['columns']} | {t['gx_s']:.2f} "
                     f"| {t['duck_s']:.3f} | {t['gx_s'] / t['duck_s']:.1f}x | {t['failed']} ({agree}) |")
    if duck_total:
        lines.append(f"| **all suites** | **{rows_total:,}** | | | **{gx_total:.2f}** | **{duck_total:.2f}** "
                     f"| **{gx_total / duck_total:.1f}x** | |")
    return "\n".join(lines)


def agree(result: dict) -> bool:
    return all(not t.get("mismatches") for t in result["tables"])
