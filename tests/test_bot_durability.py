"""Conversations live in the database, not in a process: a bot restarted mid-flow, or a
second bot process taking every other update, carries on at the same step with the draft
intact. And at every step of a flow the escape commands work and odd input — a sticker, a
GIF, free text where a button is wanted, an edited message, a late tap on an old
question — gets a one-line hint and the question again, never an exception and never
silence.

The same tests run on PostgreSQL when ``TEST_DATABASE_URL`` is set (the conftest's
``db_url`` switches); each bot instance gets its own SQLAlchemy engine on that URL.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, col, select
from telegram import Update

from bot.app import build_application
from bot.services import Services
from casework import ladder
from casework.uow import unit_of_work
from demo.county import World
from models import db
from models.tables import Case, CaseEvent, ConversationState, User, Visit
from sandbox.fakebot import StoredMessage
from sandbox.harness import (
    FAKE_BASE_FILE_URL,
    FAKE_BASE_URL,
    ChatUser,
    capture_errors,
    fake_bot_request,
)
from tests.test_bot_access import row_counts, set_language

MOVED_ON = "That question has moved on; see the latest message."
FINISHED = "That question is finished; see the latest message."


def open_case(harness: Any, world: World) -> tuple[int, str]:
    """A case reported by the class teacher of 梅林中学 七年级1班; the pupil lives in 上坪村,
    the village cadre's village, so both lines see it."""
    student = world.students_of_class(world.classes[4])[1]
    with unit_of_work(harness.engine, harness.services.clock, harness.services.policy) as cw:
        out = ladder.report(cw, world.users["teacher"], ladder.ReportInput(
            student_id=student.id, reasons=("learning",), absent_since=date(2026, 11, 20)))
        return out.case.id or 0, student.name


def conversation(harness: Any) -> ConversationState | None:
    with Session(harness.engine) as s:
        return s.exec(select(ConversationState)).first()


def step_of(msg: StoredMessage | None) -> str | None:
    """The step a question's buttons answer (``s|<conv>|<step>|<choice>``)."""
    if msg is None:
        return None
    for button in msg.inline_buttons():
        data = button.get("callback_data", "")
        if data.startswith("s|"):
            return str(data.split("|")[2])
    return None


@asynccontextmanager
async def another_bot(harness: Any, db_url: str) -> AsyncIterator[Any]:
    """A second bot process on the same database: its own Application and its own engine,
    talking to the same (fake) Telegram."""
    engine = db.make_engine(db_url)
    services = Services(engine=engine, clock=harness.services.clock, policy=harness.services.policy)
    app = build_application(
        harness.tg.token, services, base_url=FAKE_BASE_URL, base_file_url=FAKE_BASE_FILE_URL,
        request=fake_bot_request(harness.api), get_updates_request=fake_bot_request(harness.api),
        updater=False,
    )
    errors = capture_errors(app)
    try:
        async with app:
            yield app
    finally:
        engine.dispose()
    assert errors == [], errors


# --- a restart in the middle of a flow -----------------------------------------------------


async def test_a_report_survives_a_restart_mid_flow(harness, world, db_url, clock, policy) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    student = world.students_of_class(world.classes[4])[2]
    await teacher.send("/report")
    await teacher.tap(student.name)
    await teacher.tap("Today")
    await teacher.tap("Illness")
    await teacher.tap("Left to work")
    await teacher.tap("Done")
    assert teacher.last == "Where is the child now? Choose or type."

    # the process stops; a new one starts on the same database (a new engine, too)
    await harness.app.shutdown()
    conv = conversation(harness)
    assert conv is not None and conv.step == "where"
    assert (conv.draft["stu"], conv.draft["since"], conv.draft["why"]) == (
        str(student.id), "2026-11-23", ["illness", "work"])
    harness.services = Services(engine=db.make_engine(db_url), clock=clock, policy=policy)
    app = harness.build()
    errors = capture_errors(app)
    try:
        async with app:
            # the same person, the same chat and its old messages, a new bot process
            again = ChatUser(harness.tg, app, user=teacher.user)
            await again.send("在广东打工")  # typed, on the question the old process asked
            assert again.last.startswith("Key groups")
            await again.tap("Keep")
            await again.tap("Could not reach the guardian")
            await again.send("父亲说下周带回来")
            await again.tap("Skip")
            assert "• Absent since: Nov 23, 2026\n• Reasons: Illness" in again.last
            assert "Left to work" in again.last
            await again.tap("Confirm")
            assert any(t.startswith(f"Case #1 opened for {student.name}") for t in again.reply_texts)
    finally:
        harness.services.engine.dispose()
    assert errors == [], errors

    with Session(harness.engine) as s:
        case = s.exec(select(Case)).one()
        assert case.student_id == student.id
        assert case.absent_since == date(2026, 11, 23)
        assert case.reasons == ["illness", "work"]
        assert case.whereabouts == "在广东打工"
        reported = s.exec(select(CaseEvent).where(CaseEvent.kind == "reported")).one()
        assert reported.note == "父亲说下周带回来"
        assert s.exec(select(ConversationState)).all() == []


