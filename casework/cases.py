"""The ladder's read side: a case viewed, the cases a user may see listed and paged, the
proposals waiting for a reviewer.

Every list runs the one scope rule (:func:`casework.scope.visible_cases`) in its query;
viewing one case goes through :func:`casework.ladder.load_case`, which checks the same rule
and audits a refusal. The transitions live in :mod:`casework.ladder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, func, select

from casework import actions, deadlines, notices, states
from casework.clock import from_db
from casework.context import Casework
from casework.i18n import Text
from casework.ladder import load_case
from casework.scope import visible_cases, visible_cases_bound
from models.tables import Case, Deadline, Proposal, User


def view_case(cw: Casework, actor: User, case_id: int) -> Case:
    """Read a case (audited: every view of personal data is recorded)."""
    case = load_case(cw, actor, case_id, "view")
    cw.audit(actor, "case.view", "case", case.id)
    return case


@dataclass(frozen=True)
class ListedCase:
    """A case as a list shows it: the row, its title and its nearest working deadline."""

    case: Case
    title: Text
    next_due: datetime | None


def cases_for(cw: Casework, actor: User, state: str | None = None) -> list[Case]:
    """The cases in the actor's scope, nearest deadline first."""
    return [item.case for item in list_cases(cw, actor, state=state, titled=False)]


# the statements of :func:`list_cases`, built once (building one cost about as much as
# running it): the cases' query for each kind of scope and set of filters, and the
# nearest working deadline of each case listed
_LISTS: dict[tuple[str | bool, bool, bool, bool], Any] = {}
_NEXT_DUE = (
    select(Deadline.case_id, func.min(Deadline.due_at))
    .where(
        col(Deadline.case_id).in_(bindparam("ids", expanding=True)),
        Deadline.status == "open",
        col(Deadline.kind).in_(deadlines.WORK_KINDS),
    )
    .group_by(col(Deadline.case_id))
)


def list_cases(
    cw: Casework,
    actor: User,
    *,
    state: str | None = None,
    states_in: frozenset[str] | None = None,
    case_id: int | None = None,
    titled: bool = True,
) -> list[ListedCase]:
    """The cases in the actor's scope with their titles and next deadlines, nearest
    deadline first, in a fixed handful of queries however many cases there are (a
    teacher's "which case?" list is asked for on every /visit). Not audited: it is also
    a lookup; :func:`cases_page` is the audited list view."""
    rule, visible, params = visible_cases_bound(actor)
    key = (rule, state is not None, states_in is not None, case_id is not None)
    query = _LISTS.get(key)
    if query is None:
        query = select(Case).where(visible)
        if state is not None:
            query = query.where(Case.state == bindparam("state"))
        if states_in is not None:
            query = query.where(col(Case.state).in_(bindparam("states_in", expanding=True)))
        if case_id is not None:  # one case, if the actor would see it in the list
            query = query.where(Case.id == bindparam("case_id"))
        query = _LISTS[key] = query.order_by(col(Case.id))
    params |= {"state": state, "states_in": sorted(states_in or ()), "case_id": case_id}
    cases = list(cw.session.exec(query, params=params).all())
    if not cases:
        return []
    due = {
        case_id: from_db(at)
        for case_id, at in cw.session.exec(_NEXT_DUE, params={"ids": [c.id for c in cases]}).all()
    }
    titles = notices.case_titles(cw, cases) if titled else {}
    far = datetime.max.replace(tzinfo=UTC)
    listed = [ListedCase(c, titles.get(c.id or 0, Text("")), due.get(c.id or 0)) for c in cases]
    return sorted(listed, key=lambda item: (item.next_due or far, item.case.id or 0))


def audit_listed(cw: Casework, actor: User, case_ids: list[int], *, view: str) -> None:
    """A list of cases was shown (a picker's page): audited like a view of one case."""
    cw.audit_list(actor, "case.list", "case", case_ids, view=view)


@dataclass(frozen=True)
class CasesPage:
    """The first cases of a list, titled, and how many the list has in all."""

    items: list[ListedCase]
    total: int


def cases_page(
    cw: Casework, actor: User, *, states_in: frozenset[str], limit: int, view: str = "cases"
) -> CasesPage:
    """``/cases``: the actor's cases in ``states_in``, nearest deadline first; the first
    ``limit`` titled (only they are shown). Audited like a case view: one ``case.list``
    row naming the cases shown."""
    listed = list_cases(cw, actor, states_in=states_in, titled=False)
    shown = listed[:limit]
    titles = notices.case_titles(cw, [item.case for item in shown])
    cw.audit_list(actor, "case.list", "case", [item.case.id for item in shown],
                  view=view, total=len(listed))
    return CasesPage(
        [ListedCase(i.case, titles.get(i.case.id or 0, Text("")), i.next_due) for i in shown],
        len(listed),
    )


def review_queue(cw: Casework, actor: User) -> list[tuple[Proposal, Case]]:
    """The proposals waiting for this user's decision, oldest first, within their scope
    (the one scope rule, ``casework.scope.visible_cases``)."""
    if actor.role not in states.ACTION_ROLES["decide_outcome"] or not actor.active:
        return []
    found = cw.session.exec(
        select(Proposal, Case)
        .join(Case, col(Case.id) == col(Proposal.case_id))
        .where(Proposal.status == "pending", visible_cases(actor))
        .order_by(col(Proposal.proposed_at), col(Proposal.id))
    ).all()
    return [(p, c) for p, c in found if actions.may_decide(cw, actor, c, p)]
