"""Callback data is never trusted: a tampered client that sends buttons the bot never
offered — a case outside the user's scope, someone else's conversation, a choice the step
does not offer — reads a refusal, changes nothing, and leaves an audit row naming who
tried what. And in group chats the bot says nothing but "talk to me in private".

A tampered client is played by :func:`forge_tap`: the newest bot message grows a button
with the forged data, and the user taps it, exactly as a modified Telegram app could.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, func, select
from telegram import Update

from casework import ladder, outcomes
from casework.clock import FrozenClock
from casework.policy import Policy
from casework.uow import unit_of_work
from demo.county import World
from models.tables import AuditEvent, ConversationState, User
from tests.casedriver import PROOF

NOT_RESPONSIBLE = "You are not responsible for this case, so you cannot see or change it."
WRONG_ROLE = "Your role does not allow this action."
SOMEONE_ELSES = "That button belongs to someone else."


async def forge_tap(chat, data: str):  # type: ignore[no-untyped-def]
    """A tampered client sends callback ``data`` on the newest bot message of the chat."""
    msg = chat.state.last_bot_message(chat.chat_id)
    assert msg is not None, "the bot has said nothing yet; there is nothing to tap on"
    original = msg.reply_markup
    forged = {"inline_keyboard": [[{"text": "forged", "callback_data": data}]]}
    msg.reply_markup = forged
    try:
        return await chat.tap(data, message=msg)
    finally:
        if msg.reply_markup is forged:  # the bot did not touch it: the user's app shows the original
            msg.reply_markup = original


def row_counts(engine: Engine, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, int]:
    """Rows per table, for "nothing changed" assertions."""
    with Session(engine) as s:
        return {
            t.name: s.exec(select(func.count()).select_from(t)).one()
            for t in SQLModel.metadata.sorted_tables
            if t.name not in exclude
        }


def denials(engine: Engine) -> list[tuple[int | None, str, str, int | None]]:
    with Session(engine) as s:
        rows = s.exec(
            select(AuditEvent).where(AuditEvent.allowed == False).order_by(col(AuditEvent.id))  # noqa: E712
        ).all()
        return [(a.actor_id, a.action, a.object_type, a.object_id) for a in rows]


def set_language(engine: Engine, user: User, language: str) -> None:
    with Session(engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.language = language
        s.add(row)
        s.commit()


def open_case(engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> tuple[int, int, str]:
    """A case in 梅林中学 七年级1班 with a pending home-teaching proposal: (case, proposal, name)."""
    teacher, school_admin = world.users["teacher"], world.users["school_admin"]
    student = world.students_of_class(world.classes[4])[0]
    with unit_of_work(engine, clock, policy) as cw:
        case_id = ladder.report(cw, teacher, ladder.ReportInput(
            student_id=student.id, reasons=("illness",), absent_since=cw.today() - timedelta(days=1),
        )).case.id or 0
        proposal = outcomes.propose_outcome(cw, school_admin, case_id, "home_teaching",
                                          reason="重度残疾，无法到校",
                                          evidence=PROOF).proposal
        assert proposal is not None
        return case_id, proposal.id or 0, student.name


FORGED = [
    ("case:{case}", "view"),
    ("visit:{case}", "record_visit"),
    ("act:{case}:escalate", "escalate"),
    ("actok:{case}:escalate", "escalate"),
    ("actok:{case}:issue_deadline_notice", "issue_deadline_notice"),
    ("act:{case}:record_visit", "record_visit"),
    ("act:{case}:close_out", "close_out"),
    ("ack:{case}", "acknowledge"),
    ("assign:{case}", "assign"),
    ("rv:{proposal}", "decide_outcome"),
    ("apr:{proposal}", "decide_outcome"),
    ("apr:{proposal}:y", "decide_outcome"),
    ("rej:{proposal}", "decide_outcome"),
    ("att:{case}:1", "confirm_attending"),
    ("att:{case}:0", "relapse"),
]


@pytest.mark.parametrize(("template", "action"), FORGED, ids=[t for t, _ in FORGED])
@pytest.mark.parametrize("outsider", ["township_officer2", "teacher2"],
                         ids=["officer of the other township", "teacher of another class"])
async def test_a_forged_button_for_a_case_out_of_scope_is_refused_and_audited(  # type: ignore[no-untyped-def]
    harness, world, clock, policy, outsider, template, action
) -> None:
    case_id, proposal_id, student_name = open_case(harness.engine, clock, policy, world)
    intruder_row = world.users[outsider]
    set_language(harness.engine, intruder_row, "en")
    intruder = harness.user(intruder_row)
    await intruder.send("/menu")
    before = row_counts(harness.engine, exclude={"audit_event"})

    await forge_tap(intruder, template.format(case=case_id, proposal=proposal_id))

    texts = intruder.reply_texts
    assert len(texts) == 1
    # the officer holds every role needed, so scope refuses; the teacher's role refuses first
    # where teachers may not act at all — either way a sentence, not a trace or silence
    assert texts[0] in (NOT_RESPONSIBLE, WRONG_ROLE)
    if outsider == "township_officer2":
        assert texts[0] == NOT_RESPONSIBLE
    assert student_name not in texts[0]
    assert intruder.replies[0].reply_markup is None
    assert intruder.callback_answer is not None
    assert row_counts(harness.engine, exclude={"audit_event"}) == before
    assert denials(harness.engine) == [(intruder_row.id, action, "case", case_id)]


async def test_typed_case_numbers_out_of_scope_are_refused_and_audited(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    case_id, _proposal, student_name = open_case(harness.engine, clock, policy, world)
    cadre_row = world.users["village_cadre4"]  # 下坪村, the other township
    set_language(harness.engine, cadre_row, "en")
    cadre = harness.user(cadre_row)
    before = row_counts(harness.engine, exclude={"audit_event"})
    await cadre.send(f"/case {case_id}")
    assert cadre.reply_texts == [NOT_RESPONSIBLE]
    await cadre.send(f"/visit #{case_id}")
    assert cadre.reply_texts == [NOT_RESPONSIBLE]
    await cadre.send("/case 999")  # no such case: the same words, nothing to learn
    assert cadre.reply_texts == [NOT_RESPONSIBLE]
    assert row_counts(harness.engine, exclude={"audit_event"}) == before
    assert denials(harness.engine) == [
        (cadre_row.id, "view", "case", case_id),
        (cadre_row.id, "record_visit", "case", case_id),
        (cadre_row.id, "view", "case", 999),
    ]
    assert all(student_name not in m.content for m in cadre.messages)


async def test_someone_elses_conversation_cannot_be_driven(harness, world) -> None:  # type: ignore[no-untyped-def]
    owner_row, intruder_row = world.users["teacher"], world.users["teacher6"]  # the next class
    set_language(harness.engine, owner_row, "en")
    set_language(harness.engine, intruder_row, "en")
    owner, intruder = harness.user(owner_row), harness.user(intruder_row)
    await owner.send("/report")
    with Session(harness.engine) as s:
        conv = s.exec(select(ConversationState)).one()
    student = world.students_of_class(world.classes[4])[2]
    await intruder.send("/menu")
    before = row_counts(harness.engine, exclude={"audit_event"})

    for data in (f"s|{conv.id}|stu|{student.id}", f"s|{conv.id}|stu|!cancel", f"s|{conv.id}|sum|!ok"):
        await forge_tap(intruder, data)
        assert intruder.reply_texts == [SOMEONE_ELSES]

    assert row_counts(harness.engine, exclude={"audit_event"}) == before
    with Session(harness.engine) as s:
        after = s.get(ConversationState, conv.id)
        assert after is not None and (after.step, after.draft, after.version) == (conv.step, conv.draft, conv.version)
    assert denials(harness.engine) == [(intruder_row.id, "conversation.tap", "conversation", conv.id)] * 3
    # the owner goes on as if nothing happened
    await owner.tap(student.name)
    assert owner.last.startswith("Since when has the child been absent?")


async def test_forged_answers_to_ones_own_question_are_refused(harness, world) -> None:  # type: ignore[no-untyped-def]
    """Choices the step never offered, jumps to the summary, pages that do not exist."""
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    await teacher.send("/report")
    with Session(harness.engine) as s:
        conv = s.exec(select(ConversationState)).one()
    outside = world.students_of_class(world.classes[0])[0]  # another school's pupil
    ident = teacher.keyboard_message().inline_buttons()[0]["callback_data"].split("|")[1]
    assert ident.startswith(f"{conv.id}.")  # the conversation's id and its key
    before = row_counts(harness.engine)

    for code in (str(outside.id), f"={outside.id}", "!sum", "!skip", "!done", "!px", "!p-1", "esince"):
        await forge_tap(teacher, f"s|{ident}|stu|{code}")
        assert teacher.replies == [] or teacher.reply_texts[-1].startswith("Which student?")
        assert teacher.callback_answer is not None
    await forge_tap(teacher, f"s|{ident}|sum|!ok")
    assert teacher.callback_answer.text == "That question has moved on; see the latest message."

    assert row_counts(harness.engine) == before
    with Session(harness.engine) as s:
        after = s.get(ConversationState, conv.id)
        assert after is not None and after.step == "stu" and "stu" not in after.draft

    # past the student, the summary's edit buttons for steps not on it are refused too
    await teacher.tap(world.students_of_class(world.classes[4])[0].name)
    await teacher.tap("Today")
    await teacher.tap("Illness")
    await teacher.tap("Done")
    await teacher.tap("At home")
    await teacher.tap("Keep")
    await teacher.tap("Reached the guardian")
    await teacher.tap("Skip")
    await teacher.tap("Skip")
    assert "Check the details, then confirm." in teacher.last
    for code in ("estu", "enname", "ezzz"):
        await forge_tap(teacher, f"s|{ident}|sum|{code}")
        assert teacher.callback_answer.text == "That choice is no longer offered."
        assert teacher.replies == []
    await teacher.tap("Confirm")
    assert "Case #1 opened for " in teacher.reply_texts[1]


@pytest.mark.parametrize("data", ["nonsense", "case:", "case:abc", "ack:x", "apr:", "att:1",
                                  "act:1", "s|", "s|x|y|z", "s|999|stu|1", "menu:nowhere"])
async def test_garbage_callback_data_gets_an_answer_not_an_exception(harness, world, data) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    await teacher.send("/menu")
    before = row_counts(harness.engine)
    await forge_tap(teacher, data)
    answer = teacher.callback_answer
    assert answer is not None
    assert answer.text or teacher.replies  # something visible
    assert row_counts(harness.engine) == before


# --- group chats -------------------------------------------------------------------------


POINTER = "For privacy I only work in a private chat: open https://t.me/baoxue_test_bot"


async def test_in_a_group_the_bot_only_points_to_a_private_chat(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    case_id, _proposal, student_name = open_case(harness.engine, clock, policy, world)
    teacher_row = world.users["teacher"]
    teacher = harness.user(teacher_row, language_code="en")
    group = harness.tg.add_group("七年级1班家长群")
    before = row_counts(harness.engine)

    async def say(text: str) -> list[str]:
        mark = harness.tg.marker()
        update = harness.tg.send_text_in_group(teacher.user, group.id, text, enqueue=False)
        await harness.app.process_update(Update.de_json(update, harness.app.bot))
        return [m.content for m in harness.tg.bot_messages_since(group.id, mark)]

    for command in ("/cases", f"/case {case_id}", "/report", "/start", "/help@baoxue_test_bot"):
        said = await say(command)
        assert said == [POINTER], command
    assert await say(f"who is on case {case_id}?") == []  # chatter: the bot keeps quiet
    assert await say(student_name) == []
    group_messages = [m for m in harness.tg.bot_messages(group.id)]
    assert all(m.reply_markup is None for m in group_messages)
    assert all(student_name not in m.content for m in group_messages)
    assert harness.tg.messages(teacher.chat_id) == []  # nothing in private either
    assert row_counts(harness.engine) == before


async def test_a_tap_in_a_group_is_answered_privately_and_shows_nothing(harness, world, clock, policy) -> None:  # type: ignore[no-untyped-def]
    case_id, _proposal, _name = open_case(harness.engine, clock, policy, world)
    teacher = harness.user(world.users["teacher"], language_code="en")
    group = harness.tg.add_group("七年级1班家长群")
    update = harness.tg.send_text_in_group(teacher.user, group.id, "/cases", enqueue=False)
    await harness.app.process_update(Update.de_json(update, harness.app.bot))
    pointer = harness.tg.bot_messages(group.id)[-1]
    pointer.reply_markup = {"inline_keyboard": [[{"text": "x", "callback_data": f"case:{case_id}"}]]}
    update = harness.tg.tap(teacher.user, pointer.message_id, f"case:{case_id}", chat_id=group.id,
                            enqueue=False)
    await harness.app.process_update(Update.de_json(update, harness.app.bot))
    answer = harness.tg.callback_answer(update["callback_query"]["id"])
    assert answer is not None and answer.answered and answer.text == POINTER
    assert len(harness.tg.bot_messages(group.id)) == 1
    with Session(harness.engine) as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "case.view")).all() == []
