"""The roles a bot process plays, chosen by command (and, for ``baoxue run``, by setting).

| command | answers updates | outbox sender | deadline scheduler | how many |
|---|---|---|---|---|
| ``baoxue run`` | polling, or the webhook with ``WEBHOOK_URL`` | unless ``RUN_SENDER=false`` | unless ``RUN_SCHEDULER=false`` | one per token when polling |
| ``baoxue web`` | the webhook, ``--workers N`` uvicorn processes | never | never | any number |
| ``baoxue sender`` | no | yes | no | any number (they cooperate: ``bot.outbox_sender``) |
| ``baoxue scheduler`` | no | no | yes | any number (due rows are claimed) |

A single-process county keeps ``baoxue run`` and sees nothing change. At scale the webhook
workers only answer (so adding workers adds no sender pushing into the same chats), and
senders and schedulers run where the operator puts them (``deploy/``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot

from bot.outbox_sender import Limits, SenderTask
from bot.runtime import Runtime, boot, webhook_secret
from bot.scheduler import DeadlineScheduler
from bot.services import Services
from bot.telegram_request import BotApiRequest
from casework.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# a sender has at most Limits.max_in_flight requests out at once; a few more for getMe
SENDER_HTTP_POOL = 16


def web_app(runtime: Runtime) -> Any:
    """The FastAPI app of one webhook worker: it answers updates and serves the officers'
    console at ``/console``; it sends nothing on its own (no outbox sender, no scheduler)."""
    from bot.console import console_for
    from bot.logs import redact_logs
    from bot.runner import make_application
    from bot.webhook import create_webhook_app

    settings = runtime.settings
    assert settings.bot_token and settings.webhook_url
    secret = webhook_secret(settings)
    redact_logs(settings.bot_token, secret, settings.encryption_key)
    application = make_application(runtime, sender=False, scheduler=False)
    app = create_webhook_app(
        application, url=settings.webhook_url, secret=secret, docs=settings.env == "development",
        console=console_for(runtime, application),
    )
    app.state.application = application  # what the worker runs, for a look from outside
    return app


def create_web_app() -> Any:
    """uvicorn's factory for each worker process of ``baoxue web --workers N``: every
    worker boots from the environment on its own (the parent migrated the database)."""
    from bot.logs import configure

    configure(logging.INFO)
    return web_app(boot())


def run_web(runtime: Runtime, workers: int) -> None:
    """``baoxue web``: ``workers`` uvicorn processes serving the webhook on HOST:PORT."""
    import uvicorn

    settings = runtime.settings
    webhook_secret(settings)  # refuse at once, not once per worker
    if workers == 1:
        app: Any = web_app(runtime)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                    log_config=None)
        return
    # log_config=None: uvicorn's loggers propagate to the root handlers, which redact
    uvicorn.run("bot.roles:create_web_app", factory=True, workers=workers, host=settings.host,
                port=settings.port, log_level="warning", log_config=None)


def services_for(runtime: Runtime, clock: Clock | None = None) -> Services:
    return Services(engine=runtime.engine, clock=clock or SystemClock(), policy=runtime.policy,
                    conversation_ttl_days=runtime.settings.conversation_ttl_days,
                    operator_chat_id=runtime.settings.operator_chat_id)


def sender_bot(runtime: Runtime, **request_kwargs: Any) -> Bot:
    """A bare Bot for a sender process (no Application, no handlers), at BOT_API_URL."""
    assert runtime.settings.bot_token
    api = runtime.settings.bot_api_url.rstrip("/")
    request_kwargs.setdefault("connection_pool_size", SENDER_HTTP_POOL)
    return Bot(runtime.settings.bot_token, base_url=f"{api}/bot",
               base_file_url=f"{api}/file/bot", request=BotApiRequest(**request_kwargs))


async def serve_sender(runtime: Runtime, stop: asyncio.Event, *, bot: Bot | None = None,
                       clock: Clock | None = None) -> None:
    """``baoxue sender``: the outbox sender alone, until ``stop``."""
    bot = bot or sender_bot(runtime)
    services = services_for(runtime, clock)
    task = SenderTask(bot, services, limits=Limits(per_second=runtime.settings.outbox_rate))
    async with bot:
        task.start()
        log.info("outbox sender running at %.0f messages/s", runtime.settings.outbox_rate)
        try:
            await stop.wait()
        finally:
            await task.stop()


async def serve_scheduler(runtime: Runtime, stop: asyncio.Event, *,
                          clock: Clock | None = None) -> None:
    """``baoxue scheduler``: the deadline tick alone, until ``stop``."""
    scheduler = DeadlineScheduler(services_for(runtime, clock), every_s=runtime.settings.tick_seconds)
    scheduler.start()
    try:
        await stop.wait()
    finally:
        await scheduler.shutdown()


def run_until_signalled(serve: Callable[[Runtime, asyncio.Event], Awaitable[None]],
                        runtime: Runtime) -> None:
    """Run ``serve`` until SIGTERM or SIGINT (systemd's and docker's stop, Ctrl-C)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(runtime, stop)

    asyncio.run(main())
