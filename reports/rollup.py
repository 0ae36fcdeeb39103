"""汇总: accepted returns rolled up 网格 → 社区 → 街道 → 区, and the summary workbook.

    aggregate(template, values, org, filed)               one row per unit at the filing level and above
    aggregate_by_row(template, values, org, filed, level) indicator templates: per unit and category
    rollup(home, template, period) -> Rollup              the same, read from the home
    completeness(forms)                                   per template and period: who filed, on time
    write_summary(rollup, root_code=None) -> bytes        the summary workbook (.xlsx)
    export(home, template, period, root_code=None)        <home>/reports/summary/<period>/<template>/<root>.xlsx

Only returns whose form is 已提交 or 通过 count; a unit that did not file contributes nothing,
and a unit with no filed unit under it shows empty aggregates (not zeros). Every filing unit is
joined to all its ancestors once; each aggregate is then one group-by over the returned rows, so
an average is the mean over every row under the unit (weighted by rows, never a mean of means).
A unit that filed contributes its rows even when it returned none: its sums and counts are 0.

The workbook holds values only (no formulas; text never becomes a formula, number or link).
"""

from __future__ import annotations

import io
import math
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from reports import prefill, returns
from reports.forms import APPROVED, ISSUED, RETURNED, SUBMITTED, FormInstance, FormStore
from reports.template import PARENT_LEVEL, Column, Template, period_label
from reports.workbook import write_header_rows

# 区 at depth 0 down to 网格 at depth 3.
LEVEL_ORDER = ("区", "街道", "社区", "网格")
DEPTH = {lv: i for i, lv in enumerate(LEVEL_ORDER)}
FILED_STATES = (SUBMITTED, APPROVED)
# Dates are the district's (China Standard Time, no daylight saving); form stamps are UTC.
LOCAL_TZ = timezone(timedelta(hours=8), "CST")

SUMMARY_SHEET, STATUS_SHEET, CATEGORY_SHEET = "汇总", "填报情况", "分类汇总"
NOT_ISSUED = "未下发"
LEADING = (("单位名称", 28), ("层级", 7), ("应报单位数", 10), ("已报单位数", 10), ("行数", 9))
HEADER_FILL, TOTAL_FILL, SUBTOTAL_FILL = "#D9D9D9", "#FFF2CC", "#F2F2F2"
INDENT = "\u3000"  # one ideographic space per level below the root
# Title suffix of an aggregated column's own header (sum keeps the header as it is).
AGG_SUFFIX = {"average": "（平均值）", "count": "（已填行数）", "max": "（最大值）", "min": "（最小值）"}
NOTE = "说明：只汇总状态为“已提交”“通过”的报表；未报单位不计入，其汇总值为空。平均值按所辖全部已报行计算（按行加权）。"

_FILLED_ZERO = ("sum", "count", "count_if")  # what a unit that filed but returned no value shows as 0


@dataclass
class Rollup:
    template: Template
    period: str
    table: pl.DataFrame
    by_row: pl.DataFrame | None
    forms: list[FormInstance]


# ---- the pure core --------------------------------------------------------------------------------

def levels(template: Template) -> list[str]:
    """The filing level and every level above it, bottom up: ['网格', '社区', '街道', '区']."""
    chain = [template.level]
    while chain[-1] in PARENT_LEVEL:
        chain.append(PARENT_LEVEL[chain[-1]])
    return chain


def aggregated(template: Template) -> list[Column]:
    return [c for c in template.columns if c.aggregate != "none"]


def aggregate(template: Template, values: pl.DataFrame | None, org: pl.DataFrame, filed: set[str]) -> pl.DataFrame:
    """One row per unit at the filing level and above (filing level first, 区 last); see the module docstring.

    Columns: level, unit_code, unit_name, parent_code, depth, units_total, units_filed, rows, then one
    per aggregated template column (named by its id)."""
    units, link = _units_and_links(template, org, filed)
    vals = _values(template, values, filed)
    joined = vals.join(link.select("unit_code", "anc_code"), on="unit_code", how="inner")
    aggs = joined.group_by("anc_code").agg(pl.len().cast(pl.Int64).alias("rows"), *_agg_exprs(template, vals))
    counts = link.group_by("anc_code").agg(
        pl.len().cast(pl.Int64).alias("units_total"), pl.col("filed").sum().cast(pl.Int64).alias("units_filed"))
    out = (units.join(counts, left_on="unit_code", right_on="anc_code", how="left")
           .join(aggs, left_on="unit_code", right_on="anc_code", how="left")
           .with_columns(pl.col("units_total", "units_filed").fill_null(0)))
    out = _zero_if_filed(template, out)
    cols = ["level", "unit_code", "unit_name", "parent_code", "depth", "units_total", "units_filed", "rows",
            *(c.id for c in aggregated(template))]
    return out.sort(["depth", "unit_code"], descending=[True, False]).select(cols)


