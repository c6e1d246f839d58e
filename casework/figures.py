"""The figures the bureau is judged by (KPI), each defined here and nowhere else.

Every figure is computed for one reader's scope (:func:`casework.scope.visible_cases`; the
operator at the command line sees every county), optionally narrowed to one township, and
for a period [start, end) of instants. The digests, the report workbooks and
``baoxue report kpi`` all call :func:`compute`, so the three can never disagree.

The definitions (a day is a local calendar day in the policy's time zone):

- **Reporting delay**: for each case reported in the period, the days from the first day
  of absence (``absent_since``) to the day of the report, in the buckets 0–3, 4–5, 6–14,
  15–30 and over 30 days; cases without an absence date are counted apart ("unknown").
- **Time to return / to closing**: for each case whose *first* return to school (its first
  ``returned`` event) falls in the period, the days from the report to it; likewise for
  each case closed in the period (销号, verified transfer, closed for another reason).
  Median and distribution (0–7, 8–14, 15–30, 31–60, 61–90, over 90 days).
- **Deadlines met per step**: every ``step`` deadline (a ladder level's deadline) that fell
  due in the period, per level. *Met*: the case left that level for something other than
  a pause (returned, moved up by hand, placed, notice issued) before the deadline passed.
  *Missed*: it was still on that level when the deadline passed (the scheduler escalated,
  or it sits at the top of the ladder). A deadline withdrawn without the case leaving the
  level (a pause stopped the clock, a reissued notice replaced it) counts as neither.
- **Yield per ladder step**: per ladder level, the cases that stood on it at some moment
  of the period (*worked*), and of them those that came back to school in the period
  with that level the last one they stood on (*returned*): returned after the school's
  persuasion, after the township's rounds, after the notice, after the county.
- **Re-dropout**: of the returns in the period, those whose child stopped again (the case
  relapsed, or a new case was opened for the same child) within 6 and within 12 months of
  the return, out of those returns whose 6 (12) months have passed or that already
  relapsed within them (the others cannot be judged yet).
- **Caseload per worker**: the out-of-school cases (on the ladder or paused) at the end of
  the period's last instant that has passed, per person answering for them (the person
  assigned, the school's and the village's responsible person; a case with two counts for
  both), and the cases nobody answers for.
- **Verification rounds (核查)**: each round open during the period, its children in the
  scope (those named twice left out), how many were given a disposition, how many of those
  the township approved, and the count of each disposition (:func:`verification_progress`).

Each query reads only the columns it needs, filtered in SQL by the scope, and the rest is
one pass in Python: fast at county scale (see ``benchmarks/bench_figures.py``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from statistics import median

from sqlalchemy import ColumnElement, and_, func, or_, true
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from casework import states
from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied, NotFound
from casework.i18n import ContextText, Text, _, p_
from casework.ledger import period_bounds, scope_name
from casework.periods import Period
from casework.scope import cases_within, entries_within, visible_cases, visible_entries
from casework.verification.categories import label as disposition_label
from models.tables import Case, CaseEvent, Deadline, Township, User

# who may read the figures: those who get the reports
FIGURE_ROLES = frozenset({"school_admin", "township_officer", "county_officer", "admin"})

# (code, lowest day, highest day or None); codes are language-neutral, labels below
DELAY_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-3", 0, 3), ("4-5", 4, 5), ("6-14", 6, 14), ("15-30", 15, 30), ("31+", 31, None),
)
DURATION_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), ("31-60", 31, 60), ("61-90", 61, 90),
    ("91+", 91, None),
)
CLOSED_STATES = frozenset(states.FINAL | {states.CLOSED})
OUT_OF_SCHOOL = frozenset(states.ACTIVE | {states.PAUSED})
REDROPOUT_MONTHS = (6, 12)
# the digests' block looks back this far: a day or a week holds too few cases to judge by
DIGEST_WINDOW = timedelta(days=30)
TOP_WORKERS = 5


# --- the data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """Day counts in buckets, their median, and the cases without a value."""

    buckets: tuple[tuple[str, int], ...]
    median: float | None
    unknown: int = 0

    @property
    def total(self) -> int:
        return sum(n for _code, n in self.buckets)

    def count(self, code: str) -> int:
        return dict(self.buckets)[code]


@dataclass(frozen=True)
class StepDeadlines:
    level: str
    met: int
    missed: int

    @property
    def share(self) -> float | None:
        due = self.met + self.missed
        return self.met / due if due else None


@dataclass(frozen=True)
class StepYield:
    level: str
    worked: int
    returned: int

    @property
    def share(self) -> float | None:
        return self.returned / self.worked if self.worked else None


@dataclass(frozen=True)
class Redropout:
    """Of ``returns``, per window (months): (judged, dropped out again)."""

    returns: int
    within: tuple[tuple[int, int, int], ...]  # (months, judged, again)

    def again(self, months: int) -> tuple[int, int]:
        for m, judged, again in self.within:
            if m == months:
                return again, judged
        raise KeyError(months)


@dataclass(frozen=True)
class Caseload:
    workers: int
    cases: int  # out-of-school cases
    unassigned: int  # of them, with nobody answering for them
    mean: float | None
    median: float | None
    max: int
    top: tuple[tuple[str, int], ...]  # the busiest people, most cases first


@dataclass(frozen=True)
class VerificationRound:
    """One verification round's progress, for :func:`verification_progress`."""

    name: str
    due_on: date | None
    total: int
    disposed: int
    reviewed: int
    by_disposition: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Figures:
    scope: str
    start: datetime
    end: datetime
    reporting_delay: Distribution
    to_return: Distribution
    to_close: Distribution
    deadlines: tuple[StepDeadlines, ...]  # ladder order
    yields: tuple[StepYield, ...]  # ladder order
    redropout: Redropout
    caseload: Caseload
    verification: tuple[VerificationRound, ...] = ()

    def deadlines_total(self) -> StepDeadlines:
        return StepDeadlines("*", sum(d.met for d in self.deadlines),
                             sum(d.missed for d in self.deadlines))


