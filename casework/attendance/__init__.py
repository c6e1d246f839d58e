"""Attendance: the daily prompt, the teachers' answers, absence streaks and what the
policy's thresholds make happen; and the term-start roll call (开学报到). No Telegram here.

One module per idea: :mod:`~casework.attendance.prompts` (the planner, the daily prompt and
its reminder, the teachers' answers), :mod:`~casework.attendance.streaks` (absence streaks
and the thresholds' actions), :mod:`~casework.attendance.roll_call` (the term-start roll
call). This module holds what they share: the answers' codes, the results, who answers
for a class, and the outbox helpers (one message per person per event).

The seeds, clause by clause:

- 000 大田 三(四) "学生无故一天不到校上学的，教师必须于当天向学校报告": every school day the
  teacher is asked; one unexcused day opens a suspected case that same day, reported by
  the teacher, and the school administrator is told (``absence``: 1 school day, report).
- 003 鸡东 四 "对无故7日未到校学生及时家访或与监护人联系核实情况，对无故一个月未到校学生及时
  落实专人做好动员劝返工作": at 7 school days the case opens (the profile's suspected level
  starts there) and the teacher is asked to visit the home or call the guardian, with a
  "Record a visit" button; at 22 the school administrator is asked to name the person who
  persuades ("Assign to…").
- 001 谯城 (五) "每学期开学后 1 周内，对未报到的学生登记造册并逐一核实原因", 002 潼南 二(一)
  "在每学期第一学月内……核查本校就读学生返校情况", 004 荔浦 五(一) "摸清未及时返校学生人数、
  名单及去向情况，登记造册": the term-start roll call. On the term's first school day the
  teachers say who has not reported; whoever has still not reported when
  ``roll_call.within`` runs out is registered as a case (source ``roll_call``) and followed
  like an absence.

Calendar jobs are caseless deadline rows (DESIGN §3), planned by :func:`prompts.plan` at the
start of every scheduler tick and idempotent on their dedupe key:

- ``attendance_prompt`` per (teacher, class, day) at ``times.daily_prompt`` on each school
  day: a working day inside a term, so a 调休 Saturday gets one and holidays, ordinary
  weekends and the weeks between terms get none;
- ``attendance_cutoff`` per (teacher, class, day) at ``times.attendance_cutoff``, made when
  the prompt goes out: one reminder if nobody has answered for the class by then;
- ``roll_call_prompt`` / ``roll_call_cutoff``: the same for the roll call, on the term's
  first school day (that day the roll call stands for the attendance: one question, not
  two at once);
- ``roll_call_close`` per (class, term) when ``roll_call.within`` runs out.

Decisions the seeds leave open:

- A streak counts the school days the class's attendance was answered with the pupil
  marked unexcused, back from the latest answered day. A day present or excused ends it;
  a day nobody answered neither counts nor ends it: a case is never opened on a guess, and
  a forgotten answer does not wipe out a month of absence.
- Every threshold needs a case to hang on. If the pupil has none open, one is opened
  (``ladder.report``, source ``attendance_streak``, ``absent_since`` the streak's first day,
  the answering teacher the actor), whatever the action: jidong's profile opens its case at
  7 days, and the "Record a visit" button needs a case. A pupil whose case says they were
  back (returned / retention) relapses; a case paused, in home teaching or deferred is left
  alone (the absence is explained there).
- Each threshold acts once per streak; a case event ``absence_threshold`` records that it did.
- The attendance does not know why a pupil is away: the case opens with reason "other" and
  a note, and the first visit records the real reasons.
- One message per person per event: someone the ladder has just told about the case (the
  school administrator on a new suspected case) gets the absence as a line, and its
  buttons, in that message rather than a second message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import col, func, select

from casework import states
from casework.context import Casework
from casework.errors import AccessDenied
from casework.i18n import N_, Text, _
from casework.labels import day_text, grade_text
from casework.outbox import HELD, enqueue, text_to_json
from casework.scope import teacher_class_ids
from models.tables import (
    Case,
    Deadline,
    OutboxMessage,
    School,
    SchoolClass,
    Student,
    TeacherClass,
    User,
)

EXCUSED, UNEXCUSED = "excused", "unexcused"
EXCUSES: dict[str, str] = {
    "sick": N_("sick leave"),  # 病假
    "leave": N_("approved leave"),  # 事假 (approved)
}
UNEXCUSED_LABEL = N_("unexcused")  # 无故缺勤 / 旷课


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Followup:
    """Something the answering teacher should read (and maybe tap) after their answer."""

    text: Text
    buttons: tuple[tuple[Text, str], ...] = ()


@dataclass
class Recorded:
    """What recording an answer did: the reply, the follow-ups and the cases it touched."""

    message: Text
    followups: list[Followup] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)


# --- small helpers ------------------------------------------------------------------------


def _short(d: date) -> Text:
    """A day as every chat message writes it (11月23日 / Nov 23)."""
    return day_text(d)


def _button(label: Text, data: str) -> dict[str, Any]:
    return {"text": text_to_json(label), "data": data}


def class_text(cw: Casework, klass: SchoolClass) -> Text:
    """"Grade 7 Class 2, 梅林中学" (the wording case titles use)."""
    school = cw.session.get(School, klass.school_id)
    return _(
        "Grade {grade} Class {section}, {school}",
        grade=grade_text(klass.grade),
        section=klass.section,
        school=school.name if school else "",
    )


def excuse_text(status: str, reason: str | None) -> Text:
    if status == EXCUSED and reason in EXCUSES:
        return _(EXCUSES[reason])
    return _(UNEXCUSED_LABEL)


def _too_late(cw: Casework, day: date) -> datetime:
    """After the office day of ``day`` ends, its prompt is no use any more."""
    return cw.calendars.at_local(day, cw.policy.times.deadline_time)


def _teachers(cw: Casework, class_id: int) -> list[User]:
    return list(
        cw.session.exec(
            select(User)
            .join(TeacherClass, col(TeacherClass.user_id) == col(User.id))
            .where(TeacherClass.class_id == class_id, col(User.active).is_(True))
            .order_by(col(User.id))
        ).all()
    )


def _school_admins(cw: Casework, school_id: int) -> list[User]:
    return list(
        cw.session.exec(
            select(User)
            .where(
                User.role == "school_admin",
                User.scope_kind == "school",
                User.scope_id == school_id,
                col(User.active).is_(True),
            )
            .order_by(col(User.id))
        ).all()
    )


def _teaches(cw: Casework, user: User, klass: SchoolClass) -> bool:
    return user.active and klass.id in teacher_class_ids(cw.session, user)


def may_answer(cw: Casework, actor: User, klass: SchoolClass) -> bool:
    """The class's teachers, the administrator of its school (standing in), the operator."""
    if not actor.active:
        return False
    if actor.role == "teacher":
        return klass.id in teacher_class_ids(cw.session, actor)
    if actor.role == "school_admin":
        return actor.scope_kind == "school" and actor.scope_id == klass.school_id
    return actor.role == "admin" and actor.scope_kind == "all"


