"""Deadlines are rows. This module writes them when a case changes, and says what a due
one means when the scheduler reaches it (``handle``).

Kinds:
- ``step``: the level's deadline; when it passes with the case still there, escalate
  (its handler is ``casework.ladder_timers``'s, as is ``resume``'s: they act on the ladder).
- ``round``: the next persuasion visit is due; when it passes, the responsible are told.
- ``reminder``: before a step or round deadline, at the policy's lead times.
- ``ack``: an escalation alert's grace; unacknowledged, the alert climbs one role up.
- ``promise``: the date a family promised the child would be back.
- ``retention``: a check-in after a child returned ("still attending?").
- ``resume``: a paused case's clock starts again.
- ``deferral_end`` / ``home_teaching``: outcome follow-ups.

Calendar jobs (attendance prompts, digests, reports) are caseless rows created by
:func:`plan_job`. Which handler acts on which kind, and which planners run, is written in
one place, ``casework.kinds``, which hands its table down to this module when imported
(:func:`install_kinds`); a row of a kind not registered there is refused when created and
never marked done when due (:class:`UnknownKind`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, func, select

from casework import bodies, notices, states
from casework.clock import from_db, to_db
from casework.context import Casework
from casework.policy import Duration, Level
from casework.scope import users_for_case
from models.tables import Case, Deadline, Visit

WORK_KINDS = ("step", "round")


def _add(
    cw: Casework,
    case: Case | None,
    kind: str,
    due: datetime,
    *,
    recipient_id: int | None = None,
    **payload: Any,
) -> Deadline:
    check_kind(kind)
    deadline = Deadline(
        case_id=case.id if case else None,
        kind=kind,
        due_at=to_db(due),
        recipient_id=recipient_id,
        payload=payload,
        created_at=cw.now_db(),
    )
    cw.session.add(deadline)
    return deadline


def cancel_open(cw: Casework, case: Case, kinds: Iterable[str] | None = None) -> None:
    """Cancel the case's open deadlines (of ``kinds``): one UPDATE, not a SELECT and then an
    UPDATE of the rows it found. Rows already in the session are updated with it (the
    ORM's synchronize_session), and rows still to be written are flushed first."""
    stmt = (
        update(Deadline)
        .where(col(Deadline.case_id) == case.id, col(Deadline.status) == "open")
        .values(status="cancelled", acted_at=cw.now_db())
    )
    if kinds is not None:
        stmt = stmt.where(col(Deadline.kind).in_(list(kinds)))
    cw.session.execute(stmt)


# built once: a visit, an escalation and the scheduler run these for every case they touch
_OPEN_OF_KIND = select(Deadline).where(
    Deadline.case_id == bindparam("case_id"), Deadline.status == "open", Deadline.kind == bindparam("kind")
)
_NEXT_DUE = select(func.min(Deadline.due_at)).where(
    Deadline.case_id == bindparam("case_id"),
    Deadline.status == "open",
    col(Deadline.kind).in_(WORK_KINDS),
)


def open_of_kind(cw: Casework, case: Case, kind: str) -> list[Deadline]:
    return list(cw.session.exec(_OPEN_OF_KIND, params={"case_id": case.id, "kind": kind}).all())


def next_due(cw: Casework, case: Case) -> datetime | None:
    """The case's nearest open working deadline (aware UTC), computed by the database."""
    due = cw.session.exec(_NEXT_DUE, params={"case_id": case.id}).one()
    return from_db(due) if due is not None else None


def _reminders(cw: Casework, case: Case, target: Deadline, level: Level) -> list[Deadline]:
    """Reminders at the policy's lead times before ``target``, skipping those already past."""
    cw.session.flush()
    due = from_db(target.due_at)
    due_day = cw.calendars.local_date(due)
    made: list[Deadline] = []
    seen: set[datetime] = set()
    for lead in cw.policy.reminders.lead:
        if lead.unit == "hours":
            at = due - timedelta(hours=lead.amount)
        else:
            at = cw.calendars.at_local(
                cw.calendars.before(due_day, lead), cw.policy.times.reminder_time
            )
        if at <= cw.now() or at >= due or at in seen:
            continue
        seen.add(at)
        # the level its target is on (a deferred case's round: "deferred", see deferral_round)
        on = target.payload.get("level", level.state)
        made.append(_add(cw, case, "reminder", at, target_id=target.id, level=on, lead=_lead(lead)))
    return made


def _lead(lead: Duration) -> str:
    return f"{lead.amount} {lead.unit}"


def schedule_level(
    cw: Casework, case: Case, level: Level, *, start: datetime, ack: bool = True
) -> list[Deadline]:
    """The deadlines of a level the case has just entered."""
    made: list[Deadline] = []
    if level.deadline is not None:
        begin = start
        if level.counts_from_absence and case.absent_since is not None:
            # "无故一个月未到校": the month is the child's, from the first day away
            begin = min(start, cw.calendars.at_local(case.absent_since, time(12, 0)))
        step = _add(cw, case, "step", cw.calendars.due_at(begin, level.deadline), level=level.state)
        made += [step, *_reminders(cw, case, step, level)]
    if level.round_interval is not None and (level.rounds is None or level.rounds > 0):
        rnd = _add(
            cw,
            case,
            "round",
            cw.calendars.due_at(start, level.round_interval),
            level=level.state,
            round=case.current_round + 1,
        )
        made += [rnd, *_reminders(cw, case, rnd, level)]
    if ack and level.requires_ack and level.notify:
        made.append(
            _add(
                cw,
                case,
                "ack",
                cw.calendars.due_at(start, cw.policy.escalation.ack_grace),
                level=level.state,
                # the roles rank who may take it (actions.may_acknowledge); the parties
                # say where it climbs from (on_ack)
                roles=[cw.policy.role_of(p) for p in level.notify],
                parties=list(level.notify),
            )
        )
    return made


def add_step(cw: Casework, case: Case, due: datetime) -> Deadline:
    """A level's step deadline again (a case held for a missing paper)."""
    return _add(cw, case, "step", due, level=case.level)


def after_visit(cw: Casework, case: Case, level: Level, visit: Visit) -> list[Deadline]:
    """A visit was recorded: the next round is due from its date."""
    made: list[Deadline] = []
    rounds_left = level.rounds is None or case.current_round < level.rounds
    if case.state == states.DEFERRED:
        start = cw.calendars.at_local(visit.visit_date, time(12, 0))
        made += deferral_round(cw, case, max(start, cw.now()))
    elif level.round_interval is not None and rounds_left:
        _cancel_round(cw, case)
        start = cw.calendars.at_local(visit.visit_date, time(12, 0))
        rnd = _add(
            cw,
            case,
            "round",
            cw.calendars.due_at(max(start, cw.now()), level.round_interval),
            level=level.state,
            round=case.current_round + 1,
        )
        made += [rnd, *_reminders(cw, case, rnd, level)]
    if visit.result == "promised" and visit.promised_return_on is not None:
        due = cw.calendars.at_local(visit.promised_return_on, cw.policy.times.deadline_time)
        if due > cw.now():
            made.append(_add(cw, case, "promise", due, visit_id=visit.id))
        made += _keep_promise(cw, case, level, visit.promised_return_on)
    return made


def _keep_promise(cw: Casework, case: Case, level: Level, promised: date) -> list[Deadline]:
    """The family promised the child back by ``promised``: no deadline of this level falls
    before that day plus the policy's grace (the next visit, the level's end). A row already
    later stays; a moved row's reminders are made again for its new date."""
    cw.session.flush()
    until = cw.calendars.due_at(
        cw.calendars.at_local(promised, cw.policy.times.deadline_time), cw.policy.promise.grace
    )
    moved: list[Deadline] = []
    for row in [*open_of_kind(cw, case, "step"), *open_of_kind(cw, case, "round")]:
        if from_db(row.due_at) >= until:
            continue
        row.due_at = to_db(until)
        row.payload = {**row.payload, "promise": promised.isoformat()}
        cw.session.add(row)
        for reminder in open_of_kind(cw, case, "reminder"):
            if reminder.payload.get("target_id") == row.id:
                reminder.status = "cancelled"
                reminder.acted_at = cw.now_db()
                cw.session.add(reminder)
        moved += [row, *_reminders(cw, case, row, level)]
    return moved


def _cancel_round(cw: Casework, case: Case) -> None:
    rounds = open_of_kind(cw, case, "round")
    ids = {d.id for d in rounds}
    for d in rounds:
        d.status = "cancelled"
        cw.session.add(d)
    for reminder in open_of_kind(cw, case, "reminder"):
        if reminder.payload.get("target_id") in ids:
            reminder.status = "cancelled"
            cw.session.add(reminder)


def schedule_guardian_check(cw: Casework, case: Case, due_on: date) -> Deadline:
    """The notice was issued: on the guardian's last day (``due_on``), at the reminder time,
    the responsible are asked whether the child is back (``casework.return_check``)."""
    at = max(cw.calendars.at_local(due_on, cw.policy.times.reminder_time), cw.now())
    return _add(cw, case, "return_check", at, due_on=due_on.isoformat())


def schedule_retention(cw: Casework, case: Case, returned_on: date) -> list[Deadline]:
    made = []
    for n, after in enumerate(cw.policy.retention.check_after, start=1):
        day = cw.calendars.add(returned_on, after)
        at = cw.calendars.at_local(day, cw.policy.times.reminder_time)
        made.append(_add(cw, case, "retention", max(at, cw.now()), n=n))
    return made


def schedule_home_teaching(cw: Casework, case: Case, after: date) -> list[Deadline]:
    """The next session's reminder, a period (``[home_teaching] every``) after ``after``."""
    start = cw.calendars.at_local(after, cw.policy.times.reminder_time)
    due = cw.calendars.due_at(start, cw.policy.home_teaching.every)
    return [_add(cw, case, "home_teaching", max(due, cw.now()))]


def schedule_outcome(cw: Casework, case: Case) -> list[Deadline]:
    if case.state == "home_teaching":
        first = cw.calendars.due_at(cw.now(), cw.policy.home_teaching.every)
        return [_add(cw, case, "home_teaching", first)]
    if case.state == "deferred" and case.outcome_until is not None:
        at = cw.calendars.at_local(case.outcome_until, cw.policy.times.reminder_time)
        return [_add(cw, case, "deferral_end", at), *deferral_round(cw, case, cw.now())]
    return []


def deferral_round(cw: Casework, case: Case, start: datetime) -> list[Deadline]:
    """The next visit due while a deferral runs, where the profile says persuasion goes on
    during it ([deferral] persuasion: tongnan's "并继续做好劝返复学工作"), with its reminders;
    the people responsible are those of the level the case was deferred from. Its rows
    stand on the "deferred" state: a return, an end of the deferral or another outcome
    leaves them stale."""
    rule = cw.policy.deferral
    if not rule.persuasion or rule.round_interval is None or case.level is None:
        return []
    if not cw.policy.has_level(case.level):  # type: ignore[arg-type]
        return []
    _cancel_round(cw, case)
    rnd = _add(cw, case, "round", cw.calendars.due_at(start, rule.round_interval),
               level=states.DEFERRED, round=case.current_round + 1)
    return [rnd, *_reminders(cw, case, rnd, cw.policy.level(case.level))]  # type: ignore[arg-type]


def schedule_resume(cw: Casework, case: Case, resume_on: date) -> list[Deadline]:
    return [_add(cw, case, "resume", cw.calendars.at_local(resume_on, time(0, 0)))]


# --- calendar jobs (caseless rows the planners in ``casework.kinds`` create) -----------------

# rows plan_job created while the current planner runs (the scheduler's run_planners count)
planned_rows: ContextVar[list[int] | None] = ContextVar("planned_rows", default=None)


def plan_job(
    cw: Casework,
    kind: str,
    due: datetime,
    *,
    key: str,
    recipient_id: int | None = None,
    **payload: Any,
) -> bool:
    """Create a caseless deadline row unless one with ``key`` exists; True if created.

    ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING``: a second process planning the
    same job at the same moment waits for the first's insert and then adds nothing.
    The key is the job's identity, e.g. ``"prompt:class:12:2026-11-23"`` (≤ 120 chars).
    A key is never reused, even after its row is done: the job ran.

    A planner runs every 30–60 s, so it must be cheap and idempotent: plan one row per
    job (one digest per township per day), not per recipient, and fan out in the kind's
    handler.
    """
    if len(key) > 120:
        raise ValueError(f"dedupe key longer than 120 characters: {key!r}")
    check_kind(kind)
    values = {
        "case_id": None,
        "kind": kind,
        "due_at": to_db(due),
        "status": "open",
        "recipient_id": recipient_id,
        "payload": payload,
        "created_at": cw.now_db(),
        "dedupe_key": key,
        "attempts": 0,
    }
    table = Deadline.__table__  # type: ignore[attr-defined]
    dialect = cw.session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(table).values(values).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).values(values).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    else:  # pragma: no cover - only the two supported databases
        stmt = sa_insert(table).values(values)
    # RETURNING gives a row only when one was inserted (rowcount is not reliable here)
    created = cw.session.execute(stmt.returning(table.c.id)).first() is not None
    box = planned_rows.get()
    if created and box is not None:
        box[0] += 1
    return created