# --- the rules ----------------------------------------------------------------------------


def check_reader(actor: User | None) -> None:
    if actor is not None and (not actor.active or actor.role not in FIGURE_ROLES):
        raise AccessDenied(
            _("Reports are for school administrators and township and county officers."),
            actor_id=actor.id, action="figures.view", object_type="report", object_id=None,
        )


def scope_condition(cw: Casework, actor: User | None, township_id: int | None) -> ColumnElement[bool]:
    """The cases the figures count: the reader's (the one scope rule), narrowed to a township."""
    where: ColumnElement[bool] = visible_cases(actor) if actor is not None else true()
    if township_id is not None:
        if cw.session.get(Township, township_id) is None:
            raise NotFound(_("There is no township {id}.", id=township_id))
        where = and_(where, cases_within("township", township_id))
    return where


def _bucket(days: int, buckets: Sequence[tuple[str, int, int | None]]) -> str:
    for code, low, high in buckets:
        if days >= low and (high is None or days <= high):
            return code
    return buckets[0][0]  # a negative value (a clock set back): the first bucket


def distribution(days: Sequence[int], buckets: Sequence[tuple[str, int, int | None]],
                 unknown: int = 0) -> Distribution:
    counts = Counter(_bucket(d, buckets) for d in days)
    return Distribution(tuple((code, counts[code]) for code, _lo, _hi in buckets),
                        float(median(days)) if days else None, unknown)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - day 28 exists in every month


def _local_day(cw: Casework, when: datetime) -> date:
    return cw.calendars.local_date(from_db(when))


def reporting_delay(cw: Casework, where: ColumnElement[bool], start: datetime, end: datetime) -> Distribution:
    rows = cw.session.exec(
        select(col(Case.created_at), col(Case.absent_since))
        .where(where, col(Case.created_at) >= start, col(Case.created_at) < end)
    ).all()
    days = [(_local_day(cw, made) - since).days for made, since in rows if since is not None]
    return distribution(days, DELAY_BUCKETS, unknown=sum(1 for _m, since in rows if since is None))


