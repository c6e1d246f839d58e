"""The daily attendance and the term-start roll call, as the teachers and the scheduler live
them (``casework.attendance``, ``conversations/flows/attendance.py``).

Time is the injected FrozenClock: the scheduler's tick (``casework.scheduler.tick`` with the
attendance planner) runs at the times a deployed one would, the outbox sender delivers to
the fake Bot API, and the teachers tap the buttons they are sent. Nothing sleeps.

- Prompts come on school days only: a 调休 Saturday gets one, 国庆 and the Mid-Autumn
  holiday, ordinary weekends and the days outside the terms none.
- A teacher answers "Some absent", picks two pupils, one on sick leave and one away
  without excuse; under 大田 (one unexcused day) the case opens that day and the school
  administrator is told.
- 鸡东: 7 school days → the teacher is asked to visit or call (Record a visit), 22 → the
  school administrator names the person who persuades.
- A teacher who has not answered by the cut-off is reminded once.
- 谯城 roll call: a pupil who has not reported (报到) by the end of the first week is
  registered as a case; one who came to school is not.
- The issue's story: one 大田 case from the first unexcused day to the county escalation,
  every prompt, reminder and alert by time and recipient, once in November and once
  across 国庆 2026.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from bot.outbox_sender import drain, render
from casework import scheduler
from casework.attendance import prompts, streaks
from casework.clock import FrozenClock, from_db
from casework.errors import ValidationError
from casework.outbox import text_from_json
from casework.policy import load_named
from casework.uow import unit_of_work
from demo.county import World
from models.tables import (
    AttendanceDay,
    AttendanceMark,
    Case,
    CaseEvent,
    Deadline,
    OutboxMessage,
    RollCallEntry,
    Student,
    User,
)
from tests.botkit import act, rows, speaking
from tests.conftest import SHANGHAI, local

PLANNERS = [prompts.plan]
SOME_ABSENT = "📝 Some absent"
UNEXCUSED = "❌ Unexcused"
SICK = "🤒 Sick leave (excused)"

jidong = pytest.mark.parametrize("policy", [load_named("jidong")], ids=["jidong"])
qiaocheng = pytest.mark.parametrize("policy", [load_named("qiaocheng")], ids=["qiaocheng"])


# --- driving time and reading back ------------------------------------------------------------


def start(h: Any, *when: int) -> None:
    """Where the story starts (the world was seeded on 2026-11-23; any date will do)."""
    h.services.clock.set(local(*when))


def tick(h: Any, *when: int) -> list[str]:
    """The scheduler's tick at local ``when``, with the attendance planner."""
    clock: FrozenClock = h.services.clock
    target = local(*when)
    assert target >= clock.now(), f"the clock cannot go back to {target}"
    clock.set(target)
    report = scheduler.tick(h.engine, clock, h.services.policy, planners=PLANNERS)
    assert report.errors == [] and report.planner_errors == 0, report
    return [str(a) for a in report.acted]


async def deliver(h: Any) -> int:
    return await drain(h.app.bot, h.services)


def names(world: World) -> dict[int, str]:
    """User id → the world's key ("teacher" for 七年级1班's teacher, "teacher3", …)."""
    found = {u.id or 0: key for key, u in world.users.items()}
    for alias in ("teacher", "school_admin", "village_cadre", "township_officer", "county_officer"):
        found[world.users[alias].id or 0] = alias
    return found


def mark(h: Any) -> int:
    with Session(h.engine) as s:
        return int(s.exec(select(func.max(OutboxMessage.id))).one() or 0)


def outbox(h: Any, world: World, since: int = 0, *, only: set[str] | None = None) -> list[str]:
    """Messages written after ``since``: "MM-DD HH:MM kind → recipient", oldest first."""
    who = names(world)
    out = []
    for m in rows(h, OutboxMessage, col(OutboxMessage.id) > since):
        recipient = who[m.recipient_id]
        if only is None or recipient in only:
            at = from_db(m.created_at).astimezone(SHANGHAI).strftime("%m-%d %H:%M")
            out.append(f"{at} {m.kind} → {recipient}")
    return out


def text_of(m: OutboxMessage, lang: str = "en") -> str:
    lines = [text_from_json(m.payload["text"]).render(lang)]
    lines += [f"• {text_from_json(t).render(lang)}" for t in m.payload.get("lines", [])]
    return "\n".join(lines)


def last_to(h: Any, user: User, kind: str | None = None) -> OutboxMessage:
    found = rows(h, OutboxMessage, OutboxMessage.recipient_id == user.id,
                 *([OutboxMessage.kind == kind] if kind else []))
    assert found, f"nothing to user {user.id}"
    return found[-1]


def pupils(world: World) -> list[Student]:
    """The pupils of 梅林中学 七年级1班, the class of ``world.users["teacher"]``."""
    return world.students_of_class(world.classes[4])


def streak(h: Any, pupil: Student) -> streaks.Streak:
    def read(cw: Any) -> streaks.Streak:
        row = cw.session.get(Student, pupil.id)
        assert row is not None
        return streaks.streak_of(cw, row)

    return act(h, read)  # type: ignore[no-any-return]


