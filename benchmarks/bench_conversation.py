"""Conversation throughput: the visit flow through the real Application and the fake Bot API,
next to a bare PTB echo handler on the same harness.

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_conversation.py                 # SQLite (temp file)
    createdb -h 127.0.0.1 -U postgres bench_conv                      # once; its schema is dropped!
    .venv/bin/python benchmarks/bench_conversation.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_conv
    .venv/bin/python benchmarks/bench_conversation.py --profile       # where the time goes

Each "step" is one update (a tap or a typed answer) handled end to end: PTB parses it,
our unit of work loads the user and the conversation, validates, writes, commits, and the
bot's replies go over HTTP (in-process ASGI) to the fake. Only ``process_update`` is timed.

Three workloads run interleaved, round by round, so a machine that slows down for a while
slows all of them alike; ratios are given overall and as the median of the rounds:

- the visit flow: each teacher records a home visit with the defaults (10 steps);
- a bare PTB echo handler: one sendMessage per update, nothing else;
- the echo plus one durable turn: the echo, after reading the user and reading and writing
  a conversation row in one committed transaction, on the same database — the least any
  flow whose state lives in the database (DESIGN §5) can cost per step.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import defer  # noqa: E402
from sqlmodel import Session, SQLModel, select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, MessageHandler, filters  # noqa: E402

from benchmarks import benchdb  # noqa: E402
from bot.app import build_application  # noqa: E402
from bot.services import Services  # noqa: E402
from casework import ladder  # noqa: E402
from casework.clock import FrozenClock  # noqa: E402
from casework.context import Casework  # noqa: E402
from casework.personal import Cipher, configure_encryption  # noqa: E402
from casework.policy import load_named  # noqa: E402
from demo.county import seed_world  # noqa: E402
from models import db  # noqa: E402
from models.tables import ConversationState, User  # noqa: E402
from sandbox.fakebot import FakeTelegram, create_fake_bot_api  # noqa: E402
from sandbox.harness import FAKE_BASE_FILE_URL, FAKE_BASE_URL, ChatUser, fake_bot_request  # noqa: E402


class Timings(list[float]):
    """Wall-clock seconds per step, and beside them the CPU seconds of this process: on a
    shared machine the CPU rates are the comparable ones (everything runs in-process); and
    the SQL statements each step ran (the flow's only)."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []
        self.statements: list[int] = []
        self.turn_cpu: list[float] = []  # of ``cpu``, in the turn's worker thread


STATEMENTS = [0]  # SQL statements executed on the flow's engine so far
TURN_CPU = [0.0]  # CPU seconds the flow's units of work took in their worker threads so far


class _MeasuredWorkers(ThreadPoolExecutor):
    """The turns' worker threads, measured: each unit of work's thread CPU time is added
    to ``TURN_CPU``, and with a profiler it runs under its own ``cProfile`` (a profiler
    sees only the thread that enabled it, so the main thread's would miss the turn)."""

    def __init__(self, workers: int, profiler: cProfile.Profile | None) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="turn")
        self.profiler = profiler
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def measured() -> Any:
            start = time.thread_time()
            if self.profiler is not None:
                self.profiler.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.profiler is not None:
                    self.profiler.disable()
                with self._lock:
                    TURN_CPU[0] += time.thread_time() - start

        return super().submit(measured)


