"""Start-up wiring shared by the CLI, the bot and the web app: settings → key, engine,
policy. Refuses to start on a bad policy file or, in production, without a key.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from bot.settings import Settings, get_settings
from casework.personal import Cipher
from casework.policy import Policy, resolve
from models import db

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A setting makes it unsafe or impossible to start; the message says which."""


def encryption_key(settings: Settings) -> str:
    if settings.encryption_key:
        return settings.encryption_key
    if settings.env == "production":
        raise StartupError(
            "ENCRYPTION_KEY is not set. In production the bot refuses to store ID and phone "
            "numbers without it. Generate one with: baoxue key generate"
        )
    path = Path(settings.dev_key_file)
    if path.exists():
        key = path.read_text().strip()
    else:
        key = Cipher.generate_key()
        path.write_text(key + "\n")
        os.chmod(path, 0o600)
    log.warning(
        "DEVELOPMENT ENCRYPTION KEY in use (%s). Personal data is only as safe as this file; "
        "set ENCRYPTION_KEY and BAOXUE_ENV=production for real data.",
        path,
    )
    return key


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
    db.configure(*keys)
    policy = resolve(settings.policy)
    # any process that boots may run the scheduler's tick: digests must be known to it
    from bot import digest_chart

    digest_chart.install()
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.upgrade(engine)
    from casework.keys import check_keys

    problem = check_keys(engine, Cipher(*keys))
    if problem:
        raise StartupError(problem)
    return Runtime(settings, engine, policy)