def aggregate_by_row(template: Template, values: pl.DataFrame | None, org: pl.DataFrame, filed: set[str],
                     level: str) -> pl.DataFrame:
    """Indicator templates: per unit at `level` and per category (row_key), the same aggregates.

    Columns: level, unit_code, unit_name, parent_code, depth, row_key, <label columns>, units_filed, rows,
    <aggregated columns>. Label columns are the unmasked text/choice columns that are not aggregated
    (the category's name), taken from the first return that has them. Categories keep the order of the
    returns; every unit at `level` gets every category (empty where nothing under it filed)."""
    if template.kind != "indicator":
        raise ValueError(f"{template.id}: 分类汇总只适用于指标类（indicator）报表，台账类逐行数据不做分类汇总")
    chain = levels(template)
    if level not in chain:
        raise ValueError(f"{template.id}: 层级「{level}」不在 {'、'.join(chain)} 之中")
    units, link = _units_and_links(template, org, filed)
    units = units.filter(pl.col("level") == level)
    link = link.join(units.select(pl.col("unit_code").alias("anc_code")), on="anc_code", how="semi")
    vals = _values(template, values, filed)
    labels = _label_columns(template)
    categories = (vals.group_by("row_key", maintain_order=True)
                  .agg(*(pl.col(c.id).drop_nulls().first() for c in labels))
                  .with_row_index("_order"))
    joined = vals.join(link.select("unit_code", "anc_code"), on="unit_code", how="inner")
    aggs = joined.group_by("anc_code", "row_key").agg(pl.len().cast(pl.Int64).alias("rows"),
                                                     *_agg_exprs(template, vals))
    counts = link.group_by("anc_code").agg(pl.col("filed").sum().cast(pl.Int64).alias("units_filed"))
    out = (units.join(categories, how="cross")
           .join(counts, left_on="unit_code", right_on="anc_code", how="left")
           .join(aggs, left_on=["unit_code", "row_key"], right_on=["anc_code", "row_key"], how="left")
           .with_columns(pl.col("units_filed").fill_null(0)))
    out = _zero_if_filed(template, out)
    cols = ["level", "unit_code", "unit_name", "parent_code", "depth", "row_key", *(c.id for c in labels),
            "units_filed", "rows", *(c.id for c in aggregated(template))]
    return out.sort("unit_code", "_order").select(cols)


