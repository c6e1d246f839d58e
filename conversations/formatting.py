"""Dates, numbers and short labels as a reader in each language expects them."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date as _babel_date
from babel.dates import format_skeleton

from casework.clock import from_db
from casework.context import Casework
from casework.deadlines import next_due
from casework.i18n import Text, _
from casework.labels import grade_text
from models.tables import Case

_BABEL_LOCALE = {"zh_Hans": "zh_Hans_CN", "en": "en"}


def fmt_date(value: date | datetime | None, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    return _babel_date(value, format="medium", locale=_BABEL_LOCALE.get(lang, "zh_Hans_CN"))


def fmt_short(value: date, lang: str) -> str:
    """Month and day only ("11月26日" / "Nov 26"): deadlines are near."""
    return format_skeleton("MMMd", value, locale=_BABEL_LOCALE.get(lang, "zh_Hans_CN"))


def class_label(grade: int, section: int) -> Text:
    return _("Grade {grade} Class {section}", grade=grade_text(grade), section=section)


def fmt_due(cw: Casework, case: Case, lang: str) -> str:
    """The case's next deadline as a short date, or "—"."""
    return fmt_due_at(cw, next_due(cw, case), lang)


def fmt_due_at(cw: Casework, due: datetime | None, lang: str) -> str:
    """A deadline (as stored) as a short local date, or "—"."""
    if due is None:
        return "—"
    return fmt_short(cw.calendars.local_date(from_db(due)), lang)


def due_phrase(cw: Casework, due: datetime | None, lang: str) -> Text:
    """"due Nov 24" / "11月24日前", or "no deadline": never "due —" (—前)."""
    if due is None:
        return _("no deadline")
    return _("due {date}", date=fmt_due_at(cw, due, lang))


def round_text(cw: Casework, case: Case) -> Text:
    """Where the persuasion stands at the case's level: "round 2 of 5", "visit 1", "no visit yet"."""
    if case.current_round == 0:
        return _("no visit yet")
    level = cw.policy.level(case.level) if cw.policy.has_level(case.level) else None  # type: ignore[arg-type]
    if level is not None and level.rounds is not None:
        return _("round {round} of {rounds}", round=case.current_round, rounds=level.rounds)
    return _("visit {round}", round=case.current_round)
