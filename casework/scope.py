"""Who may see what: role and scope checks, done on the server for every read and write.

A case is seen through both lines of responsibility (双线): the education line (class →
school → township of the school → county) and the administrative line (village →
township → county). Nothing that arrives in an update grants access; only these checks do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Integer, and_, bindparam, false, func, literal, or_, true
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from models.tables import (
    Case,
    School,
    SchoolClass,
    Student,
    TeacherClass,
    Township,
    User,
    VerificationEntry,
    Village,
)

ROLES = (
    "teacher",
    "school_admin",
    "village_cadre",
    "township_officer",
    "county_officer",
    "judicial_officer",
    "admin",
)

# the scope kind each role answers for
ROLE_SCOPE = {
    "teacher": "classes",
    "school_admin": "school",
    "village_cadre": "village",
    "township_officer": "township",
    "county_officer": "county",
    # 司法所 / 区司法部门: the county's legal step (DESIGN §2)
    "judicial_officer": "county",
    "admin": "all",
}


def teacher_class_ids(session: Session, user: User) -> list[int]:
    return list(
        session.exec(select(TeacherClass.class_id).where(TeacherClass.user_id == user.id)).all()
    )


class Units(NamedTuple):
    """The units a case or a student belongs to on both lines, as SQL expressions: columns
    (to filter cases or students for one user) or bound values (to find the users who see
    one case)."""

    # Any: SQLModel types its columns as plain values (``Mapped[int]``)
    county: Any
    school: Any
    klass: Any
    village: Any


CASE_UNITS = Units(col(Case.county_id), col(Case.school_id), col(Case.class_id), col(Case.village_id))


def _student_units(klass: Any, village: Any) -> Units:
    """A student's units from their class and village; the county is the village's
    township's, else the school's (as a case records it, ``student_units``). Each
    subquery is one level deep, so it correlates with the student's row."""
    school = select(SchoolClass.school_id).where(SchoolClass.id == klass).scalar_subquery()
    county_of_village = (
        select(Township.county_id)
        .join(Village, col(Village.township_id) == col(Township.id))
        .where(Village.id == village)
        .scalar_subquery()
    )
    county_of_school = (
        select(Township.county_id)
        .join(School, col(School.township_id) == col(Township.id))
        .join(SchoolClass, col(SchoolClass.school_id) == col(School.id))
        .where(SchoolClass.id == klass)
        .scalar_subquery()
    )
    return Units(func.coalesce(county_of_village, county_of_school), school, klass, village)


STUDENT_UNITS = _student_units(col(Student.class_id), col(Student.village_id))

SCOPE_KINDS = ("county", "township", "village", "school", "classes")


def _within(kind: str, scope_id: Any, user_id: Any, units: Units) -> ColumnElement[bool]:
    """The rule itself: the unit ``scope_id`` of kind ``kind`` (for a teacher, the classes
    of ``user_id``) covers ``units``. Either side may be columns or bound values."""
    if kind == "county":
        found = units.county == scope_id
    elif kind == "township":  # both lines: the township of the village or of the school
        found = or_(
            units.village.in_(select(Village.id).where(Village.township_id == scope_id)),
            units.school.in_(select(School.id).where(School.township_id == scope_id)),
        )
    elif kind == "village":
        found = units.village == scope_id
    elif kind == "school":
        found = units.school == scope_id
    elif kind == "classes":  # a subquery: one round trip less than reading the classes first
        found = units.klass.in_(select(TeacherClass.class_id).where(TeacherClass.user_id == user_id))
    else:
        found = false()
    return cast("ColumnElement[bool]", found)


def _rule(user: User) -> bool | str:
    """What decides what ``user`` sees: all or nothing, or their unit of this kind."""
    if not user.active:
        return False
    if user.role == "admin" and user.scope_kind == "all":
        return True
    if user.scope_id is None and user.scope_kind != "classes":
        return False  # not ``IS NULL``, which a comparison with None would write
    return user.scope_kind


def visible(user: User, units: Units) -> ColumnElement[bool]:
    """A SQL condition, true exactly for what ``user`` may see of ``units``."""
    rule = _rule(user)
    if isinstance(rule, bool):
        return true() if rule else false()
    return _within(rule, user.scope_id, user.id, units)


def visible_cases(user: User) -> ColumnElement[bool]:
    """A SQL condition on ``Case`` that is true exactly for the cases the user may see."""
    return visible(user, CASE_UNITS)


# :func:`visible_cases` with the user's ids as parameters, one condition per scope kind: a
# statement built around it once serves every user of that kind
_VISIBLE_CASES = {
    kind: _within(kind, bindparam("scope_id", type_=Integer), bindparam("user_id", type_=Integer), CASE_UNITS)
    for kind in SCOPE_KINDS
}


def visible_cases_bound(user: User) -> tuple[str | bool, ColumnElement[bool], dict[str, Any]]:
    """:func:`visible_cases` as a condition shared by every user of the same kind, with this
    user's values for its parameters; the first value names the condition (a statement
    built around it can be kept under that name)."""
    rule = _rule(user)
    if isinstance(rule, str) and rule in _VISIBLE_CASES:
        return rule, _VISIBLE_CASES[rule], {"scope_id": user.scope_id, "user_id": user.id}
    seen = rule is True
    return seen, (true() if seen else false()), {}


def visible_students(user: User) -> ColumnElement[bool]:
    """A SQL condition on ``Student`` for the students a user may see (rosters, search)."""
    return visible(user, STUDENT_UNITS)


ENTRY_UNITS = Units(col(VerificationEntry.county_id), col(VerificationEntry.school_id),
                    col(VerificationEntry.class_id), col(VerificationEntry.village_id))