def _units_and_links(template: Template, org: pl.DataFrame, filed: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The units at the filing level and above, and (filing unit, ancestor-or-self) pairs."""
    chain = levels(template)
    org = org.select(pl.col("org_code").cast(pl.String), pl.col("org_name").cast(pl.String),
                     pl.col("org_level").cast(pl.String), pl.col("parent_code").cast(pl.String))
    dupes = org.filter(pl.col("org_code").is_duplicated())
    if dupes.height:
        raise ValueError(f"组织机构代码重复：{', '.join(sorted(set(dupes['org_code'].to_list()))[:5])}")
    units = (org.filter(pl.col("org_level").is_in(chain))
             .select(pl.col("org_level").alias("level"), pl.col("org_code").alias("unit_code"),
                     pl.col("org_name").alias("unit_name"), "parent_code",
                     pl.col("org_level").replace_strict(DEPTH, return_dtype=pl.Int64).alias("depth")))
    parents = org.select(pl.col("org_code").alias("anc_code"), pl.col("parent_code").alias("next_code"))
    step = (units.filter(pl.col("level") == template.level)
            .select("unit_code", pl.col("unit_code").alias("anc_code")))
    found = [step]
    # Walk up the parent pointers; a regular tree is done after len(chain) steps, a cycle never is.
    for _ in range(len(LEVEL_ORDER) + 1):
        step = (step.join(parents, on="anc_code", how="inner").filter(pl.col("next_code").is_not_null())
                .select("unit_code", pl.col("next_code").alias("anc_code")))
        if not step.height:
            break
        found.append(step)
    else:
        raise ValueError("组织机构的上级关系有环，无法汇总")
    link = (pl.concat(found)
            .join(units.select(pl.col("unit_code").alias("anc_code")), on="anc_code", how="semi")
            .unique()
            .with_columns(pl.col("unit_code").is_in(sorted(filed)).alias("filed")))
    return units, link


def _values(template: Template, values: pl.DataFrame | None, filed: set[str]) -> pl.DataFrame:
    """Returned rows of filed units only, with every aggregated (and label) column present and typed."""
    need = {c.id: c for c in [*aggregated(template), *_label_columns(template)]}
    if values is None:
        values = pl.DataFrame(schema={"unit_code": pl.String, "row_key": pl.String})
    frame = values.filter(pl.col("unit_code").cast(pl.String).is_in(sorted(filed)))
    out = [pl.col("unit_code").cast(pl.String), pl.col("row_key").cast(pl.String)]
    for cid, c in need.items():
        want = prefill.DTYPES[c.type]
        if cid not in frame.columns:
            out.append(pl.lit(None, want).alias(cid))
            continue
        have = frame.schema[cid]
        if have == want or (c.type in ("integer", "number") and have.is_numeric()):
            out.append(pl.col(cid))  # an integer column that came back as floats is not truncated
        else:
            out.append(pl.col(cid).cast(want, strict=False))
    return frame.select(out)


def _agg_exprs(template: Template, vals: pl.DataFrame) -> list[pl.Expr]:
    exprs = []
    for c in aggregated(template):
        col = pl.col(c.id)
        if c.aggregate == "sum":
            e = col.sum()
        elif c.aggregate == "average":
            e = col.cast(pl.Float64).mean()
        elif c.aggregate == "count":
            e = col.count().cast(pl.Int64)
        elif c.aggregate == "count_if":
            e = _equals(col, vals.schema[c.id], c.count_value).fill_null(False).sum().cast(pl.Int64)
        elif c.aggregate == "max":
            e = col.max()
        else:
            e = col.min()
        exprs.append(e.alias(c.id))
    return exprs


def _equals(col: pl.Expr, dtype: pl.DataType, value: Any) -> pl.Expr:
    """col == count_value, the value read as the column's type."""
    if dtype.is_numeric() and not isinstance(value, bool):
        try:
            return col.cast(pl.Float64) == float(value)
        except (TypeError, ValueError):
            return pl.lit(False)
    if dtype == pl.Date:
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            return pl.lit(False)
        return col == pl.lit(day)
    return col.cast(pl.String) == str(value)


def _zero_if_filed(template: Template, out: pl.DataFrame) -> pl.DataFrame:
    """Sums and counts of a unit with filed units under it are 0, not empty, when no row carries a value."""
    zero = ["rows", *(c.id for c in aggregated(template) if c.aggregate in _FILLED_ZERO)]
    return out.with_columns(
        pl.when(pl.col("units_filed") > 0).then(pl.col(z).fill_null(0)).otherwise(pl.col(z)).alias(z) for z in zero)


def _label_columns(template: Template) -> list[Column]:
    if template.kind != "indicator":
        return []
    return [c for c in template.columns
            if c.aggregate == "none" and c.mask is None and c.type in ("text", "choice")]


# ---- reading from the home ------------------------------------------------------------------------

def read_org(home: Path) -> pl.DataFrame:
    """The org tree from the published base library."""
    con = prefill.open_library(home)
    try:
        return con.sql("select org_code, org_name, org_level, parent_code from org_unit").pl()
    finally:
        con.close()


def rollup(home: Path, template: Template, period: str) -> Rollup:
    """The roll-up of a template's accepted returns for one period (states 已提交 / 通过 only)."""
    found = FormStore(home).list(template.id, period)
    filed = {f.unit_code for f in found if f.state in FILED_STATES}
    values = returns.read(home, template, period, sorted(filed)) if filed else None
    org = read_org(home)
    table = aggregate(template, values, org, filed)
    by_row = None
    if template.kind == "indicator":
        by_row = pl.concat([aggregate_by_row(template, values, org, filed, lv) for lv in levels(template)],
                           how="vertical_relaxed")
    return Rollup(template=template, period=period, table=table, by_row=by_row, forms=found)


# ---- completeness ---------------------------------------------------------------------------------

def submitted_on(stamp: str | None) -> date | None:
    """The local (CST) date of an ISO timestamp; a stamp without a zone is taken as local already."""
    if not stamp:
        return None
    at = datetime.fromisoformat(stamp)
    return (at.astimezone(LOCAL_TZ) if at.tzinfo else at).date()


def on_time(form: FormInstance) -> bool:
    """Submitted (已提交 / 通过) on or before the due date (local dates)."""
    day = submitted_on(form.submitted_at)
    return form.state in FILED_STATES and day is not None and day <= date.fromisoformat(form.due_date)


def completeness(forms: list[FormInstance]) -> pl.DataFrame:
    """Per template and period: units, submitted (已提交 + 通过), approved, returned, pending (下发),
    on_time, share_filed (submitted / units)."""
    schema = {"template_id": pl.String, "period": pl.String, "state": pl.String, "on_time": pl.Boolean}
    frame = pl.DataFrame([{"template_id": f.template_id, "period": f.period, "state": f.state,
                           "on_time": on_time(f)} for f in forms], schema=schema)
    state = pl.col("state")
    return (frame.group_by("template_id", "period")
            .agg(pl.len().cast(pl.Int64).alias("units"),
                 state.is_in(FILED_STATES).sum().cast(pl.Int64).alias("submitted"),
                 (state == APPROVED).sum().cast(pl.Int64).alias("approved"),
                 (state == RETURNED).sum().cast(pl.Int64).alias("returned"),
                 (state == ISSUED).sum().cast(pl.Int64).alias("pending"),
                 pl.col("on_time").sum().cast(pl.Int64).alias("on_time"))
            .with_columns((pl.col("submitted") / pl.col("units")).alias("share_filed"))
            .sort("template_id", "period"))


# ---- the summary workbook -------------------------------------------------------------------------

def summary_headers(template: Template) -> list[tuple[str, ...]]:
    """The header of each aggregated column in the summary: the template's own, with the
    aggregation named on its last level (sums keep theirs)."""
    out = []
    for c in aggregated(template):
        if c.aggregate == "sum":
            out.append(c.header)
        elif c.aggregate == "count_if":
            out.append((*c.header[:-1], f"{c.header[-1]}（为“{c.count_value}”的行数）"))
        else:
            out.append((*c.header[:-1], c.header[-1] + AGG_SUFFIX[c.aggregate]))
    return out


def roots(table: pl.DataFrame, root_code: str | None = None) -> list[dict]:
    """The rows the summary starts from: `root_code`, or the top of the tree (normally the one 区)."""
    if root_code is not None:
        hit = table.filter(pl.col("unit_code") == root_code)
        if not hit.height:
            raise ValueError(f"汇总单位 {root_code} 不是本报表填报层级及以上的单位")
        return hit.to_dicts()
    codes = set(table["unit_code"].to_list())
    top = table.filter(~pl.col("parent_code").is_in(sorted(codes)) | pl.col("parent_code").is_null())
    return top.sort("depth", "unit_code").to_dicts()


def tree_rows(table: pl.DataFrame, start: list[dict]) -> list[dict]:
    """Depth first: each unit, then its children by code."""
    children: dict[str | None, list[dict]] = {}
    for row in table.sort("unit_code").to_dicts():
        children.setdefault(row["parent_code"], []).append(row)
    out, stack = [], list(reversed(start))
    while stack:
        row = stack.pop()
        out.append(row)
        stack.extend(reversed(children.get(row["unit_code"], [])))
    return out


def write_summary(rollup: Rollup, root_code: str | None = None, *, generated_at: datetime | None = None) -> bytes:
    """The summary workbook's .xlsx bytes: 汇总 (the tree), 填报情况 (every filing unit), and for indicator
    templates 分类汇总 (categories × indicators at the root)."""
    template, table = rollup.template, rollup.table
    start = roots(table, root_code)
    if not start:
        raise ValueError(f"{template.id} {rollup.period}：没有可汇总的单位")
    rows = tree_rows(table, start)
    now = (generated_at or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ)
    label = period_label(template.period, rollup.period)

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                   "strings_to_urls": False})
    fmt = _Formats(wb)
    filed = sum(r["units_filed"] for r in start)
    total = sum(r["units_total"] for r in start)
    info = (f"报告期：{label}　汇总单位：{'、'.join(r['unit_name'] for r in start)}"
            f"　生成时间：{now:%Y-%m-%d %H:%M}　已报单位：{filed}/{total}")
    _summary_sheet(wb, fmt, template, rows, start, info)
    _status_sheet(wb, fmt, template, rollup.forms, table, rows, label)
    if template.kind == "indicator" and rollup.by_row is not None:
        _category_sheet(wb, fmt, template, rollup.by_row, start, info)
    wb.set_properties({"title": f"{template.title}汇总表", "subject": f"{label} {'、'.join(r['unit_name'] for r in start)}",
                       "author": "citybase", "company": "citybase",
                       "comments": f"{template.id} v{template.version} {rollup.period} rollup",
                       "created": now.replace(tzinfo=None)})
    wb.worksheets()[0].activate()
    wb.close()
    return buf.getvalue()


