"""Writing one 一表通 form instance as an .xlsx workbook (xlsxwriter).

    write_workbook(template, meta, rows, key=..., due=..., period_label=...) -> bytes
    footer_rows(template, n_rows) -> {"filled_by" | "reviewed_by" | "filled_on": (row, col)}

The data sheet (named `template.sheet_name`) follows `template.layout`: the hidden row key in
column 0, 序号 in column 1, the template's columns from `layout.first_col`, multi-level
headers from `layout.header_row`, data from `layout.first_data_row` in the issued order.
Pre-filled cells are shaded by where their value came from (基础库 / 上期填报); cells staff
may not change are locked and the sheet is protected; editable cells carry Excel data
validation so most typing errors are caught while filling in. Text-like values are always
string cells (an 18-digit ID never becomes a float, "=1+1" never becomes a formula).

The signed metadata (`reports.meta.lines`) goes to the very hidden `_meta` sheet; the
returned-workbook reader verifies it before reading any value, and finds the footer's input
cells with `footer_rows`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import math
import unicodedata
from decimal import Decimal
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_range

from reports.meta import META_SHEET, FormMeta, lines
from reports.template import Column, Template, is_new_row

LISTS_SHEET = "_lists"

# Fills of locked (non-editable) cells by provenance, and of editable cells (lighter tints).
LOCKED_FILLS = {"base": "#DDEBF7", "last": "#E2EFDA", None: "#F2F2F2"}
EDITABLE_FILLS = {"base": "#F3F8FD", "last": "#F4FAF1", None: "#FFFFFF"}
HEADER_FILL = "#D9D9D9"

LEGEND = "底纹说明：蓝色=来自基础库（部门数据），绿色=上期填报值，白色=请填写；灰色锁定单元格不可修改。"
FOOTER = (("filled_by", "填表人："), ("reviewed_by", "审核人："), ("filled_on", "填报日期："))

KEY_HEADER = "行标识"
SEQ_HEADER = "序号"
# Wide enough for the footer labels (填报日期：) that share column 1 with 序号.
SEQ_WIDTH = 10

TEXT_TYPES = frozenset({"text", "choice", "id_number", "phone"})
_KIND = {"text": "text", "choice": "text", "id_number": "text", "phone": "text",
         "integer": "int", "number": "num", "date": "date"}
_NUM_FORMAT = {"text": "@", "int": "0", "num": "General", "date": "yyyy-mm-dd"}

INT_MIN, INT_MAX = -1_000_000_000, 1_000_000_000
ANY_DATE_FROM = dt.date(1900, 1, 1)

_PROTECT = {
    "objects": False, "scenarios": False, "format_cells": False,
    "format_columns": True, "format_rows": True,
    "insert_columns": False, "insert_rows": False, "insert_hyperlinks": False,
    "delete_columns": False, "delete_rows": False,
    "select_locked_cells": True, "select_unlocked_cells": True,
    "sort": False, "autofilter": False, "pivot_tables": False,
}
_SOURCES = ("base", "last", None)


def footer_rows(template: Template, n_rows: int) -> dict[str, tuple[int, int]]:
    """(row, col) of the footer's input cells: 填表人 `filled_by`, 审核人 `reviewed_by`, 填报日期 `filled_on`."""
    layout = template.layout
    start = layout.first_data_row + n_rows + 1
    return {name: (start + i, layout.seq_col + 1) for i, (name, _) in enumerate(FOOTER)}


def sheet_password(key: bytes) -> str:
    """The data sheet's protection password (a deterrent against casual edits, not a secret store)."""
    return hmac.new(key, b"sheet-protect", hashlib.sha256).hexdigest()[:16]


