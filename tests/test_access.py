"""Scope is checked on the server for every read and write; refusals change nothing and
are written to the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select, update

from casework import cases, ladder
from casework.clock import FrozenClock
from casework.errors import AccessDenied, ValidationError
from casework.policy import Policy
from casework.scope import (
    ROLES,
    can_see_case,
    can_see_student,
    student_units,
    users_for_case,
    visible_cases,
    visible_students,
)
from casework.uow import unit_of_work
from demo.county import World
from models.tables import (
    AuditEvent,
    Case,
    CaseEvent,
    County,
    Deadline,
    Guardian,
    School,
    Student,
    TeacherClass,
    Township,
    User,
    Village,
    Visit,
)


def _open_case(engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> int:
    teacher = world.users["teacher"]  # 梅林中学 七年级1班
    student = world.students_of_class(world.classes[4])[0]
    with unit_of_work(engine, clock, policy) as cw:
        out = ladder.report(
            cw, teacher, ladder.ReportInput(student_id=student.id, reasons=("learning",))
        )
        return out.case.id or 0


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            t.__name__: s.exec(select(func.count()).select_from(t)).one()
            for t in (Case, CaseEvent, Visit, Deadline, Student, Guardian)
        }


def _denials(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.allowed == False)).all())  # noqa: E712


@pytest.mark.parametrize(
    "outsider",
    ["teacher2", "village_cadre3", "school_admin1", "township_officer2"],
    ids=["teacher of another class", "cadre of another village", "admin of another school",
         "officer of another township"],
)
def test_outsider_can_neither_read_nor_change_a_case(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World, outsider: str
) -> None:
    case_id = _open_case(engine, clock, policy, world)
    before = _counts(engine)
    user = world.users[outsider]

    with pytest.raises(AccessDenied) as err, unit_of_work(engine, clock, policy) as cw:
        cases.view_case(cw, user, case_id)
    assert "not responsible" in err.value.render("en")

    visit = ladder.VisitInput(visit_date=date(2026, 11, 23), method="phone", result="refused")
    with pytest.raises(AccessDenied), unit_of_work(engine, clock, policy) as cw:
        ladder.record_visit(cw, user, case_id, visit)
    with pytest.raises(AccessDenied), unit_of_work(engine, clock, policy) as cw:
        ladder.mark_returned(cw, user, case_id)

    assert _counts(engine) == before
    with Session(engine) as s:
        assert s.get(Case, case_id).state == "suspected"  # type: ignore[union-attr]
    denials = _denials(engine)
    assert [(d.actor_id, d.action, d.object_id) for d in denials] == [
        (user.id, "view", case_id),
        (user.id, "record_visit", case_id),
        (user.id, "mark_returned", case_id),
    ]


def test_insiders_on_both_lines_see_the_case(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    case_id = _open_case(engine, clock, policy, world)
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None
        village_index = next(i for i, v in enumerate(world.villages) if v.id == case.village_id)
    insiders = ["teacher", "school_admin", f"village_cadre{village_index + 1}",
                "township_officer", "county_officer", "admin"]
    for key in insiders:
        with unit_of_work(engine, clock, policy) as cw:
            assert cases.view_case(cw, world.users[key], case_id).id == case_id
            assert [c.id for c in cases.cases_for(cw, world.users[key])] == [case_id]
    with unit_of_work(engine, clock, policy) as cw:
        assert cases.cases_for(cw, world.users["teacher2"]) == []
        assert cases.cases_for(cw, world.users["township_officer2"]) == []


def test_reporting_a_student_of_another_class_is_refused_and_audited(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    stranger = world.students_of_class(world.classes[0])[0]  # 梅林中心小学 五年级1班
    before = _counts(engine)
    with pytest.raises(AccessDenied), unit_of_work(engine, clock, policy) as cw:
        ladder.report(
            cw, world.users["teacher"],
            ladder.ReportInput(student_id=stranger.id, reasons=("poverty",)),
        )
    assert _counts(engine) == before
    assert [(d.action, d.object_type, d.object_id) for d in _denials(engine)] == [
        ("report", "student", stranger.id)
    ]


def test_role_without_the_right_cannot_escalate(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    case_id = _open_case(engine, clock, policy, world)
    with pytest.raises(AccessDenied) as err, unit_of_work(engine, clock, policy) as cw:
        ladder.escalate(cw, world.users["teacher"], case_id)
    assert err.value.render("en") == "Your role does not allow this action."
    assert len(_denials(engine)) == 1


@pytest.mark.parametrize(
    ("child", "field", "reason"),
    [
        ({"id_number": "430521201305060071"}, "id_number", "check digit"),
        ({"guardian_phone": "12345"}, "phone", ""),
        ({"birth_date": date(2024, 1, 1)}, "birth_date", "age"),
        ({"name": "王小明2"}, "name", ""),
    ],
    ids=["bad ID checksum", "bad phone", "birth date gives age 2", "digit in name"],
)
def test_bad_input_when_registering_a_child_is_refused_and_nothing_written(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World,
    child: dict[str, object], field: str, reason: str,
) -> None:
    base: dict[str, object] = {
        "name": "雷小禾",
        "gender": "female",
        "birth_date": date(2013, 5, 6),
        "village_id": world.villages[0].id,
        "guardian_name": "雷大山",
        "guardian_relation": "father",
        "guardian_phone": "13912345678",
    }
    base.update(child)
    before = _counts(engine)
    with pytest.raises(ValidationError) as err, unit_of_work(engine, clock, policy) as cw:
        ladder.report(
            cw, world.users["village_cadre"],
            ladder.ReportInput(new_child=ladder.NewChild(**base), source="door_to_door",  # type: ignore[arg-type]
                               reasons=("work",)),
        )
    assert err.value.field == field
    assert reason in err.value.render("en")
    assert _counts(engine) == before
    assert _denials(engine) == []


def test_future_dates_are_refused_with_a_reason(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    case_id = _open_case(engine, clock, policy, world)
    before = _counts(engine)
    with pytest.raises(ValidationError) as err, unit_of_work(engine, clock, policy) as cw:
        ladder.record_visit(
            cw, world.users["teacher"], case_id,
            ladder.VisitInput(visit_date=date(2026, 11, 30), method="phone", result="refused"),
        )
    assert err.value.field == "visit_date"
    assert err.value.render("en") == "The visit date cannot be in the future."
    assert _counts(engine) == before


def test_a_cadre_registers_a_never_enrolled_child(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    cadre = world.users["village_cadre"]
    with unit_of_work(engine, clock, policy) as cw:
        out = ladder.report(
            cw, cadre,
            ladder.ReportInput(
                new_child=ladder.NewChild(
                    name="雷小禾", gender="female", birth_date=date(2013, 5, 6),
                    village_id=world.villages[0].id or 0, guardian_name="雷大山",
                    guardian_relation="father", guardian_phone="139 1234 5678",
                    id_number="430521201305060064",
                ),
                source="door_to_door", reasons=("work",), whereabouts="随父母在外",
            ),
        )
        case_id = out.case.id
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None and case.village_id == world.villages[0].id
        assert case.school_id is None and case.source == "door_to_door"
        student = s.get(Student, case.student_id)
        assert student is not None and not student.enrolled
        assert student.id_number == "430521201305060064"
        guardian = s.exec(select(Guardian).where(Guardian.student_id == student.id)).one()
        assert guardian.phone == "13912345678"
        # encrypted at rest: the raw column holds no digits of the number
        raw = s.connection().exec_driver_sql(
            f"SELECT id_number FROM student WHERE id = {student.id}"
        ).scalar_one()
        assert "430521" not in raw


def _expected(s: Session, user: User, units: dict[str, int | None]) -> bool:
    """Who sees a case, said plainly: the admin everything; an officer, a cadre, a school
    its own unit on either line (a township through the case's village or its school); a
    teacher the cases of their classes; an inactive user nothing."""
    if not user.active:
        return False
    kind, sid = user.scope_kind, user.scope_id
    if kind == "all":
        return user.role == "admin"
    if kind == "township":
        village = s.get(Village, units["village_id"]) if units["village_id"] else None
        school = s.get(School, units["school_id"]) if units["school_id"] else None
        return any(u is not None and u.township_id == sid for u in (village, school))
    if kind == "classes":
        classes = s.exec(select(TeacherClass.class_id).where(TeacherClass.user_id == user.id)).all()
        return units["class_id"] in classes
    return units[f"{kind}_id"] is not None and units[f"{kind}_id"] == sid


def test_who_is_told_of_a_case_is_exactly_who_may_see_it(engine: Engine, world: World) -> None:
    """The one scope rule (``casework.scope``), both ways: for a case of every student of
    the demo county, enrolled (both lines) and as a child found door to door (the village
    line alone), ``can_see_case`` (the check every read and write makes) agrees with the
    rule said plainly for every user, and ``users_for_case`` (the inverse, one SQL query)
    picks exactly those people in role order."""
    with Session(engine) as s:
        s.exec(update(User).where(User.id == world.users["teacher2"].id).values(active=False))  # type: ignore[call-overload]
        everyone = s.exec(select(User).order_by(User.id)).all()  # type: ignore[arg-type]
        assert {u.role for u in everyone} == set(ROLES)
        checked = 0
        for student in s.exec(select(Student)).all():
            units = student_units(s, student)
            county = units["county_id"] or 0
            enrolled = Case(student_id=student.id or 0, county_id=county, school_id=units["school_id"],
                            class_id=units["class_id"], village_id=units["village_id"])
            door_to_door = Case(student_id=student.id or 0, county_id=county, village_id=units["village_id"])
            for case in (enrolled, door_to_door):
                case_units = {"county_id": case.county_id, "school_id": case.school_id,
                              "class_id": case.class_id, "village_id": case.village_id}
                for u in everyone:
                    assert can_see_case(s, u, case) == _expected(s, u, case_units), (u.role, case)
                wanted = sorted(
                    (u for u in everyone if u.active and can_see_case(s, u, case)),
                    key=lambda u: (ROLES.index(u.role), u.id),
                )
                assert [u.id for u in users_for_case(s, case, ROLES)] == [u.id for u in wanted], case
                checked += len(wanted)
            # a student is seen by whoever would see their enrolled case
            for u in everyone:
                assert can_see_student(s, u, student) == _expected(s, u, units), (u.role, student.id)
        assert checked > 6 * len(world.students)  # several people on each line see each case


def test_lists_and_checks_agree(engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> None:
    """The list filters (``visible_cases``, ``visible_students``) pick exactly the rows
    the one-row checks allow, for every user of the demo county."""
    _open_case(engine, clock, policy, world)
    with unit_of_work(engine, clock, policy) as cw:
        ladder.report(cw, world.users["village_cadre"], ladder.ReportInput(
            student_id=world.students_of_class(world.classes[0])[0].id, reasons=("work",)))
    with Session(engine) as s:
        # a neighbouring county: a child living there and enrolled in the demo county (seen
        # there by the village line, here by the school line), and one not enrolled at all
        county = County(name="邻县", code="430599")
        s.add(county)
        s.flush()
        township = Township(county_id=county.id or 0, name="邻乡")
        s.add(township)
        s.flush()
        village = Village(township_id=township.id or 0, name="邻村")
        s.add(village)
        s.flush()
        now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
        for name, klass in (("邻小明", world.classes[4].id), ("邻小红", None)):
            s.add(Student(name=name, gender="male", birth_date=date(2013, 5, 6), village_id=village.id,
                          class_id=klass, enrolled=klass is not None, created_at=now, updated_at=now))
        s.add(User(role="county_officer", scope_kind="county", scope_id=county.id, display_name="邻县",
                   active=True, created_at=now))
        s.commit()
    with Session(engine) as s:
        rows = s.exec(select(Case).order_by(Case.id)).all()  # type: ignore[arg-type]
        students = s.exec(select(Student).order_by(Student.id)).all()  # type: ignore[arg-type]
        assert len(rows) == 2
        for u in s.exec(select(User)).all():
            listed = s.exec(select(Case.id).where(visible_cases(u)).order_by(Case.id)).all()  # type: ignore[arg-type]
            assert list(listed) == [c.id for c in rows if can_see_case(s, u, c)], u.role
            seen = s.exec(select(Student.id).where(visible_students(u)).order_by(Student.id)).all()  # type: ignore[arg-type]
            assert list(seen) == [x.id for x in students if _expected(s, u, student_units(s, x))], u.role