async def test_a_visit_survives_a_restart_mid_flow(harness, world, db_url, clock, policy) -> None:  # type: ignore[no-untyped-def]
    case_id, _name = open_case(harness, world)
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    await teacher.send("/visit")
    await teacher.tap(f"#{case_id}")
    await teacher.tap("Home visit")
    await teacher.send("父母在外务工，奶奶照看")
    await teacher.tap("Hesitant")
    assert teacher.last == "The student's attitude?"

    await harness.app.shutdown()
    harness.services = Services(engine=db.make_engine(db_url), clock=clock, policy=policy)
    app = harness.build()
    errors = capture_errors(app)
    try:
        async with app:
            again = ChatUser(harness.tg, app, user=teacher.user)
            await again.tap("Unwilling to return")
            await again.send("讲解义务教育法，联系资助")
            await again.tap("Refused")
            await again.tap("Skip")
            await again.tap("Confirm")
            assert again.reply_texts[-1].startswith("Visit recorded")
    finally:
        harness.services.engine.dispose()
    assert errors == [], errors

    with Session(harness.engine) as s:
        visit = s.exec(select(Visit)).one()
        assert (visit.case_id, visit.method, visit.visit_date) == (case_id, "home_visit", date(2026, 11, 23))
        assert visit.family_situation == "父母在外务工，奶奶照看"  # answered before the restart
        assert (visit.guardian_attitude, visit.student_attitude) == ("hesitant", "opposed")
        assert (visit.measures, visit.result) == ("讲解义务教育法，联系资助", "refused")
        assert visit.participants == [teacher_row.display_name]


async def test_joining_survives_a_restart(harness, world, db_url, clock, policy) -> None:  # type: ignore[no-untyped-def]
    from casework import invites

    with unit_of_work(harness.engine, clock, policy) as cw:
        code = invites.create(cw, None, role="village_cadre", scope_kind="village",
                              scope_id=world.villages[0].id).code
    newcomer = harness.user(first_name="Wang", language_code="en")
    await newcomer.start(code)
    await newcomer.share_contact()
    await harness.app.shutdown()
    harness.services = Services(engine=db.make_engine(db_url), clock=clock, policy=policy)
    app = harness.build()
    try:
        async with app:
            again = ChatUser(harness.tg, app, user=newcomer.user)
            await again.tap("English")
            assert again.reply_texts[-1] == "You are all set.\nWang (village cadre). What would you like to do?"
    finally:
        harness.services.engine.dispose()


# --- two bot processes, one conversation ---------------------------------------------------


