"""The scheduler's tick (``casework.scheduler``) on an injected clock: no sleeping, days
pass in microseconds. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

- Catch-up: three cases whose reminders, escalations and an alert's grace all passed
  while the bot was down; the first tick acts on each row once, oldest first; a second
  tick does nothing.
- Crashes: the tick dies on its third row (a ``BaseException`` in process, and a child
  process killed with ``os._exit`` between claiming and committing); after a restart
  every row is acted on once: nothing missed, nothing repeated.
- A handler that raises is rolled back to its savepoint, retried next tick and set aside
  as ``failed`` after ``MAX_ATTEMPTS``; the rows around it go on.
- A row of a kind no handler knows (``casework.kinds``) is never done: an error is logged,
  it stays due and is retried every tick, never set aside, until a process knows the kind;
  ``baoxue deadlines list`` names such kinds.
- Two workers (two engines, two threads; on PostgreSQL two connections claiming with
  SKIP LOCKED while both are inside a batch) over 300 due rows: each acted on once.
- Planners: calendar jobs created once even when two processes plan at the same moment.
- The claim walks the partial index ``ix_deadline_open_due``.
- The bot's APScheduler job and ``baoxue deadlines list``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from bot.services import Services
from casework import deadlines, kinds, ladder, scheduler
from casework.clock import Clock, FrozenClock, SystemClock, to_db
from casework.context import Casework
from casework.i18n import _
from casework.outbox import enqueue
from casework.policy import Policy
from casework.scheduler import TickReport
from casework.uow import unit_of_work
from demo.county import World
from models import db
from models.tables import Case, CaseEvent, Deadline, OutboxMessage, Township, User
from tests.casedriver import Run, local, shown

ROOT = Path(__file__).resolve().parent.parent
DOWN_AT = (2026, 11, 23, 9, 0)  # Monday: the cases are made, then the bot goes down
BACK_AT = (2026, 11, 30, 9, 0)  # the next Monday: the bot starts again


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_registered_planners(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registered planners (attendance prompts, digests, reports) would add rows;
    these tests count every row a tick acts on, so they plan only what they say."""
    monkeypatch.setattr(kinds, "PLANNERS", ())


