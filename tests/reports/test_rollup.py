"""reports.rollup: returns rolled up 网格 → 社区 → 街道 → 区, checked against totals computed by hand.

No published library: the org tree and the returns are built here; the template is a YAML file in
tmp_path. Expected totals come from plain Python over the rows, never from the code under test.
"""

from __future__ import annotations

import io
import textwrap
from datetime import datetime, timezone

import duckdb
import openpyxl
import polars as pl
import pytest

from reports import forms, prefill, returns
from reports.forms import FormInstance
from reports.rollup import (
    CATEGORY_SHEET, STATUS_SHEET, SUMMARY_SHEET, Rollup, aggregate, aggregate_by_row, completeness, export, rollup,
    summary_path, write_summary,
)
from reports.template import load

PERIOD = "2026-11"
DUE = "2026-12-10"

# 1 区, 2 街道, 3 社区, 6 网格. G6's name starts with "=": it must stay text, never a formula.
ORG = [
    ("D", "郑东新区", "区", None),
    ("S1", "如意湖街道", "街道", "D"),
    ("S2", "龙子湖街道", "街道", "D"),
    ("C1", "如意社区", "社区", "S1"),
    ("C2", "湖畔社区", "社区", "S1"),
    ("C3", "龙湖社区", "社区", "S2"),
    ("G1", "如意一网格", "网格", "C1"),
    ("G2", "如意二网格", "网格", "C1"),
    ("G3", "湖畔一网格", "网格", "C2"),
    ("G4", "湖畔二网格", "网格", "C2"),
    ("G5", "龙湖一网格", "网格", "C3"),
    ("G6", "=龙湖二网格", "网格", "C3"),
]
PARENT = {code: parent for code, _, _, parent in ORG}
LEVEL = {code: level for code, _, level, _ in ORG}
GRIDS = [code for code, _, level, _ in ORG if level == "网格"]


def org_frame() -> pl.DataFrame:
    return pl.DataFrame(ORG, schema=["org_code", "org_name", "org_level", "parent_code"], orient="row")


def ancestors(code: str) -> list[str]:
    """The unit itself and every unit above it, by walking the hand-written tree."""
    out = [code]
    while PARENT[out[-1]] is not None:
        out.append(PARENT[out[-1]])
    return out


ROSTER_YAML = """
id: care_roster
version: 1
title: 关怀台账
period: month
level: 网格
kind: roster
row_key: person_id
query: select 1
columns:
  - id: name
    header: [基本信息, 姓名]
  - id: alone
    header: [基本信息, 是否独居]
    type: choice
    choices: [是, 否]
    aggregate: count_if
    count_value: 是
  - id: visits
    header: [走访情况, 走访次数]
    type: integer
    aggregate: sum
  - id: score
    header: [走访情况, 满意度]
    type: number
    aggregate: average
  - id: age
    header: [年龄]
    type: integer
    aggregate: max
  - id: phone
    header: [联系电话]
    type: phone
    aggregate: count
"""

# (unit, row_key, name, alone, visits, score, age, phone). G4 filed an empty roster; G6 did not file
# (its rows are there, as a return sent back would be, and must not count).
ROWS = [
    ("G1", "p1", "甲", "是", 3, 90.0, 81, "13800000001"),
    ("G1", "p2", "乙", "否", 1, 60.0, 72, None),
    ("G1", "p3", "丙", "是", None, None, 90, "13800000003"),
    ("G2", "p4", "丁", "否", 5, 100.0, 66, "13800000004"),
    ("G3", "p5", "戊", "是", 2, 70.0, None, None),
    ("G3", "p6", "己", None, 4, 75.5, 88, "13800000006"),
    ("G5", "p7", "庚", "是", 7, 80.0, 95, "13800000007"),
    ("G5", "p8", "辛", "是", 0, 50.0, 70, None),
    ("G5", "p9", "壬", "否", 2, 99.0, 77, "13800000009"),
    ("G5", "p10", "癸", "否", 6, None, 60, "13800000010"),
    ("G6", "p11", "子", "是", 100, 1.0, 101, "13800000011"),
]
COLS = ["unit_code", "row_key", "name", "alone", "visits", "score", "age", "phone"]
FILED = {"G1", "G2", "G3", "G4", "G5"}


