"""The fake server's shared state (:class:`TelegramState`): users, chats, messages and their
event log, waiting for a change, and what tests read back. The other modules add one
concern each on top of it; :class:`~sandbox.fakebot.api.FakeTelegram` puts them together."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable, Iterable

from sandbox.fakebot.model import (
    ApiCall,
    CallbackAnswer,
    ChatEvent,
    EventKind,
    FakeChat,
    FakeUser,
    MessageVersion,
    StoredMessage,
)
from sandbox.fakebot.protocol import JSON, Params, TelegramApiError, _bad_request, _json_copy


class TelegramState:
    """The server state every part shares: the bot's identity, users and chats, the messages
    and the event log (with waiting on a change), and the inspection helpers tests read.
    :class:`~sandbox.fakebot.api.FakeTelegram` sets the attributes up."""

    now: Callable[[], float]
    bot: FakeUser
    token: str
    users: dict[int, FakeUser]
    chats: dict[int, FakeChat]
    callback_queries: dict[str, CallbackAnswer]
    calls: deque[ApiCall]
    _blocked: set[int]
    _next_user_id: int
    _seq: int
    _events: list[ChatEvent]
    observers: list[Callable[[ChatEvent], None]]
    _waiters: set[asyncio.Future[None]]
    _last_activity: float

    # ---------------------------------------------------------------- users and chats

    def add_user(
        self,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        user_id: int | None = None,
        phone_number: str | None = None,
    ) -> FakeUser:
        """Register a Telegram user (a client).  Ids are allocated if not given."""
        if user_id is None:
            while self._next_user_id in self.users:
                self._next_user_id += 1
            user_id = self._next_user_id
            self._next_user_id += 1
        user = FakeUser(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            phone_number=phone_number,
        )
        self.users[user_id] = user
        return user

    def add_group(
        self, title: str = "Test group", *, chat_id: int | None = None, supergroup: bool = False
    ) -> FakeChat:
        """Create a group (negative id) or supergroup (-100... id) the bot is a member of."""
        if chat_id is None:
            base = -1_001_000_000_000 if supergroup else -4_000_000_000
            chat_id = base - len(self.chats)
            while chat_id in self.chats:
                chat_id -= 1
        kind = "supergroup" if supergroup or chat_id <= -1_000_000_000_000 else "group"
        chat = FakeChat(id=chat_id, type=kind, title=title)
        self.chats[chat_id] = chat
        return chat

    def _register(self, user: FakeUser) -> FakeUser:
        known = self.users.get(user.id)
        if known is None or known is not user:
            self.users[user.id] = user
        return user

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The private chat between ``user`` and the bot (created when first needed)."""
        self._register(user)
        chat = self.chats.get(user.id)
        if chat is None:
            chat = FakeChat(id=user.id, type="private")
            self.chats[user.id] = chat
        chat.first_name, chat.last_name, chat.username = (
            user.first_name,
            user.last_name,
            user.username,
        )
        return chat

    def _group(self, chat_id: int) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.add_group(f"Group {chat_id}", chat_id=chat_id)
        if chat.type == "private":
            raise ValueError(f"chat {chat_id} is a private chat, not a group")
        return chat

    def chat(self, chat_id: int) -> FakeChat:
        return self.chats[chat_id]

    def _target_chat(self, p: Params) -> FakeChat:
        if not p.has("chat_id"):
            raise _bad_request("chat_id is empty")
        chat_id = self._chat_id_of(p)
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            if chat_id is not None and chat_id in self.users:
                raise TelegramApiError(
                    403, "Forbidden: bot can't initiate conversation with a user"
                )
            raise _bad_request("chat not found")
        return chat

    def _chat_id_of(self, params: Params) -> int | None:
        raw = params.values.get("chat_id")
        if raw is None or raw == "":
            return None
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        text = str(raw).strip()
        if text.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == text[1:].lower():
                    return chat.id
            return None
        try:
            return int(text)
        except ValueError:
            return None

    # ---------------------------------------------------------------- events and waiting

    def marker(self) -> int:
        """An opaque position in the event log, for ``*_since`` readers."""
        return self._seq

    def _record(self, kind: EventKind, msg: StoredMessage) -> ChatEvent:
        self._seq += 1
        event = ChatEvent(
            seq=self._seq,
            kind=kind,
            chat_id=msg.chat_id,
            message_id=msg.message_id,
            from_bot=msg.from_bot,
            text=msg.content,
            reply_markup=_json_copy(msg.reply_markup),
            message=msg,
        )
        self._events.append(event)
        for observe in self.observers:
            observe(event)
        self._notify()
        return event

    def _notify(self) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (without polling) until ``predicate()`` holds; re-checked on every change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                self._waiters.discard(waiter)

    async def wait_idle(self, quiet: float = 0.05, timeout: float = 5.0) -> bool:
        """Wait until the bot made no API call (other than getUpdates) for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            idle_for = time.monotonic() - self._last_activity
            if idle_for >= quiet:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(quiet - idle_for)

    # ---------------------------------------------------------------- inspection

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """All messages of a chat in order (bot's and user's)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if include_deleted or not m.deleted]

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        return self.chats[chat_id].messages[message_id]

    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self.messages(chat_id) if m.from_bot]

    def last_bot_message(self, chat_id: int) -> StoredMessage | None:
        found = self.bot_messages(chat_id)
        return found[-1] if found else None

    def events_since(
        self,
        chat_id: int | None,
        marker: int,
        *,
        from_bot: bool | None = None,
        kinds: Iterable[EventKind] = ("sent", "edited", "deleted"),
    ) -> list[ChatEvent]:
        """Events after ``marker`` (``chat_id=None``: all chats)."""
        wanted = set(kinds)
        # events are kept in ``seq`` order: skip the older ones without looking at them
        start = bisect.bisect_right(self._events, marker, key=lambda e: e.seq)
        return [
            e
            for e in self._events[start:]
            if (chat_id is None or e.chat_id == chat_id)
            and (from_bot is None or e.from_bot == from_bot)
            and e.kind in wanted
        ]

    def bot_messages_since(self, chat_id: int, marker: int) -> list[StoredMessage]:
        """Bot messages created in ``chat_id`` after ``marker``, in their current state."""
        return [
            e.message
            for e in self.events_since(chat_id, marker, from_bot=True, kinds=("sent",))
            if not e.message.deleted
        ]

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The ReplyKeyboardMarkup the user's client currently shows in ``chat_id``."""
        chat = self.chats.get(chat_id)
        return chat.reply_keyboard if chat else None

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self.callback_queries.get(query_id)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Callback queries the bot answered, in the order they were created."""
        return [q for q in self.callback_queries.values() if q.answered]

    @property
    def unanswered_callbacks(self) -> list[CallbackAnswer]:
        """Taps the bot never answered (the client would show a spinner)."""
        return [q for q in self.callback_queries.values() if not q.answered]

    def call_count(self, method: str, via: str | None = None) -> int:
        """Calls of ``method``; only those made ``via`` "http" or "webhook response" if given."""
        return sum(1 for c in self.calls if c.method.lower() == method.lower()
                   and (via is None or c.via == via))

    # ---------------------------------------------------------------- messages

    def _date(self) -> int:
        return int(self.now())

    def _new_message(
        self,
        chat: FakeChat,
        *,
        from_bot: bool,
        sender: JSON,
        text: str | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        parse_mode: str | None = None,
        raw_text: str | None = None,
        reply_markup: JSON | None = None,
        media: JSON | None = None,
        reply_to: StoredMessage | None = None,
        media_group_id: str | None = None,
    ) -> StoredMessage:
        msg = StoredMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            from_bot=from_bot,
            sender=sender,
            date=self._date(),
            text=text,
            entities=entities or [],
            caption=caption,
            caption_entities=caption_entities or [],
            parse_mode=parse_mode,
            raw_text=raw_text,
            reply_markup=reply_markup,
            media=media or {},
            reply_to=reply_to,
            media_group_id=media_group_id,
        )
        chat.next_message_id += 1
        chat.messages[msg.message_id] = msg
        if from_bot and reply_markup:
            if "keyboard" in reply_markup:
                chat.reply_keyboard = reply_markup
            elif reply_markup.get("remove_keyboard"):
                chat.reply_keyboard = None
            elif reply_markup.get("force_reply"):
                chat.force_reply_to = msg.message_id
        self._record("sent", msg)
        return msg

    def _apply_edit(
        self,
        msg: StoredMessage,
        *,
        text: str | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        reply_markup: JSON | None,
        media: JSON | None = None,
    ) -> None:
        msg.history.append(
            MessageVersion(
                text=msg.text,
                entities=_json_copy(msg.entities),
                caption=msg.caption,
                caption_entities=_json_copy(msg.caption_entities),
                reply_markup=_json_copy(msg.reply_markup),
                edit_date=msg.edit_date,
            )
        )
        if text is not None:
            msg.text, msg.entities = text, entities or []
        if caption is not None:
            msg.caption, msg.caption_entities = caption or None, caption_entities or []
        if media is not None:
            msg.media = media
        msg.reply_markup = reply_markup
        msg.edit_date = self._date()
        self._record("edited", msg)

    def message_json(self, msg: StoredMessage, *, include_reply: bool = True) -> JSON:
        """The Bot API ``Message`` object for a stored message."""
        data: JSON = {
            "message_id": msg.message_id,
            "from": dict(msg.sender),
            "chat": self.chats[msg.chat_id].to_dict(),
            "date": msg.date,
        }
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if include_reply and msg.reply_to is not None:
            data["reply_to_message"] = self.message_json(msg.reply_to, include_reply=False)
        if msg.media_group_id:
            data["media_group_id"] = msg.media_group_id
        if msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = _json_copy(msg.entities)
        data.update(_json_copy(msg.media))
        if msg.caption:
            data["caption"] = msg.caption
            if msg.caption_entities:
                data["caption_entities"] = _json_copy(msg.caption_entities)
        inline = msg.inline_markup
        if inline:
            data["reply_markup"] = _json_copy(inline)
        return data


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
