"""Who answers for whom: the line of supervision above each user.

Used when someone drops out of reach (they blocked the bot): the person one level up is
told, so the work does not silently stop. The line follows the units of
:mod:`casework.scope`: a teacher's school administrator, a school administrator's or
village cadre's township officer, a township officer's county officer, and above the
county the system operator.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from casework.context import Casework
from models.tables import School, SchoolClass, TeacherClass, Township, User, Village

# one rung of the line: the role that answers, the scope kind and unit it answers for
Rung = tuple[str, str, int | None]


def _school_of_teacher(session: Session, user: User) -> int | None:
    if user.scope_kind == "school":
        return user.scope_id
    return session.exec(
        select(SchoolClass.school_id)
        .join(TeacherClass, col(TeacherClass.class_id) == col(SchoolClass.id))
        .where(TeacherClass.user_id == user.id)
        .order_by(col(SchoolClass.id))
    ).first()


def _township_of(session: Session, kind: str, unit_id: int | None) -> int | None:
    if unit_id is None:
        return None
    if kind == "township":
        return unit_id
    if kind == "school":
        school = session.get(School, unit_id)
        return school.township_id if school else None
    if kind == "village":
        village = session.get(Village, unit_id)
        return village.township_id if village else None
    return None


def _county_of_township(session: Session, township_id: int | None) -> int | None:
    township = session.get(Township, township_id) if township_id is not None else None
    return township.county_id if township else None


def supervision_line(session: Session, user: User) -> list[Rung]:
    """The rungs above ``user``, nearest first (empty for the system operator)."""
    rungs: list[Rung] = []
    township_id: int | None = None
    if user.role == "teacher":
        school_id = _school_of_teacher(session, user)
        rungs.append(("school_admin", "school", school_id))
        township_id = _township_of(session, "school", school_id)
    elif user.role in ("school_admin", "village_cadre"):
        township_id = _township_of(session, user.scope_kind, user.scope_id)
    elif user.role == "township_officer":
        township_id = user.scope_id
    if user.role in ("teacher", "school_admin", "village_cadre"):
        rungs.append(("township_officer", "township", township_id))
    if user.role in ("teacher", "school_admin", "village_cadre", "township_officer"):
        rungs.append(("county_officer", "county", _county_of_township(session, township_id)))
    if user.role != "admin":
        rungs.append(("admin", "all", None))
    return rungs


def supervisor_of(session: Session, user: User) -> User | None:
    """The nearest active, reachable person above ``user``, or ``None``.

    A rung with nobody on it (no school administrator has joined yet) or only people the
    bot cannot reach is skipped, so the news still lands with someone who can act.
    """
    for role, kind, unit_id in supervision_line(session, user):
        if kind != "all" and unit_id is None:
            continue
        query = select(User).where(
            User.role == role,
            User.scope_kind == kind,
            col(User.active).is_(True),
            col(User.unreachable).is_(False),
            col(User.telegram_id).is_not(None),
            col(User.id) != user.id,
        )
        if kind != "all":
            query = query.where(User.scope_id == unit_id)
        found = session.exec(query.order_by(col(User.id))).first()
        if found is not None:
            return found
    return None


def back_in_reach(cw: Casework, user: User) -> bool:
    """A user flagged unreachable (they had blocked the bot) wrote to it: they unblocked it,
    so reminders and alerts go to them again. Messages that failed meanwhile stay failed
    (they are stale; ``baoxue outbox retry`` can replay them)."""
    if not user.unreachable:
        return False
    user.unreachable = False
    cw.session.add(user)
    cw.audit(user, "user.reachable_again", "user", user.id)
    return True