def summary_path(home: Path, template_id: str, period: str, root_code: str) -> Path:
    return home / "reports" / "summary" / period / template_id / f"{root_code}.xlsx"


def export(home: Path, template: Template, period: str, root_code: str | None = None) -> Path:
    """Roll up and write the summary workbook atomically; its path."""
    result = rollup(home, template, period)
    data = write_summary(result, root_code)
    if root_code is None:
        top = roots(result.table)
        root_code = top[0]["unit_code"] if len(top) == 1 else "all"
    path = summary_path(home, template.id, period, root_code)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ---- sheets ---------------------------------------------------------------------------------------

class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self._wb, self._cache = wb, {}

    def get(self, **props: Any):
        k = tuple(sorted(props.items()))
        if k not in self._cache:
            self._cache[k] = self._wb.add_format(props)
        return self._cache[k]

    def header(self):
        return self.get(bold=True, align="center", valign="vcenter", text_wrap=True, border=1, bg_color=HEADER_FILL)


def _value_kind(c: Column) -> str:
    """How an aggregated value is written: int, num, date or text."""
    if c.aggregate in ("count", "count_if"):
        return "int"
    if c.aggregate == "average":
        return "num"
    return {"integer": "int", "number": "num", "date": "date"}.get(c.type, "text")


_NUM_FORMAT = {"int": "0", "num": "0.00", "date": "yyyy-mm-dd", "text": "@"}


