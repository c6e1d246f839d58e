"""Webhook mode: Telegram POSTs updates to a FastAPI endpoint (run behind uvicorn).

- Telegram signs each request with the secret we gave ``setWebhook``; the header
  ``X-Telegram-Bot-Api-Secret-Token`` is compared in constant time, a mismatch is 401.
- Telegram redelivers an update it thinks failed; ``update_id``s already taken are
  acknowledged and dropped (a bounded memory of recent ids per process; several workers
  behind one URL would need a shared table — today one process serves the webhook).
- ``/healthz`` answers for load balancers and the operator.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from telegram import Update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
REMEMBERED_UPDATES = 10_000


def derive_secret(token: str) -> str:
    """A stable secret when WEBHOOK_SECRET is not set: [A-Za-z0-9_-], ≤ 256 chars."""
    return hashlib.sha256(f"baoxue-webhook:{token}".encode()).hexdigest()


class RecentIds:
    """The last N update ids seen, to drop Telegram's redeliveries."""

    def __init__(self, size: int = REMEMBERED_UPDATES) -> None:
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def seen(self, update_id: int) -> bool:
        if update_id in self._ids:
            return True
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False


def create_webhook_app(
    application: Any, *, url: str, secret: str, manage_lifecycle: bool = True
) -> FastAPI:
    """The FastAPI app serving ``application`` (a built PTB Application) by webhook."""
    recent = RecentIds()
    expected = secret.encode()

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

    app = FastAPI(title="baoxue webhook", lifespan=lifespan)

    @app.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(status_code=401)
        try:
            data = await request.json()
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError):
            return Response(status_code=400)
        if recent.seen(update_id):
            return Response(status_code=200)
        update = Update.de_json(data, application.bot)
        # through the update processor, as polling does: one person's updates in order
        await application.update_processor.process_update(update, application.process_update(update))
        return Response(status_code=200)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "bot": "running" if application.running else "starting"}

    return app