def visible_entries(user: User) -> ColumnElement[bool]:
    """A SQL condition on ``VerificationEntry`` (核查): the same rule over the unit the
    child was assigned to; a child no village or school could be assigned to lies with its
    township (to assign), which sees it as it sees its villages."""
    found = visible(user, ENTRY_UNITS)
    if user.active and user.scope_kind == "township" and user.scope_id is not None:
        unassigned = and_(
            col(VerificationEntry.township_id) == user.scope_id,
            col(VerificationEntry.village_id).is_(None),
            col(VerificationEntry.school_id).is_(None),
        )
        found = or_(found, unassigned)
    return found


def entries_within(kind: str, unit_id: int) -> ColumnElement[bool]:
    """A SQL condition on ``VerificationEntry``: the children of a round inside one unit
    (figures narrowed to a township), those left with the township to assign included."""
    found = _within(kind, unit_id, None, ENTRY_UNITS)
    if kind == "township":
        found = or_(found, and_(col(VerificationEntry.township_id) == unit_id,
                                col(VerificationEntry.village_id).is_(None),
                                col(VerificationEntry.school_id).is_(None)))
    return found


def cases_within(kind: str, unit_id: int) -> ColumnElement[bool]:
    """A SQL condition on ``Case``: the cases inside one unit (an export narrowed to it)."""
    return _within(kind, unit_id, None, CASE_UNITS)


def seeing(units: Units) -> ColumnElement[bool]:
    """The inverse of :func:`visible`: a SQL condition on ``User``, true for the users who
    see ``units`` (the same rule, with the user's side as columns)."""
    return and_(
        col(User.active).is_(True),
        or_(
            and_(col(User.role) == "admin", col(User.scope_kind) == "all"),
            *(
                and_(col(User.scope_kind) == kind, _within(kind, col(User.scope_id), col(User.id), units))
                for kind in SCOPE_KINDS
            ),
        ),
    )


def _unit_ids(case: Case) -> Units:
    return Units(case.county_id, case.school_id, case.class_id, case.village_id)


def case_units(case: Case) -> Units:
    """One case's units as bound values (the case need not be saved)."""
    return Units(*(literal(unit, Integer) for unit in _unit_ids(case)))


# one case's units as named parameters (``_unit_values``): the statements below are built
# once, as building them (and their cache keys) cost three times what running them does
_UNIT_PARAMS = Units(*(bindparam(name, type_=Integer) for name in Units._fields))


def _unit_values(case: Case) -> dict[str, Any]:
    return _unit_ids(case)._asdict()


# :func:`visible` for one case, for a user of each scope kind
_CAN_SEE = {
    kind: select(_within(kind, bindparam("scope_id", type_=Integer), bindparam("user_id", type_=Integer),
                         _UNIT_PARAMS))
    for kind in SCOPE_KINDS
}


def can_see_case(session: Session, user: User, case: Case) -> bool:
    """The check every read and write of a case makes: :func:`visible` run for this case."""
    rule = _rule(user)
    if isinstance(rule, bool):
        return rule
    stmt = _CAN_SEE.get(rule)
    if stmt is None:
        return False  # a scope kind :func:`_within` does not know
    params = {"scope_id": user.scope_id, "user_id": user.id, **_unit_values(case)}
    return bool(session.execute(stmt, params).scalar())


def can_see_student(session: Session, user: User, student: Student) -> bool:
    """:func:`visible` run for one student (who need not be saved yet)."""
    units = _student_units(literal(student.class_id, Integer), literal(student.village_id, Integer))
    return bool(session.exec(select(visible(user, units))).one())


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




_USERS_FOR_CASE = (
    select(User)
    .options(defer(User.phone))  # type: ignore[arg-type]
    .where(col(User.role).in_(bindparam("roles", expanding=True)), seeing(_UNIT_PARAMS))
    .order_by(col(User.id))
)


def users_for_case(session: Session, case: Case, roles: Sequence[str]) -> list[User]:
    """Active users holding one of ``roles`` who see the case (:func:`seeing`), by role order.

    One query, whatever the number of users (a county has thousands of teachers). Their
    phone numbers are not read (nor decrypted): messages go by Telegram id.
    """
    found = session.exec(_USERS_FOR_CASE, params={"roles": list(roles), **_unit_values(case)}).all()
    order = list(roles)
    return sorted(found, key=lambda u: order.index(u.role))


def township_of(session: Session, kind: str, unit_id: int | None) -> int | None:
    """The township a unit (a township, village or school) lies in; None for any other."""
    if unit_id is None:
        return None
    if kind == "township":
        return unit_id
    if kind == "village":
        village = session.get(Village, unit_id)
        return village.township_id if village else None
    if kind == "school":
        school = session.get(School, unit_id)
        return school.township_id if school else None
    return None


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

    if scope_kind == "classes":
        schools = {k.school_id for k in (session.get(SchoolClass, c) for c in class_ids) if k}
        if len(schools) != 1:
            return False
        scope_kind, scope_id = "school", schools.pop()
    if actor.scope_kind == "county":
        if scope_kind == "county":
            return scope_id == actor.scope_id
        township = session.get(Township, township_of(session, scope_kind, scope_id) or 0)
        return township is not None and township.county_id == actor.scope_id
    if actor.scope_kind == "township":
        return township_of(session, scope_kind, scope_id) == actor.scope_id
    if actor.scope_kind == "school":
        return scope_kind == "school" and scope_id == actor.scope_id
    return False


def user_within(session: Session, actor: User | None, user: User) -> bool:
    """Is ``user``'s unit inside ``actor``'s scope? (A teacher's: their classes' school.)"""
    class_ids = teacher_class_ids(session, user) if user.scope_kind == "classes" else []
    return unit_within(session, actor, user.scope_kind, user.scope_id, class_ids)