def values_frame(rows=ROWS) -> pl.DataFrame:
    schema = {"unit_code": pl.String, "row_key": pl.String, "name": pl.String, "alone": pl.String,
              "visits": pl.Int64, "score": pl.Float64, "age": pl.Int64, "phone": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def expected_totals() -> dict[str, dict]:
    """Per unit: plain Python over the rows of filed grids under it."""
    out = {}
    for code, _, level, _ in ORG:
        under = [g for g in GRIDS if code in ancestors(g)]
        filed = [g for g in under if g in FILED]
        rows = [dict(zip(COLS, r)) for r in ROWS if r[0] in filed]
        scores = [r["score"] for r in rows if r["score"] is not None]
        ages = [r["age"] for r in rows if r["age"] is not None]
        out[code] = {
            "units_total": len(under), "units_filed": len(filed),
            "rows": len(rows) if filed else None,
            "visits": sum(r["visits"] for r in rows if r["visits"] is not None) if filed else None,
            "score": sum(scores) / len(scores) if scores else None,
            "alone": sum(1 for r in rows if r["alone"] == "是") if filed else None,
            "age": max(ages) if ages else None,
            "phone": sum(1 for r in rows if r["phone"] is not None) if filed else None,
        }
    return out


def write_template(tmp_path, text: str, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), "utf-8")
    return load(path)


@pytest.fixture
def roster(tmp_path):
    return write_template(tmp_path, ROSTER_YAML, "care_roster")


def form(unit: str, state: str, submitted_at: str | None = None, *, template_id: str = "care_roster",
         period: str = PERIOD, due: str = DUE, comment: str | None = None) -> FormInstance:
    name = next(n for c, n, _, _ in ORG if c == unit)
    return FormInstance(
        form_id=forms.form_id(template_id, period, unit), template_id=template_id, template_version=1,
        period=period, unit_code=unit, unit_name=name, level=LEVEL[unit], parent_code=PARENT[unit], state=state,
        issued_at="2026-12-01T01:00:00+00:00", due_date=due, submitted_at=submitted_at, reviewed_at=None,
        reviewer=None, comment=comment, rows=0, cells=0, prefilled=0, digest="0" * 64, workbook="x.xlsx",
        submissions=1 if submitted_at else 0)


ROSTER_FORMS = [
    form("G1", forms.APPROVED, "2026-12-05T02:00:00+00:00"),
    form("G2", forms.SUBMITTED, "2026-12-10T15:59:00+00:00"),   # 23:59 local on the due day: on time
    form("G3", forms.SUBMITTED, "2026-12-10T16:01:00+00:00"),   # 00:01 local the day after: late
    form("G4", forms.APPROVED, "2026-12-01T09:00:00+00:00"),
    form("G5", forms.SUBMITTED, "2026-12-09T01:00:00+00:00"),
    form("G6", forms.RETURNED, "2026-12-08T01:00:00+00:00", comment="走访次数有误"),
]


# ---- aggregate -----------------------------------------------------------------------------------

def test_every_level_matches_hand_totals(roster):
    table = aggregate(roster, values_frame(), org_frame(), FILED)
    assert table.height == len(ORG)
    assert table.columns == ["level", "unit_code", "unit_name", "parent_code", "depth", "units_total",
                             "units_filed", "rows", "alone", "visits", "score", "age", "phone"]
    # Filing level first, 区 last.
    assert table["depth"].to_list() == sorted(table["depth"].to_list(), reverse=True)
    assert table["level"].to_list()[:6] == ["网格"] * 6 and table["level"].to_list()[-1] == "区"
    got = {r["unit_code"]: r for r in table.to_dicts()}
    for code, want in expected_totals().items():
        row = got[code]
        assert row["level"] == LEVEL[code] and row["parent_code"] == PARENT[code]
        assert row["depth"] == {"区": 0, "街道": 1, "社区": 2, "网格": 3}[LEVEL[code]]
        for key, value in want.items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value), (code, key)
            else:
                assert row[key] == value, (code, key)


