"""A seeded, bounded fuzz run through the real bot (``sandbox/fuzz.py``): a few thousand
random updates from the demo county's users and strangers, in private chats and groups.

Zero exceptions reach the error handler, every private update is answered, and no ID or
phone number is shown in clear outside the scope of the child it belongs to. A failure
names the update (its number, kind, chat and content) so it can be replayed with the seed.
"""

from __future__ import annotations

import os

from sqlmodel import Session

from bot.demo import seed_demo
from sandbox.fuzz import Crowd
from tests.conftest import BotHarness

UPDATES = int(os.environ.get("FUZZ_UPDATES", "2000"))
SEED = int(os.environ.get("FUZZ_SEED", "10"))


async def test_random_updates_raise_nothing_leave_nothing_unanswered_and_leak_nothing(engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as session:
        seed_demo(session, clock, policy)
        session.commit()
    harness = BotHarness(engine, clock, policy)
    async with harness.app:
        crowd = Crowd(harness.tg, harness.app, engine, seed=SEED, clock=clock)
        stats = await crowd.run(UPDATES, clock_every=400)
    print(stats.summary(), dict(stats.kinds))
    assert stats.updates == UPDATES
    assert stats.errors == [], "\n".join(stats.errors)
    assert stats.unanswered == [], "\n".join(stats.unanswered)
    assert stats.leaks == [], "\n".join(stats.leaks)
    # the crowd got somewhere: into flows and onto the buttons they offer
    assert stats.kinds["tap"] > UPDATES // 5 and stats.kinds["forged"] > 0 and stats.kinds["group"] > 0
