"""Absence streaks and what the policy's thresholds make happen (see the package notes):
how many answered school days in a row a pupil was away without excuse, and, when a streak
reaches a threshold, the case it opens or reopens and who is told. No Telegram here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select

from casework import ladder, states
from casework.attendance import (
    UNEXCUSED,
    Followup,
    Recorded,
    _outbox_mark,
    _short,
    _tell,
    open_case_of,
)
from casework.callbacks import Assign, OpenCase, RecordVisit
from casework.context import Casework
from casework.errors import CaseworkError
from casework.i18n import DEFAULT_LANGUAGE, _
from casework.labels import STATE_LABELS, n_, roles_text
from casework.notices import case_title
from casework.policy import AbsenceThreshold
from casework.scope import users_for_case
from models.tables import (
    AttendanceDay,
    AttendanceMark,
    Case,
    CaseEvent,
    Student,
    User,
)

# a streak longer than this many answered days is counted as this long (no policy needs more)
STREAK_SCAN = 400

# a case in one of these is not moved by an absence: its clock is stopped or the child is
# not expected in class
LEFT_ALONE = frozenset({states.PAUSED, states.HOME_TEACHING, states.DEFERRED})
BACK = frozenset({states.RETURNED, states.RETENTION})


# --- inputs and results -------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    """Consecutive answered school days of unexcused absence, ``since`` the first of them."""

    days: int
    since: date | None


# --- streaks and thresholds ---------------------------------------------------------------


def streak_of(cw: Casework, student: Student, through: date | None = None) -> Streak:
    """The pupil's unexcused streak as of ``through`` (default today); see the package notes."""
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
