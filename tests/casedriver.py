"""A test driver for the case ladder: one unit of work per action or scheduler tick.

Tests drive a case the way production will: every action runs in its own
``casework.uow.unit_of_work`` (one session, one transaction), and time passes only when a
test moves the injected :class:`~casework.clock.FrozenClock` and runs ``deadlines.run_due``
as the scheduler's tick will. What the database then holds is read back as short strings
(``"step school_persuasion 2026-09-23 17:30 done"``) so a test can state the whole
expected history as literals and a failure shows a readable diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from casework import actions, deadlines, ladder, outcomes
from casework.clock import FrozenClock, from_db
from casework.codes import EVIDENCE_KINDS
from casework.context import Casework
from casework.policy import Policy
from casework.uow import unit_of_work
from demo.county import World
from models.tables import (
    AuditEvent,
    Case,
    CaseEvent,
    Deadline,
    Guardian,
    OutboxMessage,
    Proposal,
    Student,
    User,
    Visit,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# a clear photo of every kind of evidence a policy may ask for, so a test proposing any
# outcome carries what the policy names (tests of the evidence rule itself build their own)
PROOF: tuple[dict[str, Any], ...] = tuple(
    {"kind": "photo", "file_id": f"PROOF-{kind}", "width": 1280, "height": 960, "evidence_kind": kind}
    for kind in EVIDENCE_KINDS
)


def reviewer_for(cw: Casework, proposal_id: int, users: Iterable[User]) -> User:
    """The first of ``users`` who may decide the proposal (never its proposer)."""
    proposal = cw.session.get(Proposal, proposal_id)
    assert proposal is not None
    case = cw.session.get(Case, proposal.case_id)
    assert case is not None
    for user in users:
        if actions.may_decide(cw, user, case, proposal):
            return user
    raise AssertionError(f"nobody may decide proposal {proposal_id}")


def close_out(cw: Casework, proposer: User, case_id: int, users: Iterable[User],
              note: str = "连续在校两周") -> User:
    """销号 as it is done: the proposer attaches the photo, a reviewer approves. Returns the reviewer."""
    out = outcomes.close_out(cw, proposer, case_id, note=note, evidence=PROOF)
    assert out.proposal is not None and out.proposal.id is not None
    reviewer = reviewer_for(cw, out.proposal.id, users)
    outcomes.decide_outcome(cw, reviewer, out.proposal.id, approve=True)
    return reviewer

# the people responsible for a pupil of 梅林中学 七年级1班 who lives in 上坪村 (梅林镇)
ALIASES = ("teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin")

T = TypeVar("T")


def local(*args: int) -> datetime:
    """A wall-clock time in the policies' time zone (Asia/Shanghai)."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def shown(when: datetime) -> str:
    """A stored instant as local "YYYY-MM-DD HH:MM"."""
    return from_db(when).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


