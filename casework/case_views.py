"""What the case views read beyond the case row: its guardians, its timeline, and who may be
handed it. Reads only; the actor's scope is checked by whoever loaded the case
(``cases.view_case``, ``ladder.load_case``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from casework import states
from casework.context import Casework
from casework.scope import users_for_case
from models.tables import Case, CaseEvent, Guardian, Student, User, Visit


def student_of(cw: Casework, case: Case) -> Student:
    student = cw.session.get(Student, case.student_id)
    assert student is not None  # a case's student is never deleted (foreign key)
    return student


def awaiting_enrolment(cw: Casework, case: Case) -> bool:
    """A case whose child has never been enrolled: it ends in enrolment at a school
    (``casework.enrolment``), not in a return to a school the child never had. Asked on
    several steps of a visit: a case at a school needs no query, and otherwise only the one
    column is read (a student row carries encrypted numbers that would be decrypted)."""
    if case.school_id is not None:
        return False
    enrolled = cw.session.exec(select(Student.enrolled).where(Student.id == case.student_id)).first()
    return enrolled is not None and not enrolled


def guardians(cw: Casework, student: Student) -> list[Guardian]:
    """The child's guardians, in the order they were recorded."""
    return list(cw.session.exec(
        select(Guardian).where(Guardian.student_id == student.id).order_by(col(Guardian.ordinal))
    ).all())


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's history: the event, the visit it records (if any), who did it."""

    event: CaseEvent
    visit: Visit | None
    actor: User | None
    assignee: User | None = None  # an "assigned" event: who was handed the case


def timeline(cw: Casework, case: Case) -> list[TimelineEntry]:
    """The case's events, oldest first, each with its visit and its actor."""
    events = cw.session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    visits = {v.id: v for v in cw.session.exec(select(Visit).where(Visit.case_id == case.id)).all()}
    return [
        TimelineEntry(
            event,
            visits.get(event.data.get("visit_id")) if event.kind == "visit" else None,
            cw.session.get(User, event.actor_id) if event.actor_id else None,
            cw.session.get(User, event.data["assignee_id"])
            if event.kind == "assigned" and event.data.get("assignee_id") else None,
        )
        for event in events
    ]


def last_visit(cw: Casework, case: Case) -> Visit | None:
    """The case's most recent visit by the day it happened (then by when it was recorded)."""
    return cw.session.exec(
        select(Visit).where(Visit.case_id == case.id)
        .order_by(col(Visit.visit_date).desc(), col(Visit.recorded_at).desc(), col(Visit.id).desc())
    ).first()


def assignees(cw: Casework, case: Case) -> list[User]:
    """Who may be handed ``case`` (``ladder.assign`` takes no one else): the active people
    of the assignable roles whose scope covers it, by role order."""
    return users_for_case(cw.session, case, states.ASSIGNEE_ROLES)
