"""Webhook mode: Telegram POSTs updates to a FastAPI endpoint (run behind uvicorn).

- Telegram signs each request with the secret we gave ``setWebhook`` (``WEBHOOK_SECRET``,
  random, never derived from the token); the header ``X-Telegram-Bot-Api-Secret-Token``
  is compared in constant time, a mismatch is 401.
- A body over ``MAX_BODY`` (1 MiB; real updates are a few KiB) is 413, refused on its
  declared length before it is read, or as soon as the stream passes the limit. A body
  that is not an update (bad JSON, nested past the parser's depth, fields of the wrong
  type) is 400.
- Telegram redelivers an update it thinks failed, possibly to another worker. Which
  updates were handled is kept in the database (``handlers.updates``): a turn records its
  update id in its own transaction, so a redelivery is done and answered once across all
  workers, a failed turn's retry is processed, and a restart forgets nothing. A private
  chat's update (always a turn's) costs no database work besides its turn's; any other is
  looked up before its handlers and recorded after them.
- A tap's answer (``answerCallbackQuery``) is the response's body, a Bot API call Telegram
  makes for us (``handlers.tap_answers``): one request to Telegram less per tap.
- ``/healthz`` answers for load balancers and the operator. ``/docs`` and
  ``/openapi.json`` exist only in development.
- ``POST /telegram/webhook`` is answered in front of FastAPI (``WebhookApp.__call__``),
  which saves its middleware and routing (about 50 µs of CPU a POST, of a tap's ~10 ms).
  What FastAPI's stack gave the route is kept: a 500 (the exception goes on to the
  server, which logs it) when something unexpected raises. Anything else on the path is
  FastAPI's as before (405 for another method, 307 for a trailing slash); behind a root
  path FastAPI routes the POST to the same answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send
from telegram import Update
from telegram.constants import ChatType

from handlers import tap_answers, updates

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
MAX_BODY = 1 << 20

RawHeaders = Iterable[tuple[bytes, bytes]]  # an ASGI scope's "headers", names in lower case
# the webhook's answer to a request: its status, and a body (a Bot API call Telegram makes
# for us: the answer to a tap, ``handlers.tap_answers``) or b""
Answer = Callable[[RawHeaders, Receive], Awaitable[tuple[int, bytes]]]
JSON_TYPE = b"application/json"
_SECRET_KEY = SECRET_HEADER.lower().encode("latin-1")
_SERVER_ERROR = b"Internal Server Error"  # Starlette's ServerErrorMiddleware's words


def _header(headers: RawHeaders, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette's ``Headers.get``."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body, or None once it grows past ``limit`` (the rest is never read); a client
    gone mid-body raises ``ClientDisconnect``, as Starlette's ``Request.stream`` does."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _declared_too_large(headers: RawHeaders, limit: int) -> bool | None:
    """True over the limit, None for a Content-Length that is not a number."""
    declared = _header(headers, b"content-length")
    if declared is None:
        return False
    try:
        return int(declared) > limit
    except ValueError:
        return None


async def _respond(send: Send, status: int, body: bytes = b"",
                   content_type: bytes | None = None) -> None:
    """A whole response, with the headers Starlette's ``Response`` gives it."""
    headers = [(b"content-length", str(len(body)).encode("latin-1"))]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class WebhookApp(FastAPI):
    """The webhook worker's app: FastAPI, with ``POST WEBHOOK_PATH`` answered before its
    middleware and routing (``answer``, the same one its own route calls)."""

    def __init__(self, answer: Answer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answer_webhook = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["path"] == WEBHOOK_PATH
                and scope["method"] == "POST" and not scope.get("root_path")
                and not self.root_path):
            await super().__call__(scope, receive, send)
            return
        started = False
        try:
            status, body = await self.answer_webhook(scope["headers"], receive)
            started = True
            await _respond(send, status, body, JSON_TYPE if body else None)
        except Exception:
            # as FastAPI's ServerErrorMiddleware: a 500 if nothing was sent yet, and the
            # exception on to the server, which logs it
            if not started:
                await _respond(send, 500, _SERVER_ERROR, b"text/plain; charset=utf-8")
            raise


