"""Bytes on disk in each department's native form: GBK/GB18030/UTF-8(-BOM) CSV, JSON lines,
and the xlsxwriter rosters with a merged title, two-row headers and a signature footer.

Everything here is deterministic: no timestamps from the clock end up in a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter


def fixed(values: pl.Series | pl.Expr, decimals: int) -> pl.Expr | pl.Series:
    """Non-negative numbers as strings with exactly `decimals` decimals ('1.5' -> '1.5000')."""
    scaled = (values * 10**decimals).round(0).cast(pl.Int64).cast(pl.String).str.zfill(decimals + 1)
    return scaled.str.slice(0, scaled.str.len_chars() - decimals) + "." + scaled.str.slice(-decimals)


def write_csv(path: Path, df: pl.DataFrame, encoding: str, ragged: np.ndarray | None = None,
              line_terminator: str = "\n") -> int:
    """Write a CSV; rows flagged `ragged` get an unquoted extra separator, as when a clerk typed
    a comma into a field of a system that does not quote."""
    text = df.write_csv(line_terminator=line_terminator, null_value="")
    if ragged is not None and ragged.any():
        lines = text.split(line_terminator)
        for i in np.flatnonzero(ragged):
            line = lines[i + 1]
            j = line.find("号")
            lines[i + 1] = line[: j + 1] + "," + line[j + 1:] if j >= 0 else line + ","
        text = line_terminator.join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return df.height


def write_jsonl(path: Path, df: pl.DataFrame, append: bool = False) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab" if append else "wb") as f:
        if df.height:
            f.write(df.write_ndjson().encode())
    return df.height


@dataclass(frozen=True)
class Col:
    column: str
    header: str
    kind: str = "text"  # text | id | int | money | date
    group: str | None = None
    width: int = 12


def write_workbook(path: Path, *, title: str, sheet: str, cols: list[Col], df: pl.DataFrame,
                   cell_kinds: dict[str, np.ndarray], footer: str | None, created: datetime) -> int:
    """A roster as a clerk makes it: merged title row, header row(s) — two rows with merged
    group cells when any column has a group — data, optional footer. Returns the first data
    row (1-based, as Excel numbers rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    wb.set_properties({"created": created, "author": "郑东新区", "title": title})
    ws = wb.add_worksheet(sheet)
    f_title = wb.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    f_head = wb.add_format({"bold": True, "border": 1, "align": "center", "valign": "vcenter", "bg_color": "#D9E1F2"})
    f_cell = wb.add_format({"border": 1})
    f_date = wb.add_format({"border": 1, "num_format": "yyyy-mm-dd"})
    f_money = wb.add_format({"border": 1, "num_format": "0.00"})
    n = len(cols)
    ws.merge_range(0, 0, 0, n - 1, title, f_title)
    grouped = any(c.group for c in cols)
    if grouped:
        j = 0
        while j < n:
            g = cols[j].group
            k = j
            while g and k + 1 < n and cols[k + 1].group == g:
                k += 1
            if g is None:
                ws.merge_range(1, j, 2, j, cols[j].header, f_head)
            else:
                if k > j:
                    ws.merge_range(1, j, 1, k, g, f_head)
                else:
                    ws.write_string(1, j, g, f_head)
                for m in range(j, k + 1):
                    ws.write_string(2, m, cols[m].header, f_head)
            j = k + 1
        first = 3
    else:
        for j, c in enumerate(cols):
            ws.write_string(1, j, c.header, f_head)
        first = 2
    for j, c in enumerate(cols):
        ws.set_column(j, j, c.width)

    columns = [df[c.column].to_list() for c in cols]
    kinds = [cell_kinds.get(c.column) for c in cols]
    for i in range(df.height):
        r = first + i
        for j, c in enumerate(cols):
            v = columns[j][i]
            kind = kinds[j][i] if kinds[j] is not None else None
            if v is None or v == "":
                ws.write_blank(r, j, None, f_cell)
            elif c.kind == "id" and kind == "excel_float":
                ws.write_number(r, j, float(v), f_cell)
            elif c.kind == "date" and kind == "excel_serial":
                ws.write_number(r, j, int(v), f_cell)
            elif c.kind == "date" and kind in (None, "typo"):
                ws.write_datetime(r, j, date.fromisoformat(v), f_date)
            elif c.kind in ("int", "money") and not isinstance(v, str):
                ws.write_number(r, j, v, f_money if c.kind == "money" else f_cell)
            else:
                ws.write_string(r, j, str(v), f_cell)
    if footer:
        ws.merge_range(first + df.height + 1, 0, first + df.height + 1, n - 1, footer)
    wb.close()
    return first + 1


def line_keys(file_name: str, n: int, first: int) -> pl.Series:
    """Row keys 'file:line' — the 1-based line (CSV, JSONL) or sheet row (xlsx) of each record."""
    return file_name + ":" + pl.Series(np.arange(first, first + n)).cast(pl.String)