def load_class(cw: Casework, actor: User, class_id: int, action: str) -> SchoolClass:
    """The class, if the actor takes its attendance; otherwise a refusal (audited)."""
    klass = cw.session.get(SchoolClass, class_id)
    if klass is None or not may_answer(cw, actor, klass):
        raise AccessDenied(
            _("You do not take the attendance of this class."),
            actor_id=actor.id,
            action=action,
            object_type="class",
            object_id=class_id,
        )
    return klass


def roster(cw: Casework, klass: SchoolClass) -> list[Student]:
    """The class's pupils, by name."""
    return list(
        cw.session.exec(
            select(Student)
            .where(Student.class_id == klass.id, col(Student.enrolled).is_(True))
            .order_by(col(Student.name), col(Student.id))
        ).all()
    )


def open_case_of(cw: Casework, student_id: int) -> Case | None:
    """The pupil's case that is not closed (the one ``ladder.report`` would refuse a second of)."""
    return cw.session.exec(
        select(Case).where(
            Case.student_id == student_id,
            col(Case.state).not_in(list(states.FINAL | {states.CLOSED})),
        )
    ).first()


def _job(cw: Casework, deadline: Deadline) -> tuple[SchoolClass | None, User | None]:
    klass = cw.session.get(SchoolClass, int(deadline.payload.get("class_id", 0)))
    teacher = cw.session.get(User, deadline.recipient_id) if deadline.recipient_id else None
    return klass, teacher


