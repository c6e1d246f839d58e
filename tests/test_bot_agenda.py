"""Fewer, better messages (issue #12): each person's agenda, and the messages per person per
day with 150 open cases, through the fake Bot API.

- A reminder, a case entering a level, a case moving up: held for the person's next agenda
  slot, one message listing each case once with a button to open it.
- The last visit's reminder and the step's on the same day: one line, not two messages.
- 150 cases reported at 梅林中学 over five weeks (six a working day; half come back after
  the school's call or promise, three in eight during the township's rounds, one in eight
  goes up the whole ladder), worked as diligent people would (attendance answered, visits
  when due, alerts acknowledged, notices issued, promises and check-ins answered), the
  scheduler ticking through seven weeks: the messages each person received on each working
  day are printed, and on an ordinary day (after the first two weeks) none gets more than 6.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from casework import agenda, ladder, return_check
from casework.attendance import prompts
from casework.clock import FrozenClock, from_db, to_db
from casework.context import Casework
from casework.labels import day_text
from casework.policy import Policy
from demo.county import World, seed_world
from models.tables import Case, Deadline, OutboxMessage, User
from tests.botkit import act, deliver_outbox, rows, shanghai_at, speaking, tick_at
from tests.casedriver import SHANGHAI

TARGET = 6


@pytest.fixture
def world(cipher_key: str, session: Session, clock: FrozenClock, policy: Policy) -> World:
    """The demo county with 26 pupils a class: 156 at 梅林中学."""
    world = seed_world(session, Casework(session, clock, policy).today(), students_per_class=26)
    session.commit()
    return world


def _day(d: date) -> str:
    """A date as the chat writes it in English (casework.labels.day_text)."""
    return day_text(d).render("en")


async def test_reminders_wait_for_the_agenda_one_line_per_case(harness, world, clock) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    pupils = world.students_of_class(world.classes[4])[:3]
    made = [act(harness, lambda cw, p=p: ladder.report(
        cw, world.users["teacher"], ladder.ReportInput(student_id=p.id, reasons=("learning",)))).case.id
        for p in pupils]
    for case_id in made:
        act(harness, lambda cw, c=case_id: ladder.record_visit(
            cw, world.users["teacher"], c, ladder.VisitInput(visit_date=cw.today(), method="phone", result="refused")))
    await deliver_outbox(harness)
    seen = len(harness.tg.bot_messages(teacher.chat_id))
    # the school's deadline (3 working days): reminders the day before and on the day
    step = rows(harness, Deadline, Deadline.case_id == made[0], Deadline.kind == "step", Deadline.status == "open")[0]
    due_day = act(harness, lambda cw: cw.calendars.local_date(from_db(step.due_at)))
    day_before = act(harness, lambda cw: cw.calendars.previous_working_day(due_day))
    tick_at(harness, shanghai_at(day_before, 8, 0))
    await deliver_outbox(harness)
    held = rows(harness, OutboxMessage, OutboxMessage.kind == "reminder",
                OutboxMessage.recipient_id == world.users["teacher"].id)
    assert len(held) == 3 and {m.status for m in held} == {agenda.HELD}
    assert len(harness.tg.bot_messages(teacher.chat_id)) == seen  # nothing yet
    tick_at(harness, shanghai_at(day_before, 8, 30))
    await deliver_outbox(harness)
    new = harness.tg.bot_messages(teacher.chat_id)[seen:]
    assert len(new) == 1, [m.content for m in new]
    lines = new[0].content.split("\n")
    assert lines[0] == f"Your work for {_day(day_before)} (08:30): 3 cases."
    assert len(lines) == 4
    for case_id, line in zip(made, lines[1:], strict=True):
        assert line.startswith(f"• Reminder: case #{case_id} ") and line.endswith(f"is due by {_day(due_day)}."), line
    assert [b.split(" ")[0] for b in teacher.buttons(new[0])] == [f"#{c}" for c in made]
    assert {m.status for m in rows(harness, OutboxMessage, OutboxMessage.kind == "reminder")} == {agenda.FOLDED}
    await teacher.tap(f"#{made[1]}", message=new[0])
    assert teacher.last.startswith(f"#{made[1]} ")  # the case card, with its actions


async def test_the_last_visit_and_the_step_due_the_same_day_make_one_reminder(harness, world, clock) -> None:  # type: ignore[no-untyped-def]
    cadre = speaking(harness, world.users["village_cadre"], "en")
    pupil = next(p for p in world.students_of_class(world.classes[4])
                 if p.village_id == world.users["village_cadre"].scope_id)  # the cadre's village
    case_id = act(harness, lambda cw: ladder.report(
        cw, world.users["teacher"], ladder.ReportInput(student_id=pupil.id, reasons=("learning",)))).case.id
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.acknowledge(cw, world.users["township_officer"], case_id))
    (step,) = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "step", Deadline.status == "open")
    step_day = act(harness, lambda cw: cw.calendars.local_date(from_db(step.due_at)))
    # four visits, each on the day its round falls due: the fifth round falls on the step's day
    for _ in range(4):
        (rnd,) = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "round", Deadline.status == "open")
        tick_at(harness, from_db(rnd.due_at) - timedelta(hours=5))
        act(harness, lambda cw: ladder.record_visit(cw, world.users["village_cadre"], case_id, ladder.VisitInput(
            visit_date=cw.today(), method="joint_visit", result="refused")))
    (rnd,) = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "round", Deadline.status == "open")
    assert from_db(rnd.due_at) == from_db(step.due_at)
    await deliver_outbox(harness)
    seen = len(harness.tg.bot_messages(cadre.chat_id))
    for hour, minute in ((8, 0), (8, 30), (16, 0), (17, 30)):
        tick_at(harness, shanghai_at(step_day, hour, minute))
    await deliver_outbox(harness)
    said = [m.content for m in harness.tg.bot_messages(cadre.chat_id)[seen:]]
    about = [line for text in said for line in text.split("\n") if f"#{case_id} " in line]
    assert len([line for line in about if "Reminder" in line or "Overdue" in line]) == 1, said
    assert rows(harness, OutboxMessage, OutboxMessage.kind == "overdue") == []  # the step decides


async def test_150_open_cases_make_at_most_six_messages_a_person_a_day(harness, world, clock, capsys) -> None:  # type: ignore[no-untyped-def]
    u = world.users
    klasses = world.classes[4:10]  # 梅林中学
    teacher_of = {k.id: u[f"teacher{i}"] for i, k in enumerate(world.classes, start=1) if k in klasses}
    pupils = [p for k in klasses for p in world.students_of_class(k)]
    pupils = [pupils[i] for i in sorted(range(len(pupils)), key=lambda i: (i % 26, i))][:150]
    people = [usr for key, usr in u.items() if key[-1].isdigit() or key in ("county_officer", "admin")]
    chats = {usr.id: speaking(harness, usr, "en") for usr in people}
    names = {usr.id: key for key, usr in u.items() if key[-1].isdigit() or key in ("county_officer", "admin")}
    fate: dict[int, int] = {}
    start = date(2026, 10, 12)  # a Monday after 国庆
    days = [start + timedelta(days=n) for n in range(49)]
    intake = list(pupils)

    def work(cw: Casework) -> None:
        """What diligent people do at 11:00 on a working day."""
        today = cw.today()
        for case in cw.session.exec(select(Case).where(col(Case.state).not_in(["closed"]))).all():
            cid, kind = case.id or 0, fate[case.id or 0]
            teacher = teacher_of[case.class_id or 0]
            if case.state in ("returned", "retention"):
                asked = cw.session.exec(select(Deadline.id).where(  # a check-in came today: still attending
                    Deadline.case_id == cid, Deadline.kind == "retention", Deadline.status == "done",
                    col(Deadline.acted_at) >= to_db(shanghai_at(today, 0)))).first()
                if asked is not None:
                    ladder.confirm_attending(cw, teacher, cid, attending=True)
            elif case.state == "suspected":
                result = ("returned", "returned", "promised", "promised", "refused", "refused", "refused",
                          "refused")[kind]
                promised = cw.calendars.next_school_day(today + timedelta(days=4)) if result == "promised" else None
                ladder.record_visit(cw, teacher, cid, ladder.VisitInput(
                    visit_date=today, method="phone", result=result, promised_return_on=promised))
            elif case.state == "school_persuasion" and kind in (2, 3):
                asked = cw.session.exec(select(OutboxMessage).where(
                    OutboxMessage.case_id == cid, OutboxMessage.kind == "return_check")).first()
                if asked is not None:
                    return_check.answer(cw, teacher, cid, back=True)
            elif case.state == "township_persuasion":
                due = [from_db(d.due_at) for d in cw.session.exec(select(Deadline).where(
                    Deadline.case_id == cid, Deadline.status == "open", Deadline.kind == "round")).all()]
                if due and cw.calendars.local_date(min(due)) <= cw.calendars.next_working_day(today):
                    back = kind in (4, 5, 6) and case.current_round >= 1
                    cadres = [x for x in u.values() if x.role == "village_cadre" and x.scope_id == case.village_id]
                    ladder.record_visit(cw, cadres[0], cid, ladder.VisitInput(
                        visit_date=today, method="joint_visit", result="returned" if back else "refused"))
            elif case.state == "deadline_notice" and case.notice_issued_at is None:
                ladder.issue_deadline_notice(cw, u["township_officer"], cid)
            for ack in cw.session.exec(select(Deadline).where(
                    Deadline.case_id == cid, Deadline.status == "open", Deadline.kind == "ack")).all():
                role = (ack.payload.get("roles") or ["township_officer"])[0]
                who = next(x for x in u.values() if x.role == role and _sees(cw, x, case))
                ladder.acknowledge(cw, who, cid)

    for day in days:
        working = act(harness, lambda cw, d=day: cw.calendars.is_working_day(d))
        slots = ((8, 0), (8, 30), (9, 0), (11, 0), (16, 0), (17, 30), (18, 0)) if working else ((8, 30), (17, 30))
        for hour, minute in slots:
            tick_at(harness, shanghai_at(day, hour, minute))
            if working and (hour, minute) == (9, 0):
                for pupil in intake[:6]:
                    case = act(harness, lambda cw, p=pupil: ladder.report(cw, teacher_of[p.class_id or 0], ladder.ReportInput(
                        student_id=p.id, reasons=("learning",), absent_since=cw.today() - timedelta(days=2))).case)
                    fate[case.id or 0] = len(fate) % 8
                del intake[:6]
            if working and (hour, minute) == (9, 0):
                act(harness, lambda cw: [_all_present(cw, k, teacher_of[k.id or 0]) for k in klasses])
            if working and (hour, minute) == (11, 0):
                act(harness, work)
            await deliver_outbox(harness)

    # every message the bot sent each person, by local day (a file sent with its message is part of it)
    per_day: Counter[tuple[str, date]] = Counter()
    for uid, chat in chats.items():
        for msg in harness.tg.bot_messages(chat.chat_id):
            if msg.media.get("document"):
                continue
            day = datetime.fromtimestamp(msg.date, SHANGHAI).date()
            per_day[(names[uid], day)] += 1
    open_cases = len(rows(harness, Case, col(Case.state).not_in(["closed", "closed_other", "transferred"])))
    ordinary = [d for d in days[14:] if act(harness, lambda cw, d=d: cw.calendars.is_working_day(d))]
    who = sorted({n for n, _d in per_day})
    with capsys.disabled():
        print(f"\nmessages per person per working day, {open_cases} open cases (ordinary days from {ordinary[0]}):")
        print("person".ljust(20) + " ".join(f"{d:%m%d}" for d in ordinary) + "  max")
        for name in who:
            counts = [per_day[(name, d)] for d in ordinary]
            print(name.ljust(20) + " ".join(f"{n:4d}" for n in counts) + f"  {max(counts):3d}")
    assert open_cases == 150
    worst = max(per_day[(n, d)] for n in who for d in ordinary)
    assert worst <= TARGET, f"{worst} messages to one person on an ordinary day"
    # and the work reached people: everyone on the case ladder got their agenda
    assert any(per_day[(names[u["school_admin"].id], d)] for d in ordinary)


def _all_present(cw: Casework, klass: Any, teacher: User) -> None:
    """The class teacher answers the day's attendance prompt: everyone came (the absent
    pupils are the cases, already reported)."""
    prompts.record_attendance(cw, teacher, klass.id, cw.today())


def _sees(cw: Casework, user: User, case: Case) -> bool:
    from casework.scope import can_see_case

    return can_see_case(cw.session, user, case)
