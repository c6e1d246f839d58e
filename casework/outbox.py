"""Messages the bot will push: written in the same transaction as the change that implies
them, rendered in the recipient's language only when the sender delivers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from casework.clock import to_db
from casework.i18n import ContextText, Text
from casework.labels import DayText, JoinedText, PluralText
from models.tables import OutboxMessage, User

# a message that waits for its recipient's next agenda (``casework.agenda``) instead of being
# sent on its own; the agenda folds it into one message. The sender sends "pending" only.
HELD = "held"
FOLDED = "folded"
HELD_KINDS = frozenset({"reminder", "overdue", "level_entered", "moved_up", "returned", "home_teaching"})


def held(kind: str, agenda_times: Sequence[object]) -> bool:
    """Whether a message of ``kind`` waits for the agenda (a policy with agenda times)."""
    return kind in HELD_KINDS and bool(agenda_times)


def text_to_json(text: Text) -> dict[str, Any]:
    """A Text as JSON; a plural (``n_``) keeps its plural msgid and count and a joined list
    (``join``) its items, so both render in the reader's language when the message is sent
    ("7 school days", not the singular the msgid alone would give)."""
    data: dict[str, Any] = {
        "msgid": text.msgid, "params": {k: _param_to_json(v) for k, v in text.params.items()}
    }
    if isinstance(text, PluralText):
        data["plural"], data["n"] = text.plural, text.n
    elif isinstance(text, JoinedText):
        data["items"] = [_param_to_json(item) for item in text.items]
    elif isinstance(text, ContextText):  # a grade numeral (七), a form's own word
        data["context"] = text.context
    elif isinstance(text, DayText):  # a day, written in the reader's language when sent
        data["day"] = text.day.isoformat() if text.day else None
    return data


def _param_to_json(value: Any) -> Any:
    if isinstance(value, Text):
        return {"__text__": text_to_json(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _param_from_json(value: Any) -> Any:
    if isinstance(value, dict) and "__text__" in value:
        return text_from_json(value["__text__"])
    return value


def text_from_json(data: dict[str, Any]) -> Text:
    params = {k: _param_from_json(v) for k, v in data.get("params", {}).items()}
    if "plural" in data:
        return PluralText(data["msgid"], params, plural=data["plural"], n=int(data["n"]))
    if "items" in data:
        return JoinedText(data["msgid"], items=tuple(_param_from_json(i) for i in data["items"]))
    if "context" in data:
        return ContextText(data["msgid"], params, context=data["context"])
    if "day" in data:
        return DayText(data["msgid"], day=date.fromisoformat(data["day"]) if data["day"] else None)
    return Text(data["msgid"], params)


def enqueue(
    session: Session,
    recipient: User,
    text: Text,
    *,
    kind: str,
    now: datetime,
    case_id: int | None = None,
    buttons: list[list[dict[str, str]]] | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue a message; ``buttons`` are rows of {"text": msgid, "data": callback code}."""
    msg = OutboxMessage(
        recipient_id=recipient.id or 0,
        case_id=case_id,
        kind=kind,
        payload={"text": text_to_json(text), "buttons": buttons or []},
        dedupe_key=dedupe_key,
        not_before=to_db(now),
        created_at=to_db(now),
    )
    session.add(msg)
    return msg
