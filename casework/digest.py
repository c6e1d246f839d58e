"""Digests: what happened to the cases in an officer's area, pushed on a calendar.

Township officers get one every working day at ``times.township_digest``; county
officers get one every week on ``times.county_digest_weekday`` at ``times.county_digest``
(local times in the policy's time zone): the offices' own oversight, in every profile. The
daily and weekly digests are also the profile's daily and weekly reports: where its
``[reports] to`` names other readers for them (lipu's 日报/周报 to the township and the 市教育局),
those people get them too, each counting their own scope. Each digest says how many cases were opened,
came back to school, were closed and moved up the ladder in the period, how many are
overdue, how the open cases stand by state, village and school, and carries a small
chart of the open cases over the last weeks, and ends with the compact block of the
figures the bureau is judged by (``casework.figures.digest_lines``, the last 30 days).

Everything in a digest is computed with the recipient's own scope filter
(:func:`casework.scope.visible_cases`): a township officer's digest never counts, names or
draws a case outside their township, whatever the data of the other townships.

How it runs, with the scheduler (``casework.scheduler``):

- :func:`plan_digests`, a planner, creates one caseless ``digest`` deadline row per
  officer and occurrence, keyed ``digest:<township|county>:<user id>:<local date>``,
  so planning every tick is idempotent and two workers planning at once make one row.
  Rows are per officer, not per unit, because each digest is rendered for one reader:
  their scope, their language, their chart; one reader's failure retries only theirs.
- :func:`handle_digest`, the kind's handler, computes :func:`digest_data` for the period
  in the row and queues one outbox message: the text as translatable lines, plus the
  chart as ``payload["photo_b64"]`` (a base64 PNG), which the sender sends as a photo
  with the text as its caption.

The chart is drawn by a renderer the process installs with :func:`set_chart_renderer`
(the bot installs ``documents.digest_chart``), so the domain stays free of matplotlib and a
process without it still sends the digest, as text only.

Counting rules (each chosen so the numbers agree with what the bot shows elsewhere):

- *open* means not closed out: every state except ``closed``, ``transferred`` and
  ``closed_other`` (the bot's own "open cases" list uses the same rule). A returned
  child's case stays open until its retention check-ins let the school close it.
- *out of school* means on the ladder or paused: the children the ladder still works on.
- *new*: cases opened in the period. *Returned*, *closed*, *moved up*: cases whose state
  entered ``returned``, a closed state, or a higher ladder level (not counting the first
  step from ``suspected`` to the school's persuasion, which is the normal start) at least
  once in the period, each case counted once.
- *overdue*: cases whose step or round deadline at their current level has passed
  without being answered. That is an open ``step``/``round`` row due by the end of the
  period, or one the scheduler has already acted on (it marks a round row done when it
  sends the overdue notice; a step row at the top of the ladder likewise) and that no
  later row of its kind has replaced: a visit schedules the next round, an escalation
  moves the case to a new level.
- States are reconstructed from the append-only case events, so a digest for a past
  period shows that period as it was, and the chart can go back eight weeks.
"""

from __future__ import annotations

import base64
import logging
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import or_
from sqlmodel import col, select

from casework import bodies, deadlines, figures, states
from casework.callbacks import OpenCase
from casework.clock import from_db
from casework.context import Casework
from casework.i18n import N_, Text, _
from casework.labels import CLAUSE_SEPARATOR, STATE_LABELS, day_text, join
from casework.outbox import enqueue, text_to_json
from casework.personal import mask_name
from casework.scope import visible_cases
from casework.verification.progress import progress, progress_lines
from models.tables import (
    Case,
    CaseEvent,
    County,
    Deadline,
    School,
    Student,
    Township,
    User,
    Village,
)

# the overdue cases a digest names, a line and a button each; the rest are counted (a
# message with more would not fit a phone's screen, nor Telegram's limits)
OVERDUE_LISTED = 10

log = logging.getLogger(__name__)

KIND = "digest"
Scope = Literal["township", "county"]

# who gets which digest: the role, and the scope kind that role must hold
RECIPIENTS: dict[Scope, str] = {"township": "township_officer", "county": "county_officer"}

# A digest that comes this late (the bot was down at the time) is no longer news: the
# next one is close. Half a working day for the daily one; a day for the weekly one,
# which nothing replaces for a week.
MAX_LATE: dict[Scope, timedelta] = {
    "township": timedelta(hours=6),
    "county": timedelta(hours=24),
}

