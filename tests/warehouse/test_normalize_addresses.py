"""Address parser and building matcher: inline forms, a hand-made ledger for each match tier,
and a small synthetic district checked against its truth."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district import vocab
from warehouse.normalize.addresses import COLUMNS, REASONS, match_buildings, parse_address, parse_building

EXAMPLE = "河南省郑州市郑东新区如意湖街道康宁街社区商务外环路17号绿地原盛国际3号楼1单元1901室"


def parse(*values: str | None) -> list[dict]:
    return parse_address(pl.Series(list(values), dtype=pl.String)).to_dicts()


@pytest.fixture(scope="module")
def district(small_district):
    return small_district


@pytest.fixture(scope="module")
def ledger(district) -> pl.DataFrame:
    # the raw CSV as text, the way it lands (it has dirty addresses and a ragged line or two)
    path = sorted((district / "exports" / "registry").glob("楼栋台账_*.csv"))[-1]
    return pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)


# --- parsing --------------------------------------------------------------------------------

def test_full_example_is_split_into_every_part():
    (r,) = parse(EXAMPLE)
    assert {k: r[k] for k in COLUMNS} == {
        "province": "河南省", "city": "郑州市", "district": "郑东新区", "street": "如意湖街道",
        "community": "康宁街社区", "road": "商务外环路", "road_number": "17", "cross_road": None,
        "building": "绿地原盛国际3号楼", "unit": "1", "floor": 19, "room": "1901",
        "address": "郑州市郑东新区如意湖街道康宁街社区商务外环路17号绿地原盛国际3号楼1单元1901室",
        "address_key": "绿地原盛国际|3|1|1901", "address_issue": None,
    }


VARIANTS = [
    "郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元1901室",
    "河南省郑州市郑东新区商鼎路东延74號绿地原盛国际3號楼1单元1901室",  # prefix, 號
    "商鼎路东延７４号绿地原盛国际３号楼１单元１９０１室",  # no prefix, full-width
    "郑东新区商鼎路东延74号绿地原盛国际3栋1单元19楼01室",  # 栋, 19楼01室
    "郑州市商鼎路东延74号绿地原盛国际3幢1-1901",  # 幢, unit-room
    "郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元19层01",
    "郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元19层01号",
    "郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元1901",
    "郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元19F01室",
    " 郑州市 郑东新区 商鼎路东延74号 绿地原盛国际3号楼 1单元  1901室 ",
    "郑州市郑東新區商鼎路東延74號綠地原盛國際3號樓1單元1901室",  # traditional
    "绿地原盛国际三号楼一单元1901室",  # no road, Chinese numerals
    "绿地原盛国际3#1单元1901室",
    "绿地原盛国际3-1-1901",
    "郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元1901室（东门）",
]


def test_variants_of_one_flat_share_key_building_unit_floor_room():
    out = parse_address(pl.Series(VARIANTS))
    for col, want in (("address_key", "绿地原盛国际|3|1|1901"), ("building", "绿地原盛国际3号楼"),
                      ("unit", "1"), ("floor", 19), ("room", "1901")):
        assert out[col].to_list() == [want] * len(VARIANTS), col
    assert out["address_issue"].null_count() == len(VARIANTS)
    with_road = out.filter(pl.col("road").is_not_null())
    assert set(with_road["address"]) == {"郑州市郑东新区商鼎路东延74号绿地原盛国际3号楼1单元1901室"}


@pytest.mark.parametrize(("value", "parts"), [
    ("郑州市郑东新区如意西路10号千玺广场2807室", {"building": "千玺广场", "floor": 28, "room": "2807", "unit": None}),
    ("郑州市郑东新区明理路275号宝龙城市广场1号楼", {"building": "宝龙城市广场1号楼", "city": "郑州市", "room": None}),
    ("宝龙城市广场1号楼", {"building": "宝龙城市广场1号楼", "city": None}),  # '城市' is no city
    ("天地湾东区3号楼2单元101室", {"district": None, "building": "天地湾东区3号楼", "floor": 1}),
    ("郑州市郑东新区郑开大道377号郑东新区智能制造产业园2号厂房", {"building": "郑东新区智能制造产业园2号厂房"}),
    ("郑州市郑东新区如意湖街道龙王庙村", {"street": "如意湖街道", "community": "龙王庙村", "address_issue": None}),
    ("郑州市郑东新区白沙镇杨桥村", {"street": "白沙镇", "community": "杨桥村"}),
    ("绿地原盛国际2号院3号楼1单元1901室", {"building": "绿地原盛国际2号院3号楼", "room": "1901"}),
    ("升龙国际中心A座15层", {"building": "升龙国际中心A座", "floor": 15, "room": None}),
    ("龙湖中环路1号院", {"road": "龙湖中环路", "road_number": "1", "building": None}),
])
def test_forms(value, parts):
    (r,) = parse(value)
    assert {k: r[k] for k in parts} == parts


def test_intersection_in_either_order_shares_a_key():
    a, b, c = parse("郑州市郑东新区众意路与商务外环路交叉口", "众意路和商务外环路路口", "商务外环路与众意路交叉口附近")
    assert (a["road"], a["cross_road"], a["building"]) == ("众意路", "商务外环路", None)
    assert a["address"] == "郑州市郑东新区众意路与商务外环路交叉口"
    assert a["address_key"] == b["address_key"] == c["address_key"]


@pytest.mark.parametrize(("value", "issue"), [
    (None, "address.empty"), ("", "address.empty"), ("   ", "address.empty"),
    ("郑州市郑东新区", "address.incomplete"), ("郑州市中牟县华鑫村", "address.outside_district"),
    ("山东省寿光市华鑫村", "address.outside_district"), ("郑州市金水区农业路1号", "address.outside_district"),
])
def test_issues(value, issue):
    (r,) = parse(value)
    assert r["address_issue"] == issue
    assert issue in REASONS
    assert (r["address"] is None) == (issue == "address.empty")


def test_outside_addresses_keep_their_own_prefix():
    (r,) = parse("郑州市中牟县华鑫村")
    assert r["address"] == "郑州市中牟县华鑫村"
    (r,) = parse("郑州陈砦蔬菜批发市场")  # the city's name opens a proper name: nothing added
    assert r["address"] == "郑州陈砦蔬菜批发市场"


def test_same_length_and_order_with_duplicates_and_nulls():
    values = [EXAMPLE, None, "宝龙城市广场1号楼", EXAMPLE, ""]
    out = parse_address(pl.Series(values))
    assert out.height == 5 and out.columns == COLUMNS
    assert out["building"].to_list() == ["绿地原盛国际3号楼", None, "宝龙城市广场1号楼", "绿地原盛国际3号楼", None]


def test_parse_building_keeps_names_that_start_like_a_prefix():
    s = pl.Series(["郑东新区智能制造产业园1号厂房", "绿地原盛国际3栋", "千玺广场", None])
    assert parse_building(s).to_list() == ["郑东新区智能制造产业园1号厂房", "绿地原盛国际3号楼", "千玺广场", None]


# --- matching on a hand-made ledger ----------------------------------------------------------

LEDGER = pl.DataFrame({
    "building_code": ["LD1", "LD2", "LD3", "LD4", "LD5", "LD5"],  # LD5 twice: a duplicated row
    "name": ["正商外滩1号楼", "正商外滩2号楼", "千玺广场", "河南农业银行大厦", "杨金产业园1号厂房", "杨金产业园1号厂房"],
    "address": ["平安大道339号", "河南省郑州市郑东新区平安大道３３９号", "如意西路10号", "众意路267号", "象湖路236号",
                "象湖路236号"],
    "grid_code": ["G1", "G1", "G2", "G3", "G4", "G4"],
})


@pytest.mark.parametrize(("value", "code", "method", "issue"), [
    ("郑州市郑东新区平安大道339号正商外滩2号楼1单元901室", "LD2", "exact", None),
    ("正商外滩1号楼1单元901室", "LD1", "name", None),  # no road
    ("郑州市郑东新区如意西路10号千玺广场2807室", "LD3", "exact", None),
    ("千玺广场2807室", "LD3", "name", None),
    ("郑州绿地中心千玺广场2807室", "LD3", "name", None),  # one name contains the other
    ("平安大道339号2号楼1单元901室", "LD2", "road_number", None),  # complex name missing
    ("众意路267号", "LD4", "road_number", None),  # the only building at that door
    ("象湖路236号杨金产业园1号厂房", "LD5", "exact", None),  # duplicate ledger rows count once
    ("平安大道339号", None, None, "address.ambiguous"),  # two buildings at that door
    ("正商外滩1单元901室", None, None, "address.ambiguous"),
    ("郑州市郑东新区众意路与商务外环路交叉口", None, None, "address.no_building_match"),
    ("郑州市郑东新区金光路90号康桥香溪郡1号楼", None, None, "address.no_building_match"),
    (None, None, None, "address.empty"),
    ("郑州市金水区平安大道339号正商外滩2号楼", None, None, "address.outside_district"),  # not ours: never matched
])
def test_match_tiers(value, code, method, issue):
    parsed = parse_address(pl.Series([value], dtype=pl.String))
    (r,) = match_buildings(parsed, LEDGER).to_dicts()
    assert (r["building_code"], r["match_method"], r["address_issue"]) == (code, method, issue)
    if code:
        assert r["grid_code"] == LEDGER.filter(pl.col("building_code") == code)["grid_code"][0]


def test_aliases_resolve_colloquial_names():
    parsed = parse_address(pl.Series(["农行大厦", "大玉米"]))
    out = match_buildings(parsed, LEDGER, aliases={"农行大厦": "河南农业银行大厦"})
    assert out["building_code"].to_list() == ["LD4", None]
    assert out["match_method"].to_list() == ["name", None]


# --- against the district's truth -------------------------------------------------------------

def test_address_dirt_keeps_key_and_canonical_text(district):
    e = pl.read_parquet(district / "truth" / "errors.parquet").filter(
        (pl.col("field_kind") == "address") & (pl.col("source") != "registry"))
    dirty, true = parse_address(e["dirty_value"]), parse_address(e["true_value"])
    assert set(e["kind"]) >= {"prefix", "floor_form", "fullwidth", "traditional_hao", "stray_space"}
    assert (dirty["address_key"] == true["address_key"]).all()
    assert (dirty["address"] == e["true_value"]).all()  # the truth is written canonically


def test_insured_person_addresses_all_match_their_true_building(district, ledger):
    with sqlite3.connect(district / "systems" / "medical_insurance.sqlite") as con:
        rows = con.execute("SELECT person_no, address FROM insured_person").fetchall()
    ip = pl.DataFrame(rows, schema=["person_no", "address"], orient="row")
    truth = pl.read_parquet(district / "truth" / "source_rows.parquet").filter(
        (pl.col("dataset") == "insured_person") & (pl.col("role") == "subject")).select(
        person_no="row_key", person_id="entity_id").join(
        pl.read_parquet(district / "truth" / "persons.parquet").select("person_id", "building_code"), on="person_id")
    ip = ip.join(truth, on="person_no", how="left")
    m = match_buildings(parse_address(ip["address"]), ledger)
    assert (m["building_code"] == ip["building_code"]).all()


def test_hotline_addresses_match_without_false_positives(district, ledger):
    t = pl.read_ndjson(district / "systems" / "hotline" / "tickets.jsonl").unique("ticketNo", keep="last")
    loc = pl.read_parquet(district / "truth" / "source_rows.parquet").filter(
        (pl.col("dataset") == "tickets") & (pl.col("role") == "location")).select(ticketNo="row_key", true="entity_id")
    t = t.join(loc, on="ticketNo", how="left")
    m = pl.concat([t.select("true"), match_buildings(parse_address(t["address"]), ledger)], how="horizontal")
    located = m.filter(pl.col("true").is_not_null())
    assert (located["building_code"] == located["true"]).all()
    # tickets at a crossroads have no building and get none
    assert m.filter(pl.col("true").is_null())["building_code"].null_count() == m["true"].null_count()


# --- properties ---------------------------------------------------------------------------------

_ROADS = sorted({r for _, roads, _ in vocab.STREETS for r in roads})


@st.composite
def addresses(draw) -> tuple[str, str]:
    """(canonical, dirty) pairs: the district's own address grammar and dirt."""
    road = draw(st.sampled_from(_ROADS))
    number = draw(st.integers(1, 399))
    name = draw(st.sampled_from(vocab.RESIDENTIAL_COMPLEXES)) + draw(st.sampled_from(vocab.COMPLEX_PHASES))
    b, unit, floor, pos = (draw(st.integers(1, 24)), draw(st.integers(1, 3)), draw(st.integers(1, 33)),
                           draw(st.integers(1, 4)))
    tail = f"{b}号楼{unit}单元{floor}{pos:02d}室"
    canonical = f"郑州市郑东新区{road}{number}号{name}{tail}"
    prefix = draw(st.sampled_from(["", "河南省郑州市郑东新区", "郑州市郑东新区", "郑东新区", "郑州市"]))
    tail = draw(st.sampled_from([tail, f"{b}号楼{unit}单元{floor}楼{pos:02d}室", f"{b}栋{unit}-{floor}{pos:02d}",
                                 f"{b}幢{unit}单元{floor}层{pos:02d}号"]))
    dirty = f"{prefix}{road}{number}号{name}{tail}"
    if draw(st.booleans()):
        dirty = dirty.translate(str.maketrans("0123456789", "０１２３４５６７８９")).replace("号", "號")
    return canonical, dirty


