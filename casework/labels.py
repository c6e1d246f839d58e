"""Translatable labels for the codes the domain stores (roles, states, units, ...).

The database and callback data hold language-neutral codes ("township_officer",
"working_days"); what a reader sees is the label, a msgid marked with ``N_`` here and
rendered in the reader's language later. Keeping every code list in one module means the
policy description, the bot's menus and the web console say the same thing.

Besides the dictionaries this module has three small :class:`~casework.i18n.Text`
variants the plain ``_()`` cannot express: plurals (``n_``), lists joined by a
translatable separator (``join``) and labels looked up by code (``label``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_skeleton

from casework.i18n import (
    N_,
    ContextText,
    Text,
    _,
    gettext_for,
    ngettext_for,
    normalize_language,
    p_,
)

ROLE_LABELS: dict[str, str] = {
    "teacher": N_("teacher"),
    "school_admin": N_("school administrator"),
    "village_cadre": N_("village cadre"),
    "township_officer": N_("township officer"),
    "county_officer": N_("county officer"),
    "judicial_officer": N_("judicial officer"),
    "admin": N_("system administrator"),
}

# the papers a ladder level issues, named as the seeds name them (casework.policy.Document)
DOCUMENT_LABELS: dict[str, str] = {
    # 000 大田 四(二)《限期复学通知书》
    "deadline_notice": N_("Deadline notice to return to school"),
    # 004 荔浦 四(一)《劝返复学通知书》, issued by the school
    "return_notice": N_("Notice to return to school"),
    # 003 鸡东 四 / 001 谯城 (二) 责令限期改正
    "correction_order": N_("Order to correct within a deadline"),
    # 003 鸡东 四 县法院责任 教育行政处罚决定
    "penalty_decision": N_("Administrative penalty decision on education"),
    # 001 谯城 (二) 由区司法部门依法发送相关司法文书
    "legal_documents": N_("Legal documents"),
}

# the bodies a policy may name (casework.policy.Body), read wherever a role is
BODY_LABELS: dict[str, str] = {
    "county_government": N_("county government"),
    "city_bureau": N_("city education bureau"),
    "poverty_group": N_("district poverty-alleviation leading group"),
}

# Every state of the case lifecycle (DESIGN §3): the ladder first, then the exits.
STATE_LABELS: dict[str, str] = {
    "enrolment": N_("organising enrolment"),
    "suspected": N_("suspected dropout"),
    "school_persuasion": N_("school persuasion"),
    "township_persuasion": N_("township persuasion"),
    "deadline_notice": N_("return-to-school notice with a deadline"),
    "county_escalation": N_("county escalation"),
    "judicial": N_("judicial enforcement"),
    "returned": N_("returned to school"),
    "retention": N_("retention follow-up"),
    "closed": N_("closed"),
    "home_teaching": N_("home teaching"),
    "deferred": N_("deferred schooling"),
    "transferred": N_("transferred to another school"),
    "closed_other": N_("closed for another reason"),
    "paused": N_("paused"),
}

# Unit names on their own (menus, column headers); amounts use ``duration_text``.
UNIT_LABELS: dict[str, str] = {
    "working_days": N_("working days"),
    "calendar_days": N_("calendar days"),
    "school_days": N_("school days"),
    "hours": N_("hours"),
}

ACTION_LABELS: dict[str, str] = {
    "report": N_("report the absence to the school"),
    "home_visit": N_("visit the home or call the guardian"),
    "assign_persuader": N_("assign a named person to persuade"),
}

REPORT_LABELS: dict[str, str] = {
    "daily": N_("daily"),
    "weekly": N_("weekly"),
    "monthly": N_("monthly"),
    "quarterly": N_("quarterly"),
}

# Index 0 is Monday, as in ``date.weekday()``.
WEEKDAY_LABELS: tuple[str, ...] = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)

# Translators: separator between items of a list ("teacher, village cadre"); zh: "、".
LIST_SEPARATOR = N_(", ")
# Translators: separator between clauses of one description line; zh: "；".
CLAUSE_SEPARATOR = N_("; ")


@dataclass(frozen=True)
class PluralText(Text):
    """A :class:`Text` whose msgid has a plural form, chosen by ``n`` at render time."""

    plural: str = ""
    n: int = 0

    def render(self, lang: str | None = None) -> str:
        rendered = {
            k: (v.render(lang) if isinstance(v, Text) else v) for k, v in self.params.items()
        }
        return ngettext_for(lang, self.msgid, self.plural, self.n).format(**rendered)


@dataclass(frozen=True)
class JoinedText(Text):
    """Items rendered in the same language and joined by the separator msgid ``msgid``."""

    items: tuple[Text | str, ...] = ()

    def render(self, lang: str | None = None) -> str:
        separator = gettext_for(lang, self.msgid)
        return separator.join(
            item.render(lang) if isinstance(item, Text) else item for item in self.items
        )


# a grade as a class name writes it: 七年级（1）班 in Chinese, Grade 7 Class 1 in English
GRADE_NUMERALS: dict[int, ContextText] = {
    1: p_("grade", "1"), 2: p_("grade", "2"), 3: p_("grade", "3"),
    4: p_("grade", "4"), 5: p_("grade", "5"), 6: p_("grade", "6"),
    7: p_("grade", "7"), 8: p_("grade", "8"), 9: p_("grade", "9"),
}


def grade_text(grade: int | None) -> Text:
    if grade is None:
        return Text("?")
    return GRADE_NUMERALS.get(grade) or Text("{n}", {"n": grade})


_BABEL_LOCALES = {"zh_Hans": "zh_Hans_CN", "en": "en"}


@dataclass(frozen=True)
class DayText(Text):
    """A day as the chat writes it, in the reader's language: 12月14日 / Dec 14. One style
    for every message (files keep ISO dates)."""

    day: date | None = None
    with_year: bool = False

    def render(self, lang: str | None = None) -> str:
        if self.day is None:
            return "—"
        locale = _BABEL_LOCALES.get(normalize_language(lang), "zh_Hans_CN")
        return str(format_skeleton("yMMMd" if self.with_year else "MMMd", self.day, locale=locale))


def day_text(day: date | None) -> DayText:
    return DayText("", day=day)


def date_text(day: date | None) -> DayText:
    """A day with its year, for dates not near today (a term, a birth date, a policy's
    holidays): 2026年9月1日 / Sep 1, 2026."""
    return DayText("", day=day, with_year=True)


def n_(singular: str, plural: str, n: int, **params: Any) -> PluralText:
    """Mark a plural string (extraction keyword ``n_:1,2``); ``{n}`` is always available."""
    return PluralText(singular, {"n": n, **params}, plural=plural, n=n)


def join(items: Iterable[Text | str], separator: str = LIST_SEPARATOR) -> JoinedText:
    """A list of texts joined by a translatable separator (", " in English, "、" in Chinese)."""
    return JoinedText(separator, items=tuple(items))


def label(labels: Mapping[str, str], code: str) -> Text:
    """The label of ``code``; an unknown code is shown as itself rather than failing."""
    return Text(labels.get(code, code))


def role_text(role: str) -> Text:
    """A role's name, or a body's (a policy names either where someone acts or is told)."""
    return label(BODY_LABELS if role in BODY_LABELS else ROLE_LABELS, role)


_WITH_UNIT = re.compile(r"^(.*?)\s*[（(]([^（）()]*)[）)]\s*$")


def person_role(name: str, role: str) -> Text:
    """A user and their role in one bracket: "郝柏玉（上坪村，村干部）", never the double
    "郝柏玉（上坪村）（村干部）" a display name with its unit would give."""
    found = _WITH_UNIT.match(name)
    if found and found.group(1):
        return _("{name} ({unit}, {role})", name=found.group(1), unit=found.group(2), role=role_text(role))
    return _("{name} ({role})", name=name, role=role_text(role))


def state_text(state: str) -> Text:
    return label(STATE_LABELS, state)


def roles_text(roles: Iterable[str]) -> JoinedText:
    return join(role_text(r) for r in roles)


def duration_text(amount: int, unit: str) -> Text:
    """A duration in words ("1 working day", "3 calendar days"), pluralised per language."""
    if unit == "working_days":
        return n_("{n} working day", "{n} working days", amount)
    if unit == "calendar_days":
        return n_("{n} calendar day", "{n} calendar days", amount)
    if unit == "school_days":
        return n_("{n} school day", "{n} school days", amount)
    if unit == "hours":
        return n_("{n} hour", "{n} hours", amount)
    return Text("{n} {unit}", {"n": amount, "unit": unit})