CHART_WEEKS = 8
# a caption holds 1024 characters; these keep the longest county digest well inside it
TOP_UNITS = 6

# the rows of cases without a village, and of children never enrolled (表1), by unit
NO_VILLAGE = N_("no village on record")
NOT_ENROLLED = N_("not enrolled")

CLOSED_STATES = frozenset(states.FINAL | {states.CLOSED})
OUT_OF_SCHOOL = frozenset(states.ACTIVE | {states.PAUSED})


# --- the data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitCount:
    """Open cases of one village or school; ``unit_id`` None: not enrolled / no village."""

    unit_id: int | None
    name: str
    cases: int


@dataclass(frozen=True)
class DayCount:
    """Cases at the end of one local day (or at the end of the period, for its last day)."""

    day: date
    open: int
    out_of_school: int


@dataclass(frozen=True)
class OverdueCase:
    """A case named in a digest's overdue list: the child's name masked (a digest goes to
    a chat that may be seen over a shoulder), its state and the days since the deadline."""

    case_id: int
    name: str
    state: str
    days: int


@dataclass(frozen=True)
class DigestData:
    """What a digest says, for one reader's scope and one period [start, end).

    Counts of events are distinct cases; the standing counts are as of ``period_end``.
    """

    period_start: datetime
    period_end: datetime
    new: int
    returned: int
    closed: int
    escalated: int
    overdue: int
    open: int
    out_of_school: int
    by_state: tuple[tuple[str, int], ...]  # open cases per state, lifecycle order, no zeros
    by_village: tuple[UnitCount, ...]  # most open cases first
    by_school: tuple[UnitCount, ...]
    per_day: tuple[DayCount, ...]  # the chart: CHART_WEEKS weeks ending on the period's end
    overdue_cases: tuple[OverdueCase, ...] = ()  # most days overdue first
    # the verification rounds not yet due, how far each unit is (casework.verification)
    verification: tuple[Text, ...] = ()


@dataclass(frozen=True)
class _Case:
    """A case's history as (instant, state entered, state left) steps, oldest first."""

    case: Case
    steps: tuple[tuple[datetime, str, str | None], ...]

    def state_at(self, when: datetime) -> str | None:
        """The state just before ``when`` (periods are half-open); None before the case."""
        n = bisect_left(self.steps, when, key=lambda step: step[0])
        return self.steps[n - 1][1] if n else None