def _title_rows(ws, fmt: _Formats, title: str, info: str, last_col: int) -> None:
    ws.set_row(0, 30)
    ws.merge_range(0, 0, 0, last_col, title, fmt.get(bold=True, font_size=16, align="center", valign="vcenter"))
    ws.set_row(1, 20)
    ws.merge_range(1, 0, 1, last_col, info, fmt.get(align="left", valign="vcenter"))


def _page(ws, header_row: int, first_data_row: int, last_row: int, last_col: int, freeze_col: int) -> None:
    ws.freeze_panes(first_data_row, freeze_col)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(header_row, first_data_row - 1)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.set_footer("&C第 &P 页 / 共 &N 页")
    ws.print_area(0, 0, max(last_row, first_data_row - 1), last_col)


def _summary_sheet(wb, fmt: _Formats, template: Template, rows: list[dict], start: list[dict], info: str) -> None:
    ws = wb.add_worksheet(SUMMARY_SHEET)
    cols = aggregated(template)
    headers = [(h,) for h, _ in LEADING] + summary_headers(template)
    widths = [w for _, w in LEADING] + [max(10.0, c.width) for c in cols]
    last_col = len(headers) - 1
    header_row, first = 2, _sheet_head(ws, fmt, f"{template.title}汇总表", info, headers, widths)

    root_depth = {r["unit_code"]: r["depth"] for r in start}
    base_depth = min(root_depth.values())
    filing_depth = DEPTH[template.level]
    kinds = [_value_kind(c) for c in cols]
    r = first
    for row in rows:
        rel = row["depth"] - base_depth
        if row["unit_code"] in root_depth:
            style = {"bold": True, "bg_color": TOTAL_FILL}
        elif rel == 1 and row["depth"] < filing_depth:
            style = {"bold": True, "bg_color": SUBTOTAL_FILL}
        else:
            style = {}
        cell = dict(border=1, valign="vcenter", **style)
        ws.write_string(r, 0, INDENT * rel + (row["unit_name"] or row["unit_code"]), fmt.get(**cell))
        ws.write_string(r, 1, row["level"], fmt.get(align="center", **cell))
        for j, key in enumerate(("units_total", "units_filed", "rows"), start=2):
            _write_value(ws, r, j, row[key], "int", fmt.get(num_format="0", **cell))
        for j, (c, kind) in enumerate(zip(cols, kinds), start=len(LEADING)):
            _write_value(ws, r, j, row[c.id], kind, fmt.get(num_format=_NUM_FORMAT[kind], **cell))
        r += 1
    ws.set_row(r + 1, 32)
    ws.merge_range(r + 1, 0, r + 1, last_col, NOTE, fmt.get(text_wrap=True, align="left", valign="vcenter"))
    _page(ws, header_row, first, r + 1, last_col, 1)


