"""Periodic reports: the monthly (schools → township and county) and quarterly (county)
summary of dropout control in an officer's area, on the policy's schedule and on demand.

Seed 004 五(一) keeps schools on "日报、周报、月报"; seed 003 has the county review the
schools' figures every quarter. The policy's ``[reports]`` says which a county runs; the
daily and weekly ones are the digests (``casework.digest``). A report counts, for the
period and the reader's scope: cases open at its start, reported in it, back at school,
closed out, placed (home teaching, deferral, transfer), persuasion visits made, and
where each case stood at the period's end — per unit, per reason and per key group,
with the list of the cases behind the numbers.

Scheduling: a planner (``plan_reports``) keeps one ``periodic_report`` row per kind for
the current period, due on the first day of the next period at the county digest time;
its handler (``handle_report``) queues one message per reader the profile's ``[reports] to``
names for the kind (else the education offices), each for their own scope, with the key
figures, a button for the workbook, and an ``attachments`` spec for the outbox sender
(``documents.attachments.render_attachment`` makes the file).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, func, select

from casework import bodies, deadlines, figures, states
from casework.callbacks import ReportWorkbook
from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied
from casework.i18n import ContextText, Text, _, p_
from casework.ledger import period_bounds, scope_name
from casework.outbox import enqueue, text_to_json
from casework.periods import Period, month_of, parse_period, quarter_of
from casework.scope import visible_cases
from models.tables import (
    Case,
    CaseEvent,
    Deadline,
    School,
    SchoolClass,
    Student,
    Township,
    User,
    Village,
    Visit,
)

KIND = "periodic_report"
REPORT_ROLES = frozenset({"school_admin", "township_officer", "county_officer", "admin"})
# the period kind of each report of the profile's [reports], whose ``to`` says who gets it
# (without one: the education offices, policy.DEFAULT_REPORT_RECIPIENTS)
CADENCE: dict[str, str] = {"month": "monthly", "quarter": "quarterly"}
# how late a scheduled report may still go out (after downtime)
MAX_LATE = timedelta(days=10)

PERSUADING = states.ACTIVE | {states.PAUSED}
BACK = frozenset({states.RETURNED, states.RETENTION, states.CLOSED})
PLACED = frozenset({states.HOME_TEACHING, states.DEFERRED, states.TRANSFERRED, states.CLOSED_OTHER})

# the workbook's fixed words, in the report's own gettext context
WORDS: dict[str, ContextText] = {
    "month_title": p_("report", "Dropout control: monthly report"),
    "quarter_title": p_("report", "Dropout control: quarterly report"),
    "range_title": p_("report", "Dropout control report"),
    "summary": p_("report", "Summary"),
    "units": p_("report", "By unit"),
    "cases": p_("report", "Cases"),
    "scope": p_("report", "Scope"),
    "period": p_("report", "Period"),
    "generated": p_("report", "Generated"),
    "open_start": p_("report", "Open at the start"),
    "new": p_("report", "Reported in the period"),
    "returned": p_("report", "Back at school in the period"),
    "closed": p_("report", "Closed out in the period"),
    "placed": p_("report", "Placed in the period (home teaching, deferral, transfer…)"),
    "open_end": p_("report", "Open at the end"),
    "visits": p_("report", "Persuasion visits in the period"),
    "figure": p_("report", "Figure"),
    "count": p_("report", "Count"),
    "unit": p_("report", "Unit"),
    "by_reason": p_("report", "Reasons of the new cases, counted per reason (one child may have several)"),
    "as_of": p_("report", "not over yet: as of"),
    "by_key_group": p_("report", "Key groups of the new cases"),
    "by_state": p_("report", "State at the end"),
    "case": p_("report", "Case no."),
    "name": p_("report", "Name"),
    "school": p_("report", "School"),
    "class": p_("report", "Grade and class"),
    "village": p_("report", "Village"),
    "reported_on": p_("report", "Reported on"),
    "state_end": p_("report", "State at the end"),
    "returned_on": p_("report", "Returned on"),
    "visits_in_period": p_("report", "Visits in the period"),
    "class_label": p_("report", "Grade {grade} Class {section}"),
    "not_enrolled": p_("report", "not enrolled"),
}


def word(key: str, lang: str | None) -> str:
    return WORDS[key].render(lang)


@dataclass
class UnitRow:
    name: str
    new: int = 0
    returned: int = 0
    closed: int = 0
    placed: int = 0
    open_end: int = 0
    visits: int = 0


@dataclass
class CaseLine:
    case_id: int
    name: str
    school: str
    grade: int | None
    section: int | None
    village: str
    reported_on: date
    state_end: str
    returned_on: date | None
    visits: int


@dataclass
class ReportData:
    kind: str  # month | quarter | range
    period: Period
    scope: str
    generated_at: datetime  # local
    open_start: int = 0
    new: int = 0
    returned: int = 0
    closed: int = 0
    placed: int = 0
    open_end: int = 0
    visits: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_key_group: Counter[str] = field(default_factory=Counter)
    by_state_end: Counter[str] = field(default_factory=Counter)
    units: list[UnitRow] = field(default_factory=list)
    cases: list[CaseLine] = field(default_factory=list)
    # the figures the bureau is judged by, for the same scope and period (their own sheet)
    kpi: figures.Figures | None = None

    @property
    def as_of(self) -> date | None:
        """The day it was made, when the period was not over yet (its figures stop there)."""
        made = self.generated_at.date()
        return made if self.period.start <= made < self.period.end else None


def parse_kind(value: str, *, today: date) -> Period:
    """``month`` / ``quarter`` (the one in progress), ``last-month``…, or a period."""
    return parse_period(value, today=today)


def _check(cw: Casework, actor: User | None) -> None:
    if actor is not None and (not actor.active or actor.role not in REPORT_ROLES):
        raise AccessDenied(
            _("Reports are for school administrators and township and county officers."),
            actor_id=actor.id,
            action="report.view",
            object_type="report",
            object_id=None,
        )


def report_data(cw: Casework, actor: User | None, period: Period) -> ReportData:
    """The figures of ``period`` for the actor's scope (``None``: every county, the CLI)."""
    _check(cw, actor)
    start, end = period_bounds(cw, period)
    scope = visible_cases(actor) if actor is not None else True
    session = cw.session
    data = ReportData(
        kind=period.kind,
        period=period,
        scope=scope_name(cw, actor),
        generated_at=cw.now().astimezone(cw.policy.tz),
    )
    # the cases alive at some time in the period, with where each stood at its start and end
    active = list(
        session.exec(
            select(Case, Student)
            .join(Student, col(Student.id) == Case.student_id)
            .where(
                scope,
                col(Case.created_at) < end,
                or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= start),
            )
            .order_by(col(Case.id))
        ).all()
    )
    ids = [c.id or 0 for c, _s in active]
    at_start = _states_at(cw, ids, start)
    at_end = _states_at(cw, ids, end)
    visits = dict(
        session.exec(
            select(Visit.case_id, func.count())
            .where(
                col(Visit.case_id).in_(ids),
                col(Visit.visit_date) >= period.start,
                col(Visit.visit_date) <= period.end,
            )
            .group_by(col(Visit.case_id))
        ).all()
    ) if ids else {}
    moved = _moves_in(cw, ids, start, end)
    schools = {s.id: s for s in session.exec(select(School)).all()}
    villages = {v.id: v for v in session.exec(select(Village)).all()}
    townships = {t.id: t for t in session.exec(select(Township)).all()}
    classes = {k.id: k for k in session.exec(select(SchoolClass)).all()}
    by_county = actor is None or actor.scope_kind in ("county", "all")
    units: dict[str, UnitRow] = {}
    for case, student in active:
        cid = case.id or 0
        created = cw.calendars.local_date(from_db(case.created_at))
        state_start = at_start.get(cid)
        state_end = at_end.get(cid, case.state)
        village = villages.get(case.village_id)
        school = schools.get(case.school_id)
        township_id = village.township_id if village else (school.township_id if school else None)
        if by_county:
            township = townships.get(township_id)
            unit_name = township.name if township else "—"
        else:
            unit_name = school.name if school else (village.name if village else "—")
        unit = units.setdefault(unit_name, UnitRow(unit_name))
        is_new = created >= period.start
        if state_start in PERSUADING:
            data.open_start += 1
        if is_new:
            data.new += 1
            unit.new += 1
            data.by_reason.update(case.reasons or ())
            data.by_key_group.update(student.key_groups or ())
        kinds = moved.get(cid, set())
        if "returned" in kinds:
            data.returned += 1
            unit.returned += 1
        if "closed" in kinds:
            data.closed += 1
            unit.closed += 1
        if "placed" in kinds:
            data.placed += 1
            unit.placed += 1
        if state_end in PERSUADING:
            data.open_end += 1
            unit.open_end += 1
        n = int(visits.get(cid, 0))
        data.visits += n
        unit.visits += n
        data.by_state_end[state_end] += 1
        klass = classes.get(case.class_id)
        data.cases.append(
            CaseLine(
                case_id=cid,
                name=student.name,
                school=school.name if school else "",
                grade=klass.grade if klass else None,
                section=klass.section if klass else None,
                village=village.name if village else "",
                reported_on=created,
                state_end=state_end,
                returned_on=case.returned_on if case.returned_on and case.returned_on in period else None,
                visits=n,
            )
        )
    data.units = sorted(units.values(), key=lambda u: u.name)
    data.kpi = figures.for_period(cw, actor, period)
    return data


