"""Dates, numbers and short labels as a reader in each language expects them."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date as _babel_date
from babel.dates import format_skeleton

from casework.i18n import Text, _

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
    return _("Grade {grade} Class {section}", grade=grade, section=section)