# --- acting on a due deadline -------------------------------------------------------------


def due(cw: Casework, limit: int | None = None) -> list[Deadline]:
    query = (
        select(Deadline)
        .where(Deadline.status == "open", col(Deadline.due_at) <= cw.now_db())
        .order_by(col(Deadline.due_at), col(Deadline.id))
    )
    if limit is not None:
        query = query.limit(limit)
    return list(cw.session.exec(query).all())


def run_due(cw: Casework, limit: int | None = None) -> list[Deadline]:
    """Act on every due deadline in order (the scheduler's tick builds on this)."""
    handled: list[Deadline] = []
    while True:
        batch = due(cw, limit=50)
        if not batch:
            return handled
        for deadline in batch:
            if deadline.status != "open":
                continue  # cancelled by an earlier one in this batch
            handle(cw, deadline)
            handled.append(deadline)
            if limit is not None and len(handled) >= limit:
                return handled
        cw.session.flush()


Handler = Callable[[Casework, Deadline, Case | None], str]


@dataclass(frozen=True)
class Kind:
    """A kind of deadline row: its handler, and whether its rows have no case (calendar
    jobs, fanned out by the handler) rather than belonging to one case."""

    name: str
    handler: Handler
    caseless: bool = False


class UnknownKind(Exception):
    """A row's kind has no handler in this process (``casework.kinds``): it is not done,
    it stays due and is tried again, loudly, every tick."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"no handler for deadline kind {kind!r} in this process")
        self.kind = kind


# the table of kinds, installed by casework.kinds when it is imported: it lives above this
# module (it names handlers of modules that import this one), so it is handed down here
_kinds: Mapping[str, Kind] | None = None


def install_kinds(table: Mapping[str, Kind]) -> None:
    """Install the table of kinds (``casework.kinds`` does, once, when imported); the
    table itself, not a copy, is read when a row is created or handled."""
    global _kinds
    _kinds = table


def _registry() -> Mapping[str, Kind]:
    if _kinds is None:
        # a process that creates or acts on rows loads casework.kinds at start-up (the
        # bot's runtime, the scheduler, the tests' conftest do): never silently without it
        raise RuntimeError("no deadline kinds installed: import casework.kinds at start-up")
    return _kinds


def check_kind(kind: str) -> None:
    """Refuse to create a row no process of this version could act on."""
    if kind not in _registry():
        raise UnknownKind(kind)


def handle(cw: Casework, deadline: Deadline) -> str:
    """Do what a due deadline means and mark it done; returns what was done.

    Raises :class:`UnknownKind` (and leaves the row open) when the kind is not registered
    in ``casework.kinds``: a row is never marked done by a process that cannot do it.
    """
    kind = _registry().get(deadline.kind)
    if kind is None:
        raise UnknownKind(deadline.kind)
    case = cw.session.get(Case, deadline.case_id) if deadline.case_id else None
    no_case = case is None and not kind.caseless
    result = "no case" if no_case else kind.handler(cw, deadline, case)
    deadline.status = "done"
    deadline.acted_at = cw.now_db()
    deadline.result = result
    cw.session.add(deadline)
    return result


def on_round(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    if case.state != deadline.payload.get("level"):
        return "stale"
    if any(from_db(step.due_at) <= from_db(deadline.due_at) for step in open_of_kind(cw, case, "step")):
        # the level's own deadline falls now too: the case moves up, which says it all
        return "the step decides"
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    users = bodies.responsible(cw, case, level)
    notices.visit_overdue(cw, case, users, deadline)
    return f"overdue notice to {len(users)}"


def on_reminder(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    target = cw.session.get(Deadline, deadline.payload.get("target_id"))
    if target is None or target.status != "open" or case.state != deadline.payload.get("level"):
        return "stale"
    if _asked_that_day(cw, case, target, deadline):
        return "folded into the return check"
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    users = bodies.responsible(cw, case, level)
    notices.reminder(cw, case, users, target, deadline)
    return f"reminded {len(users)}"


def _asked_that_day(cw: Casework, case: Case, target: Deadline, reminder: Deadline) -> bool:
    """On the guardian's last day the responsible are asked "is the child back?": the
    step's own reminder of that day would only say the same thing twice."""
    if target.kind != "step":
        return False
    day = cw.calendars.local_date(from_db(reminder.due_at)).isoformat()
    return any(row.payload.get("due_on") == day for row in open_of_kind(cw, case, "return_check"))