def _states_at(cw: Casework, ids: list[int], when: datetime) -> dict[int, str]:
    """Each case's state at ``when``: the last event before it (none: not yet reported)."""
    if not ids:
        return {}
    last = (
        select(CaseEvent.case_id, func.max(CaseEvent.id).label("last_id"))
        .where(col(CaseEvent.case_id).in_(ids), col(CaseEvent.at) < when)
        .group_by(col(CaseEvent.case_id))
        .subquery()
    )
    rows = cw.session.exec(
        select(CaseEvent.case_id, CaseEvent.to_state).join(
            last, and_(col(CaseEvent.id) == last.c.last_id)
        )
    ).all()
    return {cid: state for cid, state in rows if state}


def _moves_in(cw: Casework, ids: list[int], start: datetime, end: datetime) -> dict[int, set[str]]:
    """What happened to each case within the period: back, closed out, placed."""
    found: dict[int, set[str]] = {}
    if not ids:
        return found
    for cid, to_state in cw.session.exec(
        select(CaseEvent.case_id, CaseEvent.to_state).where(
            col(CaseEvent.case_id).in_(ids), col(CaseEvent.at) >= start, col(CaseEvent.at) < end
        )
    ).all():
        if to_state == states.RETURNED:
            found.setdefault(cid, set()).add("returned")
        elif to_state == states.CLOSED:
            found.setdefault(cid, set()).add("closed")
        elif to_state in PLACED:
            found.setdefault(cid, set()).add("placed")
    return found


