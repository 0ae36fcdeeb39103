"""Phone numbers: the district's clean and dirty values, the written forms, and properties."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.normalize.phones import REASONS, normalize_phone

FULLWIDTH = str.maketrans("0123456789-()+ ", "０１２３４５６７８９－（）＋\u3000")


@pytest.fixture(scope="session")
def truth(small_district: Path) -> dict[str, pl.DataFrame]:
    out = small_district
    return {name: pl.read_parquet(out / "truth" / f"{name}.parquet") for name in ("persons", "errors")}


def phones(*values: str | None, **opts) -> pl.DataFrame:
    return normalize_phone(pl.Series(values, dtype=pl.String), **opts)


def test_every_clean_phone_is_canonical(truth):
    clean = truth["persons"]["phone"]
    out = normalize_phone(clean)
    assert out["phone_issue"].null_count() == len(out)
    assert out["phone"].equals(clean, check_names=False)
    assert set(out["phone_kind"]) == {"mobile", "landline"}


def test_injected_phone_dirt(truth):
    dirt = truth["errors"].filter(pl.col("field_kind") == "phone")
    out = pl.concat([dirt, normalize_phone(dirt["dirty_value"])], how="horizontal")
    forms = out.filter(~pl.col("kind").is_in(["typo", "landline_local"]))
    assert forms["kind"].n_unique() >= 7 and (forms["phone"] == forms["true_value"]).all()
    local = out.filter(pl.col("kind") == "landline_local")
    assert len(local) and (local["phone_issue"] == "phone.missing_area_code").all()
    assumed = normalize_phone(local["dirty_value"], default_area_code="0371")
    assert (assumed["phone"] == local["true_value"]).all()
    assert (assumed["phone_note"] == "phone.area_code_assumed").all()
    # A typo that keeps the shape of a number cannot be seen; one that breaks it is.
    typo = out.filter(pl.col("kind") == "typo")
    assert (typo["phone"] != typo["true_value"]).all()


@pytest.mark.parametrize(("raw", "phone", "kind", "ext"), [
    ("13812345678", "13812345678", "mobile", None),
    ("138 1234 5678", "13812345678", "mobile", None),
    ("138-1234-5678", "13812345678", "mobile", None),
    ("+86 138 1234 5678", "13812345678", "mobile", None),
    ("+86-13812345678", "13812345678", "mobile", None),
    ("008613812345678", "13812345678", "mobile", None),
    ("8613812345678", "13812345678", "mobile", None),
    ("１３８１２３４５６７８", "13812345678", "mobile", None),
    ("0371-67188888", "0371-67188888", "landline", None),
    ("(0371)67188888", "0371-67188888", "landline", None),
    ("（0371）6718 8888", "0371-67188888", "landline", None),
    ("0371 6718 8888", "0371-67188888", "landline", None),
    ("037167188888", "0371-67188888", "landline", None),
    ("0371.6718.8888", "0371-67188888", "landline", None),
    ("0371—67188888", "0371-67188888", "landline", None),
    ("+86 371 6718 8888", "0371-67188888", "landline", None),
    ("010-62345678", "010-62345678", "landline", None),
    ("02161234567", "021-61234567", "landline", None),
    ("0379-6123456", "0379-6123456", "landline", None),
    ("0371-67188888转123", "0371-67188888", "landline", "123"),
    ("0371-67188888 转 8001", "0371-67188888", "landline", "8001"),
    ("0371-67188888-123", "0371-67188888", "landline", "123"),
    ("(0371)67188888-8001", "0371-67188888", "landline", "8001"),
    ("0371-67188888 ext.12", "0371-67188888", "landline", "12"),
])
def test_written_forms(raw, phone, kind, ext):
    assert phones(raw).row(0) == (phone, kind, ext, None, None)


@pytest.mark.parametrize(("raw", "issue"), [
    (None, "phone.empty"), ("", "phone.empty"), ("  ", "phone.empty"),
    ("无", "phone.bad_chars"), ("138abc45678", "phone.bad_chars"),
    ("13812345678，13912345678", "phone.multiple_numbers"), ("13812345678/0371-67188888", "phone.multiple_numbers"),
    ("13812345678 13912345678", "phone.multiple_numbers"), ("13812345678或13912345678", "phone.multiple_numbers"),
    ("+852 2345 6789", "phone.foreign_number"), ("001 202 555 0100", "phone.foreign_number"),
    ("67188888", "phone.missing_area_code"),
    ("1381234567", "phone.bad_format"), ("12812345678", "phone.bad_format"), ("13812345678转1", "phone.bad_format"),
    ("0371-01234567", "phone.bad_format"), ("12345", "phone.bad_format"), ("400-123-4567", "phone.bad_format"),
])
def test_issues(raw, issue):
    out = phones(raw)
    assert out["phone_issue"][0] == issue
    assert out.drop("phone_issue").null_count().row(0) == (1, 1, 1, 1)


def test_default_area_code():
    out = phones("67188888", "6718888转12", "13812345678", "0379-61234567", default_area_code="0371")
    assert out["phone"].to_list() == ["0371-67188888", "0371-6718888", "13812345678", "0379-61234567"]
    assert out["phone_ext"].to_list() == [None, "12", None, None]
    assert out["phone_note"].to_list() == ["phone.area_code_assumed"] * 2 + [None, None]
    with pytest.raises(ValueError):
        phones("67188888", default_area_code="371")


def test_reasons_cover_codes_in_plain_chinese():
    emitted = {"phone.empty", "phone.bad_chars", "phone.multiple_numbers", "phone.foreign_number",
               "phone.missing_area_code", "phone.bad_format", "phone.area_code_assumed"}
    assert set(REASONS) == emitted
    assert all(re.search(r"[\u4e00-\u9fff]", text) and "{" not in text for text in REASONS.values())


mobiles = st.builds(lambda p, rest: f"1{p}{rest:09d}", st.sampled_from("3456789"), st.integers(0, 10**9 - 1))
landlines = st.builds(lambda area, first, rest, n: f"{area}-{first}{rest:07d}"[: len(area) + 1 + n],
                      st.sampled_from(["010", "021", "0371", "0379", "0755"]), st.sampled_from("2345678"),
                      st.integers(0, 10**7 - 1), st.sampled_from([7, 8]))


def _spell(number: str, style: int) -> str:
    digits = number.replace("-", "")
    if "-" not in number:  # mobile
        return [digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}", f"+86 {digits}", f"0086{digits}",
                f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", digits.translate(FULLWIDTH)][style]
    area, local = number.split("-")
    return [number, f"({area}){local}", digits, f"{area} {local[:4]} {local[4:]}", f"+86 {area[1:]} {local}",
            number.translate(FULLWIDTH)][style]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.one_of(mobiles, landlines), st.integers(0, 5)), min_size=1, max_size=40))
def test_every_spelling_normalizes_to_the_number(cases):
    out = normalize_phone(pl.Series([_spell(number, style) for number, style in cases]))
    assert out["phone"].to_list() == [number for number, _ in cases]
    assert out["phone_kind"].to_list() == ["landline" if "-" in n else "mobile" for n, _ in cases]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.text("0123456789０１２３４５６７８９٣-/.:年月日 XxE+,¥元万", max_size=25)),
                max_size=30))
def test_any_text_gives_one_row_per_value_and_known_codes(values):
    out = normalize_phone(pl.Series(values, dtype=pl.String), default_area_code="0371")
    assert len(out) == len(values)
    assert set(out["phone_issue"].drop_nulls()) | set(out["phone_note"].drop_nulls()) <= set(REASONS)
