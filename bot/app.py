"""Build the PTB Application: handlers, services, and the HTTP client it talks through.

In production the client talks to Telegram; in tests and the sandbox it talks to the
fake Bot API in ``sandbox/`` (``base_url`` + ``request``), with the same code path.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, ApplicationBuilder
from telegram.request import BaseRequest

import conversations.flows  # noqa: F401  (registers the flows)
import handlers
from bot.ordering import PerPersonOrder
from bot.services import Services
from bot.telegram_request import BotApiRequest
from casework import kinds as _kinds  # noqa: F401  (every deadline kind, in every bot process)
from documents import digest_chart
from handlers.ptb import BotApplication

# connections to the Bot API a bot process keeps: a few per turn in flight (the turns' worker
# threads are as many as the database pool) and the replies of the ones just finished
BOT_HTTP_POOL = 32


def build_application(
    token: str,
    services: Services,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    updater: bool = True,
) -> BotApplication:
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = Application.builder().token(token)
    if base_url:
        builder = builder.base_url(base_url)
    if base_file_url:
        builder = builder.base_file_url(base_file_url)
    # the outbox sender reads the HTTP status of each answer off this request (see
    # bot.telegram_request). Not PTB's 256 connections: a process's sends are bounded by
    # its turns in flight anyway
    builder = builder.request(request or BotApiRequest(connection_pool_size=BOT_HTTP_POOL))
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if not updater:
        builder = builder.updater(None)
    # each update is its own transaction, run in a worker thread (handlers.turns): people
    # are answered at once, each person's updates in order
    builder = builder.concurrent_updates(PerPersonOrder())
    application = builder.build()
    application.bot_data["services"] = services
    # the digests' chart renderer
    digest_chart.install()
    handlers.register(application)
    return application
