"""Dates, datetimes and periods: the district's date dirt, every written form, Excel serials."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.normalize.datetimes import REASONS, normalize_date, normalize_datetime, normalize_period


@pytest.fixture(scope="session")
def errors(small_district: Path) -> pl.DataFrame:
    return pl.read_parquet(small_district / "truth" / "errors.parquet")


def dates(*values: str | None, **opts) -> pl.DataFrame:
    return normalize_date(pl.Series(values, dtype=pl.String), **opts)


def test_injected_date_forms_read_back_to_the_true_date(errors):
    dirt = errors.filter(pl.col("field_kind") == "date", pl.col("kind") != "typo")
    assert {"slash", "compact", "chinese", "dotted", "unpadded", "excel_serial"} <= set(dirt["kind"])
    out = normalize_date(dirt["dirty_value"])
    assert out["date_issue"].null_count() == len(out)
    truth = normalize_date(dirt["true_value"])  # true values may be '1940/01/02' in their own source
    assert truth["date_issue"].null_count() == len(out) and out["date"].equals(truth["date"])


def test_impossible_dates_are_flagged(errors):
    bad = errors.filter(pl.col("kind") == "bad_date")
    periods = bad.filter(pl.col("dirty_value").str.contains(r"^\d{4}\w\w$"))
    days = bad.filter(~pl.col("dirty_value").str.contains(r"^\d{4}\w\w$"))
    assert len(days) and len(periods)
    assert (normalize_date(days["dirty_value"])["date_issue"] == "date.not_a_calendar_date").all()
    assert (normalize_datetime(days["dirty_value"])["datetime_issue"] == "datetime.not_a_calendar_date").all()
    issues = normalize_period(periods["dirty_value"])["period_issue"]
    assert issues.is_in(["period.bad_month", "period.unparseable"]).all()


@pytest.mark.parametrize("raw", [
    "1949-12-31", "1949/12/31", "1949.12.31", "19491231", "1949年12月31日", "1949年12月31号", "1949-12-31 00:00:00",
    "1949-12-31T00:00:00", "1949-12-31 00:00:00.000000", " 1949 - 12 - 31 ", "１９４９年１２月３１日", "18263", "18263.0",
])
def test_written_forms(raw):
    assert dates(raw).row(0) == (date(1949, 12, 31), None)


def test_unpadded_and_leap_days():
    out = dates("1949/1/5", "2024-2-29", "2023-02-29", "1900-02-29", "2000-02-29")
    assert out["date"].to_list() == [date(1949, 1, 5), date(2024, 2, 29), None, None, date(2000, 2, 29)]


@pytest.mark.parametrize(("raw", "issue"), [
    (None, "date.empty"), ("", "date.empty"), (" ", "date.empty"),
    ("abc", "date.unparseable"), ("49-12-31", "date.unparseable"), ("2024", "date.unparseable"),
    ("82", "date.unparseable"), ("202608", "date.unparseable"), ("20261O", "date.unparseable"),
    ("0000-00-00", "date.not_a_calendar_date"), ("1900-01-00", "date.not_a_calendar_date"),
    ("2023-13-01", "date.not_a_calendar_date"), ("2026-11-31", "date.not_a_calendar_date"),
    ("1899-12-31", "date.out_of_range"), ("1949-12-31 08:30:00", "date.has_time"), ("45347.5", "date.has_time"),
    ("2024-01-05 24:00:00", "date.unparseable"),
])
def test_date_issues(raw, issue):
    assert dates(raw).row(0) == (None, issue)


def test_date_options():
    assert dates("2026-12-01", max_date=date(2026, 11, 30))["date_issue"][0] == "date.out_of_range"
    assert dates("1949-12-31 08:30:00", "45347.5", allow_time=True)["date"].to_list() == [
        date(1949, 12, 31), date(2024, 2, 25)]
    out = dates("202608", "202613", "202612", year_month=True, max_date=date(2026, 11, 30))
    assert out.rows() == [(date(2026, 8, 1), None), (None, "date.not_a_calendar_date"),
                          (None, "date.out_of_range")]
    assert dates("18263", excel_serials=False)["date_issue"][0] == "date.unparseable"
    assert normalize_date(pl.Series([date(1949, 12, 31)]))["date"][0] == date(1949, 12, 31)


def test_excel_serials_use_the_1900_system():
    # Excel's fictitious 1900-02-29 is serial 60; later serials count from 1899-12-30.
    out = dates("1000", "36526", "45347", "2958465", "60")
    assert out["date"].to_list() == [date(1902, 9, 26), date(2000, 1, 1), date(2024, 2, 25), None, None]
    # serials are 4-5 digits: a 7-digit number is not one
    assert out["date_issue"].to_list()[3:] == ["date.unparseable", "date.unparseable"]


@pytest.mark.parametrize(("raw", "want"), [
    ("2026-08-01 11:00:00", datetime(2026, 8, 1, 11)),
    ("2026-08-01 11:00:00.000000", datetime(2026, 8, 1, 11)),
    ("2026-08-01 11:00:00.123456", datetime(2026, 8, 1, 11, 0, 0, 123456)),
    ("2026-08-01T11:00:00", datetime(2026, 8, 1, 11)),
    ("2026/08/01 11:00:00", datetime(2026, 8, 1, 11)),
    ("2026/8/1 11:00", datetime(2026, 8, 1, 11)),
    ("2026-08-01 11:00:00.5", datetime(2026, 8, 1, 11, 0, 0, 500000)),
    ("2026-08-01 11:00:00.1234567", datetime(2026, 8, 1, 11, 0, 0, 123456)),
    ("20260801110000", datetime(2026, 8, 1, 11)),
    ("2026年8月1日 11:00:00", datetime(2026, 8, 1, 11)),
    ("2026-08-01T03:00:00Z", datetime(2026, 8, 1, 11)),
    ("2026-08-01T11:00:00+08:00", datetime(2026, 8, 1, 11)),
    ("2026-07-31 22:00:00-05:00", datetime(2026, 8, 1, 11)),
    ("46235.4583333333", datetime(2026, 8, 1, 11)),
])
def test_datetime_forms(raw, want):
    assert normalize_datetime(pl.Series([raw])).row(0) == (want, None)


@pytest.mark.parametrize(("raw", "issue"), [
    (None, "datetime.empty"), ("x", "datetime.unparseable"), ("2026-02-30 11:00:00", "datetime.not_a_calendar_date"),
    ("2026-08-01 25:00:00", "datetime.bad_time"), ("2026-08-01 23:59:60", "datetime.bad_time"),
    ("2026-08-01", "datetime.missing_time"), ("46235", "datetime.missing_time"),
    ("1899-12-31 11:00:00", "datetime.out_of_range"),
])
def test_datetime_issues(raw, issue):
    assert normalize_datetime(pl.Series([raw], dtype=pl.String)).row(0) == (None, issue)


def test_datetime_options():
    assert normalize_datetime(pl.Series(["2026-08-01"]), allow_date_only=True)["datetime"][0] == datetime(2026, 8, 1)
    late = normalize_datetime(pl.Series(["2026-08-01 11:00:00"]), max_datetime=datetime(2026, 8, 1, 10))
    assert late.row(0) == (None, "datetime.out_of_range")


@pytest.mark.parametrize(("raw", "want"), [
    ("202608", date(2026, 8, 1)), ("2026-08", date(2026, 8, 1)), ("2026/8", date(2026, 8, 1)),
    ("2026.8", date(2026, 8, 1)), ("2026年8月", date(2026, 8, 1)), ("2026年08月", date(2026, 8, 1)),
    ("2026-08-01", date(2026, 8, 1)), ("46235", date(2026, 8, 1)), ("２０２６０８", date(2026, 8, 1)),
])
def test_period_forms(raw, want):
    assert normalize_period(pl.Series([raw])).row(0) == (want, None)


@pytest.mark.parametrize(("raw", "issue"), [
    (None, "period.empty"), ("", "period.empty"), ("20261O", "period.unparseable"), ("2026-08-15", "period.unparseable"),
    ("202613", "period.bad_month"), ("202600", "period.bad_month"), ("189912", "period.out_of_range"),
])
def test_period_issues(raw, issue):
    assert normalize_period(pl.Series([raw], dtype=pl.String)).row(0) == (None, issue)
    assert normalize_period(pl.Series(["202612"]), max_period=date(2026, 11, 30))["period_issue"][0] == (
        "period.out_of_range")


def test_reasons_cover_codes_in_plain_chinese():
    assert {code.split(".")[0] for code in REASONS} == {"date", "datetime", "period"}
    assert all(re.search(r"[\u4e00-\u9fff]", text) and "{" not in text for text in REASONS.values())


FORMS = [
    lambda d: d.isoformat(), lambda d: d.strftime("%Y/%m/%d"), lambda d: d.strftime("%Y.%m.%d"),
    lambda d: d.strftime("%Y%m%d"), lambda d: f"{d.year}年{d.month}月{d.day}日", lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: f"{d.isoformat()} 00:00:00", lambda d: str((d - date(1899, 12, 30)).days),
]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.dates(date(1902, 9, 26), date(2099, 12, 31)), st.integers(0, len(FORMS) - 1)),
                min_size=1, max_size=40))
def test_every_form_of_every_date_reads_back(cases):
    text = [FORMS[form](d) for d, form in cases]
    out = normalize_date(pl.Series(text))
    # serials that look like years (1900-2100) are refused on purpose
    expected = [None if re.fullmatch(r"19\d\d|20\d\d|2100", t) else d for t, (d, _) in zip(text, cases)]
    assert out["date"].to_list() == expected


@settings(max_examples=25, deadline=None)
@given(st.lists(st.datetimes(datetime(1902, 9, 26), datetime(2099, 12, 31)), min_size=1, max_size=40))
def test_excel_serial_datetimes_read_back_to_the_millisecond(values):
    # whole milliseconds, and not midnight: a serial without a fraction carries no time
    values = [v.replace(microsecond=v.microsecond // 1000 * 1000 or 1000) for v in values]
    serials = [f"{(v - datetime(1899, 12, 30)) / timedelta(days=1):.10f}" for v in values]
    out = normalize_datetime(pl.Series(serials))["datetime"].to_list()
    assert all(o is not None and abs(o - v) <= timedelta(milliseconds=1) for o, v in zip(out, values))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30), st.text("0123456789０１２３４５６７８９٣-/.:年月日 XxE+,¥元万", max_size=25)),
                max_size=30))
def test_any_text_gives_one_row_per_value_and_known_codes(values):
    series = pl.Series(values, dtype=pl.String)
    for out in (normalize_date(series, year_month=True), normalize_datetime(series), normalize_period(series)):
        assert len(out) == len(values)
        assert set(out[out.columns[1]].drop_nulls()) <= set(REASONS)
