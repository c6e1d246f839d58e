"""Updates of different people are handled at once; one person's, one after another.

Each turn's unit of work runs in a worker thread (``handlers.turns``), so a slow turn
blocks nobody else, provided PTB hands the next update over without waiting for the
last one to finish (its default, ``concurrent_updates(False)``, waits). This processor
lets updates run concurrently, except that updates of the same person (the same
Telegram user; the chat when there is no user) wait for each other in the order they
arrived: their conversation is one row, and a tap must not overtake the text typed
before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# updates being handled at once, all people together; the database work among them is
# bounded again by the services' worker threads (the connection pool)
MAX_CONCURRENT_UPDATES = 256


def person_of(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerPersonOrder(BaseUpdateProcessor):
    """Concurrent across people, in arrival order for each person."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        person = person_of(update)
        if person is None:
            await coroutine
            return
        # asyncio.Lock wakes its waiters first come, first served, and PTB starts the
        # tasks in the order the updates arrived: the person's order is kept
        lock = self._locks.setdefault(person, asyncio.Lock())
        self._queued[person] = self._queued.get(person, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._queued[person] -= 1
            if not self._queued[person]:
                del self._queued[person], self._locks[person]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
