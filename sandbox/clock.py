"""The sandbox's clock: real time plus an offset the clock bar moves forward.

Everything in the sandbox — the bot, the scheduler's tick, the outbox sender and the fake
Telegram's message dates — reads this one clock, so "+1 day" makes tomorrow's reminders,
escalations and digests happen in front of you.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class OffsetClock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

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