class Run:
    """One county's ladder on one database, driven action by action."""

    def __init__(self, engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy
        self.world = world
        # numbered keys first, so the aliases of the in-scope people win; a message to
        # anyone else shows up under a numbered key ("township_officer2") and fails a test
        self.names: dict[int, str] = {}
        for key, user in world.users.items():
            if key not in ALIASES:
                self.names[user.id or 0] = key
        for key in ALIASES:
            self.names[world.users[key].id or 0] = key

    # ------------------------------------------------------------------ time and actions

    def start(self, *when: int) -> None:
        """Where the story starts (the conftest's clock is 2026-11-23 09:00)."""
        self.clock.set(local(*when))

    def at(self, *when: int) -> None:
        """Set the clock to a local wall-clock time (never backwards)."""
        target = local(*when)
        assert target >= self.clock.now(), f"the clock cannot go back to {target}"
        self.clock.set(target)

    def do(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one ladder action in its own unit of work; ``args`` follow the context."""
        with unit_of_work(self.engine, self.clock, self.policy) as cw:
            return action(cw, *args, **kwargs)

    def tick(self, *when: int) -> list[str]:
        """Move the clock to ``when`` and run the scheduler's tick: "kind: result" per row."""
        self.at(*when)
        with unit_of_work(self.engine, self.clock, self.policy) as cw:
            handled = deadlines.run_due(cw)
            return [f"{d.kind}: {d.result}" for d in handled]

    def user(self, key: str) -> User:
        return self.world.users[key]

    def close_out(self, case_id: int, proposer: str = "school_admin", note: str = "连续在校两周") -> str:
        """Propose 销号 with the photo and have it approved; returns the reviewer's key."""
        with unit_of_work(self.engine, self.clock, self.policy) as cw:
            reviewer = close_out(cw, self.user(proposer), case_id, self.world.users.values(), note)
        return self.names[reviewer.id or 0]

    def student(self, index: int = 0) -> Student:
        """The ``index``-th pupil of 七年级1班 living in 上坪村 (so the aliases are in scope)."""
        pupils = [
            s
            for s in self.world.students_of_class(self.world.classes[4])
            if s.village_id == self.world.villages[0].id
        ]
        return pupils[index]

    def report(self, actor: str = "teacher", student: int = 0, **kwargs: Any) -> int:
        kwargs.setdefault("reasons", ("learning",))
        data = ladder.ReportInput(student_id=self.student(student).id, **kwargs)
        return self.do(ladder.report, self.user(actor), data).case.id or 0

    def visit(
        self, actor: str, case_id: int, method: str, result: str, **kwargs: Any
    ) -> ladder.Outcome:
        """A visit dated today (the clock's local date), as a phone would record it."""
        with unit_of_work(self.engine, self.clock, self.policy) as cw:
            data = ladder.VisitInput(visit_date=cw.today(), method=method, result=result, **kwargs)
            return ladder.record_visit(cw, self.user(actor), case_id, data)

    # ------------------------------------------------------------------ reading back

    def case(self, case_id: int) -> Case:
        with Session(self.engine) as s:
            case = s.get(Case, case_id)
            assert case is not None
            return case

    def deadlines(self, case_id: int, kinds: tuple[str, ...] = ("step", "round")) -> list[str]:
        """The case's deadline rows of ``kinds`` in the order they were written."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(Deadline)
                .where(Deadline.case_id == case_id, col(Deadline.kind).in_(kinds))
                .order_by(col(Deadline.id))
            ).all()
            out = []
            for d in rows:
                what = d.payload.get("level", "")
                if d.kind == "round":
                    what += f" #{d.payload['round']}"
                if d.kind == "ack":
                    what += " " + ",".join(d.payload.get("roles", []))
                out.append(f"{d.kind} {what} {shown(d.due_at)} {d.status}".replace("  ", " "))
            return out

    def open_deadlines(self, case_id: int) -> list[str]:
        """Every open row of the case, any kind: "kind local-due"."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(Deadline)
                .where(Deadline.case_id == case_id, Deadline.status == "open")
                .order_by(col(Deadline.due_at), col(Deadline.id))
            ).all()
            return [f"{d.kind} {shown(d.due_at)}" for d in rows]

    def events(self, case_id: int) -> list[str]:
        """The case's events: "who: kind from → to", escalations with their reason."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
            ).all()
            out = []
            for e in rows:
                who = "scheduler" if e.actor_id is None else self.names[e.actor_id]
                line = f"{who}: {e.kind} {e.from_state or '-'} → {e.to_state}"
                if e.kind == "escalated":
                    line += f" ({e.data['reason']})"
                out.append(line)
            return out

    def visits(self, case_id: int) -> list[str]:
        """The case's visits: "date level #round method result"."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(Visit).where(Visit.case_id == case_id).order_by(col(Visit.id))
            ).all()
            return [
                f"{v.visit_date.isoformat()} {v.level} #{v.round} {v.method} {v.result}"
                for v in rows
            ]

    def mark(self) -> int:
        """The outbox's high-water mark: pass it to :meth:`messages` later."""
        with Session(self.engine) as s:
            return s.exec(select(func.max(OutboxMessage.id))).one() or 0

    def messages(self, since: int) -> list[str]:
        """Outbox messages written after ``since``: "kind → recipient", sorted."""
        with Session(self.engine) as s:
            rows = s.exec(
                select(OutboxMessage).where(col(OutboxMessage.id) > since)
            ).all()
            return sorted(f"{m.kind} → {self.names[m.recipient_id]}" for m in rows)

    def counts(self) -> dict[str, int]:
        """Rows per table: what a refused action must leave unchanged."""
        tables = (Case, CaseEvent, Visit, Deadline, Proposal, OutboxMessage, AuditEvent,
                  Student, Guardian)
        with Session(self.engine) as s:
            return {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in tables}

    def snapshot(self, case_id: int) -> dict[str, Any]:
        """The case row and its deadline rows, to compare before and after a refusal."""
        with Session(self.engine) as s:
            case = s.get(Case, case_id)
            assert case is not None
            rows = s.exec(select(Deadline).where(Deadline.case_id == case_id)).all()
            return {
                "case": case.model_dump(),
                "deadlines": sorted((d.id, d.status, d.due_at) for d in rows),
            }
