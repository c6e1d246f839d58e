"""Attendance: the daily prompt, the teachers' answers, absence streaks and what the
policy's thresholds make happen; and the term-start roll call (开学报到). No Telegram here.

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

Calendar jobs are caseless deadline rows (DESIGN §3), planned by :func:`plan` at the start
of every scheduler tick and idempotent on their dedupe key:

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

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from casework import deadlines, ladder, states
from casework.callbacks import Assign, AttendanceAnswer, OpenCase, RecordVisit, RollCallAnswer
from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied, CaseworkError, IllegalTransition, ValidationError
from casework.i18n import DEFAULT_LANGUAGE, N_, Text, _
from casework.labels import STATE_LABELS, WEEKDAY_LABELS, join, n_, roles_text
from casework.notices import case_title
from casework.outbox import enqueue, text_to_json
from casework.policy import AbsenceThreshold, Term
from casework.scope import can_see_student, teacher_class_ids, users_for_case
from models.tables import (
    AttendanceDay,
    AttendanceMark,
    Case,
    CaseEvent,
    Deadline,
    OutboxMessage,
    RollCall,
    RollCallEntry,
    School,
    SchoolClass,
    Student,
    TeacherClass,
    User,
)

log = logging.getLogger(__name__)

PROMPT = "attendance_prompt"
CUTOFF = "attendance_cutoff"
RC_PROMPT = "roll_call_prompt"
RC_CUTOFF = "roll_call_cutoff"
RC_CLOSE = "roll_call_close"

# prompts are planned for today and the next day, so a row exists well before it is due
PLAN_AHEAD_DAYS = 1
# a teacher may still answer (or correct) a school day up to a week back
LATE_ANSWER_DAYS = 7
# a streak longer than this many answered days is counted as this long (no policy needs more)
STREAK_SCAN = 400
_KEY_CHUNK = 500

EXCUSED, UNEXCUSED = "excused", "unexcused"
EXCUSES: dict[str, str] = {
    "sick": N_("sick leave"),  # 病假
    "leave": N_("approved leave"),  # 事假 (approved)
}
UNEXCUSED_LABEL = N_("unexcused")  # 无故缺勤 / 旷课

# a case in one of these is not moved by an absence: its clock is stopped or the child is
# not expected in class
LEFT_ALONE = frozenset({states.PAUSED, states.HOME_TEACHING, states.DEFERRED})
BACK = frozenset({states.RETURNED, states.RETENTION})


# --- inputs and results -------------------------------------------------------------------


@dataclass(frozen=True)
class Absence:
    """One pupil away on the day answered: ``excused`` with a reason code, or ``unexcused``."""

    student_id: int
    status: str
    reason: str | None = None


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


@dataclass(frozen=True)
class Streak:
    """Consecutive answered school days of unexcused absence, ``since`` the first of them."""

    days: int
    since: date | None


@dataclass(frozen=True)
class RollCallWindow:
    """When a term's roll call is asked (its first school day) and when it closes."""

    term: Term
    first_day: date
    closes_at: datetime

    def close_day(self, cw: Casework) -> date:
        return cw.calendars.local_date(self.closes_at)


# --- small helpers --------------------------------------------------------------------------


def _short(d: date) -> str:
    return f"{d.month:02d}-{d.day:02d}"


def _button(label: Text, data: str) -> dict[str, Any]:
    return {"text": text_to_json(label), "data": data}


def prompt_buttons(class_id: int, day: date) -> list[list[dict[str, Any]]]:
    """The two answers to the daily prompt, carrying the class and the day."""
    return [[
        _button(_("✅ All present"), AttendanceAnswer(class_id, day, all_present=True).encode()),
        _button(_("📝 Some absent"), AttendanceAnswer(class_id, day, all_present=False).encode()),
    ]]


def roll_call_buttons(class_id: int, term_start: date) -> list[list[dict[str, Any]]]:
    return [[
        _button(_("✅ Everyone has reported"), RollCallAnswer(class_id, term_start, all_present=True).encode()),
        _button(_("📝 Some have not"), RollCallAnswer(class_id, term_start, all_present=False).encode()),
    ]]


