"""Pre-fill: what every unit's workbook already holds before staff touch it.

For one template and period, the template's query runs once over the published base library
(unmasked, read-only) for all units; last period's accepted returns are joined on (unit, row
key); each column takes the first value its `prefill` order finds (`last` = a correction made
once keeps being what the form starts from). The result is one `issued` frame for all units:

    unit_code, row_key, <column>..., <column>__from ('base' | 'last' | null), <column>__text

`__text` is what the workbook shows (masked where the template says), kept to prove later
that locked cells came back unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from reports import returns
from reports.template import Template, TemplateError, period_bounds, previous_period
from warehouse.masking import mask_expr
from warehouse.snapshots import connect

DTYPES = {"text": pl.String, "choice": pl.String, "id_number": pl.String, "phone": pl.String,
          "integer": pl.Int64, "number": pl.Float64, "date": pl.Date}

GRID_UNIT = """
create or replace temp view grid_unit as
select g.org_code as grid_code, g.org_name as grid_name,
       c.org_code as community_code, c.org_name as community_name,
       s.org_code as street_code, s.org_name as street_name
from org_unit g
join org_unit c on c.org_code = g.parent_code
join org_unit s on s.org_code = c.parent_code
where g.org_level = '网格'
"""


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    parent_code: str | None


def open_library(home: Path) -> duckdb.DuckDBPyConnection:
    """The current published snapshot, unmasked tables first on the search path."""
    con = connect(home / "base")
    con.execute("SET search_path='base.private,base.main'")
    con.execute(GRID_UNIT)
    return con


def units(con: duckdb.DuckDBPyConnection, level: str) -> list[Unit]:
    rows = con.execute("select org_code, org_name, parent_code from org_unit where org_level = ? order by org_code",
                       [level]).fetchall()
    return [Unit(*r) for r in rows]


def run_query(template: Template, con: duckdb.DuckDBPyConnection, period: str) -> pl.DataFrame:
    """The template's query for all units, checked against what the template needs."""
    start, end = period_bounds(template.period, period)
    params = {"period_start": start, "period_end": end, "period": period}
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", template.query)}
    try:
        frame = pl.from_arrow(con.sql(template.query, params=used).to_arrow_table())
    except duckdb.Error as exc:
        raise TemplateError(f"{template.id}: the pre-fill query failed: {str(exc).splitlines()[0]}") from None
    need = {"unit_code", template.row_key, *template.base_columns}
    missing = sorted(need - set(frame.columns))
    if missing:
        raise TemplateError(f"{template.id}: the pre-fill query does not return {', '.join(missing)}")
    frame = frame.with_columns(pl.col("unit_code").cast(pl.String), pl.col(template.row_key).cast(pl.String).alias("row_key"))
    dupes = frame.filter(pl.struct("unit_code", "row_key").is_duplicated())
    if dupes.height:
        raise TemplateError(f"{template.id}: the pre-fill query returns {dupes.height} rows whose row key repeats within a unit")
    if frame["row_key"].null_count():
        raise TemplateError(f"{template.id}: the pre-fill query returns rows without a row key")
    return frame


def build_issued(template: Template, base: pl.DataFrame, last: pl.DataFrame | None) -> pl.DataFrame:
    """Pick each cell's value by the column's prefill order; record where it came from."""
    frame = base.select("unit_code", "row_key", *template.base_columns)
    if last is not None and last.height:
        keep = [c.id for c in template.columns if "last" in c.prefill and c.id in last.columns]
        frame = frame.join(last.select("unit_code", "row_key", *(pl.col(c).alias(f"last_{c}") for c in keep)),
                           on=["unit_code", "row_key"], how="left")
    out = [pl.col("unit_code"), pl.col("row_key")]
    for c in template.columns:
        dtype = DTYPES[c.type]
        candidates = []
        for source in c.prefill:
            name = c.id if source == "base" else f"last_{c.id}"
            if name in frame.columns:
                candidates.append((source, _cast(frame, name, dtype, template, c.id)))
        if not candidates:
            out += [pl.lit(None, dtype).alias(c.id), pl.lit(None, pl.String).alias(f"{c.id}__from")]
            continue
        out.append(pl.coalesce([e for _, e in candidates]).alias(c.id))
        origin = pl.lit(None, pl.String)
        for source, expr in reversed(candidates):
            origin = pl.when(expr.is_not_null()).then(pl.lit(source)).otherwise(origin)
        out.append(origin.alias(f"{c.id}__from"))
    issued = frame.select(out)
    # What the workbook shows, as text: masked where the template says so.
    return issued.with_columns(
        (mask_expr(c.id, c.mask) if c.mask else _as_text(pl.col(c.id), c.type)).alias(f"{c.id}__text")
        for c in template.columns)


def _cast(frame: pl.DataFrame, name: str, dtype: pl.DataType, template: Template, column: str) -> pl.Expr:
    source = frame.schema[name]
    if source == dtype:
        return pl.col(name)
    if dtype == pl.Int64 and source.is_float():
        bad = frame.filter(pl.col(name).is_not_null() & (pl.col(name) != pl.col(name).round(0))).height
        if bad:
            raise TemplateError(f"{template.id}: column {column} is integer but the pre-fill gives fractions")
    try:
        frame.select(pl.col(name).cast(dtype, strict=True))
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        raise TemplateError(f"{template.id}: column {column}'s pre-fill ({source}) does not cast to {dtype}") from None
    return pl.col(name).cast(dtype)


def _as_text(expr: pl.Expr, ctype: str) -> pl.Expr:
    """The text a cell holds, the same way on the way out and on the way back."""
    if ctype == "number":
        # Shortest round-trip form, no trailing '.0' for whole numbers.
        return pl.when(expr == expr.round(0)).then(expr.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(expr.cast(pl.String))
    if ctype == "date":
        return expr.dt.strftime("%Y-%m-%d")
    return expr.cast(pl.String)


def issue_frame(template: Template, home: Path, period: str, con: duckdb.DuckDBPyConnection | None = None) -> pl.DataFrame:
    """The issued frame for every unit of the template's level (see module docstring)."""
    own = con is None
    con = con or open_library(home)
    try:
        base = run_query(template, con, period)
    finally:
        if own:
            con.close()
    prev = previous_period(template.period, period)
    last = returns.read(home, template, prev) if prev else None
    return build_issued(template, base, last)