def _time_to(cw: Casework, where: ColumnElement[bool], start: datetime, end: datetime,
             to_states: Sequence[str]) -> Distribution:
    """Report → the first event entering one of ``to_states``, for the cases where that
    first event falls in the period (aggregated in SQL: one row per case)."""
    first = func.min(CaseEvent.at)
    rows = cw.session.exec(
        select(Case.created_at, first)
        .join(CaseEvent, col(CaseEvent.case_id) == col(Case.id))
        .where(where, col(CaseEvent.to_state).in_(list(to_states)),
               or_(col(CaseEvent.from_state).is_(None),
                   col(CaseEvent.from_state).not_in(list(to_states))))
        .group_by(col(Case.id), col(Case.created_at))
        .having(and_(first >= start, first < end))
    ).all()
    days = [(_local_day(cw, at) - _local_day(cw, made)).days for made, at in rows]
    return distribution(days, DURATION_BUCKETS)


History = list[tuple[datetime, str | None, str]]  # (instant, state left, state entered), oldest first


def _histories(cw: Casework, where: ColumnElement[bool], start: datetime,
               end: datetime) -> Iterator[tuple[int, History]]:
    """The state changes before ``end`` of each case in scope alive in the period, one case
    at a time (streamed: memory holds one case's history, not the county's). A case closed
    before the period cannot count; a visit or an acknowledgement changes no state."""
    alive = select(Case.id).where(
        where, col(Case.created_at) < end,
        or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= start),
    )
    rows = cw.session.exec(
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.from_state, CaseEvent.to_state)
        .where(col(CaseEvent.case_id).in_(alive), col(CaseEvent.at) < end,
               col(CaseEvent.to_state).is_not(None),
               or_(col(CaseEvent.from_state).is_(None), col(CaseEvent.from_state) != col(CaseEvent.to_state)))
        .order_by(col(CaseEvent.case_id), col(CaseEvent.at), col(CaseEvent.id))
        .execution_options(yield_per=5000)
    )
    for case_id, group in groupby(rows, key=itemgetter(0)):
        yield case_id, [(from_db(at), frm, to or "") for _id, at, frm, to in group]


StepRow = tuple[str, datetime, datetime, str, datetime | None]  # level, made, due, status, acted


def _step_rows(cw: Casework, where: ColumnElement[bool], start: datetime,
               end: datetime) -> dict[int, list[StepRow]]:
    """The ``step`` deadlines in scope that fell due in the period (and have fallen due)."""
    until = min(end, cw.now())
    found: dict[int, list[StepRow]] = defaultdict(list)
    for case_id, created, due_at, payload, status, acted_at in cw.session.exec(
        select(col(Deadline.case_id), col(Deadline.created_at), col(Deadline.due_at),  # type: ignore[call-overload]
               col(Deadline.payload), col(Deadline.status), col(Deadline.acted_at))
        .join(Case, col(Case.id) == col(Deadline.case_id))
        .where(where, Deadline.kind == "step", col(Deadline.due_at) >= start,
               col(Deadline.due_at) < until)
    ).all():
        found[case_id].append((str((payload or {}).get("level", "")), from_db(created), from_db(due_at),
                               status, from_db(acted_at) if acted_at is not None else None))
    return found


def _deadline_result(row: StepRow, history: History) -> str | None:
    """``met``, ``missed``, or None (neither) for one step deadline, by the case's history."""
    level, made, due, status, acted = row
    i = bisect_left(history, made, key=lambda e: e[0])
    left = next(((at, to) for at, frm, to in history[i:] if frm == level and to != level), None)
    if status in ("done", "failed"):
        return "missed"  # the scheduler reached it with the case still on the level
    if left is not None and left[0] <= due:
        return None if left[1] == states.PAUSED else "met"
    if status == "cancelled" and acted is not None and acted <= due:
        return None  # withdrawn in time with the case still there: a reissued notice replaced it
    return "missed"


def _state_at(history: History, when: datetime) -> str | None:
    n = bisect_left(history, when, key=lambda e: e[0])
    return history[n - 1][2] if n else None


