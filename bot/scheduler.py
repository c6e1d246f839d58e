"""The deadline scheduler in the bot's process: an APScheduler job running the tick.

APScheduler only says *when* (every ``TICK_SECONDS``, never two at once in a process);
*what* is due lives in the database and is claimed there (``casework.scheduler``), so a
restart or a second bot process neither loses nor repeats anything. The database layer
is synchronous, so each tick runs in a worker thread (``asyncio.to_thread``) and the bot
keeps answering updates during a long catch-up. Time is ``services.clock``: the sandbox's
clock bar and the tests move it; APScheduler's own real-time interval only paces ticks.

Use: ``DeadlineScheduler(services, every_s=45).start()`` inside the running event loop
(the runner does it in ``post_init``), ``await shutdown()`` when stopping.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.services import Services
from casework import scheduler
from casework.scheduler import TickReport

log = logging.getLogger(__name__)

DEFAULT_EVERY_S = 45.0
JOB_ID = "deadline-tick"


def tick_once(services: Services, *, stop: threading.Event | None = None) -> TickReport:
    """One tick on the services' engine, clock and policy (blocking; call in a thread)."""
    return scheduler.tick(services.engine, services.clock, services.policy, stop=stop,
                          conversation_ttl_days=services.conversation_ttl_days)


class DeadlineScheduler:
    """Runs :func:`tick_once` every ``every_s`` seconds in a worker thread."""

    def __init__(
        self, services: Services, *, every_s: float = DEFAULT_EVERY_S, first_s: float = 5.0
    ) -> None:
        if every_s <= 0:
            raise ValueError("the tick interval must be positive")
        self.services = services
        self.every_s = every_s
        self.first_s = first_s
        self._aps = AsyncIOScheduler()
        self._lock = asyncio.Lock()  # the interval job and run_once never overlap
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    def start(self) -> None:
        """Schedule the job; needs the running event loop."""
        self._stop.clear()
        self._aps.add_job(
            self._job,
            IntervalTrigger(seconds=self.every_s),
            id=JOB_ID,
            name="act on due deadlines",
            next_run_time=datetime.now().astimezone() + timedelta(seconds=self.first_s),
            max_instances=1,  # a slow catch-up tick is not joined by another
            coalesce=True,  # ticks missed meanwhile collapse into one
            misfire_grace_time=None,
            replace_existing=True,
        )
        self._aps.start()
        log.info("deadline tick every %.0f s", self.every_s)

    async def run_once(self) -> TickReport:
        """Tick now (the sandbox after moving its clock; tests); waits for a running tick."""
        async with self._lock:
            return await asyncio.to_thread(tick_once, self.services, stop=self._stop)

    async def _job(self) -> None:
        try:
            await self.run_once()
        except Exception:
            # reported, not swallowed silently; the rows are still due and the next tick
            # takes them again
            log.exception("deadline tick failed; the next tick retries")

    async def shutdown(self) -> None:
        """Stop scheduling, let a running tick finish its batch, then return."""
        self._stop.set()
        if self._aps.running:
            self._aps.shutdown(wait=False)  # done on the loop's next turn
            await asyncio.sleep(0)
        async with self._lock:
            pass
