"""Working days and school days: 国庆/中秋 2026 with its 调休, terms, the 2027 fallback."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from casework import calendars as calendars_module
from casework.calendars import Calendars, coverage_warning, covered, reset_coverage_warnings
from casework.errors import PolicyError
from casework.policy import POLICY_DIR, Duration, Policy, load_named, validate_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")


def wd(n: int) -> Duration:
    return Duration(amount=n, unit="working_days")


def sd(n: int) -> Duration:
    return Duration(amount=n, unit="school_days")


def cd(n: int) -> Duration:
    return Duration(amount=n, unit="calendar_days")


def datian_with(**calendar: Any) -> Policy:
    data = tomllib.loads((POLICY_DIR / "datian.toml").read_text(encoding="utf-8"))
    data["calendar"].update(calendar)
    return validate_policy(data)


@pytest.fixture
def cal() -> Calendars:
    return Calendars(load_named("datian"))


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    reset_coverage_warnings()
    yield
    reset_coverage_warnings()


# ------------------------------------------------------------------ working days


def test_national_day_and_mid_autumn_2026(cal: Calendars) -> None:
    assert cal.is_working_day(date(2026, 9, 20))  # Sunday, 调休 for National Day
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday, 调休
    for day in range(1, 8):
        assert not cal.is_working_day(date(2026, 10, day))
    for day in (25, 26, 27):  # 中秋 Fri–Sun
        assert not cal.is_working_day(date(2026, 9, day))
    assert cal.is_working_day(date(2026, 10, 8))
    assert not cal.is_working_day(date(2026, 10, 11))  # ordinary Sunday
    assert not cal.is_working_day(date(2026, 10, 17))  # ordinary Saturday


def test_add_working_days_across_the_golden_week(cal: Calendars) -> None:
    assert cal.add(date(2026, 9, 30), wd(1)) == date(2026, 10, 8)
    assert cal.add(date(2026, 9, 30), wd(3)) == date(2026, 10, 10)
    assert cal.add(date(2026, 9, 30), wd(4)) == date(2026, 10, 12)
    assert cal.add(date(2026, 9, 18), wd(1)) == date(2026, 9, 20)  # Fri → the make-up Sunday
    assert cal.add(date(2026, 9, 24), wd(1)) == date(2026, 9, 28)  # over 中秋


def test_add_zero_is_the_same_or_next_counting_day(cal: Calendars) -> None:
    assert cal.add(date(2026, 9, 30), wd(0)) == date(2026, 9, 30)
    assert cal.add(date(2026, 10, 3), wd(0)) == date(2026, 10, 8)
    assert cal.add(date(2026, 10, 3), cd(0)) == date(2026, 10, 3)


def test_add_calendar_days_and_hours(cal: Calendars) -> None:
    assert cal.add(date(2026, 9, 30), cd(7)) == date(2026, 10, 7)
    with pytest.raises(ValueError):
        cal.add(date(2026, 9, 30), Duration(amount=2, unit="hours"))


def test_before_counts_back_over_holidays(cal: Calendars) -> None:
    assert cal.before(date(2026, 10, 8), wd(1)) == date(2026, 9, 30)
    assert cal.before(date(2026, 10, 12), wd(2)) == date(2026, 10, 9)  # 10-10 counts
    assert cal.before(date(2026, 10, 8), wd(0)) == date(2026, 10, 8)
    assert cal.before(date(2026, 10, 8), cd(3)) == date(2026, 10, 5)
    with pytest.raises(ValueError):
        cal.before(date(2026, 10, 8), Duration(amount=1, unit="hours"))


def test_next_and_previous_working_day(cal: Calendars) -> None:
    assert cal.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.previous_working_day(date(2026, 10, 8)) == date(2026, 9, 30)
    assert cal.count_working_days(date(2026, 9, 28), date(2026, 10, 11)) == 6


# ------------------------------------------------------------------ school days


def test_school_days_in_and_out_of_term(cal: Calendars) -> None:
    assert not cal.is_school_day(date(2026, 8, 31))  # Monday before term
    assert cal.is_school_day(date(2026, 9, 1))
    assert cal.is_school_day(date(2026, 9, 20))  # 调休 Sunday in term
    assert cal.is_school_day(date(2026, 10, 10))  # 调休 Saturday in term
    assert not cal.is_school_day(date(2026, 10, 5))
    assert cal.is_working_day(date(2026, 7, 6)) and not cal.is_school_day(date(2026, 7, 6))
    assert cal.term_for(date(2026, 12, 1)) is not None
    assert cal.term_for(date(2026, 8, 1)) is None


def test_counting_and_stepping_school_days(cal: Calendars) -> None:
    # 09-28, 09-29, 09-30, 10-08, 10-09, 10-10, 10-12
    assert cal.count_school_days(date(2026, 9, 28), date(2026, 10, 12)) == 7
    assert cal.count_school_days(date(2026, 10, 12), date(2026, 9, 28)) == 0
    assert cal.next_school_day(date(2026, 7, 3)) == date(2026, 9, 1)  # over the summer
    assert cal.previous_school_day(date(2026, 9, 1)) == date(2026, 7, 3)
    assert cal.next_school_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.add(date(2026, 7, 3), sd(1)) == date(2026, 9, 1)
    assert cal.add(date(2026, 9, 30), sd(3)) == date(2026, 10, 10)
    assert cal.before(date(2026, 9, 1), sd(1)) == date(2026, 7, 3)
    assert list(cal.school_days(date(2026, 10, 9), date(2026, 10, 12))) == [
        date(2026, 10, 9),
        date(2026, 10, 10),
        date(2026, 10, 12),
    ]


def test_no_school_day_after_the_last_term_is_a_policy_error(cal: Calendars) -> None:
    with pytest.raises(PolicyError) as err:
        cal.add(date(2027, 7, 2), sd(1))
    assert err.value.detail["key"] == "calendar.terms"


# ------------------------------------------------------------------ 2027: no holiday data


def test_2027_falls_back_to_weekdays_with_one_warning(
    cal: Calendars, caplog: pytest.LogCaptureFixture
) -> None:
    assert not covered(2027) and covered(2026)
    with caplog.at_level(logging.WARNING, logger="casework.calendars"):
        assert cal.is_working_day(date(2027, 1, 4))  # Monday
        assert not cal.is_working_day(date(2027, 1, 2))  # Saturday
        assert cal.add(date(2027, 3, 5), wd(1)) == date(2027, 3, 8)
        assert cal.is_school_day(date(2027, 3, 1))
    warnings = [r for r in caplog.records if r.name == "casework.calendars"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "2027" in warnings[0].getMessage()


def test_each_uncovered_year_warns_once(cal: Calendars, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="casework.calendars"):
        for _i in range(3):
            cal.is_working_day(date(2027, 5, 1))
            cal.is_working_day(date(2028, 5, 1))
            cal.is_working_day(date(2026, 5, 1))  # covered: no warning
    assert [r.args for r in caplog.records] == [(2027,), (2028,)]


def test_extra_days_are_honoured_in_uncovered_years(caplog: pytest.LogCaptureFixture) -> None:
    policy = datian_with(
        extra_holidays=[date(2027, 1, 1), date(2027, 2, 8)],
        extra_workdays=[date(2027, 1, 2), date(2027, 2, 20)],
    )
    cal = Calendars(policy)
    with caplog.at_level(logging.WARNING, logger="casework.calendars"):
        assert not cal.is_working_day(date(2027, 1, 1))  # Friday made a holiday
        assert cal.is_working_day(date(2027, 1, 2))  # Saturday made a working day
        assert cal.add(date(2026, 12, 31), wd(1)) == date(2027, 1, 2)
        assert cal.add(date(2026, 12, 31), wd(2)) == date(2027, 1, 4)
        # a make-up Saturday outside term is a working day, not a school day
        assert cal.is_working_day(date(2027, 2, 20)) and not cal.is_school_day(date(2027, 2, 20))
    assert len(caplog.records) == 1


def test_extra_days_override_chinesecalendar() -> None:
    cal = Calendars(
        datian_with(extra_holidays=[date(2026, 9, 30)], extra_workdays=[date(2026, 10, 3)])
    )
    assert not cal.is_working_day(date(2026, 9, 30))
    assert cal.is_working_day(date(2026, 10, 3))
    assert cal.is_school_day(date(2026, 10, 3))


def test_coverage_warning() -> None:
    assert coverage_warning(2026) is None
    text = coverage_warning(2027, "en")
    assert text is not None and "2027" in text
    cal = Calendars(load_named("datian"))
    assert cal.coverage_warning(2027) is not None
    assert cal.uncovered_years() == [2027]


def test_module_logger_name() -> None:
    assert calendars_module.logger.name == "casework.calendars"


# ------------------------------------------------------------------ instants


def test_due_at_is_local_deadline_time_in_utc(cal: Calendars) -> None:
    start = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    due = cal.due_at(start, wd(3))
    assert due == datetime(2026, 10, 10, 9, 30, tzinfo=UTC)  # 17:30 CST
    assert due.tzinfo == UTC
    assert cal.due_at(start, cd(1)) == datetime(2026, 10, 1, 9, 30, tzinfo=UTC)


def test_due_at_uses_the_local_date_of_start(cal: Calendars) -> None:
    # 20:00 UTC on 09-30 is already 04:00 on 10-01 in Shanghai (a holiday)
    start = datetime(2026, 9, 30, 20, 0, tzinfo=UTC)
    assert cal.local_date(start) == date(2026, 10, 1)
    assert cal.due_at(start, wd(1)) == datetime(2026, 10, 8, 9, 30, tzinfo=UTC)
    assert cal.due_at(start, wd(3)) == datetime(2026, 10, 10, 9, 30, tzinfo=UTC)


def test_due_at_hours_are_exact(cal: Calendars) -> None:
    start = datetime(2026, 10, 1, 12, 0, tzinfo=SHANGHAI)
    due = cal.due_at(start, Duration(amount=48, unit="hours"))
    assert due == datetime(2026, 10, 3, 4, 0, tzinfo=UTC)
    assert due.tzinfo == UTC


def test_due_at_zero_is_never_born_overdue(cal: Calendars) -> None:
    morning = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)
    assert cal.due_at(morning, wd(0)) == cal.at_local(date(2026, 9, 30), time(17, 30))
    evening = datetime(2026, 9, 30, 19, 0, tzinfo=SHANGHAI)
    assert cal.due_at(evening, wd(0)) == cal.at_local(date(2026, 10, 8), time(17, 30))


def test_naive_datetimes_are_refused(cal: Calendars) -> None:
    with pytest.raises(ValueError):
        cal.due_at(datetime(2026, 9, 30, 10, 0), wd(1))
    with pytest.raises(ValueError):
        cal.local_date(datetime(2026, 9, 30, 10, 0))


def test_remind_at(cal: Calendars) -> None:
    due = cal.at_local(date(2026, 10, 8), time(17, 30))
    assert cal.remind_at(due, wd(1)) == datetime(2026, 9, 30, 0, 0, tzinfo=UTC)  # 08:00 CST
    assert cal.remind_at(due, wd(0)) == datetime(2026, 10, 8, 0, 0, tzinfo=UTC)
    hours = Duration(amount=2, unit="hours")
    assert cal.remind_at(due, hours) == due - timedelta(hours=2)


def test_at_local_and_local_date(cal: Calendars) -> None:
    at = cal.at_local(date(2026, 9, 1), time(8, 0))
    assert at == datetime(2026, 9, 1, 0, 0, tzinfo=UTC) and at.tzinfo == UTC
    assert cal.local_date(datetime(2026, 8, 31, 16, 0, tzinfo=UTC)) == date(2026, 9, 1)
    assert cal.local_date(datetime(2026, 8, 31, 15, 59, tzinfo=UTC)) == date(2026, 8, 31)
