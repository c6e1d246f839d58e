"""What every handler needs, kept in ``application.bot_data["services"]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.documents.tabular import UploadLimits
from casework.clock import Clock
from casework.policy import Policy


@dataclass
class Services:
    engine: Engine
    clock: Clock
    policy: Policy
    bot_username: str = ""
    # limits on reading an uploaded roster (settings ROSTER_*)
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
