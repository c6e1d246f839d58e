"""The two calendars of the ladder: statutory working days and school days.

Administrative deadlines ("3 个工作日内") count working days: Chinese public holidays
are off and the make-up working days (调休, e.g. Sunday 2026-09-20 and Saturday
2026-10-10) are on. Absence streaks count school days: working days inside one of the
policy's terms. Holiday data comes from ``chinesecalendar``, corrected by the policy's
``extra_holidays`` / ``extra_workdays``.

chinesecalendar only knows the years the State Council has published (it raises
``NotImplementedError`` otherwise). A bot must not stop escalating on 1 January, so for
such a year we count Monday–Friday plus the operator's extra days, log one warning per
year and process, and report it through :func:`coverage_warning` for ``policy check``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import chinese_calendar

from casework.errors import PolicyError
from casework.i18n import Text, _
from casework.labels import date_text
from casework.policy import Duration, Policy, Term

logger = logging.getLogger("casework.calendars")

# No real calendar has ten years without a working or school day; a scan that long means
# the configuration cannot produce one (e.g. no term after the date), not slowness.
_MAX_SCAN_DAYS = 3660

_DayTest = Callable[[date], bool]

_warned_years: set[int] = set()
_warned_lock = threading.Lock()


@cache
def covered(year: int) -> bool:
    """Whether chinesecalendar has holiday data for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def coverage_text(year: int) -> Text | None:
    """The operator warning for a year without holiday data, or None if covered."""
    if covered(year):
        return None
    return _(
        "No statutory holiday data for {year}: working days are counted as Monday to Friday "
        "plus the policy's extra_workdays, minus its extra_holidays. Add that year's "
        "holidays and make-up working days (调休) to the policy.",
        year=year,
    )


def coverage_warning(year: int, lang: str | None = None) -> str | None:
    """:func:`coverage_text` rendered in ``lang`` (for ``policy check``)."""
    text = coverage_text(year)
    return None if text is None else text.render(lang)


def reset_coverage_warnings() -> None:
    """Forget which years were already warned about (tests; a config reload)."""
    with _warned_lock:
        _warned_years.clear()


def _warn_once(year: int) -> None:
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    logger.warning(
        "chinesecalendar has no holiday data for %d; counting Monday-Friday as working days "
        "(plus the policy's extra_workdays/extra_holidays). Add that year's holidays and "
        "make-up days to the policy.",
        year,
    )


def _statutory_working_day(d: date) -> bool:
    if covered(d.year):
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:  # pragma: no cover - covered() said otherwise
            pass
    _warn_once(d.year)
    return d.weekday() < 5


