"""Calendar months the district is generated for, and time stamps inside them."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl

BASE_MONTHS = ("2026-08", "2026-09", "2026-10")


@dataclass(frozen=True)
class Month:
    label: str  # '2026-08'

    @property
    def year(self) -> int:
        return int(self.label[:4])

    @property
    def month(self) -> int:
        return int(self.label[5:])

    @property
    def index(self) -> int:
        """Months since the first base month; spells of roster membership count in these."""
        first = BASE_MONTHS[0]
        return (self.year - int(first[:4])) * 12 + self.month - int(first[5:])

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1)

    @property
    def cutoff(self) -> datetime:
        """The last second of the month: everything written for this month is at or before it."""
        return datetime.combine(self.last, datetime.max.time()).replace(microsecond=0)

    @property
    def yyyymm(self) -> str:
        return self.label.replace("-", "")

    @property
    def stamp(self) -> str:
        """File date of monthly exports: the last day, 'YYYYMMDD'."""
        return self.last.strftime("%Y%m%d")

    @property
    def cn(self) -> str:
        return f"{self.year}年{self.month}月"

    def next(self) -> Month:
        return Month(f"{self.year + self.month // 12}-{self.month % 12 + 1:02d}")

    def shift(self, k: int) -> Month:
        m = self
        for _ in range(k):
            m = m.next()
        return m


def times_in(g: np.random.Generator, n: int, month: Month, hours: tuple[int, int] = (8, 20),
             days: tuple[int, int] | None = None) -> pl.Series:
    """Datetimes within the month (optionally within a day range), in office-ish hours."""
    d0, d1 = days or (1, month.last.day)
    day = g.integers(d0, d1 + 1, n)
    seconds = g.integers(hours[0] * 3600, hours[1] * 3600, n)
    base = np.datetime64(month.start, "s")
    return pl.Series((base + (day - 1) * 86400 + seconds).astype("datetime64[us]"))


def fmt_ts(s: pl.Series | pl.Expr) -> pl.Series | pl.Expr:
    return s.dt.strftime("%Y-%m-%d %H:%M:%S")


def add_hours(ts: pl.Series, hours: np.ndarray) -> pl.Series:
    return ts + pl.Series((np.asarray(hours) * 3_600_000_000).astype(np.int64)).cast(pl.Duration("us"))


def month_at(index: int) -> Month:
    """The month `index` months after (or before, if negative) the first base month."""
    first = Month(BASE_MONTHS[0])
    total = first.year * 12 + first.month - 1 + index
    return Month(f"{total // 12}-{total % 12 + 1:02d}")
