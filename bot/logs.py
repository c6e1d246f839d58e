"""Logging set-up for every entry point (CLI, bot, webhook, sandbox): no secret in a log.

The bot token is part of every Bot API URL (``https://api.telegram.org/bot<TOKEN>/…``),
so any line that prints a URL — httpx's request log, an exception from the HTTP client,
a traceback — would leak it, and with it the bot. ``RedactSecrets`` is a
``logging.Filter`` on the handlers (root's, and any other logger's that has its own), so
it sees every record whatever logger wrote it, and replaces in the message, its
arguments, the traceback and the stack:

- anything shaped like a bot token (``<digits>:<30+ of [A-Za-z0-9_-]>``), configured or not;
- the configured secrets verbatim (``BOT_TOKEN``, ``WEBHOOK_SECRET``, ``ENCRYPTION_KEY``).

httpx logs every request at INFO (hundreds of lines a minute in webhook mode); it is kept
at WARNING.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
PLACEHOLDER = "[REDACTED]"
FORMAT = "%(levelname)s %(name)s: %(message)s"
QUIET = ("httpx", "httpcore")  # request-per-line loggers, kept at WARNING


class RedactSecrets(logging.Filter):
    """Rewrites a record so that no secret survives formatting, by any later handler."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        # short values would blank out ordinary words; real secrets are long
        self.secrets |= {s for s in secrets if s and len(s) >= 16}

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, PLACEHOLDER)
        return TOKEN_SHAPE.sub(PLACEHOLDER, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return True
        clean = self.redact(message)
        if clean != message:
            # the arguments are merged in: an argument may be any object (httpx's URL)
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FILTER = RedactSecrets()


def redact_logs(*secrets: str | None) -> RedactSecrets:
    """Install the filter on every handler there is now (adding ``secrets`` to what it
    hides), giving the root logger a stderr handler if it has none, and quiet httpx.
    Call again after something adds handlers of its own (uvicorn's logging config)."""
    _FILTER.add(secrets)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=FORMAT)
    loggers = [root] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return _FILTER


def configure(level: int = logging.WARNING) -> RedactSecrets:
    """The CLI's logging: ``level`` to stderr, secrets from the settings redacted."""
    logging.basicConfig(level=level, format=FORMAT)
    return redact_logs(*configured_secrets())


def configured_secrets() -> list[str | None]:
    from bot.settings import get_settings

    try:
        settings = get_settings()
    except Exception:  # noqa: BLE001 - bad settings are reported by boot(); the shape still redacts
        return []
    return [settings.bot_token, settings.webhook_secret, settings.encryption_key]