def _status_sheet(wb, fmt: _Formats, template: Template, found: list[FormInstance], table: pl.DataFrame,
                  rows: list[dict], label: str) -> None:
    ws = wb.add_worksheet(STATUS_SHEET)
    by_code = {r["unit_code"]: r for r in table.to_dicts()}
    by_unit = {f.unit_code: f for f in found}
    above = [lv for lv in LEVEL_ORDER[1:DEPTH[template.level]]]  # 街道, 社区 for a 网格 form
    heads = ["序号", *above, f"填报单位（{template.level}）", "单位代码", "状态", "提交时间", "截止日期", "按时上报", "上报行数",
             "审核意见"]
    widths = [6, *([18] * len(above)), 22, 16, 8, 17, 11, 9, 9, 24]
    last_col = len(heads) - 1
    filing = [r for r in rows if r["level"] == template.level]
    done = sum(1 for r in filing if r["units_filed"])
    _title_rows(ws, fmt, f"{template.title}填报情况", f"报告期：{label}　应报 {len(filing)} 个，已报 {done} 个", last_col)
    hf = fmt.header()
    for j, (h, w) in enumerate(zip(heads, widths)):
        ws.set_column(j, j, w)
        ws.write_string(2, j, h, hf)
    today = datetime.now(LOCAL_TZ).date()
    text = fmt.get(border=1, valign="vcenter")
    center = fmt.get(border=1, valign="vcenter", align="center")
    late = fmt.get(border=1, valign="vcenter", align="center", font_color="#C00000")
    for i, row in enumerate(filing):
        r = 3 + i
        names = {}
        code = row["parent_code"]
        while code in by_code:
            names[by_code[code]["level"]] = by_code[code]["unit_name"]
            code = by_code[code]["parent_code"]
        f = by_unit.get(row["unit_code"])
        ws.write_number(r, 0, i + 1, center)
        for j, lv in enumerate(above, start=1):
            ws.write_string(r, j, names.get(lv, ""), text)
        j = 1 + len(above)
        ws.write_string(r, j, row["unit_name"] or "", text)
        ws.write_string(r, j + 1, row["unit_code"], text)
        ws.write_string(r, j + 2, f.state if f else NOT_ISSUED, center)
        stamp = submitted_at_local(f.submitted_at) if f else None
        if stamp is not None:
            ws.write_datetime(r, j + 3, stamp, fmt.get(border=1, valign="vcenter", num_format="yyyy-mm-dd hh:mm"))
        else:
            ws.write_blank(r, j + 3, None, text)
        if f:
            ws.write_datetime(r, j + 4, date.fromisoformat(f.due_date), fmt.get(border=1, valign="vcenter",
                                                                                  num_format="yyyy-mm-dd"))
            if f.state in FILED_STATES:
                ok = on_time(f)
                ws.write_string(r, j + 5, "是" if ok else "否", center if ok else late)
            elif today > date.fromisoformat(f.due_date):
                ws.write_string(r, j + 5, "否", late)  # overdue and still not filed
            else:
                ws.write_blank(r, j + 5, None, center)
        else:
            ws.write_blank(r, j + 4, None, text)  # never issued: no due date
            ws.write_blank(r, j + 5, None, center)
        _write_value(ws, r, j + 6, row["rows"] if row["units_filed"] else None, "int", fmt.get(border=1, num_format="0"))
        if f and f.comment:
            ws.write_string(r, j + 7, f.comment, text)
        else:
            ws.write_blank(r, j + 7, None, text)
    _page(ws, 2, 3, 2 + len(filing), last_col, 2 + len(above))