class Calendars:
    """Working-day and school-day arithmetic for one policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.tz = policy.tz
        self.terms: tuple[Term, ...] = tuple(sorted(policy.calendar.terms, key=lambda t: t.start))
        self._extra_holidays = frozenset(policy.calendar.extra_holidays)
        self._extra_workdays = frozenset(policy.calendar.extra_workdays)

    # ---------------------------------------------------------------- days

    def is_working_day(self, d: date) -> bool:
        """Statutory working day: chinesecalendar, then the policy's overrides; never raises."""
        if d in self._extra_workdays:
            return True
        if d in self._extra_holidays:
            return False
        return _statutory_working_day(d)

    def term_for(self, d: date) -> Term | None:
        for term in self.terms:
            if term.start <= d <= term.end:
                return term
        return None

    def in_term(self, d: date) -> bool:
        return self.term_for(d) is not None

    def is_school_day(self, d: date) -> bool:
        """In a term and a working day (so a 调休 Saturday in term is a school day)."""
        return self.in_term(d) and self.is_working_day(d)

    def _is(self, unit: str) -> _DayTest:
        if unit == "working_days":
            return self.is_working_day
        if unit == "school_days":
            return self.is_school_day
        raise ValueError(f"{unit} is not counted day by day")

    def _scan(self, d: date, step: int, test: _DayTest, unit: str) -> date:
        """The first day from ``d`` (inclusive) in direction ``step`` that passes ``test``."""
        for _i in range(_MAX_SCAN_DAYS):
            if test(d):
                return d
            d += timedelta(days=step)
        last = date_text(self.terms[-1].end) if self.terms else "-"
        raise PolicyError(
            _(
                "No {unit} found within ten years of {date}; the policy's terms end on {last}: "
                "add the next terms to the policy",
                unit=unit,
                date=date_text(d),
                last=last,
            ),
            key="calendar.terms",
        )

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return self._scan(d + timedelta(days=1), 1, self.is_working_day, "working_days")

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before ``d``."""
        return self._scan(d - timedelta(days=1), -1, self.is_working_day, "working_days")

    def next_school_day(self, d: date) -> date:
        """The first school day strictly after ``d`` (across holidays and term breaks)."""
        return self._scan(d + timedelta(days=1), 1, self.is_school_day, "school_days")

    def previous_school_day(self, d: date) -> date:
        """The last school day strictly before ``d``."""
        return self._scan(d - timedelta(days=1), -1, self.is_school_day, "school_days")

    # ---------------------------------------------------------------- durations

    def add(self, start: date, duration: Duration) -> date:
        """The date ``duration`` after ``start``; ``start`` is day 0 and does not count.

        Amount 0 means "the same day if it counts, else the next one that does", so a
        "0 working days" deadline on a Saturday falls on Monday.
        """
        if duration.unit == "calendar_days":
            return start + timedelta(days=duration.amount)
        test = self._is(duration.unit)
        if duration.amount == 0:
            return self._scan(start, 1, test, duration.unit)
        d = start
        for _i in range(duration.amount):
            d = self._scan(d + timedelta(days=1), 1, test, duration.unit)
        return d

    def before(self, due: date, duration: Duration) -> date:
        """The date ``duration`` before ``due`` (reminder lead times); 0 → ``due`` itself."""
        if duration.unit == "calendar_days":
            return due - timedelta(days=duration.amount)
        test = self._is(duration.unit)
        d = due
        for _i in range(duration.amount):
            d = self._scan(d - timedelta(days=1), -1, test, duration.unit)
        return d

    def due_at(self, start: datetime, duration: Duration) -> datetime:
        """When a deadline of ``duration`` that starts at ``start`` falls due (aware UTC).

        Hours are exact. Day units fall due at ``times.deadline_time`` local on the day
        :meth:`add` gives for the local date of ``start``. An amount of 0 that would
        already have passed (reported after the deadline time) moves to the next such
        day: a deadline is never born overdue.
        """
        start = _aware(start)
        if duration.unit == "hours":
            return (start + timedelta(hours=duration.amount)).astimezone(UTC)
        day = self.add(self.local_date(start), duration)
        due = self.at_local(day, self.policy.times.deadline_time)
        if due <= start and duration.amount == 0:
            nxt = (
                day + timedelta(days=1)
                if duration.unit == "calendar_days"
                else self._scan(day + timedelta(days=1), 1, self._is(duration.unit), duration.unit)
            )
            due = self.at_local(nxt, self.policy.times.deadline_time)
        return due

    def remind_at(self, due: datetime, lead: Duration) -> datetime:
        """When to send the reminder ``lead`` before ``due`` (aware UTC).

        Day units: ``times.reminder_time`` local on :meth:`before` the due day (0 → the
        morning of the due day). Hours: exactly ``lead`` earlier.
        """
        due = _aware(due)
        if lead.unit == "hours":
            return (due - timedelta(hours=lead.amount)).astimezone(UTC)
        day = self.before(self.local_date(due), lead)
        return self.at_local(day, self.policy.times.reminder_time)

    # ---------------------------------------------------------------- counting

    def days(self, start: date, end: date, unit: str) -> Iterator[date]:
        """The working or school days from ``start`` to ``end``, both inclusive."""
        test = self._is(unit)
        d = start
        while d <= end:
            if test(d):
                yield d
            d += timedelta(days=1)

    def school_days(self, start: date, end: date) -> Iterator[date]:
        return self.days(start, end, "school_days")

    def count_school_days(self, start: date, end: date) -> int:
        """School days from ``start`` to ``end`` inclusive (0 if ``end`` < ``start``)."""
        return sum(1 for _d in self.school_days(start, end))

    def count_working_days(self, start: date, end: date) -> int:
        """Working days from ``start`` to ``end`` inclusive (0 if ``end`` < ``start``)."""
        return sum(1 for _d in self.days(start, end, "working_days"))

    # ---------------------------------------------------------------- time zone

    def local_date(self, when: datetime) -> date:
        """The date in the policy's time zone of an aware instant."""
        return _aware(when).astimezone(self.tz).date()

    def at_local(self, d: date, t: time) -> datetime:
        """Local wall-clock ``t`` on ``d`` in the policy's time zone, as aware UTC."""
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)

    # ---------------------------------------------------------------- coverage

    def coverage_warning(self, year: int, lang: str | None = None) -> str | None:
        """Same as the module function; here so callers holding a Calendars need no import."""
        return coverage_warning(year, lang)

    def uncovered_years(self) -> list[int]:
        """Years the policy's terms touch that chinesecalendar has no data for."""
        years = {y for t in self.terms for y in range(t.start.year, t.end.year + 1)}
        return sorted(y for y in years if not covered(y))


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            "an aware datetime is required (the database's naive UTC goes "
            "through casework.clock.from_db first)"
        )
    return when
