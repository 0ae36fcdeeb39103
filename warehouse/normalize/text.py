"""Shared text helpers for the Chinese normalizers.

- `nfkc(expr)`: Unicode NFKC on a *copy*. NFKC changes meaning in places ('㎡'→'m2',
  '①'→'1', '１'→'1'), so callers normalize a derived column and keep the raw one.
- `map_unique(values, fn, dtype)`: run a per-string Python function once per distinct
  non-null value and join the results back; the only sanctioned way to use per-string
  libraries (OpenCC, pypinyin) on a column.
- `to_simplified(values)`: traditional → simplified with OpenCC 't2s' (one converter per
  process), only on values that contain a character OpenCC would change.
- `strip_spaces_near_han(expr)`, `unique_frame(values)`, `join_back(...)`: small building
  blocks the normalizers share.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import polars as pl

# Everything OpenCC t2s may touch lives in these blocks (CJK unified + extension A/B and the
# compatibility ideographs); a one-off scan of them builds the trigger set below.
_CJK_BLOCKS = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2A6E0))


# Characters NFKC leaves alone: ASCII, the middle dot and the CJK unified ideographs with
# extensions A and B. A value made of these only is skipped; NFKC costs ~1.7 µs a value.
_NFKC_STABLE = r"^[\x00-\x7F\x{B7}\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{20000}-\x{2A6DF}]*$"


def nfkc(expr: pl.Expr | str) -> pl.Expr:
    """NFKC-normalized copy of a string expression (full-width → half-width, compatibility
    ideographs → unified). Never apply it to the column you keep as the raw value."""
    e = pl.col(expr) if isinstance(expr, str) else expr
    return e.map_batches(nfkc_series, return_dtype=pl.String)


def nfkc_series(values: pl.Series) -> pl.Series:
    """`nfkc` on a Series: only values holding a character NFKC may change are normalized."""
    values = values.cast(pl.String)
    todo = ~values.str.contains(_NFKC_STABLE).fill_null(True)
    if not todo.any():
        return values
    return values.scatter(todo.arg_true(), values.filter(todo).str.normalize("NFKC"))


def strip_spaces_near_han(expr: pl.Expr) -> pl.Expr:
    """Drop whitespace that touches a Hanzi ('王 晓  明' → '王晓明'). Chinese text has no
    word spaces, so a space next to a Hanzi is always a typing artefact; spaces between
    Latin words ('ABC Technology') are kept."""
    return expr.str.replace_all(r"(\p{Han})\s+", "$1").str.replace_all(r"\s+(\p{Han})", "$1")


def map_unique(values: pl.Series, fn: Callable[[str], Any], return_dtype: pl.DataType) -> pl.Series:
    """`fn` applied to each distinct non-null value once, joined back in the original order.

    Nulls stay null. Use it for libraries that only work on one string at a time; the
    column itself may hold millions of rows with far fewer distinct values.
    """
    uniq = values.drop_nulls().unique()
    mapped = pl.Series("out", [fn(v) for v in uniq.to_list()], dtype=return_dtype)
    table = pl.DataFrame({"key": uniq.cast(pl.String), "out": mapped})
    joined = pl.DataFrame({"key": values.cast(pl.String)}).join(
        table, on="key", how="left", maintain_order="left", nulls_equal=False)
    return joined["out"].alias(values.name)


@cache
def _t2s():
    import opencc  # the official wheel (C++); never opencc-python-reimplemented

    return opencc.OpenCC("t2s")


@cache
def traditional_pattern() -> str:
    """Regex class of the characters OpenCC t2s changes, minus those that are also GB2312
    simplified characters in their own right (乾 於 夥 後 …: 乾隆, surname 於): converting
    them would damage correct simplified text, and a value written in simplified Chinese
    contains only GB2312-encodable characters for these."""
    conv = _t2s()
    chars = []
    for lo, hi in _CJK_BLOCKS:
        for cp in range(lo, hi):
            c = chr(cp)
            if conv.convert(c) != c and not _in_gb2312(c):
                chars.append(c)
    return "[" + "".join(chars) + "]"


def _in_gb2312(c: str) -> bool:
    try:
        c.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def to_simplified(values: pl.Series) -> pl.Series:
    """Traditional → simplified (OpenCC 't2s', phrase-aware) for the values that hold at
    least one traditional-only character; everything else passes through untouched."""
    values = values.cast(pl.String)
    hit = values.str.contains(traditional_pattern()).fill_null(False)
    if not hit.any():
        return values
    conv = _t2s()
    converted = map_unique(values.filter(hit), conv.convert, pl.String)
    return values.scatter(hit.arg_true(), converted)


def unique_frame(values: pl.Series, column: str = "raw") -> pl.DataFrame:
    """Distinct values of a column (null included once) as a one-column frame, so that a
    normalizer does its work per distinct value and joins the result back."""
    return pl.DataFrame({column: values.cast(pl.String)}).unique(maintain_order=False)


def join_back(values: pl.Series, table: pl.DataFrame, columns: list[str], column: str = "raw") -> pl.DataFrame:
    """Per-row result: the rows of `table` (keyed by `column`, nulls matching nulls) in the
    order of `values`, restricted to `columns`."""
    rows = pl.DataFrame({column: values.cast(pl.String)})
    table = table.select(column, *columns)  # gather only what is returned
    return rows.join(table, on=column, how="left", maintain_order="left", nulls_equal=True).select(columns)
