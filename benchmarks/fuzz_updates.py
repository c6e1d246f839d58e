"""The large fuzz run: 20,000 random updates (``sandbox/fuzz.py``) through the real bot on
the demo county, with its numbers.

Run on demand (not a test; ``tests/test_fuzz.py`` is the bounded run in the suite):

    .venv/bin/python benchmarks/fuzz_updates.py                        # SQLite (temp file)
    .venv/bin/python benchmarks/fuzz_updates.py --updates 5000 --seed 3
    createdb -h 127.0.0.1 -U postgres bench_fuzz                       # once; its schema is dropped!
    .venv/bin/python benchmarks/fuzz_updates.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_fuzz

Prints the updates sent (by kind), the exceptions that reached the error handler, the
private updates left unanswered, the IDs and phone numbers shown out of scope, the rate,
and what the crowd changed in the database (cases, visits, events); each finding is listed
with the number of the update that caused it, to replay with the same seed. Exits 1 if
anything was found.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import warnings
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from benchmarks import benchdb  # noqa: E402
from bot.app import build_application  # noqa: E402
from bot.services import Services  # noqa: E402
from casework.clock import FrozenClock  # noqa: E402
from casework.personal import Cipher, configure_encryption  # noqa: E402
from casework.policy import load_named  # noqa: E402
from demo.county import seed_demo  # noqa: E402
from models.tables import AuditEvent, Case, CaseEvent, ConversationState, User, Visit  # noqa: E402
from sandbox.fakebot import FakeTelegram, create_fake_bot_api  # noqa: E402
from sandbox.fuzz import Crowd, FuzzStats  # noqa: E402
from sandbox.harness import FAKE_BASE_FILE_URL, FAKE_BASE_URL, fake_bot_request  # noqa: E402

COUNTED = {"users": User, "cases": Case, "visits": Visit, "case events": CaseEvent, "audit records": AuditEvent,
           "open conversations": ConversationState}


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {name: s.exec(select(func.count()).select_from(model)).one() for name, model in COUNTED.items()}


async def run(url: str, updates: int, seed: int) -> tuple[FuzzStats, dict[str, int], dict[str, int]]:
    engine = benchdb.fresh_engine(url)
    clock = FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    policy = load_named("datian")
    with Session(engine, expire_on_commit=False) as session:
        seed_demo(session, clock, policy)
        session.commit()
    before = _counts(engine)
    tg = FakeTelegram(now=lambda: clock.now().timestamp())
    api = create_fake_bot_api(tg)
    app = build_application(tg.token, Services(engine=engine, clock=clock, policy=policy),
                            base_url=FAKE_BASE_URL, base_file_url=FAKE_BASE_FILE_URL,
                            request=fake_bot_request(api), get_updates_request=fake_bot_request(api),
                            updater=False)
    async with app:
        crowd = Crowd(tg, app, engine, seed=seed, clock=clock)
        stats = await crowd.run(updates, clock_every=400)
    after = _counts(engine)
    engine.dispose()
    return stats, before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--force", action="store_true", help="wipe a PostgreSQL database not named bench*")
    args = parser.parse_args()
    benchdb.refuse_unless_bench(args.db, args.force)
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/fuzz.db"
    configure_encryption(Cipher.generate_key())
    # the bot logs every refusal it handles and the crowd makes thousands; findings are
    # counted from the error handler, not read from the log
    logging.basicConfig(level=logging.CRITICAL)
    warnings.simplefilter("ignore")
    stats, before, after = asyncio.run(run(url, args.updates, args.seed))
    backend = make_url(url).get_backend_name()
    print(f"fuzz: {args.updates} updates, seed {args.seed}, {backend}; load average {os.getloadavg()[0]:.2f}")
    print("  by kind: " + ", ".join(f"{k} {n}" for k, n in stats.kinds.most_common()))
    print(f"  updates {stats.updates} (private {stats.private})")
    print(f"  exceptions {len(stats.errors)}")
    print(f"  unanswered {len(stats.unanswered)}")
    print(f"  leaks {len(stats.leaks)}")
    print(f"  {stats.seconds:.1f} s, {stats.per_second:.0f} updates/s; in the bot (process_update) "
          f"{stats.bot_seconds:.1f} s, {stats.updates / max(stats.bot_seconds, 1e-9):.0f} updates/s")
    print("  the crowd's work: " + ", ".join(f"{k} {before[k]} → {after[k]}" for k in COUNTED))
    for title, found in (("exceptions", stats.errors), ("unanswered", stats.unanswered), ("leaks", stats.leaks)):
        for line in found[:30]:
            print(f"  {title}: {line}")
    sys.exit(1 if stats.errors or stats.unanswered or stats.leaks else 0)


if __name__ == "__main__":
    main()
