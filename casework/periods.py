"""Reporting periods (a month, a quarter, a year, or any range of days).

Ledgers are filtered by period and the periodic reports are made per month and per
quarter (seed 004 五(一) "日报、周报、月报"; seed 003 "每季度……复核"), so both share one
parser that accepts what people type: ``2026-11``, ``2026年11月``, ``2026Q4``,
``2026年第4季度``, ``2026``, ``2026-09-01..2026-11-30``, and the words ``month`` /
``quarter`` / ``last-month`` relative to today.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import date_text

_MONTH = re.compile(r"(?P<y>\d{4})(?:-|/|\.|年)(?P<m>\d{1,2})月?")
_QUARTER = re.compile(r"(?P<y>\d{4})(?:-?Q|年第|年Q)(?P<q>[1-4])(?:季度)?", re.IGNORECASE)
_YEAR = re.compile(r"(?P<y>\d{4})年?")
_RANGE = re.compile(r"(?P<a>\d{4}-\d{1,2}-\d{1,2})\.\.(?P<b>\d{4}-\d{1,2}-\d{1,2})")
_RELATIVE = {
    "month": ("month", 0),
    "this-month": ("month", 0),
    "本月": ("month", 0),
    "last-month": ("month", -1),
    "上月": ("month", -1),
    "quarter": ("quarter", 0),
    "this-quarter": ("quarter", 0),
    "本季度": ("quarter", 0),
    "last-quarter": ("quarter", -1),
    "上季度": ("quarter", -1),
    "year": ("year", 0),
    "本年": ("year", 0),
}


@dataclass(frozen=True)
class Period:
    """The days ``start`` to ``end``, both included (local calendar dates)."""

    kind: str  # month | quarter | year | range
    start: date
    end: date

    @property
    def code(self) -> str:
        """A short, language-neutral name (file names, callback data, dedupe keys)."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def label(self) -> Text:
        if self.kind == "month":
            # Translators: a month, e.g. zh "{year}年{month}月"
            return _("{year}-{month:02d}", year=self.start.year, month=self.start.month)
        if self.kind == "quarter":
            return _("Q{quarter} {year}", quarter=(self.start.month - 1) // 3 + 1, year=self.start.year)
        if self.kind == "year":
            return _("the year {year}", year=self.start.year)
        return _("{start} to {end}", start=date_text(self.start), end=date_text(self.end))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def previous(self) -> Period:
        if self.kind == "month":
            return month_of(self.start - timedelta(days=1))
        if self.kind == "quarter":
            return quarter_of(self.start - timedelta(days=1))
        if self.kind == "year":
            return year_of(self.start - timedelta(days=1))
        length = self.end - self.start
        return Period("range", self.start - length - timedelta(days=1), self.start - timedelta(days=1))

    def next(self) -> Period:
        if self.kind == "month":
            return month_of(self.end + timedelta(days=1))
        if self.kind == "quarter":
            return quarter_of(self.end + timedelta(days=1))
        if self.kind == "year":
            return year_of(self.end + timedelta(days=1))
        length = self.end - self.start
        return Period("range", self.end + timedelta(days=1), self.end + length + timedelta(days=1))


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period("month", first, following - timedelta(days=1))


def quarter_of(day: date) -> Period:
    first_month = (day.month - 1) // 3 * 3 + 1
    first = date(day.year, first_month, 1)
    end = month_of(date(day.year, first_month + 2, 1)).end
    return Period("quarter", first, end)


def year_of(day: date) -> Period:
    return Period("year", date(day.year, 1, 1), date(day.year, 12, 31))


def parse_period(value: str, *, today: date, field: str = "period") -> Period:
    """Read a period the way people write it; refuse anything else naming the forms."""
    text = "".join(unicodedata.normalize("NFKC", value).split())
    relative = _RELATIVE.get(text.lower())
    if relative is not None:
        kind, shift = relative
        period = {"month": month_of, "quarter": quarter_of, "year": year_of}[kind](today)
        return period.previous() if shift < 0 else period
    try:
        if m := _RANGE.fullmatch(text):
            start, end = date.fromisoformat(_iso(m["a"])), date.fromisoformat(_iso(m["b"]))
            if end < start:
                raise ValidationError(field, _("The period ends before it starts."))
            return Period("range", start, end)
        if m := _QUARTER.fullmatch(text):
            return quarter_of(date(int(m["y"]), (int(m["q"]) - 1) * 3 + 1, 1))
        if m := _MONTH.fullmatch(text):
            return month_of(date(int(m["y"]), int(m["m"]), 1))
        if m := _YEAR.fullmatch(text):
            return year_of(date(int(m["y"]), 1, 1))
    except (ValueError, OverflowError):  # 2026-13; 9999-12, which ends past the calendar
        pass
    raise ValidationError(
        field,
        _(
            "Please write the period like 2026-11 (a month), 2026Q4 (a quarter), 2026 (a year) "
            "or 2026-09-01..2026-11-30."
        ),
    )


def _iso(value: str) -> str:
    y, m, d = value.split("-")
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
