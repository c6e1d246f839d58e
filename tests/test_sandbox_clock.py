"""The sandbox clock's "+1 day" (issue #11): each deadline on the way is acted on at its
own time, in order, and the day ends where it should — not everything at once at the end.
The page's clock API with an injected clock and an injected tick; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sandbox.clock import OffsetClock
from sandbox.fakebot import FakeTelegram
from sandbox.web import SandboxState, mount
from tests.conftest import local


def test_plus_one_day_ticks_at_each_deadline_in_order() -> None:
    start = local(2026, 9, 30, 9, 0)
    clock = OffsetClock.starting_at(start)
    deadlines = [local(2026, 9, 30, 17, 30), local(2026, 10, 1, 8, 0)]
    ticks: list[datetime] = []

    def next_deadline() -> datetime | None:
        now = clock.now()
        return next((d for d in deadlines if d > now), None)

    async def tick() -> None:
        ticks.append(clock.now())

    app = FastAPI()
    mount(app, SandboxState(FakeTelegram(), clock, on_clock_moved=tick,
                            next_deadline=next_deadline, personas=lambda: []))
    moved = TestClient(app).post("/sandbox/api/clock", data={"step": "day"})
    assert moved.status_code == 200
    # a tick just after 17:30, one just after 08:00 the next day, one at the day's end
    assert len(ticks) == 3
    assert deadlines[0] < ticks[0] < deadlines[0] + timedelta(seconds=5)
    assert deadlines[1] < ticks[1] < deadlines[1] + timedelta(seconds=5)
    assert start + timedelta(days=1) <= ticks[2] < start + timedelta(days=1, seconds=5)
