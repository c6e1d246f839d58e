"""The scheduler's tick: claim the due deadline rows, act on each, record what was done.

A tick is a plain function of (engine, clock, policy) so the bot, the sandbox, the CLI
and the tests run the same code; the bot only decides how often (``bot.scheduler``).

Claiming. One transaction per batch: the batch's rows are claimed, each is handed to
``deadlines.handle`` (which says what a due row means and marks it done) and the whole
batch commits at once, together with everything the handlers wrote (case events, new
deadlines, outbox rows, audit). So a row is acted on exactly when it is marked done.

- PostgreSQL: due rows are found on the partial index ``ix_deadline_open_due`` in due
  order and claimed with ``FOR UPDATE … SKIP LOCKED``. A row of a case is claimed by
  locking its *case* row, so one worker owns all of a case's rows for the batch: an
  escalation that cancels the case's other open rows never waits on, or deadlocks with,
  a second worker holding one of them. Caseless rows (calendar jobs) are locked directly.
  A worker never waits in the claim; what another holds is left to it.
- SQLite: every write transaction starts with ``BEGIN IMMEDIATE`` (``models.db``), so a
  batch holds the database's write lock from its first read; select-then-update is
  atomic and two processes simply take turns. The same statements run (SQLite ignores
  ``FOR UPDATE``).

Failures. A handler that raises rolls its batch back; the rest of the batch is redone
without that row, which stays open with ``attempts`` counted and is tried again next
tick; after ``max_attempts`` ticks it is set aside as ``failed`` (``baoxue deadlines
list --status failed``), so one broken row cannot hold up the ladder. (Not a savepoint
per row: past 64 subtransactions in one transaction PostgreSQL's snapshots overflow and
every other session slows down; failures are rare, redoing a batch is cheap.) Each row
is flushed right after its handler, so a constraint error is pinned on the row that
caused it. A crash (the process killed, or a ``BaseException`` such as ``SystemExit``)
rolls the batch back too: nothing of it is half-done, and the next tick does it again.

Catch-up. After downtime the first tick works through everything due, oldest first,
batch after batch: each missed reminder is sent once and each missed escalation made
once (a level's new deadlines count from the tick's time, so they are not yet due).

Sending. The outbox rows a tick writes commit with the rows it marks done, so a
message is queued exactly once. Delivery is the outbox sender's: it marks a message
sent right after Telegram accepts it, so a crash between the two sends that message
again after the restart. The bound: each crash repeats at most the messages that were
in flight at that instant, each once; none is lost.

Calendar jobs (daily prompts, digests) are deadline rows too: the planners listed in
``casework.kinds`` run at the start of each tick and create the upcoming rows with
``deadlines.plan_job``, which is idempotent on ``dedupe_key`` even with two processes
planning at once.

Kinds. Every kind's handler is registered in ``casework.kinds``, which this module imports,
so every process that ticks knows every kind. A row whose kind is not registered (an older
process meeting a newer kind) is not done: it is logged as an error, stays open and due,
and is tried again every tick; it is never set aside as ``failed`` for that, so the process
that knows the kind still does it (``baoxue deadlines list --due`` shows it meanwhile).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, literal_column
from sqlmodel import col, func, select
from sqlmodel.sql.expression import Select

from casework import deadlines, kinds, retention
from casework.clock import Clock, from_db, to_db
from casework.context import Casework
from casework.deadlines import plan_job as plan_job  # where it used to be
from casework.kinds import Planner
from casework.policy import Policy
from casework.uow import unit_of_work
from models.tables import Case, Deadline

log = logging.getLogger(__name__)

BATCH_SIZE = 100
# a tick stops after this many rows and leaves the rest to the next tick, so a handler
# that keeps creating rows already due cannot keep one tick running forever
MAX_PER_TICK = 20_000
MAX_ATTEMPTS = 5

# the partial index's predicate as a literal: a bound parameter would hide it from the
# planner (PostgreSQL's generic plans, SQLite's partial-index matching)
_OPEN: ColumnElement[str] = literal_column("'open'")

@dataclass(frozen=True)
class Acted:
    """One row the tick acted on (or failed to): what the operator log and tests read."""

    id: int
    kind: str
    case_id: int | None
    due_at: datetime
    result: str
    failed: bool = False

    def __str__(self) -> str:
        return f"{self.kind}: {self.result}"


@dataclass
class TickReport:
    acted: list[Acted] = field(default_factory=list)
    planned: int = 0
    batches: int = 0
    planner_errors: int = 0
    truncated: bool = False
    purged: int = 0  # abandoned conversations deleted

    @property
    def errors(self) -> list[Acted]:
        return [a for a in self.acted if a.failed]


def claim_queries(
    cutoff: datetime, limit: int, skip: Collection[int] = ()
) -> tuple[Select[Any, Any], Select[Any, Any]]:
    """The two searches of :func:`claim` (case rows, caseless rows), for EXPLAIN too.

    Both walk ``ix_deadline_open_due`` from the oldest due row and stop at ``cutoff``, so
    their cost grows with the number of due rows, not with the open rows in the table.
    """
    due = [col(Deadline.status) == _OPEN, col(Deadline.due_at) <= to_db(cutoff)]
    if skip:
        due.append(col(Deadline.id).not_in(list(skip)))
    of_cases = (
        select(Deadline.id, Deadline.due_at)
        .join(Case, col(Case.id) == col(Deadline.case_id))
        .where(*due)
        .order_by(col(Deadline.due_at), col(Deadline.id))
        .limit(limit)
        .with_for_update(of=Case, skip_locked=True)
    )
    caseless = (
        select(Deadline.id, Deadline.due_at)
        # not "case_id IS NULL", which tempts the planner onto ix_deadline_case_id and every
        # caseless row ever made; the due rows are few, filter them
        .where(*due, func.coalesce(col(Deadline.case_id), 0) == 0)
        .order_by(col(Deadline.due_at), col(Deadline.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return of_cases, caseless


def claim(
    cw: Casework, cutoff: datetime, limit: int, *, skip: Collection[int] = ()
) -> list[Deadline]:
    """Lock and load up to ``limit`` open rows due by ``cutoff``, in due order.

    Call inside the batch's transaction; the locks (PostgreSQL) or the write lock
    (SQLite) are held until it ends. ``skip``: ids not to take (rows that already
    failed in this tick wait for the next one).
    """
    of_cases, caseless = claim_queries(cutoff, limit, skip)
    found = [*cw.session.exec(of_cases).all(), *cw.session.exec(caseless).all()]
    picked = sorted(found, key=lambda r: (from_db(r[1]), r[0] or 0))[:limit]
    if not picked:
        return []
    # a fresh statement sees what committed since the search (READ COMMITTED): a row a
    # worker that held the case just cancelled or did is dropped here, not acted on twice
    return list(
        cw.session.exec(
            select(Deadline)
            .where(col(Deadline.id).in_([r[0] for r in picked]), col(Deadline.status) == _OPEN)
            .order_by(col(Deadline.due_at), col(Deadline.id))
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
    )


class RowFailed(Exception):
    """A handler raised on one row; the batch is rolled back and redone without it.

    ``unknown``: the row's kind has no handler here; it is never set aside for that."""

    def __init__(self, acted: Acted, *, unknown: bool = False) -> None:
        super().__init__(acted.result)
        self.acted = acted
        self.unknown = unknown