def on_ack(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """Nobody took the alert in time: it climbs the policy's own chain from the highest
    party it went to, to the next party that has someone for this case; past the top of
    the chain it goes nowhere (the system administrator only where the chain names them)."""
    assert case is not None
    chain = list(cw.policy.escalation.ack_chain)
    alerted = list(deadline.payload.get("parties") or deadline.payload.get("roles", []))
    top = max((chain.index(r) for r in alerted if r in chain), default=-1)
    for party in chain[top + 1 :]:
        users = bodies.people(cw, case, [party])
        if not users:
            continue
        highest = max(alerted, key=lambda p: chain.index(p) if p in chain else -1, default=None)
        notices.unacknowledged(cw, case, users, [highest] if highest else [])
        _add(
            cw,
            case,
            "ack",
            cw.calendars.due_at(cw.now(), cw.policy.escalation.ack_grace),
            level=case.level,
            roles=[cw.policy.role_of(party)],
            parties=[party],
        )
        return f"climbed to {party}"
    return "no one higher"


def on_retention(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    if case.state not in ("returned", "retention"):
        return "stale"
    users = users_for_case(cw.session, case, ["teacher", "school_admin", "village_cadre"])
    notices.retention_check(cw, case, users[:1] or users, deadline.payload.get("n", 1))
    return "check-in sent"


def on_deferral_end(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    if case.state != "deferred":
        return "stale"
    users = users_for_case(cw.session, case, ["school_admin", "township_officer"])
    notices.deferral_ended(cw, case, users)
    return f"told {len(users)}"


def on_home_teaching(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    if case.state != "home_teaching":
        return "stale"
    users = users_for_case(cw.session, case, ["teacher", "school_admin"])
    notices.home_teaching_due(cw, case, users[:1] or users)
    _add(cw, case, "home_teaching", cw.calendars.due_at(cw.now(), cw.policy.home_teaching.every))
    return "session reminder sent"