def attendance_day(h: Any, day: date) -> bool:
    with unit_of_work(h.engine, h.services.clock, h.services.policy) as cw:
        return cw.calendars.is_school_day(day)


def everyone_online(h: Any, world: World) -> None:
    """Every seeded user has opened the bot (so deliveries to them reach a chat)."""
    for user in world.users.values():
        h.user(user)


async def absent_today(chat: Any, *away: tuple[Student, str]) -> None:
    """The teacher answers today's prompt: Some absent, the pupils, why each, Confirm."""
    await chat.tap(SOME_ABSENT)
    for pupil, _why in away:
        await chat.tap(pupil.name)
    await chat.tap("Done ✓")
    for _pupil, why in away:
        await chat.tap(why)
    await chat.tap("✅ Confirm")


# --- prompts come on school days only ------------------------------------------------------------


async def test_prompts_come_on_school_days_only(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher"]
    # outside the terms: the summer holiday, and the day before the autumn term
    start(harness, 2026, 7, 6, 8, 0)
    for when in ((2026, 7, 6, 9, 0), (2026, 8, 31, 9, 0)):
        before = mark(harness)
        tick(harness, *when)
        assert outbox(harness, world, before) == []

    prompted: list[str] = []
    day = date(2026, 9, 18)
    while day <= date(2026, 10, 12):
        before = mark(harness)
        tick(harness, day.year, day.month, day.day, 9, 0)
        to_teacher = [m for m in rows(harness, OutboxMessage, col(OutboxMessage.id) > before)
                      if m.recipient_id == teacher.id and m.kind == "attendance_prompt"]
        assert len(to_teacher) <= 1
        if to_teacher:
            prompted.append(f"{day:%m-%d %a}")
        day += timedelta(days=1)
    assert prompted == [
        "09-18 Fri",
        "09-20 Sun",  # 调休: the Sunday before 国庆 is a working day
        "09-21 Mon", "09-22 Tue", "09-23 Wed", "09-24 Thu",
        # 09-25 Fri to 09-27: the Mid-Autumn holiday
        "09-28 Mon", "09-29 Tue", "09-30 Wed",
        # 10-01 to 10-07: 国庆
        "10-08 Thu", "10-09 Fri",
        "10-10 Sat",  # 调休
        "10-12 Mon",
    ]
    saturday = last_to(harness, teacher, "attendance_prompt")
    assert saturday.payload["buttons"][0][0]["data"].endswith(":20261012:a")
    make_up = [m for m in rows(harness, OutboxMessage, OutboxMessage.recipient_id == teacher.id)
               if ":20261010:" in m.payload["buttons"][0][0]["data"]]
    assert text_of(make_up[0]) == (
        "Attendance today for Grade 7 Class 1, 梅林中学 (Oct 10)?\n"
        "• Today, Saturday, is a make-up school day (调休).")


# --- the teacher's answer -----------------------------------------------------------------------


async def test_some_absent_two_pupils_one_excused_one_not_opens_a_datian_case_that_day(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    everyone_online(harness, world)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    admin = speaking(harness, world.users["school_admin"], "en")
    sick, truant = pupils(world)[0], pupils(world)[2]

    tick(harness, 2026, 11, 23, 9, 0)  # Monday
    await deliver(harness)
    assert teacher.last == "Attendance today for Grade 7 Class 1, 梅林中学 (Nov 23)?"
    assert teacher.buttons() == ["✅ All present", SOME_ABSENT]

    await teacher.tap(SOME_ABSENT)
    assert teacher.last == (
        "Who is absent, Grade 7 Class 1, 梅林中学, Nov 23, 2026? Tap each name, then Done.")
    assert sorted(teacher.buttons()[:4]) == sorted(p.name for p in pupils(world))
    await teacher.tap(sick.name)
    await teacher.tap(truant.name)
    assert f"✅ {sick.name}" in teacher.buttons() and f"✅ {truant.name}" in teacher.buttons()
    await teacher.tap("Done ✓")
    assert teacher.last == f"{sick.name} (1 of 2): why absent?"
    assert teacher.buttons() == [SICK, "📄 Approved leave (excused)", UNEXCUSED, "◀ Back", "Cancel"]
    await teacher.tap(SICK)
    assert teacher.last == f"{truant.name} (2 of 2): why absent?"
    await teacher.tap(UNEXCUSED)
    assert teacher.last.startswith("Attendance, Grade 7 Class 1, 梅林中学, Nov 23, 2026\n")
    assert f"• Absent: {sick.name} (sick leave), {truant.name} (unexcused)" in teacher.last
    await teacher.tap("✅ Confirm")

    case = rows(harness, Case)[0]
    assert teacher.reply_texts[-1] == (
        f"Recorded, thank you. Grade 7 Class 1, 梅林中学, Nov 23: 2 absent — {sick.name} (sick "
        f"leave), {truant.name} (unexcused).\n"
        f"{truant.name}: case #{case.id} opened (absent without excuse since Nov 23).\n"
        "Told: school administrator.")
    assert teacher.buttons() == ["Open case"]

    day = rows(harness, AttendanceDay)
    assert [(d.day, d.teacher_id, d.all_present) for d in day] == [(date(2026, 11, 23), me.id, False)]
    marks = {m.student_id: (m.status, m.reason) for m in rows(harness, AttendanceMark)}
    assert marks == {sick.id: ("excused", "sick"), truant.id: ("unexcused", None)}
    # 大田 三(四): one unexcused day, reported by the teacher that same day
    assert (case.student_id, case.state, case.source) == (truant.id, "suspected", "attendance_streak")
    assert (case.absent_since, case.reported_by, case.reasons) == (date(2026, 11, 23), me.id, ["other"])
    assert [e.kind for e in rows(harness, CaseEvent)] == ["reported", "absence_threshold"]

    # the school administrator: one message, the ladder's, with the absence in it
    assert outbox(harness, world, only={"school_admin", "teacher"}) == [
        "11-23 09:00 attendance_prompt → teacher",
        "11-23 09:00 level_entered → school_admin",
    ]
    await deliver(harness)
    assert admin.last == (
        f"Case #{case.id} {truant.name} (Grade 7 Class 1, 梅林中学) is now at suspected dropout.\n"
        f"• Absent without excuse for 1 school day since Nov 23; reported from the daily "
        f"attendance by {me.display_name}.")
    assert admin.buttons() == ["Open case"]

    # the next day the pupil is still away: the streak goes on, nobody is told again
    tick(harness, 2026, 11, 24, 9, 0)
    await deliver(harness)
    before = mark(harness)
    await absent_today(teacher, (truant, UNEXCUSED))
    assert teacher.reply_texts[-1] == (
        f"Recorded, thank you. Grade 7 Class 1, 梅林中学, Nov 24: 1 absent — {truant.name} "
        "(unexcused).")
    assert outbox(harness, world, before) == []
    assert streak(harness, truant) == streaks.Streak(2, date(2026, 11, 23))


async def test_a_stale_all_present_on_an_answered_prompt_erases_nothing_without_a_confirmation(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    """Issue #12: ✅ All present tapped on a prompt already answered with an absence used to
    delete the absence at once. Now it shows what would change and asks; the answered
    prompt offers only "Change the answer"."""
    everyone_online(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    truant = pupils(world)[2]
    tick(harness, 2026, 11, 23, 9, 0)
    await deliver(harness)
    prompt = teacher.keyboard_message()
    assert prompt is not None and teacher.buttons(prompt) == ["✅ All present", SOME_ABSENT]
    await absent_today(teacher, (truant, UNEXCUSED))
    assert [(m.student_id, m.status) for m in rows(harness, AttendanceMark)] == [(truant.id, "unexcused")]

    # the stale ✅ on the old prompt: nothing overwritten, the change spelled out
    await teacher.tap("✅ All present", message=prompt)
    assert [(m.student_id, m.status) for m in rows(harness, AttendanceMark)] == [(truant.id, "unexcused")]
    assert [d.all_present for d in rows(harness, AttendanceDay)] == [False]
    assert not any(t.startswith("Thank you!") for t in teacher.reply_texts)
    prompt = teacher._resolve(prompt.message_id)
    assert prompt.content == (
        f"Attendance Grade 7 Class 1, 梅林中学, Nov 23: 1 absent — {truant.name} (unexcused) "
        "(recorded).\n"
        f"Change the record of Nov 23 to all present: 1 absence record(s) will be deleted "
        f"({truant.name}). Confirm?")
    assert teacher.buttons(prompt) == [
        "✅ Confirm: change to all present", "📝 Change the list of absent pupils"]

    # confirmed: now the day is all present, and the prompt shows it with one button
    await teacher.tap("✅ Confirm: change to all present", message=prompt)
    assert rows(harness, AttendanceMark) == []
    assert [d.all_present for d in rows(harness, AttendanceDay)] == [True]
    assert teacher.reply_texts[-1] == "Thank you! Grade 7 Class 1, 梅林中学, Nov 23: all present."
    prompt = teacher._resolve(prompt.message_id)
    assert prompt.content == "Attendance Grade 7 Class 1, 梅林中学, Nov 23: ✅ all present (recorded)."
    assert teacher.buttons(prompt) == ["✏️ Change the answer"]

    # change it back: the list again, and its Confirm is the confirmation
    await teacher.tap("✏️ Change the answer", message=prompt)
    prompt = teacher._resolve(prompt.message_id)
    assert teacher.buttons(prompt) == ["📝 Change the list of absent pupils"]
    await teacher.tap("📝 Change the list of absent pupils", message=prompt)
    await teacher.tap(truant.name)
    await teacher.tap("Done ✓")
    await teacher.tap(UNEXCUSED)
    await teacher.tap("✅ Confirm")
    assert [(m.student_id, m.status) for m in rows(harness, AttendanceMark)] == [(truant.id, "unexcused")]

    # the domain refuses an unconfirmed overwrite whoever calls it
    def overwrite(cw: Any) -> None:
        prompts.record_attendance(cw, cw.session.get(User, world.users["teacher"].id),
                                  world.classes[4].id, date(2026, 11, 23))

    with pytest.raises(ValidationError, match="11月23日 的出勤已经记录"):
        act(harness, overwrite)
    assert len(rows(harness, AttendanceMark)) == 1


async def test_in_chinese_the_stale_tap_says_what_would_be_deleted(harness, world) -> None:  # type: ignore[no-untyped-def]
    everyone_online(harness, world)
    teacher = speaking(harness, world.users["teacher"], "zh_Hans")
    truant = pupils(world)[2]
    tick(harness, 2026, 11, 23, 9, 0)
    await deliver(harness)
    prompt = teacher.keyboard_message()
    await teacher.tap("📝 有人缺勤")
    await teacher.tap(truant.name)
    await teacher.tap("完成 ✓")
    await teacher.tap("❌ 无故缺课")
    await teacher.tap("✅ 确认")
    await teacher.tap("✅ 全部出勤", message=prompt)
    assert teacher._resolve(prompt.message_id).content == (
        f"梅林中学七年级（1）班 11月23日 出勤（已记录）：缺勤 1 人——{truant.name}（无故缺课）。\n"
        f"把 11月23日 的记录改为全部出勤：将删除 1 条缺勤记录（{truant.name}）。确认修改吗？")
    assert teacher.buttons(prompt) == ["✅ 确认改为全部出勤", "📝 重新填写缺勤名单"]
    assert len(rows(harness, AttendanceMark)) == 1


# --- 鸡东: 7 school days → visit or call; 22 → a named persuader ---------------------------------


@jidong
async def test_jidong_seven_school_days_ask_for_a_visit_and_the_month_mark_for_a_named_persuader(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    everyone_online(harness, world)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    admin = speaking(harness, world.users["school_admin"], "en")
    truant = pupils(world)[1]
    in_scope = {"teacher", "school_admin"}

    start(harness, 2026, 11, 2, 8, 0)  # Monday
    day, n, alerts = date(2026, 11, 2), 0, []
    while n < 22:
        if attendance_day(harness, day):
            tick(harness, day.year, day.month, day.day, 9, 0)
            await deliver(harness)
            before = mark(harness)
            await absent_today(teacher, (truant, UNEXCUSED))
            n += 1
            assert streak(harness, truant) == streaks.Streak(n, date(2026, 11, 2))
            told = [line for line in outbox(harness, world, before, only=in_scope)
                    if "absence_alert" in line or "level_entered" in line]
            alerts.append((n, told))
            if n == 7:
                case = rows(harness, Case)[0]
                # the case opens now (the profile's suspected level starts at 7 days) and the
                # teacher is asked to visit or call, with the button to record it
                assert teacher.reply_texts[-1] == (
                    f"Recorded, thank you. Grade 7 Class 1, 梅林中学, Nov 10: 1 absent — "
                    f"{truant.name} (unexcused).\n"
                    f"{truant.name}: case #{case.id} opened (absent without excuse since Nov 2).\n"
                    f"#{case.id} {truant.name} (Grade 7 Class 1, 梅林中学): absent without excuse "
                    "for 7 school days since Nov 2. Please visit the home or call the guardian, "
                    "and record it.")
                assert teacher.buttons() == ["Record a visit", "Open case"]
                assert (case.source, case.absent_since) == ("attendance_streak", date(2026, 11, 2))
                await deliver(harness)
                assert admin.last == (
                    f"Case #{case.id} {truant.name} (Grade 7 Class 1, 梅林中学) is now at suspected "
                    "dropout.\n"
                    "• Absent without excuse for 7 school days since Nov 2: the home is to be "
                    "visited or the guardian called.")
                assert admin.buttons() == ["Record a visit", "Open case"]
            if n == 22:
                break
        day += timedelta(days=1)
        tick(harness, day.year, day.month, day.day, 0, 0)
    assert day == date(2026, 12, 1)  # the 22nd school day: Tuesday 12-01
    # the school is told once, when the case opens at 7 days; the month is the ladder's own
    # mark (the suspected level's deadline, counted from the first day away), not a second
    # absence threshold, and nothing is said to anyone above the school before it
    assert [n for n, told in alerts if told] == [7]
    assert dict(alerts)[7] == ["11-10 09:00 level_entered → school_admin"]
    assert rows(harness, Case)[0].state == "suspected"

    # the end of the 22nd school day away: the school administrator names the 专人
    tick(harness, 2026, 12, 1, 17, 30)
    await deliver(harness)
    assert rows(harness, Case)[0].state == "school_persuasion"
    assert admin.last == (
        f"Case #{case.id} {truant.name} (Grade 7 Class 1, 梅林中学) is now at school persuasion: "
        "please name the dedicated person who will persuade the family; they will then own "
        "the case.")
    assert admin.buttons() == ["👤 Name the person…", "Open case"]
    await admin.tap("👤 Name the person…")
    assert admin.last == f"Assign case #{case.id} to:"
    await admin.tap(me.display_name)
    assert admin.last == f"Case #{case.id} assigned to {me.display_name}."
    assigned = rows(harness, Case)[0]
    assert assigned.assigned_to_id == me.id
    events = [(e.kind, e.data.get("school_days")) for e in rows(harness, CaseEvent)]
    assert events[:4] == [("reported", None), ("absence_threshold", 7), ("escalated", None),
                          ("assigned", None)]


# --- the cut-off ----------------------------------------------------------------------------------


async def test_a_teacher_who_has_not_answered_by_the_cutoff_is_reminded_once(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    everyone_online(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    punctual = speaking(harness, world.users["teacher6"], "en")  # 七年级2班

    assert tick(harness, 2026, 11, 23, 9, 0).count("attendance_prompt: prompted") == 12
    await deliver(harness)
    harness.services.clock.set(local(2026, 11, 23, 10, 0))
    await punctual.tap("✅ All present")
    assert punctual.reply_texts == [
        "Attendance Grade 7 Class 2, 梅林中学, Nov 23: ✅ all present (recorded).",
        "Thank you! Grade 7 Class 2, 梅林中学, Nov 23: all present.",
    ]
    # the answered prompt shows the answer and offers only to change it (asked before it overwrites)
    assert punctual.buttons() == ["✏️ Change the answer"]

    before = mark(harness)
    assert tick(harness, 2026, 11, 23, 10, 59) == []
    acted = tick(harness, 2026, 11, 23, 11, 0)
    assert sorted(set(acted)) == ["attendance_cutoff: answered", "attendance_cutoff: reminded"]
    assert acted.count("attendance_cutoff: reminded") == 11  # every class but 七年级2班
    for when in ((11, 30), (14, 0), (17, 29), (17, 30), (23, 59)):
        assert tick(harness, 2026, 11, 23, *when) == []
    assert outbox(harness, world, before, only={"teacher", "teacher6"}) == [
        "11-23 11:00 attendance_cutoff → teacher"]
    await deliver(harness)
    assert teacher.last == "Reminder: today's attendance for Grade 7 Class 1, 梅林中学 (Nov 23) is not in yet."
    await teacher.tap("✅ All present")  # on the reminder
    assert teacher.reply_texts[-1] == "Thank you! Grade 7 Class 1, 梅林中学, Nov 23: all present."

    # the next day: a new prompt, and nothing left over from Monday
    before = mark(harness)
    tick(harness, 2026, 11, 24, 9, 0)
    assert outbox(harness, world, before, only={"teacher"}) == ["11-24 09:00 attendance_prompt → teacher"]


async def test_an_answer_for_another_class_or_a_day_off_is_refused(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    other_class = world.classes[5].id
    tick(harness, 2026, 11, 23, 9, 0)
    await deliver(harness)
    # a forged button for 七年级2班, and for Sunday
    for data, said in (
        (f"atd:{other_class}:20261123:a", "You do not take the attendance of this class."),
        (f"atd:{world.classes[4].id}:20261122:a", "Nov 22 is not a school day."),
        (f"atd:{world.classes[4].id}:20261124:s", "Nov 24 has not come yet."),
    ):
        msg = harness.tg.last_bot_message(teacher.chat_id)
        msg.reply_markup = {"inline_keyboard": [[{"text": "forged", "callback_data": data}]]}
        await teacher.tap(data, message=msg)
        assert teacher.reply_texts == [said]
    assert rows(harness, AttendanceDay) == []


# --- 谯城: the term-start roll call --------------------------------------------------------------


@qiaocheng
async def test_qiaocheng_a_pupil_not_reported_by_the_end_of_the_first_week_is_registered(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    everyone_online(harness, world)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    admin = speaking(harness, world.users["school_admin"], "en")
    missing, late = pupils(world)[0], pupils(world)[3]

    start(harness, 2026, 9, 1, 8, 0)  # Tuesday, the first day of the autumn term
    before = mark(harness)
    tick(harness, 2026, 9, 1, 9, 0)
    # the first day the roll call stands for the attendance: one question, not two
    assert outbox(harness, world, before, only={"teacher"}) == ["09-01 09:00 roll_call_prompt → teacher"]
    await deliver(harness)
    assert teacher.last == (
        "Term-start roll call (报到) for Grade 7 Class 1, 梅林中学: has every pupil reported? "
        "Whoever has not reported by Sep 8 will be registered as a suspected dropout.")
    prompt = teacher.keyboard_message()
    assert prompt is not None
    await teacher.tap("📝 Some have not")
    assert teacher.last == "Who has not reported yet, Grade 7 Class 1, 梅林中学? Tap each name, then Done."
    await teacher.tap(missing.name)
    await teacher.tap(late.name)
    await teacher.tap("Done ✓")
    assert f"• Not reported: {missing.name}, {late.name}" in teacher.last
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[-1] == (
        f"Roll call for Grade 7 Class 1, 梅林中学: 2 pupils have not reported ({missing.name}, "
        f"{late.name}). Whoever has not reported by Sep 8 will be registered as a suspected "
        "dropout; a pupil counts as reported as soon as the daily attendance has them at school.")
    # issue #12: a stale ✅ on the answered prompt overwrites nothing; it asks first
    await teacher.tap("✅ Everyone has reported", message=prompt)
    assert {e.student_id for e in rows(harness, RollCallEntry) if e.status == "missing"} == {
        missing.id, late.id}
    assert teacher._resolve(prompt.message_id).content == (
        f"Roll call for Grade 7 Class 1, 梅林中学: 2 not reported — {missing.name}, {late.name} "
        "(recorded).\nChange it to everyone has reported: 2 pupil(s) will be marked as reported "
        f"({missing.name}, {late.name}). Confirm?")
    assert teacher.buttons(prompt) == [
        "✅ Confirm: everyone has reported", "📝 Change the list of pupils not reported"]
    assert tick(harness, 2026, 9, 1, 11, 0).count("roll_call_cutoff: answered") == 1

    # Wednesday: the late one is at school; the other is still away
    tick(harness, 2026, 9, 2, 9, 0)
    await deliver(harness)
    await absent_today(teacher, (missing, UNEXCUSED))
    assert teacher.reply_texts[-1].endswith(f"\nCounted as reported at the roll call: {late.name}.")
    # the rest of the week nobody answers (the reminders go unheeded)
    for d in (3, 4, 7):
        tick(harness, 2026, 9, d, 9, 0)
        tick(harness, 2026, 9, d, 11, 0)
    assert rows(harness, Case) == []  # 1 unexcused day: below qiaocheng's 3

    tick(harness, 2026, 9, 8, 9, 0)
    before = mark(harness)
    acted = tick(harness, 2026, 9, 8, 17, 30)  # one week after the term began
    closed = sorted(a for a in acted if a.startswith("roll_call_close"))
    assert closed == ["roll_call_close: not answered"] * 11 + ["roll_call_close: registered 1"]
    case = rows(harness, Case)[0]
    assert (case.student_id, case.source, case.state) == (missing.id, "roll_call", "suspected")
    assert (case.absent_since, case.reported_by) == (date(2026, 9, 1), me.id)
    entries = {e.student_id: (e.status, e.case_id, e.reported_on) for e in rows(harness, RollCallEntry)}
    assert entries == {
        missing.id: ("registered", case.id, None),
        late.id: ("reported", None, date(2026, 9, 2)),
    }
    assert outbox(harness, world, before, only={"teacher", "school_admin"}) == [
        "09-08 17:30 level_entered → school_admin",
        "09-08 17:30 roll_call_registered → teacher",
        "09-08 17:30 roll_call_unanswered → school_admin",
    ]
    await deliver(harness)
    # the other five classes of 梅林中学 never answered: the administrator hears it once
    unanswered = last_to(harness, world.users["school_admin"], "roll_call_unanswered")
    assert text_of(unanswered) == (
        "The term-start roll call was not answered by Sep 8 for the classes below, so nobody in "
        "them could be registered. Check who has not reported and report them with /report.\n"
        + "\n".join(f"• Grade {g} Class {c}, 梅林中学" for g, c in
                    ((7, 2), (8, 1), (8, 2), (9, 1), (9, 2))))
    assert teacher.last == (
        f"#{case.id} {missing.name} (Grade 7 Class 1, 梅林中学): had not reported (报到) when the "
        "term-start roll call closed on Sep 8. Registered as a suspected dropout and followed "
        "like an absence.")
    assert teacher.buttons() == ["Record a visit", "Open case"]
    assert text_of(last_to(harness, world.users["school_admin"], "level_entered")) == (
        f"Case #{case.id} {missing.name} (Grade 7 Class 1, 梅林中学) is now at suspected dropout.\n"
        "• Had not reported (报到) when the term-start roll call closed on Sep 8.")
    assert admin.reply_texts[-2] == text_of(last_to(harness, world.users["school_admin"], "level_entered"))


# --- the story: one 大田 case from the first unexcused day to the county ------------------


IN_SCOPE = {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"}
DAY_TIMES = ((8, 0), (9, 0), (11, 0), (17, 30))  # reminders, prompt, cut-off, deadlines


async def run_datian_story(harness: Any, world: World, first: date) -> tuple[list[str], Case]:
    """The pupil stays away from ``first`` (a Monday) on; the teacher answers every prompt
    at 09:05 and visits the family the first afternoon; the township acknowledges its alerts
    the next morning, but nobody brings the child back. The scheduler ticks at each policy
    time of every day until the case reaches the county. Returns the outbox log."""
    # only this class's teacher takes attendance on the bot in this story (the others would
    # add eleven prompts a day and nothing to it)
    with Session(harness.engine) as s:
        for key, user in world.users.items():
            if key.startswith("teacher") and user.id != world.users["teacher"].id:
                row = s.get(User, user.id)
                assert row is not None
                row.active = False
                s.add(row)
        s.commit()
    everyone_online(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    township = speaking(harness, world.users["township_officer"], "en")
    truant = next(p for p in pupils(world) if p.village_id == world.villages[0].id)
    start(harness, first.year, first.month, first.day, 7, 0)
    day, case_id = first, None
    while day < first + timedelta(days=90):
        for hm in DAY_TIMES:
            tick(harness, day.year, day.month, day.day, *hm)
            await deliver(harness)
            if hm == (9, 0) and attendance_day(harness, day):
                harness.services.clock.set(local(day.year, day.month, day.day, 9, 5))
                await absent_today(teacher, (truant, UNEXCUSED))
                await deliver(harness)
            if hm == (11, 0) and case_id is None:
                case_id = rows(harness, Case)[0].id
                harness.services.clock.set(local(day.year, day.month, day.day, 14, 0))
                await visit_refused(teacher, case_id)
                await deliver(harness)
            if hm == (9, 0) and case_id is not None:
                case = rows(harness, Case, Case.id == case_id)[0]
                pending = [d for d in rows(harness, Deadline, Deadline.case_id == case_id,
                                           Deadline.kind == "ack", Deadline.status == "open")]
                if pending and "township_officer" in pending[0].payload["roles"] and \
                        case.state != "deadline_notice":
                    harness.services.clock.set(local(day.year, day.month, day.day, 9, 30))
                    await township.tap("Acknowledge")
                    await deliver(harness)
                if case.state == "deadline_notice" and case.notice_issued_at is None:
                    # the morning after the level is reached, the township issues the notice
                    # (no climbing past it without): the guardian's 7 days start then
                    harness.services.clock.set(local(day.year, day.month, day.day, 9, 40))
                    await township.send(f"/case {case_id}")
                    await township.tap("📨 Issue: Deadline notice to return to school")
                    await township.tap("✅ Issue the notice")
                    await deliver(harness)
        if case_id is not None and rows(harness, Case, Case.id == case_id)[0].state == "county_escalation":
            break
        day += timedelta(days=1)
    case = rows(harness, Case, Case.id == case_id)[0]
    return outbox(harness, world, only=IN_SCOPE), case


async def visit_refused(chat: Any, case_id: int) -> None:
    """The teacher's home visit on the first afternoon: the family refuses."""
    await chat.send(f"/visit {case_id}")
    await chat.tap("🏠 Home visit, today")
    await chat.send("父母在外打工，奶奶照看")
    await chat.tap("Hesitant")
    await chat.tap("Unwilling to return")
    await chat.send("讲解义务教育法")
    await chat.tap("Refused")
    await chat.tap("Skip")
    await chat.tap("✅ Confirm")


def split(log: list[str]) -> tuple[list[str], list[str]]:
    """The daily prompts (as "MM-DD") and everything else, from an outbox log."""
    prompts = [line for line in log if " attendance_prompt → " in line]
    # every prompt at 09:00, to the class's teacher
    assert all(line.endswith(" 09:00 attendance_prompt → teacher") for line in prompts), prompts
    return [line[:5] for line in prompts], [line for line in log if line not in prompts]


def school_days(*spans: tuple[str, str], extra: tuple[str, ...] = ()) -> list[str]:
    """Monday to Friday in each "MM-DD" span of 2026, plus ``extra`` days, sorted."""
    days = set(extra)
    for first, last in spans:
        d = date.fromisoformat(f"2026-{first}")
        while d <= date.fromisoformat(f"2026-{last}"):
            if d.weekday() < 5:
                days.add(f"{d:%m-%d}")
            d += timedelta(days=1)
    return sorted(days)


async def test_a_datian_case_runs_from_the_first_unexcused_day_to_the_county(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    log, case = await run_datian_story(harness, world, date(2026, 11, 2))
    prompts, ladder_log = split(log)
    # a prompt every school day at 09:00, answered each time, so never a cut-off reminder
    assert prompts == school_days(("11-02", "12-18"))
    assert ladder_log == [
        # Monday: the answer at 09:05 opens the case (大田: one unexcused day, that same day)
        "11-02 09:05 level_entered → school_admin",
        # the teacher's home visit that afternoon starts the school's 3 working days
        "11-02 14:00 level_entered → school_admin",
        "11-04 08:00 reminder → teacher",
        "11-04 08:00 reminder → school_admin",
        "11-05 08:00 reminder → teacher",
        "11-05 08:00 reminder → school_admin",
        # still away: written report to the township (表5), which must acknowledge
        "11-05 17:30 escalation_alert → township_officer",
        "11-05 17:30 township_started → village_cadre",  # who persuades with the township, told today
        "11-05 17:30 moved_up → teacher",
        "11-05 17:30 moved_up → school_admin",
        # acknowledged the next morning; round 1 of 5 falls due a working week later
        "11-11 08:00 reminder → village_cadre",
        "11-11 08:00 reminder → township_officer",
        "11-12 08:00 reminder → village_cadre",
        "11-12 08:00 reminder → township_officer",
        "11-12 17:30 overdue → village_cadre",
        "11-12 17:30 overdue → township_officer",
        # 25 working days without the child: the 限期复学通知书 level
        "12-09 08:00 reminder → village_cadre",
        "12-09 08:00 reminder → township_officer",
        "12-10 08:00 reminder → village_cadre",
        "12-10 08:00 reminder → township_officer",
        "12-10 17:30 escalation_alert → township_officer",
        "12-10 17:30 escalation_alert → school_admin",
        "12-10 17:30 moved_up → village_cadre",
        # the township issues the 限期复学通知书 the next morning (12-11), and gets the notice
        # to print at once: the guardian's seven calendar days run from then; on the last
        # day the township is asked whether the child is back, then the county bureau
        "12-11 09:40 notice_document → township_officer",
        "12-17 08:00 reminder → township_officer",
        "12-18 08:00 return_check → township_officer",
        "12-18 17:30 escalation_alert → county_officer",
        "12-18 17:30 moved_up → township_officer",
    ]
    await check_the_end(harness, world, case, "12-18")


async def test_the_same_case_across_national_day_2026(harness, world) -> None:  # type: ignore[no-untyped-def]
    log, case = await run_datian_story(harness, world, date(2026, 9, 28))
    prompts, ladder_log = split(log)
    # no prompt from 10-01 to 10-07 (国庆); one on Saturday 10-10 (调休)
    assert prompts == school_days(("09-28", "09-30"), ("10-08", "11-19"), extra=("10-10",))
    assert "10-10" in prompts and not any("10-01" <= p <= "10-07" for p in prompts)
    assert ladder_log == [
        "09-28 09:05 level_entered → school_admin",
        "09-28 14:00 level_entered → school_admin",
        # the school's 3 working days: 09-29, 09-30 and, after the holiday, 10-08
        "09-30 08:00 reminder → teacher",
        "09-30 08:00 reminder → school_admin",
        "10-08 08:00 reminder → teacher",
        "10-08 08:00 reminder → school_admin",
        "10-08 17:30 escalation_alert → township_officer",
        "10-08 17:30 township_started → village_cadre",
        "10-08 17:30 moved_up → teacher",
        "10-08 17:30 moved_up → school_admin",
        # round 1: 10-09, 10-10 (调休), 10-12, 10-13, 10-14
        "10-13 08:00 reminder → village_cadre",
        "10-13 08:00 reminder → township_officer",
        "10-14 08:00 reminder → village_cadre",
        "10-14 08:00 reminder → township_officer",
        "10-14 17:30 overdue → village_cadre",
        "10-14 17:30 overdue → township_officer",
        "11-10 08:00 reminder → village_cadre",
        "11-10 08:00 reminder → township_officer",
        "11-11 08:00 reminder → village_cadre",
        "11-11 08:00 reminder → township_officer",
        "11-11 17:30 escalation_alert → township_officer",
        "11-11 17:30 escalation_alert → school_admin",
        "11-11 17:30 moved_up → village_cadre",
        # the notice issued on the morning of 11-12 (to its issuer at once): seven days from then
        "11-12 09:40 notice_document → township_officer",
        "11-18 08:00 reminder → township_officer",
        "11-19 08:00 return_check → township_officer",
        "11-19 17:30 escalation_alert → county_officer",
        "11-19 17:30 moved_up → township_officer",
    ]
    await check_the_end(harness, world, case, "11-19")


async def check_the_end(harness: Any, world: World, case: Case, day: str) -> None:
    """The case is at the county, reported from the attendance, with its whole history; the
    county officer's alert reached their chat with the visit on it."""
    assert (case.state, case.source, case.reported_by) == (
        "county_escalation", "attendance_streak", world.users["teacher"].id)
    events = [(e.kind, e.to_state) for e in rows(harness, CaseEvent, CaseEvent.case_id == case.id)]
    assert events == [
        ("reported", "suspected"),
        ("absence_threshold", "suspected"),
        ("visit", "school_persuasion"),
        ("escalated", "township_persuasion"),
        ("acknowledged", "township_persuasion"),
        ("escalated", "deadline_notice"),
        ("notice_issued", "deadline_notice"),  # issuing it answers the township's alert
        ("escalated", "county_escalation"),
    ]
    alert = last_to(harness, world.users["county_officer"], "escalation_alert")
    assert alert.status == "sent"
    truant = rows(harness, Student, Student.id == case.student_id)[0]
    first = case.absent_since
    assert first is not None
    assert text_of(alert) == (
        f"Escalation: case #{case.id} {truant.name} (Grade 7 Class 1, 梅林中学) is now at county "
        "escalation. Please acknowledge.\n"
        f"• {first:%b} {first.day} school persuasion round 1: Home visit, Refused")
    # delivered, in the officer's language (Chinese), with the buttons to take it on
    shown = harness.tg.last_bot_message(world.users["county_officer"].telegram_id)
    text, markup = render(alert.payload, "zh_Hans")
    assert markup is not None and shown is not None and shown.content == text
    assert [[d for _label, d in row] for row in shown.buttons()] == [
        [f"ack:{case.id}", f"assign:{case.id}"], [f"case:{case.id}"]]


def test_plurals_and_lists_keep_their_form_through_the_outbox() -> None:
    """The outbox stores a Text as JSON and renders it when it sends: a plural (``n_``) and a
    joined list (``join``) must come back as they were ("7 school days", not "7 school day")."""
    from casework.i18n import _
    from casework.labels import join, n_
    from casework.outbox import text_to_json

    text = _("{what} — {who}", what=n_("{n} school day", "{n} school days", 7),
             who=join([_("unexcused"), "王小明"]))
    back = text_from_json(text_to_json(text))
    assert back.render("en") == "7 school days — unexcused, 王小明"
    assert back.render("zh_Hans") == text.render("zh_Hans")
