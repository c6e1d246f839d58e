"""Messages the bot will push: written in the same transaction as the change that implies
them, rendered in the recipient's language only when the sender delivers them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from casework.clock import to_db
from casework.i18n import Text
from models.tables import OutboxMessage, User


def text_to_json(text: Text) -> dict[str, Any]:
    return {"msgid": text.msgid, "params": {k: _param_to_json(v) for k, v in text.params.items()}}


def _param_to_json(value: Any) -> Any:
    if isinstance(value, Text):
        return {"__text__": text_to_json(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def text_from_json(data: dict[str, Any]) -> Text:
    params = {
        k: (text_from_json(v["__text__"]) if isinstance(v, dict) and "__text__" in v else v)
        for k, v in data.get("params", {}).items()
    }
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
