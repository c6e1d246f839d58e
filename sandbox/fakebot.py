"""An in-process fake of the Telegram Bot API server.

This is a small, real implementation of the server side of the Bot API -- not a mock of
python-telegram-bot.  A bot built with PTB talks HTTP to it (through ``httpx.ASGITransport`` in
tests, or through uvicorn when it runs as a local sandbox) and gets back Telegram's JSON shapes,
Telegram's error shapes and Telegram's validation rules, so the whole PTB stack (request
encoding, response parsing, ``telegram.error`` mapping, ``Update.de_json``) is exercised.

Three pieces:

* :class:`FakeTelegram` -- the server-side state: the bot's identity, users, chats, messages
  (with edit history), the queue of pending updates, stored files, commands, webhook info,
  callback-query answers, fault injection and optional flood-limit enforcement.  User-side
  actions (:meth:`FakeTelegram.send_text`, :meth:`FakeTelegram.tap`,
  :meth:`FakeTelegram.send_photo`, ...) create updates the way a real client does; each returns
  the update dict and (unless ``enqueue=False``) queues it for ``getUpdates``.
* :func:`create_fake_bot_api` -- a Starlette ASGI app serving ``/bot{token}/{method}`` and
  ``/file/bot{token}/{file_path}`` on top of a :class:`FakeTelegram`.  It accepts Telegram's three
  request encodings (query string / form-urlencoded, JSON body, multipart with files and
  ``attach://`` references).
* :func:`format_text` -- Telegram's server-side text processing: HTML / MarkdownV2 / Markdown
  parsing into plain text + entities (with Telegram's ``can't parse entities`` errors), trimming
  and auto-detection of commands, mentions, hashtags, URLs and e-mails.

Typical use (see :mod:`sandbox.harness` for driving a PTB ``Application`` with it)::

    tg = FakeTelegram()
    api = create_fake_bot_api(tg)             # ASGI app; token defaults to tg.token
    alice = tg.add_user("Alice", language_code="zh-hans")
    update = tg.send_text(alice, "/start CODE")   # queued for getUpdates, also returned
    ...                                           # the bot answers through the HTTP API
    tg.last_bot_message(alice.id).text
    tg.inject("sendMessage", error_code=429, retry_after=3)   # next sendMessage -> 429
    tg.block(alice.id)                                        # sends to Alice -> 403

The state is meant to be used from one asyncio event loop (the one serving the API); the
user-side actions are synchronous and may be called from that loop's thread at any time.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import hashlib
import html
import inspect
import json
import math
import mimetypes
import re
import struct
import time
import urllib.parse
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeVar, cast

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "TINY_PNG",
    "ApiCall",
    "CallbackAnswer",
    "ChatEvent",
    "EntityParseError",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "Garble",
    "Injection",
    "MessageVersion",
    "RateStats",
    "StoredFile",
    "StoredMessage",
    "TelegramApiError",
    "UploadedFile",
    "create_fake_bot_api",
    "format_text",
    "utf16_len",
]


_T = TypeVar("_T")


def _json_copy(value: _T) -> _T:
    """A deep copy of JSON data (dicts, lists, scalars): what ``copy.deepcopy`` gives for it,
    without its memo bookkeeping, which cost more than the rest of a sendMessage."""
    copied: Any = value
    if isinstance(value, dict):
        copied = {k: _json_copy(v) for k, v in value.items()}
    elif isinstance(value, list):
        copied = [_json_copy(v) for v in value]
    elif not isinstance(value, (str, int, float, bool, type(None), bytes)):
        copied = copy.deepcopy(value)
    return cast(_T, copied)


JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD_SIZE = 50 * 1024 * 1024  # bots may upload at most 50 MB

# Update types delivered when allowed_updates is not specified (or empty).
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Methods that create messages: flood limits, blocking and stats apply to them.
_SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendVideoNote",
        "sendLocation",
        "sendContact",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
# Methods that answer 403 when the target private chat has blocked the bot.
_BLOCKABLE_METHODS = _SEND_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
}
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
# Where Telegram stores each kind of file, and the extension it gives files without a name.
_FILE_FOLDERS = {
    "photo": ("photos", ".jpg"),
    "document": ("documents", ""),
    "audio": ("music", ".mp3"),
    "video": ("videos", ".mp4"),
    "voice": ("voice", ".oga"),
    "animation": ("animations", ".mp4"),
    "sticker": ("stickers", ".webp"),
    "video_note": ("video_notes", ".mp4"),
    "thumbnail": ("thumbnails", ".jpg"),
}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class TelegramApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def to_json(self) -> JSON:
        payload: JSON = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            payload["parameters"] = self.parameters
        return payload


def _bad_request(detail: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {detail}")


def _default_description(error_code: int, retry_after: int | None) -> str:
    known = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        429: f"Too Many Requests: retry after {retry_after}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
    if error_code in known:
        return known[error_code]
    try:
        return HTTPStatus(error_code).phrase
    except ValueError:
        return f"Error {error_code}"


# --------------------------------------------------------------------------------------------
# Text formatting: what Telegram's server does with text, parse_mode and entities
# --------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """Raised for markup Telegram refuses (``Bad Request: can't parse entities: ...``)."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_ENTITY_DISPLAY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


class _Out:
    """Accumulates plain text and tracks the current UTF-16 position."""

    __slots__ = ("parts", "pos")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, chunk: str) -> None:
        if chunk:
            self.parts.append(chunk)
            self.pos += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class _Open:
    kind: str
    start: int  # UTF-16 offset in the output
    byte_offset: int  # byte offset of the opening markup in the source
    tag: str = ""
    extra: JSON = field(default_factory=dict)
    part_index: int = 0


def _make_entity(kind: str, start: int, end: int, extra: Mapping[str, Any]) -> JSON | None:
    if end <= start:
        return None
    entity: JSON = {"type": kind, "offset": start, "length": end - start}
    entity.update(extra)
    return entity


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme:
        if scheme.group(1).lower() in {"http", "https", "tg", "ton", "ftp", "mailto", "tonsite"}:
            return url
        return None
    if "." in url:
        return f"http://{url}"
    return None


