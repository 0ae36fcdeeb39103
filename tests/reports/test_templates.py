"""The shipped 一表通 templates load strictly, and a broken template is refused naming what is wrong.

Fast and self-contained: no demo home, no base library. Running the pre-fill queries belongs to
the pre-fill tests; here the checks' expressions are only bound against an empty typed row.
"""

from __future__ import annotations

import copy
import re

import duckdb
import pytest
import yaml

from reports.template import TEMPLATE_DIR, TemplateError, load, templates

REQUIRED = {
    # id: (level, kind)
    "key_population_care": ("网格", "roster"),
    "rental_housing": ("网格", "roster"),
    "vacant_housing": ("社区", "roster"),
    "building_economy": ("社区", "roster"),
    "hotline_summary": ("社区", "indicator"),
}
HANZI = re.compile(r"[\u4e00-\u9fff]")
SQL_TYPES = {"text": "varchar", "choice": "varchar", "id_number": "varchar", "phone": "varchar",
             "integer": "bigint", "number": "double", "date": "date"}


def shipped() -> list:
    return sorted(TEMPLATE_DIR.glob("*.yaml"))


# ---- the shipped templates ----------------------------------------------------------------------

def test_every_shipped_template_loads_strictly():
    paths = shipped()
    assert paths, "no templates shipped under reports/templates"
    found = templates()
    assert sorted(found) == sorted(p.stem for p in paths)
    for path in paths:
        t = load(path)
        assert t.id == path.stem
        assert found[t.id] == t


def test_the_required_templates_exist_with_their_level_and_kind():
    found = templates()
    for tid, (level, kind) in REQUIRED.items():
        assert tid in found, f"missing template {tid}"
        assert (found[tid].level, found[tid].kind, found[tid].period) == (level, kind, "month")


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.stem)
def test_shipped_template_is_usable(path):
    t = load(path)
    assert HANZI.search(t.title) and t.description and 2 <= len(t.instructions) <= 5
    # The title names the Excel sheet: at most 31 characters, none of []:*?/\ (xlsxwriter refuses them).
    assert len(t.title) <= 31 and not re.search(r"[\[\]:*?/\\]", t.title), t.title
    assert any(c.editable for c in t.columns), "staff must have something to fill in"
    assert t.row_key not in (c.id for c in t.columns)
    for c in t.columns:
        assert all(HANZI.search(h) for h in c.header), f"{c.id}: headers are Chinese"
        # A locked column that the query does not fill would stay empty forever.
        assert c.editable or "base" in c.prefill, f"{c.id}: locked without a base pre-fill"
        if c.aggregate == "count_if":
            assert c.type != "choice" or c.count_value in c.choices, c.id
    # The query returns the unit, the row key and every base column, and binds only known parameters.
    words = set(re.findall(r"\b\w+\b", t.query))
    for name in ("unit_code", t.row_key, *t.base_columns):
        assert name in words, f"the query does not mention {name}"
    assert set(re.findall(r"\$(\w+)", t.query)) <= {"period_start", "period_end", "period"}


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.stem)
def test_checks_bind_to_the_row(path):
    """Every check is a DuckDB boolean over the row's columns, last_<id> and the period bounds."""
    t = load(path)
    fields = [f"null::{SQL_TYPES[c.type]} as {c.id}" for c in t.columns]
    fields += [f"null::{SQL_TYPES[c.type]} as last_{c.id}" for c in t.columns]
    fields += ["date '2026-11-01' as period_start", "date '2026-11-30' as period_end"]
    con = duckdb.connect()
    try:
        for check in t.checks:
            value = con.execute(f"select ({check.expr}) from (select {', '.join(fields)})").fetchone()[0]
            assert value in (True, False, None), check.id
            assert HANZI.search(check.message), check.id
    finally:
        con.close()


# ---- broken templates are refused ---------------------------------------------------------------

GOOD = {
    "id": "sample",
    "version": 1,
    "title": "样例表",
    "period": "month",
    "level": "社区",
    "kind": "roster",
    "row_key": "building_code",
    "query": "select community_code as unit_code, building_code, name from building",
    "columns": [
        {"id": "name", "header": ["楼栋", "名称"]},
        {"id": "total_units", "header": ["户数", "总户数"], "type": "integer", "prefill": ["last"],
         "editable": True, "aggregate": "sum"},
        {"id": "status", "header": ["状态"], "type": "choice", "choices": ["是", "否"], "prefill": [],
         "editable": True},
    ],
}


def write(tmp_path, doc: dict):
    path = tmp_path / f"{doc['id']}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def broken(**changes):
    """GOOD with changes: a top-level key, or 'col<i>.<key>' for a column (None deletes)."""
    doc = copy.deepcopy(GOOD)
    for key, value in changes.items():
        target, _, name = key.partition(".")
        where = doc["columns"][int(target[3:])] if name else doc
        name = name or target
        if value is None:
            where.pop(name, None)
        else:
            where[name] = value
    return doc


def test_the_sample_itself_loads(tmp_path):
    t = load(write(tmp_path, GOOD))
    assert t.id == "sample" and [c.id for c in t.columns] == ["name", "total_units", "status"]
    assert templates(tmp_path)["sample"] == t


@pytest.mark.parametrize(("doc", "names"), [
    (broken(colour="红"), ["unknown key", "colour"]),
    (broken(**{"col0.colour": "红"}), ["unknown key", "colour", "columns[0]"]),
    (broken(**{"col1.type": "float"}), ["total_units", "`type`", "float"]),
    (broken(**{"col2.choices": None}), ["status", "`choices`"]),
    (broken(**{"col0.aggregate": "sum"}), ["name", "`aggregate: sum`"]),
    (broken(**{"col1.mask": "phone"}), ["total_units", "masked", "editable"]),
    (broken(row_key="name"), ["`row_key`"]),
], ids=["unknown key", "unknown column key", "bad type", "choice without choices", "sum on text",
        "masked editable", "row key is a column"])
def test_broken_template_is_refused_naming_the_key(tmp_path, doc, names):
    with pytest.raises(TemplateError) as caught:
        load(write(tmp_path, doc))
    message = str(caught.value)
    assert message.startswith("sample.yaml:"), message
    for name in names:
        assert name in message, message


def test_id_must_equal_the_file_name(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(GOOD, allow_unicode=True), "utf-8")
    with pytest.raises(TemplateError, match="`id`"):
        load(path)