def _levels_worked(history: History, start: datetime) -> tuple[set[str], set[str]]:
    """The ladder levels a case stood on in the period (its history stops at the period's
    end), and those it came back to school from (the last level before the return)."""
    on: set[str] = set()
    back: set[str] = set()
    first = _state_at(history, start)
    if first in states.ACTIVE:
        on.add(first)
    last_level = None
    for at, frm, to in history:
        if at >= start and to in states.ACTIVE:
            on.add(to)
        if at >= start and to == states.RETURNED and frm != to and last_level is not None:
            back.add(last_level)
        if to in states.ACTIVE:
            last_level = to
    return on, back


def steps_and_yields(cw: Casework, where: ColumnElement[bool], start: datetime,
                     end: datetime) -> tuple[tuple[StepDeadlines, ...], tuple[StepYield, ...]]:
    """Deadlines met per step and yield per step, in one pass over the cases' histories."""
    due = _step_rows(cw, where, start, end)
    results: dict[str, Counter[str]] = {"met": Counter(), "missed": Counter()}
    worked: Counter[str] = Counter()
    returned: Counter[str] = Counter()

    def count(rows: Sequence[StepRow], history: History) -> None:
        for row in rows:
            result = _deadline_result(row, history)
            if result is not None:
                results[result][row[0]] += 1

    for case_id, history in _histories(cw, where, start, end):
        on, back = _levels_worked(history, start)
        worked.update(on)
        returned.update(back)
        count(due.pop(case_id, ()), history)
    for rows in due.values():  # a case without recorded state changes
        count(rows, [])
    met, missed = results["met"], results["missed"]
    return (tuple(StepDeadlines(level, met[level], missed[level])
                  for level in states.LADDER if met[level] or missed[level]),
            tuple(StepYield(level, worked[level], returned[level])
                  for level in states.LADDER if worked[level] or returned[level]))


def redropout(cw: Casework, where: ColumnElement[bool], start: datetime, end: datetime) -> Redropout:
    returns = cw.session.exec(
        select(CaseEvent.case_id, CaseEvent.at, Case.student_id)
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .where(where, CaseEvent.to_state == states.RETURNED,
               or_(col(CaseEvent.from_state).is_(None), col(CaseEvent.from_state) != states.RETURNED),
               col(CaseEvent.at) >= start, col(CaseEvent.at) < end)
    ).all()
    if not returns:
        return Redropout(0, tuple((m, 0, 0) for m in REDROPOUT_MONTHS))
    case_ids = {r[0] for r in returns}
    student_ids = {r[2] for r in returns}
    relapses: dict[int, list[datetime]] = defaultdict(list)
    for case_id, at in cw.session.exec(
        select(CaseEvent.case_id, CaseEvent.at)
        .where(col(CaseEvent.case_id).in_(case_ids), CaseEvent.kind == "relapsed",
               col(CaseEvent.at) <= cw.now_db())
    ).all():
        relapses[case_id].append(from_db(at))
    new_cases: dict[int, list[datetime]] = defaultdict(list)
    for student_id, made in cw.session.exec(
        select(Case.student_id, Case.created_at)
        .where(col(Case.student_id).in_(student_ids), col(Case.created_at) <= cw.now_db())
    ).all():
        new_cases[student_id].append(from_db(made))
    today = cw.today()
    judged: Counter[int] = Counter()
    again: Counter[int] = Counter()
    for case_id, at_raw, student_id in returns:
        at = from_db(at_raw)
        stopped = [t for t in (*relapses[case_id], *new_cases[student_id]) if t > at]
        first_stop = _local_day(cw, min(stopped)) if stopped else None
        for months in REDROPOUT_MONTHS:
            limit = add_months(_local_day(cw, at), months)
            if first_stop is not None and first_stop <= limit:
                judged[months] += 1
                again[months] += 1
            elif limit <= today:
                judged[months] += 1
    return Redropout(len(returns), tuple((m, judged[m], again[m]) for m in REDROPOUT_MONTHS))


