"""The issued 一表通 workbook, read back with real readers (openpyxl, calamine)."""

from __future__ import annotations

import datetime as dt
import io
import time
from decimal import Decimal

import openpyxl
import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from reports.meta import META_SHEET, FormMeta, parse
from reports.template import Column, Template
from reports.workbook import LISTS_SHEET, footer_rows, sheet_password, write_workbook

KEY = b"test-signing-key"
ID18 = "410105199001010022"
LONG_CHOICES = tuple(f"第{i}类长选项说明文字" for i in range(40))  # joined far beyond 255 characters

COLUMNS = (
    Column("name", ("基本信息", "姓名"), width=10),
    Column("id_no", ("基本信息", "身份证号"), type="id_number", mask="id_number", width=20),
    Column("care_type", ("关怀情况", "关怀类型"), type="choice", choices=("走访", "电话", "帮扶"), editable=True,
           prefill=("last",), note="选择本月的关怀方式"),
    Column("visits", ("关怀情况", "走访次数"), type="integer", min=0, max=31, editable=True, prefill=("last",),
           required=True),
    Column("last_visit", ("关怀情况", "最近走访日期"), type="date", min="2020-01-01", max="2030-12-31",
           editable=True, prefill=("last",)),
    Column("guardian_id", ("监护人", "身份证号"), type="id_number", editable=True, prefill=("base", "last"), width=20),
    Column("guardian_phone", ("监护人", "电话"), type="phone", editable=True),
    Column("remark", ("备注",), editable=True, prefill=("last",), width=16),
    Column("subsidy", ("补助金额",), type="number", editable=True, min=0, prefill=("base",)),
    Column("category", ("人员类别",), type="choice", choices=LONG_CHOICES, editable=True, prefill=()),
)


def template(columns=COLUMNS, instructions=("1. 本表每月10日前报送。", "2. 灰色单元格不可修改。")) -> Template:
    return Template(id="care_test", version=2, title="重点人群关怀台账", period="month", level="网格",
                    kind="roster", row_key="person_id", query="select 1", columns=columns,
                    instructions=instructions)


def meta_for(t: Template, n: int) -> FormMeta:
    return FormMeta(form_id="f-0001", template_id=t.id, template_version=t.version, unit_code="G0101",
                    unit_name="一网格", period="2026-11", digest="0" * 64,
                    first_data_row=t.layout.first_data_row, rows=n, issued_at="2026-12-01T02:03:04+00:00")


ROWS = [
    # One value per column; `froms` gives each pre-filled value's provenance (absent = None).
    dict(row_key="p-3", name="张三", id_no="410105********0022", care_type="走访", visits=3,
         last_visit=dt.date(2026, 10, 5), guardian_id=ID18, guardian_phone=None, remark="=1+1",
         subsidy=Decimal("120.50"), category=None,
         froms=dict(name="base", id_no="base", care_type="last", visits="last", last_visit="last",
                    guardian_id="base", remark="last", subsidy="base")),
    dict(row_key="p-1", name="李四", id_no="410105********002X", care_type=None, visits=None, last_visit=None,
         guardian_id=None, guardian_phone="13812348000", remark="@SUM(A1)", subsidy=None, category=LONG_CHOICES[2],
         froms=dict(name="base", id_no="base", guardian_phone="last", remark="last", category="last")),
    dict(row_key="p-2", name="+王五", id_no=None, care_type="电话", visits=0, last_visit=dt.date(2026, 11, 30),
         guardian_id="-12", guardian_phone=None, remark=None, subsidy=Decimal("80"), category=None,
         froms=dict(name="last", care_type="last", visits="last", last_visit="last", guardian_id="last",
                    subsidy="base")),
]


def frame(t: Template, records: list[dict]) -> pl.DataFrame:
    data: dict[str, list] = {"row_key": [r["row_key"] for r in records]}
    schema: dict[str, pl.DataType] = {"row_key": pl.String}
    kinds = {"integer": pl.Int64, "number": pl.Float64, "date": pl.Date}
    for c in t.columns:
        data[c.id] = [r.get(c.id) for r in records]
        data[f"{c.id}__from"] = [r.get("froms", {}).get(c.id) for r in records]
        schema[c.id] = kinds.get(c.type, pl.String)
        schema[f"{c.id}__from"] = pl.String
        if any(isinstance(v, Decimal) for v in data[c.id]):
            schema[c.id] = pl.Decimal(12, 2)  # arrives as decimal.Decimal
    return pl.DataFrame(data, schema=schema)


