"""The term-start roll call (开学报到, see the package notes): on the term's first school day
the teachers say who has not reported; whoever has still not reported when
``roll_call.within`` runs out is registered as a case (source ``roll_call``) and followed
like an absence. No Telegram here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from casework import deadlines, ladder
from casework.attendance import (
    Recorded,
    _button,
    _job,
    _list_notice,
    _outbox_mark,
    _school_admins,
    _send,
    _short,
    _teachers,
    _teaches,
    _tell,
    _too_late,
    class_text,
    load_class,
    open_case_of,
    roster,
)
from casework.callbacks import OpenCase, RecordVisit, RollCallAnswer
from casework.context import Casework
from casework.errors import IllegalTransition, ValidationError
from casework.i18n import DEFAULT_LANGUAGE, Text, _
from casework.labels import join, n_
from casework.notices import case_title
from casework.policy import Term
from casework.scope import can_see_student, users_for_case
from models.tables import (
    Case,
    Deadline,
    RollCall,
    RollCallEntry,
    SchoolClass,
    Student,
    User,
)

log = logging.getLogger(__name__)


RC_PROMPT = "roll_call_prompt"
RC_CUTOFF = "roll_call_cutoff"
RC_CLOSE = "roll_call_close"


# --- inputs and results -------------------------------------------------------------------


@dataclass(frozen=True)
class RollCallWindow:
    """When a term's roll call is asked (its first school day) and when it closes."""

    term: Term
    first_day: date
    closes_at: datetime

    def close_day(self, cw: Casework) -> date:
        return cw.calendars.local_date(self.closes_at)


# --- the roll call's window, buttons and calendar jobs ------------------------------------


def roll_call_buttons(class_id: int, term_start: date) -> list[list[dict[str, Any]]]:
    return [[
        _button(_("✅ Everyone has reported"),
                RollCallAnswer(class_id, term_start, all_present=True).encode()),
        _button(_("📝 Some have not"), RollCallAnswer(class_id, term_start, all_present=False).encode()),
    ]]


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


# --- the term-start roll call -------------------------------------------------------------


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


def roll_call_answered(cw: Casework, actor: User, class_id: int, term_start: date) -> bool:
    _klass, rc = open_roll_call(cw, actor, class_id, term_start)
    return rc.answered_by is not None


def roll_call_preview(cw: Casework, actor: User, class_id: int, term_start: date) -> tuple[Text, bool]:
    """What is recorded, and what changing it to "everyone has reported" would do (and
    whether that would change anything)."""
    klass, rc = open_roll_call(cw, actor, class_id, term_start)
    pupils = {s.id or 0: s for s in roster(cw, klass)}
    missing = [e for e in _entries(cw, rc) if e.status == "missing"]
    where = class_text(cw, klass)
    if not missing:
        return _("Roll call for {klass}: every pupil has reported (recorded).", klass=where), False
    names = join(pupils[e.student_id].name if e.student_id in pupils else "?" for e in missing)
    return _(
        "Roll call for {klass}: {n} not reported — {names} (recorded).\nChange it to everyone "
        "has reported: {n} pupil(s) will be marked as reported ({names}). Confirm?",
        klass=where, n=len(missing), names=names,
    ), True


def record_roll_call(
    cw: Casework, actor: User, class_id: int, term_start: date, missing: Sequence[int] = (),
    *, confirmed_change: bool = False,
) -> Recorded:
    """Who has not reported (报到) yet; none means everyone has. A later answer replaces the
    list (a pupil left off it since has reported), but only when the change was confirmed:
    a stale button on an answered prompt must never erase what was recorded."""
    klass, rc = open_roll_call(cw, actor, class_id, term_start)
    if rc.answered_by is not None and not confirmed_change:
        raise ValidationError("term", _(
            "The roll call is already answered; to change it, tap “Change the answer” and confirm."))
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