async def test_two_bot_processes_take_turns_on_one_conversation(harness, world, db_url) -> None:  # type: ignore[no-untyped-def]
    case_id, student_name = open_case(harness, world)
    cadre_row = world.users["village_cadre"]  # 上坪村: the pupil lives there
    set_language(harness.engine, cadre_row, "en")
    handled: list[str] = []
    async with another_bot(harness, db_url) as first, another_bot(harness, db_url) as second:
        workers = itertools.cycle([("first", first), ("second", second)])

        async def deliver(update: dict[str, Any]) -> None:
            name, app = next(workers)  # a load balancer handing out updates in turn
            handled.append(name)
            await app.process_update(Update.de_json(update, app.bot))

        cadre = ChatUser(harness.tg, user=harness.user(cadre_row).user, deliver=deliver, enqueue=False)
        await cadre.send("/visit")
        await cadre.tap(f"#{case_id}")
        await cadre.tap("Another date or other people")
        await cadre.tap("Joint visit")
        await cadre.tap("Yesterday")
        await cadre.send("吴主任，李老师")
        await cadre.send("留守儿童，跟爷爷住")
        await cadre.tap("Supportive")
        await cadre.tap("Hesitant")
        await cadre.send("村委会和学校一起上门")
        await cadre.tap("Promised to return")
        await cadre.tap("Next school day")
        await cadre.send_photo(caption="家访合影")
        await cadre.tap("Done")
        assert "Check the details, then confirm." in cadre.last
        await cadre.tap("Confirm")
        assert cadre.reply_texts[-1].startswith("Visit recorded")
        assert harness.tg.unanswered_callbacks == []
    assert handled == [("first", "second")[i % 2] for i in range(len(handled))]
    assert len(handled) == 15

    with Session(harness.engine) as s:
        visit = s.exec(select(Visit)).one()
        assert (visit.case_id, visit.method, visit.visit_date) == (case_id, "joint_visit", date(2026, 11, 22))
        assert visit.participants == [cadre_row.display_name, "吴主任", "李老师"]
        assert visit.family_situation == "留守儿童，跟爷爷住"
        assert (visit.guardian_attitude, visit.student_attitude) == ("supportive", "hesitant")
        assert (visit.measures, visit.result) == ("村委会和学校一起上门", "promised")
        assert visit.promised_return_on == date(2026, 11, 24)
        assert [e["kind"] for e in visit.evidence] == ["photo"]
        assert visit.recorded_by == cadre_row.id
        assert s.exec(select(ConversationState)).all() == []


async def test_a_double_tap_on_confirm_reaching_two_processes_records_once(harness, world, db_url) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    student = world.students_of_class(world.classes[4])[1]
    await teacher.send("/report")
    for label in (student.name, "Today", "Illness", "Done", "At home", "Keep", "Reached the guardian",
                  "Skip", "Skip"):
        await teacher.tap(label)
    summary = teacher.keyboard_message()
    confirm = next(b["callback_data"] for b in summary.inline_buttons() if "Confirm" in b["text"])
    async with another_bot(harness, db_url) as first, another_bot(harness, db_url) as second:
        # the user's app sends the tap twice; a load balancer gives one to each process
        taps = [harness.tg.tap(teacher.user, summary.message_id, confirm, enqueue=False) for _ in range(2)]
        for update, app in zip(taps, (first, second), strict=True):
            await app.process_update(Update.de_json(update, app.bot))
    answers = [harness.tg.callback_answer(u["callback_query"]["id"]) for u in taps]
    assert all(a is not None and a.answered for a in answers)
    assert answers[1].text == FINISHED  # type: ignore[union-attr]
    with Session(harness.engine) as s:
        assert len(s.exec(select(Case)).all()) == 1
        assert len(s.exec(select(CaseEvent).where(CaseEvent.kind == "reported")).all()) == 1


# --- escape commands and odd input at every step ------------------------------------------


CJK = re.compile(r"[\u4e00-\u9fff]")


