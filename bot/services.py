"""What every handler needs, kept in ``application.bot_data["services"]``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from casework.clock import Clock
from casework.policy import Policy


@dataclass
class Services:
    engine: Engine
    clock: Clock
    policy: Policy
    bot_username: str = ""