def headline(data: ReportData) -> Text:
    if data.as_of is not None:
        # a month still running is not the whole month: say up to which day it counts
        day = data.as_of
        if data.kind == "quarter":
            return _("Quarterly report for {scope}, {period}, as of {month}/{day}", scope=data.scope,
                     period=data.period.label(), month=day.month, day=day.day)
        if data.kind == "month":
            return _("Monthly report for {scope}, {period}, as of {month}/{day}", scope=data.scope,
                     period=data.period.label(), month=day.month, day=day.day)
        return _("Report for {scope}, {period}, as of {month}/{day}", scope=data.scope,
                 period=data.period.label(), month=day.month, day=day.day)
    if data.kind == "quarter":
        return _("Quarterly report for {scope}, {period}", scope=data.scope, period=data.period.label())
    if data.kind == "month":
        return _("Monthly report for {scope}, {period}", scope=data.scope, period=data.period.label())
    return _("Report for {scope}, {period}", scope=data.scope, period=data.period.label())


def figure_lines(data: ReportData) -> list[Text]:
    """The key figures as chat lines (the workbook has the rest)."""
    return [
        _("Open at the start: {n}", n=data.open_start),
        _("Reported in the period: {n}", n=data.new),
        _("Back at school: {n}; closed out: {closed}; placed: {placed}",
          n=data.returned, closed=data.closed, placed=data.placed),
        _("Persuasion visits: {n}", n=data.visits),
        _("Open at the end: {n}", n=data.open_end),
    ]


