"""Who may see what: role and scope checks, done on the server for every read and write.

A case is seen through both lines of responsibility (双线): the education line (class →
school → township of the school → county) and the administrative line (village →
township → county). Nothing that arrives in an update grants access; only these checks do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, or_, true
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from models.tables import Case, School, SchoolClass, Student, TeacherClass, Township, User, Village

ROLES = (
    "teacher",
    "school_admin",
    "village_cadre",
    "township_officer",
    "county_officer",
    "admin",
)

# the scope kind each role answers for
ROLE_SCOPE = {
    "teacher": "classes",
    "school_admin": "school",
    "village_cadre": "village",
    "township_officer": "township",
    "county_officer": "county",
    "admin": "all",
}


def teacher_class_ids(session: Session, user: User) -> list[int]:
    return list(
        session.exec(select(TeacherClass.class_id).where(TeacherClass.user_id == user.id)).all()
    )


def _township_villages(township_id: int) -> Any:
    return select(Village.id).where(Village.township_id == township_id)


def _township_schools(township_id: int) -> Any:
    return select(School.id).where(School.township_id == township_id)


def case_filter(session: Session, user: User) -> Any:
    """A SQL condition on ``Case`` that is true exactly for the cases the user may see."""
    if not user.active:
        return false()
    kind, sid = user.scope_kind, user.scope_id
    if user.role == "admin" and kind == "all":
        return true()
    if kind == "county":
        return Case.county_id == sid
    if kind == "township" and sid is not None:
        return or_(
            col(Case.village_id).in_(_township_villages(sid)),
            col(Case.school_id).in_(_township_schools(sid)),
        )
    if kind == "village":
        return Case.village_id == sid
    if kind == "school":
        return Case.school_id == sid
    if kind == "classes":  # a subquery: one round trip less than reading the classes first
        return col(Case.class_id).in_(select(TeacherClass.class_id).where(TeacherClass.user_id == user.id))
    return false()


def can_see_case(session: Session, user: User, case: Case) -> bool:
    return _covers(
        session,
        user,
        county_id=case.county_id,
        school_id=case.school_id,
        class_id=case.class_id,
        village_id=case.village_id,
    )


def student_units(session: Session, student: Student) -> dict[str, int | None]:
    """The units a student belongs to on both lines."""
    school_id = county_id = None
    if student.class_id is not None:
        klass = session.get(SchoolClass, student.class_id)
        if klass is not None:
            school_id = klass.school_id
    township_id = None
    if student.village_id is not None:
        village = session.get(Village, student.village_id)
        township_id = village.township_id if village else None
    if township_id is None and school_id is not None:
        school = session.get(School, school_id)
        township_id = school.township_id if school else None
    if township_id is not None:
        township = session.get(Township, township_id)
        county_id = township.county_id if township else None
    return {
        "county_id": county_id,
        "school_id": school_id,
        "class_id": student.class_id,
        "village_id": student.village_id,
    }


def can_see_student(session: Session, user: User, student: Student) -> bool:
    units = student_units(session, student)
    return _covers(session, user, **units)


def student_filter(session: Session, user: User) -> Any:
    """A SQL condition on ``Student`` for the students a user may see (rosters, search)."""
    if not user.active:
        return false()
    kind, sid = user.scope_kind, user.scope_id
    if user.role == "admin" and kind == "all":
        return true()
    classes_of_schools = select(SchoolClass.id).where(
        col(SchoolClass.school_id).in_(select(School.id).where(_school_in(kind, sid)))
    )
    if kind in ("county", "township"):
        villages = select(Village.id).where(_village_in(kind, sid))
        return or_(
            col(Student.village_id).in_(villages), col(Student.class_id).in_(classes_of_schools)
        )
    if kind == "village":
        return Student.village_id == sid
    if kind == "school":
        return col(Student.class_id).in_(classes_of_schools)
    if kind == "classes":
        ids = teacher_class_ids(session, user)
        return col(Student.class_id).in_(ids) if ids else false()
    return false()


def _school_in(kind: str, sid: int | None) -> Any:
    if kind == "county":
        return col(School.township_id).in_(select(Township.id).where(Township.county_id == sid))
    if kind == "township":
        return School.township_id == sid
    return School.id == sid


def _village_in(kind: str, sid: int | None) -> Any:
    if kind == "county":
        return col(Village.township_id).in_(select(Township.id).where(Township.county_id == sid))
    return Village.township_id == sid


def _covers(
    session: Session,
    user: User,
    *,
    county_id: int | None,
    school_id: int | None,
    class_id: int | None,
    village_id: int | None,
) -> bool:
    if not user.active:
        return False
    kind, sid = user.scope_kind, user.scope_id
    if user.role == "admin" and kind == "all":
        return True
    if kind == "county":
        return county_id is not None and county_id == sid
    if kind == "township":
        village = session.get(Village, village_id) if village_id is not None else None
        school = session.get(School, school_id) if school_id is not None else None
        return bool(
            (village is not None and village.township_id == sid)
            or (school is not None and school.township_id == sid)
        )
    if kind == "village":
        return village_id is not None and village_id == sid
    if kind == "school":
        return school_id is not None and school_id == sid
    if kind == "classes":
        return class_id is not None and class_id in teacher_class_ids(session, user)
    return False


def users_for_case(session: Session, case: Case, roles: Sequence[str]) -> list[User]:
    """Active users holding one of ``roles`` whose scope covers the case, by role order.

    One query, whatever the number of users: the scope test of ``can_see_case`` written
    as SQL (a county has thousands of teachers; testing each in Python cost a query each).
    Their phone numbers are not read (nor decrypted): messages go by Telegram id.
    """
    township_ids = {
        unit.township_id
        for unit in (
            session.get(Village, case.village_id) if case.village_id is not None else None,
            session.get(School, case.school_id) if case.school_id is not None else None,
        )
        if unit is not None
    }
    covers = [
        (col(User.role) == "admin") & (col(User.scope_kind) == "all"),
        (col(User.scope_kind) == "county") & (col(User.scope_id) == case.county_id),
    ]
    if township_ids:
        covers.append((col(User.scope_kind) == "township") & col(User.scope_id).in_(sorted(township_ids)))
    if case.village_id is not None:
        covers.append((col(User.scope_kind) == "village") & (col(User.scope_id) == case.village_id))
    if case.school_id is not None:
        covers.append((col(User.scope_kind) == "school") & (col(User.scope_id) == case.school_id))
    if case.class_id is not None:
        teachers = select(TeacherClass.user_id).where(TeacherClass.class_id == case.class_id)
        covers.append((col(User.scope_kind) == "classes") & col(User.id).in_(teachers))
    found = session.exec(
        select(User)
        .options(defer(User.phone))  # type: ignore[arg-type]
        .where(col(User.role).in_(list(roles)), col(User.active).is_(True), or_(*covers))
        .order_by(col(User.id))
    ).all()
    order = list(roles)
    return sorted(found, key=lambda u: order.index(u.role))


def unit_within(session: Session, actor: User | None, scope_kind: str, scope_id: int | None,
                class_ids: Sequence[int] = ()) -> bool:
    """Is a unit (an invite's, a user's) inside ``actor``'s scope? ``None``: the operator.

    Classes count as their school (they must all be of one school); a county covers its
    townships and what lies in them, a township its villages and schools, a school itself.
    """
    if actor is None or (actor.role == "admin" and actor.scope_kind == "all"):
        return True
    if not actor.active:
        return False

    def township_of(kind: str, unit_id: int | None) -> int | None:
        if unit_id is None:
            return None
        if kind == "township":
            return unit_id
        if kind == "village":
            v = session.get(Village, unit_id)
            return v.township_id if v else None
        if kind == "school":
            sc = session.get(School, unit_id)
            return sc.township_id if sc else None
        return None

    if scope_kind == "classes":
        schools = {k.school_id for k in (session.get(SchoolClass, c) for c in class_ids) if k}
        if len(schools) != 1:
            return False
        scope_kind, scope_id = "school", schools.pop()
    if actor.scope_kind == "county":
        if scope_kind == "county":
            return scope_id == actor.scope_id
        township = session.get(Township, township_of(scope_kind, scope_id) or 0)
        return township is not None and township.county_id == actor.scope_id
    if actor.scope_kind == "township":
        return township_of(scope_kind, scope_id) == actor.scope_id
    if actor.scope_kind == "school":
        return scope_kind == "school" and scope_id == actor.scope_id
    return False


def user_within(session: Session, actor: User | None, user: User) -> bool:
    """Is ``user``'s unit inside ``actor``'s scope? (A teacher's: their classes' school.)"""
    class_ids = teacher_class_ids(session, user) if user.scope_kind == "classes" else []
    return unit_within(session, actor, user.scope_kind, user.scope_id, class_ids)