def test_average_is_weighted_by_rows(roster):
    table = aggregate(roster, values_frame(), org_frame(), FILED)
    got = {r["unit_code"]: r["score"] for r in table.to_dicts()}
    # 如意社区: G1 has scores 90, 60 (one missing), G2 has 100 → (90 + 60 + 100) / 3, not mean(75, 100).
    assert got["C1"] == pytest.approx(250 / 3)
    assert got["C1"] != pytest.approx((75 + 100) / 2)
    district = [s for r in ROWS if r[0] in FILED and (s := r[5]) is not None]
    assert got["D"] == pytest.approx(sum(district) / len(district))


def test_unfiled_and_empty_units(roster):
    table = aggregate(roster, values_frame(), org_frame(), FILED)
    got = {r["unit_code"]: r for r in table.to_dicts()}
    # G6 did not file: it appears, with nothing aggregated (its rows in `values` are ignored).
    g6 = got["G6"]
    assert (g6["units_total"], g6["units_filed"]) == (1, 0)
    assert g6["unit_name"] == "=龙湖二网格"
    assert all(g6[k] is None for k in ("rows", "visits", "score", "alone", "age", "phone"))
    # G4 filed an empty roster: zero rows, zero sums and counts, no average or maximum.
    g4 = got["G4"]
    assert (g4["units_filed"], g4["rows"], g4["visits"], g4["alone"], g4["phone"]) == (1, 0, 0, 0, 0)
    assert g4["score"] is None and g4["age"] is None
    # G6's 100 visits reach no total.
    assert got["D"]["visits"] == sum(r[4] for r in ROWS if r[0] in FILED and r[4] is not None)


def test_unit_counts_add_up(roster):
    table = aggregate(roster, values_frame(), org_frame(), FILED)
    got = {r["unit_code"]: r for r in table.to_dicts()}
    for code, _, level, _ in ORG:
        kids = [c for c, _, _, p in ORG if p == code]
        if level == "网格":
            assert got[code]["units_total"] == 1
            assert got[code]["units_filed"] == int(code in FILED)
            continue
        assert got[code]["units_total"] == sum(got[k]["units_total"] for k in kids)
        assert got[code]["units_filed"] == sum(got[k]["units_filed"] for k in kids)
        assert got[code]["rows"] == sum(got[k]["rows"] or 0 for k in kids)
    assert (got["D"]["units_total"], got["D"]["units_filed"]) == (6, 5)


def test_nothing_filed(roster):
    table = aggregate(roster, None, org_frame(), set())
    assert table.height == len(ORG)
    assert table["units_filed"].sum() == 0
    assert table["visits"].null_count() == table.height
    assert table.filter(pl.col("unit_code") == "D")["units_total"].item() == 6


def test_a_community_form_rolls_up_from_communities(tmp_path):
    t = write_template(tmp_path, ROSTER_YAML.replace("level: 网格", "level: 社区").replace("care_roster", "c_roster"),
                       "c_roster")
    vals = values_frame([("C1", "a", "x", "是", 2, 10.0, 1, None), ("C3", "b", "y", "否", 3, 20.0, 2, None)])
    table = aggregate(t, vals, org_frame(), {"C1", "C3"})
    assert sorted(table["level"].unique().to_list()) == ["区", "社区", "街道"]  # no 网格 rows
    got = {r["unit_code"]: r for r in table.to_dicts()}
    assert (got["S1"]["units_total"], got["S1"]["units_filed"], got["S1"]["visits"]) == (2, 1, 2)
    assert (got["D"]["units_total"], got["D"]["visits"], got["D"]["score"]) == (3, 5, 15.0)


# ---- indicator templates: per category -----------------------------------------------------------

