"""Dates, datetimes and year-month periods in every form the departmental sources write them.

    normalize_date(values, *, excel_serials=True, min_year=1900, max_date=None,
                   allow_time=False, year_month=False) -> pl.DataFrame
        date        pl.Date   null when invalid
        date_issue  str       null | 'date.empty' | 'date.unparseable' | 'date.not_a_calendar_date'
                              | 'date.out_of_range' | 'date.has_time'
    normalize_datetime(values, *, excel_serials=True, min_year=1900, max_datetime=None,
                       allow_date_only=False) -> pl.DataFrame
        datetime        pl.Datetime('us'), naive Asia/Shanghai local time (as the sources)
        datetime_issue  null | 'datetime.empty' | 'datetime.unparseable' |
                        'datetime.not_a_calendar_date' | 'datetime.bad_time' |
                        'datetime.out_of_range' | 'datetime.missing_time'
    normalize_period(values, *, excel_serials=True, min_year=1900, max_period=None) -> pl.DataFrame
        period        pl.Date, the first day of the month
        period_issue  null | 'period.empty' | 'period.unparseable' | 'period.bad_month' |
                      'period.out_of_range'

Forms read: '1949-12-31', '1949/12/31', '1949.12.31', '1949/1/5', '19491231', '1949年12月31日',
'1949-12-31 00:00:00', 'YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]', a 'Z' or '+hh:mm' suffix (converted
to UTC+8; China has kept UTC+8 without daylight saving since 1991), 'YYYYMMDDHHMMSS', and Excel
serial numbers ('18263', '45347.5416666667') in the 1900 date system: serial 60 is Excel's
fictitious 1900-02-29 (not a calendar date) and serials up to 59 are one day later than
naive arithmetic gives. Serials must have 4-5 digits and must not look like a year
(1900-2100): a bare '82' or '2024' in a date column is an age or a year, not a date.
Periods: 'YYYYMM', 'YYYY-MM', 'YYYY/M', 'YYYY年M月', and a date on the 1st of a month (what
Excel makes of a typed '2026-08').

    period_from_file_name(names) -> pl.DataFrame
        period        pl.Date, the first day of the month the file name states
        period_issue  null | 'period.not_in_file_name' | 'period.ambiguous_file_name'

Monthly exports carry their month only in the file name: '低保名册_202608.xlsx',
'区划网格_20260831.csv' (the month's last day), '2026年10月低保名册.xlsx', '名册(2026-10).csv',
'2026年十月名册.xlsx'. A year must be 19xx/20xx and a digit run must be exactly 6 or 8 long
(no digits around it), so a region code or a serial is not read as a month. Two different
months in one form ('名册_202608_202609.xlsx') are ambiguous: nobody can tell which is meant;
a more explicit form wins over a less explicit one ('2026年10月名册_20261105导出.xlsx' is
October: '年月' over 'YYYY-MM' over a bare digit run).

Speed: canonical shapes ('YYYY-MM-DD', 'YYYYMMDD', 'YYYY/MM/DD', 'YYYY-MM-DD HH:MM:SS[.ffffff]')
are parsed by strptime after a shape check; only the other rows pay for the full regex.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import polars as pl

from warehouse.normalize.identifiers import nfkc_text

REASONS: dict[str, str] = {
    "date.empty": "日期为空",
    "date.unparseable": "日期格式无法识别（应为如2024-01-31的年月日）",
    "date.not_a_calendar_date": "日期不存在（月份或日子超出范围，如2月30日、13月）",
    "date.out_of_range": "日期超出合理范围（过早或晚于允许的最晚日期）",
    "date.has_time": "日期栏里填了带具体时刻的时间，只应填日期",
    "datetime.empty": "时间为空",
    "datetime.unparseable": "时间格式无法识别（应为如2024-01-31 08:30:00的年月日时分秒）",
    "datetime.not_a_calendar_date": "时间中的日期不存在（月份或日子超出范围）",
    "datetime.bad_time": "时间中的时、分、秒超出范围",
    "datetime.out_of_range": "时间超出合理范围（过早或晚于允许的最晚时间）",
    "datetime.missing_time": "只填了日期，缺少具体时刻",
    "period.empty": "所属期为空",
    "period.unparseable": "所属期格式无法识别（应为如202401或2024-01的年月）",
    "period.bad_month": "所属期的月份不存在（应为1到12月）",
    "period.out_of_range": "所属期超出合理范围",
    "period.not_in_file_name": "文件名中没有可识别的所属月份（应如“低保名册_202608.xlsx”或“2026年8月低保名册.xlsx”），"
                               "无法确定这份名册是哪个月的，请按规范命名后重新报送",
    "period.ambiguous_file_name": "文件名中有两个不同的月份，无法确定这份名册是哪个月的，请只保留所属月份后重新报送",
}

# Canonical shapes, parsed by strptime (fast) on the rows that have them: (shape, format).
# The shape check comes first because chrono is lenient: it reads '2024115' as '%Y%m%d'
# 2024-11-05 and a leap second '23:59:60' as the next day.
_DATE_FAST = ((r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "%Y-%m-%d"), (r"^[0-9]{8}$", "%Y%m%d"), (r"^[0-9]{4}/[0-9]{2}/[0-9]{2}$", "%Y/%m/%d"))
_DATETIME_FAST = ((r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y-%m-%d %H:%M:%S"),
                  # SQL timestamps as the raw layer writes them
                  (r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-5][0-9]\.[0-9]{6}$", "%Y-%m-%d %H:%M:%S%.6f"),
                  (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y-%m-%dT%H:%M:%S"),
                  (r"^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-5][0-9]$", "%Y/%m/%d %H:%M:%S"))
# Everything else: one regex over the remaining rows (~1.6 µs a row).
_TZ = r"\s*(?P<tz>Z|[+-][0-9]{2}:?[0-9]{2})?"
_FULL = (
    r"(?i)^(?:"
    r"(?P<y1>[0-9]{4})\s*[-/.年]\s*(?P<m1>[0-9]{1,2})\s*[-/.月]\s*(?P<d1>[0-9]{1,2})\s*[日号]?"
    r"(?:(?:\s*T\s*|\s+)(?P<h1>[0-9]{1,2}):(?P<i1>[0-9]{2})(?::(?P<s1>[0-9]{2})(?:[.,](?P<f1>[0-9]{1,9}))?)?)?" + _TZ +
    r"|(?P<y2>[0-9]{4})(?P<m2>[0-9]{2})(?P<d2>[0-9]{2})(?:T?(?P<h2>[0-9]{2})(?P<i2>[0-9]{2})(?P<s2>[0-9]{2}))?" +
    r"|(?P<serial>[0-9]{1,5})(?:\.(?P<sf>[0-9]+))?"
    r")$"
)
_PERIOD = r"^(?P<y>[0-9]{4})\s*(?:[-/.年]\s*(?P<m1>[0-9]{1,2})\s*月?|(?P<m2>[0-9]{2}))$"
_EXCEL_EPOCH = date(1899, 12, 30)
_INT = pl.Int32
_US = pl.Datetime("us")


def _text(values: pl.Series) -> pl.Series:
    """NFKC where needed, trimmed; inner whitespace is left to the patterns."""
    return nfkc_text(values).str.strip_chars()


def _fast(t: pl.Series, shapes: tuple[tuple[str, str], ...], dtype: pl.DataType) -> tuple[pl.Series, pl.Series]:
    """Parse the rows with a canonical shape; return the values (null elsewhere) and the row
    indices left for the full parser (other shapes, and impossible dates like '2026-02-30')."""
    out = pl.repeat(None, len(t), dtype=dtype, eager=True)
    todo = (t.is_not_null() & (t != "")).arg_true()
    left = []
    for shape, fmt in shapes:
        if not len(todo):
            break
        shaped = t.gather(todo).str.contains(shape)
        hit, todo = todo.filter(shaped), todo.filter(~shaped)
        parsed = t.gather(hit).str.strptime(dtype, fmt, strict=False)
        out = out.scatter(hit, parsed)
        left.append(hit.filter(parsed.is_null()))
    return out, pl.concat([todo, *left]).sort()


def _components(t: pl.Series) -> pl.DataFrame:
    """Date/time parts of each value as integers (null where absent) and the Excel serial."""
    g = pl.DataFrame({"t": t}).select(pl.col("t").str.extract_groups(_FULL)).unnest("t")
    tz = pl.col("tz").str.replace(":", "", literal=True)
    tz_min = pl.when(tz == "Z").then(0).otherwise(
        tz.str.slice(1, 2).cast(_INT, strict=False) * 60 + tz.str.slice(3, 2).cast(_INT, strict=False))
    h, i, sec = pl.coalesce("h1", "h2"), pl.coalesce("i1", "i2"), pl.coalesce("s1", "s2")

    def nonzero(x: pl.Expr) -> pl.Expr:
        return x.str.strip_chars("0").fill_null("") != ""

    return g.select(
        y=pl.coalesce("y1", "y2").cast(_INT), m=pl.coalesce("m1", "m2").cast(_INT),
        d=pl.coalesce("d1", "d2").cast(_INT), h=h.cast(_INT), i=i.cast(_INT), s=sec.cast(_INT),
        # fractional seconds to microseconds; digits beyond the 6th are dropped
        us=(pl.col("f1") + "00000").str.slice(0, 6).cast(_INT),
        tz_min=pl.when(tz.str.starts_with("-")).then(-tz_min).otherwise(tz_min),
        time_given=h.is_not_null() | nonzero(pl.col("sf")),
        has_time=nonzero(h) | nonzero(i) | nonzero(sec) | nonzero(pl.col("f1")) | nonzero(pl.col("sf")),
        serial=pl.col("serial").cast(_INT),
        # the fraction of a day, rounded to the millisecond: Excel keeps ~15 significant digits
        serial_ms=(("0." + pl.col("sf")).cast(pl.Float64) * 86_400_000).round().cast(pl.Int64),
    )


def _days_in_month(y: pl.Expr, m: pl.Expr) -> pl.Expr:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return (pl.when(m == 2).then(28 + leap.cast(_INT))
            .when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31))


def _slow(t: pl.Series, excel_serials: bool) -> pl.DataFrame:
    """The full parser for the non-canonical rows: components plus `form` ('ymd' | 'serial' |
    None), calendar_ok, time_ok and `dt`, the value as naive UTC+8 datetime (null if invalid)."""
    y, m, d, h, i, s = (pl.col(k) for k in "ymdhis")
    serial = pl.col("serial")
    # 4-5 digits only, and not a year: see the module doc.
    serial_ok = pl.lit(excel_serials) & serial.is_between(1000, 99999) & ~(
        serial.is_between(1900, 2100) & ~pl.col("time_given"))
    form = pl.when(y.is_not_null()).then(pl.lit("ymd")).when(serial_ok).then(pl.lit("serial"))
    ymd_ok = m.is_between(1, 12) & (d >= 1) & (d <= _days_in_month(y, m))
    calendar_ok = pl.when(pl.col("form") == "ymd").then(ymd_ok).otherwise(serial != 60)
    time_ok = h.fill_null(0).is_between(0, 23) & i.fill_null(0).is_between(0, 59) & s.fill_null(0).is_between(0, 59)
    good = pl.col("calendar_ok") & pl.col("time_ok")
    # Safe placeholders where invalid: pl.date raises on impossible components.
    ymd_dt = (pl.date(pl.when(good).then(y).otherwise(2000), pl.when(good).then(m).otherwise(1),
                      pl.when(good).then(d).otherwise(1)).cast(_US)
              + pl.duration(hours=h.fill_null(0), minutes=i.fill_null(0), seconds=s.fill_null(0),
                            microseconds=pl.col("us").fill_null(0))
              # an explicit offset: convert to UTC+8 local time, as the sources keep it
              - pl.duration(minutes=pl.col("tz_min").fill_null(480)) + pl.duration(minutes=480))
    # 1900 date system: serials 1-59 count from 1899-12-31, from 61 on from 1899-12-30 (Excel
    # believes 1900 was a leap year and numbers a 1900-02-29 as 60).
    serial_dt = (pl.lit(_EXCEL_EPOCH).cast(_US)
                 + pl.duration(days=serial + (serial < 60).cast(_INT), milliseconds=pl.col("serial_ms").fill_null(0)))
    dt = (pl.when((pl.col("form") == "ymd") & good).then(ymd_dt)
          .when((pl.col("form") == "serial") & good).then(serial_dt))
    return (_components(t).lazy().with_columns(form=form)
            .with_columns(calendar_ok=calendar_ok, time_ok=time_ok)
            .with_columns(dt=dt).collect())


def _assemble(t: pl.Series, fast: pl.Series, slow_rows: pl.Series, slow_value: pl.Series,
              slow_issue: pl.Series, prefix: str, low, high) -> pl.DataFrame:
    """Merge fast and slow results; add the empty and range verdicts for every row."""
    value = fast.scatter(slow_rows, slow_value) if len(slow_rows) else fast
    issue = pl.Series(values=[None] * len(t), dtype=pl.String)
    if len(slow_rows):
        issue = issue.scatter(slow_rows, slow_issue)
    out_of_range = value.is_not_null() & ((value < low) | (value > high))
    issue = pl.select(
        pl.when(t.is_null() | (t == "")).then(pl.lit(f"{prefix}.empty"))
        .when(out_of_range).then(pl.lit(f"{prefix}.out_of_range"))
        .otherwise(issue)).to_series()
    return pl.DataFrame({prefix: pl.select(pl.when(issue.is_null()).then(value)).to_series(),
                         f"{prefix}_issue": issue})


def normalize_date(values: pl.Series, *, excel_serials: bool = True, min_year: int = 1900,
                   max_date: date | None = None, allow_time: bool = False,
                   year_month: bool = False) -> pl.DataFrame:
    """Parse dates; see the module doc.

    `max_date`: latest acceptable date (None: no upper bound; pass e.g. the batch date for
    birth dates). `allow_time`: take the date of a datetime with a non-zero time instead of
    reporting 'date.has_time'. `year_month`: read a 6-digit 'YYYYMM' as the month's first day.
    """
    if values.dtype == pl.Date:
        values = values.cast(pl.String)
    t = _text(values)
    fast, rows = _fast(t, _DATE_FAST, pl.Date())
    value, issue = pl.Series(dtype=pl.Date), pl.Series(dtype=pl.String)
    if len(rows):
        p = _slow(t.gather(rows), excel_serials)
        verdict = (
            pl.when(pl.col("form").is_null()).then(pl.lit("date.unparseable"))
            .when(~pl.col("calendar_ok")).then(pl.lit("date.not_a_calendar_date"))
            .when(~pl.col("time_ok")).then(pl.lit("date.unparseable"))
            .when(pl.col("has_time") & ~pl.lit(allow_time)).then(pl.lit("date.has_time")))
        p = p.select(value=pl.col("dt").dt.date(), issue=verdict)
        value, issue = p["value"], p["issue"]
        if year_month:
            # 'YYYYMM' is unparseable as a date; read it as the month's first day where asked to.
            six = t.gather(rows).str.contains(r"^[0-9]{6}$").arg_true()
            if len(six):
                per = normalize_period(t.gather(rows).gather(six), excel_serials=False, min_year=1)
                value = value.scatter(six, per["period"])
                issue = issue.scatter(six, per["period_issue"].replace({"period.bad_month": "date.not_a_calendar_date"}))
    return _assemble(t, fast, rows, value, issue, "date", date(min_year, 1, 1), max_date or date.max)


def normalize_datetime(values: pl.Series, *, excel_serials: bool = True, min_year: int = 1900,
                       max_datetime: datetime | None = None, allow_date_only: bool = False) -> pl.DataFrame:
    """Parse datetimes to naive UTC+8 local time; see the module doc.

    `allow_date_only`: read a bare date as its midnight instead of 'datetime.missing_time'.
    """
    if values.dtype in (pl.Date, pl.Datetime):
        values = values.cast(pl.String)
    t = _text(values)
    fast, rows = _fast(t, _DATETIME_FAST, _US)
    value, issue = pl.Series(dtype=_US), pl.Series(dtype=pl.String)
    if len(rows):
        p = _slow(t.gather(rows), excel_serials)
        verdict = (
            pl.when(pl.col("form").is_null()).then(pl.lit("datetime.unparseable"))
            .when(~pl.col("calendar_ok")).then(pl.lit("datetime.not_a_calendar_date"))
            .when(~pl.col("time_ok")).then(pl.lit("datetime.bad_time"))
            .when(~pl.col("time_given") & ~pl.lit(allow_date_only)).then(pl.lit("datetime.missing_time")))
        p = p.select(value=pl.col("dt"), issue=verdict)
        value, issue = p["value"], p["issue"]
    return _assemble(t, fast, rows, value, issue, "datetime", datetime(min_year, 1, 1), max_datetime or datetime.max)


def normalize_period(values: pl.Series, *, excel_serials: bool = True, min_year: int = 1900,
                     max_period: date | None = None) -> pl.DataFrame:
    """Parse year-month periods to the first day of the month; see the module doc.

    `max_period`: latest acceptable period (any day of that month).
    """
    t = _text(values)
    # 'YYYYMM' by slices; other shapes through the regex; what is left may be a date on the 1st
    # (Excel turns a typed '2026-08' into 2026-08-01) or such a serial.
    compact = t.str.contains(r"^[0-9]{6}$").fill_null(False)
    y = pl.select(pl.when(compact).then(t.str.slice(0, 4).cast(_INT, strict=False))).to_series()
    m = pl.select(pl.when(compact).then(t.str.slice(4, 2).cast(_INT, strict=False))).to_series()
    rest = (~compact & t.is_not_null() & (t != "")).arg_true()
    if len(rest):
        g = pl.DataFrame({"t": t.gather(rest)}).select(pl.col("t").str.extract_groups(_PERIOD)).unnest("t")
        y = y.scatter(rest, g["y"].cast(_INT))
        m = m.scatter(rest, g.select(pl.coalesce("m1", "m2").cast(_INT)).to_series())
    rest = (y.is_null() & t.is_not_null() & (t != "")).arg_true()
    if len(rest):
        day = normalize_date(t.gather(rest), excel_serials=excel_serials, min_year=1)["date"]
        first = day.dt.day() == 1
        y = y.scatter(rest, pl.select(pl.when(first).then(day.dt.year())).to_series())
        m = m.scatter(rest, pl.select(pl.when(first).then(day.dt.month().cast(_INT))).to_series())
    limit = (max_period.year * 100 + max_period.month) if max_period else 999999
    ok_month = m.is_between(1, 12)
    issue = (
        pl.when(t.is_null() | (t == "")).then(pl.lit("period.empty"))
        .when(y.is_null()).then(pl.lit("period.unparseable"))
        .when(~ok_month).then(pl.lit("period.bad_month"))
        .when((y < min_year) | (y * 100 + m > limit)).then(pl.lit("period.out_of_range"))
    )
    return pl.select(
        period=pl.when(issue.is_null()).then(pl.date(pl.when(ok_month).then(y).otherwise(2000),
                                                     pl.when(ok_month).then(m).otherwise(1), 1)),
        period_issue=issue,
    )


_CN_MONTHS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "十一": 11, "十二": 12}
_FILE_MONTHS = (
    re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})\s*年\s*([0-9]{1,2}|十[一二]?|[一二三四五六七八九])\s*月"),
    re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})[-_./]([0-9]{1,2})(?:[-_./][0-9]{1,2})?(?![0-9])"),
    re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})([0-9]{2})(?:[0-9]{2})?(?![0-9])"),
)


def _file_month(name: str) -> tuple[date | None, str | None]:
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name.replace("\\", "/").rsplit("/", 1)[-1])
    months: set[date] = set()
    for pattern in _FILE_MONTHS:  # the most explicit form found wins: '2026年10月名册_20261105导出'
        for y, m in pattern.findall(stem):
            month = _CN_MONTHS.get(m) or int(m)
            if 1 <= month <= 12:
                months.add(date(int(y), month, 1))
        if months:
            break
    if not months:
        return None, "period.not_in_file_name"
    if len(months) > 1:
        return None, "period.ambiguous_file_name"
    return months.pop(), None


def period_from_file_name(names: pl.Series) -> pl.DataFrame:
    """The month a monthly export's file name states; see the module doc. Parsed once per
    distinct name (a batch has one file, or a few), joined back."""
    names = nfkc_text(names)
    uniq = names.drop_nulls().unique().to_list()
    parsed = [_file_month(n) for n in uniq]
    table = pl.DataFrame({"name": uniq, "period": [p for p, _ in parsed], "period_issue": [i for _, i in parsed]},
                         schema={"name": pl.String, "period": pl.Date, "period_issue": pl.String})
    out = pl.DataFrame({"name": names}).join(table, on="name", how="left", maintain_order="left")
    return out.select("period", pl.when(pl.col("period").is_null())
                      .then(pl.col("period_issue").fill_null(pl.lit("period.not_in_file_name"))).alias("period_issue"))