def caseload(cw: Casework, where: ColumnElement[bool]) -> Caseload:
    rows = cw.session.exec(
        select(Case.assigned_to_id, Case.school_responsible_id, Case.village_responsible_id)
        .where(where, col(Case.state).in_(list(OUT_OF_SCHOOL)))
    ).all()
    per: Counter[int] = Counter()
    unassigned = 0
    for row in rows:
        people = {p for p in row if p is not None}
        if not people:
            unassigned += 1
        per.update(people)
    loads = sorted(per.values())
    top = per.most_common(TOP_WORKERS)
    names = dict(cw.session.exec(
        select(User.id, User.display_name).where(col(User.id).in_([uid for uid, _n in top]))
    ).all()) if top else {}
    return Caseload(
        workers=len(per), cases=len(rows), unassigned=unassigned,
        mean=sum(loads) / len(loads) if loads else None,
        median=float(median(loads)) if loads else None,
        max=loads[-1] if loads else 0,
        top=tuple((names.get(uid, "?"), n) for uid, n in sorted(top, key=lambda t: (-t[1], t[0]))),
    )


def verification_progress(cw: Casework, actor: User | None, township_id: int | None,
                          start: datetime, end: datetime) -> tuple[VerificationRound, ...]:
    """Each verification round (核查) open during the period (imported before its end, due
    on or after its start): its children within the reader's scope (and township), how many
    have a disposition, how many of those the township approved, and the dispositions
    given. Children the list named twice are left out (they are worked once)."""
    from models.tables import VerificationEntry as E
    from models.tables import VerificationRound as Round

    conditions = [col(E.status) != "duplicate", col(Round.created_at) < end,
                  col(Round.due_on) >= start.date()]
    if actor is not None:
        conditions.append(visible_entries(actor))
    if township_id is not None:
        conditions.append(entries_within("township", township_id))
    rows = cw.session.execute(
        sa_select(col(Round.id), col(Round.name), col(Round.due_on), col(E.status),
               col(E.disposition), func.count())
        .join(Round, col(Round.id) == col(E.round_id))
        .where(*conditions)
        .group_by(col(Round.id), col(Round.name), col(Round.due_on), col(E.status),
                  col(E.disposition))
    ).all()
    per: dict[int, tuple[str, date]] = {}
    totals: Counter[int] = Counter()
    disposed: Counter[int] = Counter()
    reviewed: Counter[int] = Counter()
    kinds: dict[int, Counter[str]] = defaultdict(Counter)
    for rid, name, due_on, status, disposition, n in rows:
        per[rid] = (name, due_on)
        totals[rid] += n
        if status in ("proposed", "approved"):
            disposed[rid] += n
            kinds[rid][disposition or "?"] += n
        if status == "approved":
            reviewed[rid] += n
    return tuple(
        VerificationRound(name=name, due_on=due_on, total=totals[rid], disposed=disposed[rid],
                          reviewed=reviewed[rid], by_disposition=tuple(sorted(kinds[rid].items())))
        for rid, (name, due_on) in sorted(per.items(), key=lambda kv: (kv[1][1], kv[0]))
    )


def compute(cw: Casework, actor: User | None, start: datetime, end: datetime, *,
            township_id: int | None = None) -> Figures:
    """Every figure for the reader's scope (``None``: every county) over [start, end)."""
    check_reader(actor)
    where = scope_condition(cw, actor, township_id)
    start, end = from_db(start), from_db(end)
    deadlines_met, yields = steps_and_yields(cw, where, start, end)
    return Figures(
        scope=scope_name(cw, actor) if township_id is None else _township_name(cw, township_id),
        start=start,
        end=end,
        reporting_delay=reporting_delay(cw, where, start, end),
        to_return=_time_to(cw, where, start, end, (states.RETURNED,)),
        to_close=_time_to(cw, where, start, end, sorted(CLOSED_STATES)),
        deadlines=deadlines_met,
        yields=yields,
        redropout=redropout(cw, where, start, end),
        caseload=caseload(cw, where),
        verification=verification_progress(cw, actor, township_id, start, end),
    )


def for_period(cw: Casework, actor: User | None, period: Period, *,
               township_id: int | None = None) -> Figures:
    start, end = period_bounds(cw, period)
    return compute(cw, actor, start, end, township_id=township_id)


