"""The officers' console (``web.console``) wired to a running bot: its database, clock and
policy, a cookie secret, and the bot's own access to Telegram's files (the evidence photos
and voice notes are Telegram file ids; the console fetches them through the bot, so the
browser never talks to Telegram and never sees the token)."""

from __future__ import annotations

import logging
from typing import Any

from telegram.error import TelegramError

from bot.runtime import Runtime, encryption_key
from bot.services import Services
from web.console import ConsoleConfig
from web.security import secret_from

log = logging.getLogger(__name__)

CONSOLE_PATH = "/console"


def console_secret(runtime: Runtime) -> bytes:
    settings = runtime.settings
    return secret_from(settings.console_secret or encryption_key(settings))


def bot_files(bot: Any) -> Any:
    """A file source for the console: a Telegram file by its id, through the bot."""

    async def fetch(file_id: str) -> tuple[bytes, str] | None:
        try:
            found = await bot.get_file(file_id)
            data = bytes(await found.download_as_bytearray())
        except TelegramError as err:
            log.warning("console: evidence file not fetched (%s)", type(err).__name__)
            return None
        path = (found.file_path or "").lower()
        media = ("image/jpeg" if path.endswith((".jpg", ".jpeg")) else "image/png" if path.endswith(".png")
                 else "audio/ogg" if path.endswith((".oga", ".ogg")) else "application/octet-stream")
        return data, media

    return fetch


def console_config(runtime: Runtime, services: Services, bot: Any, *, secure: bool) -> ConsoleConfig:
    return ConsoleConfig(
        engine=services.engine, clock=services.clock, policy=services.policy,
        secret=console_secret(runtime), files=bot_files(bot), secure_cookie=secure,
        base=CONSOLE_PATH,
        bot_username=lambda: services.bot_username or runtime.settings.bot_username or "",
    )


def console_for(runtime: Runtime, application: Any) -> Any:
    """The console app a webhook server mounts at ``/console`` beside the bot it serves
    (``baoxue run`` with WEBHOOK_URL and each ``baoxue web`` worker)."""
    from web.app import create_console

    secure = (runtime.settings.console_url or "").startswith("https://")
    return create_console(console_config(
        runtime, application.bot_data["services"], application.bot, secure=secure))
