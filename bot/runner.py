"""Run the bot on the Bot API at BOT_API_URL: long polling with BOT_TOKEN, or behind a
webhook with WEBHOOK_URL and WEBHOOK_SECRET. Either way HOST:PORT serves ``/healthz`` (the
Dockerfile's HEALTHCHECK asks it) and the officers' console at ``/console``: polling runs
a uvicorn server as a task in the bot's own event loop (:func:`serve_web`; the console
fetches evidence files through the bot's HTTP client, which lives in that loop), started
once the bot is initialised and stopped before it shuts down; the stop signals stay the
bot's. The outbox sender
(``bot.outbox_sender``) runs as a background task pacing
messages under Telegram's limits; due deadlines are acted on by the deadline scheduler
(``bot.scheduler``: an APScheduler job running the database-claimed tick in a worker
thread every ``TICK_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from telegram import Update

from bot.app import build_application
from bot.outbox_sender import Limits, SenderTask
from bot.runtime import Runtime
from bot.scheduler import DeadlineScheduler, tick_once
from bot.services import Services
from casework.clock import Clock, SystemClock
from documents.tabular import UploadLimits
from handlers.ptb import BotApplication

log = logging.getLogger(__name__)

OUTBOX_KEY = "outbox_sender"
SCHEDULER_KEY = "deadline_scheduler"

# tick_once is re-exported for the sandbox, which ticks on its own clock bar
__all__ = ["make_application", "run_polling", "run_webhook", "tick_once"]


async def _post_init(application: BotApplication) -> None:
    services: Services = application.bot_data["services"]
    services.bot_username = application.bot.username
    log.info("running as @%s with policy %s", services.bot_username, services.policy.name)
    for key in (SCHEDULER_KEY, OUTBOX_KEY):  # the parts this process runs (bot.roles)
        if key in application.bot_data:
            application.bot_data[key].start()


async def _post_stop(application: BotApplication) -> None:
    if SCHEDULER_KEY in application.bot_data:
        await application.bot_data[SCHEDULER_KEY].shutdown()
    if OUTBOX_KEY in application.bot_data:
        await application.bot_data[OUTBOX_KEY].stop()
    # the updates are done (stop waited for them): the turns' worker threads can go
    application.bot_data["services"].close()


def make_application(
    runtime: Runtime, clock: Clock | None = None, *, sender: bool | None = None,
    scheduler: bool | None = None, **kwargs: Any,
) -> BotApplication:
    """The bot; with the outbox sender and the deadline scheduler as the settings say
    (RUN_SENDER, RUN_SCHEDULER), or as ``sender``/``scheduler`` say (a webhook worker of
    ``baoxue web`` runs neither)."""
    assert runtime.settings.bot_token
    sender = runtime.settings.run_sender if sender is None else sender
    scheduler = runtime.settings.run_scheduler if scheduler is None else scheduler
    services = Services(engine=runtime.engine, clock=clock or SystemClock(), policy=runtime.policy,
                        conversation_ttl_days=runtime.settings.conversation_ttl_days,
                        operator_chat_id=runtime.settings.operator_chat_id,
                        upload_limits=UploadLimits.from_settings(runtime.settings),
                        console_url=runtime.settings.console_url)
    api = runtime.settings.bot_api_url.rstrip("/")
    kwargs.setdefault("base_url", f"{api}/bot")
    kwargs.setdefault("base_file_url", f"{api}/file/bot")
    application = build_application(runtime.settings.bot_token, services, **kwargs)
    if scheduler:
        application.bot_data[SCHEDULER_KEY] = DeadlineScheduler(
            services, every_s=runtime.settings.tick_seconds
        )
    application.post_init = _post_init
    application.post_stop = _post_stop
    # Limits refuses a rate over Telegram's 30/s here, before the bot starts
    limits = Limits(per_second=runtime.settings.outbox_rate)
    if sender:
        application.bot_data[OUTBOX_KEY] = SenderTask(application.bot, services, limits=limits)
    return application


def run_webhook(runtime: Runtime) -> None:
    """Behind FastAPI/uvicorn; Telegram POSTs to WEBHOOK_URL + /telegram/webhook, signed with
    WEBHOOK_SECRET (required: ``StartupError`` without it)."""
    import uvicorn

    from bot.logs import redact_logs
    from bot.runtime import webhook_secret
    from bot.webhook import create_webhook_app

    settings = runtime.settings
    assert settings.bot_token and settings.webhook_url
    secret = webhook_secret(settings)
    redact_logs(settings.bot_token, secret, settings.encryption_key)
    application = make_application(runtime)
    # the officers' console on the same server, at /console (CONSOLE_URL points there)
    from bot.console import console_for

    app = create_webhook_app(
        application, url=settings.webhook_url, secret=secret, docs=settings.env == "development",
        console=console_for(runtime, application),
    )
    # log_config=None: uvicorn's loggers propagate to the root handlers, which redact
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", log_config=None)


def _bot_running(application: BotApplication) -> bool:
    return bool(application.running and application.updater and application.updater.running)


def _quiet_server(config: Any) -> Any:
    """uvicorn's server without its signal handlers: in the bot's loop, SIGINT and SIGTERM
    are ``run_polling``'s, which stops the bot and then this server (uvicorn's own would
    take them, stop the web server alone and leave the bot running)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server(config)


def polling_web_app(application: BotApplication, console: Any | None) -> Any:
    """``/healthz`` (200 while the bot polls, 503 before and after) and the console."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        running = _bot_running(application)
        return JSONResponse({"status": "ok" if running else "starting",
                             "bot": "running" if running else "starting"},
                            status_code=200 if running else 503)

    if console is not None:
        from bot.console import CONSOLE_PATH

        app.mount(CONSOLE_PATH, console)
    return app


def serve_web(application: BotApplication, app: Any, host: str, port: int) -> None:
    """Serve ``app`` on HOST:PORT from the bot's event loop: started after the bot's own
    ``post_init``, stopped before its ``post_stop`` (which closes what the pages use)."""
    import uvicorn

    # log_config=None: uvicorn's loggers propagate to the root handlers, which redact
    server = _quiet_server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                          log_config=None, lifespan="off"))
    bot_init, bot_stop = application.post_init, application.post_stop
    task: list[asyncio.Task[None]] = []

    async def post_init(app_: BotApplication) -> None:
        if bot_init is not None:
            await bot_init(app_)
        task.append(asyncio.create_task(server.serve(), name="web"))

    async def post_stop(app_: BotApplication) -> None:
        server.should_exit = True
        try:
            for t in task:
                await t
        finally:  # the bot's parts stop even if the web server had failed
            if bot_stop is not None:
                await bot_stop(app_)

    application.post_init = post_init
    application.post_stop = post_stop


def run_polling(runtime: Runtime) -> None:
    from bot.console import console_for

    application = make_application(runtime)
    settings = runtime.settings
    serve_web(application, polling_web_app(application, console_for(runtime, application)),
              settings.host, settings.port)
    log.info("health check at http://%s:%s/healthz, the console at /console", settings.host, settings.port)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