def _township_name(cw: Casework, township_id: int) -> str:
    township = cw.session.get(Township, township_id)
    return township.name if township is not None else str(township_id)


# --- words ------------------------------------------------------------------------------


def bucket_label(code: str) -> Text:
    low, _sep, high = code.partition("-")
    if code.endswith("+"):
        return _("over {n} days", n=int(code[:-1]) - 1)
    return _("{low}–{high} days", low=low, high=high)


def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def days_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def text_lines(fig: Figures, level_label: Callable[[str], Text]) -> list[Text]:
    """The figures as lines (the CLI; the digest uses :func:`digest_lines`).
    ``level_label(level) -> Text`` names a ladder level."""
    lines: list[Text] = []
    d = fig.reporting_delay
    lines.append(_("Reporting delay (absence → report), {n} cases: {items}; date unknown {unknown}",
                   n=d.total + d.unknown, unknown=d.unknown,
                   items=_items([(bucket_label(c), n) for c, n in d.buckets])))
    for label, dist in ((_("Report → return"), fig.to_return), (_("Report → closing"), fig.to_close)):
        lines.append(_("{what}, {n} cases: median {median} days; {items}", what=label, n=dist.total,
                       median=days_text(dist.median),
                       items=_items([(bucket_label(c), n) for c, n in dist.buckets])))
    total = fig.deadlines_total()
    lines.append(_("Deadlines met: {met} of {due} ({share})", met=total.met,
                   due=total.met + total.missed, share=percent(total.share)))
    for s in fig.deadlines:
        lines.append(_("  {level}: {met} of {due} met ({share})", level=level_label(s.level),
                       met=s.met, due=s.met + s.missed, share=percent(s.share)))
    lines.append(_("Returned to school, by the last step before the return:"))
    for y in fig.yields:
        lines.append(_("  {level}: {returned} of {worked} cases worked on ({share})",
                       level=level_label(y.level), returned=y.returned, worked=y.worked,
                       share=percent(y.share)))
    r = fig.redropout
    six, twelve = r.again(6), r.again(12)
    lines.append(_("Re-dropout of the {n} returns: within 6 months {a6} of {j6}; within 12 months "
                   "{a12} of {j12} (returns not yet judged are left out)", n=r.returns,
                   a6=six[0], j6=six[1], a12=twelve[0], j12=twelve[1]))
    c = fig.caseload
    lines.append(_("Caseload: {cases} out-of-school cases, {workers} people, mean {mean}, median "
                   "{median}, most {max}; nobody answers for {unassigned}", cases=c.cases,
                   workers=c.workers, mean=_one_decimal(c.mean), median=days_text(c.median),
                   max=c.max, unassigned=c.unassigned))
    for name, n in c.top:
        lines.append(Text("  {name}: {n}", {"name": name, "n": n}))
    for v in fig.verification:
        lines.append(_("Verification {name}: {disposed} of {total} given a disposition, {reviewed} "
                       "reviewed", name=v.name, disposed=v.disposed, total=v.total,
                       reviewed=v.reviewed))
        for code, n in v.by_disposition:
            lines.append(Text("  {label}: {n}", {"label": disposition_label(code), "n": n}))
    return lines


