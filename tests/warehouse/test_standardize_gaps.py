"""The engine's declarations beyond "this column, this kind": code labels, empty values,
referential checks to the org tree, floors and traceability codes, the month of a monthly
file from its name, and the batch's date as "now"."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district.ids import id_check_char
from pipelines.building_tax.tables import TABLES as BUILDING_TAX
from pipelines.civil_affairs.tables import TABLES as CIVIL
from pipelines.fields import COMMUNITY_NAME, GRID_CODE, SEX_LABELS, STREET_NAME
from pipelines.hotline.tables import TABLES as HOTLINE
from pipelines.pension.tables import TABLES as PENSION
from pipelines.registry.tables import TABLES as REGISTRY
from pipelines.traceability.tables import TABLES as TRACEABILITY
from warehouse.normalize.datetimes import period_from_file_name
from warehouse.quality import scorecard
from warehouse.raw import RawStore
from warehouse.standardize import (
    KINDS,
    REASONS,
    Field,
    Ref,
    TableSpec,
    layer_path,
    reconcile,
    reference_issues,
    standardize,
    standardize_dataset,
)

SPECS = {s.table: s for s in [*CIVIL, *HOTLINE, *PENSION, *REGISTRY, *BUILDING_TAX, *TRACEABILITY]}
ORG = "registry__org_unit"


def raw_frame(source_file: str | None = None, **columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"_batch_id": ["b1"] * n, "_row_number": list(range(1, n + 1)), "_source_file": [source_file] * n,
         "_source_table": ["t"] * n, **columns},
        schema_overrides={"_source_file": pl.String},
    )


def an_id(birth: str, seq: str = "001", region: str = "410105") -> str:
    body = region + birth + seq
    return body + id_check_char(body)


def org_tree() -> pl.DataFrame:
    """A standardized org tree as the registry publishes it (two streets, three communities)."""
    rows = [
        ("410190", "郑东新区", "区", None),
        ("410190001", "如意湖街道", "街道", "410190"),
        ("410190002", "龙子湖街道", "街道", "410190"),
        ("410190010", "白沙镇", "镇", "410190"),
        ("410190001001", "CBD社区", "社区", "410190001"),
        ("410190001002", "如意湖社区", "社区", "410190001"),
        ("410190002001", "龙子湖社区", "社区", "410190002"),
        ("410190010001", "杨桥村", "社区", "410190010"),
        ("41019000100101", "CBD专属网格1", "网格", "410190001001"),
        ("41019000100201", "如意湖社区第1网格", "网格", "410190001002"),
    ]
    return pl.DataFrame(rows, schema=["org_code", "org_name", "org_level", "parent_code"], orient="row")


# ---- 1. code → label ------------------------------------------------------------------------

def test_a_code_field_carries_its_labels_beside_the_code():
    spec = TableSpec("pension", "recipient", (
        Field("person_no", "GRBH", required=True),
        Field("sex_code", "XB", "code", options={"labels": SEX_LABELS}, keep={"label": "sex"}, label="性别"),
    ))
    out = standardize(raw_frame(GRBH=["P1", "P2", "P3", "P4", "P5"], XB=["1", "2", " 9 ", "5", None]), spec)
    rows = out.rows.select("person_no", "sex_code", "sex", "_issues").rows()
    assert rows == [("P1", "1", "男", []), ("P2", "2", "女", []), ("P3", "9", "未说明", []),
                    ("P4", None, None, ["sex_code:code.unknown"]), ("P5", None, None, [])]
    assert out.quarantine.is_empty()


def test_labels_may_cover_part_of_the_allowed_codes():
    out = KINDS["code"].normalize(pl.Series(["11", "99", "x"]), allowed=("11", "99"), labels={"11": "企业职工"})
    assert out.rows() == [("11", None, "企业职工"), ("99", None, None), (None, "code.unknown", None)]
    plain = KINDS["code"].normalize(pl.Series(["a"]), allowed=("a",))
    assert plain["label"].to_list() == [None]
    with pytest.raises(ValueError):
        KINDS["code"].normalize(pl.Series(["a"]))


def test_pension_codes_get_their_names_and_keep_their_columns():
    spec = SPECS["pension__recipient"]
    raw = raw_frame(GRBH=["P1", "P2", "P3"], XM=["王五", "赵六", "钱七"], XB=["1", "2", "3"], DYLB=["11", "12", "21"],
                    FFZT=["1", "2", "3"], YFJE=["123456", "0", "100"], XGSJ=["2026-08-01 10:00:00"] * 3)
    out = standardize(raw, spec)
    got = out.rows.select("sex_code", "sex", "pension_type_code", "pension_type", "status_code", "status").rows()
    assert got == [("1", "男", "11", "企业职工", "1", "正常发放"), ("2", "女", "12", "机关事业", "2", "暂停发放"),
                   (None, None, "21", "城乡居民", "3", "终止发放")]
    assert out.rows["_issues"][2].to_list() == ["sex_code:code.unknown"]
    # the names the GX suites use are still there, with their types
    assert {"person_no", "name", "id_number", "birth_date", "monthly_amount", "updated_at"} <= set(out.rows.columns)


# ---- 2. empty values ------------------------------------------------------------------------

VALID = {
    "text": "x", "code": "A", "number": "1", "id_number": "11010519491231002X", "uscc": "91410100MA45K7TL3P",
    "phone": "13800138000", "person_name": "王五", "date": "2024-01-31", "datetime": "2024-01-31 08:00:00",
    "period": "202401", "amount": "1.00", "address": "郑州市郑东新区商务外环路1号", "enterprise_name": "郑州市某某科技有限公司",
    "category": "城乡建设/市政设施/路灯不亮", "floor": "3F", "trace_code": "41010526081212345676",
}
OPTIONS = {"code": {"allowed": ("A",)}, "amount": {"unit": "元"}}


def test_every_kind_is_declared_with_a_valid_example():
    assert set(VALID) == set(KINDS)
    for kind, value in VALID.items():
        k = KINDS[kind]
        out = k.normalize(pl.Series([value, None, "", "  "], dtype=pl.String), **OPTIONS.get(kind, {}))
        assert out[k.issue].to_list() == [None, k.empty, k.empty, k.empty], kind
        assert k.empty in REASONS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_empty_required_goes_back_empty_optional_stays_unflagged(kind, tmp_path):
    """The same kind twice: required and optional. An empty required value quarantines the
    row with '<kind>.empty'; an empty optional one is no flag, and the scorecard counts it."""
    spec = TableSpec("s", "d", (
        Field("row_id", "row_id", required=True),
        Field("must", "must", kind, required=True, options=OPTIONS.get(kind, {}), label="必填项"),
        Field("may", "may", kind, options=OPTIONS.get(kind, {}), label="选填项"),
    ), key=("row_id",))
    v = VALID[kind]
    table = {"row_id": ["r1", "r2", "r3"], "must": [v, " ", v], "may": [v, v, ""]}
    out = standardize(raw_frame(**table), spec)
    assert out.rows["row_id"].to_list() == ["r1", "r3"]
    assert out.rows["_issues"].to_list() == [[], []]
    assert out.rows["may"].null_count() == 1
    [held] = out.quarantine.to_dicts()
    assert (held["row_number"], held["rule_id"], held["field"]) == (2, KINDS[kind].empty, "must")
    assert held["reason"].startswith("「必填项」") and "未知规则" not in held["reason"]

    store = RawStore(tmp_path / "raw")
    with store.write_batch("s", "d", kind="sql") as batch:
        batch.write(pa.table(table))
    standardize_dataset(store, tmp_path, spec)
    [row] = scorecard(store, tmp_path, [spec]).to_dicts()
    assert json.loads(row["quarantine_by_rule"]) == {KINDS[kind].empty: 1}
    assert json.loads(row["empty_by_field"]) == {"may": 1}
    assert row["completeness"] == 5 / 6 and row["validity"] == 1.0


def test_a_missing_optional_column_keeps_the_schema():
    spec = SPECS["pension__recipient"]
    out = standardize(raw_frame(GRBH=["P1"]), spec)
    assert out.rows.height == 1 and out.rows["_issues"].to_list() == [[]]
    assert out.rows.schema["birth_date"] == pl.Date and out.rows.schema["id_birth_date"] == pl.Date
    assert out.rows["sex"].to_list() == [None] and "address_raw" in out.rows.columns


# ---- 3. references to the org tree -------------------------------------------------------------

def test_reference_membership_filtered_by_level():
    tree = org_tree()
    codes = pl.Series(["41019000100101", "410190001001", "nope", None])
    assert reference_issues(codes, GRID_CODE, tree).to_list() == [None, "ref.unknown", "ref.unknown", None]
    streets = pl.Series(["如意湖街道", "白沙镇", "CBD社区", "如意湖"])
    assert reference_issues(streets, STREET_NAME, tree).to_list() == [None, None, "ref.unknown", "ref.unknown"]


def test_a_community_must_lie_in_the_street_the_row_names():
    tree = org_tree()
    community = pl.Series(["CBD社区", "CBD社区", "CBD社区", "龙子湖社区", "无名社区", "杨桥村"])
    street = pl.Series(["如意湖街道", "龙子湖街道", "未知街道", None, "如意湖街道", "白沙镇"])
    got = reference_issues(community, COMMUNITY_NAME, tree, street).to_list()
    # the wrong street: outside; an unknown or missing street is the street's own problem
    assert got == [None, "ref.outside_parent", None, None, "ref.unknown", None]


def test_a_ref_with_a_parent_needs_the_tree_and_a_field():
    with pytest.raises(ValueError):
        TableSpec("s", "d", (Field("community", "c", ref=Ref(ORG, "org_name", within="street", tree=("a", "b"))),))
    with pytest.raises(ValueError):
        TableSpec("s", "d", (Field("street", "s"), Field("community", "c", ref=Ref(ORG, "org_name", within="street"))))


def test_a_building_outside_every_grid_goes_back_to_the_grid_office():
    spec = SPECS["registry__building"]
    raw = raw_frame(building_code=["B1", "B2", "B3"], name=["1号楼", "2号楼", "3号楼"],
                    grid_code=["41019000100101", "41019009900101", None])
    out = standardize(raw, spec, references={ORG: org_tree()})
    assert out.rows["building_code"].to_list() == ["B1", "B3"] and out.unchecked == ()
    [held] = out.quarantine.to_dicts()
    assert (held["rule_id"], held["field"]) == ("ref.unknown", "grid_code")
    assert held["reason"].startswith("「所属网格」在组织机构树的网格中找不到")
    # Without the reference nothing is checked, and the result says so.
    unchecked = standardize(raw, spec)
    assert unchecked.rows.height == 3 and unchecked.unchecked == ("grid_code",)
    assert spec.references == (ORG,)


def test_org_units_point_to_parents_in_the_same_dump():
    spec = SPECS["registry__org_unit"]
    tree = org_tree()
    raw = raw_frame(code=[*tree["org_code"], "410190003"], name=[*tree["org_name"], "孤儿街道"],
                    level=[*tree["org_level"], "街道"], parent_code=[*tree["parent_code"], "410191"])
    out = standardize(raw, spec)  # the reference is the batch itself: nothing to pass
    assert out.rows.height == tree.height and out.unchecked == () and spec.references == ()
    assert out.quarantine.select("rule_id", "field").rows() == [("ref.unknown", "parent_code")]
    assert out.rows.filter(pl.col("org_level") == "区")["parent_code"].to_list() == [None]  # the root


def test_civil_rosters_are_filed_under_known_units_only():
    spec = SPECS["civil_affairs__dibao"]
    raw = raw_frame(
        "低保名册_202608.xlsx",
        **{"户主信息/姓名": ["王五", "赵六", "钱七", "孙八", "周九"],
           "户主信息/身份证号": [an_id("19500101", s) for s in ("001", "002", "003", "004", "005")],
           "所属街道": ["如意湖街道", "如意湖街道", "龙子湖街道", "东区街道", "如意湖街道"],
           "所属社区": ["CBD社区", "待核实", "CBD社区", "CBD社区", None]},
    )
    out = standardize(raw, spec, references={ORG: org_tree()})
    assert out.rows["name"].to_list() == ["王五", "钱七", "周九"]
    # CBD社区 under 龙子湖街道: the community places the row; flagged, kept
    assert out.rows["_issues"].to_list() == [[], ["community:ref.outside_parent"], []]
    held = out.quarantine.select("row_number", "rule_id", "field").rows()
    assert held == [(2, "ref.unknown", "community"), (4, "ref.unknown", "street")]
    reasons = out.quarantine["reason"].to_list()
    assert reasons[0].startswith("「所属社区」在组织机构树的社区（村）中找不到")
    assert reasons[1].startswith("「所属街道」在组织机构树的街道（乡镇）中找不到")
    assert "待核实" not in "".join(reasons)  # reasons never carry the value


def test_callers_naming_unknown_places_are_flagged_never_held():
    spec = SPECS["hotline__ticket"]
    raw = raw_frame(ticketNo=["T1", "T2", "T3"], updatedAt=["2026-08-01 10:00:00"] * 3,
                    street=["如意湖街道", "如意湖", "如意湖街道"], community=["CBD社区", None, "龙子湖社区"],
                    grid=["CBD专属网格1", None, "如意湖社区第1网格"])
    out = standardize(raw, spec, references={ORG: org_tree()})
    assert out.quarantine.is_empty()
    assert out.rows["_issues"].to_list() == [
        [], ["street:ref.unknown"], ["community:ref.outside_parent", "grid_name:ref.outside_parent"]]


def _write(store: RawStore, source: str, dataset: str, table: dict, source_file: str | None = None) -> str:
    with store.write_batch(source, dataset, kind="file") as batch:
        batch.write(pa.table(table), source_file=source_file)
    return store.batches(source, dataset)[-1].batch_id


def test_each_batch_is_checked_against_the_tree_of_its_time(tmp_path):
    store = RawStore(tmp_path / "raw")
    org_spec, roster = SPECS["registry__org_unit"], SPECS["civil_affairs__dibao"]
    tree = org_tree()
    person = {"户主信息/姓名": ["王五"], "户主信息/身份证号": [an_id("19500101")], "所属街道": ["如意湖街道"]}

    # A roster lands before any org tree: standardized, its references reported missing.
    d1 = _write(store, "civil_affairs", "dibao", {**person, "所属社区": ["新城社区"]}, "低保名册_202608.xlsx")
    first = standardize_dataset(store, tmp_path, roster)
    assert first.batches_done == [d1] and first.references_missing == [d1] and first.rows == 1
    assert "references_missing" in first.metadata()

    # The tree lands but is not standardized yet: nothing to redo.
    org_table = {"code": tree["org_code"].to_list(), "name": tree["org_name"].to_list(),
                 "level": tree["org_level"].to_list(), "parent_code": tree["parent_code"].to_list()}
    o1 = _write(store, "registry", "org_unit", org_table, "区划网格_20260831.csv")
    assert standardize_dataset(store, tmp_path, roster).batches_skipped == 1

    # Once it is, the roster is redone against it (its first tree: it is older than any).
    standardize_dataset(store, tmp_path, org_spec)
    redone = standardize_dataset(store, tmp_path, roster)
    assert redone.batches_done == [d1] and redone.quarantined == 1 and redone.by_rule == {"ref.unknown": 1}
    assert redone.reference_batches == {d1: {ORG: o1}}
    assert standardize_dataset(store, tmp_path, roster).batches_skipped == 1  # and then left alone

    # A new tree with the new community: later rosters see it, the old one keeps its verdict.
    grown = {k: [*v, x] for (k, v), x in zip(org_table.items(), ["410190001003", "新城社区", "社区", "410190001"])}
    o2 = _write(store, "registry", "org_unit", grown, "区划网格_20260930.csv")
    standardize_dataset(store, tmp_path, org_spec)
    d2 = _write(store, "civil_affairs", "dibao", {**person, "所属社区": ["新城社区"]}, "低保名册_202609.xlsx")
    later = standardize_dataset(store, tmp_path, roster)
    assert later.batches_done == [d2] and later.batches_skipped == 1 and later.quarantined == 0
    assert later.reference_batches == {d2: {ORG: o2}}
    assert all(r.ok for r in reconcile(store, tmp_path, roster))
    assert pl.read_parquet(layer_path(tmp_path, "quarantine", roster, d1)).height == 1


# ---- 4. floors and traceability codes in their tables --------------------------------------------

def test_building_tax_reads_floors_and_ranges():
    spec = SPECS["building_tax__tax_record"]
    raw = raw_frame("楼宇税收_202608.csv", 统一社会信用代码=["91410100MA45K7TL3P"] * 4, 纳税人名称=["郑州某科技有限公司"] * 4,
                    楼层=["12F", "十二层", "B1", "12-13层"], 所属期=["202608"] * 4, **{"税收合计(万元)": ["1.0000"] * 4})
    out = standardize(raw, spec)
    assert out.rows.select("floor", "floor_to", "floor_raw").rows() == [
        (12, 12, "12F"), (12, 12, "十二层"), (-1, -1, "B1"), (12, 13, "12-13层")]
    assert out.rows.schema["floor"] == pl.Int64
    odd = standardize(raw.with_columns(楼层=pl.lit("夹层")), spec)
    assert odd.quarantine.is_empty() and odd.rows["_issues"][0].to_list() == ["floor:floor.unparseable"]


def test_a_trace_code_that_is_no_code_goes_back():
    good, typo = "41010526081212345676", "41010526081212345677"
    spec = SPECS["traceability__trace_code"]
    raw = raw_frame("追溯码登记_20260831.csv", 追溯码=[good, typo, "410105 260812 1234567 6"],
                    生产企业USCC=["91410100MA45K7TL3P"] * 3, 生产日期=["2026-08-12"] * 3)
    out = standardize(raw, spec)
    assert out.rows.select("trace_code", "trace_region_code", "trace_production_date").rows() == [
        (good, "410105", date(2026, 8, 12)), (good, "410105", date(2026, 8, 12))]
    [held] = out.quarantine.to_dicts()
    assert (held["row_number"], held["rule_id"]) == (2, "trace.bad_checksum")
    assert held["reason"].startswith("「追溯码」追溯码校验位错误")
    events = standardize(raw_frame(event_id=["E1", "E2"], code=[good, typo]), SPECS["traceability__trace_event"])
    assert events.rows["trace_code"].to_list() == [good]
    assert events.quarantine["rule_id"].to_list() == ["trace.bad_checksum"]


# ---- 5. the month of a monthly file ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "month", "issue"), [
    ("低保名册_202608.xlsx", date(2026, 8, 1), None),
    ("区划网格_20260831.csv", date(2026, 8, 1), None),  # the month's last day, as the registry names it
    ("2026年10月低保名册.xlsx", date(2026, 10, 1), None),
    ("2026年十月低保名册.xlsx", date(2026, 10, 1), None),
    ("名册(2026-10).csv", date(2026, 10, 1), None),
    ("名册_2026.8.csv", date(2026, 8, 1), None),
    ("楼宇税收_２０２６０９.csv", date(2026, 9, 1), None),
    ("inbox/civil_affairs/残疾人名册_202609.csv", date(2026, 9, 1), None),
    ("2026年10月名册_20261105导出.xlsx", date(2026, 10, 1), None),  # '年月' says which is the month
    ("名册_202608_202609.xlsx", None, "period.ambiguous_file_name"),
    ("名册_最新.xlsx", None, "period.not_in_file_name"),
    ("410190名册.csv", None, "period.not_in_file_name"),  # a region code is no month
    ("名册_202613.csv", None, "period.not_in_file_name"),
    (None, None, "period.not_in_file_name"),
])
def test_month_in_a_file_name(name, month, issue):
    out = period_from_file_name(pl.Series([name], dtype=pl.String))
    assert out.row(0) == (month, issue)
    assert issue is None or issue in REASONS


@settings(max_examples=40, deadline=None)
@given(st.dates(date(1990, 1, 1), date(2099, 12, 31)), st.sampled_from(
    ["低保名册_{y}{m:02d}.xlsx", "{y}年{m}月特困名册.xlsx", "名册_{y}-{m:02d}.csv", "区划网格_{y}{m:02d}{d:02d}.csv",
     "{y}年{m:02d}月_第2版.xlsx"]))
def test_any_month_in_any_form_reads_back(day, form):
    name = form.format(y=day.year, m=day.month, d=day.day)
    assert period_from_file_name(pl.Series([name])).row(0) == (day.replace(day=1), None)


def test_the_month_comes_from_the_file_name():
    spec = SPECS["civil_affairs__tekun"]
    people = {"供养对象信息/姓名": ["王五", "赵六"], "供养对象信息/身份证号": [an_id("19400101"), an_id("19400102")]}
    out = standardize(raw_frame("特困供养名册_2026年10月.xlsx", **people), spec)
    assert out.rows["period"].to_list() == [date(2026, 10, 1)] * 2 and out.quarantine.is_empty()

    bad = standardize(raw_frame("特困供养名册_最新.xlsx", **people), spec)
    assert bad.rows.is_empty() and bad.quarantine["rule_id"].to_list() == ["period.not_in_file_name"] * 2
    assert bad.quarantine["field"].to_list() == [None, None]
    assert bad.quarantine["reason"][0].startswith("文件名中没有可识别的所属月份")


def test_file_month_is_part_of_the_declaration():
    fields = (Field("name", "姓名"),)
    plain, monthly = TableSpec("s", "d", fields), TableSpec("s", "d", fields, period_from_file="period")
    assert plain.fingerprint() != monthly.fingerprint()
    with pytest.raises(ValueError):
        TableSpec("s", "d", (Field("period", "月份", "period"),), period_from_file="period")
    assert [s.table for s in CIVIL if s.period_from_file] == [
        "civil_affairs__dibao", "civil_affairs__tekun", "civil_affairs__disabled"]


# ---- 6. "now" is the batch's date -----------------------------------------------------------------

ID_SPEC = TableSpec("s", "d", (Field("row_id", "row_id", required=True), Field("id_number", "id", "id_number")))


def test_an_id_born_after_the_batch_is_implausible_whatever_today_is():
    born_2021 = an_id("20210505")
    raw = raw_frame(row_id=["r1"], id=[born_2021])
    flagged = ["id_number:id.bad_birth_date"]
    assert standardize(raw, ID_SPEC, as_of=date(2020, 1, 1)).rows["_issues"][0].to_list() == flagged
    assert standardize(raw, ID_SPEC, as_of=date(2021, 5, 5)).rows["_issues"][0].to_list() == []
    # Without as_of, the batch's own load time decides (Asia/Shanghai date of _loaded_at).
    stamped = raw.with_columns(_loaded_at=pl.lit("2021-05-04T17:00:00+00:00").str.to_datetime(time_zone="UTC"))
    assert standardize(stamped, ID_SPEC).rows["_issues"][0].to_list() == []  # 2021-05-05 01:00 in 郑州
    earlier = stamped.with_columns(_loaded_at=pl.col("_loaded_at").dt.offset_by("-1d"))
    assert standardize(earlier, ID_SPEC).rows["_issues"][0].to_list() == ["id_number:id.bad_birth_date"]


def test_standardize_dataset_uses_the_load_date_of_each_batch(tmp_path):
    store = RawStore(tmp_path / "raw")
    with store.write_batch("s", "d", kind="sql") as batch:
        batch.write(pa.table({"row_id": ["r1"], "id": [an_id("20210505")]}))
    [b] = store.batches("s", "d")
    manifest = b.path / "_manifest.json"
    meta = json.loads(manifest.read_text("utf-8"))
    manifest.write_text(json.dumps({**meta, "loaded_at": "2020-06-01T00:00:00+00:00"}), "utf-8")
    standardize_dataset(store, tmp_path, ID_SPEC)
    rows = pl.read_parquet(layer_path(tmp_path, "standardized", ID_SPEC, b.batch_id))
    assert rows["_issues"].to_list() == [["id_number:id.bad_birth_date"]]