def _histories(cw: Casework, user: User, since: datetime, until: datetime) -> list[_Case]:
    """The cases in ``user``'s scope that existed before ``until`` and were not already
    closed before ``since``, each with its state changes before ``until``.

    A case closed before ``since`` stays closed (closed states have no way out), so it
    can neither be counted nor drawn in the window; leaving it out keeps the query to
    the cases that matter as the ledger grows.
    """
    session = cw.session
    relevant = (
        visible_cases(user),
        col(Case.created_at) < until,
        or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= since),
    )
    cases = list(session.exec(select(Case).where(*relevant).order_by(col(Case.id))).all())
    if not cases:
        return []
    events = session.exec(
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.to_state, CaseEvent.from_state)
        .where(col(CaseEvent.case_id).in_(select(Case.id).where(*relevant)))
        .where(col(CaseEvent.at) < until, col(CaseEvent.to_state).is_not(None))
        .order_by(col(CaseEvent.case_id), col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    steps: dict[int, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    for case_id, at, to_state, from_state in events:
        steps[case_id].append((from_db(at), to_state or "", from_state))
    out = []
    for case in cases:
        found = steps.get(case.id or 0)
        if not found:  # a case without events (imported): its current state since creation
            found = [(from_db(case.created_at), case.state, None)]
        out.append(_Case(case, tuple(found)))
    return out


def _entered(
    history: _Case, start: datetime, end: datetime, test: Callable[[str, str | None], bool]
) -> bool:
    return any(start <= at < end and test(to, frm) for at, to, frm in history.steps)


def _moved_up(to_state: str, from_state: str | None) -> bool:
    ladder = states.LADDER
    if from_state not in ladder or to_state not in ladder or from_state == "suspected":
        return False
    return ladder.index(to_state) > ladder.index(from_state)


def _overdue(cw: Casework, user: User, histories: Sequence[_Case], end: datetime) -> dict[int, datetime]:
    """Cases with an unanswered step or round deadline due by ``end`` (see the module doc),
    each with its earliest such deadline."""
    current = {h.case.id or 0: h.case.state for h in histories if h.case.state in states.ACTIVE}
    if not current:
        return {}
    on_ladder = select(Case.id).where(
        visible_cases(user), col(Case.state).in_(list(states.ACTIVE))
    )
    return overdue_among(cw, on_ladder, current, end)


def overdue_among(cw: Casework, on_ladder: Any, current: dict[int, str], end: datetime) -> dict[int, datetime]:
    """Of the cases ``on_ladder`` (a select of case ids) standing at ``current`` (id → state),
    those overdue by ``end`` (the module doc's rule), each with its earliest such deadline.
    The digests ask for one officer's cases; ``casework.agenda`` for all it plans for."""
    rows = cw.session.exec(
        select(Deadline)
        .where(col(Deadline.case_id).in_(on_ladder))
        .where(col(Deadline.kind).in_(deadlines.WORK_KINDS))
        .order_by(col(Deadline.id))
    ).all()
    latest: dict[tuple[int, str], Deadline] = {}
    for row in rows:  # ascending id: the last one of each (case, kind) wins
        latest[(row.case_id or 0, row.kind)] = row
    overdue: dict[int, datetime] = {}
    for (case_id, _kind), row in latest.items():
        if (
            case_id in current
            and row.status in ("open", "done")
            and row.payload.get("level") == current[case_id]
            and from_db(row.due_at) <= end
        ):
            due = from_db(row.due_at)
            overdue[case_id] = min(due, overdue.get(case_id, due))
    return overdue


def _overdue_cases(cw: Casework, histories: Sequence[_Case], overdue: dict[int, datetime],
                   end: datetime) -> tuple[OverdueCase, ...]:
    """The overdue cases to name, most days overdue first (only those listed are read)."""
    return name_overdue(cw, {h.case.id or 0: h.case for h in histories}, overdue, end)


def name_overdue(cw: Casework, by_id: dict[int, Case], overdue: dict[int, datetime], end: datetime,
                 limit: int = OVERDUE_LISTED) -> tuple[OverdueCase, ...]:
    """The first ``limit`` of ``overdue`` (case id → deadline), most days overdue first, as
    digest lines name them (the name masked); only those named are read."""
    tz = cw.policy.tz
    today = from_db(end).astimezone(tz).date()
    ranked = sorted(overdue.items(), key=lambda item: (item[1], item[0]))[:limit]
    student_ids = [by_id[cid].student_id for cid, _due in ranked]
    names = dict(cw.session.exec(select(Student.id, Student.name).where(col(Student.id).in_(student_ids))).all())
    return tuple(
        OverdueCase(cid, mask_name(names.get(by_id[cid].student_id)) or "?", by_id[cid].state,
                    max(0, (today - due.astimezone(tz).date()).days))
        for cid, due in ranked
    )


def _units(
    cw: Casework, open_cases: Sequence[Case], kind: Literal["village", "school"]
) -> tuple[UnitCount, ...]:
    counts = Counter(c.village_id if kind == "village" else c.school_id for c in open_cases)
    table: Any = Village if kind == "village" else School
    ids = [i for i in counts if i is not None]
    names: dict[int, str] = {}
    if ids:
        names = {
            row.id: row.name for row in cw.session.exec(select(table).where(col(table.id).in_(ids)))
        }
    units = [
        UnitCount(unit_id, names.get(unit_id, "?") if unit_id is not None else "", n)
        for unit_id, n in counts.items()
    ]
    # most cases first; ties by name so the order is the same every day
    return tuple(sorted(units, key=lambda u: (-u.cases, u.unit_id is None, u.name)))


def digest_data(
    cw: Casework,
    user: User,
    period_start: datetime,
    period_end: datetime,
    *,
    weeks: int = CHART_WEEKS,
) -> DigestData:
    """The digest of the cases ``user`` may see, for the period [start, end).

    ``period_start``/``period_end`` are aware instants; the chart covers ``weeks`` weeks
    of local days ending with the local date of ``period_end``.
    """
    start, end = from_db(period_start), from_db(period_end)
    cal = cw.calendars
    last_day = cal.local_date(end)
    first_day = last_day - timedelta(days=7 * weeks - 1)
    window_start = min(start, cal.at_local(first_day, time(0)))
    histories = _histories(cw, user, window_start, end)

    new = sum(1 for h in histories if start <= from_db(h.case.created_at) < end)
    returned = sum(
        1
        for h in histories
        if _entered(h, start, end, lambda to, frm: to == states.RETURNED and frm != to)
    )
    closed = sum(
        1
        for h in histories
        if _entered(h, start, end, lambda to, frm: to in CLOSED_STATES and frm not in CLOSED_STATES)
    )
    escalated = sum(1 for h in histories if _entered(h, start, end, _moved_up))

    at_end = [(h, h.state_at(end)) for h in histories]
    open_now = [(h, s) for h, s in at_end if s is not None and s not in CLOSED_STATES]
    by_state = Counter(s for _h, s in open_now)
    ordered = tuple((s, by_state[s]) for s in states.ALL_STATES if by_state[s])
    ordered += tuple(sorted((s, n) for s, n in by_state.items() if s not in states.ALL_STATES))

    per_day = []
    for i in range(7 * weeks):
        day = first_day + timedelta(days=i)
        when = min(cal.at_local(day + timedelta(days=1), time(0)), end)
        day_states = [h.state_at(when) for h in histories]
        per_day.append(
            DayCount(
                day,
                sum(1 for s in day_states if s is not None and s not in CLOSED_STATES),
                sum(1 for s in day_states if s in OUT_OF_SCHOOL),
            )
        )

    open_cases = [h.case for h, _s in open_now]
    overdue = _overdue(cw, user, histories, end)
    return DigestData(
        period_start=start,
        period_end=end,
        new=new,
        returned=returned,
        closed=closed,
        escalated=escalated,
        overdue=len(overdue),
        open=len(open_now),
        out_of_school=sum(1 for _h, s in open_now if s in OUT_OF_SCHOOL),
        by_state=ordered,
        by_village=_units(cw, open_cases, "village"),
        by_school=_units(cw, open_cases, "school"),
        per_day=tuple(per_day),
        overdue_cases=_overdue_cases(cw, histories, overdue, end),
        verification=tuple(progress_lines(progress(cw, user, since=cal.local_date(start)))),
    )


# --- the text ---------------------------------------------------------------------------


def overdue_line(c: OverdueCase) -> Text:
    """One overdue case as a digest (and an agenda) names it."""
    return _("#{id} {name} — {state}, {days} days overdue", id=c.case_id, name=c.name,
             state=_(STATE_LABELS.get(c.state, c.state)), days=c.days)


def _unit_items(units: Sequence[UnitCount], none_label: Text) -> Text:
    shown: list[Text] = [
        _("{name} {n}", name=u.name if u.unit_id is not None else none_label, n=u.cases)
        for u in units[:TOP_UNITS]
    ]
    rest = units[TOP_UNITS:]
    if rest:
        shown.append(_("{count} more: {n}", count=len(rest), n=sum(u.cases for u in rest)))
    return join(shown, CLAUSE_SEPARATOR)


def _local(cw: Casework, when: datetime) -> Text:
    """A moment as the chat writes it: 12月7日 16:00 / Dec 7 16:00."""
    local = from_db(when).astimezone(cw.policy.tz)
    # Translators: a day (12月7日) and a time of day (16:00)
    return _("{day} {time}", day=day_text(local.date()), time=local.strftime("%H:%M"))


def unit_name(cw: Casework, user: User) -> str:
    """The name of the township or county an officer answers for."""
    if user.scope_kind == "township" and user.scope_id is not None:
        township = cw.session.get(Township, user.scope_id)
        return township.name if township else "?"
    if user.scope_kind == "county" and user.scope_id is not None:
        county = cw.session.get(County, user.scope_id)
        return county.name if county else "?"
    return ""


def digest_text(
    cw: Casework, user: User, scope: Scope, data: DigestData, *, with_chart: bool
) -> tuple[Text, list[Text]]:
    """The heading and the lines of the digest message (rendered when it is sent)."""
    params = {
        "unit": unit_name(cw, user),
        "start": _local(cw, data.period_start),
        "end": _local(cw, data.period_end),
    }
    heading = (
        _("Daily digest, {unit}, {start} to {end}", **params)
        if scope == "township"
        else _("Weekly digest, {unit}, {start} to {end}", **params)
    )
    lines = [
        _(
            "In this period: {new} new, {returned} returned to school, {closed} closed, "
            "{escalated} moved up the ladder.",
            new=data.new,
            returned=data.returned,
            closed=data.closed,
            escalated=data.escalated,
        ),
        _("Overdue now: {n} (a step or visit deadline has passed).", n=data.overdue),
    ]
    lines += [overdue_line(c) for c in data.overdue_cases]
    if data.overdue > len(data.overdue_cases):
        lines.append(_("…and {n} more.", n=data.overdue - len(data.overdue_cases)))
    if data.open == 0:
        lines.append(_("Open cases: none."))
        return heading, [*lines, *data.verification]
    lines.append(
        _(
            "Open cases: {n}, of them {out} still out of school.",
            n=data.open,
            out=data.out_of_school,
        )
    )
    lines.append(
        _(
            "By state: {items}",
            items=join(
                [_("{name} {n}", name=_(STATE_LABELS.get(s, s)), n=n) for s, n in data.by_state],
                CLAUSE_SEPARATOR,
            ),
        )
    )
    if data.by_village:
        lines.append(_("By village: {items}", items=_unit_items(data.by_village, Text(NO_VILLAGE))))
    if data.by_school:
        lines.append(_("By school: {items}", items=_unit_items(data.by_school, Text(NOT_ENROLLED))))
    if with_chart:
        lines.append(
            _(
                "Chart: open cases per day over the last {weeks} weeks (line); "
                "shaded, those still out of school.",
                weeks=len(data.per_day) // 7,
            )
        )
    return heading, [*lines, *data.verification]


# --- the chart hook ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """What the digest's chart shows, for a renderer outside the domain to draw.

    ``title`` is a :class:`Text` so the renderer can render it in ``lang``; a renderer
    without a font for that language leaves it out (the caption says the same).
    """

    points: tuple[DayCount, ...]
    title: Text
    lang: str


ChartRenderer = Callable[[Chart], bytes]
_renderer: ChartRenderer | None = None


def set_chart_renderer(renderer: ChartRenderer | None) -> ChartRenderer | None:
    """Install the function that draws digest charts as PNG bytes; returns the previous
    one (so a test can put it back). None: digests go out as text only."""
    global _renderer
    previous, _renderer = _renderer, renderer
    return previous


def chart_renderer() -> ChartRenderer | None:
    return _renderer


def _chart_png(data: DigestData, lang: str) -> bytes | None:
    """The chart in the reader's language, or None (no renderer, no data, or it failed).

    A failing renderer must not cost the officer the digest: the text goes out alone.
    """
    renderer = _renderer
    if renderer is None or not data.per_day:
        return None
    chart = Chart(
        points=data.per_day,
        title=_("Open cases, last {weeks} weeks", weeks=len(data.per_day) // 7),
        lang=lang,
    )
    try:
        return renderer(chart)
    except Exception:
        log.exception("the digest chart could not be drawn; sending the text only")
        return None


# --- the calendar: planner and handler --------------------------------------------------


def _scope_of(user: User) -> Scope | None:
    for scope, role in RECIPIENTS.items():
        if user.role == role and user.scope_kind == scope and user.scope_id is not None:
            return scope
    return None


# the report of the profile's [reports] each digest is: the daily one, the weekly one
CADENCE: dict[Scope, str] = {"township": "daily", "county": "weekly"}


def _named(cw: Casework, scope: Scope) -> tuple[str, ...]:
    """The parties the profile's [reports] names for this digest's report (lipu's daily and
    weekly reports to the township and the 市教育局), besides the offices' own officers."""
    return cw.policy.reports.recipients(CADENCE[scope])


def _receives(cw: Casework, user: User, scope: Scope) -> bool:
    """Does ``user`` get the ``scope`` digest: the office's own officer of that level (every
    profile: their oversight), or one of the parties the profile names for the report,
    read in their own scope."""
    if _scope_of(user) == scope and user.body is None:
        return True
    return user.scope_id is not None and bodies.acts_for(cw.policy, user, _named(cw, scope))


def _reachable(user: User) -> bool:
    return user.active and not user.unreachable and user.telegram_id is not None


def occurrences(cw: Casework, scope: Scope) -> list[tuple[datetime, datetime]]:
    """The (period start, due) of the digests to plan now: the next one, and the one
    just past if it is recent enough to send late (``MAX_LATE``).

    Daily digests fall on statutory working days (调休 Saturdays included, holidays
    skipped) and cover everything since the previous working day's digest, so the
    Monday one covers the weekend and nothing falls between two digests. Weekly ones
    fall on the policy's weekday every week and cover the seven days before.
    """
    cal, times, today = cw.calendars, cw.policy.times, cw.today()
    if scope == "township":
        at = times.township_digest
        day = cal.previous_working_day(today)
        step, back = cal.next_working_day, cal.previous_working_day
    else:
        at = times.county_digest
        day = today - timedelta(days=(today.weekday() - times.county_digest_weekday) % 7 + 7)

        def step(d: date) -> date:
            return d + timedelta(days=7)

        def back(d: date) -> date:
            return d - timedelta(days=7)

    found: list[tuple[datetime, datetime]] = []
    while True:
        due = cal.at_local(day, at)
        if due > cw.now() or cw.now() - due < MAX_LATE[scope]:
            found.append((cal.at_local(back(day), at), due))
        if due > cw.now():
            return found
        day = step(day)


def _key(scope: Scope, user: User, due: datetime, cw: Casework) -> str:
    return f"digest:{scope}:{user.id}:{cw.calendars.local_date(due).isoformat()}"


def plan_digests(cw: Casework) -> None:
    """Planner: one ``digest`` row per reachable officer and upcoming occurrence.

    Runs every tick; costs one query for the officers and one for the keys already
    planned, and inserts only what is missing (``deadlines.plan_job`` makes a race
    between two workers harmless).
    """
    # the bureau's and the township's own officers; a body's people (县人民政府, 市教育局,
    # 区扶贫工作领导小组) hear of the cases their steps name, and get a digest only where the
    # profile's [reports] names them for its daily or weekly report (_receives)
    roles = {*RECIPIENTS.values(), *(cw.policy.role_of(p) for s in RECIPIENTS for p in _named(cw, s))}
    officers = cw.session.exec(
        select(User)
        .where(col(User.role).in_(sorted(roles)))
        .where(col(User.active).is_(True), col(User.unreachable).is_(False))
        .where(col(User.telegram_id).is_not(None))
        .order_by(col(User.id))
    ).all()
    when = {scope: occurrences(cw, scope) for scope in RECIPIENTS}
    wanted: dict[str, tuple[Scope, User, datetime, datetime]] = {}
    for user in officers:
        for scope in RECIPIENTS:
            if not _receives(cw, user, scope):
                continue
            for since, due in when[scope]:
                wanted[_key(scope, user, due, cw)] = (scope, user, since, due)
    if not wanted:
        return
    planned = set(
        cw.session.exec(
            select(Deadline.dedupe_key).where(col(Deadline.dedupe_key).in_(list(wanted)))
        ).all()
    )
    for key, (scope, user, since, due) in wanted.items():
        if key not in planned:
            deadlines.plan_job(
                cw, KIND, due, key=key, recipient_id=user.id, scope=scope, since=since.isoformat()
            )


def handle_digest(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """Handler of a due ``digest`` row: queue the officer's digest, chart attached."""
    user = cw.session.get(User, deadline.recipient_id) if deadline.recipient_id else None
    scope: Any = deadline.payload.get("scope")
    if user is None or not _reachable(user):
        return "recipient gone"
    if scope not in RECIPIENTS or not _receives(cw, user, scope):
        return "stale: no longer a recipient"  # moved to another role since planning
    due = from_db(deadline.due_at)
    if cw.now() - due > MAX_LATE[scope]:
        return "too late"
    since_raw = deadline.payload.get("since")
    since = from_db(datetime.fromisoformat(since_raw)) if since_raw else due - timedelta(days=1)
    data = digest_data(cw, user, since, due)
    png = _chart_png(data, user.language)
    heading, lines = digest_text(cw, user, scope, data, with_chart=png is not None)
    # the figures the bureau is judged by, over a window long enough to mean something: every
    # one in the weekly digest, their summary in the daily one
    lines += figures.digest_lines(figures.compute(cw, user, due - figures.DIGEST_WINDOW, due),
                                  full=scope == "county")
    # a button to open each overdue case named, five a row
    opens = [{"text": text_to_json(Text("#{id}", {"id": c.case_id})), "data": OpenCase(c.case_id).encode()}
             for c in data.overdue_cases]
    message = enqueue(cw.session, user, heading, kind=KIND, now=cw.now(),
                      buttons=[opens[i : i + 5] for i in range(0, len(opens), 5)])  # type: ignore[misc]
    payload: dict[str, Any] = {**message.payload, "lines": [text_to_json(t) for t in lines]}
    if png is not None:
        payload["photo_b64"] = base64.b64encode(png).decode("ascii")
    message.payload = payload
    return f"digest queued{' with chart' if png is not None else ''}"


# handle_digest and plan_digests are registered in casework.kinds