def digest_lines(fig: Figures, *, full: bool) -> list[Text]:
    """The figures block of the digests (the verification rounds are listed per unit above
    it, ``casework.verification.progress``). ``full``: every figure, one line each (the
    weekly digest); otherwise the two-line summary, so that the daily digest stays one
    message (its chart's caption holds 1024 characters) and an officer's day within the
    agenda's few messages."""
    from casework.labels import CLAUSE_SEPARATOR, join, state_text

    d = fig.reporting_delay
    caseload = _("Caseload: {mean} cases per person on average, at most {max}.",
                 mean=_one_decimal(fig.caseload.mean), max=fig.caseload.max)
    if not full:
        total, six = fig.deadlines_total(), fig.redropout.again(6)
        return [
            _("Figures, last {days} days: reported within 3 days {quick} of {n}; median report → "
              "return {median} days; deadlines met {share}; re-dropout within 6 months {again} of "
              "{judged}.", days=(fig.end - fig.start).days, quick=d.count("0-3"), n=d.total,
              median=days_text(fig.to_return.median), share=percent(total.share),
              again=six[0], judged=six[1]),
            caseload,
        ]
    delays = [(bucket_label(c), n) for c, n in d.buckets]
    if d.unknown:
        delays.append((_("absence date unknown"), d.unknown))
    total = fig.deadlines_total()
    six, twelve = fig.redropout.again(6), fig.redropout.again(12)
    yields = join([_("{level} {returned} of {worked}", level=state_text(y.level), returned=y.returned,
                     worked=y.worked) for y in fig.yields], CLAUSE_SEPARATOR) if fig.yields else _("none")
    return [
        _("Figures, last {days} days. Absence → report: within 3 days {quick} of {n} ({items}).",
          days=(fig.end - fig.start).days, quick=d.count("0-3"), n=d.total, items=_items(delays)),
        _("Median days from the report: to the return {back}, to closing {closed}; deadlines met "
          "{share} ({met} of {due}).", back=days_text(fig.to_return.median),
          closed=days_text(fig.to_close.median), share=percent(total.share), met=total.met,
          due=total.met + total.missed),
        _("Returned to school after each step (returned of the cases on it): {items}.", items=yields),
        _("Out of school again after a return: within 6 months {a6} of {j6}, within 12 months {a12} "
          "of {j12}.", a6=six[0], j6=six[1], a12=twelve[0], j12=twelve[1]),
        caseload,
    ]


def _one_decimal(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _items(pairs: Sequence[tuple[Text, int]]) -> Text:
    from casework.labels import CLAUSE_SEPARATOR, join

    return join([_("{name} {n}", name=label, n=n) for label, n in pairs], CLAUSE_SEPARATOR)


# the workbook's fixed words (a sheet of the report workbooks, and ``baoxue report kpi -o``)
WORDS: dict[str, ContextText] = {
    "sheet": p_("figures", "Figures"),
    "title": p_("figures", "The figures the bureau is judged by"),
    "scope": p_("figures", "Scope"),
    "period": p_("figures", "Period"),
    "generated": p_("figures", "Generated"),
    "delay": p_("figures", "Reporting delay: first day of absence to the report"),
    "to_return": p_("figures", "Time from the report to the return to school"),
    "to_close": p_("figures", "Time from the report to closing"),
    "days": p_("figures", "Days"),
    "cases": p_("figures", "Cases"),
    "unknown": p_("figures", "No absence date on record"),
    "median": p_("figures", "Median (days)"),
    "deadlines": p_("figures", "Deadlines met per step"),
    "step": p_("figures", "Step"),
    "met": p_("figures", "Met"),
    "missed": p_("figures", "Missed"),
    "share": p_("figures", "Share"),
    "all_steps": p_("figures", "All steps"),
    "yield": p_("figures", "Returned to school by the last step before the return"),
    "worked": p_("figures", "Cases on the step in the period"),
    "returned": p_("figures", "Returned after the step"),
    "redropout": p_("figures", "Out of school again after a return"),
    "returns": p_("figures", "Returns in the period"),
    "within": p_("figures", "Within {months} months"),
    "judged": p_("figures", "Returns that can be judged"),
    "again": p_("figures", "Out of school again"),
    "caseload": p_("figures", "Caseload per worker (out-of-school cases now)"),
    "workers": p_("figures", "People answering for cases"),
    "load_cases": p_("figures", "Out-of-school cases"),
    "unassigned": p_("figures", "Cases nobody answers for"),
    "mean": p_("figures", "Cases per person, mean"),
    "load_median": p_("figures", "Cases per person, median"),
    "max": p_("figures", "Cases per person, most"),
    "person": p_("figures", "Person"),
    "verification": p_("figures", "Verification rounds"),
    "round": p_("figures", "Round"),
    "due_on": p_("figures", "Due"),
    "total": p_("figures", "Children on the list"),
    "disposed": p_("figures", "Given a disposition"),
    "reviewed": p_("figures", "Reviewed"),
}


def word(key: str, lang: str | None) -> str:
    return WORDS[key].render(lang)
