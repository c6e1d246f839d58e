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

One module per concern (each imports only the ones above it):

* :mod:`~sandbox.fakebot.protocol` -- the JSON type, Telegram's limits, its error shape and
  the parameters of one call;
* :mod:`~sandbox.fakebot.formatting` -- entity parsing and :func:`format_text`;
* :mod:`~sandbox.fakebot.model` -- the records: users, chats, messages, events, answers, calls;
* :mod:`~sandbox.fakebot.state` -- :class:`~sandbox.fakebot.state.TelegramState`, what every
  concern shares: users and chats, messages and the event log, waiting, inspection;
* :mod:`~sandbox.fakebot.limits` -- rate windows and statistics (429 when enforced);
* :mod:`~sandbox.fakebot.faults` -- injected errors, garbled answers, a blocked bot's 403;
* :mod:`~sandbox.fakebot.updates` -- the update queue, long polling, the webhook settings;
* :mod:`~sandbox.fakebot.files` -- stored files, media objects, ``getFile``, :data:`TINY_PNG`;
* :mod:`~sandbox.fakebot.clients` -- the user-side actions;
* :mod:`~sandbox.fakebot.settings` -- the bot's identity, commands, menu button, chat info;
* :mod:`~sandbox.fakebot.api` -- :class:`FakeTelegram` (the concerns put together), the
  dispatch of a call and the message methods;
* :mod:`~sandbox.fakebot.asgi` -- :func:`create_fake_bot_api`, the HTTP face.

This package module only re-exports the names callers use.
"""

from sandbox.fakebot.api import FakeTelegram
from sandbox.fakebot.asgi import create_fake_bot_api
from sandbox.fakebot.faults import Garble, Injection
from sandbox.fakebot.files import TINY_PNG, StoredFile
from sandbox.fakebot.formatting import EntityParseError, format_text, utf16_len
from sandbox.fakebot.limits import RateStats
from sandbox.fakebot.model import (
    ApiCall,
    CallbackAnswer,
    ChatEvent,
    FakeChat,
    FakeUser,
    MessageVersion,
    StoredMessage,
    inline_rows,
    keyboard_rows,
)
from sandbox.fakebot.protocol import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    TelegramApiError,
    UploadedFile,
)

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
    "inline_rows",
    "keyboard_rows",
    "utf16_len",
]