INDICATOR_YAML = """
id: hotline_stats
version: 1
title: 12345热线诉求统计
period: month
level: 社区
kind: indicator
row_key: category
query: select 1
columns:
  - id: category_name
    header: [诉求分类]
  - id: tickets
    header: [工单, 受理量]
    type: integer
    aggregate: sum
  - id: resolved
    header: [工单, 办结量]
    type: integer
    aggregate: sum
  - id: satisfaction
    header: [满意率]
    type: number
    aggregate: average
"""

# C1 and C3 filed (C3 without the 噪音 row); C2 did not.
IND_ROWS = [
    ("C1", "k1", "供水", 10, 8, 0.9), ("C1", "k2", "供暖", 4, 4, 1.0), ("C1", "k3", "噪音", 2, 1, 0.5),
    ("C2", "k1", "供水", 50, 50, 0.1), ("C2", "k2", "供暖", 60, 60, 0.1), ("C2", "k3", "噪音", 70, 70, 0.1),
    ("C3", "k1", "供水", 6, 5, 0.7), ("C3", "k2", "供暖", 1, 0, None),
]
IND_FILED = {"C1", "C3"}


def indicator_values() -> pl.DataFrame:
    return pl.DataFrame(IND_ROWS, schema={"unit_code": pl.String, "row_key": pl.String, "category_name": pl.String,
                                          "tickets": pl.Int64, "resolved": pl.Int64, "satisfaction": pl.Float64},
                        orient="row")


@pytest.fixture
def indicator(tmp_path):
    return write_template(tmp_path, INDICATOR_YAML, "hotline_stats")


def test_aggregate_by_row_per_street(indicator):
    by_row = aggregate_by_row(indicator, indicator_values(), org_frame(), IND_FILED, "街道")
    assert set(by_row["level"].to_list()) == {"街道"}
    assert by_row.height == 2 * 3  # every street × every category
    # Categories keep the returns' order and carry their name.
    s1 = by_row.filter(pl.col("unit_code") == "S1")
    assert s1["row_key"].to_list() == ["k1", "k2", "k3"]
    assert s1["category_name"].to_list() == ["供水", "供暖", "噪音"]
    got = {(r["unit_code"], r["row_key"]): r for r in by_row.to_dicts()}
    for street in ("S1", "S2"):
        for key in ("k1", "k2", "k3"):
            rows = [r for r in IND_ROWS if r[0] in IND_FILED and PARENT[r[0]] == street and r[1] == key]
            sat = [r[5] for r in rows if r[5] is not None]
            row = got[(street, key)]
            assert row["rows"] == len(rows)
            assert row["tickets"] == sum(r[3] for r in rows)
            assert row["resolved"] == sum(r[4] for r in rows)
            assert row["satisfaction"] == (pytest.approx(sum(sat) / len(sat)) if sat else None)
            assert row["units_filed"] == 1
    # S2's only community filed without 噪音: zero, not empty.
    assert (got[("S2", "k3")]["rows"], got[("S2", "k3")]["tickets"]) == (0, 0)


def test_aggregate_by_row_district_and_unfiled(indicator):
    by_row = aggregate_by_row(indicator, indicator_values(), org_frame(), IND_FILED, "区")
    got = {r["row_key"]: r for r in by_row.to_dicts()}
    assert got["k1"]["tickets"] == 10 + 6 and got["k2"]["tickets"] == 4 + 1 and got["k3"]["tickets"] == 2
    assert got["k1"]["satisfaction"] == pytest.approx((0.9 + 0.7) / 2)
    communities = aggregate_by_row(indicator, indicator_values(), org_frame(), IND_FILED, "社区")
    c2 = communities.filter(pl.col("unit_code") == "C2")
    assert c2["units_filed"].to_list() == [0, 0, 0]
    assert c2["tickets"].null_count() == 3 and c2["rows"].null_count() == 3
    # The by-row totals agree with the unit totals.
    table = aggregate(indicator, indicator_values(), org_frame(), IND_FILED)
    district = table.filter(pl.col("unit_code") == "D").to_dicts()[0]
    assert district["tickets"] == by_row["tickets"].sum() and district["rows"] == by_row["rows"].sum()