class Probe:
    """Odd input at the step on screen; after each, the same step must be asking again."""

    def __init__(self, harness: Any, chat: ChatUser) -> None:
        self.harness = harness
        self.chat = chat
        self.old_questions: list[StoredMessage] = []

    def snapshot(self) -> tuple[str, dict[str, Any]]:
        conv = conversation(self.harness)
        assert conv is not None
        draft = {k: v for k, v in conv.draft.items() if k not in ("_page", "_found")}
        return conv.step, draft

    def asks(self, step: str) -> StoredMessage:
        """The newest question on screen is ``step``'s, with its buttons."""
        msg = self.chat.keyboard_message()
        assert msg is not None and msg is self.chat.last_message, self.chat.reply_texts
        assert step_of(msg) == step, (step, msg.content)
        return msg

    async def raw(self, update: dict[str, Any]) -> list[str]:
        mark = self.harness.tg.marker()
        await self.harness.app.process_update(Update.de_json(update, self.harness.app.bot))
        return [e.text for e in self.harness.tg.events_since(self.chat.chat_id, mark, from_bot=True,
                                                              kinds=("sent", "edited"))]

    async def battery(self, kind: str) -> None:
        chat, tg = self.chat, self.harness.tg
        step, draft = self.snapshot()
        question = self.asks(step)
        english = question.content

        # /help: what you can do, then the same question
        await chat.send("/help")
        assert chat.reply_texts[0].startswith("What you can do:")
        assert chat.reply_texts[-1] == english
        self.asks(step)

        # a sticker and a GIF: one line, then the question
        for send in (chat.send_sticker, chat.send_animation):
            await send()
            assert chat.reply_texts == [f"Stickers and GIFs can't be used here.\n{english}"]
            self.asks(step)

        # free text where only a button will do
        if kind in ("choice", "multi", "date", "summary", "media"):
            await chat.send("嗯")
            assert len(chat.replies) == 1 and chat.reply_texts[0].endswith(english)
            assert chat.reply_texts[0] != english  # with a line saying what to do
            self.asks(step)

        # a voice note outside the evidence step, a command the bot does not have
        if kind != "media":
            await chat.send_voice()
            assert chat.reply_texts == [f"I can't use that here.\n{english}"]
        await chat.send("/whatever")
        assert chat.reply_texts == [f"I don't know that command; see /help.\n{english}"]
        self.asks(step)

        # an edit of an old message is never taken as the answer
        first_text = next(m for m in chat.messages if not m.from_bot and m.text)
        said = await self.raw(tg.edit_text(chat.user, first_text.message_id, "改一下", enqueue=False))
        assert len(said) == 1 and said[0].startswith("Edits to messages already sent are not picked up.")
        assert said[0].endswith(english)
        self.asks(step)

        # /menu: the flow is kept; Continue asks the same question
        await chat.send("/menu")
        assert chat.reply_texts[0].startswith("Your “")
        await chat.tap("Continue")
        assert chat.reply_texts == [english]
        self.asks(step)

        # /language → 中文: the same step, now in Chinese; and back to English
        await chat.send("/language")
        await chat.tap("中文")
        in_chinese = self.asks(step)
        assert chat.reply_texts[0].endswith("\n→ 中文")  # the language question, answered
        assert chat.reply_texts[1] == "语言已设置为中文。"
        assert in_chinese.content != english and CJK.search(in_chinese.content)
        assert "取消" in in_chinese.button_labels()
        await chat.send("/language")
        await chat.tap("English")
        assert chat.reply_texts[-2:] == ["Language set to English.", english]
        self.asks(step)

        # a late tap on an old question of another step: answered, nothing else
        for old in tg.bot_messages(chat.chat_id):
            if step_of(old) not in (None, step):
                data = next(b["callback_data"] for b in old.inline_buttons()
                            if not b["callback_data"].endswith("!cancel"))
                await chat.tap(data, message=old)
                assert chat.callback_answer is not None and chat.callback_answer.text == MOVED_ON
                assert chat.replies == []
                break

        assert self.snapshot() == (step, draft)
        assert tg.unanswered_callbacks == []
        self.old_questions.append(question)


