"""One person cannot take another township's child: a roster import or a door-to-door
registration that matches a child outside the importer's scope asks the child's unit
(transfer request, Accept / Reject, both told, audited) and reveals nothing about the child."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from casework import ladder, roster_import, transfers
from casework.errors import AccessDenied, ValidationError
from casework.uow import unit_of_work
from demo.county import invented_id_number
from handlers import background
from models.tables import AuditEvent, Guardian, OutboxMessage, Student, TransferRequest
from tests.botkit import deliver_outbox, one, rows, speaking

HEADERS = ["姓名", "性别", "出生日期", "身份证号", "年级", "班级", "监护人", "联系电话"]


def row_for(student: Student, *, klass: str = "1班", grade: str = "七年级") -> list[object]:
    return [student.name, "男" if student.gender == "male" else "女", student.birth_date, student.id_number,
            grade, klass, "冒名人", "13800009999"]


def roster_file(rows_: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for r in rows_:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def guardian_of(session: Session, student: Student) -> tuple[str, str | None]:
    g = session.exec(select(Guardian).where(Guardian.student_id == student.id, Guardian.ordinal == 1)).one()
    return g.name, g.phone


def test_another_townships_child_is_asked_for_not_taken(engine, clock, policy, world) -> None:  # type: ignore[no-untyped-def]
    shiqiao_admin = world.users["school_admin3"]  # 石桥九年制学校, 石桥乡
    shiqiao_school, shiqiao_class = world.schools[2], world.classes[-1]  # 七年级1班 there
    meilin_child = world.students_of_class(world.classes[4])[0]  # 梅林中学 (梅林镇)
    with Session(engine) as s:
        guardian_before = guardian_of(s, meilin_child)
    rows_ = [(2, row_for(meilin_child))]
    with unit_of_work(engine, clock, policy) as cw:
        plan = roster_import.plan(cw, shiqiao_admin, shiqiao_school.id, HEADERS, rows_)
        (planned,) = plan.rows
        # the preview knows only that another unit must confirm: no changes, no errors naming it
        assert (planned.action, planned.changes, planned.errors) == ("transfer", (), [])
    with unit_of_work(engine, clock, policy) as cw:
        result = roster_import.apply(cw, shiqiao_admin, shiqiao_school.id, HEADERS, rows_, plan.fingerprint())
    assert result.count("transfer") == 1
    with Session(engine) as s:
        child = s.get(Student, meilin_child.id)
        assert child is not None and child.class_id == world.classes[4].id  # not moved
        assert guardian_of(s, child) == guardian_before  # guardian's name and phone kept
        req = s.exec(select(TransferRequest)).one()
        assert (req.status, req.student_id, req.to_class_id, req.requested_by) == (
            "pending", meilin_child.id, shiqiao_class.id, shiqiao_admin.id)
        told = {m.recipient_id for m in s.exec(select(OutboxMessage).where(
            OutboxMessage.kind == "transfer_request")).all()}
        # the child's school admin and township officer; not 石桥乡's own people
        assert told == {world.users["school_admin"].id, world.users["township_officer1"].id}
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).one()
        assert audit.detail["transfer_requests"] == [req.id]
        assert audit.detail["added_students"] == [] and audit.detail["updated_students"] == []
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "transfer.request")).one().object_id == \
            meilin_child.id

    # neither the requester nor another township's officer may answer; the child's unit may
    for outsider in (shiqiao_admin, world.users["township_officer2"]):
        with pytest.raises(AccessDenied), unit_of_work(engine, clock, policy) as cw:
            transfers.decide(cw, outsider, req.id or 0, accept=True)
    with unit_of_work(engine, clock, policy) as cw:
        transfers.decide(cw, world.users["school_admin"], req.id or 0, accept=True)
    with Session(engine) as s:
        child = s.get(Student, meilin_child.id)
        assert child is not None and child.class_id == shiqiao_class.id
        assert s.exec(select(OutboxMessage).where(OutboxMessage.kind == "transfer_decision")).one().recipient_id \
            == shiqiao_admin.id
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "transfer.accept")).one().actor_id == \
            world.users["school_admin"].id


def test_a_school_admin_cannot_take_a_child_of_another_school_of_the_township(cw, world) -> None:  # type: ignore[no-untyped-def]
    primary_child = world.students_of_class(world.classes[0])[0]  # 梅林中心小学
    plan = roster_import.plan(cw, world.users["school_admin"], world.schools[1].id, HEADERS,
                              [(2, row_for(primary_child))])
    assert plan.rows[0].action == "transfer"
    # the township officer sees both schools: the rule as before (record the transfer first)
    plan = roster_import.plan(cw, world.users["township_officer"], world.schools[1].id, HEADERS,
                              [(2, row_for(primary_child))])
    assert [t.render("en") for t in plan.rows[0].errors] == [
        "ID number: this student is registered at another school; the transfer must be recorded first"]


def test_a_cadre_registering_another_townships_child_asks_and_learns_nothing(engine, clock, policy, world) -> None:  # type: ignore[no-untyped-def]
    cadre = world.users["village_cadre3"]  # 竹园村, 石桥乡
    meilin_child = world.students_of_class(world.classes[4])[0]
    child = ladder.NewChild(name="王小雨", gender=meilin_child.gender, birth_date=meilin_child.birth_date,
                            village_id=cadre.scope_id or 0, guardian_name="王大雨", guardian_relation="father",
                            guardian_phone="13800009999", id_number=meilin_child.id_number)
    report = ladder.ReportInput(new_child=child, reasons=("learning",), source="door_to_door")
    # the domain alone refuses in neutral words (nothing says where the child is)
    with pytest.raises(ValidationError) as err, unit_of_work(engine, clock, policy) as cw:
        ladder.report(cw, cadre, report)
    assert err.value.render("en") == "This child needs confirmation from another unit before you can report them."
    with unit_of_work(engine, clock, policy) as cw:
        req = transfers.registration_match(cw, cadre, child.id_number, child.village_id)
        assert req is not None
        # a child of one's own scope is no transfer (the report says it is registered)
        own = world.users["village_cadre1"]
        own_child = next(s for s in world.students if s.village_id == own.scope_id)
        assert transfers.registration_match(cw, own, own_child.id_number, own.scope_id) is None
    with Session(engine) as s:
        kid = s.get(Student, meilin_child.id)
        assert kid is not None and kid.village_id == meilin_child.village_id and kid.name == meilin_child.name
        assert s.exec(select(TransferRequest)).one().to_village_id == cadre.scope_id
    with unit_of_work(engine, clock, policy) as cw:
        transfers.decide(cw, world.users["township_officer1"], req.id or 0, accept=False)
    with Session(engine) as s:
        kid = s.get(Student, meilin_child.id)
        assert kid is not None and kid.village_id == meilin_child.village_id
        assert s.exec(select(TransferRequest)).one().status == "rejected"


async def test_the_preview_says_only_another_unit_must_confirm_and_the_other_side_accepts(harness, world) -> None:  # type: ignore[no-untyped-def]
    requester = speaking(harness, world.users["school_admin3"], "en")  # 石桥九年制学校
    owner = speaking(harness, world.users["school_admin"], "en")  # 梅林中学
    officer = speaking(harness, world.users["township_officer1"], "en")  # 梅林镇: told too
    meilin_child = world.students_of_class(world.classes[4])[0]
    birth = date(2013, 4, 9)
    new_pupil = ["赵小新", "男", birth, invented_id_number(birth, 321, False), "七年级", "1班", "赵大新",
                 "13912345000"]
    await requester.send_document(roster_file([row_for(meilin_child), new_pupil]), filename="roster.xlsx")
    await background.wait()  # the file is read off the event loop
    preview = requester.last
    assert preview.split("\n")[3:6] == [
        "roster.xlsx: 2 rows — 1 to add, 0 to update, 0 unchanged, 0 with errors.",
        f"Row 2 ({meilin_child.name}): needs confirmation from another unit",
        "On Confirm, the other unit is asked to accept these rows; you are told when it answers.",
    ]
    for secret in ("梅林", world.users["school_admin"].display_name, "registered"):
        assert secret not in preview
    await requester.tap("✅ Confirm")
    assert requester.reply_texts[-1] == (
        "1 rows need confirmation from another unit: it has been asked, and you will be told when it answers.")

    await deliver_outbox(harness)
    assert owner.last == (
        f"Transfer request: {world.users['school_admin3'].display_name} asks to take {meilin_child.name} into "
        "grade 7 class 1 of 石桥九年制学校. Accept only if the child has really moved there; until then the "
        "child stays with you.")
    assert owner.buttons() == ["Accept", "Reject"]
    # /transfers lists what waits for an answer (the message with the buttons may be long gone)
    await officer.send("/transfers")
    assert officer.last == owner.last and officer.buttons() == ["Accept", "Reject"]
    await requester.send("/transfers")  # the requester cannot answer their own request
    assert requester.last == "No transfer request is waiting for your answer."
    await owner.tap("Accept")
    assert owner.last == (f"Accepted: {meilin_child.name} moves to grade 7 class 1 of 石桥九年制学校. "
                          "The requester has been told.")
    assert one(harness, Student, Student.id == meilin_child.id).class_id == world.classes[-1].id
    await deliver_outbox(harness)
    assert requester.last == (f"Your transfer request for {meilin_child.name} into grade 7 class 1 of "
                              "石桥九年制学校 was accepted: the child is now yours.")
    # the township officer's copy of the request can no longer move anything
    await officer.tap("Accept")
    assert officer.last == "This transfer request has already been answered."
    assert [r.status for r in rows(harness, TransferRequest)] == ["accepted"]
    await officer.send("/transfers")
    assert officer.last == "No transfer request is waiting for your answer."


async def test_a_cadre_registering_a_child_of_another_township_is_told_only_to_wait(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre_user = world.users["village_cadre3"]  # 竹园村, 石桥乡
    cadre = speaking(harness, cadre_user, "en")
    officer = speaking(harness, world.users["township_officer1"], "en")  # 梅林镇: the child's side
    meilin_child = world.students_of_class(world.classes[4])[0]
    students_before = len(rows(harness, Student))
    await cadre.send("/report")
    await cadre.tap("➕ A child who never enrolled")
    await cadre.send("王小雨")
    await cadre.tap("Male" if meilin_child.gender == "male" else "Female")
    await cadre.send(meilin_child.birth_date.isoformat())
    await cadre.send(meilin_child.id_number)
    await cadre.tap("Han (汉族)")
    await cadre.send("青松县石桥乡竹园村1号")
    await cadre.tap("Same as the household registration address")
    await cadre.send("王大雨")
    await cadre.tap("Father")
    await cadre.send("13800138000")
    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    await cadre.tap("Skip")
    await cadre.tap("Skip")
    await cadre.tap("✅ Confirm")
    assert cadre.reply_texts[1:] == [
        "This child needs confirmation from another unit: it has been asked to accept the child into your "
        "village. You will be told when it answers; then report the child."]
    for secret in (meilin_child.name, "梅林", "already registered"):
        assert secret not in "\n".join(cadre.reply_texts)
    assert len(rows(harness, Student)) == students_before  # no second record, no case
    assert one(harness, TransferRequest).to_village_id == cadre_user.scope_id

    await deliver_outbox(harness)
    assert officer.last.startswith(f"Transfer request: {cadre_user.display_name} asks to take "
                                   f"{meilin_child.name} into 竹园村.")
    await officer.tap("Reject")
    assert officer.last == f"Rejected: {meilin_child.name} stays with you. The requester has been told."
    assert one(harness, Student, Student.id == meilin_child.id).village_id == meilin_child.village_id
    await deliver_outbox(harness)
    assert cadre.last == (f"Your transfer request for {meilin_child.name} into 竹园村 was not accepted by the "
                          "other unit.")
