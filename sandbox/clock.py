"""The sandbox's clock: real time plus an offset the clock bar moves forward, starting now
or at the instant SANDBOX_START names.

Everything in the sandbox — the bot, the scheduler's tick, the outbox sender and the fake
Telegram's message dates — reads this one clock, so "+1 day" makes tomorrow's reminders,
escalations and digests happen in front of you.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.runtime import StartupError
from casework.policy import Policy


class OffsetClock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @classmethod
    def starting_at(cls, when: datetime) -> OffsetClock:
        """A clock that reads ``when`` now and runs on from there (SANDBOX_START)."""
        return cls(when - datetime.now(UTC))

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    def advance_to(self, when: datetime) -> datetime:
        return self.advance(max(timedelta(0), when - self.now()))

    @property
    def offset(self) -> timedelta:
        return self._offset


class BadStartTime(StartupError):
    """SANDBOX_START is not a date and time."""


def start_time(value: str, policy: Policy) -> datetime:
    """SANDBOX_START (``2026-09-24T08:00`` or ``2026-09-24``) as an instant; a time without
    a zone is the county's local time (the policy's time zone)."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadStartTime(
            f"SANDBOX_START={value!r} is not a date and time; write it like 2026-09-24T08:00"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=policy.tz)
