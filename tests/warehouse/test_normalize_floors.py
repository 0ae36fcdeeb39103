"""Floors (楼层): every way the tax bureau's and the grid office's clerks write one floor or a range."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.normalize.floors import CHINESE_NUMERALS, REASONS, normalize_floor


def floors(*values: str | None, **opts) -> list[tuple[int | None, int | None, str | None]]:
    out = normalize_floor(pl.Series(values, dtype=pl.String), **opts)
    return list(out.select("floor", "floor_to", "floor_issue").iter_rows())


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("3", 3, 3), ("03", 3, 3), ("3.0", 3, 3), ("3F", 3, 3), ("F3", 3, 3), ("3f", 3, 3), ("3层", 3, 3),
        ("3楼", 3, 3), ("第3层", 3, 3), ("地上3层", 3, 3), ("三层", 3, 3), ("十二楼", 12, 12), ("二十三层", 23, 23),
        ("一百零一层", 101, 101), ("两层", 2, 2), ("B1", -1, -1), ("B1F", -1, -1), ("b2", -2, -2), ("-1", -1, -1),
        ("-1F", -1, -1), ("负一层", -1, -1), ("负1楼", -1, -1), ("地下一层", -1, -1), ("地下2层", -2, -2),
        ("12-13层", 12, 13), ("12~13F", 12, 13), ("12～13", 12, 13), ("12至13层", 12, 13), ("12到13楼", 12, 13),
        ("12—13层", 12, 13), ("B2-B1", -2, -1), ("负二层至负一层", -2, -1), ("B1-3F", -1, 3),
        ("13-12层", 12, 13),  # the same floors, written high to low
        ("１２ 层", 12, 12), ("12－13", 12, 13), (" 3F ", 3, 3),
    ],
)
def test_floor_forms(text, low, high):
    assert floors(text) == [(low, high, None)]


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        (None, "floor.empty"), ("", "floor.empty"), ("  ", "floor.empty"),
        ("夹层", "floor.unparseable"), ("顶层", "floor.unparseable"), ("地下室", "floor.unparseable"),
        ("1、3层", "floor.unparseable"), ("1-", "floor.unparseable"), ("--1", "floor.unparseable"),
        ("3楼301", "floor.unparseable"), ("12-13-14", "floor.unparseable"),
        ("0", "floor.out_of_range"), ("999", "floor.out_of_range"), ("B11", "floor.out_of_range"),
        ("0-3", "floor.out_of_range"),
    ],
)
def test_what_is_not_a_floor_is_flagged(text, issue):
    assert floors(text) == [(None, None, issue)]
    assert issue in REASONS


def test_bounds_are_options():
    assert floors("250", "B12", highest=300, lowest=-12) == [(250, 250, None), (-12, -12, None)]


def test_chinese_numerals_table():
    assert CHINESE_NUMERALS["十"] == 10 and CHINESE_NUMERALS["一十二"] == 12 and CHINESE_NUMERALS["九十九"] == 99
    assert CHINESE_NUMERALS["一百一十二"] == 112 and CHINESE_NUMERALS["一百零五"] == 105
    assert sorted(set(CHINESE_NUMERALS.values())) == list(range(200))


def test_order_length_and_input_are_kept():
    values = pl.Series(["3F", None, "三层", "3F", "x"])
    before = values.clone()
    out = normalize_floor(values)
    assert out.height == 5 and out["floor"].to_list() == [3, None, 3, 3, None]
    assert out.schema["floor"] == pl.Int64 and out.schema["floor_to"] == pl.Int64
    assert values.equals(before)


# ---- property: whatever the form, the floor comes back ------------------------------------

_CN_OF = {}
for _form, _n in CHINESE_NUMERALS.items():
    _CN_OF.setdefault(_n, []).append(_form)


@st.composite
def written_floor(draw, n: int) -> str:
    """One floor number as a clerk might write it."""
    digits = str(abs(n))
    number = draw(st.sampled_from([digits, digits.zfill(2), *(_CN_OF[abs(n)])]))
    if n > 0:
        return draw(st.sampled_from([number, f"{number}F", f"F{number}", f"{number}层", f"{number}楼", f"第{number}层",
                                     f"地上{number}层", f"{number}f"]))
    return draw(st.sampled_from([f"-{digits}", f"B{digits}", f"b{digits}", f"B{digits}F", f"负{number}层",
                                 f"地下{number}层", f"负{number}楼"]))


floor_numbers = st.integers(-10, 199).filter(lambda n: n != 0)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.lists(floor_numbers, min_size=1, max_size=20))
def test_any_written_floor_reads_back(data, numbers):
    texts = [data.draw(written_floor(n)) for n in numbers]
    assert floors(*texts) == [(n, n, None) for n in numbers], texts


@settings(max_examples=40, deadline=None)
@given(st.data(), floor_numbers, floor_numbers, st.sampled_from(["-", "~", "至", "到", "—"]))
def test_any_range_reads_back_low_to_high(data, a, b, sep):
    text = data.draw(written_floor(a)) + sep + data.draw(written_floor(b))
    assert floors(text) == [(min(a, b), max(a, b), None)], text  # '-2--1' too


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12), st.text("0123456789BF-~层楼负地下第一二三十百 ", max_size=10)),
                max_size=30))
def test_never_raises_and_is_consistent(values):
    out = normalize_floor(pl.Series(values, dtype=pl.String))
    assert out.height == len(values)
    ok = out.filter(pl.col("floor_issue").is_null())
    assert (ok["floor"] <= ok["floor_to"]).all() and not (ok["floor"] == 0).any()
    flagged = out.filter(pl.col("floor_issue").is_not_null())
    assert flagged["floor"].null_count() == flagged.height
    assert set(out["floor_issue"].drop_nulls()) <= set(REASONS)
