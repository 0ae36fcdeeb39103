"""Masking personal data, identically in polars and in DuckDB SQL (DESIGN.md invariant 5).

    KINDS                                    'id_number', 'phone', 'name', 'address', 'text'
    mask_expr(column, kind) -> pl.Expr       vectorized polars expression (name kept)
    mask_frame(frame, {column: kind})        a DataFrame / LazyFrame with those columns masked
    mask_value(value, kind) -> str | None    one value (logs, messages)
    mask_sql(sql_expr, kind) -> str          the same rule as a DuckDB SQL expression
    quote_identifier(name) -> str            '"name"' for SQL (embedded quotes doubled)

The published base library's default views (`warehouse/snapshots.py`) use `mask_sql`;
workbook exports and logs use the polars side. Both are built from the same regexes, and
lengths count characters (Unicode code points) on both sides: DuckDB's
length/left/right/substr and polars' len_chars/head/tail agree on Hanzi. Masked values are
text (a non-text column is cast to text first); null stays null; stars keep the length.

Rules, by kind:
  id_number  an 18-character (17 digits + digit/X) or 15-digit ID: first 6 + stars + last 4
             ('410105199001010022' -> '410105********0022'). Anything else in the column
             (a malformed ID): the first len//4 characters (at most 6) kept, the rest starred.
  phone      mobile '13812348000' -> '138****8000'; landline (area code 010/02x or 0xxx,
             optional '-', 7-8 digit local number): area code and separator kept, the local
             number but its last 4 digits starred ('0371-67188888' -> '0371-****8888');
             anything else: all but the last 4 characters starred (all of it under 8).
  name       3+ characters: first + stars + last ('王小明' -> '王*明', '欧阳娜娜' -> '欧**娜');
             2: first + '*' ('王明' -> '王*'); 1: '*'.
  address    kept up to the community / road level, everything from the first house
             number on starred: the text before the first digit (ASCII or full-width) or
             Chinese-numeral number word ('三号楼', '十二层') is cut back to its last
             administrative or road word (省 市 区 县 镇 乡 村 街 路 巷 道 胡同: covers 街道, 社区,
             小区, 大道, 大街); the rest is starred.
             '郑州市郑东新区如意湖街道康宁街社区商务外环路17号3号楼1单元1901室'
               -> '郑州市郑东新区如意湖街道康宁街社区商务外环路' + 14 stars.
             A text with no such word before its first number (a bare building name) is
             starred whole.
  text       free text (hotline content): ID-number-, mobile- and landline-shaped digit runs
             masked as above, in place; the words stay readable. Names inside free text are
             not found (declare such text as 'name' or do not publish it).

Same rules as `expectations/bridge.py` (`mask_id_number`, `mask_phone`, `mask_name`) for IDs,
mobiles and names; for landlines this module keeps the whole area code ('0371-****8888'),
where bridge's digit-position rule gives '037*-****8888'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import polars as pl

KINDS = ("id_number", "phone", "name", "address", "text")

# Full-string shapes (anchored on both sides by the engines: regexp_full_match / ^…$).
ID_NUMBER = r"[0-9]{17}[0-9Xx]|[0-9]{15}"
MOBILE = r"1[3-9][0-9]{9}"
# groups: 1 area code, 2 separator, 3 local number but the last 4 digits, 4 last 4 digits
LANDLINE = r"(0(?:10|2[0-9])|0[3-9][0-9]{2})(-?)([0-9]{3,4})([0-9]{4})"
# Address: from the first house number to the end is cut; then kept up to the last admin /
# road word of what is left.
ADDRESS_CUT = r"(?s)(?:[0-9０-９]|[一二三四五六七八九十百零〇两]+(?:号|栋|幢|单元|层|楼|室|户|座)).*$"
ADDRESS_KEEP = r"^.*(?:[省市区县镇乡村街路巷道]|胡同)"
# Free text: (pattern, stars); groups 1 = the boundary before (not a digit or star),
# 2 = kept head, 3 = kept tail. Applied in this order, every match in the text.
TEXT_RULES = (
    (r"(^|[^0-9*])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])", 8),  # 18-character ID
    (r"(^|[^0-9*])([0-9]{6})[0-9]{5}([0-9]{4})", 5),  # 15-digit ID (or a longer digit run)
    (r"(^|[^0-9*])(1[3-9][0-9])[0-9]{4}([0-9]{4})", 4),  # mobile
    (r"(^|[^0-9*])(0[0-9]{2,3}-)[0-9]{3,4}([0-9]{4})", 4),  # landline with its area code
)

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown masking kind {kind!r}; expected one of {', '.join(KINDS)}")


# ---- polars -----------------------------------------------------------------------------------

def _stars(n: pl.Expr) -> pl.Expr:
    return pl.lit("").str.pad_start(n.clip(lower_bound=0), "*")


def _other(c: pl.Expr, n: pl.Expr) -> pl.Expr:
    keep = (n // 4).clip(upper_bound=6)
    return c.str.head(keep) + _stars(n - keep)


def mask_expr(column: str | pl.Expr, kind: str) -> pl.Expr:
    """The masked column as a polars expression (cast to text; keeps the column's name)."""
    _check_kind(kind)
    raw = pl.col(column) if isinstance(column, str) else column
    c = raw.cast(pl.String)
    n = c.str.len_chars().cast(pl.Int64)
    if kind == "id_number":
        out = (pl.when(c.str.contains(f"^(?:{ID_NUMBER})$"))
               .then(c.str.head(6) + _stars(n - 10) + c.str.tail(4))
               .otherwise(_other(c, n)))
    elif kind == "phone":
        def group(i: int) -> pl.Expr:
            return c.str.extract(f"^{LANDLINE}$", i)
        out = (pl.when(c.str.contains(f"^(?:{MOBILE})$"))
               .then(c.str.head(3) + pl.lit("****") + c.str.tail(4))
               .when(c.str.contains(f"^{LANDLINE}$"))
               .then(group(1) + group(2) + _stars(group(3).str.len_chars().cast(pl.Int64)) + group(4))
               .when(n >= 8).then(_stars(n - 4) + c.str.tail(4))
               .otherwise(_stars(n)))
    elif kind == "name":
        out = (pl.when(n <= 1).then(_stars(n))
               .when(n == 2).then(c.str.head(1) + pl.lit("*"))
               .otherwise(c.str.head(1) + _stars(n - 2) + c.str.tail(1)))
    elif kind == "address":
        kept = c.str.replace(ADDRESS_CUT, "").str.extract(ADDRESS_KEEP, 0).fill_null("")
        out = pl.when(c.is_not_null()).then(kept + _stars(n - kept.str.len_chars().cast(pl.Int64)))
    else:  # text
        out = c
        for pattern, stars in TEXT_RULES:
            out = out.str.replace_all(pattern, "${1}${2}" + "*" * stars + "${3}")
    return out.alias(column) if isinstance(column, str) else out


def mask_frame(frame: F, columns: Mapping[str, str]) -> F:
    """`frame` with each of `columns` ({column: kind}) masked in place (order kept)."""
    names = frame.collect_schema().names()
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"columns to mask not in the frame: {missing}")
    return frame.with_columns(mask_expr(c, kind) for c, kind in columns.items())


