"""The daily attendance prompt (see the package notes): the planner of the calendar jobs, the
prompt and its reminder to each teacher on each school day, and the teachers' answers, which
set off the streaks' thresholds and count a pupil missing at the roll call as reported.
No Telegram here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from casework import deadlines
from casework.attendance import (
    EXCUSED,
    EXCUSES,
    UNEXCUSED,
    Followup,
    Recorded,
    _button,
    _job,
    _send,
    _short,
    _teaches,
    _too_late,
    class_text,
    excuse_text,
    load_class,
    roster,
)
from casework.attendance.roll_call import RC_PROMPT, _roll_call_seen, roll_call_window
from casework.attendance.streaks import _after_unexcused
from casework.callbacks import AttendanceAnswer
from casework.clock import from_db
from casework.context import Casework
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import WEEKDAY_LABELS, day_text, join
from models.tables import (
    AttendanceDay,
    AttendanceMark,
    Case,
    Deadline,
    SchoolClass,
    Student,
    TeacherClass,
    User,
)

PROMPT = "attendance_prompt"
CUTOFF = "attendance_cutoff"

# prompts are planned for today and the next day, so a row exists well before it is due
PLAN_AHEAD_DAYS = 1
# a teacher may still answer (or correct) a school day up to a week back
LATE_ANSWER_DAYS = 7
_KEY_CHUNK = 500


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Absence:
    """One pupil away on the day answered: ``excused`` with a reason code, or ``unexcused``."""

    student_id: int
    status: str
    reason: str | None = None


# --- checks -------------------------------------------------------------------------------


def prompt_buttons(class_id: int, day: date) -> list[list[dict[str, Any]]]:
    """The two answers to the daily prompt, carrying the class and the day."""
    return [[
        _button(_("✅ All present"), AttendanceAnswer(class_id, day, all_present=True).encode()),
        _button(_("📝 Some absent"), AttendanceAnswer(class_id, day, all_present=False).encode()),
    ]]


def check_day(cw: Casework, day: date) -> date:
    """A day the attendance can be answered for: a school day, not ahead, not long past."""
    today = cw.today()
    if day > today:
        raise ValidationError("day", _("{date} has not come yet.", date=day_text(day)))
    if day < today - timedelta(days=LATE_ANSWER_DAYS):
        raise ValidationError(
            "day",
            _("{date} is more than {days} days ago; it can no longer be answered.",
              date=day_text(day), days=LATE_ANSWER_DAYS),
        )
    if not cw.calendars.is_school_day(day):
        raise ValidationError("day", _("{date} is not a school day.", date=day_text(day)))
    return day


def check_answerable(cw: Casework, actor: User, class_id: int, day: date) -> SchoolClass:
    """What the bot checks before it asks who is absent (so a refusal comes first)."""
    klass = load_class(cw, actor, class_id, "attendance.record")
    check_day(cw, day)
    return klass


def answered(cw: Casework, class_id: int, day: date) -> AttendanceDay | None:
    return cw.session.exec(
        select(AttendanceDay).where(AttendanceDay.class_id == class_id, AttendanceDay.day == day)
    ).first()


# --- the planner and the calendar jobs ----------------------------------------------------


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


# the handlers above and the planner are registered in casework.kinds


# --- answers ------------------------------------------------------------------------------


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


def _marks(cw: Casework, class_id: int, day: date) -> list[AttendanceMark]:
    return list(cw.session.exec(
        select(AttendanceMark).where(AttendanceMark.class_id == class_id, AttendanceMark.day == day)
        .order_by(col(AttendanceMark.id))
    ).all())


def recorded_text(cw: Casework, klass: SchoolClass, day: date) -> Text:
    """What is recorded for the day, as the answered prompt shows it."""
    marks = _marks(cw, klass.id or 0, day)
    where = class_text(cw, klass)
    if not marks:
        return _("Attendance {klass}, {date}: ✅ all present (recorded).", klass=where, date=_short(day))
    names = join(
        _("{name} ({why})", name=_pupil_name(cw, m.student_id), why=excuse_text(m.status, m.reason))
        for m in marks
    )
    return _("Attendance {klass}, {date}: {n} absent — {names} (recorded).",
             klass=where, date=_short(day), n=len(marks), names=names)


def _pupil_name(cw: Casework, student_id: int) -> str:
    pupil = cw.session.get(Student, student_id)
    return pupil.name if pupil else "?"


def change_preview(cw: Casework, actor: User, class_id: int, day: date) -> tuple[Text, bool]:
    """What changing an answered day to "all present" would do, and whether it would change
    anything (a day already all present has nothing to delete)."""
    klass = check_answerable(cw, actor, class_id, day)
    marks = _marks(cw, klass.id or 0, day)
    now = recorded_text(cw, klass, day)
    if not marks:
        return now, False
    return _(
        "{recorded}\nChange the record of {date} to all present: {n} absence record(s) will be "
        "deleted ({names}). Confirm?",
        recorded=now, date=_short(day), n=len(marks),
        names=join(_pupil_name(cw, m.student_id) for m in marks),
    ), True


def record_attendance(
    cw: Casework, actor: User, class_id: int, day: date, absences: Sequence[Absence] = (),
    *, confirmed_change: bool = False,
) -> Recorded:
    """The teacher's answer for a class and day: all present (no absences), or who was
    away and whether excused. A later answer for the same day replaces the earlier one,
    but only when the change was confirmed (``confirmed_change``): a stale button on an
    answered prompt must never erase what was recorded.

    Then every pupil away without excuse is checked against the policy's thresholds, and a
    pupil missing at the roll call who is at school today counts as reported.
    """
    klass = load_class(cw, actor, class_id, "attendance.record")
    check_day(cw, day)
    pupils = {s.id or 0: s for s in roster(cw, klass)}
    _check_absences(pupils, absences)
    if not confirmed_change and answered(cw, klass.id or 0, day) is not None:
        raise ValidationError("day", _(
            "{date} is already answered; to change it, tap “Change the answer” and confirm.",
            date=_short(day)))

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


def _local_time(cw: Casework, when: datetime) -> Text:
    local = from_db(when).astimezone(cw.policy.tz)
    return Text("{day} {time}", {"day": _short(local.date()), "time": f"{local:%H:%M}"})


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