@pytest.fixture
def run(engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> Run:
    return Run(engine, clock, policy, world)


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Register the caseless kind ``probe``: each acted-on row queues one outbox message
    to the admin naming the row, so a repeat shows up as a second message. Returns the
    ids of the rows handled, in order, from every thread."""
    handled: list[int] = []

    def probe(cw: Casework, deadline: Deadline, case: Case | None) -> str:
        admin = cw.session.exec(select(User).where(User.role == "admin")).first()
        assert admin is not None
        msg = enqueue(cw.session, admin, _("probe"), kind="probe", now=cw.now())
        msg.payload = {**msg.payload, "deadline": deadline.id}
        handled.append(deadline.id or 0)
        return "probed"

    monkeypatch.setitem(kinds.KINDS, "probe", kinds.Kind("probe", probe, caseless=True))
    return handled


def _plan_probes(engine: Engine, clock: FrozenClock, policy: Policy, dues: list[datetime]) -> list[int]:
    with unit_of_work(engine, clock, policy) as cw:
        for n, due in enumerate(dues):
            assert scheduler.plan_job(cw, "probe", due, key=f"probe:{n}")
    with Session(engine) as s:
        return list(s.exec(select(Deadline.id).where(Deadline.kind == "probe")).all())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- reading back


def _three_cases(run: Run) -> dict[int, str]:
    """Three pupils of 七年级1班 on Monday 2026-11-23 09:00, just before the bot goes down:

    a  reported: suspected, the due-day reminder Tue 08:00, the step Tue 17:30;
    b  the teacher's call moved it to school persuasion: 3 working days, reminders Wed
       and Thu 08:00, the step Thu 17:30;
    c  escalated twice, to the township: the alert's grace ends Tue 17:30, round 1 is due
       in 5 working days (Mon 11-30 17:30) with reminders Fri 11-27 and Mon 11-30 08:00.
    """
    run.start(*DOWN_AT)
    a = run.report("teacher", student=0, absent_since=date(2026, 11, 23))
    b = run.report("teacher", student=1, absent_since=date(2026, 11, 23))
    run.visit("teacher", b, "phone", "refused")
    c = run.report("teacher", student=2, absent_since=date(2026, 11, 23))
    run.do(ladder.escalate, run.user("school_admin"), c)
    run.do(ladder.escalate, run.user("school_admin"), c)
    return {a: "a", b: "b", c: "c"}


# everything that fell due while the bot was down, in due order (rows due at the same
# minute in the order they were written)
CAUGHT_UP = [
    "11-24 08:00 a reminder: reminded 1",
    "11-24 17:30 a step: escalated to school_persuasion",
    "11-24 17:30 c ack: climbed to county_officer",
    "11-25 08:00 b reminder: reminded 2",
    "11-26 08:00 b reminder: reminded 2",
    "11-26 17:30 b step: escalated to township_persuasion",
    "11-27 08:00 c reminder: reminded 2",
    "11-30 08:00 c reminder: reminded 2",
]
CAUGHT_UP_MESSAGES = sorted(
    ["reminder → teacher"]  # a's due-day reminder
    + ["level_entered → school_admin", "moved_up → teacher"]  # a up to the school
    + ["escalation_alert → county_officer"]  # c's alert, unacknowledged, climbs
    + ["reminder → teacher", "reminder → school_admin"] * 2  # b's reminders
    + ["escalation_alert → township_officer", "moved_up → school_admin", "moved_up → teacher"]
    + ["township_started → village_cadre"]  # b: the cadre persuades with the township now
    + ["reminder → village_cadre", "reminder → township_officer"] * 2  # c's round reminders
)


def _lines(report: TickReport, names: dict[int, str]) -> list[str]:
    return [
        f"{shown(a.due_at)[5:]} {names.get(a.case_id or 0, '-')} {a.kind}: {a.result}"
        for a in report.acted
    ]


def _done_rows(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Deadline).where(Deadline.status == "done")).one()


def _scheduler_events(run: Run, names: dict[int, str]) -> dict[str, list[str]]:
    return {n: [e for e in run.events(i) if e.startswith("scheduler")] for i, n in names.items()}


ESCALATIONS = {
    "a": ["scheduler: escalated suspected → school_persuasion (deadline_passed)"],
    "b": ["scheduler: escalated school_persuasion → township_persuasion (deadline_passed)"],
    "c": [],
}


# --------------------------------------------------------------------------- catch-up


def test_first_tick_after_downtime_acts_on_every_missed_row_once_in_due_order(
    run: Run, engine: Engine, clock: FrozenClock, policy: Policy
) -> None:
    names = _three_cases(run)
    mark = run.mark()
    run.at(*BACK_AT)

    first = scheduler.tick(engine, clock, policy, batch_size=3)
    assert _lines(first, names) == CAUGHT_UP
    assert first.batches == 3 and first.errors == []
    # every missed reminder sent once, every missed escalation made once
    assert run.messages(mark) == CAUGHT_UP_MESSAGES
    assert _scheduler_events(run, names) == ESCALATIONS
    # the levels the tick moved a and b to count from the tick's time: nothing more is due
    a, b, c = names
    assert run.open_deadlines(a) == [
        "reminder 2026-12-02 08:00", "reminder 2026-12-03 08:00", "step 2026-12-03 17:30"
    ]
    assert run.open_deadlines(b)[:4] == [
        "ack 2026-12-01 17:30", "reminder 2026-12-04 08:00", "reminder 2026-12-07 08:00",
        "round 2026-12-07 17:30",
    ]
    assert run.open_deadlines(c)[:2] == ["round 2026-11-30 17:30", "ack 2026-12-01 17:30"]

    mark = run.mark()
    second = scheduler.tick(engine, clock, policy)
    assert second.acted == [] and second.batches == 0
    assert run.messages(mark) == []


# --------------------------------------------------------------------------- crashes


class Killed(BaseException):
    """Stands in for the process dying mid-tick: not an ``Exception``, so nothing in the
    tick catches it, as nothing would catch SIGKILL."""


def test_a_tick_killed_on_its_third_row_loses_that_batch_only_and_a_restart_repeats_nothing(
    run: Run, engine: Engine, clock: FrozenClock, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _three_cases(run)
    mark = run.mark()
    run.at(*BACK_AT)
    real_handle = deadlines.handle
    calls = 0

    def dies_on_the_third(cw: Casework, deadline: Deadline) -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Killed
        return real_handle(cw, deadline)

    monkeypatch.setattr(deadlines, "handle", dies_on_the_third)
    with pytest.raises(Killed):
        scheduler.tick(engine, clock, policy, batch_size=2)
    # batch 1 (rows 1–2) committed; batch 2 died on its first row and left no trace
    assert _done_rows(engine) == 2
    assert run.messages(mark) == sorted(
        ["reminder → teacher", "level_entered → school_admin", "moved_up → teacher"]
    )

    monkeypatch.setattr(deadlines, "handle", real_handle)  # the restarted process
    restarted = scheduler.tick(engine, clock, policy, batch_size=2)
    assert _lines(restarted, names) == CAUGHT_UP[2:]
    assert run.messages(mark) == CAUGHT_UP_MESSAGES
    assert _scheduler_events(run, names) == ESCALATIONS
    assert scheduler.tick(engine, clock, policy).acted == []


@pytest.mark.parametrize("batch", [100, 2])
def test_a_scheduler_process_killed_between_claim_and_commit_is_replaced_without_loss_or_repeat(
    batch: int, run: Run, engine: Engine, clock: FrozenClock, policy: Policy, db_url: str,
    cipher_key: str,
) -> None:
    """A real process, killed with os._exit on its third row after writing (not
    committing) that batch's work: the database rolls the batch back on its own."""
    names = _three_cases(run)
    mark = run.mark()
    run.at(*BACK_AT)
    child = subprocess.run(
        [sys.executable, "-m", "tests.scheduler_child", db_url, cipher_key,
         clock.now().isoformat(), policy.name, "3", str(batch)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.returncode == 9, child.stderr
    committed = 2 if batch == 2 else 0  # whole batches before the one it died in
    assert _done_rows(engine) == committed
    assert len(run.messages(mark)) == (3 if batch == 2 else 0)

    restarted = scheduler.tick(engine, clock, policy, batch_size=batch)
    assert _lines(restarted, names) == CAUGHT_UP[committed:]
    assert run.messages(mark) == CAUGHT_UP_MESSAGES
    assert _scheduler_events(run, names) == ESCALATIONS


def test_a_failing_row_is_rolled_back_retried_next_tick_and_set_aside_after_max_attempts(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World, probes: list[int],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(cw: Casework, deadline: Deadline, case: Case | None) -> str:
        admin = cw.session.exec(select(User).where(User.role == "admin")).one()
        enqueue(cw.session, admin, _("half-done"), kind="broken", now=cw.now())
        raise RuntimeError("the registry is down")

    monkeypatch.setitem(kinds.KINDS, "broken", kinds.Kind("broken", broken, caseless=True))
    now = clock.now()
    with unit_of_work(engine, clock, policy) as cw:
        scheduler.plan_job(cw, "probe", now - timedelta(hours=3), key="p1")
        scheduler.plan_job(cw, "broken", now - timedelta(hours=2), key="b")
        scheduler.plan_job(cw, "probe", now - timedelta(hours=1), key="p2")

    def state() -> tuple[str, int, str | None]:
        with Session(engine) as s:
            row = s.exec(select(Deadline).where(Deadline.dedupe_key == "b")).one()
            return row.status, row.attempts, row.result

    def outbox(kind: str) -> int:
        with Session(engine) as s:
            return s.exec(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.kind == kind)).one()

    first = scheduler.tick(engine, clock, policy)
    # the batch [p1, broken, p2] is rolled back at "broken" and redone without it
    assert [str(a) for a in first.acted] == [
        "broken: error: RuntimeError: the registry is down", "probe: probed", "probe: probed"
    ]
    assert [a.kind for a in first.errors] == ["broken"]
    assert state() == ("open", 1, "error: RuntimeError: the registry is down")
    assert (outbox("probe"), outbox("broken")) == (2, 0)  # its half-done message is gone
    assert "the registry is down" in caplog.text  # logged with its traceback

    for attempt in range(2, scheduler.MAX_ATTEMPTS + 1):
        clock.advance(timedelta(minutes=1))
        report = scheduler.tick(engine, clock, policy)
        assert [a.kind for a in report.acted] == ["broken"]  # once per tick, not in a loop
        assert state()[:2] == ("open" if attempt < scheduler.MAX_ATTEMPTS else "failed", attempt)
    assert scheduler.tick(engine, clock, policy).acted == []  # set aside
    assert (outbox("probe"), outbox("broken")) == (2, 0)  # p1, redone once, sent once


def _row_of_unknown_kind(engine: Engine, clock: Clock, due: datetime) -> int:
    """A row written by a newer version, of a kind this one has no handler for (written
    directly: ``plan_job`` refuses an unknown kind)."""
    with Session(engine) as s:
        row = Deadline(case_id=None, kind="from_the_future", due_at=to_db(due),
                       payload={}, created_at=to_db(clock.now()),
                       dedupe_key="future")
        s.add(row)
        s.commit()
        return row.id or 0


def test_a_row_of_a_kind_no_handler_knows_stays_due_loudly_and_is_done_once_known(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World, probes: list[int],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    now = clock.now()
    with unit_of_work(engine, clock, policy) as cw:
        scheduler.plan_job(cw, "probe", now - timedelta(hours=3), key="p1")
        scheduler.plan_job(cw, "probe", now - timedelta(hours=1), key="p2")
        with pytest.raises(deadlines.UnknownKind, match="from_the_future"):
            scheduler.plan_job(cw, "from_the_future", now, key="refused")
    future = _row_of_unknown_kind(engine, clock, now - timedelta(hours=2))

    def state() -> tuple[str, int, str | None, Any]:
        with Session(engine) as s:
            row = s.get(Deadline, future)
            assert row is not None
            return row.status, row.attempts, row.result, row.acted_at

    caplog.set_level("ERROR", logger="casework.scheduler")
    first = scheduler.tick(engine, clock, policy)
    # not "done: unknown kind": the row is not done, the rows around it are
    assert [str(a) for a in first.acted] == [
        "from_the_future: error: unknown kind 'from_the_future'", "probe: probed", "probe: probed"
    ]
    assert [a.kind for a in first.errors] == ["from_the_future"]
    assert state() == ("open", 1, "error: unknown kind 'from_the_future'", None)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "'from_the_future'" in errors[0].getMessage()
    assert "NOT done, it stays due" in errors[0].getMessage()

    # retried, loudly, every tick; never set aside as failed, however many ticks it takes
    for attempt in range(2, scheduler.MAX_ATTEMPTS + 3):
        clock.advance(timedelta(minutes=1))
        report = scheduler.tick(engine, clock, policy)
        assert [a.kind for a in report.errors] == ["from_the_future"]
        assert state()[:2] == ("open", attempt)
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == scheduler.MAX_ATTEMPTS + 2

    # the process that knows the kind does it
    def from_the_future(cw: Casework, deadline: Deadline, case: Case | None) -> str:
        return "done at last"

    monkeypatch.setitem(
        kinds.KINDS, "from_the_future", kinds.Kind("from_the_future", from_the_future, caseless=True)
    )
    last = scheduler.tick(engine, clock, policy)
    assert [str(a) for a in last.acted] == ["from_the_future: done at last"]
    assert state()[:3] == ("done", scheduler.MAX_ATTEMPTS + 2, "done at last")


# --------------------------------------------------------------------------- two workers


def test_two_workers_ticking_at_once_act_on_each_of_300_due_rows_exactly_once(
    db_url: str, engine: Engine, clock: FrozenClock, policy: Policy, world: World,
    probes: list[int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """48 cases (a reminder and an escalating step each) and 204 calendar jobs, all due.
    On PostgreSQL each worker waits, inside its first batch, until the other is inside
    one too: the claims must not block each other (SKIP LOCKED on disjoint rows)."""
    postgres = engine.dialect.name == "postgresql"
    with unit_of_work(engine, clock, policy) as cw:
        for i, klass in enumerate(world.classes, start=1):
            teacher = world.users[f"teacher{i}"]
            for student in world.students_of_class(klass):
                ladder.report(cw, teacher, ladder.ReportInput(
                    student_id=student.id, reasons=("learning",), absent_since=date(2026, 11, 23)))
    start = clock.now()
    _plan_probes(engine, clock, policy, [start + timedelta(minutes=11 * n) for n in range(204)])
    clock.set(local(2026, 11, 25, 9, 0))
    with Session(engine) as s:
        due = set(s.exec(select(Deadline.id).where(  # type: ignore[call-overload]
            Deadline.status == "open", col(Deadline.due_at) <= clock.now())).all())
        cases = s.exec(select(Case.id)).all()
    assert len(due) == 300 and len(cases) == 48

    real_handle = deadlines.handle
    both_inside = threading.Barrier(2, timeout=20)
    first_row = threading.local()

    def handle(cw: Casework, deadline: Deadline) -> str:
        if postgres and not getattr(first_row, "seen", False):
            first_row.seen = True
            both_inside.wait()  # BrokenBarrierError if the other worker cannot claim now
        return real_handle(cw, deadline)

    monkeypatch.setattr(deadlines, "handle", handle)
    start_together = threading.Barrier(2, timeout=20)
    reports: dict[str, TickReport] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        own_engine = db.make_engine(db_url)  # a second process's connection pool
        try:
            start_together.wait()
            reports[name] = scheduler.tick(own_engine, clock, policy, batch_size=10)
        except BaseException as err:  # noqa: BLE001 - surfaced below
            errors.append(err)
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    one, two = ([a.id for a in reports[n].acted] for n in ("one", "two"))
    assert reports["one"].errors == [] and reports["two"].errors == []
    assert set(one).isdisjoint(two)
    assert sorted(one + two) == sorted(due)
    if postgres:
        assert one and two, "both workers should have claimed rows"

    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Deadline).where(
            col(Deadline.id).in_(due), Deadline.status != "done")).one() == 0
        probe_rows = [m.payload["deadline"] for m in s.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "probe")).all()]
        escalated = s.exec(select(CaseEvent.case_id, func.count()).where(
            CaseEvent.kind == "escalated").group_by(col(CaseEvent.case_id))).all()
        reminders = s.exec(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "reminder")).one()
    assert len(probe_rows) == 204 and len(set(probe_rows)) == 204
    assert sorted(probes) == sorted(probe_rows)
    assert sorted(escalated) == sorted((c, 1) for c in cases)  # one escalation per case
    assert reminders == 48  # one due-day reminder per case, to its teacher
    assert scheduler.tick(engine, clock, policy).acted == []


# --------------------------------------------------------------------------- planners


def test_planners_create_each_calendar_job_once_even_when_two_processes_plan_at_once(
    db_url: str, engine: Engine, clock: FrozenClock, policy: Policy, world: World,
    probes: list[int],
) -> None:
    """A township digest at 18:00, planned by two bot processes in the same instant: one
    row per township and day; acted on once; not planned again once done."""
    together = threading.Barrier(2, timeout=20)
    racing = True

    def digest_planner(cw: Casework) -> None:
        if racing:
            together.wait()  # both planners insert at the same moment
        day = cw.today()
        for township in cw.session.exec(select(Township).order_by(col(Township.id))).all():
            scheduler.plan_job(
                cw, "probe", cw.calendars.at_local(day, policy.times.township_digest),
                key=f"digest:{township.id}:{day.isoformat()}", township_id=township.id,
            )

    def broken_planner(cw: Casework) -> None:
        raise RuntimeError("a bug in someone's planner")

    created: list[int] = []

    def plan(own_url: str) -> None:
        own_engine = db.make_engine(own_url)
        try:
            created.append(scheduler.run_planners(own_engine, clock, policy, [digest_planner])[0])
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=plan, args=(db_url,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    racing = False
    assert sorted(created) == [0, 2]  # one process made both rows, the other none
    with Session(engine) as s:
        rows = s.exec(select(Deadline).where(Deadline.kind == "probe")).all()
        assert sorted(r.dedupe_key or "" for r in rows) == [
            "digest:1:2026-11-23", "digest:2:2026-11-23"]
        assert {shown(r.due_at) for r in rows} == {"2026-11-23 18:00"}
        assert all(r.case_id is None and r.status == "open" for r in rows)

    planners = [broken_planner, digest_planner]
    clock.set(local(2026, 11, 23, 17, 59))
    early = scheduler.tick(engine, clock, policy, planners=planners)
    assert (early.acted, early.planned, early.planner_errors) == ([], 0, 1)
    clock.set(local(2026, 11, 23, 18, 0))
    due = scheduler.tick(engine, clock, policy, planners=planners)
    assert [str(a) for a in due.acted] == ["probe: probed", "probe: probed"]  # the broken planner did not stop it
    clock.set(local(2026, 11, 23, 18, 1))
    again = scheduler.tick(engine, clock, policy, planners=planners)
    assert (again.acted, again.planned) == ([], 0)  # done jobs are not planned again
    assert len(probes) == 2


def test_plan_job_refuses_a_key_the_column_cannot_hold(
    engine: Engine, clock: FrozenClock, policy: Policy
) -> None:
    with unit_of_work(engine, clock, policy) as cw, pytest.raises(ValueError, match="120"):
        scheduler.plan_job(cw, "probe", clock.now(), key="k" * 121)


# --------------------------------------------------------------------------- the index


def _plans(engine: Engine, statement: Any) -> list[str]:
    """The database's plan for ``statement``, run with its real parameters."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    lines: list[str] = []

    def explain(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> tuple[str, Any]:
        return prefix + sql, params

    def collect(conn: Any, cursor: Any, *args: Any) -> None:
        lines.extend(" ".join(str(c) for c in row) for row in cursor.fetchall())

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # a tiny table: make the planner show the index
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        event.listen(conn, "before_cursor_execute", explain, retval=True)
        event.listen(conn, "after_cursor_execute", collect)
        # the rows fetched are the plan, not the columns the statement selects
        with contextlib.suppress(Exception):
            conn.execute(statement)
        conn.rollback()
    return lines


def test_the_claim_searches_walk_the_partial_index_of_open_due_rows(
    engine: Engine, clock: FrozenClock
) -> None:
    for statement in scheduler.claim_queries(clock.now(), 100, skip=(1, 2)):
        plan = "\n".join(_plans(engine, statement))
        assert "ix_deadline_open_due" in plan, plan


# --------------------------------------------------------------------------- the bot's job


async def test_the_bot_scheduler_ticks_on_the_injected_clock_in_a_worker_thread(
    run: Run, engine: Engine, clock: FrozenClock, policy: Policy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.scheduler import JOB_ID, DeadlineScheduler

    names = _three_cases(run)
    threads: set[str] = set()
    real_handle = deadlines.handle

    def handle(cw: Casework, deadline: Deadline) -> str:
        threads.add(threading.current_thread().name)
        return real_handle(cw, deadline)

    monkeypatch.setattr(deadlines, "handle", handle)
    sched = DeadlineScheduler(Services(engine=engine, clock=clock, policy=policy), every_s=30)
    sched.start()
    try:
        job = sched._aps.get_job(JOB_ID)
        assert job.trigger.interval == timedelta(seconds=30)
        assert (job.max_instances, job.coalesce) == (1, True)
        assert (await sched.run_once()).acted == []  # nothing due on Monday morning
        run.at(*BACK_AT)  # the injected clock moves; no one sleeps
        assert _lines(await sched.run_once(), names) == CAUGHT_UP
        assert threads and threading.current_thread().name not in threads
    finally:
        await sched.shutdown()
    assert not sched.running


def test_the_runner_acts_on_deadlines_with_the_scheduler_and_drains_with_the_job_queue(
    engine: Engine, policy: Policy
) -> None:
    from bot.runner import SCHEDULER_KEY, make_application
    from bot.runtime import Runtime
    from bot.scheduler import DeadlineScheduler
    from bot.settings import Settings

    settings = Settings(bot_token="123456:TEST", tick_seconds=30)
    application = make_application(Runtime(settings, engine, policy))
    sched = application.bot_data[SCHEDULER_KEY]
    assert isinstance(sched, DeadlineScheduler) and sched.every_s == 30
    assert sched.services.clock is application.bot_data["services"].clock
    assert [j.name for j in application.job_queue.jobs()] == []  # the outbox runs on its own


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_clock(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """The CLI reads the system clock: here it reads the test's frozen one."""
    monkeypatch.setattr(SystemClock, "now", lambda self: clock.now())
    return clock


def test_deadlines_list_shows_the_queue_and_what_is_due_now(
    cli_env: pytest.MonkeyPatch, engine: Engine, policy: Policy, cli_clock: FrozenClock
) -> None:
    from cli.main import app

    with unit_of_work(engine, cli_clock, policy) as cw:
        now = cw.now()
        scheduler.plan_job(cw, "digest", now - timedelta(hours=2, minutes=5), key="late")
        scheduler.plan_job(cw, "digest", now + timedelta(days=1), key="tomorrow")
        scheduler.plan_job(cw, "digest", now - timedelta(days=3), key="broken")
        cw.session.execute(text(
            "UPDATE deadline SET status = 'failed', attempts = 5, result = 'error: boom' "
            "WHERE dedupe_key = 'broken'"))

    def invoke(*args: str) -> list[str]:
        result = CliRunner().invoke(app, ["deadlines", "list", *args])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    listed = invoke()
    assert "kind" in listed[0] and "Asia/Shanghai" in listed[0]
    assert [line.split()[1] for line in listed[1:-1]] == ["digest", "digest"]
    assert "late" in listed[1] and "2h 5m" in listed[1] and "tomorrow" in listed[2]
    assert listed[-1] == "2 row(s)"

    due = invoke("--due")
    assert len(due) == 3 and "late" in due[1] and due[-1] == "1 row(s)"
    failed = invoke("--status", "failed")
    assert "error: boom" in failed[1] and " 5 " in failed[1]
    assert invoke("--status", "all", "--limit", "1")[-1] == "3 row(s), first 1 shown"
    assert invoke("--kind", "step") == ["no deadlines"]

    bogus = CliRunner().invoke(app, ["deadlines", "list", "--status", "gone"])
    assert bogus.exit_code == 2 and "unknown status" in bogus.stderr


def test_deadlines_list_names_open_rows_of_a_kind_this_version_does_not_know(
    cli_env: pytest.MonkeyPatch, engine: Engine, policy: Policy, cli_clock: FrozenClock
) -> None:
    from cli.main import app

    future = _row_of_unknown_kind(engine, cli_clock, cli_clock.now() - timedelta(minutes=5))
    result = CliRunner().invoke(app, ["deadlines", "list", "--due"])
    assert result.exit_code == 0, result.output
    assert "from_the_future" in result.stdout.splitlines()[1]
    assert result.stderr.startswith("ERROR: open rows of kinds this version has no handler for: "
                                    "from_the_future")
    with Session(engine) as s:
        assert (row := s.get(Deadline, future)) is not None
        row.status = "done"
        s.add(row)
        s.commit()
    assert "ERROR" not in CliRunner().invoke(app, ["deadlines", "list"]).stderr