def _category_sheet(wb, fmt: _Formats, template: Template, by_row: pl.DataFrame, start: list[dict], info: str) -> None:
    ws = wb.add_worksheet(CATEGORY_SHEET)
    codes = [r["unit_code"] for r in start]
    frame = by_row.filter(pl.col("unit_code").is_in(codes))
    labels = _label_columns(template)
    cols = aggregated(template)
    many = len(codes) > 1
    lead: list[tuple[tuple[str, ...], float]] = [(("序号",), 6)]
    if many:
        lead.append((("汇总单位",), 20))
    lead += [(c.header, max(12.0, c.width)) for c in labels] or [(("分类",), 20)]
    lead.append((("行数",), 9))
    headers = [h for h, _ in lead] + summary_headers(template)
    widths = [w for _, w in lead] + [max(10.0, c.width) for c in cols]
    last_col = len(headers) - 1
    first = _sheet_head(ws, fmt, f"{template.title}分类汇总表", info, headers, widths)
    kinds = [_value_kind(c) for c in cols]
    cell = fmt.get(border=1, valign="vcenter")
    order = {c: i for i, c in enumerate(codes)}
    records = sorted(frame.with_row_index("_i").to_dicts(), key=lambda d: (order[d["unit_code"]], d["_i"]))
    for i, rec in enumerate(records):
        r = first + i
        ws.write_number(r, 0, i + 1, fmt.get(border=1, valign="vcenter", align="center"))
        j = 1
        if many:
            ws.write_string(r, j, rec["unit_name"] or rec["unit_code"], cell)
            j += 1
        for value in ([rec[c.id] for c in labels] or [rec["row_key"]]):
            _write_value(ws, r, j, value, "text", cell)
            j += 1
        _write_value(ws, r, j, rec["rows"], "int", fmt.get(border=1, valign="vcenter", num_format="0"))
        j += 1
        for c, kind in zip(cols, kinds):
            _write_value(ws, r, j, rec[c.id], kind, fmt.get(border=1, valign="vcenter", num_format=_NUM_FORMAT[kind]))
            j += 1
    _page(ws, 2, first, first + len(records) - 1, last_col, len(lead))


def _sheet_head(ws, fmt: _Formats, title: str, info: str, headers: list[tuple[str, ...]], widths: list[float]) -> int:
    """Title rows, column widths and the multi-level header from row 2; returns the first data row."""
    _title_rows(ws, fmt, title, info, len(headers) - 1)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    write_headers(ws, fmt, 2, 0, headers, widths)
    return 2 + max(len(h) for h in headers)


def write_headers(ws, fmt: _Formats, top: int, c0: int, headers: list[tuple[str, ...]], widths: list[float]) -> None:
    """Multi-level headers exactly as the issued workbooks have them."""
    write_header_rows(ws, fmt.header(), top, c0, headers, widths)


def _write_value(ws, r: int, c: int, value: Any, kind: str, cell_format) -> None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        ws.write_blank(r, c, None, cell_format)
    elif kind == "date" and isinstance(value, date):
        ws.write_datetime(r, c, value, cell_format)
    elif kind in ("int", "num") and isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(r, c, value, cell_format)
    else:
        ws.write_string(r, c, str(value), cell_format)


def submitted_at_local(stamp: str | None) -> datetime | None:
    """A form stamp as a naive local (CST) datetime, for a date cell."""
    if not stamp:
        return None
    at = datetime.fromisoformat(stamp)
    return (at.astimezone(LOCAL_TZ) if at.tzinfo else at).replace(tzinfo=None, microsecond=0)