def write_workbook(template: Template, meta: FormMeta, rows: pl.DataFrame, *, key: bytes, due: dt.date,
                   period_label: str) -> bytes:
    """The issued workbook's .xlsx bytes; `rows` in issued order (see the module docstring)."""
    layout = template.layout
    columns = template.columns
    n = rows.height
    _check(template, meta, rows)

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    fmt = _Formats(wb)
    ws = wb.add_worksheet(template.sheet_name)
    last = layout.col(len(columns) - 1)
    password = sheet_password(key)

    # Title and the unit / period line.
    ws.set_row(layout.title_row, 30)
    ws.merge_range(layout.title_row, layout.seq_col, layout.title_row, last, template.title,
                   fmt.get(bold=True, font_size=16, align="center", valign="vcenter"))
    info = (f"填报单位：{meta.unit_name}（{meta.unit_code}）　报告期：{period_label}"
            f"　截止日期：{due.year}年{due.month:02d}月{due.day:02d}日")
    ws.set_row(layout.info_row, 20)
    ws.merge_range(layout.info_row, layout.seq_col, layout.info_row, last, info,
                   fmt.get(align="left", valign="vcenter"))

    # Column widths: the row key hidden, 序号, then each column's own width.
    ws.set_column(layout.key_col, layout.key_col, 20, None, {"hidden": True})
    ws.set_column(layout.seq_col, layout.seq_col, SEQ_WIDTH)
    for j, c in enumerate(columns):
        ws.set_column(layout.col(j), layout.col(j), c.width)

    _write_headers(ws, fmt, template)

    # Data.
    r0 = layout.first_data_row
    keys = rows.get_column("row_key").to_list()
    key_fmt = fmt.get(num_format="@", valign="vcenter")
    seq_fmt = fmt.get(border=1, align="center", valign="vcenter")
    write_string, write_number = ws.write_string, ws.write_number
    key_col, seq_col = layout.key_col, layout.seq_col
    for i, k in enumerate(keys):
        write_string(r0 + i, key_col, k, key_fmt)
        write_number(r0 + i, seq_col, i + 1, seq_fmt)
    for j, c in enumerate(columns):
        _write_column(ws, fmt, r0, layout.col(j), c, rows.get_column(c.id).to_list(),
                      rows.get_column(f"{c.id}__from").to_list())
    added = sum(1 for k in keys if is_new_row(k))  # blank rows for additions come last
    if added:
        for j, c in enumerate(columns):
            if not c.editable and not c.mask:
                blank = fmt.data(_KIND[c.type], EDITABLE_FILLS[None], True)
                for r in range(r0 + n - added, r0 + n):
                    ws.write_blank(r, layout.col(j), None, blank)
    if n:
        lists: dict[str, Any] = {}
        for j, c in enumerate(columns):
            if c.editable:
                _validate_column(ws, wb, lists, password, r0, r0 + n - 1, layout.col(j), c)
            elif added and not c.mask:
                _validate_column(ws, wb, lists, password, r0 + n - added, r0 + n - 1, layout.col(j), c)
        # Digits stored as text (IDs, phones) are intended: no green triangles.
        ws.ignore_errors({"number_stored_as_text": xl_range(r0, 0, r0 + n - 1, last)})

    # Footer: who filled in, who checked, when; then the legend and the template's instructions.
    cells = footer_rows(template, n)
    label_fmt = fmt.get(align="right", valign="vcenter", bold=True)
    input_fmt = fmt.get(locked=False, border=1, valign="vcenter", num_format="@")
    date_fmt = fmt.get(locked=False, border=1, valign="vcenter", num_format="yyyy-mm-dd", align="left")
    right = min(last, 4)
    for name, label in FOOTER:
        r, col = cells[name]
        ws.set_row(r, 20)
        ws.write_string(r, layout.seq_col, label, label_fmt)
        cf = date_fmt if name == "filled_on" else input_fmt
        if right > col:
            ws.merge_range(r, col, r, right, "", cf)
        else:
            ws.write_blank(r, col, None, cf)
    r, col = cells["filled_on"]
    ws.data_validation(r, col, r, col, {
        "validate": "date", "criteria": ">=", "value": ANY_DATE_FROM, "input_title": "填报日期",
        "input_message": "请输入日期，例如 2026-01-31", "error_title": "输入有误",
        "error_message": "请输入有效日期，例如 2026-01-31"})
    note_fmt = fmt.get(text_wrap=True, align="left", valign="vcenter")
    total_width = sum(c.width for c in columns) + SEQ_WIDTH
    r += 2
    for text in (LEGEND, *template.instructions):
        line_count = max(1, math.ceil(display_width(text) / max(1.0, total_width - 2)))
        ws.set_row(r, 16 * line_count + 4)
        ws.merge_range(r, layout.seq_col, r, last, text, note_fmt)
        r += 1
    end_row = r - 1

    # Page setup: A4 landscape, one page wide, headers repeated on each page.
    ws.freeze_panes(layout.first_data_row, layout.first_col + 1)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(layout.header_row, layout.first_data_row - 1)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.set_footer("&C第 &P 页 / 共 &N 页")
    ws.print_area(layout.title_row, layout.seq_col, end_row, last)
    ws.protect(password, _PROTECT)

    # The signed metadata.
    ms = wb.add_worksheet(META_SHEET)
    for i, line in enumerate(lines(meta, keys, key)):
        ms.write_string(i, 0, line)
    ms.protect(password)
    ms.very_hidden()

    props: dict[str, Any] = {"title": template.title, "subject": f"{meta.unit_name} {period_label}",
                             "author": "citybase", "company": "citybase",
                             "comments": f"{template.id} v{template.version} form {meta.form_id}"}
    try:
        props["created"] = dt.datetime.fromisoformat(meta.issued_at)
    except (TypeError, ValueError):
        pass
    wb.set_properties(props)
    ws.activate()
    wb.close()
    return buf.getvalue()


