"""Students an actor may pick from: a teacher's class rosters, a cadre's village, an
officer's township or county — always through the scope filter. A search's results are
audited (``Casework.audit_list``), like a view of one case."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select

from casework.context import Casework
from casework.scope import visible_students
from models.tables import SchoolClass, Student, User

MAX_RESULTS = 40


def roster(cw: Casework, actor: User, limit: int = 400) -> list[Student]:
    """The students in the actor's scope, by class and name.

    Not audited here: a picker's options are also built to check a tapped answer, when
    nothing is shown; the page shown is audited with :func:`audit_shown`."""
    return list(
        cw.session.exec(
            select(Student)
            .where(visible_students(actor))
            .order_by(col(Student.class_id), col(Student.name))
            .limit(limit)
        ).all()
    )


def search(cw: Casework, actor: User, text: str) -> list[Student]:
    """Students in scope whose name contains ``text`` (typed part of a name)."""
    needle = text.strip()
    if not needle:
        return []
    found = list(
        cw.session.exec(
            select(Student)
            .where(visible_students(actor), col(Student.name).contains(needle))
            .order_by(col(Student.name))
            .limit(MAX_RESULTS)
        ).all()
    )
    # audited like a case view; the typed text is part of a child's name: not recorded
    cw.audit_list(actor, "student.search", "student", [s.id for s in found])
    return found


def class_of(cw: Casework, student: Student) -> SchoolClass | None:
    return cw.session.get(SchoolClass, student.class_id) if student.class_id else None


def audit_shown(cw: Casework, actor: User, codes: Sequence[str]) -> None:
    """A page of a student picker was shown (option codes: student ids, and others such
    as "register a new child" that name nobody)."""
    ids = [int(c) for c in codes if c.isdigit()]
    cw.audit_list(actor, "student.list", "student", ids, view="picker")