def _count_statements(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _counted(*_args: Any) -> None:
        STATEMENTS[0] += 1


def _timed_delivery(app: Any, timings: Timings, profiler: cProfile.Profile | None = None) -> Any:
    async def deliver(update: dict[str, Any]) -> None:
        obj = Update.de_json(update, app.bot)
        if profiler is not None:
            profiler.enable()
        start, cpu, statements, turn = time.perf_counter(), time.process_time(), STATEMENTS[0], TURN_CPU[0]
        await app.process_update(obj)
        timings.append(time.perf_counter() - start)
        timings.cpu.append(time.process_time() - cpu)
        timings.statements.append(STATEMENTS[0] - statements)
        timings.turn_cpu.append(TURN_CPU[0] - turn)
        if profiler is not None:
            profiler.disable()

    return deliver


def _prepare_db(url: str | None, users: int) -> tuple[str, Any, Any]:
    engine = benchdb.fresh_engine(url)
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
    return engine.url.render_as_string(hide_password=False), engine, (clock, policy, pairs)


async def run(url: str | None, users: int, rounds: int, profiler: cProfile.Profile | None,
              turn_profiler: cProfile.Profile | None = None) -> Results:
    """The visit flow, the echo and the durable echo, interleaved in ``rounds`` (a slice of
    the teachers each): a machine that slows down for a while slows all three alike."""
    url, engine, (clock, policy, teachers) = _prepare_db(url, users)
    _count_statements(engine)
    tg = FakeTelegram(now=lambda: clock.now().timestamp())
    api = create_fake_bot_api(tg)
    services = Services(engine=engine, clock=clock, policy=policy)
    # as many workers as Services.workers() would start; the bench sends one update at a
    # time, so one profiler is never enabled in two threads at once
    default = services.workers()
    services._workers = _MeasuredWorkers(default._max_workers, turn_profiler)
    default.shutdown()
    app = build_application(
        tg.token, services, base_url=FAKE_BASE_URL, base_file_url=FAKE_BASE_FILE_URL,
        request=fake_bot_request(api), get_updates_request=fake_bot_request(api), updater=False,
    )
    results = Results(url=url, users=len(teachers))
    echo_app, echo_user = _echo_application(None, results.echo)
    floor_app, floor_user = _echo_application(url, results.floor)
    async with app, echo_app, floor_app:
        deliver = _timed_delivery(app, results.flow, profiler)
        per_round = -(-len(teachers) // rounds)
        for first in range(0, len(teachers), per_round):
            marks = (len(results.flow), len(results.echo), len(results.floor))
            for teacher in teachers[first : first + per_round]:
                await _visit(tg, deliver, teacher)
            steps = len(results.flow) - marks[0]
            for i in range(steps):
                await echo_user.send(f"hello {i}")
            for i in range(steps):
                await floor_user.send(f"hello {i}")
            results.rounds.append(marks)
    services.close()
    engine.dispose()
    return results


async def _visit(tg: FakeTelegram, deliver: Any, teacher: User) -> None:
    """One teacher records a home visit on their nearest case, defaults accepted: 10 steps."""
    user = ChatUser(tg, deliver=deliver, enqueue=False, user_id=teacher.telegram_id,
                    first_name=teacher.display_name, language_code="zh-hans")
    tg.private_chat(user.user)
    await user.send("/visit")
    await user.tap(user.buttons()[0])  # the nearest case
    await user.tap(_first_containing(user, ("Home visit", "家访")))
    await user.send("父母在外务工，由祖母照看")
    await user.tap(_first_containing(user, ("Hesitant", "犹豫")))
    await user.tap(_first_containing(user, ("Unwilling", "不愿", "Opposed", "反对")))
    await user.send("讲解义务教育法，联系资助")
    await user.tap(_first_containing(user, ("Refused", "拒绝")))
    await user.tap(_first_containing(user, ("Skip", "跳过")))
    await user.tap(_first_containing(user, ("Confirm", "确认")))


def _first_containing(user: ChatUser, needles: tuple[str, ...]) -> str:
    for label in user.buttons():
        if any(n in label for n in needles):
            return label
    raise AssertionError(f"none of {needles} in {user.buttons()}")


def _echo_application(durable_url: str | None, timings: Timings) -> tuple[Any, ChatUser]:
    """A bare PTB echo handler. With ``durable_url``: the same echo, plus the least a turn
    whose state lives in the database must do — open a session, read the user, read and
    write their conversation row, commit — on the benchmark's database (the floor under
    any flow that keeps its state as DESIGN §5 says)."""
    tg = FakeTelegram()
    api = create_fake_bot_api(tg)
    app = (
        Application.builder().token(tg.token).base_url(FAKE_BASE_URL).base_file_url(FAKE_BASE_FILE_URL)
        .request(fake_bot_request(api)).get_updates_request(fake_bot_request(api)).updater(None).build()
    )
    engine = db.make_engine(durable_url) if durable_url else None
    conv_user = _durable_fixture(engine) if engine is not None else None

    async def echo(update: Update, _context: Any) -> None:
        assert update.effective_message is not None
        if engine is not None:
            with Session(engine, expire_on_commit=False) as session:
                user = session.exec(
                    select(User).options(defer(User.phone)).where(User.telegram_id == conv_user)  # type: ignore[arg-type]
                ).one()
                conv = session.exec(
                    select(ConversationState).where(ConversationState.user_id == user.id).with_for_update()
                ).one()
                conv.draft = {**conv.draft, "n": update.update_id}
                conv.version += 1
                session.add(conv)
                session.commit()
        await update.effective_message.reply_text(update.effective_message.text or "")

    app.add_handler(MessageHandler(filters.TEXT, echo))
    user = ChatUser(tg, deliver=_timed_delivery(app, timings), enqueue=False)
    return app, user


def _durable_fixture(engine: Any) -> int:
    """A user with a conversation row, for the durable echo; returns their Telegram id."""
    telegram_id = 990_000_001
    now = datetime(2026, 11, 23, 1, 0, tzinfo=ZoneInfo("UTC"))
    with Session(engine) as session:
        if session.exec(select(User).where(User.telegram_id == telegram_id)).first() is None:
            user = User(telegram_id=telegram_id, display_name="回声", role="teacher",
                        scope_kind="classes", created_at=now)
            session.add(user)
            session.flush()
            session.add(ConversationState(user_id=user.id or 0, flow="visit", step="fam",
                                          draft={}, updated_at=now))
            session.commit()
    return telegram_id


@dataclass
class Results:
    url: str
    users: int
    flow: Timings = field(default_factory=lambda: Timings())
    echo: Timings = field(default_factory=lambda: Timings())
    floor: Timings = field(default_factory=lambda: Timings())
    rounds: list[tuple[int, int, int]] = field(default_factory=list)

    def round_ratios(self, a: str, b: str) -> list[float]:
        """Per round, rate(a) / rate(b) on CPU time."""
        series = {"flow": self.flow.cpu, "echo": self.echo.cpu, "floor": self.floor.cpu}
        index = {"flow": 0, "echo": 1, "floor": 2}
        bounds = [*self.rounds, (len(self.flow), len(self.echo), len(self.floor))]
        ratios = []
        for start, stop in zip(bounds, bounds[1:], strict=False):
            xa = series[a][start[index[a]] : stop[index[a]]]
            xb = series[b][start[index[b]] : stop[index[b]]]
            if xa and xb:
                ratios.append((len(xa) / sum(xa)) / (len(xb) / sum(xb)))
        return ratios


def _report(name: str, timings: Timings) -> tuple[float, float]:
    rate = len(timings) / sum(timings)
    cpu_rate = len(timings) / max(sum(timings.cpu), 1e-9)
    q = statistics.quantiles(timings, n=100)
    print(f"{name:<40} {len(timings):>6} steps  {rate:8.1f} steps/s  "
          f"p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms  "
          f"{cpu_rate:8.1f} steps/CPU-s")
    return rate, cpu_rate


STEP_NAMES = ("/visit", "case", "method", "family (typed)", "guardian", "student",
              "measures (typed)", "result", "evidence: skip", "confirm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--users", type=int, default=300, help="teachers' visits to record")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the flow")
    parser.add_argument("--force", action="store_true", help="wipe a PostgreSQL database not named bench*")
    args = parser.parse_args()
    benchdb.refuse_unless_bench(args.db, args.force)
    configure_encryption(Cipher.generate_key())
    SQLModel.metadata  # noqa: B018 - tables registered by the imports above

    profiler = cProfile.Profile() if args.profile else None
    turn_profiler = cProfile.Profile() if args.profile else None
    res = asyncio.run(run(args.db, args.users, args.rounds, profiler, turn_profiler))
    backend = "postgresql" if res.url.startswith("postgresql") else "sqlite"
    print(f"visit flow, {res.users} users ({len(res.flow)} steps), {backend}, {len(res.rounds)} "
          f"interleaved rounds; load average {os.getloadavg()[0]:.2f}")
    flow_rate, flow_cpu = _report("visit flow (real Application)", res.flow)
    echo_rate, echo_cpu = _report("bare PTB echo (same harness)", res.echo)
    floor_rate, floor_cpu = _report("echo + one durable turn (the floor)", res.floor)
    print("per step of the flow (mean ms):  " + "  ".join(
        f"{name} {statistics.mean(res.flow[i::len(STEP_NAMES)]) * 1000:.2f}"
        for i, name in enumerate(STEP_NAMES)))
    print(f"flow: {1000 * sum(res.flow.cpu) / len(res.flow):.2f} ms CPU per step; SQL statements "
          f"per step {statistics.mean(res.flow.statements):.1f} (" + "  ".join(
              f"{name} {statistics.mean(res.flow.statements[i::len(STEP_NAMES)]):.1f}"
              for i, name in enumerate(STEP_NAMES)) + ")")
    print(f"of which the unit of work (worker thread): {1000 * sum(res.flow.turn_cpu) / len(res.flow):.2f} ms "
          "CPU per step (" + "  ".join(
              f"{name} {1000 * statistics.mean(res.flow.turn_cpu[i::len(STEP_NAMES)]):.2f}"
              for i, name in enumerate(STEP_NAMES)) + ")")
    outside = [c - t for c, t in zip(res.flow.cpu, res.flow.turn_cpu, strict=True)]
    print(f"and outside it (PTB, the Bot API calls, the fake): {1000 * statistics.mean(outside):.2f} ms CPU "
          "per step (" + "  ".join(f"{name} {1000 * statistics.mean(outside[i::len(STEP_NAMES)]):.2f}"
                                   for i, name in enumerate(STEP_NAMES)) + f"); the echo: "
          f"{1000 * statistics.mean(res.echo.cpu):.2f} ms CPU per step")
    flow_echo = statistics.median(res.round_ratios("flow", "echo"))
    floor_echo = statistics.median(res.round_ratios("floor", "echo"))
    flow_floor = statistics.median(res.round_ratios("flow", "floor"))
    print(f"ratio flow/echo: {flow_rate / echo_rate:.2f} overall, {flow_echo:.2f} median of rounds "
          f"(CPU)  (target on SQLite: >= 0.3, issue #13)")
    print(f"ratio floor/echo: {floor_rate / echo_rate:.2f} overall, {floor_echo:.2f} median of rounds; "
          f"flow/floor: {flow_floor:.2f} median of rounds")
    if profiler and turn_profiler:
        print("(profiled: the flow ran under cProfile, so its rates above are not comparable)")
        print("--- the event loop: PTB, the handlers, the Bot API calls (and the in-process fake)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        print("--- the units of work, in the worker thread: load, the turn, commit")
        pstats.Stats(turn_profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