def record_report(cw: Casework, actor: User | None, data: ReportData) -> None:
    cw.audit(actor, "report.export", "report", None, period=data.period.code,
             cases=len(data.cases), via="bot" if actor is not None else "cli")


# --- the schedule ---------------------------------------------------------------------------


def _enabled(cw: Casework) -> list[str]:
    reports = cw.policy.reports
    return [k for k, on in (("month", reports.monthly), ("quarter", reports.quarterly)) if on]


def _current(kind: str, today: date) -> Period:
    return month_of(today) if kind == "month" else quarter_of(today)


def _due(cw: Casework, period: Period) -> datetime:
    return cw.calendars.at_local(period.end + timedelta(days=1), cw.policy.times.county_digest)


def _key(kind: str, period: Period) -> str:
    return f"report:{kind}:{period.code}"


def plan_reports(cw: Casework) -> None:
    """Planner: one row per enabled kind for the period in progress (cheap, idempotent)."""
    wanted = {_key(k, p): (k, p) for k in _enabled(cw) if (p := _current(k, cw.today()))}
    if not wanted:
        return
    planned = set(
        cw.session.exec(
            select(Deadline.dedupe_key).where(col(Deadline.dedupe_key).in_(list(wanted)))
        ).all()
    )
    for key, (kind, period) in wanted.items():
        if key not in planned:
            deadlines.plan_job(cw, KIND, _due(cw, period), key=key, report=kind,
                               start=period.start.isoformat(), end=period.end.isoformat())


def handle_report(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """A due report: one message per officer in scope, the figures and the workbook."""
    kind = str(deadline.payload.get("report", "month"))
    try:
        start = date.fromisoformat(str(deadline.payload["start"]))
        end = date.fromisoformat(str(deadline.payload["end"]))
    except (KeyError, ValueError):
        return "bad payload"
    period = Period(kind, start, end)
    if cw.now() - from_db(deadline.due_at) > MAX_LATE:
        return "too late"
    # the parties the profile's [reports] names (lipu: the township and the 市教育局), else
    # the offices' own officers; each reads the report of their own scope
    parties = cw.policy.reports.recipients(CADENCE.get(kind, kind))
    candidates = cw.session.exec(
        select(User)
        .where(col(User.role).in_(sorted({cw.policy.role_of(p) for p in parties})))
        .where(col(User.active).is_(True), col(User.unreachable).is_(False))
        .where(col(User.telegram_id).is_not(None), col(User.scope_id).is_not(None))
        .order_by(col(User.id))
    ).all()
    recipients = [u for u in candidates if bodies.acts_for(cw.policy, u, parties)]
    sent = 0
    for user in recipients:
        data = report_data(cw, user, period)
        message = enqueue(
            cw.session,
            user,
            headline(data),
            kind="periodic_report",
            now=cw.now(),
            buttons=[[{"text": text_to_json(_("📊 Workbook")), "data": ReportWorkbook(period).encode()}]],  # type: ignore[dict-item]
            dedupe_key=f"{_key(kind, period)}:{user.id}",
        )
        message.payload = {
            **message.payload,
            "lines": [text_to_json(t) for t in figure_lines(data)],
            "attachments": [attachment_spec(period)],
        }
        sent += 1
    return f"report queued for {sent}"


def attachment_spec(period: Period) -> dict[str, Any]:
    """What the outbox sender hands to ``documents.attachments.render_attachment``."""
    return {"type": "periodic_report", "period": period.code}


# handle_report and plan_reports are registered in casework.kinds