def test_aggregate_by_row_refuses_rosters_and_bad_levels(roster, indicator):
    with pytest.raises(ValueError, match="indicator"):
        aggregate_by_row(roster, values_frame(), org_frame(), FILED, "社区")
    with pytest.raises(ValueError, match="网格"):
        aggregate_by_row(indicator, indicator_values(), org_frame(), IND_FILED, "网格")


# ---- completeness --------------------------------------------------------------------------------

def test_completeness_on_time_from_local_dates():
    found = [*ROSTER_FORMS,
             form("C1", forms.SUBMITTED, "2026-12-02T01:00:00+00:00", template_id="hotline_stats"),
             form("C2", forms.ISSUED, template_id="hotline_stats"),
             form("C3", forms.APPROVED, "2026-12-11T08:00:00", template_id="hotline_stats")]  # local, late
    table = completeness(found)
    rows = {r["template_id"]: r for r in table.to_dicts()}
    care = rows["care_roster"]
    assert (care["period"], care["units"], care["submitted"], care["approved"], care["returned"]) == (PERIOD, 6, 5, 2, 1)
    # G1, G2 (23:59 local on the due day), G4, G5 on time; G3 one minute into the next local day; G6 returned.
    assert care["on_time"] == 4
    assert care["share_filed"] == pytest.approx(5 / 6)
    hotline = rows["hotline_stats"]
    assert (hotline["units"], hotline["submitted"], hotline["pending"], hotline["on_time"]) == (3, 2, 1, 1)
    assert completeness([]).height == 0


# ---- the summary workbook ------------------------------------------------------------------------

def roster_rollup(t) -> Rollup:
    return Rollup(template=t, period=PERIOD, table=aggregate(t, values_frame(), org_frame(), FILED), by_row=None,
                  forms=ROSTER_FORMS)


def open_book(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def no_formulas(book) -> None:
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)


def test_summary_sheet(roster):
    data = write_summary(roster_rollup(roster), generated_at=datetime(2026, 12, 12, 1, 0, tzinfo=timezone.utc))
    book = open_book(data)
    assert book.sheetnames == [SUMMARY_SHEET, STATUS_SHEET]
    ws = book[SUMMARY_SHEET]
    no_formulas(book)
    assert ws["A1"].value == "关怀台账汇总表"
    info = ws["A2"].value
    assert "报告期：2026年11月" in info and "汇总单位：郑东新区" in info and "已报单位：5/6" in info
    assert "生成时间：2026-12-12 09:00" in info  # local time
    merged = {str(r) for r in ws.merged_cells.ranges}
    # Leading columns merge down both header rows; 走访情况 spans its two aggregated columns, 基本信息
    # keeps one (姓名 is not aggregated); 年龄 and 联系电话 (one level) merge down.
    assert {"A3:A4", "B3:B4", "C3:C4", "D3:D4", "E3:E4", "G3:H3", "I3:I4", "J3:J4"} <= merged
    assert not any(r.startswith("F3") for r in merged)
    assert [ws.cell(3, c).value for c in (1, 2, 3, 4, 5, 6, 7, 9, 10)] == [
        "单位名称", "层级", "应报单位数", "已报单位数", "行数", "基本信息", "走访情况", "年龄（最大值）", "联系电话（已填行数）"]
    assert ws["F4"].value == "是否独居（为“是”的行数）" and ws["G4"].value == "走访次数"
    assert ws["H4"].value == "满意度（平均值）"
    assert ws.freeze_panes == "B5"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # one page wide

    # The tree: 区 first, each street then its communities then their grids, indented.
    names = [ws.cell(r, 1).value for r in range(5, 5 + len(ORG))]
    assert [n.strip("\u3000") for n in names] == ["郑东新区", "如意湖街道", "如意社区", "如意一网格", "如意二网格",
                                                   "湖畔社区", "湖畔一网格", "湖畔二网格", "龙子湖街道", "龙湖社区",
                                                   "龙湖一网格", "=龙湖二网格"]
    assert names[0] == "郑东新区" and names[1] == "\u3000如意湖街道" and names[2].startswith("\u3000\u3000如")
    assert names[3].startswith("\u3000\u3000\u3000如")
    assert ws["A5"].font.b and ws["A6"].font.b and not ws["A7"].font.b
    assert ws["A16"].data_type == "s"

    want = expected_totals()
    by_name = {n.strip("\u3000"): r for r, n in zip(range(5, 5 + len(ORG)), names)}
    for code, name, _, _ in ORG:
        r = by_name[name]
        w = want[code]
        got = dict(zip(("units_total", "units_filed", "rows", "alone", "visits", "score", "age", "phone"),
                       (ws.cell(r, c).value for c in range(3, 11))))
        for key, value in w.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value), (code, key)
            else:
                assert got[key] == value, (code, key)  # None: an empty cell
    assert [ws.cell(5, c).value for c in range(3, 8)] == [6, 5, 10, 5, 30]


