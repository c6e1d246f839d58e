"""What the fake server keeps, as plain records: users, chats, messages with their edit
history, the event log's entries, callback answers and the calls the bot made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.fakebot.protocol import JSON


@dataclass
class FakeUser:
    """A Telegram account: a person using a client, or the bot itself (``is_bot=True``)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str | None = None
    is_bot: bool = False

    def to_dict(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass(frozen=True)
class MessageVersion:
    """A message's content before an edit."""

    text: str | None
    entities: list[JSON]
    caption: str | None
    caption_entities: list[JSON]
    reply_markup: JSON | None
    edit_date: int | None


def inline_rows(markup: Mapping[str, Any] | None) -> list[list[tuple[str, str | None]]]:
    """Inline keyboard of ``markup`` as rows of ``(text, callback_data)``."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        [(str(button.get("text", "")), button.get("callback_data")) for button in row]
        for row in markup["inline_keyboard"]
    ]


def keyboard_rows(markup: Mapping[str, Any] | None) -> list[list[JSON]]:
    """Reply keyboard of ``markup`` as rows of KeyboardButton dicts (strings normalised)."""
    if not markup or "keyboard" not in markup:
        return []
    return [
        [dict(button) if isinstance(button, Mapping) else {"text": str(button)} for button in row]
        for row in markup["keyboard"]
    ]


@dataclass
class StoredMessage:
    """A message as the server stores it (bot's or user's), with its edit history."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender: JSON
    date: int
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSON] = field(default_factory=list)
    parse_mode: str | None = None
    raw_text: str | None = None  # text/caption as submitted, before parse_mode rendering
    reply_markup: JSON | None = None  # as sent: inline/reply keyboard, removal or force_reply
    media: JSON = field(default_factory=dict)  # e.g. {"photo": [...]} or {"location": {...}}
    reply_to: StoredMessage | None = None
    media_group_id: str | None = None
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False

    @property
    def content(self) -> str:
        """What the user reads: the text, or the caption of a media message ('' if none)."""
        if self.text is not None:
            return self.text
        return self.caption or ""

    @property
    def inline_markup(self) -> JSON | None:
        if self.reply_markup and self.reply_markup.get("inline_keyboard"):
            return self.reply_markup
        return None

    @property
    def kind(self) -> str:
        """'text' or the media kind ('photo', 'document', 'location', ...)."""
        if self.text is not None:
            return "text"
        for key in self.media:
            if key != "document" or "animation" not in self.media:
                return key
        return "empty"

    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline buttons as rows of ``(text, callback_data)`` (``None`` for URL buttons)."""
        return inline_rows(self.inline_markup)

    def button_labels(self) -> list[str]:
        return [text for row in self.buttons() for text, _ in row]

    def inline_buttons(self) -> list[JSON]:
        """The raw InlineKeyboardButton dicts, flattened."""
        markup = self.inline_markup
        return [dict(b) for row in markup["inline_keyboard"] for b in row] if markup else []

    def keyboard(self) -> list[list[str]]:
        """Labels of the reply keyboard this message carried (empty if none)."""
        return [[b["text"] for b in row] for row in keyboard_rows(self.reply_markup)]

    def file_ids(self) -> list[str]:
        """file_ids of the media attached to this message (largest photo size last)."""
        ids: list[str] = []
        for value in self.media.values():
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, Mapping) and "file_id" in item and item["file_id"] not in ids:
                    ids.append(item["file_id"])
        return ids


EventKind = Literal["sent", "edited", "deleted"]


@dataclass(frozen=True)
class ChatEvent:
    """Something visible happening in a chat: a message sent, edited or deleted.

    ``text`` and ``reply_markup`` are snapshots taken when the event happened; ``message`` is the
    live stored message.
    """

    seq: int
    kind: EventKind
    chat_id: int
    message_id: int
    from_bot: bool
    text: str
    reply_markup: JSON | None
    message: StoredMessage

    @property
    def edited(self) -> bool:
        return self.kind == "edited"

    @property
    def deleted(self) -> bool:
        return self.kind == "deleted"

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        return inline_rows(self.reply_markup)

    @property
    def button_labels(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    def __str__(self) -> str:
        prefix = {"sent": "", "edited": "(edited) ", "deleted": "(deleted) "}[self.kind]
        return f"{prefix}{self.text}"


@dataclass
class FakeChat:
    """A chat (private, group or supergroup) and the messages in it."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: JSON | None = None  # the reply keyboard the client currently shows
    force_reply_to: int | None = None  # message the client is replying to (ForceReply)
    pinned_message_id: int | None = None

    def to_dict(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data


@dataclass
class CallbackAnswer:
    """A callback query the user produced by tapping, and the bot's answer to it."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made (files replaced by a short description): over HTTP, or
    (``via="webhook response"``) named in its answer to a webhook's POST."""

    method: str
    params: JSON
    status: int
    description: str | None
    at: float
    via: str = "http"
