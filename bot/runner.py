"""Run the bot: long polling with BOT_TOKEN (webhook mode and the sandbox come with later
issues). The outbox sender (``bot.outbox_sender``) runs as a background task pacing
messages under Telegram's limits; due deadlines are acted on by the deadline scheduler
(``bot.scheduler``: an APScheduler job running the database-claimed tick in a worker
thread every ``TICK_SECONDS``).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.documents.tabular import UploadLimits
from bot.outbox_sender import Limits, SenderTask
from bot.runtime import Runtime
from bot.scheduler import DeadlineScheduler, tick_once
from bot.services import Services
from casework.clock import Clock, SystemClock

log = logging.getLogger(__name__)

OUTBOX_KEY = "outbox_sender"
SCHEDULER_KEY = "deadline_scheduler"

# tick_once is re-exported for the sandbox, which ticks on its own clock bar
__all__ = ["make_application", "run_polling", "run_webhook", "tick_once"]


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    services.bot_username = application.bot.username
    log.info("running as @%s with policy %s", services.bot_username, services.policy.name)
    application.bot_data[SCHEDULER_KEY].start()
    application.bot_data[OUTBOX_KEY].start()


async def _post_stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await application.bot_data[SCHEDULER_KEY].shutdown()
    await application.bot_data[OUTBOX_KEY].stop()


def make_application(runtime: Runtime, clock: Clock | None = None, **kwargs: Any) -> Any:
    assert runtime.settings.bot_token
    services = Services(engine=runtime.engine, clock=clock or SystemClock(), policy=runtime.policy,
                        upload_limits=UploadLimits.from_settings(runtime.settings))
    application = build_application(runtime.settings.bot_token, services, **kwargs)
    application.bot_data[SCHEDULER_KEY] = DeadlineScheduler(
        services, every_s=runtime.settings.tick_seconds
    )
    application.post_init = _post_init
    application.post_stop = _post_stop
    # Limits refuses a rate over Telegram's 30/s here, before the bot starts
    application.bot_data[OUTBOX_KEY] = SenderTask(
        application.bot, services, limits=Limits(per_second=runtime.settings.outbox_rate)
    )
    return application


def run_webhook(runtime: Runtime) -> None:
    """Behind FastAPI/uvicorn; Telegram POSTs to WEBHOOK_URL + /telegram/webhook."""
    import uvicorn

    from web.webhook import create_webhook_app, derive_secret

    settings = runtime.settings
    assert settings.bot_token and settings.webhook_url
    application = make_application(runtime)
    app = create_webhook_app(
        application, url=settings.webhook_url,
        secret=settings.webhook_secret or derive_secret(settings.bot_token),
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def run_polling(runtime: Runtime) -> None:
    application = make_application(runtime)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
