"""Conversation throughput: the visit flow through the real Application and the fake Bot API,
next to a bare PTB echo handler on the same harness.

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_conversation.py                 # SQLite (temp file)
    .venv/bin/python benchmarks/bench_conversation.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/bench_conversation.py --profile       # where the time goes

Each "step" is one update (a tap or a typed answer) handled end to end: PTB parses it,
our unit of work loads the user and the conversation, validates, writes, commits, and the
bot's replies go over HTTP (in-process ASGI) to the fake. Only ``process_update`` is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, MessageHandler, filters  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.demo import seed_world  # noqa: E402
from bot.services import Services  # noqa: E402
from casework import ladder  # noqa: E402
from casework.clock import FrozenClock  # noqa: E402
from casework.context import Casework  # noqa: E402
from casework.personal import Cipher  # noqa: E402
from casework.policy import load_named  # noqa: E402
from models import db  # noqa: E402
from sandbox.fakebot import FakeTelegram, create_fake_bot_api  # noqa: E402
from sandbox.harness import FAKE_BASE_FILE_URL, FAKE_BASE_URL, ChatUser, fake_bot_request  # noqa: E402

Timings = list[float]


def _timed_delivery(app: Any, timings: Timings) -> Any:
    async def deliver(update: dict[str, Any]) -> None:
        obj = Update.de_json(update, app.bot)
        start = time.perf_counter()
        await app.process_update(obj)
        timings.append(time.perf_counter() - start)

    return deliver


def _prepare_db(url: str | None, users: int) -> tuple[str, Any, Any]:
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = db.make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    clock = FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    policy = load_named("datian")
    with Session(engine, expire_on_commit=False) as session:
        cw = Casework(session, clock, policy)
        world = seed_world(session, cw.today(), students_per_class=max(4, users // 12 + 1))
        teachers = [u for k, u in world.users.items() if k.startswith("teacher") and k[7:].isdigit()]
        pairs = []
        for i in range(users):
            teacher = teachers[i % len(teachers)]
            klass = world.classes[(i % len(teachers))]
            student = world.students_of_class(klass)[i // len(teachers)]
            ladder.report(cw, teacher, ladder.ReportInput(student_id=student.id, reasons=("learning",)))
            pairs.append(teacher)
        session.commit()
    return url, engine, (clock, policy, pairs)


async def bench_visit_flow(url: str | None, users: int) -> tuple[Timings, int]:
    url, engine, (clock, policy, teachers) = _prepare_db(url, users)
    tg = FakeTelegram(now=lambda: clock.now().timestamp())
    api = create_fake_bot_api(tg)
    services = Services(engine=engine, clock=clock, policy=policy)
    app = build_application(
        tg.token, services, base_url=FAKE_BASE_URL, base_file_url=FAKE_BASE_FILE_URL,
        request=fake_bot_request(api), get_updates_request=fake_bot_request(api), updater=False,
    )
    timings: Timings = []
    async with app:
        deliver = _timed_delivery(app, timings)
        # each teacher has several cases (several students per class); one visit each round
        for teacher in teachers:
            user = ChatUser(tg, deliver=deliver, enqueue=False, user_id=teacher.telegram_id,
                            first_name=teacher.display_name, language_code="zh-hans")
            tg.private_chat(user.user)
            await user.send("/visit")
            await user.tap(user.buttons()[0])  # the nearest case
            await user.tap(_first_containing(user, ("Home visit", "家访")))
            await user.send("父母在外务工，由祖母照看")
            await user.tap(_first_containing(user, ("Hesitant", "犹豫")))
            await user.tap(_first_containing(user, ("Opposed", "反对")))
            await user.send("讲解义务教育法，联系资助")
            await user.tap(_first_containing(user, ("Refused", "拒绝")))
            await user.tap(_first_containing(user, ("Skip", "跳过")))
            await user.tap(_first_containing(user, ("Confirm", "确认")))
    engine.dispose()
    return timings, len(teachers)


def _first_containing(user: ChatUser, needles: tuple[str, ...]) -> str:
    for label in user.buttons():
        if any(n in label for n in needles):
            return label
    raise AssertionError(f"none of {needles} in {user.buttons()}")


async def bench_echo(updates: int) -> Timings:
    tg = FakeTelegram()
    api = create_fake_bot_api(tg)
    app = (
        Application.builder().token(tg.token).base_url(FAKE_BASE_URL).base_file_url(FAKE_BASE_FILE_URL)
        .request(fake_bot_request(api)).get_updates_request(fake_bot_request(api)).updater(None).build()
    )

    async def echo(update: Update, _context: Any) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app.add_handler(MessageHandler(filters.TEXT, echo))
    timings: Timings = []
    async with app:
        user = ChatUser(tg, deliver=_timed_delivery(app, timings), enqueue=False)
        for i in range(updates):
            await user.send(f"hello {i}")
    return timings


def _report(name: str, timings: Timings) -> float:
    total = sum(timings)
    rate = len(timings) / total
    q = statistics.quantiles(timings, n=100)
    print(f"{name:<34} {len(timings):>6} steps  {rate:8.1f} steps/s  "
          f"p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--users", type=int, default=300, help="teachers' visits to record")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    db.configure(Cipher.generate_key())
    SQLModel.metadata  # noqa: B018 - tables registered by the imports above

    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    flow, users = asyncio.run(bench_visit_flow(args.db, args.users))
    if profiler:
        profiler.disable()
    echo = asyncio.run(bench_echo(len(flow)))
    backend = "postgresql" if args.db and args.db.startswith("postgresql") else "sqlite"
    print(f"visit flow, {users} users, {backend}")
    flow_rate = _report("visit flow (real Application)", flow)
    echo_rate = _report("bare PTB echo (same harness)", echo)
    print(f"ratio flow/echo: {flow_rate / echo_rate:.2f}  (target on SQLite: >= 0.5)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
