"""送教上门 sessions: recorded from the case card of a child placed in home teaching, and
counted against the profile's rule (seed 002 二(三): "每周送教1次，每次不少于2学时").

A session moves the weekly reminder on: the next one is due a period (``[home_teaching]
every``) after the session, not after the last reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import col, select

from casework import deadlines, states, validation
from casework.context import Casework
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import day_text
from casework.ladder import Outcome, check_transition, load_case, record_event, touch
from models.tables import Case, HomeTeachingSession, User

MAX_CLASS_HOURS = 8  # a school day


@dataclass(frozen=True)
class SessionInput:
    session_date: date
    class_hours: int
    teacher: str
    content: str


@dataclass(frozen=True)
class Tally:
    """Sessions and class hours in the week (Monday to Sunday) of a day, and in all."""

    week_sessions: int
    week_hours: int
    total_sessions: int
    min_hours: int

    @property
    def enough(self) -> bool:
        return self.week_hours >= self.min_hours


def sessions(cw: Casework, case: Case) -> list[HomeTeachingSession]:
    return list(cw.session.exec(
        select(HomeTeachingSession).where(HomeTeachingSession.case_id == case.id)
        .order_by(col(HomeTeachingSession.session_date), col(HomeTeachingSession.id))
    ).all())


def tally(cw: Casework, case: Case, on: date) -> Tally:
    monday = on - timedelta(days=on.weekday())
    found = sessions(cw, case)
    week = [s for s in found if monday <= s.session_date <= monday + timedelta(days=6)]
    return Tally(len(week), sum(s.class_hours for s in week), len(found), cw.policy.home_teaching.min_class_hours)


def tally_text(t: Tally) -> Text:
    return _(
        "Home teaching this week: {n} sessions, {hours} class hours (at least {min} required); {total} sessions in all.",
        n=t.week_sessions, hours=t.week_hours, min=t.min_hours, total=t.total_sessions,
    )


def record_session(cw: Casework, actor: User, case_id: int, data: SessionInput) -> Outcome:
    case = load_case(cw, actor, case_id, "record_home_teaching")
    check_transition(case, "record_home_teaching")
    if data.session_date > cw.today():
        raise ValidationError("session_date", _("The date cannot be in the future."))
    if not 1 <= data.class_hours <= MAX_CLASS_HOURS:
        raise ValidationError("class_hours", _("Class hours are a whole number from 1 to {max}.", max=MAX_CLASS_HOURS))
    teacher = validation.person_name(data.teacher, field="teacher")
    content = validation.free_text(data.content, field="content", max_len=1000)
    row = HomeTeachingSession(
        case_id=case.id or 0, session_date=data.session_date, class_hours=data.class_hours,
        teacher=teacher, content=content, recorded_by=actor.id or 0, recorded_at=cw.now_db(),
    )
    cw.session.add(row)
    touch(cw, case)
    cw.session.flush()
    event = record_event(cw, case, actor, "home_teaching_session", from_state=case.state,
                         session_id=row.id, class_hours=data.class_hours)
    # the weekly reminder counts from this session
    deadlines.cancel_open(cw, case, ["home_teaching"])
    made = deadlines.schedule_home_teaching(cw, case, data.session_date)
    cw.audit(actor, "case.home_teaching", "case", case.id, session_id=row.id)
    assert case.state == states.HOME_TEACHING
    count = tally(cw, case, data.session_date)
    return Outcome(case, event, _("Session recorded: {hours} class hours on {date}. {tally}",
                                  hours=data.class_hours, date=day_text(data.session_date),
                                  tally=tally_text(count)),
                   made)
