"""Which actions a user may take on a case now: the transition table, the role table and
scope, in one answer the adapters turn into buttons (so no handler repeats the rules)."""

from __future__ import annotations

from sqlmodel import select

from casework import deadlines, ladder, states
from casework.context import Casework
from casework.scope import can_see_case
from models.tables import Case, Proposal, User

# the order buttons appear in
OFFERED = (
    "acknowledge",
    "record_visit",
    "assign",
    "mark_returned",
    "propose_outcome",
    "issue_deadline_notice",
    "escalate",
    "pause",
    "resume",
    "reopen",
    "close_out",
)


def allowed_actions(cw: Casework, actor: User, case: Case) -> list[str]:
    if not can_see_case(cw.session, actor, case):
        return []
    allowed = []
    for action in OFFERED:
        transition = states.TRANSITIONS[action]
        if case.state not in transition.sources or actor.role not in states.ACTION_ROLES[action]:
            continue
        # an escalation alert this user may take: also here, not only on the alert message
        # (which a restart or a busy chat may bury)
        if action == "acknowledge" and not any(
            ladder.may_acknowledge(actor, a) for a in deadlines.open_of_kind(cw, case, "ack")
        ):
            continue
        if action == "escalate" and cw.policy.next_level(case.level) is None:  # type: ignore[arg-type]
            continue
        if action == "issue_deadline_notice" and (
            not cw.policy.has_level("deadline_notice")
            or (case.state == "deadline_notice" and case.notice_issued_at is not None)
        ):
            continue
        if action == "close_out" and case.state == states.RETURNED:
            continue
        # one proposal at a time: offering a second only leads to a refusal at Confirm
        if action in ("propose_outcome", "close_out") and pending_proposal(cw, case) is not None:
            continue
        # back at school, the only outcome is 销号, offered as its own button
        if action == "propose_outcome" and case.state in (states.RETURNED, states.RETENTION):
            continue
        allowed.append(action)
    return allowed


def pending_proposal(cw: Casework, case: Case) -> Proposal | None:
    return cw.session.exec(
        select(Proposal).where(Proposal.case_id == case.id, Proposal.status == "pending")
    ).first()


def required_reviewer(cw: Casework, proposal: Proposal) -> str:
    """The lowest role that may decide ``proposal`` (the policy's level for its outcome,
    the county for a township officer's own proposal)."""
    proposer = cw.session.get(User, proposal.proposed_by)
    role = proposer.role if proposer is not None else "county_officer"
    return cw.policy.outcomes.reviewer_role(proposal.outcome, role)


def may_decide(cw: Casework, actor: User, case: Case, proposal: Proposal | None = None) -> bool:
    """A reviewer at the policy's level or above, whose scope covers the case, who is not
    the proposer (nobody decides their own proposal)."""
    proposal = proposal or pending_proposal(cw, case)
    if proposal is None or proposal.status != "pending" or proposal.proposed_by == actor.id:
        return False
    return (
        actor.active
        and actor.role in states.ACTION_ROLES["decide_outcome"]
        and states.ROLE_RANK[actor.role] >= states.ROLE_RANK[required_reviewer(cw, proposal)]
        and case.state in states.TRANSITIONS["decide_outcome"].sources
        and can_see_case(cw.session, actor, case)
    )

