"""Small pieces the flows share: how a date, a code or a list of attachments is asked,
kept in the draft (JSON: dates as ISO strings) and shown on the summary; and how an ID or
phone number waits in a draft (sealed: encrypted like the columns it ends up in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from casework import codes, validation
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import date_text, join
from casework.personal import SEALED_TAG
from conversations.engine import Option, Turn
from conversations.formatting import fmt_date, fmt_short
from models.types import cipher

ALL_ROLES = frozenset(
    {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"}
)


def store_date(name: str) -> Callable[[Turn, date | None], None]:
    def store(turn: Turn, value: date | None) -> None:
        turn.draft[name] = value.isoformat() if value else None

    return store


def draft_date(turn: Turn, name: str) -> date | None:
    raw = turn.draft.get(name)
    return date.fromisoformat(raw) if raw else None


def show_date(name: str) -> Callable[[Turn], str]:
    return lambda turn: fmt_date(draft_date(turn, name), turn.lang)


SEALED = SEALED_TAG  # a sealed draft value is tagged (casework.personal)


def seal(value: str | None) -> dict[str, str] | None:
    """``value`` encrypted for a draft. Drafts are JSON in ``conversation_state``; an ID or
    phone number waiting there for Confirm is kept as the encrypted columns keep it."""
    if value is None or value == "":
        return None
    return {SEALED: cipher().encrypt(value)}


def unseal(raw: Any) -> str | None:
    """The value :func:`seal` kept. A plain string is a draft saved before drafts were
    sealed (abandoned ones are purged within days); it is read as it is."""
    if isinstance(raw, dict) and SEALED in raw:
        return cipher().decrypt(str(raw[SEALED]))
    return raw if isinstance(raw, str) and raw else None


def store_sealed(name: str) -> Callable[[Turn, str | None], None]:
    """A step's ``store`` for an ID or phone number."""

    def store(turn: Turn, value: str | None) -> None:
        turn.draft[name] = seal(value)

    return store


def draft_sealed(turn: Turn, name: str) -> str | None:
    return unseal(turn.draft.get(name))


def recent_days(turn: Turn) -> list[Option]:
    """Today and the school day before it (on a Monday that is Friday, not Sunday)."""
    today = turn.cw.today()
    before = turn.cw.calendars.previous_school_day(today)
    return [
        Option(today.isoformat(), _("Today ({date})", date=fmt_short(today, turn.lang))),
        Option(before.isoformat(), _("Previous school day ({date})", date=fmt_short(before, turn.lang))),
    ]


def parse_past_date(turn: Turn, text: str, *, field: str, max_past_days: int) -> date:
    """A date on or before today. A month-day still to come this year ("11-30" typed on
    11-23) is a date in the future, not one a year ago that is "too far back"."""
    today = turn.cw.today()
    try:
        return validation.parse_date(text, today=today, field=field, max_past_days=max_past_days)
    except ValidationError:
        ahead = validation.parse_date(text, today=today, field=field, allow_future=True)
        if today < ahead <= today + timedelta(days=366):
            raise ValidationError(field, _("The date {date} is in the future.", date=date_text(ahead))) from None
        raise


def today_or_yesterday(turn: Turn) -> list[Option]:
    """For things done on any day (a home visit on a Sunday)."""
    today = turn.cw.today()
    yesterday = today - timedelta(days=1)
    return [
        Option(today.isoformat(), _("Today ({date})", date=fmt_short(today, turn.lang))),
        Option(yesterday.isoformat(), _("Yesterday ({date})", date=fmt_short(yesterday, turn.lang))),
    ]


def code_options(kind: str) -> Callable[[Turn], list[Option]]:
    return lambda turn: [Option(code, codes.label(kind, code)) for code in codes.CODE_LISTS[kind]]


def show_code(kind: str, name: str) -> Callable[[Turn], Text | None]:
    return lambda turn: codes.label(kind, turn.draft[name]) if turn.draft.get(name) else None


def show_codes(kind: str, name: str) -> Callable[[Turn], Text | None]:
    def show(turn: Turn) -> Text | None:
        chosen = turn.draft.get(name) or []
        return join(codes.label(kind, c) for c in chosen) if chosen else None

    return show


def mapping_options(mapping: Mapping[str, Text]) -> Callable[[Turn], list[Option]]:
    return lambda turn: [Option(code, label) for code, label in mapping.items()]


def show_mapping(mapping: Mapping[str, Text], name: str) -> Callable[[Turn], Text | None]:
    def show(turn: Turn) -> Text | None:
        value = turn.draft.get(name)
        return mapping.get(value) if value else None

    return show


def show_attached(name: str) -> Callable[[Turn], Text | None]:
    def show(turn: Turn) -> Text | None:
        items: list[dict[str, Any]] = turn.draft.get(name) or []
        return _("{n} attached", n=len(items)) if items else None

    return show
