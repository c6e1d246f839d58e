"""The sandbox's chats kept in its database: the stand-in Telegram lives in memory, so
without this a restart emptied every chat while the cases (and their alerts' deadlines)
stayed. Each private chat's messages are saved as they change and loaded on start, so an
old alert still carries its buttons and tapping them still works.

The sandbox time is kept too (``app_meta`` key ``sandbox_clock``): the clock bar only moves
forward, and a restart must not put the clock back before what the database already holds.

Files (photos, documents) are not kept: a restored message shows its text and buttons.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from casework.clock import from_db, to_db
from models.tables import AppMeta, SandboxChatMessage
from sandbox.fakebot import FakeTelegram, StoredMessage

CLOCK_KEY = "sandbox_clock"

_FIELDS = ("from_bot", "sender", "date", "text", "entities", "caption", "caption_entities",
           "parse_mode", "raw_text", "reply_markup", "media", "media_group_id", "edit_date",
           "deleted")


def _body(msg: StoredMessage) -> dict[str, Any]:
    return {name: getattr(msg, name) for name in _FIELDS}


class ChatStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._saved: dict[tuple[int, int], str] = {}  # what each row holds, to write changes only

    def load(self, tg: FakeTelegram) -> int:
        """Put the saved messages back into the private chats of users ``tg`` knows."""
        count = 0
        with Session(self.engine) as session:
            rows = session.exec(select(SandboxChatMessage)).all()
        for row in sorted(rows, key=lambda r: (r.chat_id, r.message_id)):
            user = tg.users.get(row.chat_id)
            if user is None:
                continue  # a guest of an earlier run: the page no longer offers them
            chat = tg.private_chat(user)
            fields: dict[str, Any] = {name: row.body.get(name) for name in _FIELDS}
            for name in ("entities", "caption_entities"):
                fields[name] = fields[name] or []
            fields["media"] = fields["media"] or {}
            msg = StoredMessage(chat_id=row.chat_id, message_id=row.message_id, **fields)
            chat.messages[msg.message_id] = msg
            chat.next_message_id = max(chat.next_message_id, msg.message_id + 1)
            markup = msg.reply_markup or {}
            if msg.from_bot and "keyboard" in markup:
                chat.reply_keyboard = markup
            elif msg.from_bot and markup.get("remove_keyboard"):
                chat.reply_keyboard = None
            self._saved[(row.chat_id, row.message_id)] = json.dumps(row.body, sort_keys=True)
            count += 1
        return count

    def save(self, tg: FakeTelegram) -> int:
        """Write the messages that are new or changed since the last save."""
        changed: list[tuple[SandboxChatMessage, str]] = []
        for chat in list(tg.chats.values()):
            if chat.type != "private":
                continue
            for msg in list(chat.messages.values()):
                body = _body(msg)
                key = (msg.chat_id, msg.message_id)
                dumped = json.dumps(body, sort_keys=True)
                if self._saved.get(key) != dumped:
                    row = SandboxChatMessage(chat_id=msg.chat_id, message_id=msg.message_id, body=body)
                    changed.append((row, dumped))
        if changed:
            with Session(self.engine) as session:
                for row, _ in changed:
                    session.merge(row)
                session.commit()
            for row, dumped in changed:
                self._saved[(row.chat_id, row.message_id)] = dumped
        return len(changed)

    def saved_clock(self) -> datetime | None:
        """The sandbox time the last run reached (None if it never saved one)."""
        with Session(self.engine) as session:
            row = session.get(AppMeta, CLOCK_KEY)
        return from_db(row.created_at) if row is not None else None

    def save_clock(self, now: datetime) -> None:
        with Session(self.engine) as session:
            row = session.get(AppMeta, CLOCK_KEY)
            if row is None:
                row = AppMeta(key=CLOCK_KEY, value="the sandbox time the last run reached",
                              created_at=to_db(now))
            else:
                row.created_at = to_db(now)
            session.add(row)
            session.commit()