# --- one message per person per event -----------------------------------------------------


def _outbox_mark(cw: Casework) -> int:
    """The newest outbox id so far: messages after it were written by what follows."""
    cw.session.flush()
    return int(cw.session.exec(select(func.max(OutboxMessage.id))).one() or 0)


def _tell(
    cw: Casework,
    case: Case,
    users: Iterable[User],
    *,
    text: Text,
    line: Text,
    kind: str,
    buttons: Sequence[tuple[Text, str]] = (),
    after: int,
) -> None:
    """Tell ``users`` about ``case``: as ``line`` (with the buttons) in a message about the
    same case written since outbox id ``after``, else as a message of its own (``text``)."""
    told: list[User] = []
    rows = [[_button(label, data) for label, data in buttons]] if buttons else []
    for user in users:
        if user.unreachable or user in told:
            continue
        earlier = cw.session.exec(
            select(OutboxMessage)
            .where(
                col(OutboxMessage.id) > after,
                OutboxMessage.case_id == case.id,
                OutboxMessage.recipient_id == user.id,
                col(OutboxMessage.status).in_(["pending", HELD]),
            )
            .order_by(col(OutboxMessage.id))
        ).first()
        if earlier is None:
            enqueue(cw.session, user, text, kind=kind, now=cw.now(), case_id=case.id, buttons=rows)
        else:
            payload = dict(earlier.payload)
            have = {b["data"] for row in payload.get("buttons", []) for b in row}
            new_rows = [r for r in ([b for b in row if b["data"] not in have] for row in rows) if r]
            payload["lines"] = [*payload.get("lines", []), text_to_json(line)]
            payload["buttons"] = [*new_rows, *payload.get("buttons", [])]
            earlier.payload = payload  # a new dict: the JSON column sees the change
            # the absence asks for something now: the message goes out now, not with the agenda
            earlier.status = "pending"
            cw.session.add(earlier)
        told.append(user)


def _send(cw: Casework, user: User, text: Text, *, kind: str,
          buttons: list[list[dict[str, Any]]], lines: Sequence[Text] = ()) -> None:
    """A prompt or a reminder to one teacher (the caller has checked they can be reached)."""
    msg = enqueue(cw.session, user, text, kind=kind, now=cw.now(), buttons=buttons)
    if lines:
        msg.payload = {**msg.payload, "lines": [text_to_json(t) for t in lines]}


def _list_notice(cw: Casework, user: User, *, kind: str, key: str, text: Text, line: Text) -> None:
    """A message that lists its items as lines: a new item joins the recipient's message of
    the same ``key`` while it waits to be sent, instead of making another message."""
    if user.unreachable:
        return
    for msg in cw.session.exec(
        select(OutboxMessage).where(
            OutboxMessage.recipient_id == user.id,
            OutboxMessage.kind == kind,
            OutboxMessage.status == "pending",
        )
    ).all():
        if msg.payload.get("key") == key:
            msg.payload = {**msg.payload, "lines": [*msg.payload.get("lines", []),
                                                    text_to_json(line)]}
            cw.session.add(msg)
            return
    msg = enqueue(cw.session, user, text, kind=kind, now=cw.now())
    msg.payload = {**msg.payload, "key": key, "lines": [text_to_json(line)]}