def test_status_sheet_lists_every_grid(roster):
    book = open_book(write_summary(roster_rollup(roster)))
    ws = book[STATUS_SHEET]
    head = [c.value for c in ws[3]]
    assert head[:9] == ["序号", "街道", "社区", "填报单位（网格）", "单位代码", "状态", "提交时间", "截止日期", "按时上报"]
    body = {row[4]: row for row in ws.iter_rows(min_row=4, values_only=True) if row[0] is not None}
    assert sorted(body) == GRIDS
    assert body["G1"][1:6] == ("如意湖街道", "如意社区", "如意一网格", "G1", "通过")
    assert body["G6"][5] == "退回" and body["G6"][3] == "=龙湖二网格" and body["G6"][10] == "走访次数有误"
    assert [body[g][8] for g in ("G1", "G2", "G3", "G4", "G5")] == ["是", "是", "否", "是", "是"]
    assert body["G2"][6] == datetime(2026, 12, 10, 23, 59) and body["G2"][7] == datetime(2026, 12, 10)
    assert body["G4"][9] == 0 and body["G5"][9] == 4 and body["G6"][9] is None
    no_formulas(book)


def test_summary_of_one_street(roster):
    data = write_summary(roster_rollup(roster), "S1")
    book = open_book(data)
    ws = book[SUMMARY_SHEET]
    assert "汇总单位：如意湖街道" in ws["A2"].value and "已报单位：4/4" in ws["A2"].value
    names = [ws.cell(r, 1).value for r in range(5, ws.max_row + 1) if ws.cell(r, 2).value in ("街道", "社区", "网格")]
    assert [n.strip("\u3000") for n in names] == ["如意湖街道", "如意社区", "如意一网格", "如意二网格", "湖畔社区",
                                                  "湖畔一网格", "湖畔二网格"]
    assert ws["A5"].value == "如意湖街道" and ws["A6"].font.b  # the root is the total; communities are subtotals
    want = expected_totals()["S1"]
    assert [ws.cell(5, c).value for c in (3, 4, 5, 6, 7)] == [4, 4, want["rows"], want["alone"], want["visits"]]
    status = [r[4] for r in book[STATUS_SHEET].iter_rows(min_row=4, values_only=True) if r[0] is not None]
    assert status == ["G1", "G2", "G3", "G4"]
    with pytest.raises(ValueError, match="X9"):
        write_summary(roster_rollup(roster), "X9")