def act(cw: Casework, deadline: Deadline) -> Acted | None:
    """Hand one claimed row to casework; None if it is no longer open (an earlier row of
    the batch cancelled or did it). A handler's error is raised as :class:`RowFailed`."""
    if deadline.status != "open":
        return None
    ident = (deadline.id or 0, deadline.kind, deadline.case_id, from_db(deadline.due_at))
    try:
        result = deadlines.handle(cw, deadline)
        cw.session.flush()  # constraint errors surface here, on this row, not at commit
    except deadlines.UnknownKind as err:
        raise RowFailed(
            Acted(*ident, result=f"error: unknown kind {err.kind!r}"[:200], failed=True),
            unknown=True,
        ) from err
    except Exception as err:
        raise RowFailed(
            Acted(*ident, result=f"error: {type(err).__name__}: {err}"[:200], failed=True)
        ) from err
    return Acted(*ident, result=result)


def _record_failure(
    engine: Engine, clock: Clock, policy: Policy, failure: RowFailed, max_attempts: int
) -> None:
    """After the batch's rollback: count the attempt, and set the row aside after the
    last one. Skipped if another worker has meanwhile done the row."""
    with unit_of_work(engine, clock, policy) as cw:
        row = cw.session.exec(
            select(Deadline)
            .where(col(Deadline.id) == failure.acted.id, col(Deadline.status) == _OPEN)
            .with_for_update()
        ).first()
        if row is None:
            return
        row.attempts += 1
        row.result = failure.acted.result
        # an unknown kind is not this row's fault: it waits, due, for a process that knows it
        if row.attempts >= max_attempts and not failure.unknown:
            row.status = "failed"
            row.acted_at = cw.now_db()
        cw.session.add(row)


