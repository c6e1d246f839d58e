"""Run the bot: long polling with BOT_TOKEN (webhook mode and the sandbox come with later
issues). The outbox is drained and due deadlines are acted on by repeating jobs.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.app import build_application
from bot.outbox_sender import drain
from bot.runtime import Runtime
from bot.services import Services
from casework import deadlines
from casework.clock import Clock, SystemClock
from casework.uow import unit_of_work

log = logging.getLogger(__name__)

OUTBOX_EVERY_S = 3
TICK_EVERY_S = 60


async def _drain_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await drain(context.bot, context.application.bot_data["services"])


async def _tick_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    services: Services = context.application.bot_data["services"]
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        handled = deadlines.run_due(cw)
    if handled:
        log.info("acted on %d due deadlines", len(handled))


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data["services"]
    services.bot_username = application.bot.username
    log.info("running as @%s with policy %s", services.bot_username, services.policy.name)


def make_application(runtime: Runtime, clock: Clock | None = None, **kwargs: Any) -> Any:
    assert runtime.settings.bot_token
    services = Services(engine=runtime.engine, clock=clock or SystemClock(), policy=runtime.policy)
    application = build_application(runtime.settings.bot_token, services, **kwargs)
    application.post_init = _post_init
    assert application.job_queue is not None
    application.job_queue.run_repeating(_drain_job, interval=OUTBOX_EVERY_S, first=1)
    application.job_queue.run_repeating(_tick_job, interval=TICK_EVERY_S, first=5)
    return application


def run_polling(runtime: Runtime) -> None:
    application = make_application(runtime)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