def mask_value(value: Any, kind: str) -> str | None:
    """One value masked (for logs and messages); None stays None."""
    if value is None:
        return None
    return pl.select(mask_expr(pl.lit(str(value), pl.String), kind)).item()


# ---- DuckDB SQL ---------------------------------------------------------------------------------

def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask_sql(expr: str, kind: str) -> str:
    """The masked value of SQL expression `expr` (e.g. a quoted column) as a DuckDB expression."""
    _check_kind(kind)
    c = f"CAST({expr} AS VARCHAR)"
    n = f"length({c})"
    other = f"(left({c}, least({n} // 4, 6)) || repeat('*', {n} - least({n} // 4, 6)))"
    if kind == "id_number":
        return (f"(CASE WHEN regexp_full_match({c}, {_lit(ID_NUMBER)}) "
                f"THEN left({c}, 6) || repeat('*', {n} - 10) || right({c}, 4) ELSE {other} END)")
    if kind == "phone":
        def group(i: int) -> str:
            return f"regexp_extract({c}, {_lit('^' + LANDLINE + '$')}, {i})"
        return (f"(CASE WHEN regexp_full_match({c}, {_lit(MOBILE)}) "
                f"THEN left({c}, 3) || '****' || right({c}, 4) "
                f"WHEN regexp_full_match({c}, {_lit(LANDLINE)}) "
                f"THEN {group(1)} || {group(2)} || repeat('*', length({group(3)})) || {group(4)} "
                f"WHEN {n} >= 8 THEN repeat('*', {n} - 4) || right({c}, 4) "
                f"ELSE repeat('*', {n}) END)")
    if kind == "name":
        return (f"(CASE WHEN {n} <= 1 THEN repeat('*', {n}) "
                f"WHEN {n} = 2 THEN left({c}, 1) || '*' "
                f"ELSE left({c}, 1) || repeat('*', {n} - 2) || right({c}, 1) END)")
    if kind == "address":
        kept = f"regexp_extract(regexp_replace({c}, {_lit(ADDRESS_CUT)}, ''), {_lit(ADDRESS_KEEP)}, 0)"
        return f"({kept} || repeat('*', {n} - length({kept})))"
    out = c
    for pattern, stars in TEXT_RULES:
        replacement = "\\1\\2" + "*" * stars + "\\3"  # RE2 group references
        out = f"regexp_replace({out}, {_lit(pattern)}, {_lit(replacement)}, 'g')"
    return out
