"""Traceability codes (追溯码): the platform's 20 digits, their check digit and what they encode."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district.ids import mod10_check, trace_codes
from warehouse.normalize.trace_codes import REASONS, normalize_trace_code, trace_check_digit

# Region codes are 11xxxx (北京) to 82xxxx (澳门).
GOOD = "41010526081212345676"  # region 410105, made 2026-08-12, serial 1234567, check 6


def codes(*values: str | None) -> pl.DataFrame:
    return normalize_trace_code(pl.Series(values, dtype=pl.String))


def test_a_valid_code_and_what_it_encodes():
    row = codes(GOOD).row(0, named=True)
    assert row == {"trace_code": GOOD, "trace_issue": None, "trace_region": "410105",
                   "trace_date": date(2026, 8, 12), "trace_serial": "1234567"}


@pytest.mark.parametrize("written", [f" {GOOD} ", "410105 260812 1234567 6", "410105-260812-1234567-6",
                                     "４１０１０５２６０８１２１２３４５６７６", f"'{GOOD}"])
def test_printed_and_typed_forms(written):
    assert codes(written)["trace_code"].to_list() == [GOOD]


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        (None, "trace.empty"), ("", "trace.empty"), ("   ", "trace.empty"),
        ("4.10105260812123E+19", "trace.excel_precision_lost"), ("41010526081212300000", "trace.excel_precision_lost"),
        ("4101052608121234567A", "trace.bad_chars"), ("4101052608121234567", "trace.bad_length"),
        ("410105260812123456760", "trace.bad_length"),
        ("41010526081212345677", "trace.bad_checksum"),  # last digit wrong
        ("41010526081212345766", "trace.bad_checksum"),  # two neighbours swapped
    ],
)
def test_bad_codes(text, issue):
    out = codes(text).row(0, named=True)
    assert out["trace_issue"] == issue and out["trace_code"] is None and out["trace_date"] is None
    assert issue in REASONS


def test_a_code_whose_check_holds_but_whose_date_does_not():
    body = "410105261341" + "1234567"  # 2026-13-41
    out = codes(body + trace_check_digit(body)).row(0, named=True)
    assert out["trace_issue"] == "trace.bad_date" and out["trace_code"] is None


def test_check_digit_agrees_with_the_generator():
    for body in ("4101052608121234567", "0000000000000000000", "9999999999999999999"):
        assert trace_check_digit(body) == mod10_check(body)


def test_the_district_codes_all_pass(small_district: Path):
    folder = small_district / "exports" / "traceability"
    registered = []
    for path in folder.glob("追溯码登记_*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            registered += [row["追溯码"] for row in csv.DictReader(fh) if row.get("追溯码")]
    events = [json.loads(line).get("code") for p in folder.glob("追溯码流转_*.jsonl")
              for line in p.read_text("utf-8").splitlines() if line.strip().startswith("{")]
    values = [v for v in registered + events if v]
    out = codes(*values)
    # The generator plants a few random 20-digit codes (unknown_code); everything else is genuine.
    assert len(values) > 200 and out["trace_issue"].is_null().mean() > 0.98


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(110000, 829999), st.dates(date(2000, 1, 1), date(2099, 12, 31)),
                          st.integers(0, 10**7 - 1)), min_size=1, max_size=30))
def test_every_platform_code_is_valid_and_decodes(parts):
    region = np.array([p[0] for p in parts])
    yymmdd = np.array([int(p[1].strftime("%y%m%d")) for p in parts])
    serial = np.array([p[2] for p in parts])
    out = codes(*trace_codes(region, yymmdd, serial).to_list())
    assert out["trace_issue"].null_count() == len(parts)
    assert out["trace_region"].to_list() == [str(p[0]) for p in parts]
    assert out["trace_date"].to_list() == [p[1] for p in parts]
    assert out["trace_serial"].to_list() == [f"{p[2]:07d}" for p in parts]


@settings(max_examples=60, deadline=None)
@given(st.integers(110000, 829999), st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.integers(0, 10**7 - 1),
       st.integers(0, 19), st.integers(1, 9))
def test_one_mistyped_digit_is_always_caught(region, made, serial, position, shift):
    code = trace_codes(np.array([region]), np.array([int(made.strftime("%y%m%d"))]), np.array([serial]))[0]
    typo = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1:]
    assert codes(typo)["trace_issue"][0] in ("trace.bad_checksum", "trace.bad_date", "trace.excel_precision_lost")


@settings(max_examples=60, deadline=None)
@given(st.integers(110000, 829999), st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.integers(0, 10**7 - 1),
       st.integers(0, 18))
def test_adjacent_swaps_are_caught_unless_the_digits_differ_by_five(region, made, serial, i):
    code = trace_codes(np.array([region]), np.array([int(made.strftime("%y%m%d"))]), np.array([serial]))[0]
    a, b = code[i], code[i + 1]
    swapped = code[:i] + b + a + code[i + 2:]
    issue = codes(swapped)["trace_issue"][0]
    if a == b:
        assert issue is None
    elif abs(int(a) - int(b)) != 5:
        assert issue is not None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=25), st.text("0123456789 -E.+'", max_size=24)), max_size=30))
def test_never_raises_and_valid_means_decoded(values):
    out = codes(*values)
    assert out.height == len(values)
    valid = out["trace_issue"].is_null()
    assert (out["trace_code"].is_not_null() == valid).all()
    assert (out.filter(valid)["trace_code"].str.len_chars() == 20).all()
    assert set(out["trace_issue"].drop_nulls()) <= set(REASONS)