_HTML_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_START_RE = re.compile(
    r"<([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z_:-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_HTML_ATTR_RE = re.compile(r"([A-Za-z_:-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_HTML_END_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")


def _decode_html_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, named = match.groups()
    if named:
        return _HTML_NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML dialect into ``(plain_text, entities)``."""
    out = _Out()
    stack: list[_Open] = []
    entities: list[JSON] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            match = _HTML_ENTITY_RE.match(source, i)
            decoded = _decode_html_entity(match) if match else None
            if match and decoded is not None:
                out.add(decoded)
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if ch != "<":
            j = i + 1
            while j < n and source[j] not in "<&":
                j += 1
            out.add(source[i:j])
            i = j
            continue
        offset = _byte_offset(source, i)
        if source.startswith("</", i):
            end = _HTML_END_RE.match(source, i)
            if end is None:
                raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
            name = end.group(1).lower()
            top = stack.pop()
            if name != top.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{top.tag}>", '
                    f'found "</{name}>"'
                )
            language = top.extra.pop("language", None)
            if (
                top.kind == "code"
                and language
                and stack
                and stack[-1].kind == "pre"
                and stack[-1].start == top.start
            ):
                stack[-1].extra["language"] = language  # <pre><code class="language-x">
            elif top.kind != "none":
                closing: JSON = dict(top.extra)
                if top.kind == "pre" and language:
                    closing["language"] = language
                entity = _make_entity(top.kind, top.start, out.pos, closing)
                if entity:
                    entities.append(entity)
            i = end.end()
            continue
        start = _HTML_START_RE.match(source, i)
        if start is None:
            bad = re.match(r"<([A-Za-z0-9-]*)", source[i:])
            name = bad.group(1) if bad else ""
            if name.lower() in _HTML_TAG_TYPES:
                raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        name = start.group(1).lower()
        kind = _HTML_TAG_TYPES.get(name)
        if kind is None:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs = {
            m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _HTML_ATTR_RE.finditer(start.group(2))
        }
        extra: JSON = {}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        if name == "a":
            url = _normalize_url(attrs.get("href", ""))
            if url is None:
                kind = "none"
            else:
                extra["url"] = url
        elif name in ("code", "pre"):
            css = attrs.get("class", "")
            if css.startswith("language-") and len(css) > 9:
                extra["language"] = css[9:]
        elif name == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        elif name == "tg-emoji":
            emoji_id = attrs.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise EntityParseError(
                    "Custom emoji entity must contain a valid custom emoji identifier"
                )
            extra["custom_emoji_id"] = emoji_id
        stack.append(_Open(kind, out.pos, offset, name, extra))
        i = start.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.text(), entities


_MDV2_SPECIAL = frozenset("_*[]()~`>#+-=|{}.!")


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's MarkdownV2 into ``(plain_text, entities)`` (tdlib's rules)."""
    out = _Out()
    entities: list[JSON] = []
    stack: list[_Open] = []
    quote: _Open | None = None
    i, n = 0, len(source)

    def close(opened: _Open, extra: Mapping[str, Any] | None = None) -> None:
        entity = _make_entity(opened.kind, opened.start, out.pos, {**opened.extra, **(extra or {})})
        if entity:
            entities.append(entity)

    def display(opened: _Open) -> str:
        if opened.kind == "pre" and opened.extra.get("language"):
            return "PreCode"
        return _ENTITY_DISPLAY_NAMES.get(opened.kind, opened.kind)

    def close_quote(expandable: bool) -> None:
        nonlocal quote
        assert quote is not None
        inside = [o for o in stack if o.byte_offset >= quote.byte_offset]
        if inside:
            first = inside[0]
            raise EntityParseError(
                f"Can't find end of {display(first)} entity at byte offset {first.byte_offset}"
            )
        quote.kind = "expandable_blockquote" if expandable else "blockquote"
        close(quote)
        quote = None

    def toggle(kind: str, index: int) -> None:
        if stack and stack[-1].kind == kind:
            close(stack.pop())
        else:
            stack.append(_Open(kind, out.pos, _byte_offset(source, index)))

    while i < n:
        ch = source[i]
        top = stack[-1].kind if stack else None
        if top in ("code", "pre"):
            if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                out.add(source[i + 1])
                i += 2
            elif top == "pre" and source.startswith("```", i):
                close(stack.pop())
                i += 3
            elif top == "code" and ch == "`":
                close(stack.pop())
                i += 1
            else:
                out.add(ch)
                i += 1
            continue
        if (i == 0 or source[i - 1] in "\r\n") and (ch == ">" or source.startswith("**>", i)):
            width = 1 if ch == ">" else 3
            if quote is not None and width == 3:
                close_quote(expandable=False)
            if quote is None:
                quote = _Open("blockquote", out.pos, _byte_offset(source, i))
            i += width
            continue
        if ch == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                out.add(source[i + 1])
                i += 2
            else:
                out.add(ch)
                i += 1
            continue
        if ch == "\n":
            out.add(ch)
            i += 1
            if quote is not None and not (
                i < n and (source[i] == ">" or source.startswith("**>", i))
            ):
                close_quote(expandable=False)
            continue
        if ch not in _MDV2_SPECIAL:
            j = i + 1
            while j < n and source[j] not in _MDV2_SPECIAL and source[j] not in "\\\n":
                j += 1
            out.add(source[i:j])
            i = j
            continue
        if ch == "|" and source.startswith("||", i):
            at_line_end = i + 2 >= n or source[i + 2] in "\r\n"
            spoiler_in_quote = (
                quote is not None
                and bool(stack)
                and stack[-1].kind == "spoiler"
                and stack[-1].byte_offset >= quote.byte_offset
            )
            if quote is not None and at_line_end and not spoiler_in_quote:
                i += 2
                if i < n and source[i] == "\r":
                    out.add("\r")
                    i += 1
                if i < n and source[i] == "\n":
                    out.add("\n")
                    i += 1
                close_quote(expandable=True)
                continue
            toggle("spoiler", i)
            i += 2
        elif ch == "_":
            if source.startswith("__", i):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
        elif ch == "*":
            toggle("bold", i)
            i += 1
        elif ch == "~":
            toggle("strikethrough", i)
            i += 1
        elif ch == "[":
            stack.append(
                _Open("text_link", out.pos, _byte_offset(source, i), part_index=len(out.parts))
            )
            i += 1
        elif ch == "!" and source.startswith("![", i):
            stack.append(_Open("custom_emoji", out.pos, _byte_offset(source, i)))
            i += 2
        elif ch == "]" and top in ("text_link", "custom_emoji"):
            opened = stack.pop()
            i += 1
            url: str | None = None
            if i < n and source[i] == "(":
                j = i + 1
                chars: list[str] = []
                while j < n and source[j] != ")":
                    if source[j] == "\\" and j + 1 < n and 0 < ord(source[j + 1]) <= 126:
                        chars.append(source[j + 1])
                        j += 2
                    else:
                        chars.append(source[j])
                        j += 1
                if j >= n:
                    what = "a custom emoji URL" if opened.kind == "custom_emoji" else "a URL"
                    raise EntityParseError(
                        f"Can't find end of {what} at byte offset {_byte_offset(source, i + 1)}"
                    )
                url = "".join(chars)
                i = j + 1
            if opened.kind == "custom_emoji":
                if url is None:
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                emoji = re.match(r"(?i)tg://emoji/?\?(?:[^#]*&)?id=(\d+)", url)
                if emoji is None:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                close(opened, {"custom_emoji_id": emoji.group(1)})
            else:
                target = url if url is not None else "".join(out.parts[opened.part_index :])
                normalized = _normalize_url(target)
                if normalized:
                    close(opened, {"url": normalized})
        elif ch == "`":
            if source.startswith("```", i):
                j = k = i + 3
                while k < n and not source[k].isspace() and source[k] != "`":
                    k += 1
                opened = _Open("pre", out.pos, _byte_offset(source, i))
                if k > j and k < n and source[k].isspace():
                    opened.extra["language"] = source[j:k]
                    j = k
                    if source.startswith("\r\n", j) or source.startswith("\n\r", j):
                        j += 2
                    elif source[j] in "\r\n":
                        j += 1
                elif j < n and source[j] == "\n":
                    j += 1
                stack.append(opened)
                i = j
            else:
                stack.append(_Open("code", out.pos, _byte_offset(source, i)))
                i += 1
        else:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        last = stack[-1]
        raise EntityParseError(
            f"Can't find end of {display(last)} entity at byte offset {last.byte_offset}"
        )
    if quote is not None:
        close_quote(expandable=False)
    return out.text(), entities


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's legacy ``Markdown`` parse mode into ``(plain_text, entities)``."""
    out = _Out()
    entities: list[JSON] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        offset = _byte_offset(source, i)
        unclosed = EntityParseError(
            f"Can't find end of the entity starting at byte offset {offset}"
        )
        if ch == "[":
            close_bracket = source.find("]", i + 1)
            if close_bracket < 0:
                raise unclosed
            if not source.startswith("(", close_bracket + 1):
                out.add(ch)
                i += 1
                continue
            close_paren = source.find(")", close_bracket + 2)
            if close_paren < 0:
                raise unclosed
            start = out.pos
            out.add(source[i + 1 : close_bracket])
            url = _normalize_url(source[close_bracket + 2 : close_paren])
            entity = _make_entity("text_link", start, out.pos, {"url": url}) if url else None
            if entity:
                entities.append(entity)
            i = close_paren + 1
            continue
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end < 0:
                raise unclosed
            content = source[i + 3 : end]
            extra: JSON = {}
            first_line, newline, rest = content.partition("\n")
            if newline and first_line and not any(c.isspace() for c in first_line):
                extra["language"] = first_line
                content = rest
            start = out.pos
            out.add(content)
            entity = _make_entity("pre", start, out.pos, extra)
            if entity:
                entities.append(entity)
            i = end + 3
            continue
        end = source.find(ch, i + 1)
        if end < 0:
            raise unclosed
        start = out.pos
        out.add(source[i + 1 : end])
        entity = _make_entity({"_": "italic", "*": "bold", "`": "code"}[ch], start, out.pos, {})
        if entity:
            entities.append(entity)
        i = end + 1
    return out.text(), entities


_AUTO_ENTITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
    ),
    ("url", re.compile(r"(?i)(?<![\w/])(?:https?|tg)://[^\s<>\"]+")),
    ("bot_command", re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)
# Auto-detected entities never overlap these.
_NON_FORMATTING_ENTITIES = frozenset(
    {
        "code",
        "pre",
        "text_link",
        "text_mention",
        "url",
        "email",
        "mention",
        "bot_command",
        "hashtag",
        "cashtag",
        "phone_number",
        "custom_emoji",
    }
)


def detect_entities(text: str, existing: Iterable[Mapping[str, Any]] = ()) -> list[JSON]:
    """Entities Telegram detects by itself: bot commands, mentions, hashtags, URLs, e-mails."""
    taken: list[tuple[int, int]] = [
        (int(e["offset"]), int(e["offset"]) + int(e["length"]))
        for e in existing
        if e.get("type") in _NON_FORMATTING_ENTITIES
    ]
    found: list[JSON] = []
    for kind, pattern in _AUTO_ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            value = match.group(0)
            if kind == "url":
                value = value.rstrip(".,;:!?'")
                if value.endswith(")") and "(" not in value:
                    value = value[:-1]
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(value)
            if end <= start or any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    stripped = text.strip(" \t\r\n")
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n"))])
    total = utf16_len(stripped)
    result: list[JSON] = []
    for entity in entities:
        start = max(int(entity["offset"]) - shift, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - shift, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def format_text(
    text: str,
    parse_mode: str | None = None,
    entities: Iterable[Mapping[str, Any]] | None = None,
) -> tuple[str, list[JSON]]:
    """Turn text as a bot sends it into ``(text, entities)`` as the user receives it.

    Explicit ``entities`` win over ``parse_mode`` (as in Telegram).  Leading and trailing
    whitespace is trimmed and commands, mentions, hashtags, URLs and e-mails are detected.
    Raises :class:`EntityParseError` for markup Telegram refuses, ``ValueError`` for an
    unknown parse mode.
    """
    if entities is not None:
        plain, parsed = text, [dict(e) for e in entities]
    elif parse_mode:
        mode = parse_mode.lower()
        if mode == "html":
            plain, parsed = parse_html(text)
        elif mode == "markdownv2":
            plain, parsed = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, parsed = parse_markdown(text)
        else:
            raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    else:
        plain, parsed = text, []
    plain, parsed = _trim(plain, parsed)
    parsed.extend(detect_entities(plain, parsed))
    parsed.sort(key=lambda e: (int(e["offset"]), -int(e["length"])))
    return plain, parsed


# --------------------------------------------------------------------------------------------
# Small media helpers
# --------------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


TINY_PNG: bytes = _png(2, 2)
"""A valid 2x2 PNG, handy as photo payload."""

_FAKE_OGG = b"OggS\x00\x02" + b"\x00" * 58
_FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
_FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 16


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, GIF or JPEG image; (0, 0) when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:4] == b"GIF8" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return 0, 0


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


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


@dataclass
class StoredFile:
    """A file held by the fake server (uploaded by a user or by the bot)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)

    def to_file_json(self) -> JSON:
        """The ``File`` object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


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


@dataclass
class Injection:
    """A fault armed with :meth:`FakeTelegram.inject`."""

    method: str | None
    chat_id: int | None
    error_code: int
    description: str
    retry_after: int | None
    remaining: int | None  # None: forever
    hits: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def to_error(self) -> TelegramApiError:
        params = {"retry_after": self.retry_after} if self.retry_after else None
        return TelegramApiError(self.error_code, self.description, params)


@dataclass
class Garble:
    """An unreadable answer armed with :meth:`FakeTelegram.garble_answer`: the call is
    carried out (the message is delivered), then answered 200 with ``body``."""

    method: str | None
    chat_id: int | None
    body: bytes
    remaining: int | None  # None: forever
    hits: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class RateStats:
    """Counts of message sends per one-second window (always counted) and of 429 answers."""

    sends_per_window: dict[int, int] = field(default_factory=dict)
    chat_sends_per_window: dict[tuple[int, int], int] = field(default_factory=dict)
    sends: int = 0
    too_many_requests: int = 0  # every 429 answered (enforced or injected)
    enforced_429s: int = 0  # 429s caused by enforce_limits

    @property
    def max_sends_per_window(self) -> int:
        return max(self.sends_per_window.values(), default=0)

    @property
    def max_chat_sends_per_window(self) -> int:
        return max(self.chat_sends_per_window.values(), default=0)

    def reset(self) -> None:
        self.sends_per_window.clear()
        self.chat_sends_per_window.clear()
        self.sends = self.too_many_requests = self.enforced_429s = 0


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made (files replaced by a short description)."""

    method: str
    params: JSON
    status: int
    description: str | None
    at: float


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None


class _Result:
    """A successful result that also carries a ``description`` (setWebhook & co.)."""

    def __init__(self, value: Any, description: str) -> None:
        self.value = value
        self.description = description


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------


class Params:
    """Parameters of one Bot API call, decoded like Telegram does.

    Values come either from a JSON body (native types) or from the query string / a form (all
    strings: plain strings as-is, everything else JSON-encoded, which is what PTB sends).
    """

    def __init__(
        self, values: Mapping[str, Any], files: Mapping[str, UploadedFile] | None = None
    ) -> None:
        self.values = dict(values)
        self.files = dict(files or {})

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise _bad_request(f'field "{name}" must be a valid Number')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad_request(f'field "{name}" must be a valid Number') from None

    def get_float(self, name: str, default: float | None = None) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f'field "{name}" must be a valid Number') from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def get_json(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def redacted(self) -> JSON:
        data = dict(self.values)
        for key, upload in self.files.items():
            data[f"<file {key}>"] = f"{upload.filename} ({len(upload.data)} bytes)"
        return data


# --------------------------------------------------------------------------------------------
# The server state
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """Server-side state of a fake Telegram, plus the user-side actions of its clients.

    Args:
        bot_id, bot_username, bot_first_name: the bot's identity (``getMe``).
        token: the bot token the API accepts; default ``f"{bot_id}:<derived>"``.
        now: time source for message dates, callback answers and flood windows.
        enforce_limits: answer 429 when the bot sends more than :attr:`per_chat_limit`
            messages per second to one chat or :attr:`global_limit` per second overall.
    """

    per_chat_limit: int = 1
    global_limit: int = 30

    def __init__(
        self,
        *,
        bot_id: int = 7_000_000_001,
        bot_username: str = "baoxue_test_bot",
        bot_first_name: str = "Baoxue Test Bot",
        token: str | None = None,
        now: Callable[[], float] = time.time,
        enforce_limits: bool = False,
    ) -> None:
        self.now = now
        self.bot = FakeUser(
            id=bot_id, first_name=bot_first_name, username=bot_username, is_bot=True
        )
        digest = hashlib.sha256(f"fake-telegram:{bot_id}".encode()).hexdigest()
        self.token = token or f"{bot_id}:AA{digest[:33]}"
        self.enforce_limits = enforce_limits
        self.stats = RateStats()
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackAnswer] = {}
        self.chat_actions: list[tuple[int, str, int]] = []  # (chat_id, action, date)
        self.calls: deque[ApiCall] = deque(maxlen=10_000)
        self.update_log: list[JSON] = []  # every update ever created, in order
        self.webhook = _Webhook()
        self.bot_names: dict[str, str] = {}
        self.bot_descriptions: dict[str, str] = {}
        self.bot_short_descriptions: dict[str, str] = {}
        self.logged_out = False
        self._files_by_path: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], tuple[JSON, list[JSON]]] = {}
        self._menu_buttons: dict[int | None, JSON] = {}
        self._blocked: set[int] = set()
        self._injections: list[Injection] = []
        self._garbles: list[Garble] = []
        self._pending: list[JSON] = []
        self._allowed_updates: list[str] | None = None
        self._next_update_id = 1
        self._last_fetched_update_id = 0
        self._next_user_id = 100_000_001
        self._next_file = 1
        self._next_callback = 1
        self._next_media_group = 1
        self._seq = 0
        self._events: list[ChatEvent] = []
        self._waiters: set[asyncio.Future[None]] = set()
        self._poll_generation = 0
        self._last_activity = time.monotonic()
        self._methods: dict[str, tuple[str, Callable[[Params], Any]]] = {}
        for name, handler in self._method_table().items():
            self._methods[name.lower()] = (name, handler)

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

    # ---------------------------------------------------------------- events and updates

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
        self._notify()
        return event

    def _push_update(self, body: JSON, *, enqueue: bool) -> JSON:
        update: JSON = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self.update_log.append(update)
        if enqueue:
            self._pending.append(update)
        self._notify()
        return update

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        return list(self._pending)

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

    async def wait_fetched(self, update_id: int, timeout: float = 5.0) -> bool:
        """Wait until getUpdates has handed out the update ``update_id``."""
        return await self.wait_until(lambda: self._last_fetched_update_id >= update_id, timeout)

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

    async def wait_for_bot_message(
        self, chat_id: int, since: int, timeout: float = 5.0
    ) -> StoredMessage | None:
        """Wait for the first bot message in ``chat_id`` sent after ``since`` (a marker)."""
        await self.wait_until(lambda: bool(self.bot_messages_since(chat_id, since)), timeout)
        found = self.bot_messages_since(chat_id, since)
        return found[0] if found else None

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

    def file(self, file_id: str) -> StoredFile:
        return self.files[file_id]

    def file_by_path(self, file_path: str) -> StoredFile | None:
        return self._files_by_path.get(file_path)

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        """Commands set for exactly this scope and language, as ``(command, description)``."""
        entry = self._commands.get((_scope_key(scope), language_code or ""))
        return [(c["command"], c["description"]) for c in entry[1]] if entry else []

    def visible_commands(
        self, chat_id: int, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """The command menu a client shows in ``chat_id`` (Telegram's scope resolution)."""
        chat = self.chats.get(chat_id)
        if language_code is None:
            user = self.users.get(chat_id)
            language_code = (user.language_code or "") if user else ""
        lang = language_code.split("-")[0]
        scopes: list[JSON] = [{"type": "chat", "chat_id": chat_id}]
        if chat is None or chat.type == "private":
            scopes.append({"type": "all_private_chats"})
        else:
            scopes.append({"type": "all_group_chats"})
        scopes.append({"type": "default"})
        for scope in scopes:
            for code in (lang, ""):
                entry = self._commands.get((_scope_key(scope), code))
                if entry is not None:
                    return [(c["command"], c["description"]) for c in entry[1]]
        return []

    def menu_button(self, chat_id: int | None = None) -> JSON:
        return _json_copy(
            self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "default"}
        )

    def call_count(self, method: str) -> int:
        return sum(1 for c in self.calls if c.method.lower() == method.lower())

    # ---------------------------------------------------------------- fault injection

    def inject(
        self,
        method: str | None = None,
        chat_id: int | None = None,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
    ) -> Injection:
        """Make the next ``times`` matching calls fail (``times=None``: until cleared).

        ``method`` and ``chat_id`` narrow the match (``None`` matches anything).  A 429 always
        carries ``parameters.retry_after`` (default 1) as Telegram's does.
        """
        if error_code == 429 and not retry_after:
            retry_after = 1
        injection = Injection(
            method=method,
            chat_id=chat_id,
            error_code=error_code,
            description=description or _default_description(error_code, retry_after),
            retry_after=retry_after,
            remaining=times,
        )
        self._injections.append(injection)
        return injection

    def clear_injections(self) -> None:
        self._injections.clear()
        self._garbles.clear()

    def garble_answer(
        self,
        method: str | None = None,
        chat_id: int | None = None,
        *,
        body: bytes | JSON,
        times: int | None = 1,
    ) -> Garble:
        """Carry out the next ``times`` matching calls but answer each 200 with ``body``
        (bytes as they are, a dict as JSON): Telegram took the message, its answer is
        unreadable (``{"ok": true, "result": "?"}``, a proxy's HTML page…)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        garble = Garble(method=method, chat_id=chat_id, body=raw, remaining=times)
        self._garbles.append(garble)
        return garble

    def _garbled(self, method: str, params: Params) -> bytes | None:
        chat_id = self._chat_id_of(params)
        for garble in self._garbles:
            if garble.matches(method, chat_id):
                garble.hits += 1
                if garble.remaining is not None:
                    garble.remaining -= 1
                self._garbles = [g for g in self._garbles if g.remaining is None or g.remaining > 0]
                return garble.body
        return None

    def block(self, user_id: int, *, enqueue: bool = True) -> JSON:
        """The user blocks the bot: sends to them answer 403; returns the my_chat_member update."""
        self._blocked.add(user_id)
        return self._member_update(user_id, "member", "kicked", enqueue=enqueue)

    def unblock(self, user_id: int, *, enqueue: bool = True) -> JSON:
        """The user unblocks (restarts) the bot; returns the my_chat_member update."""
        self._blocked.discard(user_id)
        return self._member_update(user_id, "kicked", "member", enqueue=enqueue)

    def is_blocked(self, user_id: int) -> bool:
        return user_id in self._blocked

    def _member_update(self, user_id: int, old: str, new: str, *, enqueue: bool) -> JSON:
        user = self.users.get(user_id) or self.add_user(user_id=user_id)
        chat = self.private_chat(user)

        def member(status: str) -> JSON:
            data: JSON = {"user": self.bot.to_dict(), "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return self._push_update(
            {
                "my_chat_member": {
                    "chat": chat.to_dict(),
                    "from": user.to_dict(),
                    "date": self._date(),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            },
            enqueue=enqueue,
        )

    # ---------------------------------------------------------------- user-side actions

    def _date(self) -> int:
        return int(self.now())

    def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat,
        *,
        text: str | None = None,
        caption: str | None = None,
        media: JSON | None = None,
        reply_to_message_id: int | None = None,
        enqueue: bool,
    ) -> JSON:
        self._register(user)
        if reply_to_message_id is None and chat.force_reply_to is not None:
            reply_to_message_id = chat.force_reply_to  # the client quotes the ForceReply message
        chat.force_reply_to = None
        reply_to = chat.messages.get(reply_to_message_id) if reply_to_message_id else None
        entities: list[JSON] = []
        caption_entities: list[JSON] = []
        if text is not None:
            text, entities = format_text(text)
            if not text:
                raise ValueError("a message must not be empty")
        if caption is not None:
            caption, caption_entities = format_text(caption)
        msg = self._new_message(
            chat,
            from_bot=False,
            sender=user.to_dict(),
            text=text,
            entities=entities,
            caption=caption or None,
            caption_entities=caption_entities,
            media=media or {},
            reply_to=reply_to,
        )
        return self._push_update({"message": self.message_json(msg)}, enqueue=enqueue)

    def send_text(
        self,
        user: FakeUser,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        enqueue: bool = True,
    ) -> JSON:
        """The user types ``text`` in the private chat (``/start CODE`` for deep links)."""
        return self._user_message(
            user,
            self.private_chat(user),
            text=text,
            reply_to_message_id=reply_to_message_id,
            enqueue=enqueue,
        )

    def start(self, user: FakeUser, payload: str | None = None, *, enqueue: bool = True) -> JSON:
        """The user opens ``t.me/<bot>?start=<payload>`` and presses START."""
        return self.send_text(user, f"/start {payload}" if payload else "/start", enqueue=enqueue)

    def send_text_in_group(
        self, user: FakeUser, group_chat_id: int, text: str, *, enqueue: bool = True
    ) -> JSON:
        """The user writes ``text`` in a group the bot is a member of (created if unknown)."""
        return self._user_message(user, self._group(group_chat_id), text=text, enqueue=enqueue)

    def edit_text(
        self, user: FakeUser, message_id: int, text: str, *, enqueue: bool = True
    ) -> JSON:
        """The user edits one of their messages: an ``edited_message`` update."""
        chat = self.private_chat(user)
        msg = chat.messages[message_id]
        if msg.from_bot or msg.text is None:
            raise ValueError("a user can only edit their own text messages")
        new_text, entities = format_text(text)
        self._apply_edit(msg, text=new_text, entities=entities, reply_markup=msg.reply_markup)
        return self._push_update({"edited_message": self.message_json(msg)}, enqueue=enqueue)

    def tap(
        self,
        user: FakeUser,
        message_id: int,
        callback_data: str,
        *,
        chat_id: int | None = None,
        enqueue: bool = True,
        forged: bool = False,
    ) -> JSON:
        """The user taps the inline button with ``callback_data`` on a bot message.

        Raises ``LookupError`` if the message has no such button (a client cannot tap it),
        unless ``forged``: a modified client (or a replayed request) can send any data.
        """
        self._register(user)
        chat = self.chats.get(chat_id if chat_id is not None else user.id)
        msg = chat.messages.get(message_id) if chat else None
        if chat is None or msg is None or msg.deleted:
            raise LookupError(f"message {message_id} not found in chat {chat_id or user.id}")
        if not forged and not any(
            b.get("callback_data") == callback_data for b in msg.inline_buttons()
        ):
            raise LookupError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"buttons: {msg.buttons()}"
            )
        query_id = str(4_300_000_000_000_000 + self._next_callback)
        self._next_callback += 1
        self.callback_queries[query_id] = CallbackAnswer(
            query_id=query_id,
            user_id=user.id,
            chat_id=chat.id,
            message_id=message_id,
            data=callback_data,
        )
        chat_instance = str((chat.id * 2_654_435_761 + self.bot.id) % 10**19)
        return self._push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "message": self.message_json(msg),
                    "chat_instance": chat_instance,
                    "data": callback_data,
                }
            },
            enqueue=enqueue,
        )

    def send_photo(
        self,
        user: FakeUser,
        data: bytes = TINY_PNG,
        caption: str | None = None,
        *,
        enqueue: bool = True,
    ) -> JSON:
        """The user sends a photo (stored; the update carries a PhotoSize array)."""
        stored = self._store_file(data, kind="photo", mime_type="image/jpeg")
        return self._user_message(
            user,
            self.private_chat(user),
            caption=caption,
            media={"photo": self._photo_sizes(stored)},
            enqueue=enqueue,
        )

    def send_document(
        self,
        user: FakeUser,
        data: bytes,
        filename: str = "document.bin",
        mime: str | None = None,
        caption: str | None = None,
        *,
        enqueue: bool = True,
    ) -> JSON:
        """The user sends a file as a document."""
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._store_file(data, kind="document", file_name=filename, mime_type=mime)
        return self._user_message(
            user,
            self.private_chat(user),
            caption=caption,
            media={"document": self._media_object("document", stored)},
            enqueue=enqueue,
        )

    def send_location(
        self, user: FakeUser, latitude: float, longitude: float, *, enqueue: bool = True
    ) -> JSON:
        """The user shares a location (attachment menu or a request_location button)."""
        return self._user_message(
            user,
            self.private_chat(user),
            media={"location": {"latitude": float(latitude), "longitude": float(longitude)}},
            enqueue=enqueue,
        )

    def send_contact(
        self,
        user: FakeUser,
        phone_number: str,
        first_name: str,
        user_id: int | None = None,
        *,
        last_name: str | None = None,
        enqueue: bool = True,
    ) -> JSON:
        """The user shares a contact (their own, via request_contact, has ``user_id=user.id``)."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return self._user_message(
            user, self.private_chat(user), media={"contact": contact}, enqueue=enqueue
        )

    def send_voice(
        self,
        user: FakeUser,
        data: bytes = _FAKE_OGG,
        duration: int = 2,
        *,
        enqueue: bool = True,
    ) -> JSON:
        """The user records a voice message."""
        stored = self._store_file(data, kind="voice", mime_type="audio/ogg")
        voice = self._media_object("voice", stored, duration=duration)
        return self._user_message(
            user, self.private_chat(user), media={"voice": voice}, enqueue=enqueue
        )

    def send_sticker(self, user: FakeUser, emoji: str = "👍", *, enqueue: bool = True) -> JSON:
        """The user sends a sticker."""
        stored = self._store_file(_FAKE_WEBP, kind="sticker", mime_type="image/webp")
        sticker = self._media_object("sticker", stored, emoji=emoji)
        return self._user_message(
            user, self.private_chat(user), media={"sticker": sticker}, enqueue=enqueue
        )

    def send_animation(
        self, user: FakeUser, data: bytes = _FAKE_MP4, *, enqueue: bool = True
    ) -> JSON:
        """The user sends a GIF (an ``animation`` message also carries ``document``)."""
        stored = self._store_file(
            data, kind="animation", file_name="animation.mp4", mime_type="video/mp4"
        )
        animation = self._media_object("animation", stored)
        document = self._media_object("document", stored)
        return self._user_message(
            user,
            self.private_chat(user),
            media={"animation": animation, "document": document},
            enqueue=enqueue,
        )

    # ---------------------------------------------------------------- messages and files

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

    def _store_file(
        self,
        data: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        number = self._next_file
        self._next_file += 1
        folder, default_ext = _FILE_FOLDERS.get(kind, ("documents", ""))
        ext = default_ext
        if kind in ("document", "audio") and file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1].lower()
        elif kind == "document" and mime_type:
            ext = mimetypes.guess_extension(mime_type) or ""
        stored = StoredFile(
            file_id=f"FAKE{kind.upper()[:3]}{number:06d}{hashlib.sha1(data).hexdigest()[:12]}",
            file_unique_id=f"U{number:06d}",
            data=bytes(data),
            file_path=f"{folder}/file_{number}{ext}",
            kind=kind,
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _photo_sizes(stored: StoredFile) -> list[JSON]:
        width, height = _image_size(stored.data)
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                "file_size": stored.file_size,
            }
        ]

    @staticmethod
    def _media_object(kind: str, stored: StoredFile, **extra: Any) -> JSON:
        data: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
        }
        if kind in ("document", "audio", "video", "animation") and stored.file_name:
            data["file_name"] = stored.file_name
        if kind in ("document", "audio", "video", "animation", "voice") and stored.mime_type:
            data["mime_type"] = stored.mime_type
        if kind in ("audio", "video", "voice", "animation", "video_note"):
            data["duration"] = int(extra.pop("duration", None) or 1)
        if kind in ("video", "animation"):
            width, height = _image_size(stored.data)
            data["width"], data["height"] = width or 320, height or 240
        if kind == "video_note":
            data["length"] = int(extra.pop("length", None) or 240)
        if kind == "sticker":
            data.update({"type": "regular", "width": 512, "height": 512})
            data.update({"is_animated": False, "is_video": False})
        data.update({k: v for k, v in extra.items() if v is not None})
        return data

    # ---------------------------------------------------------------- API dispatch

    async def handle(
        self,
        method: str,
        values: Mapping[str, Any] | None = None,
        files: Mapping[str, UploadedFile] | None = None,
    ) -> tuple[int, JSON | bytes]:
        """Execute one Bot API call; returns ``(http_status, json_payload)`` (the raw body
        instead when the answer was garbled: :meth:`garble_answer`)."""
        params = Params(values or {}, files)
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        if name != "getUpdates":
            self._last_activity = time.monotonic()
        status, payload = 200, {}
        try:
            if entry is None:
                raise TelegramApiError(404, "Not Found")
            self._check_faults(name, params)
            result = entry[1](params)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, _Result):
                payload = {"ok": True, "result": result.value, "description": result.description}
            else:
                payload = {"ok": True, "result": result}
            if name in _SEND_METHODS:
                self._count_send(self._chat_id_of(params))
        except TelegramApiError as err:
            status, payload = err.error_code, err.to_json()
            if status == 429:
                self.stats.too_many_requests += 1
        self.calls.append(
            ApiCall(
                method=name,
                params=params.redacted(),
                status=status,
                description=payload.get("description"),
                at=self.now(),
            )
        )
        if name != "getUpdates":
            self._last_activity = time.monotonic()
        garbled = self._garbled(name, params) if status == 200 else None
        return status, (payload if garbled is None else garbled)

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

    def _check_faults(self, method: str, params: Params) -> None:
        chat_id = self._chat_id_of(params)
        for injection in self._injections:
            if injection.matches(method, chat_id):
                injection.hits += 1
                if injection.remaining is not None:
                    injection.remaining -= 1
                self._injections = [
                    i for i in self._injections if i.remaining is None or i.remaining > 0
                ]
                raise injection.to_error()
        if method in _BLOCKABLE_METHODS and chat_id is not None and chat_id in self._blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        if self.enforce_limits and method in _SEND_METHODS:
            self._enforce_flood_limits(chat_id)

    def _enforce_flood_limits(self, chat_id: int | None) -> None:
        now = self.now()
        window = math.floor(now)
        retry_after = max(1, math.ceil(window + 1 - now))
        over_global = self.stats.sends_per_window.get(window, 0) >= self.global_limit
        over_chat = (
            chat_id is not None
            and self.stats.chat_sends_per_window.get((chat_id, window), 0) >= self.per_chat_limit
        )
        if over_global or over_chat:
            self.stats.enforced_429s += 1
            raise TelegramApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def _count_send(self, chat_id: int | None) -> None:
        window = math.floor(self.now())
        self.stats.sends += 1
        self.stats.sends_per_window[window] = self.stats.sends_per_window.get(window, 0) + 1
        if chat_id is not None:
            key = (chat_id, window)
            self.stats.chat_sends_per_window[key] = self.stats.chat_sends_per_window.get(key, 0) + 1

    def _method_table(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "getMe": self._api_get_me,
            "logOut": self._api_log_out,
            "close": self._api_close,
            "getUpdates": self._api_get_updates,
            "setWebhook": self._api_set_webhook,
            "deleteWebhook": self._api_delete_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "sendMessage": self._api_send_message,
            "editMessageText": self._api_edit_message_text,
            "editMessageCaption": self._api_edit_message_caption,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "deleteMessage": self._api_delete_message,
            "answerCallbackQuery": self._api_answer_callback_query,
            "sendPhoto": lambda p: self._api_send_media(p, "photo"),
            "sendDocument": lambda p: self._api_send_media(p, "document"),
            "sendAudio": lambda p: self._api_send_media(p, "audio"),
            "sendVideo": lambda p: self._api_send_media(p, "video"),
            "sendVoice": lambda p: self._api_send_media(p, "voice"),
            "sendAnimation": lambda p: self._api_send_media(p, "animation"),
            "sendSticker": lambda p: self._api_send_media(p, "sticker"),
            "sendVideoNote": lambda p: self._api_send_media(p, "video_note"),
            "sendMediaGroup": self._api_send_media_group,
            "sendLocation": self._api_send_location,
            "sendContact": self._api_send_contact,
            "sendChatAction": self._api_send_chat_action,
            "getFile": self._api_get_file,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "setChatMenuButton": self._api_set_chat_menu_button,
            "getChatMenuButton": self._api_get_chat_menu_button,
            "getChat": self._api_get_chat,
            "getChatMember": self._api_get_chat_member,
            "pinChatMessage": self._api_pin_chat_message,
            "unpinChatMessage": self._api_unpin_chat_message,
            "setMyName": lambda p: self._set_bot_text(p, self.bot_names, "name"),
            "getMyName": lambda p: {"name": self._get_bot_text(p, self.bot_names)},
            "setMyDescription": lambda p: self._set_bot_text(
                p, self.bot_descriptions, "description"
            ),
            "getMyDescription": lambda p: {
                "description": self._get_bot_text(p, self.bot_descriptions)
            },
            "setMyShortDescription": lambda p: self._set_bot_text(
                p, self.bot_short_descriptions, "short_description"
            ),
            "getMyShortDescription": lambda p: {
                "short_description": self._get_bot_text(p, self.bot_short_descriptions)
            },
        }

    # ---------------------------------------------------------------- API: bot and updates

    def _api_get_me(self, _: Params) -> JSON:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_log_out(self, _: Params) -> bool:
        self.logged_out = True
        return True

    def _api_close(self, _: Params) -> bool:
        return True

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        else:
            self._pending = self._pending[offset:]

    def _deliverable(self) -> list[JSON]:
        allowed = self._allowed_updates
        kept: list[JSON] = []
        for update in self._pending:
            kind = next(k for k in update if k != "update_id")
            if (kind in allowed) if allowed else (kind not in _DEFAULT_EXCLUDED_UPDATES):
                kept.append(update)
        self._pending = kept  # Telegram drops updates of types the bot does not want
        return kept

    async def _api_get_updates(self, p: Params) -> list[JSON]:
        if self.webhook.url:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset")
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = max(p.get_float("timeout", 0.0) or 0.0, 0.0)
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a waiting getUpdates is now superseded
        if timeout > 0 and not self._deliverable():
            await self.wait_until(
                lambda: generation != self._poll_generation or bool(self._deliverable()), timeout
            )
            if generation != self._poll_generation:
                raise TelegramApiError(409, _default_description(409, None))
        updates = self._deliverable()[:limit]
        if updates:
            self._last_fetched_update_id = max(
                self._last_fetched_update_id, updates[-1]["update_id"]
            )
            self._notify()
        return _json_copy(updates)

    def _api_set_webhook(self, p: Params) -> _Result:
        url = p.get_str("url", "") or ""
        if url and not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        allowed = p.get_json("allowed_updates")
        self.webhook = _Webhook(
            url=url,
            secret_token=p.get_str("secret_token"),
            max_connections=p.get_int("max_connections", 40) or 40,
            allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
            ip_address=p.get_str("ip_address"),
        )
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        return _Result(True, "Webhook was set" if url else "Webhook was deleted")

    def _api_delete_webhook(self, p: Params) -> _Result:
        had = bool(self.webhook.url)
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        self.webhook = _Webhook()
        return _Result(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _api_get_webhook_info(self, _: Params) -> JSON:
        info: JSON = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook.url:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
        return info

    # ---------------------------------------------------------------- API: helpers

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

    def _formatted(
        self, p: Params, field_name: str, entities_field: str, *, limit: int, caption: bool
    ) -> tuple[str | None, list[JSON], str | None, str | None]:
        """Returns (text, entities, parse_mode, raw_text)."""
        raw = p.get_str(field_name)
        if raw is None:
            return None, [], None, None
        parse_mode = p.get_str("parse_mode") or None
        explicit = p.get_json(entities_field, "entities")
        if explicit is not None and not (
            isinstance(explicit, list)
            and all(
                isinstance(e, Mapping) and {"type", "offset", "length"} <= set(e) for e in explicit
            )
        ):
            raise _bad_request("can't parse entities JSON object")
        try:
            text, entities = format_text(raw, parse_mode, explicit)
        except EntityParseError as err:
            raise _bad_request(f"can't parse entities: {err}") from None
        except ValueError:
            raise _bad_request(f"unsupported parse_mode {parse_mode}") from None
        if len(text) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        self._mention_users(entities)
        return text, entities, parse_mode, raw

    def _mention_users(self, entities: list[JSON]) -> None:
        for entity in entities:
            url = entity.get("url", "")
            match = (
                re.fullmatch(r"tg://user\?id=(\d+)", url) if entity["type"] == "text_link" else None
            )
            if match and int(match.group(1)) in self.users:
                entity["type"] = "text_mention"
                entity["user"] = self.users[int(match.group(1))].to_dict()
                del entity["url"]

    def _reply_markup(self, p: Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.get_json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, Mapping):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        markup = dict(markup)
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request('field "inline_keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    _validate_inline_button(button)
            return markup
        if inline_only:
            raise _bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request('field "keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, Mapping) else button
                    if not isinstance(text, str) or not text:
                        raise _bad_request("keyboard button text is empty")
            placeholder = markup.get("input_field_placeholder")
            if placeholder is not None and len(str(placeholder)) > 64:
                raise _bad_request("input field placeholder is too long")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise _bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, p: Params, chat: FakeChat) -> StoredMessage | None:
        params = p.get_json("reply_parameters")
        message_id = p.get_int("reply_to_message_id")
        allow_missing = p.get_bool("allow_sending_without_reply")
        if isinstance(params, Mapping):
            message_id = int(params.get("message_id", 0)) or None
            allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise _bad_request("message to be replied not found")
        return target

    def _input_file(self, p: Params, field_name: str, kind: str) -> StoredFile:
        raw = p.values.get(field_name)
        upload = p.files.get(field_name)
        if upload is None and isinstance(raw, str) and raw.startswith("attach://"):
            upload = p.files.get(raw[len("attach://") :])
            if upload is None:
                raise _bad_request(f"there is no file attached for {raw}")
        if upload is not None:
            if not upload.data:
                raise _bad_request("file must be non-empty")
            if len(upload.data) > MAX_UPLOAD_SIZE:
                raise TelegramApiError(413, "Request Entity Too Large")
            mime = upload.content_type or (
                mimetypes.guess_type(upload.filename or "")[0] if upload.filename else None
            )
            if kind == "photo":
                mime = "image/jpeg"
            return self._store_file(
                upload.data, kind=kind, file_name=upload.filename, mime_type=mime
            )
        if raw is None or raw == "":
            raise _bad_request(f"there is no {field_name} in the request")
        if isinstance(raw, str):
            known = self.files.get(raw)
            if known is not None:
                return known
            if raw.lower().startswith(("http://", "https://")):
                raise _bad_request("failed to get HTTP URL content")
        raise _bad_request("wrong file identifier/HTTP URL specified")

    def _send(
        self,
        p: Params,
        chat: FakeChat,
        *,
        text: str | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        parse_mode: str | None = None,
        raw_text: str | None = None,
        media: JSON | None = None,
        media_group_id: str | None = None,
        with_markup: bool = True,
    ) -> StoredMessage:
        markup = self._reply_markup(p) if with_markup else None
        reply_to = self._reply_target(p, chat)
        return self._new_message(
            chat,
            from_bot=True,
            sender=self.bot.to_dict(),
            text=text,
            entities=entities,
            caption=caption or None,
            caption_entities=caption_entities,
            parse_mode=parse_mode,
            raw_text=raw_text,
            reply_markup=markup,
            media=media,
            reply_to=reply_to,
            media_group_id=media_group_id,
        )

    def _editable(self, p: Params) -> StoredMessage:
        if p.has("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return msg

    # ---------------------------------------------------------------- API: messages

    def _api_send_message(self, p: Params) -> JSON:
        text, entities, parse_mode, raw = self._formatted(
            p, "text", "entities", limit=MAX_TEXT_LENGTH, caption=False
        )
        if not text:
            raise _bad_request("message text is empty")
        chat = self._target_chat(p)
        msg = self._send(p, chat, text=text, entities=entities, parse_mode=parse_mode, raw_text=raw)
        return self.message_json(msg)

    def _api_edit_message_text(self, p: Params) -> JSON:
        text, entities, parse_mode, raw = self._formatted(
            p, "text", "entities", limit=MAX_TEXT_LENGTH, caption=False
        )
        if not text:
            raise _bad_request("message text is empty")
        msg = self._editable(p)
        if msg.text is None:
            raise _bad_request("there is no text in the message to edit")
        markup = self._reply_markup(p, inline_only=True)
        if text == msg.text and entities == msg.entities and markup == msg.inline_markup:
            raise _not_modified()
        msg.parse_mode, msg.raw_text = parse_mode, raw
        self._apply_edit(msg, text=text, entities=entities, reply_markup=markup)
        return self.message_json(msg)

    def _api_edit_message_caption(self, p: Params) -> JSON:
        caption, entities, parse_mode, raw = self._formatted(
            p, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, caption=True
        )
        msg = self._editable(p)
        if msg.text is not None:
            raise _bad_request("there is no caption in the message to edit")
        caption = caption or ""
        markup = self._reply_markup(p, inline_only=True)
        if (
            caption == (msg.caption or "")
            and entities == msg.caption_entities
            and markup == msg.inline_markup
        ):
            raise _not_modified()
        msg.parse_mode, msg.raw_text = parse_mode, raw
        self._apply_edit(msg, caption=caption, caption_entities=entities, reply_markup=markup)
        return self.message_json(msg)

    def _api_edit_message_reply_markup(self, p: Params) -> JSON:
        msg = self._editable(p)
        markup = self._reply_markup(p, inline_only=True)
        if markup == msg.inline_markup:
            raise _not_modified()
        self._apply_edit(msg, reply_markup=markup)
        return self.message_json(msg)

    def _api_delete_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        msg = chat.messages.get(message_id) if message_id is not None else None
        if msg is None or msg.deleted:
            raise _bad_request("message to delete not found")
        if chat.type != "private" and not msg.from_bot:
            raise _bad_request("message can't be deleted")
        msg.deleted = True
        self._record("deleted", msg)
        return True

    def _api_answer_callback_query(self, p: Params) -> bool:
        query = self.callback_queries.get(p.get_str("callback_query_id") or "")
        if query is None or query.answered:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.text = text
        query.show_alert = p.get_bool("show_alert")
        query.url = p.get_str("url")
        query.cache_time = p.get_int("cache_time")
        self._notify()
        return True

    def _api_send_media(self, p: Params, kind: str) -> JSON:
        caption, entities, parse_mode, raw = self._formatted(
            p, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, caption=True
        )
        chat = self._target_chat(p)
        stored = self._input_file(p, kind, kind)
        media = self._media_for(kind, stored, p)
        msg = self._send(
            p,
            chat,
            caption=caption,
            caption_entities=entities,
            parse_mode=parse_mode,
            raw_text=raw,
            media=media,
        )
        return self.message_json(msg)

    def _media_for(self, kind: str, stored: StoredFile, p: Params) -> JSON:
        if kind == "photo":
            return {"photo": self._photo_sizes(stored)}
        extra: JSON = {
            "duration": p.get_int("duration"),
            "performer": p.get_str("performer"),
            "title": p.get_str("title"),
            "emoji": p.get_str("emoji"),
            "length": p.get_int("length"),
        }
        obj = self._media_object(kind, stored, **extra)
        if kind == "animation":
            return {"animation": obj, "document": self._media_object("document", stored)}
        return {kind: obj}

    def _api_send_media_group(self, p: Params) -> list[JSON]:
        items = p.get_json("media")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            raise _bad_request("media group must contain 2-10 items")
        chat = self._target_chat(p)
        group_id = str(13_000_000_000_000_000 + self._next_media_group)
        self._next_media_group += 1
        prepared: list[tuple[str, StoredFile, str | None, list[JSON], str | None, str | None]] = []
        for item in items:
            if not isinstance(item, Mapping) or item.get("type") not in (
                "photo",
                "video",
                "document",
                "audio",
            ):
                raise _bad_request("unsupported media type in the media group")
            kind = str(item["type"])
            sub = Params(
                {
                    "media": item.get("media"),
                    "caption": item.get("caption"),
                    "parse_mode": item.get("parse_mode"),
                    "caption_entities": item.get("caption_entities"),
                },
                p.files,
            )
            caption, entities, parse_mode, raw = self._formatted(
                sub, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, caption=True
            )
            prepared.append(
                (kind, self._input_file(sub, "media", kind), caption, entities, parse_mode, raw)
            )
        results: list[JSON] = []
        for kind, stored, caption, entities, parse_mode, raw in prepared:
            msg = self._send(
                p,
                chat,
                caption=caption,
                caption_entities=entities,
                parse_mode=parse_mode,
                raw_text=raw,
                media=self._media_for(kind, stored, Params({})),
                media_group_id=group_id,
                with_markup=False,
            )
            results.append(self.message_json(msg))
        return results

    def _api_send_location(self, p: Params) -> JSON:
        latitude = p.get_float("latitude")
        longitude = p.get_float("longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise _bad_request("wrong latitude specified")
        if longitude is None or not -180 <= longitude <= 180:
            raise _bad_request("wrong longitude specified")
        chat = self._target_chat(p)
        location: JSON = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            value = p.get_float(key)
            if value is not None:
                location[key] = value
        msg = self._send(p, chat, media={"location": location})
        return self.message_json(msg)

    def _api_send_contact(self, p: Params) -> JSON:
        phone = p.get_str("phone_number")
        first_name = p.get_str("first_name")
        if not phone or not first_name:
            raise _bad_request("phone_number and first_name must be non-empty")
        chat = self._target_chat(p)
        contact: JSON = {"phone_number": phone, "first_name": first_name}
        if p.has("last_name"):
            contact["last_name"] = p.get_str("last_name")
        msg = self._send(p, chat, media={"contact": contact})
        return self.message_json(msg)

    def _api_send_chat_action(self, p: Params) -> bool:
        action = p.get_str("action") or ""
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        chat = self._target_chat(p)
        self.chat_actions.append((chat.id, action, self._date()))
        return True

    def _api_pin_chat_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None or message_id not in chat.messages:
            raise _bad_request("message to pin not found")
        chat.pinned_message_id = message_id
        return True

    def _api_unpin_chat_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        chat.pinned_message_id = None
        return True

    # ---------------------------------------------------------------- API: files

    def _api_get_file(self, p: Params) -> JSON:
        file_id = p.get_str("file_id") or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_SIZE:
            raise _bad_request("file is too big")
        return stored.to_file_json()

    # ---------------------------------------------------------------- API: commands, menu, chats

    def _command_key(self, p: Params) -> tuple[str, str, JSON]:
        scope = p.get_json("scope")
        if scope is not None and (
            not isinstance(scope, Mapping) or scope.get("type") not in _COMMAND_SCOPES
        ):
            raise _bad_request("can't parse BotCommandScope JSON object")
        if isinstance(scope, Mapping) and scope.get("type") in (
            "chat",
            "chat_administrators",
            "chat_member",
        ):
            chat_id = self._chat_id_of(Params({"chat_id": scope.get("chat_id")}))
            if chat_id is None or chat_id not in self.chats:
                raise _bad_request("chat not found")
        language = p.get_str("language_code", "") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        scope_dict = dict(scope) if isinstance(scope, Mapping) else {"type": "default"}
        return _scope_key(scope_dict), language, scope_dict

    def _api_set_my_commands(self, p: Params) -> bool:
        commands = p.get_json("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        cleaned: list[JSON] = []
        for entry in commands:
            if not isinstance(entry, Mapping):
                raise _bad_request("can't parse BotCommand JSON object")
            command = str(entry.get("command", "")).lstrip("/")
            description = str(entry.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key, language, scope = self._command_key(p)
        if cleaned:
            self._commands[(key, language)] = (scope, cleaned)
        else:
            self._commands.pop((key, language), None)
        return True

    def _api_get_my_commands(self, p: Params) -> list[JSON]:
        key, language, _ = self._command_key(p)
        entry = self._commands.get((key, language))
        return _json_copy(entry[1]) if entry else []

    def _api_delete_my_commands(self, p: Params) -> bool:
        key, language, _ = self._command_key(p)
        self._commands.pop((key, language), None)
        return True

    def _api_set_chat_menu_button(self, p: Params) -> bool:
        chat_id = None
        if p.has("chat_id"):
            chat_id = self._target_chat(p).id
        button = p.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, Mapping) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad_request("can't parse MenuButton JSON object")
        self._menu_buttons[chat_id] = dict(button)
        return True

    def _api_get_chat_menu_button(self, p: Params) -> JSON:
        chat_id = self._target_chat(p).id if p.has("chat_id") else None
        return self.menu_button(chat_id)

    def _api_get_chat(self, p: Params) -> JSON:
        chat = self._target_chat(p)
        info = chat.to_dict()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": True,
                    "limited_gifts": True,
                    "unique_gifts": True,
                    "premium_subscription": True,
                    "gifts_from_channels": True,
                },
            }
        )
        if chat.pinned_message_id and chat.pinned_message_id in chat.messages:
            info["pinned_message"] = self.message_json(chat.messages[chat.pinned_message_id])
        return info

    def _api_get_chat_member(self, p: Params) -> JSON:
        chat = self._target_chat(p)
        user_id = p.get_int("user_id")
        if user_id == self.bot.id:
            return {"user": self.bot.to_dict(), "status": "member"}
        user = self.users.get(user_id) if user_id is not None else None
        if user is None:
            raise _bad_request("user not found")
        if chat.type == "private" and chat.id != user.id:
            raise _bad_request("user not found")
        return {"user": user.to_dict(), "status": "member"}

    def _set_bot_text(self, p: Params, store: dict[str, str], field_name: str) -> bool:
        language = p.get_str("language_code", "") or ""
        value = p.get_str(field_name) or ""
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    def _get_bot_text(self, p: Params, store: dict[str, str]) -> str:
        language = p.get_str("language_code", "") or ""
        return store.get(language, store.get("", ""))


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _not_modified() -> TelegramApiError:
    return _bad_request(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )


def _scope_key(scope: Mapping[str, Any] | None) -> str:
    scope = scope or {"type": "default"}
    normalized: JSON = {"type": scope.get("type", "default")}
    for key in ("chat_id", "user_id"):
        if key in scope:
            value = scope[key]
            try:
                normalized[key] = int(value)
            except (TypeError, ValueError):
                normalized[key] = str(value)
    return json.dumps(normalized, sort_keys=True)


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, Mapping) or not isinstance(button.get("text"), str):
        raise _bad_request("can't parse inline keyboard button: Text must be a String")
    actions = [
        key
        for key in (
            "callback_data",
            "url",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        )
        if key in button
    ]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if (
            not isinstance(data, str)
            or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise _bad_request("BUTTON_DATA_INVALID")
    if "url" in button and _normalize_url(str(button["url"])) is None:
        raise _bad_request(
            f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
        )


# --------------------------------------------------------------------------------------------
# ASGI application
# --------------------------------------------------------------------------------------------


def _error_response(error_code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": error_code, "description": description}, status_code=error_code
    )


async def _read_params(request: Request) -> tuple[JSON, dict[str, UploadedFile]]:
    values: JSON = dict(request.query_params)
    files: dict[str, UploadedFile] = {}
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/json"):
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise _bad_request("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise _bad_request("JSON object expected")
            values.update(data)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        # what Starlette's form parser gives for it (keys and values unquoted as UTF-8),
        # at a fraction of the cost: PTB sends every call without a file this way
        body = await request.body()
        values.update(urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=100, max_fields=1000, max_part_size=4 * 1024 * 1024)
        try:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    if len(data) > MAX_UPLOAD_SIZE:
                        raise TelegramApiError(413, "Request Entity Too Large")
                    files[key] = UploadedFile(value.filename, value.content_type, data)
                else:
                    values[key] = value
        finally:
            await form.close()
    return values, files


def create_fake_bot_api(state: FakeTelegram, token: str | None = None) -> Starlette:
    """An ASGI app serving the Bot API of ``state`` for ``token`` (default ``state.token``).

    Routes: ``GET|POST /bot{token}/{method}`` and ``GET /file/bot{token}/{file_path}``.
    Serve it with uvicorn for a local sandbox, or hand it to ``httpx.ASGITransport`` in tests
    (see :func:`sandbox.harness.fake_bot_request`).
    """
    expected = token or state.token

    async def api(request: Request) -> Response:
        if request.path_params["token"] != expected:
            return _error_response(401, "Unauthorized")
        try:
            values, files = await _read_params(request)
        except TelegramApiError as err:
            return JSONResponse(err.to_json(), status_code=err.error_code)
        status, payload = await state.handle(request.path_params["method"], values, files)
        if isinstance(payload, bytes):  # a garbled answer
            return Response(payload, status_code=status, media_type="application/json")
        return JSONResponse(payload, status_code=status)

    async def download(request: Request) -> Response:
        if request.path_params["token"] != expected:
            return _error_response(401, "Unauthorized")
        stored = state.file_by_path(request.path_params["file_path"])
        if stored is None:
            return _error_response(404, "Not Found")
        return Response(stored.data, media_type="application/octet-stream")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error_response(status, "Not Found" if status == 404 else HTTPStatus(status).phrase)

    app = Starlette(
        routes=[
            Route("/bot{token}/{method}", api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", download, methods=["GET"]),
        ],
        exception_handlers={HTTPException: not_found},
    )
    app.state.fake_telegram = state
    return app
