"""Resident ID numbers and USCCs: the synthetic district's clean values and injected dirt,
plus properties of the check-digit schemes."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district.ids import USCC_ALPHABET, id_check_char, org_check_char, uscc_check_char
from warehouse.normalize.identifiers import (
    REASONS,
    id_check_char as id_check_expr,
    normalize_id_number,
    normalize_uscc,
)

AS_OF = date(2026, 12, 31)  # the district's months are 2026-08..10; babies are born up to then
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@pytest.fixture(scope="session")
def truth(small_district: Path) -> dict[str, pl.DataFrame]:
    out = small_district
    return {name: pl.read_parquet(out / "truth" / f"{name}.parquet") for name in ("persons", "enterprises", "errors")}


def ids(*values: str | None) -> pl.DataFrame:
    return normalize_id_number(pl.Series(values, dtype=pl.String), as_of=AS_OF)


# --- ID numbers from the district -------------------------------------------------------------

def test_every_clean_id_validates_with_its_birth_date_and_sex(truth):
    persons = truth["persons"]
    out = normalize_id_number(persons["id_number"], as_of=AS_OF)
    assert out["id_issue"].null_count() == len(out)
    assert out["id_number"].equals(persons["id_number"], check_names=False)
    assert out["birth_date"].equals(persons["birth_date"], check_names=False)
    assert out["sex"].equals(persons["sex"], check_names=False)
    assert out["region_code"].equals(persons["id_number"].str.slice(0, 6), check_names=False)
    assert not out["id_upgraded_from_15"].any()


def test_injected_id_dirt(truth):
    dirt = truth["errors"].filter(pl.col("field_kind") == "id_number", pl.col("kind") != "missing_field")
    out = pl.concat([dirt, normalize_id_number(dirt["dirty_value"], as_of=AS_OF)], how="horizontal")
    fixable = out.filter(pl.col("kind").is_in(["legacy15", "lowercase_x", "fullwidth", "spaces"]))
    assert len(fixable) and (fixable["id_number"] == fixable["true_value"]).all()
    legacy = out.filter(pl.col("kind") == "legacy15")
    assert len(legacy) and legacy["id_upgraded_from_15"].all()
    # A mistyped digit is always caught; in the birth date part it may show as a bad date.
    mistyped = out.filter(pl.col("kind") == "bad_checksum")
    assert len(mistyped) and mistyped["id_number"].null_count() == len(mistyped)
    assert set(mistyped["id_issue"]) <= {"id.bad_checksum", "id.bad_birth_date"}
    excel = out.filter(pl.col("kind") == "excel_float")
    flagged = normalize_id_number(excel["dirty_value"], as_of=AS_OF, from_spreadsheet=True)
    assert len(excel) and (flagged["id_issue"] == "id.excel_precision_lost").all()
    assert (flagged["id_known_prefix"] == excel["true_value"].str.slice(0, 15)).all()


def test_excel_float_images_of_ids():
    true = "410182195412063593"  # Excel keeps 410182195412063000; its double is …062976
    forms = ["410182195412063000", str(int(float("410182195412063000"))), "4.10182195412063E+17",
             "4.10182195412063e17", "410182195412063000.0"]
    out = normalize_id_number(pl.Series(forms), as_of=AS_OF)
    assert (out["id_issue"] == "id.excel_precision_lost").all()
    assert out["id_known_prefix"].to_list() == [true[:15]] * 5
    assert out["id_number"].null_count() == 5


def test_float_image_with_a_matching_check_digit_depends_on_the_source():
    # A genuine ID ending in '000' (sequence 'x00', check '0') looks exactly like an Excel image.
    value = next(v for day in range(10, 29) for v in [f"410105194912{day}100" + id_check_char(f"410105194912{day}100")]
                 if v.endswith("000"))
    assert normalize_id_number(pl.Series([value]), as_of=AS_OF)["id_issue"][0] is None
    spreadsheet = normalize_id_number(pl.Series([value]), as_of=AS_OF, from_spreadsheet=True)
    assert spreadsheet["id_issue"][0] == "id.excel_precision_lost"


def test_id_issue_codes():
    body = "41010519491231001"
    wrong = "0" if id_check_char(body) != "0" else "1"
    out = ids(None, "", "   ", "4101051949123", "41010519491231001A", "4101051949123100X1", "410105194913310019",
              "410105190002300011", "410105203001010013", "410105189912310011", body + wrong)
    assert out["id_issue"].to_list() == [
        "id.empty", "id.empty", "id.empty", "id.bad_length", "id.bad_chars", "id.bad_chars", "id.bad_birth_date",
        "id.bad_birth_date", "id.bad_birth_date", "id.bad_birth_date", "id.bad_checksum"]
    assert out.columns == ["id_number", "id_issue", "id_upgraded_from_15", "birth_date", "sex", "region_code",
                           "id_known_prefix"]
    assert out.drop("id_issue", "id_upgraded_from_15").null_count().row(0) == (len(out),) * 5


def test_id_cleanup_forms():
    want = "41010519621212439X"
    out = ids("41010519621212439x", " 410105 19621212 439X ", "４１０１０５１９６２１２１２４３９Ｘ", "'41010519621212439X",
              "41010519621212439X\u200b", "410105621212439", "410105621212439.0")
    assert out["id_number"].to_list() == [want] * 7
    assert out["id_upgraded_from_15"].to_list() == [False] * 5 + [True] * 2
    assert out["birth_date"].to_list() == [date(1962, 12, 12)] * 7
    assert out["sex"].to_list() == ["男"] * 7


def test_id_check_char_expression_matches_reference():
    bodies = ["41010519621212439", "11010519491231002", "00000000000000000", "1234567890123456a", None, "123"]
    got = pl.DataFrame({"body": bodies}).select(id_check_expr(pl.col("body"))).to_series().to_list()
    assert got == [id_check_char(b) for b in bodies[:3]] + [None, None, None]


def test_reasons_cover_codes_in_plain_chinese():
    codes = {"id.empty", "id.bad_length", "id.bad_chars", "id.bad_birth_date", "id.bad_checksum",
             "id.excel_precision_lost", "uscc.empty", "uscc.bad_length", "uscc.bad_chars", "uscc.bad_checksum",
             "uscc.bad_org_code"}
    assert set(REASONS) == codes
    # fixed sentences: no placeholder a value could be formatted into
    assert all(re.search(r"[\u4e00-\u9fff]", text) and "{" not in text for text in REASONS.values())


# --- ID properties ------------------------------------------------------------------------------

regions = st.integers(110000, 829999).map(str)
birth_dates = st.dates(date(1900, 1, 1), date(2025, 12, 31))
sequences = st.integers(0, 999).map(lambda n: f"{n:03d}")


@st.composite
def valid_ids(draw, births=birth_dates) -> str:
    body = draw(regions) + draw(births).strftime("%Y%m%d") + draw(sequences)
    return body + id_check_char(body)


@settings(max_examples=25, deadline=None)
@given(st.lists(valid_ids(), min_size=1, max_size=40))
def test_valid_ids_round_trip(values):
    out = normalize_id_number(pl.Series(values), as_of=AS_OF)
    assert out["id_issue"].null_count() == len(values)
    assert out["id_number"].to_list() == values
    assert out["birth_date"].to_list() == [date(int(v[6:10]), int(v[10:12]), int(v[12:14])) for v in values]
    assert out["sex"].to_list() == ["男" if int(v[16]) % 2 else "女" for v in values]


@st.composite
def corrupted_ids(draw) -> str:
    value, position = draw(valid_ids()), draw(st.integers(0, 17))
    alphabet = "0123456789X" if position == 17 else "0123456789"
    new = draw(st.sampled_from([c for c in alphabet if c != value[position]]))
    return value[:position] + new + value[position + 1:]


@settings(max_examples=25, deadline=None)
@given(st.lists(corrupted_ids(), min_size=1, max_size=40))
def test_one_changed_character_is_always_detected(values):
    out = normalize_id_number(pl.Series(values), as_of=AS_OF)
    assert out["id_number"].null_count() == len(values) and out["id_issue"].null_count() == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(valid_ids(st.dates(date(1900, 1, 1), date(1999, 12, 31))), min_size=1, max_size=40))
def test_legacy_15_upgrade_then_downgrade_gives_the_original(values):
    legacy = [v[:6] + v[8:17] for v in values]
    out = normalize_id_number(pl.Series(legacy), as_of=AS_OF)
    assert out["id_number"].to_list() == values
    assert out["id_upgraded_from_15"].all()
    assert out.select(pl.col("id_number").str.slice(0, 6) + pl.col("id_number").str.slice(8, 9)
                      ).to_series().to_list() == legacy


@st.composite
def variants(draw) -> tuple[str, str]:
    value = draw(valid_ids())
    variant = value.lower() if draw(st.booleans()) else value
    variant = variant.translate(FULLWIDTH) if draw(st.booleans()) else variant
    pad = draw(st.sampled_from(["", " ", "\u3000", "\t"]))
    return value, pad + variant + pad


@settings(max_examples=25, deadline=None)
@given(st.lists(variants(), min_size=1, max_size=40))
def test_fullwidth_and_spaced_variants_normalize_alike(pairs):
    out = normalize_id_number(pl.Series([v for _, v in pairs]), as_of=AS_OF)
    assert out["id_number"].to_list() == [value for value, _ in pairs]


# --- USCC -----------------------------------------------------------------------------------------

def test_every_clean_uscc_validates(truth):
    usccs = truth["enterprises"]["uscc"]
    out = normalize_uscc(usccs)
    assert out["uscc_issue"].null_count() == len(out)
    assert out["uscc"].equals(usccs, check_names=False)
    assert out["region_code"].equals(usccs.str.slice(2, 6), check_names=False)


def test_injected_uscc_dirt(truth):
    dirt = truth["errors"].filter(pl.col("field_kind") == "uscc", pl.col("kind") != "missing_field")
    out = pl.concat([dirt, normalize_uscc(dirt["dirty_value"])], how="horizontal")
    fixable = out.filter(pl.col("kind").is_in(["lowercase", "spaces"]))
    assert len(fixable) and (fixable["uscc"] == fixable["true_value"]).all()
    assert (out.filter(pl.col("kind") == "letter_o")["uscc_issue"] == "uscc.bad_chars").all()
    mistyped = out.filter(pl.col("kind") == "mistyped")
    assert len(mistyped) and (mistyped["uscc_issue"] == "uscc.bad_checksum").all()


def test_uscc_issue_codes_and_parts():
    good = "91410105733905341U"
    bad_org = good[:16] + ("0" if good[16] != "0" else "1")
    bad_org = bad_org + uscc_check_char(bad_org)  # main check repaired, organisation code broken
    out = normalize_uscc(pl.Series([None, "", "9141010573390534", "91410105733905341S", "91410105733905341T",
                                    bad_org, " 91410105 733905341u ", "９１４１０１０５７３３９０５３４１Ｕ"]))
    assert out["uscc_issue"].to_list() == [
        "uscc.empty", "uscc.empty", "uscc.bad_length", "uscc.bad_chars", "uscc.bad_checksum", "uscc.bad_org_code",
        None, None]
    assert out.row(6) == (good, None, "9", "1", "410105")
    assert normalize_uscc(pl.Series([bad_org]), check_org_code=False)["uscc"][0] == bad_org


@st.composite
def valid_usccs(draw) -> str:
    head = draw(st.sampled_from(["11", "12", "13", "19", "51", "52", "53", "59", "91", "92", "93", "Y1"]))
    org8 = "".join(draw(st.lists(st.sampled_from(USCC_ALPHABET), min_size=8, max_size=8)))
    body = head + draw(regions) + org8 + org_check_char(org8)
    return body + uscc_check_char(body)


@settings(max_examples=25, deadline=None)
@given(st.lists(valid_usccs(), min_size=1, max_size=40))
def test_valid_usccs_round_trip(values):
    out = normalize_uscc(pl.Series(values))
    assert out["uscc_issue"].null_count() == len(values) and out["uscc"].to_list() == values


@st.composite
def corrupted_usccs(draw) -> str:
    value, position = draw(valid_usccs()), draw(st.integers(0, 17))
    new = draw(st.sampled_from([c for c in USCC_ALPHABET if c != value[position]]))
    return value[:position] + new + value[position + 1:]


@settings(max_examples=25, deadline=None)
@given(st.lists(corrupted_usccs(), min_size=1, max_size=40))
def test_one_changed_uscc_character_is_always_detected(values):
    out = normalize_uscc(pl.Series(values))
    assert out["uscc"].null_count() == len(values)
    assert out["uscc_issue"].is_in(["uscc.bad_checksum", "uscc.bad_org_code"]).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.text("0123456789０１２３４５６７８９٣-/.:年月日 XxE+,¥元万", max_size=25)),
                max_size=30))
def test_any_text_gives_one_row_per_value_and_known_codes(values):
    for out, column in ((normalize_id_number(pl.Series(values, dtype=pl.String), as_of=AS_OF), "id_issue"),
                        (normalize_uscc(pl.Series(values, dtype=pl.String)), "uscc_issue")):
        assert len(out) == len(values)
        assert set(out[column].drop_nulls()) <= set(REASONS)


def test_the_callers_series_is_left_untouched():
    values = pl.Series(["11010519491231002x", "１１０１０５１９４９１２３１００２X"])
    before = values.to_list()
    normalize_id_number(values)
    normalize_uscc(values)
    assert values.to_list() == before
