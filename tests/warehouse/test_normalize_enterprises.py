"""Enterprise-name normalizer: display form, key, organisational form, issues; the dirt of a
small synthetic district; idempotence on generated names."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district import vocab
from warehouse.normalize.enterprises import COLUMNS, REASONS, normalize_enterprise_name


def norm(*values: str | None) -> list[dict]:
    return normalize_enterprise_name(pl.Series(list(values), dtype=pl.String)).to_dicts()


@pytest.fixture(scope="module")
def district(small_district):
    return small_district


def test_columns_length_and_order():
    out = normalize_enterprise_name(pl.Series(["郑州宏融物业服务有限公司", None, "郑州宏融物业服务有限公司"]))
    assert out.columns == COLUMNS
    assert out["enterprise_key"].to_list() == ["宏融物业服务", None, "宏融物业服务"]


@pytest.mark.parametrize("variants", [
    ["新科（郑州）电子商务有限公司", "新科(郑州)电子商务有限公司", "郑州新科（郑州）电子商务有限公司", "新科 (郑州) 电子商务有限责任公司"],
    ["河南德泰建筑工程有限责任公司", "河南德泰建筑工程有限公司", "德泰建筑工程有限公司", "河南省德泰建筑工程股份有限公司",
     "河  南德泰建筑工程有限公司", " 郑州市德泰建筑工程有限公司 "],
    ["郑东新区创豫干洗店", "郑州郑东新区创豫干洗店", " 郑东新区创豫干洗店"],
    ["原阳县汇诚养殖有限公司", "郑州原阳县汇诚养殖有限公司"],
])
def test_variants_share_the_key(variants):
    keys = {r["enterprise_key"] for r in norm(*variants)}
    assert len(keys) == 1 and None not in keys


@pytest.mark.parametrize(("raw", "name", "key", "form"), [
    ("新科(郑州)电子商务有限公司", "新科（郑州）电子商务有限公司", "新科电子商务", "有限公司"),
    ("河南德泰建筑工程有限责任公司", "河南德泰建筑工程有限责任公司", "德泰建筑工程", "有限责任公司"),
    ("郑州市隆康环保科技股份有限公司", "郑州市隆康环保科技股份有限公司", "隆康环保科技", "股份有限公司"),
    ("温县华嘉蔬菜种植专业合作社", "温县华嘉蔬菜种植专业合作社", "温县华嘉蔬菜种植", "专业合作社"),
    ("郑州华润燃气股份有限公司金水分公司", "郑州华润燃气股份有限公司金水分公司", "华润燃气股份有限公司金水", "分公司"),
    ("恒信会计师事务所(普通合伙)", "恒信会计师事务所（普通合伙）", "恒信会计师事务所", "普通合伙"),
    ("郑州ＡＢＣ科技有限公司", "郑州ABC科技有限公司", "ABC科技", "有限公司"),
    ("郑州萬達廣場商業管理有限公司", "郑州万达广场商业管理有限公司", "万达广场商业管理", "有限公司"),
    ("郑东新区辉科便利店", "郑东新区辉科便利店", "辉科便利店", None),
])
def test_display_key_and_form(raw, name, key, form):
    (r,) = norm(raw)
    assert (r["enterprise_name"], r["enterprise_key"], r["org_form"], r["enterprise_issue"]) == (name, key, form, None)


def test_display_keeps_the_written_form_and_prefix():
    a, b = norm("河南德泰建筑工程有限责任公司", "德泰建筑工程有限公司")
    assert a["enterprise_name"] != b["enterprise_name"]  # two registered names, not one


@pytest.mark.parametrize(("value", "issue"), [
    (None, "enterprise.empty"), ("", "enterprise.empty"), ("无", "enterprise.empty"),
    ("郑州?达科技有限公司", "enterprise.bad_chars"), ("郑州有限公司", "enterprise.no_name"),
    ("河南省郑州市有限责任公司", "enterprise.no_name"), ("张三", "enterprise.too_short"),
])
def test_issues(value, issue):
    (r,) = norm(value)
    assert r["enterprise_issue"] == issue and issue in REASONS
    assert r["enterprise_name"] is None and r["enterprise_key"] is None


def test_district_dirt_keeps_the_key(district):
    e = pl.read_parquet(district / "truth" / "errors.parquet").filter(pl.col("field_kind") == "enterprise_name")
    assert set(e["kind"]) >= {"form_variant", "paren_halfwidth", "city_prefix", "stray_space"}
    dirty, true = normalize_enterprise_name(e["dirty_value"]), normalize_enterprise_name(e["true_value"])
    assert (dirty["enterprise_key"] == true["enterprise_key"]).all()
    for kind in ("paren_halfwidth", "stray_space"):  # these do not change the registered name
        m = e["kind"] == kind
        assert (dirty["enterprise_name"].filter(m) == e["true_value"].filter(m)).all()


def test_every_true_enterprise_is_valid_and_displayed_as_registered(district):
    firms = pl.read_parquet(district / "truth" / "enterprises.parquet")
    out = normalize_enterprise_name(firms["name"])
    assert out["enterprise_issue"].null_count() == firms.height
    assert (out["enterprise_name"] == firms["name"]).all()


@st.composite
def firm_names(draw) -> str:
    prefix = draw(st.sampled_from(["", "郑州", "河南", "郑州市", "河南省"]))
    zihao = "".join(draw(st.lists(st.sampled_from(vocab.FIRM_SYLLABLES), min_size=2, max_size=3)))
    bracket = draw(st.sampled_from(["", "（郑州）", "(郑州)"]))
    name = prefix + zihao + bracket + draw(st.sampled_from(vocab.FIRM_INDUSTRIES)) + draw(st.sampled_from(vocab.FIRM_FORMS))
    if draw(st.booleans()):
        i = draw(st.integers(0, len(name)))
        name = name[:i] + " " + name[i:]
    return name


@settings(max_examples=40, deadline=None)
@given(st.lists(firm_names(), min_size=1, max_size=20))
def test_normalizing_a_normalized_name_changes_nothing(values):
    first = normalize_enterprise_name(pl.Series(values))
    assert first["enterprise_issue"].null_count() == len(values)
    assert normalize_enterprise_name(first["enterprise_name"]).equals(first)