def test_indicator_summary_has_category_sheet(indicator):
    org, vals = org_frame(), indicator_values()
    by_row = pl.concat([aggregate_by_row(indicator, vals, org, IND_FILED, lv) for lv in ("社区", "街道", "区")])
    found = [form(c, forms.SUBMITTED, "2026-12-03T00:00:00+00:00", template_id="hotline_stats") for c in IND_FILED]
    result = Rollup(indicator, PERIOD, aggregate(indicator, vals, org, IND_FILED), by_row, found)
    book = open_book(write_summary(result))
    assert book.sheetnames == [SUMMARY_SHEET, STATUS_SHEET, CATEGORY_SHEET]
    no_formulas(book)
    ws = book[CATEGORY_SHEET]
    assert ws["A1"].value == "12345热线诉求统计分类汇总表"
    assert "D3:E3" in {str(r) for r in ws.merged_cells.ranges} and ws["D3"].value == "工单"
    assert [ws.cell(3, c).value for c in (1, 2, 3)] == ["序号", "诉求分类", "行数"]
    body = [r for r in ws.iter_rows(min_row=5, values_only=True) if isinstance(r[0], int)]
    assert [r[1] for r in body] == ["供水", "供暖", "噪音"]
    assert [r[2:5] for r in body] == [(2, 16, 13), (2, 5, 4), (1, 2, 1)]
    assert body[0][5] == pytest.approx(0.8) and body[1][5] == pytest.approx(1.0)
    status = [r[3] for r in book[STATUS_SHEET].iter_rows(min_row=4, values_only=True) if r[0] is not None]
    assert status == ["C1", "C2", "C3"]  # 社区 forms: 街道 is the only parent column


# ---- from a home: forms, returns and the org tree ------------------------------------------------

@pytest.fixture
def home(tmp_path, roster, monkeypatch):
    home = tmp_path / "home"
    store = forms.FormStore(home)
    store.issue([{
        "form_id": forms.form_id(roster.id, PERIOD, g), "template_id": roster.id, "template_version": 1,
        "period": PERIOD, "unit_code": g, "unit_name": g, "level": "网格", "parent_code": PARENT[g],
        "issued_at": "2026-12-01T00:00:00+00:00", "due_date": "2099-12-10", "rows": 0, "cells": 0, "prefilled": 0,
        "digest": "0" * 64, "workbook": "x.xlsx"} for g in GRIDS])
    vals = values_frame()
    for g in GRIDS:
        returns.write(home, roster, PERIOD, g, vals.filter(pl.col("unit_code") == g))
    for g in ("G1", "G2", "G3", "G4", "G5", "G6"):
        store.transition(forms.form_id(roster.id, PERIOD, g), "submit", "clerk")
    store.transition(forms.form_id(roster.id, PERIOD, "G1"), "approve", "reviewer")
    store.transition(forms.form_id(roster.id, PERIOD, "G6"), "return", "reviewer", comment="重填")

    def library(_home):
        con = duckdb.connect()
        con.register("org_src", org_frame().to_arrow())
        con.execute("create table org_unit as select * from org_src")
        return con

    monkeypatch.setattr(prefill, "open_library", library)
    return home


def test_rollup_and_export_from_a_home(home, roster):
    result = rollup(home, roster, PERIOD)
    assert result.by_row is None and len(result.forms) == 6
    got = {r["unit_code"]: r for r in result.table.to_dicts()}
    want = expected_totals()  # G6 was sent back: its return is on disk but does not count
    assert got["D"]["visits"] == want["D"]["visits"] and got["G6"]["units_filed"] == 0
    assert got["D"]["score"] == pytest.approx(want["D"]["score"])
    assert completeness(result.forms).to_dicts()[0]["on_time"] == 5

    path = export(home, roster, PERIOD)
    assert path == summary_path(home, roster.id, PERIOD, "D") == home / "reports/summary/2026-11/care_roster/D.xlsx"
    assert [p.name for p in path.parent.iterdir()] == ["D.xlsx"]  # no temporary file left
    ws = openpyxl.load_workbook(path)[SUMMARY_SHEET]
    assert ws["A5"].value == "郑东新区" and ws["F5"].value == want["D"]["alone"]
    street = export(home, roster, PERIOD, "S2")
    assert street.name == "S2.xlsx" and openpyxl.load_workbook(street)[SUMMARY_SHEET]["A5"].value == "龙子湖街道"
