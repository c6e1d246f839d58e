"""The console's case list: the cases a user may see, filtered, sorted and paged in SQL.

The filters are plain values a URL can carry (:class:`CaseFilter`, parsed from the query
string by :meth:`CaseFilter.parse`, unknown values dropped), so a saved link reopens the
same list. The scope rule is ``casework.scope.visible_cases``, always ANDed in; a unit
filter narrows within it (``scope.cases_within``) and never widens it. A search by ID
number compares the number's keyed hash, never the number itself.

Each page shown is audited like a view of its cases (one ``case.list`` row naming them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import String, and_, cast, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from casework import codes, deadlines, notices, states
from casework.clock import from_db, to_db
from casework.context import Casework
from casework.errors import ValidationError
from casework.i18n import Text
from casework.scope import cases_within, visible_cases
from casework.validation import resident_id
from models.tables import Case, Deadline, Student, User
from models.types import cipher

PAGE_SIZE = 50
OPEN_STATES = tuple(s for s in states.ALL_STATES if s not in states.FINAL | {states.CLOSED})
UNIT_KINDS = ("township", "village", "school")
DUE = ("overdue", "today", "week")
SORTS = ("due", "-due", "id", "-id", "updated", "-updated")


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class CaseFilter:
    """What a case list shows. ``state``: a state code, ``open`` (the default) or ``all``."""

    state: str = "open"
    unit: tuple[str, int] | None = None  # ("township" | "village" | "school", id)
    reason: str | None = None
    key_group: str | None = None
    due: str | None = None  # overdue | today | week
    source: str | None = None
    reported_from: date | None = None
    reported_to: date | None = None
    q: str = ""  # a name, or part of one
    id_hash: str | None = None  # a full ID number's keyed hash (:func:`search_params`)
    sort: str = "due"
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, str]) -> CaseFilter:
        """From a query string; a value that is not a known code is ignored, not trusted."""
        state = params.get("state") or "open"
        if state not in ("open", "all", *states.ALL_STATES):
            state = "open"
        unit = None
        kind, _sep, raw_id = (params.get("unit") or "").partition(":")
        if kind in UNIT_KINDS and raw_id.isdigit():
            unit = (kind, int(raw_id))

        def code(name: str, kind: str) -> str | None:
            value = params.get(name) or None
            return value if value in codes.CODE_LISTS[kind] else None

        page = params.get("page") or "1"
        return cls(
            state=state,
            unit=unit,
            reason=code("reason", "reason"),
            key_group=code("key_group", "key_group"),
            due=params.get("due") if params.get("due") in DUE else None,
            source=code("source", "source"),
            reported_from=_date(params.get("from")),
            reported_to=_date(params.get("to")),
            q=(params.get("q") or "").strip()[:40],
            id_hash=idh if (idh := params.get("idh")) and len(idh) == 64 and idh.isalnum() else None,
            sort=sort if (sort := params.get("sort") or "due") in SORTS else "due",
            page=max(1, min(int(page), 10_000)) if page.isdigit() else 1,
        )

    def query_string(self, **changes: Any) -> str:
        """This filter as a URL query (with ``changes``), empty values left out."""
        f = replace(self, **changes)
        values = {
            "state": f.state if f.state != "open" else None,
            "unit": f"{f.unit[0]}:{f.unit[1]}" if f.unit else None,
            "reason": f.reason, "key_group": f.key_group, "due": f.due, "source": f.source,
            "from": f.reported_from.isoformat() if f.reported_from else None,
            "to": f.reported_to.isoformat() if f.reported_to else None,
            "q": f.q or None, "idh": f.id_hash, "sort": f.sort if f.sort != "due" else None,
            "page": f.page if f.page != 1 else None,
        }
        return urlencode({k: v for k, v in values.items() if v is not None})


@dataclass(frozen=True)
class Row:
    case: Case
    title: Text
    next_due: datetime | None
    overdue: bool


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def next_due_table() -> Any:
    """Each case's earliest open working deadline, as a derived table (``case_id``, ``due``)
    to outer-join: one pass over the open deadlines' partial index (``ix_deadline_open_work``),
    where a subquery per case would look each case up on its own."""
    return (
        select(col(Deadline.case_id).label("case_id"), func.min(Deadline.due_at).label("due"))
        .where(Deadline.status == "open", col(Deadline.kind).in_(deadlines.WORK_KINDS))
        .group_by(col(Deadline.case_id))
        .subquery("next_due")
    )


def due_bounds(cw: Casework) -> dict[str, datetime]:
    """Where "overdue" begins (now) and "today" and "this week" end (local midnight, the
    week ending on Sunday night)."""
    today = cw.today()
    tz = cw.policy.tz
    end_today = datetime.combine(today + timedelta(days=1), time(), tzinfo=tz)
    end_week = datetime.combine(today + timedelta(days=7 - today.weekday()), time(), tzinfo=tz)
    return {"overdue": cw.now(), "today": end_today, "week": end_week}


def search_params(q: str) -> dict[str, str]:
    """What a typed search becomes in the list's URL: a full ID number becomes its keyed
    hash (the number itself is never put in a URL, a log or the database), anything else
    is a name to look for."""
    q = q.strip()[:40]
    try:
        number = resident_id(q)
    except ValidationError:
        return {"q": q} if q else {}
    return {"idh": cipher().lookup_hash(number)}


def conditions(cw: Casework, actor: User, f: CaseFilter, next_due: Any) -> list[Any]:
    where: list[Any] = [visible_cases(actor)]
    if f.state == "open":
        where.append(col(Case.state).in_(OPEN_STATES))
    elif f.state != "all":
        where.append(Case.state == f.state)
    if f.unit is not None:
        where.append(cases_within(*f.unit))
    if f.reason:
        where.append(cast(Case.reasons, String).contains(f'"{f.reason}"'))
    if f.key_group:
        where.append(cast(Student.key_groups, String).contains(f'"{f.key_group}"'))
    if f.source:
        where.append(Case.source == f.source)
    tz = cw.policy.tz
    if f.reported_from:
        where.append(col(Case.created_at) >= to_db(datetime.combine(f.reported_from, time(), tzinfo=tz)))
    if f.reported_to:
        end = datetime.combine(f.reported_to + timedelta(days=1), time(), tzinfo=tz)
        where.append(col(Case.created_at) < to_db(end))
    if f.due:  # overdue: past; today and this week: still ahead, falling due by then
        bounds = due_bounds(cw)
        where.append(next_due < to_db(bounds[f.due]))
        if f.due != "overdue":
            where.append(next_due >= to_db(bounds["overdue"]))
    if f.q:
        where.append(col(Student.name).contains(f.q, autoescape=True))
    if f.id_hash:
        where.append(Student.id_number_hash == f.id_hash)
    return where


def _first_deadline() -> tuple[Any, list[Any]]:
    first = aliased(Deadline, name="first_deadline")
    other = aliased(Deadline, name="earlier_deadline")
    earlier = select(col(other.id)).where(
        col(other.case_id) == col(first.case_id), other.status == "open",
        col(other.kind).in_(deadlines.WORK_KINDS),
        or_(col(other.due_at) < col(first.due_at),
            and_(col(other.due_at) == col(first.due_at), col(other.id) < col(first.id))),
    )
    return first, [first.status == "open", col(first.kind).in_(deadlines.WORK_KINDS), ~exists(earlier)]


_FIRST_DEADLINE = _first_deadline()  # built once: aliasing costs more than the query it serves


def first_deadline() -> tuple[Any, list[Any]]:
    """Each case's earliest open working deadline as a row of its own: an alias of
    ``Deadline`` and the conditions making its row the case's first (open, working, and no
    earlier one of the same case; the lower id of two due at once). Joined to the cases, it
    lets the list walk the deadlines in due order (``ix_deadline_open_work_due``) and stop
    at the page, where grouping every open deadline of the county by case costs a scan and
    a sort of them all on every page."""
    return _FIRST_DEADLINE


def list_page(cw: Casework, actor: User, f: CaseFilter, *, size: int = PAGE_SIZE) -> Page:
    """One page of the actor's cases under ``f``, audited as a list view of the cases shown.

    Sorted by next deadline (the default), the page is read from the cases' first
    deadlines in due order, then, past them, from the cases with none (by number); sorted
    otherwise, the page's cases are picked first and their next deadlines read for them
    alone. The total is a count of the cases matching (an index-only scan when nothing
    but scope and state is asked)."""
    first, is_first = first_deadline()
    due = col(first.due_at)
    by_due = f.sort in ("due", "-due")
    where = conditions(cw, actor, f, due)

    def source(query: Any, with_due: bool) -> Any:
        # the student's row only for what is filtered on it; the deadline when it is needed
        if f.q or f.id_hash or f.key_group:
            query = query.join(Student, col(Student.id) == col(Case.student_id))
        if with_due:
            query = query.join(first, col(first.case_id) == col(Case.id)).where(*is_first)
        return query.where(*where)

    total = cw.session.exec(source(select(func.count()).select_from(Case), bool(f.due))).one()
    pages = max(1, -(-total // size))
    page = min(f.page, pages)
    offset = (page - 1) * size
    picked: list[tuple[int, datetime | None]]
    order: list[Any]
    if by_due:
        order = [due.asc() if f.sort == "due" else due.desc(), col(Case.id)]
        picked = [(i, d) for i, d in cw.session.exec(
            source(select(col(Case.id), due), True).order_by(*order).offset(offset).limit(size)).all()]
        if len(picked) < size and not f.due:  # past the cases with a deadline: those with none
            with_due = offset + len(picked) if picked else cw.session.exec(
                source(select(func.count()).select_from(Case), True)).one()
            none_open = ~exists(select(col(Deadline.id)).where(
                col(Deadline.case_id) == col(Case.id), Deadline.status == "open",
                col(Deadline.kind).in_(deadlines.WORK_KINDS)))
            picked += [(i, None) for i in cw.session.exec(
                source(select(col(Case.id)), False).where(none_open).order_by(col(Case.id))
                .offset(max(0, offset - with_due)).limit(size - len(picked))).all()]
    else:
        orders: dict[str, list[Any]] = {
            "id": [col(Case.id)], "-id": [col(Case.id).desc()],
            "updated": [col(Case.updated_at)], "-updated": [col(Case.updated_at).desc()]}
        order = orders[f.sort]
        ids = list(cw.session.exec(
            source(select(col(Case.id)), bool(f.due)).order_by(*order, col(Case.id))
            .offset(offset).limit(size)).all())
        dues = dict(cw.session.exec(
            select(col(Deadline.case_id), func.min(Deadline.due_at))
            .where(Deadline.status == "open", col(Deadline.kind).in_(deadlines.WORK_KINDS),
                   col(Deadline.case_id).in_(ids))
            .group_by(col(Deadline.case_id))).all()) if ids else {}
        picked = [(i, dues.get(i)) for i in ids]
    by_id = {c.id: c for c in cw.session.exec(
        select(Case).where(col(Case.id).in_([i for i, _due in picked]))).all()} if picked else {}
    found = [(by_id[i], d) for i, d in picked]
    cases = [c for c, _due in found]
    titles = notices.case_titles(cw, cases)
    now = cw.now()
    rows = [
        Row(c, titles.get(c.id or 0, Text("")), from_db(d) if d else None,
            d is not None and from_db(d) < now)
        for c, d in found
    ]
    cw.audit_list(actor, "case.list", "case", [c.id for c in cases], view="console",
                  total=total)
    return Page(rows, total, page, pages)
