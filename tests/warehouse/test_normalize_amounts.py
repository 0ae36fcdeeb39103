"""Amounts: the district's money columns in 分 / 元 / 万元, written forms, exact conversions."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.normalize.amounts import REASONS, UNITS, normalize_amount


@pytest.fixture(scope="session")
def home(small_district: Path) -> Path:
    return small_district


def amounts(*values: str | None, **opts) -> pl.DataFrame:
    opts.setdefault("unit", "元")
    return normalize_amount(pl.Series(values, dtype=pl.String), **opts)


def sql_text(db: Path, query: str) -> list[str]:
    with sqlite3.connect(db) as con:
        return [row[0] for row in con.execute(query)]


def test_pension_amounts_in_fen(home):
    fen = sql_text(home / "systems" / "pension.sqlite", "SELECT CAST(FFJE AS TEXT) FROM YL_FFJL")
    out = normalize_amount(pl.Series(fen), unit="分", to="元")
    assert out["amount_issue"].null_count() == len(fen)
    assert out["amount"].to_list() == [Decimal(v) / 100 for v in fen]


def test_medical_insurance_payments_in_yuan(home):
    # NUMERIC(12, 2) kept by SQLite as REAL: its text is the shortest repr, e.g. '440.7'
    yuan = sql_text(home / "systems" / "medical_insurance.sqlite", "SELECT CAST(amount AS TEXT) FROM payment")
    out = normalize_amount(pl.Series(yuan), unit="元")
    assert out["amount_issue"].null_count() == len(yuan)
    assert out["amount"].to_list() == [Decimal(v) for v in yuan]


def test_building_tax_in_wan_yuan(home):
    path = next((home / "exports" / "building_tax").glob("*.csv"))
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"))))
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]  # ragged lines are the reader's job
    columns = [i for i, name in enumerate(header) if "(万元)" in name]
    wan = [r[i] for r in body for i in columns]
    out = normalize_amount(pl.Series(wan), unit="万元", to="元", scale=2)
    assert len(wan) > 100 and out["amount_issue"].null_count() == len(wan)
    assert out["amount"].to_list() == [Decimal(v) * 10000 for v in wan]
    back = normalize_amount(out["amount"].cast(pl.String), unit="元", to="万元", scale=4)
    assert back["amount"].to_list() == [Decimal(v) for v in wan]


@pytest.mark.parametrize(("raw", "want"), [
    ("1234.56", "1234.56"), ("1,234.56", "1234.56"), ("¥1,234.56", "1234.56"), ("￥１，２３４．５６", "1234.56"),
    ("RMB 100", "100"), ("CNY100", "100"), ("100元", "100"), ("1 234.5", "1234.5"), ("12.5万元", "125000"),
    ("12.5万", "125000"), ("5分", "0.05"), ("-5", "-5"), ("−5", "-5"), ("－5", "-5"), ("(5.00)", "-5"),
    ("（5.00）", "-5"), ("¥-3", "-3"), ("-¥3", "-3"), ("+7", "7"), ("1.2E+05", "120000"), ("1e-2", "0.01"),
    (".5", "0.5"), ("12.", "12"), ("-0", "0"), ("12.3400", "12.34"), ("0012", "12"),
])
def test_written_forms(raw, want):
    assert amounts(raw).row(0) == (Decimal(want).quantize(Decimal("0.01")), None)


@pytest.mark.parametrize(("raw", "issue"), [
    (None, "amount.empty"), ("", "amount.empty"), ("  ", "amount.empty"),
    ("abc", "amount.unparseable"), ("1,5", "amount.unparseable"), ("1,2345", "amount.unparseable"),
    ("(-5)", "amount.unparseable"), ("(5", "amount.unparseable"), ("--5", "amount.unparseable"), ("元", "amount.unparseable"),
    ("约100元", "amount.unparseable"), ("100元/月", "amount.unparseable"), ("1.2.3", "amount.unparseable"),
    ("12.345", "amount.too_many_decimals"), ("440.70000000000005", "amount.too_many_decimals"),
    ("99999999999999999", "amount.out_of_range"), ("1e+20", "amount.out_of_range"),
])
def test_issues(raw, issue):
    assert amounts(raw).row(0) == (None, issue)


def test_options():
    assert amounts("-5", "(5)", "-0", allow_negative=False)["amount_issue"].to_list() == [
        "amount.negative", "amount.negative", None]
    out = amounts("12.345", scale=3)
    assert out.row(0) == (Decimal("12.345"), None) and out.schema["amount"] == pl.Decimal(18, 3)
    assert amounts("1.5", to="分", scale=0).row(0) == (Decimal(150), None)
    # the unit written in the value wins over the column's unit
    assert amounts("4358.00元", unit="万元", to="万元", scale=4).row(0) == (Decimal("0.4358"), None)
    with pytest.raises(ValueError):
        amounts("1", unit="美元")
    with pytest.raises(ValueError):
        amounts("1", scale=19)


def test_reasons_cover_codes_in_plain_chinese():
    assert set(REASONS) == {"amount.empty", "amount.unparseable", "amount.too_many_decimals",
                            "amount.out_of_range", "amount.negative"}
    assert all(re.search(r"[\u4e00-\u9fff]", text) and "{" not in text for text in REASONS.values())


money = st.decimals(min_value=Decimal("-9999999999.9999"), max_value=Decimal("9999999999.9999"), places=4)


@settings(max_examples=25, deadline=None)
@given(st.lists(money, min_size=1, max_size=40), st.sampled_from(list(UNITS)), st.sampled_from(list(UNITS)))
def test_unit_conversions_are_exact(values, unit, to):
    out = normalize_amount(pl.Series([str(v) for v in values]), unit=unit, to=to, scale=6)
    for v, got, issue in zip(values, out["amount"], out["amount_issue"]):
        exact = v.scaleb(UNITS[unit] - UNITS[to])
        if exact != exact.quantize(Decimal("1e-6")):
            assert (got, issue) == (None, "amount.too_many_decimals")
        elif abs(exact) >= Decimal("1e12"):  # Decimal(18, 6) holds 12 integer digits
            assert (got, issue) == (None, "amount.out_of_range")
        else:
            assert (got, issue) == (exact, None)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-10**15, 10**15), min_size=1, max_size=40))
def test_fen_to_yuan_and_back(fen):
    yuan = normalize_amount(pl.Series([str(f) for f in fen]), unit="分", to="元")["amount"]
    back = normalize_amount(yuan.cast(pl.String), unit="元", to="分", scale=0)["amount"]
    assert back.to_list() == [Decimal(f) for f in fen]


def _spell(v: Decimal, style: int) -> str:
    plain = f"{abs(v):,.2f}"
    sign = "-" if v < 0 else ""
    return [f"{v:.2f}", sign + plain, f"{sign}¥{plain}", f"{sign}{plain}元",
            (f"({plain})" if v < 0 else plain), f"{v:.2f}".translate(str.maketrans("0123456789.-", "０１２３４５６７８９．－"))][style]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.decimals(min_value=-10**9, max_value=10**9, places=2), st.integers(0, 5)),
                min_size=1, max_size=40))
def test_every_spelling_reads_the_same(cases):
    out = normalize_amount(pl.Series([_spell(v, style) for v, style in cases]), unit="元")
    assert out["amount"].to_list() == [v for v, _ in cases]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.text("0123456789０１２３４５６７８９٣-/.:年月日 XxE+,¥元万", max_size=25)),
                max_size=30))
def test_any_text_gives_one_row_per_value_and_known_codes(values):
    out = normalize_amount(pl.Series(values, dtype=pl.String), unit="万元")
    assert len(out) == len(values)
    assert set(out["amount_issue"].drop_nulls()) <= set(REASONS)