# ---- pieces --------------------------------------------------------------------------------------

class _Formats:
    """One Format per distinct set of properties in this workbook."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self._wb = wb
        self._cache: dict[tuple, Any] = {}

    def get(self, **props: Any):
        k = tuple(sorted(props.items()))
        f = self._cache.get(k)
        if f is None:
            f = self._cache[k] = self._wb.add_format(props)
        return f

    def data(self, kind: str, fill: str, editable: bool):
        return self.get(border=1, valign="vcenter", bg_color=fill, locked=not editable, num_format=_NUM_FORMAT[kind])


def _check(template: Template, meta: FormMeta, rows: pl.DataFrame) -> None:
    if meta.template_id != template.id or meta.template_version != template.version:
        raise ValueError(f"表单元数据属于模板 {meta.template_id} v{meta.template_version}，"
                         f"不是 {template.id} v{template.version}")
    if meta.first_data_row != template.layout.first_data_row:
        raise ValueError(f"表单元数据的首个数据行 {meta.first_data_row} 与模板布局 "
                         f"{template.layout.first_data_row} 不一致")
    if meta.rows != rows.height:
        raise ValueError(f"表单元数据记录 {meta.rows} 行，实际数据 {rows.height} 行")
    need = ["row_key", *(n for c in template.columns for n in (c.id, f"{c.id}__from"))]
    missing = [n for n in need if n not in rows.columns]
    if missing:
        raise ValueError(f"数据缺少列：{', '.join(missing)}")
    if rows.schema["row_key"] != pl.String:
        raise ValueError(f"数据的 row_key 必须是文本，实际为 {rows.schema['row_key']}")
    if rows.height and rows.get_column("row_key").null_count():
        raise ValueError("数据的 row_key 不能为空")


def _write_headers(ws, fmt: _Formats, template: Template) -> None:
    layout = template.layout
    top, bottom = layout.header_row, layout.header_row + layout.header_depth - 1
    hf = fmt.get(bold=True, align="center", valign="vcenter", text_wrap=True, border=1, bg_color=HEADER_FILL)
    _cell(ws, top, layout.key_col, bottom, layout.key_col, KEY_HEADER, hf)
    _cell(ws, top, layout.seq_col, bottom, layout.seq_col, SEQ_HEADER, hf)
    write_header_rows(ws, hf, top, layout.first_col, [c.header for c in template.columns],
                      [c.width for c in template.columns])


def write_header_rows(ws, hf, top: int, c0: int, headers: list[tuple[str, ...]], widths: list[float]) -> None:
    """Multi-level headers from column `c0` on (the issued workbook's and the roll-up summary's):
    equal group prefixes merge across, a column's own title merges down to the bottom header row;
    each header row is made tall enough for its wrapped text."""
    depth = max(len(h) for h in headers)
    bottom = top + depth - 1
    need = [1] * depth  # text lines each header row needs
    for level in range(depth):
        j = 0
        while j < len(headers):
            h = headers[j]
            if len(h) <= level:  # under a shorter header merged down from above
                j += 1
                continue
            k = j + 1
            if len(h) > level + 1:  # a group: neighbours with the same prefix (and deeper) join it
                prefix = h[:level + 1]
                while k < len(headers) and len(headers[k]) > level + 1 and headers[k][:level + 1] == prefix:
                    k += 1
                last_row = top + level
            else:  # the column's own title: down to the bottom header row
                last_row = bottom
            _cell(ws, top + level, c0 + j, last_row, c0 + k - 1, h[level], hf)
            text_lines = math.ceil(display_width(h[level]) / max(1.0, sum(widths[j:k]) - 1))
            span = last_row - top - level + 1
            for r in range(level, level + span):
                need[r] = max(need[r], math.ceil(text_lines / span))
            j = k
    for level, count in enumerate(need):
        ws.set_row(top + level, max(20, 16 * count + 4))


def _cell(ws, r1: int, c1: int, r2: int, c2: int, text: str, f) -> None:
    if r1 == r2 and c1 == c2:
        ws.write_string(r1, c1, text, f)
    else:
        ws.merge_range(r1, c1, r2, c2, text, f)


def _write_column(ws, fmt: _Formats, r0: int, col: int, c: Column, values: list, sources: list) -> None:
    kind = _KIND[c.type]
    fills = EDITABLE_FILLS if c.editable else LOCKED_FILLS
    fmts = {s: fmt.data(kind, fills[s], c.editable) for s in _SOURCES}
    empty = fmts[None]
    write_string, write_blank = ws.write_string, ws.write_blank
    if kind == "text":
        for i, v in enumerate(values):
            if v is None or v == "":
                write_blank(r0 + i, col, None, empty)
            else:
                write_string(r0 + i, col, v if type(v) is str else str(v), fmts.get(sources[i], empty))
    elif kind == "date":
        write_datetime = ws.write_datetime
        for i, v in enumerate(values):
            if v is None or v == "":
                write_blank(r0 + i, col, None, empty)
            elif isinstance(v, dt.date):
                write_datetime(r0 + i, col, v, fmts.get(sources[i], empty))
            else:  # not a date (should not happen): kept as the text it is
                write_string(r0 + i, col, str(v), fmts.get(sources[i], empty))
    else:
        write_number = ws.write_number
        for i, v in enumerate(values):
            t = type(v)
            if v is None or (t is float and not math.isfinite(v)):
                write_blank(r0 + i, col, None, empty)
            elif t is int or t is float:
                write_number(r0 + i, col, v, fmts.get(sources[i], empty))
            elif isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
                f = float(v)
                if math.isfinite(f):
                    write_number(r0 + i, col, f, fmts.get(sources[i], empty))
                else:
                    write_blank(r0 + i, col, None, empty)
            elif v == "":
                write_blank(r0 + i, col, None, empty)
            else:  # not a number (should not happen): kept as the text it is
                write_string(r0 + i, col, str(v), fmts.get(sources[i], empty))


def _validate_column(ws, wb, lists: dict[str, Any], password: str, r1: int, r2: int, col: int, c: Column) -> None:
    """One data validation over an editable column's data cells."""
    opts: dict[str, Any]
    if c.type == "choice":
        joined = ",".join(c.choices)
        if len(joined) > 255 or any("," in x or '"' in x for x in c.choices):
            # Too long (or not expressible) inline: one column of the hidden `_lists` sheet.
            if not lists:
                lists["sheet"] = wb.add_worksheet(LISTS_SHEET)
                lists["sheet"].protect(password)
                lists["sheet"].hide()
                lists["next_col"] = 0
            sheet, lc = lists["sheet"], lists["next_col"]
            lists["next_col"] = lc + 1
            for i, choice in enumerate(c.choices):
                sheet.write_string(i, lc, choice)
            name = xl_col_to_name(lc)
            source: Any = f"='{LISTS_SHEET}'!${name}$1:${name}${len(c.choices)}"
        else:
            source = list(c.choices)
        opts = {"validate": "list", "source": source}
        rule = "请从下拉列表中选择"
    elif c.type in ("integer", "number"):
        lo = INT_MIN if c.min is None else c.min
        hi = INT_MAX if c.max is None else c.max
        if c.type == "integer":
            lo, hi = math.ceil(float(lo)), math.floor(float(hi))
        else:
            lo, hi = float(lo), float(hi)
        opts = {"validate": "integer" if c.type == "integer" else "decimal", "criteria": "between",
                "minimum": lo, "maximum": hi}
        what = "整数" if c.type == "integer" else "数字"
        if c.min is None and c.max is None:
            rule = f"请输入{what}"
        elif c.max is None:
            rule = f"请输入不小于{_num(lo)}的{what}"
        elif c.min is None:
            rule = f"请输入不大于{_num(hi)}的{what}"
        else:
            rule = f"请输入{_num(lo)}到{_num(hi)}之间的{what}"
    elif c.type == "date":
        lo = _date(c.min) or ANY_DATE_FROM
        hi = _date(c.max)
        if hi is None:
            opts = {"validate": "date", "criteria": ">=", "value": lo}
            rule = "请输入日期，例如 2026-01-31" if c.min is None else f"请输入{lo.isoformat()}或之后的日期"
        else:
            opts = {"validate": "date", "criteria": "between", "minimum": lo, "maximum": hi}
            rule = (f"请输入{hi.isoformat()}或之前的日期" if c.min is None
                    else f"请输入{lo.isoformat()}到{hi.isoformat()}之间的日期")
    elif c.type == "id_number":
        opts = {"validate": "length", "criteria": "==", "value": 18}
        rule = "请输入18位身份证号码"
    elif c.type == "phone":
        opts = {"validate": "length", "criteria": "between", "minimum": 7, "maximum": 20}
        rule = "请输入7到20位的电话号码"
    else:  # free text: no rule Excel can check; the input message still helps
        if not c.note:
            return
        opts = {"validate": "any"}
        rule = ""
    message = c.note or rule
    if c.required:
        message = f"{message}（必填）" if message else "必填"
    opts.update({"input_title": _clip(c.title, 32), "error_title": "输入有误",
                 "error_message": _clip(rule or "输入有误", 255)})
    if message:
        opts["input_message"] = _clip(message, 255)
    ws.data_validation(r1, col, r2, col, opts)


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _clip(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units (Excel's count)."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    out, used = [], 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        out.append(ch)
    return "".join(out)


def display_width(text: str) -> int:
    """Width in Excel character units, CJK counting two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
