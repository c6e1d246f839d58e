"""Report a suspected dropout through the real PTB stack and the fake Bot API."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.outbox_sender import drain
from models.tables import Case, ConversationState, OutboxMessage


async def test_teacher_reports_a_student(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = harness.user(world.users["teacher"])
    student = world.students_of_class(world.classes[4])[1]
    await teacher.send("/report")
    await teacher.tap(student.name)
    await teacher.tap("Yesterday")
    await teacher.tap("Learning difficulty")
    await teacher.tap("Done")
    await teacher.tap("At home")
    await teacher.tap("Keep")
    await teacher.tap("Reached the guardian")
    await teacher.tap("Skip")
    await teacher.tap("Skip")
    print(teacher.last)
    await teacher.tap("Confirm")
    print(teacher.reply_texts)
    with Session(harness.engine) as s:
        case = s.exec(select(Case)).one()
        assert case.student_id == student.id and case.state == "suspected"
        assert s.exec(select(ConversationState)).all() == []
        print([m.kind for m in s.exec(select(OutboxMessage)).all()])
    admin = harness.user(world.users["school_admin"])
    assert await drain(harness.app.bot, harness.services) >= 1
    print(admin.messages)
    print([m.content for m in admin.messages])