@settings(max_examples=25, deadline=None)
@given(st.lists(addresses(), min_size=1, max_size=15))
def test_dirty_forms_parse_to_the_canonical_address_and_parsing_is_idempotent(pairs):
    canonical = pl.Series([c for c, _ in pairs])
    dirty = parse_address(pl.Series([d for _, d in pairs]))
    assert dirty["address"].to_list() == canonical.to_list()
    again = parse_address(dirty["address"])
    assert again.drop("province", "city", "district").equals(dirty.drop("province", "city", "district"))


def test_one_pass_reads_like_the_step_by_step_path(monkeypatch):
    from warehouse.normalize import addresses

    values = pl.Series([EXAMPLE, *VARIANTS, "郑州市郑东新区众意路与商务外环路交叉口", "郑州市郑东新区如意湖街道龙王庙村",
                        "郑州市郑东新区白沙镇杨桥村", "郑州市郑东新区如意西路10号千玺广场2807室", "郑州陈砦蔬菜批发市场",
                        "郑东新区CBD社区千玺广场19楼", "龙湖中环路1号院", "3号楼1单元101室", None, ""])
    fast = parse_address(values)
    one_pass = addresses._head_fast
    monkeypatch.setattr(addresses, "_head_fast",
                        lambda u, d, c: one_pass(u, d, c).with_columns(_redo=pl.lit(True)))
    assert parse_address(values).equals(fast)
