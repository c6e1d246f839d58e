"""A turn's reply that could not be sent directly, kept in the outbox instead of lost.

The turn is committed before its reply goes out; when the Bot API is unreachable or
answers 5xx (or 429), the reply's messages not yet sent are queued here, already in the
words and language the user was about to read (files and reply keyboards too), marked
urgent so the sender takes them before other rows, in their order after anything older
for the same person.

A file made for the reply (a form, an export) is kept in its row, base64, until it is
sent; one over :data:`MAX_QUEUED_DOCUMENT` is not stored: its row says in words that the
file could not be sent and is to be asked for again.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from casework.clock import to_db
from casework.i18n import _
from models.tables import OutboxMessage, User

KIND = "reply"
# the largest file (bytes) a queued reply keeps in its row: forms are a few KB and exports
# rarely pass a megabyte; Telegram's own sendDocument limit (50 MB) is no size for a queue row
MAX_QUEUED_DOCUMENT = 5 * 1024 * 1024


@dataclass(frozen=True)
class ReplyPart:
    """One Telegram message of a reply, as rendered: its text (a file's caption), HTML or
    not, inline buttons as rows of (label, callback data); or ``keyboard``, any other
    keyboard as the Bot API reads it (a reply keyboard, its removal); ``file``, a file
    Telegram already holds, (photo or document, its file id); ``document``, a file made for
    this reply, (name, bytes)."""

    text: str
    html: bool = False
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    keyboard: dict[str, Any] | None = None
    file: tuple[str, str] | None = None
    document: tuple[str, bytes] | None = None


def _payload(part: ReplyPart) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "literal": part.text, "html": part.html,
        "literal_buttons": [[{"text": t, "data": d} for t, d in row] for row in part.buttons],
    }
    if part.keyboard is not None:
        payload["literal_keyboard"] = part.keyboard
    if part.file is not None:
        payload["literal_file"] = {"kind": part.file[0], "id": part.file[1]}
    if part.document is not None:
        payload["literal_document"] = {"name": part.document[0],
                                       "b64": base64.b64encode(part.document[1]).decode("ascii")}
    return payload


def _kept(part: ReplyPart, lang: str) -> ReplyPart:
    """``part`` as it can be queued: a file over :data:`MAX_QUEUED_DOCUMENT` becomes a
    message naming it, under its caption."""
    if part.document is None or len(part.document[1]) <= MAX_QUEUED_DOCUMENT:
        return part
    note = _("The file {name} could not be sent just now, and it is too large to be sent "
             "later. Please ask for it again.", name=part.document[0]).render(lang)
    return ReplyPart(f"{part.text}\n\n{note}" if part.text else note)


def queue_reply(session: Session, telegram_id: int, parts: list[ReplyPart], now: datetime) -> int:
    """Queue ``parts`` for the user with this Telegram id; how many rows (0 for someone
    the bot does not know: nobody to address a row to)."""
    found = session.execute(
        select(col(User.id), col(User.language)).where(col(User.telegram_id) == telegram_id)
    ).first()
    if found is None:
        return 0
    user_id, lang = found
    for part in parts:
        session.add(OutboxMessage(
            recipient_id=user_id, kind=KIND, urgent=True,
            payload=_payload(_kept(part, lang)),
            not_before=to_db(now), created_at=to_db(now),
        ))
    return len(parts)