async def test_escape_commands_and_odd_input_at_every_step_of_a_report(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    probe = Probe(harness, teacher)
    student = world.students_of_class(world.classes[4])[3]

    async def tap_on_first_copy(label: str) -> None:
        """Answer on the question as first asked (older copies of it were re-sent since):
        a late tap on a button of the current step still works."""
        await teacher.tap(label, message=probe.old_questions[-1])

    await teacher.send("/report")
    path: list[tuple[str, Callable[[], Any]]] = [
        ("choice", lambda: tap_on_first_copy(student.name)),
        ("date", lambda: tap_on_first_copy("Today")),
        ("multi", lambda: teacher.tap("Family poverty")),
        ("text", lambda: teacher.send("跟父母在县城")),
        ("multi", lambda: tap_on_first_copy("Keep")),
        ("choice", lambda: tap_on_first_copy("Not yet tried")),
        ("text", lambda: teacher.send("家里有困难")),
        ("media", lambda: teacher.send_photo(caption="作业本")),
    ]
    for kind, answer in path:
        await probe.battery(kind)
        await answer()
        if kind == "multi" and teacher.last_message is not None and "Done ✓" in teacher.buttons():
            await teacher.tap("Done")
        if kind == "media":
            assert teacher.reply_texts == ["Received (1). Send more, or tap Done."]
            await teacher.tap("Done")
    await probe.battery("summary")
    await teacher.tap("Confirm")
    assert any(t.startswith(f"Case #1 opened for {student.name}") for t in teacher.reply_texts)

    with Session(harness.engine) as s:
        case = s.exec(select(Case)).one()
        assert case.student_id == student.id and case.absent_since == date(2026, 11, 23)
        assert case.reasons == ["poverty"] and case.whereabouts == "跟父母在县城"
        event = s.exec(select(CaseEvent).where(CaseEvent.kind == "reported")).one()
        assert event.note == "家里有困难"
        assert [e["caption"] for e in event.evidence] == ["作业本"]
        assert s.get(User, teacher_row.id).language == "en"  # type: ignore[union-attr]
        assert s.exec(select(ConversationState)).all() == []


REPORT_PATH = ["Today", "Illness", "Done", "At home", "Keep", "Reached the guardian", "Skip", "Skip"]


@pytest.mark.parametrize("after", range(len(REPORT_PATH) + 1))
@pytest.mark.parametrize("how", ["/cancel", "the Cancel button"])
async def test_cancel_at_any_step_saves_nothing(harness, world, after, how) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    before = row_counts(harness.engine, exclude={"audit_event"})
    await teacher.send("/report")
    await teacher.tap(world.students_of_class(world.classes[4])[0].name)
    for label in REPORT_PATH[:after]:
        await teacher.tap(label)
    question = teacher.keyboard_message()
    if how == "/cancel":
        await teacher.send("/cancel")
        assert teacher.reply_texts[0] == "Cancelled. Nothing was saved."
        assert teacher.reply_texts[1].endswith("What would you like to do?")
    else:
        await teacher.tap("Cancel")
        assert teacher.reply_texts[-1] == "Cancelled. Nothing was saved."
    assert row_counts(harness.engine, exclude={"audit_event"}) == before
    # the old question's buttons now say the question is finished
    if question.inline_markup:
        await teacher.tap(question.inline_buttons()[0]["callback_data"], message=question)
        assert teacher.callback_answer.text == FINISHED
    await teacher.send("/cancel")
    assert teacher.reply_texts[0] == "There is nothing to cancel."


async def test_a_late_tap_on_a_finished_flow_or_an_old_menu_is_answered(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    await teacher.send("/menu")
    old_menu = teacher.keyboard_message()
    await teacher.tap("Report a suspected dropout")
    first = teacher.keyboard_message()
    await teacher.send("/report")  # starts over: the first question belongs to a finished flow
    await teacher.tap(next(b["callback_data"] for b in first.inline_buttons()), message=first)
    assert teacher.callback_answer.text == FINISHED and teacher.replies == []
    # the old menu still works: it is not a question
    await teacher.tap("My cases", message=old_menu)
    assert teacher.reply_texts == ["You have no open cases."]
    # "Continue" on a menu whose flow was cancelled since
    await teacher.send("/menu")
    menu = teacher.keyboard_message()
    await teacher.send("/cancel")
    await teacher.tap("Continue", message=menu)
    assert teacher.reply_texts[0].startswith(FINISHED)
    assert harness.tg.unanswered_callbacks == []


async def test_an_old_summary_never_confirms_a_newer_draft(harness, world) -> None:  # type: ignore[no-untyped-def]
    """On SQLite a new conversation may get the id of a deleted one: the old summary's
    Confirm (showing another child) must not confirm what the new summary shows."""
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    first, second = world.students_of_class(world.classes[4])[:2]
    await teacher.send("/report")
    for label in (first.name, *REPORT_PATH):
        await teacher.tap(label)
    old_summary = teacher.keyboard_message()
    assert f"• Student: {first.name}" in old_summary.content
    await teacher.send("/cancel")
    await teacher.send("/report")
    for label in (second.name, *REPORT_PATH):
        await teacher.tap(label)
    await teacher.tap("Confirm", message=old_summary)
    assert teacher.callback_answer.text == FINISHED and teacher.replies == []
    with Session(harness.engine) as s:
        assert s.exec(select(Case)).all() == []
    await teacher.tap("Confirm")
    with Session(harness.engine) as s:
        assert [c.student_id for c in s.exec(select(Case)).all()] == [second.id]


async def test_contacts_and_stray_media_outside_a_flow_get_a_reply(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher_row = world.users["teacher"]
    set_language(harness.engine, teacher_row, "en")
    teacher = harness.user(teacher_row)
    for act in (teacher.share_contact(), teacher.send_photo(), teacher.send_sticker(), teacher.send_location(),
                teacher.send("hello"), teacher.send("/nothing")):
        await act
        assert len(teacher.replies) >= 1
    with Session(harness.engine) as s:
        assert s.exec(select(ConversationState)).all() == []
        assert s.exec(select(Case).order_by(col(Case.id))).all() == []
