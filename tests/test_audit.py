"""The audit trail: append-only in the database, and every list of children shown is
audited like a single case view (``/cases`` is in tests/test_bot_cases.py).

- ``audit_event`` refuses UPDATE and DELETE (a trigger, on PostgreSQL and on SQLite),
  whoever asks; INSERT works, and on PostgreSQL TRUNCATE (the test fixture's reset) too.
- A student search, a page of the /report student picker or of the /visit case picker,
  and a roster preview each write one ``audit_event`` naming the children shown.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from casework import roster_import
from casework.clock import FrozenClock
from casework.context import MAX_AUDITED_IDS
from casework.policy import Policy
from casework.uow import unit_of_work
from demo.county import World
from models.tables import AuditEvent
from tests.botkit import open_case, rows, speaking
from tests.test_roster_import import HEADERS, good_row, rows_of


def _audits(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(AuditEvent)).one()


def test_the_audit_table_refuses_update_and_delete(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    with unit_of_work(engine, clock, policy) as cw:
        event = cw.audit(world.users["teacher"], "case.view", "case", 1)
    before = _audits(engine)

    for statement in (
        "UPDATE audit_event SET action = 'nothing.seen'",
        f"UPDATE audit_event SET actor_id = NULL WHERE id = {event.id}",
        f"DELETE FROM audit_event WHERE id = {event.id}",
        "DELETE FROM audit_event",
    ):
        with pytest.raises(DBAPIError, match="audit_event is append-only"), engine.begin() as conn:
            conn.execute(text(statement))

    # through the ORM too
    with Session(engine) as s:
        row = s.get(AuditEvent, event.id)
        assert row is not None
        row.detail = {"edited": True}
        s.add(row)
        with pytest.raises(DBAPIError, match="append-only"):
            s.commit()
        s.rollback()
        s.delete(s.get(AuditEvent, event.id))
        with pytest.raises(DBAPIError, match="append-only"):
            s.commit()

    assert _audits(engine) == before
    with Session(engine) as s:
        kept = s.get(AuditEvent, event.id)
        assert kept is not None and (kept.action, kept.detail) == ("case.view", {})
    with unit_of_work(engine, clock, policy) as cw:  # appending still works
        cw.audit(world.users["teacher"], "case.view", "case", 2)
    assert _audits(engine) == before + 1

    if engine.dialect.name == "postgresql":  # the fixture's reset between tests
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_event"))
        assert _audits(engine) == 0


def test_a_list_view_names_the_children_shown_bounded_and_once_per_unit_of_work(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    teacher = world.users["teacher"]
    with unit_of_work(engine, clock, policy) as cw:
        first = cw.audit_list(teacher, "student.list", "student", [3, 1, 2], view="roster")
        assert cw.audit_list(teacher, "student.list", "student", [3, 1, 2], view="roster") is None
        big = cw.audit_list(teacher, "student.search", "student", range(1, 1000))
        empty = cw.audit_list(teacher, "student.search", "student", [])
    assert first is not None and first.detail == {"ids": [3, 1, 2], "count": 3, "view": "roster"}
    assert big is not None and big.detail == {
        "ids": list(range(1, MAX_AUDITED_IDS + 1)), "count": 999, "truncated": True}
    assert empty is not None and empty.detail == {"ids": [], "count": 0}
    assert _audits(engine) == 3


async def test_a_student_search_is_audited_with_the_pupils_found(harness: Any, world: World) -> None:
    teacher_user = world.users["teacher"]
    teacher = speaking(harness, teacher_user, "en")
    await teacher.send("/report")
    await teacher.send("欧阳")
    assert teacher.last.startswith("Nothing matches")
    ding = next(p for p in world.students_of_class(world.classes[4]) if "晴" in p.name)
    await teacher.send("晴")
    assert teacher.last == "Since when has the child been absent? (e.g. 11-21)"
    searched = rows(harness, AuditEvent, AuditEvent.action == "student.search")
    assert [(a.actor_id, a.object_type, a.object_id, a.detail) for a in searched] == [
        (teacher_user.id, "student", None, {"ids": [], "count": 0}),  # who looked, nobody found
        (teacher_user.id, "student", None, {"ids": [ding.id], "count": 1})]
    assert "晴" not in str(searched[0].detail)  # the typed part of a name is not kept

    admin = speaking(harness, world.users["school_admin"], "en")
    await admin.send("/report")
    await admin.send("晴")
    assert admin.last.startswith("3 found:")
    searched = rows(harness, AuditEvent, AuditEvent.action == "student.search")
    assert searched[-1].actor_id == world.users["school_admin"].id
    assert searched[-1].detail["count"] == 3 and ding.id in searched[-1].detail["ids"]


async def test_a_picker_page_shown_is_audited_and_a_checked_tap_is_not(harness: Any, world: World) -> None:
    """The /report student picker and the /visit case picker: each page shown is one
    audit row naming the children on it; building the list to check a tap writes none."""
    teacher_user = world.users["teacher"]
    teacher = speaking(harness, teacher_user, "en")
    await teacher.send("/report")
    pupils = {p.id for p in world.students_of_class(world.classes[4])}
    pages = rows(harness, AuditEvent, AuditEvent.action == "student.list")
    assert [(a.actor_id, a.object_type, a.detail["view"]) for a in pages] == [
        (teacher_user.id, "student", "picker")]
    first_page = pages[0].detail["ids"]
    assert first_page and set(first_page) <= pupils  # the teacher's class, nobody else
    assert pages[0].detail["count"] == len(first_page)

    pupil = next(p for p in world.students_of_class(world.classes[4]) if p.id == first_page[0])
    await teacher.tap(pupil.name)  # checked against the list: nothing shown, nothing audited
    assert teacher.last == "Since when has the child been absent? (e.g. 11-21)"
    assert len(rows(harness, AuditEvent, AuditEvent.action == "student.list")) == 1

    first = open_case(harness, world, student_index=1)
    second = open_case(harness, world, student_index=2)
    await teacher.send("/cancel")
    await teacher.send("/visit")
    assert teacher.last == "Which case? (nearest deadline first)"
    picked = rows(harness, AuditEvent, AuditEvent.action == "case.list")
    assert [(a.actor_id, a.detail["view"], sorted(a.detail["ids"])) for a in picked] == [
        (teacher_user.id, "visit", sorted([first, second]))]
    await teacher.tap(f"#{first} ")
    assert len(rows(harness, AuditEvent, AuditEvent.action == "case.list")) == 1


def test_a_roster_preview_names_the_pupils_it_matched_and_the_import_is_not_a_preview(
    engine: Engine, clock: FrozenClock, policy: Policy, world: World
) -> None:
    admin = world.users["school_admin"]
    school = world.schools[1]
    existing = world.students_of_class(world.classes[4])[0]
    update = [existing.name, "男" if existing.gender == "male" else "女", existing.birth_date,
              existing.id_number, existing.student_number, "七年级", "1班", "李四", "母亲",
              "13800000001", ""]
    rows = rows_of(good_row(1), update)
    with unit_of_work(engine, clock, policy) as cw:
        plan = roster_import.plan(cw, admin, school.id, HEADERS, rows)
    assert [r.action for r in plan.rows] == ["add", "update"]
    with Session(engine) as s:
        previews = s.exec(select(AuditEvent).where(AuditEvent.action == "roster.preview")).all()
    assert [(a.actor_id, a.object_type, a.object_id, a.detail) for a in previews] == [
        (admin.id, "school", school.id, {"ids": [existing.id], "count": 1, "rows": 2, "add": 1})]

    with unit_of_work(engine, clock, policy) as cw:
        roster_import.apply(cw, admin, school.id, HEADERS, rows, plan.fingerprint())
    with Session(engine) as s:
        actions = s.exec(select(AuditEvent.action).where(
            AuditEvent.action.in_(["roster.preview", "roster.import"]))).all()  # type: ignore[attr-defined]
    assert sorted(actions) == ["roster.import", "roster.preview"]