def _handled_by_turns(update: Update) -> bool:
    """In a private chat, from the chat's own user: every handler of such an update is a
    turn (``handlers.turns.run_turn``), which claims the update in its own transaction, so a
    redelivery is dropped there and needs no look-up first. Any other update (a group's, a
    forged one, a kind without a user) is looked up before its handlers run."""
    chat, user = update.effective_chat, update.effective_user
    return (chat is not None and user is not None and chat.type == ChatType.PRIVATE
            and chat.id == user.id)


def create_webhook_app(
    application: Any, *, url: str, secret: str, manage_lifecycle: bool = True,
    docs: bool = False, console: FastAPI | None = None,
) -> WebhookApp:
    """The FastAPI app serving ``application`` (a built PTB Application) by webhook.
    ``docs`` serves ``/docs`` and ``/openapi.json`` (development only); ``console`` (the
    officers' console, ``web.app.create_console``) is mounted at ``/console``."""
    expected = secret.encode()
    # turns record their update in the database from now on (handlers.updates)
    application.bot_data[updates.DEDUPE_KEY] = True
    services = application.bot_data["services"]
    failed: set[int] = set()  # updates a handler raised on: not recorded, a retry is processed

    async def note_failure(update: object, _context: Any) -> None:
        if isinstance(update, Update):
            failed.add(update.update_id)

    application.add_error_handler(note_failure)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not manage_lifecycle:
            yield
            return
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        await application.bot.set_webhook(
            url=url.rstrip("/") + WEBHOOK_PATH, secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
        await application.start()
        try:
            yield
        finally:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
            await application.shutdown()

    async def answer(headers: RawHeaders, receive: Receive) -> tuple[int, bytes]:
        given = (_header(headers, _SECRET_KEY) or "").encode()
        if not hmac.compare_digest(given, expected):
            return 401, b""
        too_large = _declared_too_large(headers, MAX_BODY)
        if too_large is None:
            return 400, b""
        body = None if too_large else await _read_body(receive, MAX_BODY)
        if body is None:
            return 413, b""
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or type(data.get("update_id")) is not int:
                raise TypeError("an update is a JSON object with an integer update_id")
            update = Update.de_json(data, application.bot)
        except Exception as err:  # noqa: BLE001 - whatever fails to parse is the sender's fault
            # RecursionError (nesting), ValueError (JSON), TypeError/KeyError (shape), …
            log.warning("refused a malformed update (%s)", type(err).__name__)
            return 400, b""
        if not _handled_by_turns(update) and await asyncio.to_thread(
            updates.is_processed, services, update.update_id
        ):
            return 200, b""  # a redelivery of an update handled before
        # through the update processor, as polling does: one person's updates in order;
        # errors go to the error handlers. A tap's answer comes back in the response.
        with updates.watching_claims() as claimed, tap_answers.collecting(update) as tap:
            await application.update_processor.process_update(
                update, application.process_update(update))
        reply = (tap.response() if tap is not None else None) or b""
        if update.update_id in failed:
            failed.discard(update.update_id)
        elif updates.needs_record(update.update_id, update.update_id in claimed):
            # an update no turn claimed (ignored kinds, groups, forged ones) is recorded now;
            # every PRUNE_EVERY-th update prunes the old rows
            await asyncio.to_thread(updates.record, services, update.update_id,
                                    claimed=update.update_id in claimed)
        return 200, reply

    app = WebhookApp(
        answer, title="baoxue webhook", lifespan=lifespan,
        docs_url="/docs" if docs else None, redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )

    @app.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        # reached only when WebhookApp.__call__ leaves a POST to FastAPI (a root path)
        status, body = await answer(request.scope["headers"], request.receive)
        return Response(body, status_code=status, media_type="application/json" if body else None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "bot": "running" if application.running else "starting"}

    if console is not None:
        from bot.console import CONSOLE_PATH

        app.mount(CONSOLE_PATH, console)
    return app
