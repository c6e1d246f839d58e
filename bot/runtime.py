"""Start-up wiring shared by the CLI, the bot and the web app: settings → key, engine,
policy. Refuses to start on a bad policy file or, in production, without a key.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from bot.private_files import create_once
from bot.settings import Settings, get_settings
from casework import kinds as _kinds  # noqa: F401  (every deadline kind, in every process)
from casework.personal import Cipher, configure_encryption
from casework.policy import Policy, resolve
from models import db

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A setting makes it unsafe or impossible to start; the message says which."""


ENCRYPTION_KEY_MISSING = (
    "ENCRYPTION_KEY is not set. In production the bot refuses to store ID and phone "
    "numbers without it. Generate one with: baoxue key generate"
)


def encryption_key(settings: Settings) -> str:
    if settings.encryption_key:
        return settings.encryption_key
    if settings.env == "production":
        raise StartupError(ENCRYPTION_KEY_MISSING)
    path = Path(settings.dev_key_file)
    if not path.exists():
        # created 0600 in one step; if another process created it meanwhile, theirs is used
        create_once(path, (Cipher.generate_key() + "\n").encode())
    key = path.read_text().strip()
    log.warning(
        "DEVELOPMENT ENCRYPTION KEY in use (%s). Personal data is only as safe as this file; "
        "set ENCRYPTION_KEY and BAOXUE_ENV=production for real data.",
        path,
    )
    return key


WEBHOOK_SECRET_MIN = 32
# what Telegram accepts in setWebhook's secret_token: 1–256 of [A-Za-z0-9_-]
_WEBHOOK_SECRET_SHAPE = re.compile(rf"[A-Za-z0-9_-]{{{WEBHOOK_SECRET_MIN},256}}")


def new_webhook_secret() -> str:
    """A random WEBHOOK_SECRET (256 bits, URL-safe: what Telegram accepts)."""
    return secrets.token_urlsafe(32)


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram signs webhook requests with. It must be set and random: one
    derived from the token would fall with the token."""
    secret = settings.webhook_secret or ""
    if not secret:
        raise StartupError(
            "WEBHOOK_SECRET is not set. Webhook mode (WEBHOOK_URL) needs a random secret of at "
            f"least {WEBHOOK_SECRET_MIN} characters. Generate one with: baoxue key generate --webhook"
        )
    if not _WEBHOOK_SECRET_SHAPE.fullmatch(secret):
        raise StartupError(
            f"WEBHOOK_SECRET must be {WEBHOOK_SECRET_MIN}–256 characters of A–Z, a–z, 0–9, _ "
            "and - (what Telegram accepts). Generate one with: baoxue key generate --webhook"
        )
    return secret


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    policy: Policy


def encryption_keys(settings: Settings) -> tuple[str, ...]:
    """The keys the cipher holds: during a rotation the new one first, then the old."""
    key = encryption_key(settings)
    new = settings.new_encryption_key
    keys = (new, key) if new and new != key else (key,)
    try:
        Cipher(*keys)
    except ValueError as err:
        raise StartupError(f"{'NEW_' if new else ''}{err}") from None
    return keys


def boot(settings: Settings | None = None, *, migrate: bool = False) -> Runtime:
    settings = settings or get_settings()
    keys = encryption_keys(settings)
    configure_encryption(*keys)
    policy = resolve(settings.policy)
    # any process that boots may run the scheduler's tick: digests must be known to it
    from documents import digest_chart

    digest_chart.install()
    pool: dict[str, int] = {}
    if not settings.database_url.startswith("sqlite"):
        pool = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    engine = db.make_engine(settings.database_url, **pool)
    if migrate:
        db.upgrade(engine)
    from casework.keys import check_keys

    problem = check_keys(engine, Cipher(*keys))
    if problem:
        raise StartupError(problem)
    return Runtime(settings, engine, policy)
