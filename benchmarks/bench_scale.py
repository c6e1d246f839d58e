"""Scale-out: the visit flow posted to 1, 2 and 4 webhook workers on one PostgreSQL.

Run on demand (not a test); it wipes the database (named bench…):

    createdb -h 127.0.0.1 -U postgres bench_scale
    .venv/bin/python benchmarks/bench_scale.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale
    .venv/bin/python benchmarks/bench_scale.py --db … --workers 1,2,4 --users 300 --concurrency 24
    .venv/bin/python benchmarks/bench_scale.py --db … --redeliver     # each update also to another worker

For each configuration, on a freshly seeded database (one open case per teacher's visit):

- a fake Bot API serves HTTP on 127.0.0.1 (``sandbox.fakebot``, ``enforce_limits=True``:
  429 for a second message to a chat within a second or more than 30 a second in all);
- N webhook workers (``baoxue web`` processes, one uvicorn worker each, on ports of their
  own: what a proxy in front of ``--workers N`` spreads the load over), and two outbox
  senders (``baoxue sender``), all real processes pointed at the fake by ``BOT_API_URL``;
- the load generator plays ``--users`` teachers, ``--concurrency`` at once, each recording a
  home visit (10 steps: taps and typed answers), every update POSTed with the secret header
  to a worker in turn; with ``--redeliver`` each update is POSTed to a second worker at the
  same time, as Telegram does when it thinks a delivery failed. Between steps a teacher
  reads for ``--think`` ± ``--jitter`` seconds (never under a second: Telegram allows a bot
  one message a second to a chat, and the fake refuses a faster answer with a 429), and the
  first ones open the bot within one such pause: people do not act in step. ``--jitter 0`` puts all of them in step (each
  step of 24 teachers lands in the same instant), the worst case for the latency's tail.

Printed per configuration: steps/s, p50/p99 turn latency (the POST until its answer; the
bot's replies are sent before it), p99 per step of the visit, worker CPU per step (from /proc), outbox messages
duplicated and lost (after the senders drained the outbox), apology messages, and the
domain rows (one visit per teacher, no visit conversation left open).
Targets: 0 duplicated, 0 lost, 0 apologies; ≤ 4 ms of worker CPU per step; p99 ≤ 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session, col  # noqa: E402

from benchmarks import benchdb  # noqa: E402
from bot.webhook import SECRET_HEADER, WEBHOOK_PATH  # noqa: E402
from casework import kinds as _kinds  # noqa: E402,F401  (every deadline kind)
from casework import ladder  # noqa: E402
from casework.context import Casework  # noqa: E402
from casework.i18n import Text  # noqa: E402
from casework.personal import Cipher, configure_encryption  # noqa: E402
from casework.policy import load_named  # noqa: E402
from demo.county import seed_world  # noqa: E402
from models.tables import (  # noqa: E402
    ConversationState,
    OutboxMessage,
    SchoolClass,
    TeacherClass,
    User,
    Visit,
)
from sandbox.fakebot import FakeTelegram, create_fake_bot_api  # noqa: E402
from sandbox.harness import ChatUser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BAOXUE = str(Path(sys.executable).with_name("baoxue"))
SECRET = "bench_scale_secret_0123456789_abcdefghij"
APOLOGY = "Sorry, something went wrong on our side. Nothing was lost; please try again, or send /menu."
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


@dataclass
class Outcome:
    workers: int
    redeliver: bool
    steps: int = 0
    posts: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_step: dict[int, list[float]] = field(default_factory=dict)  # step number → latencies
    cpu: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    retried: int = 0  # POSTs sent again after a transport error, as Telegram would


FIRST_TEACHER = 930_000_000


def prepare(url: str, users: int) -> tuple[str, Any, list[User]]:
    """A wiped, migrated, seeded database: ``users`` teachers, each with a class of their own
    holding one child just reported (their one case to visit), all distinct people."""
    from datetime import UTC, datetime

    from casework.clock import SystemClock

    engine = benchdb.fresh_engine(url)
    clock, policy = SystemClock(), load_named("datian")
    with Session(engine, expire_on_commit=False) as session:
        cw = Casework(session, clock, policy)
        world = seed_world(session, cw.today(), students_per_class=users // 12 + 2)
        now = datetime.now(UTC)
        teachers = []
        base = world.classes[0]
        for i, student in enumerate(world.students[:users]):
            klass = SchoolClass(school_id=base.school_id, grade=base.grade, section=100 + i,
                                school_year=base.school_year)
            session.add(klass)
            session.flush()
            student.class_id = klass.id
            teacher = User(telegram_id=FIRST_TEACHER + i, display_name=f"测试教师{i:03d}",
                           role="teacher", scope_kind="classes", created_at=now, onboarded_at=now)
            session.add_all([student, teacher])
            session.flush()
            session.add(TeacherClass(user_id=teacher.id or 0, class_id=klass.id or 0))
            session.flush()
            ladder.report(cw, teacher, ladder.ReportInput(student_id=student.id or 0, reasons=("learning",)))
            teachers.append(teacher)
        session.commit()
    return engine.url.render_as_string(hide_password=False), engine, teachers


def serve_fake(tg: FakeTelegram, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(create_fake_bot_api(tg), host="127.0.0.1", port=port,
                                           log_level="warning", log_config=None))
    threading.Thread(target=server.run, name="fake-bot-api", daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def start(role: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([BAOXUE, *role], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=open(f"/tmp/bench_scale_{role[0]}_{env.get('PORT', '')}.log", "wb"))


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"worker on port {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json().get("bot") == "running":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"worker on port {port} never became healthy")


async def button(user: ChatUser, needles: tuple[str, ...], think: float, wait: float = 30.0) -> str:
    """The first button holding one of ``needles``; waits for it a while, for a reply that
    went through the outbox (its direct send was refused), and then reads it for ``think``
    seconds as for any answer (not tapping it the moment it shows)."""
    deadline = time.monotonic() + wait
    late = False
    while True:
        for label in user.buttons():
            if any(n in label for n in needles):
                if late:
                    await asyncio.sleep(think)
                return label
        if time.monotonic() > deadline:
            raise AssertionError(f"none of {needles} in {user.buttons()}")
        late = True
        await asyncio.sleep(0.2)


async def visit(tg: FakeTelegram, deliver: Any, teacher: User, think: float) -> None:
    """One teacher records a home visit on their case, defaults accepted: 10 steps."""
    user = ChatUser(tg, deliver=deliver, enqueue=False, user_id=teacher.telegram_id,
                    first_name=teacher.display_name, language_code="zh-hans")
    await user.send("/visit")
    await user.tap(await button(user, ("#",), think))
    await user.tap(await button(user, ("Home visit", "家访"), think))
    await user.send("父母在外务工，由祖母照看")
    await user.tap(await button(user, ("Hesitant", "犹豫"), think))
    await user.tap(await button(user, ("Unwilling", "不愿", "Opposed", "反对"), think))
    await user.send("讲解义务教育法，联系资助")
    await user.tap(await button(user, ("Refused", "拒绝"), think))
    await user.tap(await button(user, ("Skip", "跳过"), think))
    await user.tap(await button(user, ("Confirm", "确认"), think))


def sender_of(update: dict[str, Any]) -> int:
    for kind in ("message", "callback_query"):
        if kind in update:
            return int(update[kind]["from"]["id"])
    return 0


async def drive(tg: FakeTelegram, teachers: list[User], ports: list[int], concurrency: int,
                redeliver: bool, outcome: Outcome, think: float, jitter: float) -> None:
    # people do not act in step: each pause is drawn around ``think`` (seeded, so runs compare)
    pauses = random.Random(13)
    turn = 0
    last: dict[int, float] = {}
    steps_of: dict[int, int] = {}
    limits = httpx.Limits(max_connections=4 * concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def post(port: int, update: dict[str, Any]) -> None:
            for attempt in range(5):  # a dropped keep-alive connection: Telegram sends again
                try:
                    answer = await client.post(f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                                               json=update, headers={SECRET_HEADER: SECRET})
                    break
                except httpx.TransportError:
                    outcome.retried += 1
                    if attempt == 4:
                        raise
            outcome.statuses[answer.status_code] = outcome.statuses.get(answer.status_code, 0) + 1
            outcome.posts += 1
            # as Telegram: the call named in the response (a tap's answer) is made
            await tg.apply_webhook_response(answer.status_code, answer.content,
                                            answer.headers.get("content-type"))

        async def deliver(update: dict[str, Any]) -> None:
            nonlocal turn
            # a person reads the answer before the next tap: Telegram allows a bot one
            # message a second to a chat, and the fake enforces it
            who = sender_of(update)
            pause = pauses.uniform(think - jitter, think + jitter)
            await asyncio.sleep(max(0.0, last.get(who, 0.0) + pause - time.monotonic()))
            turn += 1
            first = ports[turn % len(ports)]
            began = time.perf_counter()
            if redeliver and len(ports) > 1:
                second = ports[(turn + 1) % len(ports)]
                await asyncio.gather(post(first, update), post(second, update))
            else:
                await post(first, update)
            took = time.perf_counter() - began
            outcome.latencies.append(took)
            steps_of[who] = steps_of.get(who, 0) + 1
            outcome.by_step.setdefault(steps_of[who], []).append(took)
            outcome.steps += 1
            last[who] = time.monotonic()

        gate = asyncio.Semaphore(concurrency)

        async def one(teacher: User) -> None:
            async with gate:
                if jitter:  # nor do they all open the bot in the same instant
                    await asyncio.sleep(pauses.uniform(0, think))
                await visit(tg, deliver, teacher, think)

        await asyncio.gather(*(one(t) for t in teachers))


def wait_drained(engine: Any, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        with Session(engine) as session:
            pending = session.execute(select(func.count()).select_from(OutboxMessage)
                                      .where(col(OutboxMessage.status) == "pending")).scalar_one()
        if pending == 0 or time.monotonic() > deadline:
            return int(pending)
        time.sleep(0.5)


def run(args: argparse.Namespace, workers: int, key: str) -> bool:
    url, engine, teachers = prepare(args.db, args.users)
    tg = FakeTelegram(enforce_limits=True)
    with Session(engine) as session:  # everyone has opened the bot: their chats exist
        for tid, name in session.execute(select(col(User.telegram_id), col(User.display_name))
                                         .where(col(User.telegram_id).is_not(None))).all():
            tg.private_chat(tg.add_user(name, user_id=int(tid)))
    fake = serve_fake(tg, args.port)
    env = {**os.environ, "DATABASE_URL": url, "BOT_TOKEN": tg.token, "ENCRYPTION_KEY": key,
           "BOT_API_URL": f"http://127.0.0.1:{args.port}", "WEBHOOK_URL": "https://bench.invalid",
           "WEBHOOK_SECRET": SECRET, "POLICY": "datian", "HOST": "127.0.0.1", "WEB_WORKERS": "1",
           "DB_POOL_SIZE": "4", "DB_MAX_OVERFLOW": "2", "BAOXUE_ENV": "development"}
    ports = [args.port + 1 + i for i in range(workers)]
    procs = [start(["web"], {**env, "PORT": str(p)}) for p in ports]
    senders = [start(["sender"], {**env, "PORT": str(args.port + 9 - i)}) for i in range(2)]
    outcome = Outcome(workers, args.redeliver)
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_healthy(port, proc)
        cpu0 = sum(cpu_seconds(p.pid) for p in procs)
        began = time.perf_counter()
        asyncio.run(drive(tg, teachers, ports, args.concurrency, args.redeliver, outcome,
                          args.think, args.jitter))
        outcome.elapsed = time.perf_counter() - began
        outcome.cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
        pending = wait_drained(engine, args.drain_seconds)
    finally:
        for proc in procs + senders:
            proc.terminate()
        for proc in procs + senders:
            proc.wait(30)
        fake.should_exit = True
    return report(engine, tg, teachers, outcome, pending)


def report(engine: Any, tg: FakeTelegram, teachers: list[User], o: Outcome, pending: int) -> bool:
    load_chats = {int(t.telegram_id or 0) for t in teachers}
    apologies = {Text(APOLOGY).render(lang) for lang in ("zh_Hans", "en")}
    with Session(engine) as session:
        sent_rows = session.execute(
            select(col(User.telegram_id), func.count())
            .join(OutboxMessage, col(OutboxMessage.recipient_id) == col(User.id))
            .where(col(OutboxMessage.status) == "sent").group_by(col(User.telegram_id))).all()
        bad_rows = session.execute(select(func.count()).select_from(OutboxMessage)
                                   .where(col(OutboxMessage.status).in_(("dead", "failed")))).scalar_one()
        visits = session.execute(select(func.count()).select_from(Visit)).scalar_one()
        urgent_replies = session.execute(select(func.count()).select_from(OutboxMessage)
                                         .where(col(OutboxMessage.kind) == "reply")).scalar_one()
        open_visits = session.execute(select(func.count()).select_from(ConversationState)
                                      .where(col(ConversationState.flow) == "visit")).scalar_one()
    # the outbox's messages are the ones to people not playing the load (supervisors told)
    expected = {int(chat): int(n) for chat, n in sent_rows if chat not in load_chats}
    received = {chat: len(tg.bot_messages(chat)) for chat in expected}
    duplicated = sum(max(0, received[c] - n) for c, n in expected.items())
    lost = pending + int(bad_rows) + sum(max(0, n - received[c]) for c, n in expected.items())
    apology_count = sum(1 for chat in load_chats for m in tg.bot_messages(chat)
                        if m.content in apologies)
    q = statistics.quantiles(o.latencies, n=100)
    cpu_ms = 1000 * o.cpu / max(o.steps, 1)
    mode = "redelivered to a second worker" if o.redeliver else "each update once"
    print(f"--- {o.workers} worker(s), {mode}")
    print(f"steps                   {o.steps} ({o.posts} POSTs; answers {o.statuses}) "
          f"in {o.elapsed:.1f} s: {o.steps / o.elapsed:.1f} steps/s; re-sent after a "
          f"transport error {o.retried}")
    print(f"turn latency            p50 {q[49] * 1000:.0f} ms   p99 {q[98] * 1000:.0f} ms   (target p99 ≤ 250)")
    print("p99 by step (ms)        " + "  ".join(
        f"{n}: {statistics.quantiles(v, n=100)[98] * 1000:.0f}"
        for n, v in sorted(o.by_step.items()) if len(v) > 1))
    print(f"worker CPU per step     {cpu_ms:.1f} ms   (target ≤ 4)")
    print(f"outbox                  {sum(expected.values())} sent to supervisors; duplicated "
          f"{duplicated}, lost {lost} (of which still pending when the drain timed out: "
          f"{pending}; dead or failed: {bad_rows})")
    print(f"429s at the fake        {tg.stats.too_many_requests}: a second message to one chat "
          f"within its second {tg.stats.chat_429s}, over 30 in a second in all "
          f"{tg.stats.global_429s}; busiest second {tg.stats.max_sends_per_window} sends, "
          f"busiest chat-second {tg.stats.max_chat_sends_per_window}")
    print(f"taps answered           over HTTP {tg.call_count('answerCallbackQuery', via='http')}, "
          f"in the webhook's response {tg.call_count('answerCallbackQuery', via='webhook response')}; "
          f"unanswered {len(tg.unanswered_callbacks)}")
    print(f"apologies               {apology_count}; replies sent through the outbox after "
          f"a refused direct send: {urgent_replies}")
    print(f"domain rows             visits {visits} for {len(teachers)} teachers; "
          f"visit conversations left open {open_visits}")
    ok = (duplicated == 0 and lost == 0 and apology_count == 0 and visits == len(teachers)
          and open_visits == 0)
    print("OK" if ok else "FAILED", "(targets: 0 dup / 0 lost / 0 apologies / rows)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL of a database named bench… (wiped)")
    parser.add_argument("--workers", default="1,2,4", help="webhook worker counts to run, e.g. 1,2,4")
    parser.add_argument("--users", type=int, default=300, help="distinct teachers, one visit each")
    parser.add_argument("--concurrency", type=int, default=24, help="teachers acting at once")
    parser.add_argument("--redeliver", action="store_true", help="each update also to another worker")
    parser.add_argument("--think", type=float, default=1.2,
                        help="seconds a person takes between the bot's answer and their next step")
    parser.add_argument("--jitter", type=float, default=0.2,
                        help="each pause is drawn from think ± jitter seconds; 0: everyone in step")
    parser.add_argument("--port", type=int, default=18400, help="the fake Bot API; workers above it")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="wait for the outbox")
    parser.add_argument("--force", action="store_true", help="wipe a database not named bench*")
    args = parser.parse_args()
    if args.think - args.jitter < 1:
        parser.error("--think minus --jitter under 1 s: the fake refuses a second message to a "
                     "chat within its second")
    benchdb.refuse_unless_bench(args.db, args.force)
    key = Cipher.generate_key()
    configure_encryption(key)
    ok = True
    for n in [int(x) for x in args.workers.split(",")]:
        ok &= run(args, n, key)
        args.port += 10
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
