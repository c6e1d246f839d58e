"""The console's overview: open cases by ladder level and by unit, what falls due, and the
number of open cases over the last weeks, all within the reader's scope (the one rule,
``casework.scope.visible_cases``), and the figures the bureau is judged by
(``casework.figures``, the last 30 days).

Two queries whatever the county's size: one groups the open cases by state, school and
village with their due counts (the rest is summed here), one counts the cases open at the
end of each week. The figures come from ``casework.figures`` (:func:`kpi_figures`): no
figure is defined here.

The weekly series and the figures are the costly part (a scan of the scope's cases and
their events: a few hundred ms at county size) and move slowly (weeks, 30 days), while
the page reloads itself every 30 seconds for every officer who leaves it open. Both are
kept per database and scope in each process (:func:`cached`) and made again when the local day
changes, when a case event or a case is added anywhere (the ids only grow: two index
lookups tell), or after :data:`CACHE_TTL` for what changes without an event (then the
kept value is served once more while a thread makes it anew: :class:`ScopeCache`). Each
web worker keeps its own: none can show another's stale copy, and none shows one older
than the last event plus a query. The tallies (what falls due, what is overdue: a grouping of
every open case with its next deadline, ~100 ms at county size) are kept the same way for
:data:`TALLY_TTL` at most, less than the page's refresh: an escalation, an acknowledgement
or a new case shows at once (each is an event), a deadline passing within 40 seconds.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, case, func, or_
from sqlmodel import col, select

from casework import figures, states
from casework.case_list import OPEN_STATES, due_bounds, next_due_table
from casework.clock import to_db
from casework.context import Casework
from casework.scope import visible_cases
from models.tables import Case, CaseEvent, School, Township, User, Village

WEEKS = 12
CACHE_TTL = timedelta(minutes=2)
TALLY_TTL = timedelta(seconds=20)  # what is due and overdue: less than the page's 30-s refresh
T = TypeVar("T")


class ScopeCache:
    """Values per (what, reader's scope), valid while the local day, the last case event's
    and the last case's ids stay the same, and for a time-to-live (by the casework clock).

    One computation per key at a time: the officers whose pages reload together wait for
    one of them rather than all scanning the county. A value whose time ran out while
    nothing happened (same day, no new case or event) is still served for as long again
    while one thread makes it anew in a unit of work of its own: the reader who happens to
    come then does not wait for the county's figures because a clock ticked."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._values: OrderedDict[tuple[Any, ...], tuple[Any, datetime, Any]] = OrderedDict()
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def _store(self, key: tuple[Any, ...], entry: tuple[Any, datetime, Any]) -> None:
        with self._guard:
            self._values[key] = entry
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                old, _v = self._values.popitem(last=False)
                self._locks.pop(old, None)

    def get(self, cw: Casework, key: tuple[Any, ...], make: Callable[[Casework], T],
            ttl: timedelta = CACHE_TTL) -> T:
        version = data_version(cw)
        now = cw.now()
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
            found = self._values.get(key)
        if found is not None and found[0] == version:
            age = now - found[1]
            if timedelta(0) <= age < ttl:
                return found[2]  # type: ignore[no-any-return]
            if timedelta(0) <= age < 2 * ttl:  # nothing happened, time passed: refresh behind
                if lock.acquire(blocking=False):
                    self._refresh(cw, key, make, lock)
                return found[2]  # type: ignore[no-any-return]
        with lock:
            with self._guard:
                found = self._values.get(key)
            if found is not None and found[0] == version and timedelta(0) <= now - found[1] < ttl:
                return found[2]  # type: ignore[no-any-return]  # made while this one waited
            value = make(cw)
            self._store(key, (version, now, value))
            return value

    def _refresh(self, cw: Casework, key: tuple[Any, ...], make: Callable[[Casework], Any],
                 lock: threading.Lock) -> None:
        from casework.uow import unit_of_work

        engine, clock, policy = cw.session.get_bind(), cw.clock, cw.policy

        def run() -> None:
            try:
                with unit_of_work(engine, clock, policy) as fresh:  # type: ignore[arg-type]
                    version, now = data_version(fresh), fresh.now()
                    value = make(fresh)
                self._store(key, (version, now, value))
            except Exception:  # noqa: BLE001 - the next reader makes it in the foreground
                logging.getLogger(__name__).exception("overview: a kept value not refreshed")
            finally:
                lock.release()

        threading.Thread(target=run, name="overview-refresh", daemon=True).start()

    def clear(self) -> None:
        with self._guard:
            self._values.clear()


_CACHES: weakref.WeakKeyDictionary[Any, ScopeCache] = weakref.WeakKeyDictionary()
_CACHES_GUARD = threading.Lock()


def cached(cw: Casework, key: tuple[Any, ...], make: Callable[[Casework], T],
           ttl: timedelta = CACHE_TTL) -> T:
    """``make(cw)``, or its value kept for this database (the engine's cache) and ``key``."""
    engine = cw.session.get_bind()
    with _CACHES_GUARD:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = ScopeCache()
    return cache.get(cw, key, make, ttl)


def data_version(cw: Casework) -> tuple[date, int, int]:
    """What the cached values depend on that can change at any moment: the local day, the
    last case event and the last case (two index lookups)."""
    last_event = cw.session.exec(select(func.max(CaseEvent.id))).one()
    last_case = cw.session.exec(select(func.max(Case.id))).one()
    return cw.today(), int(last_event or 0), int(last_case or 0)


def scope_key(actor: User) -> tuple[Any, ...]:
    """Readers who see the same cases (``casework.scope.visible``: role, scope, and a
    teacher's own classes) share the cached values."""
    return (actor.role, actor.scope_kind, actor.scope_id, actor.active,
            actor.id if actor.scope_kind == "classes" else None)


@dataclass
class Tally:
    open: int = 0
    overdue: int = 0
    today: int = 0
    week: int = 0

    def add(self, other: Tally) -> None:
        self.open += other.open
        self.overdue += other.overdue
        self.today += other.today
        self.week += other.week


@dataclass(frozen=True)
class UnitRow:
    kind: str  # township | school | village
    id: int
    name: str
    tally: Tally


@dataclass
class Overview:
    total: Tally
    by_state: list[tuple[str, Tally]]
    by_unit: dict[str, list[UnitRow]]  # kind → rows, most open first
    series: list[tuple[datetime, int]]  # (end of week, open cases then)
    kpi: figures.Figures | None = None  # :func:`kpi_figures`
    notes: list[str] = field(default_factory=list)


def kpi_figures(cw: Casework, actor: User) -> figures.Figures | None:
    """The figures the bureau is judged by, for the reader's scope over the last 30 days
    (the digests' window), as ``casework.figures`` defines them; None for a reader the
    figures are not for."""
    if actor.role not in figures.FIGURE_ROLES:
        return None

    def make(cw: Casework) -> figures.Figures:
        end = cw.now()
        return figures.compute(cw, actor, end - figures.DIGEST_WINDOW, end)

    return cached(cw, ("kpi", *scope_key(actor)), make)


def _tallies(cw: Casework, actor: User) -> list[tuple[Any, ...]]:
    """The open cases grouped by state, school and village, with how many of each group
    are overdue, fall due today and this week (by their next working deadline)."""
    nd = next_due_table()
    bounds = {k: to_db(v) for k, v in due_bounds(cw).items()}

    def below(bound: str) -> Any:
        """Cases whose next deadline falls before ``bound``; not yet overdue, but for "overdue"."""
        due = nd.c.due < bounds[bound]
        if bound != "overdue":
            due = and_(due, nd.c.due >= bounds["overdue"])
        return func.sum(case((due, 1), else_=0))

    columns: list[Any] = [col(Case.state), col(Case.school_id), col(Case.village_id), func.count(),
                          below("overdue"), below("today"), below("week")]
    return [tuple(r) for r in cw.session.exec(
        select(*columns)
        .outerjoin(nd, nd.c.case_id == col(Case.id))
        .where(visible_cases(actor), col(Case.state).in_(OPEN_STATES))
        .group_by(col(Case.state), col(Case.school_id), col(Case.village_id))
    ).all()]


def overview(cw: Casework, actor: User) -> Overview:
    rows = cached(cw, ("tallies", *scope_key(actor)), lambda fresh: _tallies(fresh, actor), ttl=TALLY_TTL)
    total = Tally()
    by_state: dict[str, Tally] = {}
    by_school: dict[int, Tally] = {}
    by_village: dict[int, Tally] = {}
    for state, school_id, village_id, n, overdue, today, week in rows:
        t = Tally(int(n), int(overdue or 0), int(today or 0), int(week or 0))
        total.add(t)
        by_state.setdefault(state, Tally()).add(t)
        if school_id is not None:
            by_school.setdefault(school_id, Tally()).add(t)
        if village_id is not None:
            by_village.setdefault(village_id, Tally()).add(t)
    return Overview(
        total=total,
        by_state=[(s, by_state[s]) for s in states.ALL_STATES if s in by_state],
        by_unit=_units(cw, actor, by_school, by_village, rows),
        series=cached(cw, ("series", *scope_key(actor)), lambda fresh: _series(fresh, actor)),
        kpi=kpi_figures(cw, actor),
    )


def _units(cw: Casework, actor: User, by_school: dict[int, Tally], by_village: dict[int, Tally],
           rows: Any) -> dict[str, list[UnitRow]]:
    schools = {s.id: s for s in cw.session.exec(
        select(School).where(col(School.id).in_(sorted(by_school)))).all()} if by_school else {}
    villages = {v.id: v for v in cw.session.exec(
        select(Village).where(col(Village.id).in_(sorted(by_village)))).all()} if by_village else {}
    out: dict[str, list[UnitRow]] = {}
    if actor.scope_kind in ("county", "all"):
        # a case counts once, in the township of its village, else of its school
        by_township: dict[int, Tally] = {}
        for _state, school_id, village_id, n, overdue, today, week in rows:
            village = villages.get(village_id)
            school = schools.get(school_id)
            township_id = village.township_id if village else (school.township_id if school else None)
            if township_id is not None:
                by_township.setdefault(township_id, Tally()).add(
                    Tally(int(n), int(overdue or 0), int(today or 0), int(week or 0)))
        names = {t.id: t.name for t in cw.session.exec(
            select(Township).where(col(Township.id).in_(sorted(by_township)))).all()}
        out["township"] = _sorted("township", by_township, names)
    if actor.scope_kind != "school":
        out["village"] = _sorted("village", by_village, {i: v.name for i, v in villages.items()})
    out["school"] = _sorted("school", by_school, {i: s.name for i, s in schools.items()})
    return out


def _sorted(kind: str, tallies: dict[int, Tally], names: dict[Any, str]) -> list[UnitRow]:
    rows = [UnitRow(kind, i, names.get(i, str(i)), t) for i, t in tallies.items()]
    return sorted(rows, key=lambda r: (-r.tally.open, r.name))


def _series(cw: Casework, actor: User) -> list[tuple[datetime, int]]:
    """Cases open at the end of each of the last :data:`WEEKS` weeks (today the last)."""
    today = cw.today()
    ends = [datetime.combine(today - timedelta(weeks=w) + timedelta(days=1), time(), tzinfo=cw.policy.tz)
            for w in range(WEEKS - 1, -1, -1)]
    ends[-1] = min(ends[-1], cw.now())
    sums = [
        func.sum(case((and_(col(Case.created_at) < to_db(end),
                            or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= to_db(end))),
                       1), else_=0))
        for end in ends
    ]
    found = cw.session.exec(select(*sums).where(visible_cases(actor))).one()
    return [(end, int(n or 0)) for end, n in zip(ends, found, strict=True)]


def ladder_counts(cw: Casework, actor: User) -> Counter[str]:
    """Open cases per state, for the ladder page (the steps of the profile's diagram)."""
    found = cw.session.exec(
        select(Case.state, func.count()).where(visible_cases(actor), col(Case.state).in_(OPEN_STATES))
        .group_by(col(Case.state))
    ).all()
    return Counter({s: int(n) for s, n in found})