def class_text(cw: Casework, klass: SchoolClass) -> Text:
    """"Grade 7 Class 2, 梅林中学" (the wording case titles use)."""
    school = cw.session.get(School, klass.school_id)
    return _(
        "Grade {grade} Class {section}, {school}",
        grade=klass.grade,
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


def check_day(cw: Casework, day: date) -> date:
    """A day the attendance can be answered for: a school day, not ahead, not long past."""
    today = cw.today()
    if day > today:
        raise ValidationError("day", _("{date} has not come yet.", date=day.isoformat()))
    if day < today - timedelta(days=LATE_ANSWER_DAYS):
        raise ValidationError(
            "day",
            _("{date} is more than {days} days ago; it can no longer be answered.",
              date=day.isoformat(), days=LATE_ANSWER_DAYS),
        )
    if not cw.calendars.is_school_day(day):
        raise ValidationError("day", _("{date} is not a school day.", date=day.isoformat()))
    return day


def check_answerable(cw: Casework, actor: User, class_id: int, day: date) -> SchoolClass:
    """What the bot checks before it asks who is absent (so a refusal comes first)."""
    klass = load_class(cw, actor, class_id, "attendance.record")
    check_day(cw, day)
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


def answered(cw: Casework, class_id: int, day: date) -> AttendanceDay | None:
    return cw.session.exec(
        select(AttendanceDay).where(AttendanceDay.class_id == class_id, AttendanceDay.day == day)
    ).first()


def open_case_of(cw: Casework, student_id: int) -> Case | None:
    """The pupil's case that is not closed (the one ``ladder.report`` would refuse a second of)."""
    return cw.session.exec(
        select(Case).where(
            Case.student_id == student_id,
            col(Case.state).not_in(list(states.FINAL | {states.CLOSED})),
        )
    ).first()


# --- one message per person per event ---------------------------------------------------------


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
                OutboxMessage.status == "pending",
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


# --- the planner and the calendar jobs --------------------------------------------------------


def _term_starting(cw: Casework, start: date) -> Term | None:
    return next((t for t in cw.calendars.terms if t.start == start), None)


def roll_call_window(cw: Casework, term: Term | None) -> RollCallWindow | None:
    """The roll call of ``term`` if the policy has one: asked on the term's first school
    day, closed ``roll_call.within`` after the term starts (at the deadline hour)."""
    if term is None or not cw.policy.roll_call.enabled:
        return None
    cal = cw.calendars
    first = term.start if cal.is_school_day(term.start) else cal.next_school_day(term.start)
    closes_at = cal.due_at(cal.at_local(term.start, time(0, 0)), cw.policy.roll_call.within)
    return RollCallWindow(term, first, closes_at)


def _teaching(cw: Casework) -> list[tuple[int, int]]:
    """(teacher, class) pairs to prompt: active teachers of classes that have pupils (a class
    of last year, emptied when its pupils moved up, is not asked about)."""
    with_pupils = select(Student.class_id).where(
        col(Student.enrolled).is_(True), col(Student.class_id).is_not(None)
    )
    rows = cw.session.exec(
        select(TeacherClass.user_id, TeacherClass.class_id)
        .join(User, col(User.id) == col(TeacherClass.user_id))
        .where(
            col(User.active).is_(True),
            User.role == "teacher",
            col(TeacherClass.class_id).in_(with_pupils),
        )
        .order_by(col(TeacherClass.class_id), col(TeacherClass.user_id))
    ).all()
    return [(int(u), int(c)) for u, c in rows]


def _existing_keys(cw: Casework, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[i : i + _KEY_CHUNK]
        found.update(
            k for k in cw.session.exec(
                select(Deadline.dedupe_key).where(col(Deadline.dedupe_key).in_(chunk))
            ).all() if k
        )
    return found


def plan(cw: Casework) -> None:
    """Plan today's and tomorrow's prompts: one row per (teacher, class, school day).

    Cheap on every tick: one query finds the keys already planned, and only the missing
    ones are inserted (``plan_job`` is idempotent should two processes plan at once).
    Today is not planned any more once its office day is over: a prompt for a day gone
    by is no use.
    """
    pairs = _teaching(cw)
    if not pairs:
        return
    cal = cw.calendars
    prompt_at = cw.policy.times.daily_prompt
    today = cw.today()
    jobs: list[tuple[str, datetime, str, int, dict[str, Any]]] = []
    for offset in range(PLAN_AHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if not cal.is_school_day(day) or cw.now() >= _too_late(cw, day):
            continue
        window = roll_call_window(cw, cal.term_for(day))
        in_roll_call = window is not None and window.first_day <= day <= window.close_day(cw)
        for teacher_id, class_id in pairs:
            if window is not None and in_roll_call:
                # one per teacher and term: planned for its first day, or the first day the
                # planner runs in the window (a bot started mid-week still asks)
                jobs.append((
                    RC_PROMPT, cal.at_local(day, prompt_at),
                    f"rcp:{class_id}:{teacher_id}:{window.term.start.isoformat()}", teacher_id,
                    {"class_id": class_id, "term_start": window.term.start.isoformat()},
                ))
            if window is None or day != window.first_day:
                jobs.append((
                    PROMPT, cal.at_local(day, prompt_at),
                    f"atp:{class_id}:{teacher_id}:{day.isoformat()}", teacher_id,
                    {"class_id": class_id, "day": day.isoformat()},
                ))
    have = _existing_keys(cw, [key for _k, _d, key, _t, _p in jobs])
    for kind, due, key, teacher_id, payload in jobs:
        if key not in have:
            have.add(key)
            deadlines.plan_job(cw, kind, due, key=key, recipient_id=teacher_id, **payload)


def _job(cw: Casework, deadline: Deadline) -> tuple[SchoolClass | None, User | None]:
    klass = cw.session.get(SchoolClass, int(deadline.payload.get("class_id", 0)))
    teacher = cw.session.get(User, deadline.recipient_id) if deadline.recipient_id else None
    return klass, teacher


def _day_lines(day: date) -> list[Text]:
    if day.weekday() >= 5:
        return [_("Today, {weekday}, is a make-up school day (调休).",
                  weekday=_(WEEKDAY_LABELS[day.weekday()]))]
    return []


def on_prompt(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    klass, teacher = _job(cw, deadline)
    day = date.fromisoformat(deadline.payload["day"])
    if klass is None or teacher is None:
        return "class or teacher gone"
    if not cw.calendars.is_school_day(day):
        return "not a school day"
    if cw.now() >= _too_late(cw, day):
        return "too late"
    if not _teaches(cw, teacher, klass):
        return "no longer teaches the class"
    if answered(cw, klass.id or 0, day) is not None:
        return "already answered"
    if teacher.unreachable:
        return "teacher unreachable"
    _send(
        cw, teacher,
        _("Attendance today for {klass} ({date})?", klass=class_text(cw, klass), date=_short(day)),
        kind=PROMPT, buttons=prompt_buttons(klass.id or 0, day), lines=_day_lines(day),
    )
    cutoff = cw.calendars.at_local(day, cw.policy.times.attendance_cutoff)
    if cutoff > cw.now():
        deadlines.plan_job(cw, CUTOFF, cutoff, key=f"atc:{klass.id}:{teacher.id}:{day.isoformat()}",
                 recipient_id=teacher.id, class_id=klass.id, day=day.isoformat())
    return "prompted"


def on_cutoff(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    klass, teacher = _job(cw, deadline)
    day = date.fromisoformat(deadline.payload["day"])
    if klass is None or teacher is None:
        return "class or teacher gone"
    if answered(cw, klass.id or 0, day) is not None:
        return "answered"
    if cw.now() >= _too_late(cw, day):
        return "too late"  # a catch-up tick the next morning: yesterday's reminder is no use
    if not _teaches(cw, teacher, klass) or teacher.unreachable:
        return "teacher not reachable"
    _send(
        cw, teacher,
        _("Reminder: today's attendance for {klass} ({date}) is not in yet.",
          klass=class_text(cw, klass), date=_short(day)),
        kind=CUTOFF, buttons=prompt_buttons(klass.id or 0, day),
    )
    return "reminded"


def _roll_call(cw: Casework, klass: SchoolClass, window: RollCallWindow) -> RollCall:
    """The class's roll call for the term, made (with its closing job) the first time."""
    query = select(RollCall).where(
        RollCall.class_id == klass.id, RollCall.term_start == window.term.start
    )
    found = cw.session.exec(query).first()
    if found is not None:
        return found
    row = RollCall(class_id=klass.id or 0, term_start=window.term.start,
                   closes_at=window.closes_at)
    try:
        with cw.session.begin_nested():
            cw.session.add(row)
    except IntegrityError:  # another worker made it first
        found = cw.session.exec(query).first()
        assert found is not None
        return found
    deadlines.plan_job(cw, RC_CLOSE, window.closes_at,
             key=f"rcc:{klass.id}:{window.term.start.isoformat()}", roll_call_id=row.id)
    return row


def on_roll_call_prompt(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    klass, teacher = _job(cw, deadline)
    term = _term_starting(cw, date.fromisoformat(deadline.payload["term_start"]))
    window = roll_call_window(cw, term)
    if klass is None or teacher is None:
        return "class or teacher gone"
    if window is None:
        return "no roll call"
    if cw.now() >= window.closes_at:
        return "too late"
    if not _teaches(cw, teacher, klass):
        return "no longer teaches the class"
    rc = _roll_call(cw, klass, window)
    if rc.answered_at is not None:
        return "already answered"
    if teacher.unreachable:
        return "teacher unreachable"
    close_day = window.close_day(cw)
    _send(
        cw, teacher,
        _("Term-start roll call (报到) for {klass}: has every pupil reported? Whoever has not "
          "reported by {date} will be registered as a suspected dropout.",
          klass=class_text(cw, klass), date=_short(close_day)),
        kind=RC_PROMPT, buttons=roll_call_buttons(klass.id or 0, window.term.start),
    )
    today = cw.today()
    cutoff = cw.calendars.at_local(today, cw.policy.times.attendance_cutoff)
    if cutoff > cw.now():
        deadlines.plan_job(cw, RC_CUTOFF, cutoff,
                 key=f"rcr:{klass.id}:{teacher.id}:{window.term.start.isoformat()}",
                 recipient_id=teacher.id, class_id=klass.id, roll_call_id=rc.id,
                 day=today.isoformat())
    return "prompted"


def on_roll_call_cutoff(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    klass, teacher = _job(cw, deadline)
    rc = cw.session.get(RollCall, int(deadline.payload.get("roll_call_id", 0)))
    if klass is None or teacher is None or rc is None:
        return "gone"
    if rc.answered_at is not None or rc.closed_at is not None:
        return "answered"
    if cw.now() >= _too_late(cw, date.fromisoformat(deadline.payload["day"])):
        return "too late"
    if not _teaches(cw, teacher, klass) or teacher.unreachable:
        return "teacher not reachable"
    _send(
        cw, teacher,
        _("Reminder: the term-start roll call for {klass} is not answered yet.",
          klass=class_text(cw, klass)),
        kind=RC_CUTOFF, buttons=roll_call_buttons(klass.id or 0, rc.term_start),
    )
    return "reminded"


def on_roll_call_close(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    rc = cw.session.get(RollCall, int(deadline.payload.get("roll_call_id", 0)))
    if rc is None:
        return "gone"
    if rc.closed_at is not None:
        return "already closed"
    return close_roll_call(cw, rc)


# the handlers above and the planner are registered in casework.kinds


# --- answers ------------------------------------------------------------------------------------


def _answer_day(
    cw: Casework, klass: SchoolClass, day: date, actor: User, all_present: bool
) -> tuple[AttendanceDay, AttendanceDay | None]:
    """Insert the day's answer, or take over the earlier one (returned as it was)."""
    query = select(AttendanceDay).where(
        AttendanceDay.class_id == klass.id, AttendanceDay.day == day
    )
    existing = cw.session.exec(query.with_for_update()).first()
    if existing is None:
        row = AttendanceDay(class_id=klass.id or 0, day=day, teacher_id=actor.id or 0,
                            answered_at=cw.now_db(), all_present=all_present)
        try:
            with cw.session.begin_nested():
                cw.session.add(row)
            return row, None
        except IntegrityError:  # two answers at once: the later one takes over
            existing = cw.session.exec(query.with_for_update()).first()
            assert existing is not None
    before = AttendanceDay(class_id=existing.class_id, day=existing.day,
                           teacher_id=existing.teacher_id, answered_at=existing.answered_at,
                           all_present=existing.all_present)
    existing.teacher_id = actor.id or 0
    existing.answered_at = cw.now_db()
    existing.all_present = all_present
    cw.session.add(existing)
    return existing, before


def _check_absences(pupils: dict[int, Student], absences: Sequence[Absence]) -> None:
    seen: set[int] = set()
    for a in absences:
        if a.student_id not in pupils:
            raise ValidationError("students", _("That pupil is not in this class."))
        if a.student_id in seen:
            raise ValidationError("students", _("A pupil is listed twice."))
        seen.add(a.student_id)
        if a.status == EXCUSED and a.reason not in EXCUSES:
            raise ValidationError("reason", _("Say why the absence is excused."))
        if a.status not in (EXCUSED, UNEXCUSED):
            raise ValidationError("status", _("“{code}” is not a known choice.", code=a.status))


def record_attendance(
    cw: Casework, actor: User, class_id: int, day: date, absences: Sequence[Absence] = ()
) -> Recorded:
    """The teacher's answer for a class and day: all present (no absences), or who was
    away and whether excused. A later answer for the same day replaces the earlier one.

    Then every pupil away without excuse is checked against the policy's thresholds, and a
    pupil missing at the roll call who is at school today counts as reported.
    """
    klass = load_class(cw, actor, class_id, "attendance.record")
    check_day(cw, day)
    pupils = {s.id or 0: s for s in roster(cw, klass)}
    _check_absences(pupils, absences)

    row, before = _answer_day(cw, klass, day, actor, all_present=not absences)
    for old in cw.session.exec(
        select(AttendanceMark).where(AttendanceMark.class_id == klass.id, AttendanceMark.day == day)
    ).all():
        cw.session.delete(old)
    cw.session.flush()
    for a in absences:
        cw.session.add(AttendanceMark(
            student_id=a.student_id, class_id=klass.id or 0, day=day, status=a.status,
            reason=a.reason if a.status == EXCUSED else None,
            recorded_by=actor.id or 0, recorded_at=cw.now_db(),
        ))
    cw.session.flush()

    result = Recorded(_answer_text(cw, klass, day, pupils, absences))
    if before is not None and before.teacher_id != actor.id:
        earlier = cw.session.get(User, before.teacher_id)
        result.followups.append(Followup(_(
            "This replaces the answer {name} gave at {time}.",
            name=earlier.display_name if earlier else "?",
            time=_local_time(cw, before.answered_at),
        )))
    came = _roll_call_seen(cw, klass, day, {a.student_id for a in absences})
    if came:
        result.followups.append(Followup(_(
            "Counted as reported at the roll call: {names}.", names=join(s.name for s in came)
        )))
    for a in absences:
        if a.status == UNEXCUSED:
            _after_unexcused(cw, actor, pupils[a.student_id], result)
    cw.audit(actor, "attendance.record", "class", klass.id, day=day.isoformat(),
             absent=len(absences), unexcused=sum(a.status == UNEXCUSED for a in absences))
    return result


def _local_time(cw: Casework, when: datetime) -> str:
    local = from_db(when).astimezone(cw.policy.tz)
    return f"{_short(local.date())} {local:%H:%M}"


def _answer_text(cw: Casework, klass: SchoolClass, day: date, pupils: dict[int, Student],
                 absences: Sequence[Absence]) -> Text:
    where = class_text(cw, klass)
    if not absences:
        return _("Thank you! {klass}, {date}: all present.", klass=where, date=_short(day))
    names = join(
        _("{name} ({why})", name=pupils[a.student_id].name, why=excuse_text(a.status, a.reason))
        for a in absences
    )
    return _("Recorded, thank you. {klass}, {date}: {n} absent — {names}.",
             klass=where, date=_short(day), n=len(absences), names=names)


# --- streaks and thresholds -----------------------------------------------------------------------


def streak_of(cw: Casework, student: Student, through: date | None = None) -> Streak:
    """The pupil's unexcused streak as of ``through`` (default today); see the module notes."""
    if student.class_id is None:
        return Streak(0, None)
    through = through or cw.today()
    days: list[date] = list(cw.session.exec(
        select(col(AttendanceDay.day))
        .where(AttendanceDay.class_id == student.class_id, col(AttendanceDay.day) <= through)
        .order_by(col(AttendanceDay.day).desc())
        .limit(STREAK_SCAN)
    ).all())
    if not days:
        return Streak(0, None)
    marks: dict[date, str] = {
        m.day: m.status
        for m in cw.session.exec(
            select(AttendanceMark).where(
                AttendanceMark.student_id == student.id,
                col(AttendanceMark.day) >= days[-1],
                col(AttendanceMark.day) <= through,
            )
        ).all()
    }
    n, since = 0, None
    for d in days:
        if marks.get(d) != UNEXCUSED:
            break
        n, since = n + 1, d
    return Streak(n, since)


def _after_unexcused(cw: Casework, actor: User, student: Student, result: Recorded) -> None:
    streak = streak_of(cw, student)
    for threshold in cw.policy.absence:  # ascending: the first reached opens the case
        if streak.days < threshold.school_days:
            break
        try:
            with cw.session.begin_nested():
                _reach(cw, actor, student, threshold, streak, result, tell_actor=False)
        except CaseworkError as err:
            # the answer is kept; the teacher reads why nothing more could be done
            result.followups.append(Followup(_(
                "{name}: no case could be opened: {problem}", name=student.name, problem=err.text
            )))
            return


def _acted(cw: Casework, case: Case, threshold: AbsenceThreshold, streak: Streak) -> bool:
    events = cw.session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "absence_threshold")
    ).all()
    since = streak.since.isoformat() if streak.since else None
    return any(
        e.data.get("school_days") == threshold.school_days and e.data.get("since") == since
        for e in events
    )


def _reach(
    cw: Casework,
    actor: User,
    student: Student,
    threshold: AbsenceThreshold,
    streak: Streak,
    result: Recorded,
    *,
    tell_actor: bool,
) -> None:
    """The streak reached ``threshold``: make sure there is a case, then do its action."""
    assert streak.since is not None
    case = open_case_of(cw, student.id or 0)
    if case is not None and case.state in LEFT_ALONE:
        result.followups.append(Followup(_(
            "{name}: case #{id} is {state}; the absence does not change it.",
            name=student.name, id=case.id, state=_(STATE_LABELS[case.state]),
        )))
        return
    if case is not None and _acted(cw, case, threshold, streak):
        return
    mark = _outbox_mark(cw)
    since = _short(streak.since)
    if case is None:
        case = ladder.report(cw, actor, ladder.ReportInput(
            student_id=student.id, source="attendance_streak", absent_since=streak.since,
            reasons=("other",),
            reason_note=_("Absent without excuse (daily attendance); reasons not yet known.")
            .render(DEFAULT_LANGUAGE),
        )).case
        result.followups.append(Followup(_(
            "{name}: case #{id} opened (absent without excuse since {date}).",
            name=student.name, id=case.id, date=since,
        ), ((_("Open case"), OpenCase(case.id or 0).encode()),)))
    elif case.state in BACK:
        ladder.confirm_attending(cw, actor, case.id or 0, attending=False)
        result.followups.append(Followup(_(
            "{name} is absent again without excuse since {date}: case #{id} is open again.",
            name=student.name, id=case.id, date=since,
        ), ((_("Open case"), OpenCase(case.id or 0).encode()),)))
    elif threshold.action == "report":
        # reported already (by hand, or an earlier streak): noted on the case, nobody re-told
        _threshold_event(cw, actor, case, threshold, streak)
        result.followups.append(Followup(_(
            "{name} already has case #{id} ({state}); the absence is noted on it.",
            name=student.name, id=case.id, state=_(STATE_LABELS[case.state]),
        )))
        return
    _threshold_event(cw, actor, case, threshold, streak)
    _act(cw, actor, student, case, threshold, streak, result, tell_actor=tell_actor, after=mark)


def _threshold_event(
    cw: Casework, actor: User, case: Case, threshold: AbsenceThreshold, streak: Streak
) -> None:
    """On the case's history: which threshold this streak reached (and that it was acted on)."""
    assert streak.since is not None
    cw.session.add(CaseEvent(
        case_id=case.id or 0, at=cw.now_db(), actor_id=actor.id, kind="absence_threshold",
        from_state=case.state, to_state=case.state,
        data={"school_days": threshold.school_days, "action": threshold.action,
              "since": streak.since.isoformat(), "streak": streak.days},
    ))


def _act(
    cw: Casework,
    actor: User,
    student: Student,
    case: Case,
    threshold: AbsenceThreshold,
    streak: Streak,
    result: Recorded,
    *,
    tell_actor: bool,
    after: int,
) -> None:
    """The threshold's action: who is told what, and what the answering teacher reads."""
    assert streak.since is not None
    title = case_title(cw, case)
    people = [
        u for u in users_for_case(cw.session, case, threshold.notify)
        if tell_actor or u.id != actor.id
    ]
    n, since, teacher = streak.days, _short(streak.since), actor.display_name
    if threshold.action == "report":
        _tell(
            cw, case, people, kind="absence_alert",
            text=n_("{title}: absent without excuse for {n} school day since {date}; reported "
                    "from the daily attendance by {teacher}.",
                    "{title}: absent without excuse for {n} school days since {date}; reported "
                    "from the daily attendance by {teacher}.",
                    n, title=title, date=since, teacher=teacher),
            line=n_("Absent without excuse for {n} school day since {date}; reported from the "
                    "daily attendance by {teacher}.",
                    "Absent without excuse for {n} school days since {date}; reported from the "
                    "daily attendance by {teacher}.",
                    n, date=since, teacher=teacher),
            buttons=((_("Open case"), OpenCase(case.id or 0).encode()),), after=after,
        )
        if people:
            result.followups.append(Followup(_("Told: {roles}.", roles=roles_text(threshold.notify))))
    elif threshold.action == "home_visit":
        ask = n_("{title}: absent without excuse for {n} school day since {date}. Please visit "
                 "the home or call the guardian, and record it.",
                 "{title}: absent without excuse for {n} school days since {date}. Please visit "
                 "the home or call the guardian, and record it.",
                 n, title=title, date=since)
        buttons = ((_("Record a visit"), RecordVisit(case.id or 0).encode()), (_("Open case"), OpenCase(case.id or 0).encode()))
        _tell(
            cw, case, people, kind="absence_alert", text=ask,
            line=n_("Absent without excuse for {n} school day since {date}: the home is to be "
                    "visited or the guardian called.",
                    "Absent without excuse for {n} school days since {date}: the home is to be "
                    "visited or the guardian called.", n, date=since),
            buttons=buttons, after=after,
        )
        if not tell_actor:
            result.followups.append(Followup(ask, buttons))
    else:  # assign_persuader
        _tell(
            cw, case, people, kind="absence_alert",
            text=n_("{title}: absent without excuse for {n} school day since {date}. Please name "
                    "the person who will persuade the family.",
                    "{title}: absent without excuse for {n} school days since {date}. Please name "
                    "the person who will persuade the family.", n, title=title, date=since),
            line=n_("Absent without excuse for {n} school day since {date}: name the person "
                    "who will persuade the family.",
                    "Absent without excuse for {n} school days since {date}: name the person "
                    "who will persuade the family.", n, date=since),
            buttons=((_("Assign to…"), Assign(case.id or 0).encode()), (_("Open case"), OpenCase(case.id or 0).encode())),
            after=after,
        )
        if not tell_actor:
            result.followups.append(Followup(n_(
                "{name}: absent without excuse for {n} school day since {date}; {roles} asked to "
                "name a person to persuade the family.",
                "{name}: absent without excuse for {n} school days since {date}; {roles} asked "
                "to name a person to persuade the family.",
                n, name=student.name, date=since, roles=roles_text(threshold.notify),
            )))


# --- the term-start roll call ---------------------------------------------------------------------


def _entries(cw: Casework, rc: RollCall) -> list[RollCallEntry]:
    return list(cw.session.exec(
        select(RollCallEntry).where(RollCallEntry.roll_call_id == rc.id)
        .order_by(col(RollCallEntry.id))
    ).all())


def _roll_call_seen(
    cw: Casework, klass: SchoolClass, day: date, absent: set[int]
) -> list[Student]:
    """Pupils missing at an open roll call who are at school on ``day``: they have reported."""
    came: list[Student] = []
    for rc in cw.session.exec(
        select(RollCall).where(
            RollCall.class_id == klass.id,
            col(RollCall.closed_at).is_(None),
            col(RollCall.term_start) <= day,
        )
    ).all():
        for entry in _entries(cw, rc):
            if entry.status == "missing" and entry.student_id not in absent:
                entry.status, entry.reported_on = "reported", day
                cw.session.add(entry)
                student = cw.session.get(Student, entry.student_id)
                if student is not None:
                    came.append(student)
    return came


def open_roll_call(
    cw: Casework, actor: User, class_id: int, term_start: date
) -> tuple[SchoolClass, RollCall]:
    """The roll call a teacher may answer now (checked before the bot asks who is missing)."""
    klass = load_class(cw, actor, class_id, "roll_call.record")
    window = roll_call_window(cw, _term_starting(cw, term_start))
    if window is None:
        raise ValidationError("term", _("There is no term-start roll call for that date."))
    rc = cw.session.exec(
        select(RollCall).where(RollCall.class_id == klass.id, RollCall.term_start == term_start)
    ).first()
    if rc is None and cw.now() < window.closes_at:
        rc = _roll_call(cw, klass, window)
    if rc is None or rc.closed_at is not None or cw.now() >= rc.closes_at:
        raise IllegalTransition(_(
            "The roll call of {klass} is closed; report a pupil who is still missing with /report.",
            klass=class_text(cw, klass),
        ))
    return klass, rc


def record_roll_call(
    cw: Casework, actor: User, class_id: int, term_start: date, missing: Sequence[int] = ()
) -> Recorded:
    """Who has not reported (报到) yet; none means everyone has. A later answer replaces the
    list: a pupil left off it since has reported."""
    klass, rc = open_roll_call(cw, actor, class_id, term_start)
    pupils = {s.id or 0: s for s in roster(cw, klass)}
    if len(set(missing)) != len(missing) or any(s not in pupils for s in missing):
        raise ValidationError("students", _("That pupil is not in this class."))
    entries = {e.student_id: e for e in _entries(cw, rc)}
    today = cw.today()
    for student_id, entry in entries.items():
        if student_id not in missing and entry.status == "missing":
            entry.status, entry.reported_on = "reported", today
            cw.session.add(entry)
    for student_id in missing:
        known = entries.get(student_id)
        if known is None:
            cw.session.add(RollCallEntry(roll_call_id=rc.id or 0, student_id=student_id,
                                         noted_at=cw.now_db()))
        elif known.status != "missing":
            known.status, known.reported_on = "missing", None
            cw.session.add(known)
    rc.answered_by, rc.answered_at = actor.id, cw.now_db()
    cw.session.add(rc)
    cw.audit(actor, "roll_call.record", "class", klass.id, term_start=term_start.isoformat(),
             missing=len(missing))
    where = class_text(cw, klass)
    if not missing:
        return Recorded(_("Thank you! Roll call for {klass}: every pupil has reported.", klass=where))
    close_day = _short(cw.calendars.local_date(rc.closes_at))
    return Recorded(n_(
        "Roll call for {klass}: {n} pupil has not reported ({names}). Whoever has not reported "
        "by {date} will be registered as a suspected dropout; a pupil counts as reported as soon "
        "as the daily attendance has them at school.",
        "Roll call for {klass}: {n} pupils have not reported ({names}). Whoever has not reported "
        "by {date} will be registered as a suspected dropout; a pupil counts as reported as soon "
        "as the daily attendance has them at school.",
        len(missing), klass=where, names=join(pupils[s].name for s in missing), date=close_day,
    ))


def _reporter(cw: Casework, rc: RollCall, klass: SchoolClass, student: Student) -> User | None:
    """Who the registered case is reported by: the teacher who answered the roll call, else
    a teacher of the class, else the school's administrator (a case needs a reporter)."""
    answered_by = cw.session.get(User, rc.answered_by) if rc.answered_by else None
    candidates = [answered_by] if answered_by else []
    candidates += _teachers(cw, klass.id or 0) + _school_admins(cw, klass.school_id)
    return next(
        (u for u in candidates if u is not None and u.active
         and can_see_student(cw.session, u, student)),
        None,
    )


def close_roll_call(cw: Casework, rc: RollCall) -> str:
    """The window ran out: register every pupil still missing as a case (source roll_call)."""
    rc.closed_at = cw.now_db()
    cw.session.add(rc)
    klass = cw.session.get(SchoolClass, rc.class_id)
    if klass is None:
        return "class gone"
    close_day = _short(cw.calendars.local_date(rc.closes_at))
    if rc.answered_at is None:
        # one message per person for all their classes left unanswered (a school of 30
        # classes closes its roll calls in the same minute)
        for user in _teachers(cw, klass.id or 0) + _school_admins(cw, klass.school_id):
            _list_notice(
                cw, user, kind="roll_call_unanswered", key=f"rc-unanswered:{rc.term_start}",
                text=_("The term-start roll call was not answered by {date} for the classes "
                       "below, so nobody in them could be registered. Check who has not "
                       "reported and report them with /report.", date=close_day),
                line=class_text(cw, klass),
            )
        return "not answered"
    registered = 0
    for entry in _entries(cw, rc):
        if entry.status != "missing":
            continue
        student = cw.session.get(Student, entry.student_id)
        if student is None:
            continue
        case = open_case_of(cw, student.id or 0)
        if case is None:
            actor = _reporter(cw, rc, klass, student)
            if actor is None:
                log.warning("roll call %s: nobody can report student %s", rc.id, student.id)
                continue
            mark = _outbox_mark(cw)
            case = ladder.report(cw, actor, ladder.ReportInput(
                student_id=student.id, source="roll_call", absent_since=rc.term_start,
                reasons=("other",),
                reason_note=_("Had not reported (报到) when the term-start roll call closed.")
                .render(DEFAULT_LANGUAGE),
            )).case
            people = users_for_case(cw.session, case, ["teacher", "school_admin"])
            _tell(
                cw, case, people, kind="roll_call_registered",
                text=_("{title}: had not reported (报到) when the term-start roll call closed on "
                       "{date}. Registered as a suspected dropout and followed like an absence.",
                       title=case_title(cw, case), date=close_day),
                line=_("Had not reported (报到) when the term-start roll call closed on {date}.",
                       date=close_day),
                buttons=((_("Record a visit"), RecordVisit(case.id or 0).encode()),
                         (_("Open case"), OpenCase(case.id or 0).encode())),
                after=mark,
            )
            registered += 1
        entry.status, entry.case_id = "registered", case.id
        cw.session.add(entry)
    return f"registered {registered}"
