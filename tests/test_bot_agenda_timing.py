"""When the agenda holds news and when it does not (issue #12), with an injected clock.

- Agenda slots come on statutory working days only: news on a Saturday (a case entering a
  level) waits for Monday's first slot; an escalation to acknowledge goes at once.
- News after the day's last slot (16:00) waits for the next morning's, unless the work it
  names falls due before that slot: a profile's reminder an hour before a 17:30 deadline
  is sent at once, not the morning after the deadline.
"""

from __future__ import annotations

from datetime import date, time

import pytest

from casework import agenda, ladder
from casework.clock import FrozenClock, from_db
from casework.policy import Duration, Policy, load_named
from models.tables import Deadline, OutboxMessage
from tests.botkit import act, deliver_outbox, rows, shanghai_at, speaking, tick_at
from tests.casedriver import SHANGHAI


class TestAReminderInHours:
    @pytest.fixture
    def policy(self) -> Policy:
        """大田's profile as an operator may write it: a reminder an hour before each deadline."""
        datian = load_named("datian")
        reminders = datian.reminders.model_copy(update={"lead": [Duration(amount=1, unit="hours")]})
        return datian.model_copy(update={"reminders": reminders})

    async def test_a_reminder_due_before_the_next_slot_goes_at_once(self, harness, world, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
        teacher = speaking(harness, world.users["teacher"], "en")
        pupil = world.students_of_class(world.classes[4])[0]
        case_id = act(harness, lambda cw: ladder.report(cw, world.users["teacher"], ladder.ReportInput(
            student_id=pupil.id, reasons=("learning",)))).case.id
        await deliver_outbox(harness)
        (step,) = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "step",
                       Deadline.status == "open")
        due = from_db(step.due_at).astimezone(SHANGHAI)
        assert due.time() == time(17, 30)  # the profile's deadline time, after the last slot (16:00)
        seen = len(harness.tg.bot_messages(teacher.chat_id))
        tick_at(harness, shanghai_at(due.date(), 16, 30))  # the reminder, an hour before
        await deliver_outbox(harness)
        said = [m.content for m in harness.tg.bot_messages(teacher.chat_id)[seen:]]
        assert [s for s in said if s.startswith("Reminder:") and f"#{case_id}" in s], said
        assert rows(harness, OutboxMessage, OutboxMessage.kind == "reminder",
                    OutboxMessage.status == agenda.HELD) == []


async def test_weekend_news_waits_for_monday_an_escalation_does_not(harness, world, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    u = world.users
    admin = speaking(harness, u["school_admin"], "en")
    officer = speaking(harness, u["township_officer"], "en")
    pupil = world.students_of_class(world.classes[4])[0]
    case_id = act(harness, lambda cw: ladder.report(cw, u["teacher"], ladder.ReportInput(
        student_id=pupil.id, reasons=("learning",)))).case.id
    await deliver_outbox(harness)
    saturday, monday = date(2026, 11, 28), date(2026, 11, 30)
    before = {c.chat_id: len(harness.tg.bot_messages(c.chat_id)) for c in (admin, officer)}
    clock.set(shanghai_at(saturday, 10))
    # the school's persuasion is over on a Saturday: the township must acknowledge at once
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))
    for hour in (10, 16, 20):
        tick_at(harness, shanghai_at(saturday, hour))
    await deliver_outbox(harness)
    to_officer = [m.content for m in harness.tg.bot_messages(officer.chat_id)[before[officer.chat_id]:]]
    assert any(s.startswith("Escalation:") and f"#{case_id}" in s for s in to_officer), to_officer
    # no agenda on Saturday or Sunday: the held news is still held
    slots = [from_db(d.due_at).astimezone(SHANGHAI) for d in rows(harness, Deadline, Deadline.kind == agenda.KIND)]
    assert slots and all(s.date() not in (saturday, saturday + date.resolution) for s in slots), slots
    held = rows(harness, OutboxMessage, OutboxMessage.status == agenda.HELD)
    assert held, "the weekend's news is held"
    tick_at(harness, shanghai_at(saturday + date.resolution, 16))  # Sunday afternoon
    await deliver_outbox(harness)
    assert rows(harness, OutboxMessage, OutboxMessage.status == agenda.HELD) != []
    tick_at(harness, shanghai_at(monday, 8, 30))
    await deliver_outbox(harness)
    assert rows(harness, OutboxMessage, OutboxMessage.status == agenda.HELD) == []
    agendas = [m.content for c in (admin, officer) for m in harness.tg.bot_messages(c.chat_id)
               if m.content.startswith("Your work for")]
    assert agendas and all("Nov 30 (08:30)" in a for a in agendas), agendas


async def test_news_after_the_last_slot_waits_for_the_next_morning(harness, world, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    u = world.users
    teacher = speaking(harness, u["teacher"], "en")
    pupil = world.students_of_class(world.classes[4])[0]
    case_id = act(harness, lambda cw: ladder.report(cw, u["teacher"], ladder.ReportInput(
        student_id=pupil.id, reasons=("learning",)))).case.id
    await deliver_outbox(harness)
    tuesday, wednesday = date(2026, 11, 24), date(2026, 11, 25)
    tick_at(harness, shanghai_at(tuesday, 16))  # the day's last slot
    await deliver_outbox(harness)
    clock.set(shanghai_at(tuesday, 17))
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))  # news for the teacher
    seen = len(harness.tg.bot_messages(teacher.chat_id))
    for hour in (17, 20, 23):
        tick_at(harness, shanghai_at(tuesday, hour, 30))
    await deliver_outbox(harness)
    assert [m.content for m in harness.tg.bot_messages(teacher.chat_id)[seen:]] == []
    assert rows(harness, OutboxMessage, OutboxMessage.recipient_id == u["teacher"].id,
                OutboxMessage.status == agenda.HELD) != []
    tick_at(harness, shanghai_at(wednesday, 8, 30))
    await deliver_outbox(harness)
    said = [m.content for m in harness.tg.bot_messages(teacher.chat_id)[seen:]]
    assert len(said) == 1 and said[0].startswith("Your work for Nov 25 (08:30)") and f"#{case_id}" in said[0], said
