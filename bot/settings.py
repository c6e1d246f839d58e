"""Settings from the environment and an optional ``.env`` file (pydantic-settings).

Only what differs between deployments lives here; everything about the ladder
(deadlines, rounds, time zone) lives in the policy profile.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE = "sqlite:///baoxue.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default=DEFAULT_SQLITE, description="SQLAlchemy URL")
    bot_token: str | None = None
    # the bot's @username, for t.me links printed outside the bot (``baoxue invite create``)
    bot_username: str | None = None
    # where the Bot API is (BOT_API_URL): Telegram's, or a local Bot API server / a test's
    # stand-in; requests go to {BOT_API_URL}/bot<token>/… and files to {BOT_API_URL}/file/bot<token>/…
    bot_api_url: str = "https://api.telegram.org"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    policy: str = "datian"
    encryption_key: str | None = None
    # during a key rotation (baoxue key rotate): the new key, beside the old ENCRYPTION_KEY;
    # new values are encrypted with it, values under either key are read
    new_encryption_key: str | None = None
    # production refuses to start without an encryption key; development generates one
    env: Literal["development", "production"] = Field(default="development", alias="BAOXUE_ENV")
    dev_key_file: Path = Path(".baoxue-dev-key")
    # where the bot's HTTP side listens (/healthz, the webhook); the sandbox ignores HOST
    # and binds to loopback unless given ``--host`` (or SANDBOX_HOST)
    host: str = "127.0.0.1"
    port: int = 8080
    # how often the bot's scheduler acts on due deadlines (TICK_SECONDS; 30–60 s in production)
    tick_seconds: float = Field(default=45.0, ge=1.0, le=3600.0)
    # messages per second the outbox sender sends, all chats together (OUTBOX_RATE);
    # Telegram allows a bot about 30, so more is refused
    outbox_rate: float = Field(default=25.0, gt=0.0, le=30.0)
    # which parts a bot process runs besides answering updates (RUN_SENDER, RUN_SCHEDULER):
    # `baoxue run` runs both unless turned off here, e.g. when `baoxue sender` and
    # `baoxue scheduler` run as processes of their own; `baoxue web` never runs either
    run_sender: bool = True
    run_scheduler: bool = True
    # webhook worker processes `baoxue web` starts (WEB_WORKERS; also `--workers`)
    web_workers: int = Field(default=1, ge=1, le=64)
    # the SQLAlchemy pool of each process on PostgreSQL (DB_POOL_SIZE, DB_MAX_OVERFLOW): a
    # process holds at most their sum; PostgreSQL's max_connections must cover every process
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_max_overflow: int = Field(default=10, ge=0, le=100)
    # an unfinished conversation (a draft with ID and phone numbers) is deleted after this
    # many days untouched (CONVERSATION_TTL_DAYS); the flows that hold such data say so
    conversation_ttl_days: int = Field(default=7, ge=1, le=365)
    # where the error handler reports an exception (OPERATOR_CHAT_ID: a chat or group of the
    # operators the bot is in); the type, the frames and the update id, no personal data
    operator_chat_id: int | None = None
    # an uploaded roster is read in a child process under these hard limits (ROSTER_*);
    # a file over one is refused with a message naming it
    # the officers' console (web/): its public address, where /console's sign-in links point
    # (CONSOLE_URL, e.g. https://bot.example.org/console); unset, the bot offers no console
    console_url: str | None = None
    # the console's cookie-signing secret (CONSOLE_SECRET); unset, it is derived from
    # ENCRYPTION_KEY, so every worker of one deployment agrees without another secret
    console_secret: str | None = None
    roster_max_rows: int = Field(default=5000, ge=1)
    roster_max_columns: int = Field(default=40, ge=3)
    roster_max_cells: int = Field(default=200_000, ge=1)
    roster_max_unpacked_mb: int = Field(default=20, ge=1)
    roster_max_shared_strings_mb: int = Field(default=8, ge=1)
    roster_parse_seconds: float = Field(default=30.0, gt=0.0)
    roster_parse_memory_mb: int = Field(default=512, ge=128)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
