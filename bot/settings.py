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
    webhook_url: str | None = None
    webhook_secret: str | None = None
    policy: str = "datian"
    encryption_key: str | None = None
    # production refuses to start without an encryption key; development generates one
    env: Literal["development", "production"] = Field(default="development", alias="BAOXUE_ENV")
    dev_key_file: Path = Path(".baoxue-dev-key")
    host: str = "127.0.0.1"
    port: int = 8080


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
