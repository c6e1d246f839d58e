"""Time, injected. Nothing in the domain calls ``datetime.now()`` directly.

The database keeps aware datetimes in UTC (SQLModel's ``UTCDateTime``: ``timestamptz`` on
PostgreSQL, UTC text on SQLite); the policy's time zone is applied only where a local
date or time of day matters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to: tests and the sandbox's clock bar."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


def to_db(when: datetime) -> datetime:
    """Aware datetime -> aware UTC for storage; a naive one is a bug and is refused."""
    if when.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return when.astimezone(UTC)


def from_db(when: datetime) -> datetime:
    """A stored datetime as aware UTC (a naive one is taken as UTC)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