def run_planners(
    engine: Engine, clock: Clock, policy: Policy, planners: Sequence[Planner] | None = None
) -> tuple[int, int]:
    """Run each planner in its own transaction; returns (rows created, planners failed).

    A failing planner is logged and skipped; it must not stop the ladder's deadlines.
    """
    created = failed = 0
    for planner in kinds.PLANNERS if planners is None else planners:
        box = [0]
        token = deadlines.planned_rows.set(box)
        try:
            with unit_of_work(engine, clock, policy) as cw:
                planner(cw)
            created += box[0]
        except Exception:
            failed += 1
            log.exception("planner %s failed; the next tick runs it again", _name(planner))
        finally:
            deadlines.planned_rows.reset(token)
    return created, failed


def purge_conversations(engine: Engine, clock: Clock, policy: Policy, ttl_days: int) -> int:
    """The tick's housekeeping: abandoned conversations go (their own transaction; a
    failure is logged and must not stop the ladder's deadlines)."""
    try:
        with unit_of_work(engine, clock, policy) as cw:
            purged = retention.purge_abandoned_conversations(cw, ttl_days)
    except Exception:
        log.exception("purging abandoned conversations failed; the next tick tries again")
        return 0
    if purged:
        log.info("deleted %d conversations untouched for %d days", purged, ttl_days)
    return purged


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def tick(
    engine: Engine,
    clock: Clock,
    policy: Policy,
    *,
    batch_size: int = BATCH_SIZE,
    max_rows: int = MAX_PER_TICK,
    max_attempts: int = MAX_ATTEMPTS,
    planners: Sequence[Planner] | None = None,
    stop: threading.Event | None = None,
    conversation_ttl_days: int | None = None,
) -> TickReport:
    """One tick: housekeeping, plan calendar jobs, then act on everything due at the
    clock's time, in due order, one committed transaction per batch.

    ``stop`` ends the tick between batches (shutdown); what is left waits for the next.
    ``conversation_ttl_days``: delete conversations untouched that long (None: keep).
    """
    report = TickReport()
    if conversation_ttl_days is not None:
        report.purged = purge_conversations(engine, clock, policy, conversation_ttl_days)
    report.planned, report.planner_errors = run_planners(engine, clock, policy, planners)
    cutoff = clock.now()
    failed: set[int] = set()
    while len(report.acted) < max_rows:
        if stop is not None and stop.is_set():
            break
        try:
            with unit_of_work(engine, clock, policy) as cw:
                batch = claim(cw, cutoff, min(batch_size, max_rows - len(report.acted)), skip=failed)
                acted = [a for d in batch if (a := act(cw, d))]
        except RowFailed as failure:
            # the whole batch was rolled back; note the failure, redo the rest without it
            if failure.unknown:
                log.error(
                    "deadline %s has kind %r, which no handler in this process knows "
                    "(casework.kinds): NOT done, it stays due and is retried next tick",
                    failure.acted.id, failure.acted.kind,
                )
            else:
                log.error("deadline %s (%s) failed; retried next tick", failure.acted.id,
                          failure.acted.kind, exc_info=failure.__cause__)
            _record_failure(engine, clock, policy, failure, max_attempts)
            failed.add(failure.acted.id)
            report.acted.append(failure.acted)
            continue
        # committed: only now does the batch count as done
        if not batch:
            break
        report.batches += 1
        report.acted += acted
    else:
        report.truncated = True
        log.warning("tick stopped after %d rows; the next tick goes on", max_rows)
    if report.acted:
        log.info(
            "tick: %d due rows acted on in %d batches (%d failed)",
            len(report.acted), report.batches, len(report.errors),
        )
    return report