@pytest.fixture(scope="module")
def issued():
    t = template()
    m = meta_for(t, len(ROWS))
    data = write_workbook(t, m, frame(t, ROWS), key=KEY, due=dt.date(2026, 12, 10), period_label="2026年11月")
    return t, m, data, openpyxl.load_workbook(io.BytesIO(data))


def test_sheets_and_headers(issued):
    t, m, data, wb = issued
    assert wb.sheetnames[0] == t.sheet_name
    assert wb.active.title == t.sheet_name
    ws = wb[t.sheet_name]
    merged = {str(r) for r in ws.merged_cells.ranges}
    # Title and info row over B..last (L: 2 + 10 columns - 1 = col 11).
    assert {"B1:L1", "B2:L2"} <= merged
    assert ws["B1"].value == "重点人群关怀台账" and ws["B1"].font.b and ws["B1"].font.sz == 16
    assert ws["B2"].value == "填报单位：一网格（G0101）　报告期：2026年11月　截止日期：2026年12月10日"
    # Two-level headers: groups merged across, one-level headers merged down, 序号 and key down.
    assert t.layout.header_depth == 2 and t.layout.first_data_row == 4
    assert {"A3:A4", "B3:B4", "C3:D3", "E3:G3", "H3:I3", "J3:J4", "K3:K4", "L3:L4"} <= merged
    assert [ws.cell(3, c).value for c in (1, 2, 3, 5, 8, 10)] == ["行标识", "序号", "基本信息", "关怀情况", "监护人", "备注"]
    assert [ws.cell(4, c).value for c in range(3, 10)] == ["姓名", "身份证号", "关怀类型", "走访次数", "最近走访日期",
                                                           "身份证号", "电话"]
    h = ws["E3"]
    assert h.font.b and h.alignment.wrap_text and h.border.left.style == "thin"
    assert h.fill.fgColor.rgb == "FFD9D9D9"
    assert ws.column_dimensions["A"].hidden
    assert ws.column_dimensions["D"].width == pytest.approx(20, abs=1)


def test_page_setup_and_protection(issued):
    t, m, data, wb = issued
    ws = wb[t.sheet_name]
    assert ws.freeze_panes == "D5"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # fitToWidth defaults to 1 when absent from the XML.
    assert int(ws.page_setup.fitToWidth or 1) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows.replace("$", "") == "3:4"
    assert ws.print_options.horizontalCentered
    assert "第 &P 页 / 共 &N 页" in ws.oddFooter.center.text
    assert ws.print_area == f"'{t.sheet_name}'!$B$1:$L$15"  # through the last instruction line
    p = ws.protection
    assert p.sheet and p.password
    # In OOXML a True attribute means "protected" (forbidden).
    assert p.insertRows and p.deleteRows and p.insertColumns and p.deleteColumns
    assert not p.formatColumns and not p.formatRows
    assert not p.selectLockedCells and not p.selectUnlockedCells
    assert sheet_password(KEY) != sheet_password(b"other") and len(sheet_password(KEY)) == 16


def test_data_cells(issued):
    t, m, data, wb = issued
    ws = wb[t.sheet_name]
    r = 5  # 1-based first data row
    assert [ws.cell(r + i, 1).value for i in range(3)] == ["p-3", "p-1", "p-2"]  # issued order kept
    assert [ws.cell(r + i, 2).value for i in range(3)] == [1, 2, 3]
    name, id_no, care, visits, last_visit, guardian, phone, remark, subsidy, category = (
        ws.cell(r, c) for c in range(3, 13))
    # Locked, shaded by provenance.
    assert name.protection.locked and name.fill.fgColor.rgb == "FFDDEBF7"
    assert ws.cell(r + 2, 3).fill.fgColor.rgb == "FFE2EFDA" and ws.cell(r + 2, 3).value == "+王五"
    assert ws.cell(r + 2, 3).data_type == "s"
    blank_locked = ws.cell(r + 2, 4)
    assert blank_locked.value is None and blank_locked.protection.locked
    assert blank_locked.fill.fgColor.rgb == "FFF2F2F2" and blank_locked.border.top.style == "thin"
    assert id_no.value == "410105********0022" and id_no.data_type == "s"
    # Editable: unlocked, lighter tints, white when empty.
    assert not care.protection.locked and care.fill.fgColor.rgb == "FFF4FAF1"
    assert not guardian.protection.locked and guardian.fill.fgColor.rgb == "FFF3F8FD"
    empty = ws.cell(r + 1, 5)
    assert empty.value is None and not empty.protection.locked and empty.fill.fgColor.rgb == "FFFFFFFF"
    assert empty.border.bottom.style == "thin"
    # Typed values.
    assert guardian.data_type == "s" and guardian.value == ID18
    assert ws.cell(r + 2, 8).value == "-12" and ws.cell(r + 2, 8).data_type == "s"
    assert remark.data_type == "s" and remark.value == "=1+1"
    assert ws.cell(r + 1, 10).data_type == "s" and ws.cell(r + 1, 10).value == "@SUM(A1)"
    assert visits.data_type == "n" and visits.value == 3 and ws.cell(r + 2, 6).value == 0
    assert last_visit.is_date and last_visit.value.date() == dt.date(2026, 10, 5)
    assert last_visit.number_format == "yyyy-mm-dd"
    assert subsidy.value == pytest.approx(120.5)
    assert ws.cell(r + 1, 12).value == LONG_CHOICES[2]


