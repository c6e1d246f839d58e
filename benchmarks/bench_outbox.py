"""Outbox throughput under Telegram's flood limits, in real time.

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_outbox.py                      # 10,000 prompts, 2,000 teachers
    .venv/bin/python benchmarks/bench_outbox.py --count 2000 --teachers 400
    .venv/bin/python benchmarks/bench_outbox.py --rate 30            # the highest rate allowed
    .venv/bin/python benchmarks/bench_outbox.py --senders 1,2,4      # 1, then 2, then 4 senders on one database
    .venv/bin/python benchmarks/bench_outbox.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_outbox  # wiped

``--count`` teacher prompts (outbox rows, several per teacher, interleaved as a morning's
reminders would be) go through the real sender and PTB's HTTP stack to the in-process fake
Bot API with ``enforce_limits=True``: it answers 429 whenever the bot sends a chat two
messages in one second or more than 30 messages in one second overall, counting its
one-second windows by the real clock. The sender runs in real time (``RealTimer``).

Each sender runs as a process would (``run_forever``, its own claim holder); with
``--senders N`` they all send at once, sharing the pacing through the database
(``bot.outbox_claims``). ``--senders 1,2,4`` runs each configuration on a fresh database.

Printed: achieved messages/s (target: within 5% of ``--rate``), one-second windows over 30
(must be 0), the busiest window, per-chat violations (a chat with two messages in one
second: must be 0), 429s received (must be 0), messages lost (must be 0: every row sent and
every chat holding exactly its rows, in order), duplicates, and the drain time against the
ideal ``count / 30`` s (and against ``count / rate``, the best the configured rate allows).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine  # noqa: E402
from sqlmodel import Session, col, func, select  # noqa: E402

from benchmarks import benchdb  # noqa: E402
from bot.outbox_sender import Limits, OutboxSender, RealTimer  # noqa: E402
from bot.services import Services  # noqa: E402
from casework.clock import SystemClock  # noqa: E402
from casework.i18n import Text  # noqa: E402
from casework.outbox import text_to_json  # noqa: E402
from casework.personal import Cipher, configure_encryption  # noqa: E402
from casework.policy import load_named  # noqa: E402
from models.tables import OutboxMessage, User  # noqa: E402
from sandbox.fakebot import FakeTelegram  # noqa: E402
from sandbox.harness import fake_application_builder  # noqa: E402

FIRST_TELEGRAM_ID = 900_000_000


def prepare(url: str | None, teachers: int, count: int, seed: int) -> tuple[Engine, list[int]]:
    """A migrated database with ``teachers`` teachers and ``count`` pending prompts."""
    engine = benchdb.fresh_engine(url)
    now = datetime.now(UTC)
    rng = random.Random(seed)
    with Session(engine, expire_on_commit=False) as session:
        users = [
            User(telegram_id=FIRST_TELEGRAM_ID + i, display_name=f"教师{i:04d}", role="teacher",
                 scope_kind="classes", language="en" if i % 5 == 0 else "zh_Hans",
                 created_at=now, onboarded_at=now)
            for i in range(teachers)
        ]
        session.add_all(users)
        session.flush()
        # several prompts per teacher, queued interleaved: each round reaches every teacher
        order = [u for _ in range(count // teachers + 1) for u in rng.sample(users, len(users))]
        # Text, not _(): the benchmark's words are not for the catalogs
        prompt = Text("Attendance check: please confirm today's roll call for your class.")
        seq: Counter[int] = Counter()
        for user in order[:count]:
            uid = user.id or 0
            session.add(OutboxMessage(
                recipient_id=uid, kind="attendance_prompt",
                payload={"text": text_to_json(prompt),
                         "lines": [{"msgid": "#{n}", "params": {"n": seq[uid]}}],
                         "buttons": [[{"text": {"msgid": "Yes", "params": {}}, "data": "att:0:1"}]]},
                not_before=now, created_at=now,
            ))
            seq[uid] += 1
        session.commit()
        telegram_ids = [u.telegram_id or 0 for u in users]
    return engine, telegram_ids


async def run(args: argparse.Namespace, senders_n: int) -> int:
    configure_encryption(Cipher.generate_key())
    t_setup = time.perf_counter()
    engine, telegram_ids = prepare(args.db, args.teachers, args.count, args.seed)
    tg = FakeTelegram(enforce_limits=True)  # windows by time.time(): the real clock
    for tid in telegram_ids:
        tg.private_chat(tg.add_user(f"T{tid}", user_id=tid))
    services = Services(engine=engine, clock=SystemClock(), policy=load_named("datian"))
    application = fake_application_builder(tg).build()
    limits = Limits(per_second=args.rate)
    print(f"setup: {args.count} rows to {args.teachers} teachers in "
          f"{time.perf_counter() - t_setup:.1f} s; sending at {limits.per_second:g}/s "
          f"(Telegram: 30/s, 1/s per chat) on {engine.dialect.name}")

    async with application:
        # each sender as a process would run it: its own claim holder, all sending
        senders = [
            OutboxSender(application.bot, services, limits=limits, timer=RealTimer())
            for _ in range(senders_n)
        ]
        stop = asyncio.Event()
        start = time.monotonic()

        def sent_now() -> int:
            return sum(s.sent for s in senders)

        async def progress() -> None:
            while True:
                await asyncio.sleep(args.progress)
                elapsed = time.monotonic() - start
                print(f"  {elapsed:6.0f} s  sent {sent_now():6d}  ({sent_now() / elapsed:5.1f}/s)"
                      f"  429s {tg.stats.too_many_requests}", flush=True)

        reporter = asyncio.create_task(progress())
        tasks = [asyncio.create_task(s.run_forever(stop)) for s in senders]
        try:
            while sent_now() < args.count and not any(t.done() for t in tasks):
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - start
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            reporter.cancel()
        sent = sent_now()
        print(f"senders: {senders_n}; rows sent by each: {[s.sent for s in senders]}; slots given "
              f"up after a late wake: {sum(s.missed_slots for s in senders)}")

    with Session(engine) as session:
        by_status = dict(session.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))).all())
    received = sum(len(tg.bot_messages(tid)) for tid in telegram_ids)
    out_of_order = 0
    for tid in telegram_ids:
        numbers = [int(m.content.rsplit("#", 1)[1]) for m in tg.bot_messages(tid)]
        out_of_order += numbers != sorted(numbers) or len(set(numbers)) != len(numbers)
    windows = tg.stats.sends_per_window
    over = sum(1 for n in windows.values() if n > 30)
    chat_violations = sum(1 for n in tg.stats.chat_sends_per_window.values() if n > 1)
    rate = sent / elapsed
    rate_ok = abs(rate - limits.per_second) <= 0.05 * limits.per_second
    lost = args.count - by_status.get("sent", 0)
    duplicates = received - by_status.get("sent", 0)
    ideal = args.count / 30
    best = args.count / limits.per_second

    print()
    print(f"messages sent           {sent} of {args.count} (statuses: {by_status})")
    print(f"drain time              {elapsed:.1f} s  (ideal {args.count}/30 = {ideal:.1f} s: "
          f"{elapsed / ideal:.2f}×; at {limits.per_second:g}/s the floor is {best:.1f} s: "
          f"{elapsed / best:.2f}×)")
    print(f"achieved rate           {rate:.2f} messages/s ({rate / limits.per_second:.1%} of "
          f"{limits.per_second:g}: {'within' if rate_ok else 'NOT within'} 5%)")
    print(f"windows over 30/s       {over}  (busiest second: {tg.stats.max_sends_per_window}; "
          f"seconds with sends: {len(windows)})")
    print(f"busiest chat-second     {tg.stats.max_chat_sends_per_window} (limit 1); "
          f"per-chat violations {chat_violations}")
    print(f"429s received           {tg.stats.too_many_requests} "
          f"(enforced by the fake: {tg.stats.enforced_429s})")
    print(f"messages lost           {lost}")
    print(f"duplicates              {duplicates}")
    print(f"chats out of order      {out_of_order}")
    ok = (over == 0 and lost == 0 and duplicates == 0 and out_of_order == 0
          and chat_violations == 0 and tg.stats.too_many_requests == 0 and rate_ok)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="outbox rows (prompts)")
    parser.add_argument("--teachers", type=int, default=2_000, help="distinct recipients")
    parser.add_argument("--rate", type=float, default=25.0, help="sender's global rate (≤ 30)")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--senders", default="1",
                        help="senders side by side on one database; a list (1,2,4) runs each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--progress", type=float, default=30.0, help="seconds between reports")
    parser.add_argument("--force", action="store_true", help="wipe a PostgreSQL database not named bench*")
    args = parser.parse_args()
    benchdb.refuse_unless_bench(args.db, args.force)
    failed = 0
    for n in [int(x) for x in str(args.senders).split(",")]:
        print(f"=== {n} sender(s) ===")
        failed |= asyncio.run(run(args, n))
        print()
    sys.exit(failed)


if __name__ == "__main__":
    main()
