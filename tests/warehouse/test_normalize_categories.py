"""Hotline categories: the shipped tree is well formed and covers the district's categories;
variant paths map to one code; what cannot be mapped says why."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district import vocab
from warehouse.normalize.categories import COLUMNS, REASONS, load_category_tree, normalize_category


@pytest.fixture(scope="module")
def tree() -> pl.DataFrame:
    return load_category_tree()


def norm(*values: str | None) -> list[dict]:
    return normalize_category(pl.Series(list(values), dtype=pl.String)).to_dicts()


def test_tree_codes_are_unique_and_nested(tree):
    assert tree["code"].is_unique().all()
    assert (tree["code"].str.len_chars() == tree["level"] * 2).all()
    children = tree.filter(pl.col("parent_code").is_not_null())
    assert children["code"].str.starts_with(children["parent_code"]).all()
    assert children["parent_code"].is_in(tree["code"].implode()).all()


def test_every_name_and_alias_sits_at_one_node(tree):
    names = pl.concat([tree["name"], tree["aliases"].explode().drop_nulls()])
    assert names.is_unique().all()


def test_tree_covers_every_category_the_hotline_uses(tree):
    paths = [f"{l1}/{l2}/{l3}" for l1, subs in vocab.CATEGORIES.items() for l2, leaves in subs.items() for l3 in leaves]
    out = normalize_category(pl.Series(paths))
    assert out["category_issue"].null_count() == len(paths)
    assert out["category"].to_list() == paths
    assert out["category_code"].is_unique().all()


VARIANTS = ["城乡建设/市政设施/路灯不亮", "城乡建设-市政设施-路灯不亮", "城乡建设 > 市政设施 > 路灯不亮",
            "城乡建设／市政设施／路灯不亮", "城乡建设\\市政设施\\路灯不亮", "城乡建设|市政设施|路灯不亮",
            " 城乡建设 / 市政设施 / 路灯不亮 ", "城乡建设->市政设施->路灯不亮", "城乡建设、市政设施、路灯不亮",
            "市政设施/路灯不亮", "路灯不亮", "城乡建设市政设施路灯不亮", "城鄉建設/市政設施/路燈不亮",
            "城建/市政/路灯故障", "城乡建设/路灯不亮"]


def test_variants_map_to_one_code():
    out = normalize_category(pl.Series(VARIANTS))
    assert out["category_code"].to_list() == ["010101"] * len(VARIANTS)
    assert out["category_issue"].null_count() == len(VARIANTS)
    assert set(zip(out["category_l1"], out["category_l2"], out["category_l3"])) == {("城乡建设", "市政设施", "路灯不亮")}


def test_aliases():
    (r,) = norm("城管/噪音/广场舞扰民")
    assert (r["category_l1"], r["category_l2"], r["category_l3"]) == ("城市管理", "噪声污染", "广场舞噪音")


@pytest.mark.parametrize(("value", "issue", "code"), [
    (None, "category.empty", None), ("", "category.empty", None), (" / ", "category.empty", None),
    ("外星人入侵", "category.unknown", None), ("其他/其他/其他", "category.unknown", None),
    ("城乡建设", "category.incomplete", "01"), ("城乡建设/市政设施", "category.incomplete", "0101"),
    ("城乡建设/市政设施/路灯坏了", "category.incomplete", "0101"),
    ("城市管理/价格监管/乱收费", "category.conflict", None),
])
def test_issues(value, issue, code):
    (r,) = norm(value)
    assert (r["category_issue"], r["category_code"]) == (issue, code)
    assert (r["category"] is None) == (code is None)
    assert issue in REASONS


def test_same_length_and_order():
    out = normalize_category(pl.Series(["路灯不亮", None, "停水", "路灯不亮"]))
    assert out.columns == COLUMNS
    assert out["category_code"].to_list() == ["010101", None, "080101", "010101"]


_LEAVES = [(l1, l2, l3) for l1, subs in vocab.CATEGORIES.items() for l2, leaves in subs.items() for l3 in leaves]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_LEAVES), st.sampled_from(["/", "-", " > ", "／", "|"]),
                          st.sampled_from(["full", "l2", "leaf"])), min_size=1, max_size=20))
def test_any_written_form_of_a_leaf_gives_its_code(items):
    full = [f"{a}/{b}/{c}" for (a, b, c), _, _ in items]
    written = [sep.join({"full": [a, b, c], "l2": [b, c], "leaf": [c]}[form]) for (a, b, c), sep, form in items]
    assert normalize_category(pl.Series(written)).equals(normalize_category(pl.Series(full)))