def test_data_validations(issued):
    t, m, data, wb = issued
    ws = wb[t.sheet_name]
    dvs = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert dvs["E5:E7"].type == "list" and dvs["E5:E7"].formula1 == '"走访,电话,帮扶"'
    assert dvs["E5:E7"].promptTitle == "关怀类型" and dvs["E5:E7"].prompt == "选择本月的关怀方式"
    assert dvs["E5:E7"].errorTitle == "输入有误" and dvs["E5:E7"].error == "请从下拉列表中选择"
    v = dvs["F5:F7"]
    assert (v.type, v.operator or "between", v.formula1, v.formula2) == ("whole", "between", "0", "31")
    assert v.error == "请输入0到31之间的整数" and "必填" in v.prompt
    d = dvs["G5:G7"]
    assert d.type == "date" and (d.operator or "between") == "between"
    assert float(d.formula1) == (dt.date(2020, 1, 1) - dt.date(1899, 12, 30)).days
    assert float(d.formula2) == (dt.date(2030, 12, 31) - dt.date(1899, 12, 30)).days
    g = dvs["H5:H7"]
    assert (g.type, g.operator, g.formula1) == ("textLength", "equal", "18")
    p = dvs["I5:I7"]
    assert (p.type, p.operator or "between", p.formula1, p.formula2) == ("textLength", "between", "7", "20")
    n = dvs["K5:K7"]
    assert n.type == "decimal" and float(n.formula1) == 0 and float(n.formula2) == 1e9
    # The long list lives on the hidden `_lists` sheet.
    lst = dvs["L5:L7"]
    assert lst.type == "list" and lst.formula1 == f"'{LISTS_SHEET}'!$A$1:$A${len(LONG_CHOICES)}"
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    assert [wb[LISTS_SHEET].cell(i + 1, 1).value for i in range(len(LONG_CHOICES))] == list(LONG_CHOICES)
    # Locked columns carry no validation.
    assert not any(k.startswith(("C5", "D5")) for k in dvs)


def test_footer_and_instructions(issued):
    t, m, data, wb = issued
    ws = wb[t.sheet_name]
    cells = footer_rows(t, m.rows)
    assert cells == {"filled_by": (8, 2), "reviewed_by": (9, 2), "filled_on": (10, 2)}
    merged = {str(r) for r in ws.merged_cells.ranges}
    for (name, (row, col)), label in zip(cells.items(), ["填表人：", "审核人：", "填报日期："]):
        assert ws.cell(row + 1, col).value == label
        cell = ws.cell(row + 1, col + 1)
        assert not cell.protection.locked and cell.border.left.style == "thin"
        assert f"C{row + 1}:E{row + 1}" in merged
    row = cells["filled_on"][0] + 1
    assert ws.cell(row, 3).number_format == "yyyy-mm-dd"
    dvs = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert dvs[f"C{row}"].type == "date"
    texts = [ws.cell(r, 2).value for r in range(row + 1, row + 6)]
    assert texts[1].startswith("底纹说明：蓝色=来自基础库") and texts[2:4] == list(t.instructions)


def test_meta_sheet_round_trip(issued):
    t, m, data, wb = issued
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert wb[META_SHEET].protection.sheet
    cb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    cells = [row[0] for row in cb.get_sheet_by_name(META_SHEET).to_python()]
    meta, keys = parse(cells, KEY)
    assert meta == m and keys == ["p-3", "p-1", "p-2"]
    # The data sheet as calamine sees it: the ID and the would-be formulas are plain text.
    rows = cb.get_sheet_by_name(t.sheet_name).to_python()
    first = t.layout.first_data_row
    assert rows[first][7] == ID18 and rows[first][9] == "=1+1" and rows[first + 1][9] == "@SUM(A1)"
    assert rows[first][0] == "p-3"


def test_properties(issued):
    t, m, data, wb = issued
    assert wb.properties.title == t.title
    zf = __import__("zipfile").ZipFile(io.BytesIO(data))
    assert "<Company>citybase</Company>" in zf.read("docProps/app.xml").decode()


def test_single_level_no_rows_and_inline_choices():
    cols = (Column("n", ("数量",), type="integer", editable=True),
            Column("kind", ("类别",), type="choice", choices=("甲", "乙,丙"), editable=True))
    t = template(cols, instructions=())
    m = meta_for(t, 0)
    data = write_workbook(t, m, frame(t, []), key=KEY, due=dt.date(2026, 12, 10), period_label="2026年11月")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[t.sheet_name]
    assert t.layout.first_data_row == 3 and ws.freeze_panes == "D4"
    assert [c.value for c in ws[3]] == ["行标识", "序号", "数量", "类别"]
    assert {str(r) for r in ws.merged_cells.ranges} >= {"B1:D1", "B2:D2"}
    assert [dv.type for dv in ws.data_validations.dataValidation] == ["date"]  # no data rows: only the footer date
    assert footer_rows(t, 0) == {"filled_by": (4, 2), "reviewed_by": (5, 2), "filled_on": (6, 2)}
    assert "C5:D5" in {str(r) for r in ws.merged_cells.ranges}
    cb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert parse([r[0] for r in cb.get_sheet_by_name(META_SHEET).to_python()], KEY) == (m, [])


def test_inline_list_with_comma_goes_to_lists_sheet():
    cols = (Column("kind", ("类别",), type="choice", choices=("甲", "乙,丙"), editable=True),)
    t = template(cols)
    rows = [dict(row_key="a", kind="乙,丙", froms=dict(kind="last"))]
    data = write_workbook(t, meta_for(t, 1), frame(t, rows), key=KEY, due=dt.date(2026, 12, 10), period_label="x")
    ws = openpyxl.load_workbook(io.BytesIO(data))[t.sheet_name]
    dv = next(dv for dv in ws.data_validations.dataValidation if str(dv.sqref) == "C4")
    assert dv.formula1 == f"'{LISTS_SHEET}'!$A$1:$A$2"


def test_mismatches_are_refused():
    t = template()
    with pytest.raises(ValueError, match="行"):
        write_workbook(t, meta_for(t, 5), frame(t, ROWS), key=KEY, due=dt.date(2026, 12, 10), period_label="x")
    with pytest.raises(ValueError, match="缺少列"):
        write_workbook(t, meta_for(t, 3), frame(t, ROWS).drop("visits__from"), key=KEY, due=dt.date(2026, 12, 10),
                       period_label="x")


def test_speed_150_rows_12_columns():
    cols = tuple(
        Column(f"c{i}", ("组" + str(i // 4), f"列{i}"),
               type=("text", "integer", "number", "date", "choice", "id_number")[i % 6],
               choices=("是", "否") if i % 6 == 4 else (), editable=i % 2 == 1, prefill=("base", "last"))
        for i in range(12))
    t = template(cols)
    values = {"text": "某某街道某某社区", "integer": 7, "number": 3.25, "date": dt.date(2026, 11, 3),
              "choice": "是", "id_number": ID18}
    records = [dict(row_key=f"k{i}",
                    **{c.id: (None if (i + j) % 7 == 0 else values[c.type]) for j, c in enumerate(cols)},
                    froms={c.id: ("base", "last", None)[(i + j) % 3] for j, c in enumerate(cols)})
               for i in range(150)]
    df = frame(t, records)
    m = meta_for(t, 150)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        data = write_workbook(t, m, df, key=KEY, due=dt.date(2026, 12, 10), period_label="2026年11月")
        best = min(best, time.perf_counter() - start)
    print(f"\nwrite_workbook 150 rows x 12 columns: {best * 1000:.1f} ms ({len(data)} bytes)")
    assert openpyxl.load_workbook(io.BytesIO(data))[t.sheet_name].cell(5 + 149, 1).value == "k149"
