"""Which actions a user may take on a case now: the transition table, the role table and
scope, in one answer the adapters turn into buttons (so no handler repeats the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import select

from casework import bodies, papers, states
from casework.case_views import awaiting_enrolment
from casework.context import Casework
from casework.scope import can_see_case
from models.tables import Case, County, Deadline, Handover, Proposal, User

# one tap that cannot be undone: shown with what it will do, and done only on a second tap
CONFIRMED = frozenset({"escalate", "issue_deadline_notice"})

# the order buttons appear in
OFFERED = (
    "acknowledge",
    "record_visit",
    "record_home_teaching",
    "assign",
    "mark_returned",
    "enrol",
    "propose_outcome",
    "issue_deadline_notice",
    "issue_document",
    "escalate",
    "pause",
    "resume",
    "reopen",
    "close_out",
    "hand_over",
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
            may_acknowledge(actor, a) for a in _open_acks(cw, case)
        ):
            continue
        # a deferred case is visited only where the profile's persuasion goes on during it
        if action == "record_visit" and case.state not in states.visit_states(cw.policy.deferral.persuasion):
            continue
        if action == "escalate" and cw.policy.next_level(case.level) is None:  # type: ignore[arg-type]
            continue
        if action == "issue_deadline_notice" and (
            not papers.may_issue_notice(cw, actor, case)
            or (case.state == "deadline_notice" and case.notice_issued_at is not None)
        ):
            continue
        # a child who never had a school is enrolled, not "back"; an enrolled one is back
        if action in ("mark_returned", "enrol") and (action == "enrol") != awaiting_enrolment(cw, case):
            continue
        if action == "issue_document" and not _may_issue_document(cw, actor, case):
            continue
        if action == "close_out" and case.state == states.RETURNED:
            continue
        # one proposal at a time: offering a second only leads to a refusal at Confirm
        if action in ("propose_outcome", "close_out") and pending_proposal(cw, case) is not None:
            continue
        # back at school, the only outcome is 销号, offered as its own button
        if action == "propose_outcome" and case.state in (states.RETURNED, states.RETENTION):
            continue
        # only where there is another county to hand over to, and one offer at a time
        if action == "hand_over" and not _may_hand_over(cw, case):
            continue
        allowed.append(action)
    return allowed


def _may_hand_over(cw: Casework, case: Case) -> bool:
    other = cw.session.exec(select(County.id).where(County.id != case.county_id)).first()
    waiting = cw.session.exec(select(Handover.id).where(
        Handover.case_id == case.id, Handover.status == "pending")).first()
    return other is not None and waiting is None


def _may_issue_document(cw: Casework, actor: User, case: Case) -> bool:
    """The level's paper (not the notice), by the level's responsible, not yet on file."""
    if case.state not in states.ACTIVE:
        return False
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    document = level.document
    if document is None or document.kind == "deadline_notice":
        return False
    return bodies.acts_for(cw.policy, actor, level.responsible) and (
        document.kind not in papers.documents_on_file(cw, case)
    )


def may_acknowledge(actor: User, ack: Deadline) -> bool:
    """The alert went to ``ack``'s roles: one of them, or an officer above them, takes it."""
    roles = [r for r in ack.payload.get("roles", []) if r in states.ROLE_RANK]
    if not roles or actor.role in roles:
        return True
    return states.ROLE_RANK[actor.role] >= max(states.ROLE_RANK[r] for r in roles)


def _open_acks(cw: Casework, case: Case) -> list[Deadline]:
    # read here, not through casework.deadlines, which imports back into this module
    return list(cw.session.exec(select(Deadline).where(
        Deadline.case_id == case.id, Deadline.status == "open", Deadline.kind == "ack")).all())


def pending_proposal(cw: Casework, case: Case) -> Proposal | None:
    return cw.session.exec(
        select(Proposal).where(Proposal.case_id == case.id, Proposal.status == "pending")
    ).first()


def may_review(cw: Casework, actor: User, reviewer: str) -> bool:
    """A body's proposals are decided by its people; a role's by that role or above."""
    if bodies.is_body(reviewer):
        return bodies.fits(cw.policy, actor, reviewer)
    return states.ROLE_RANK[actor.role] >= states.ROLE_RANK[reviewer]


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
        and may_review(cw, actor, required_reviewer(cw, proposal))
        and case.state in states.TRANSITIONS["decide_outcome"].sources
        and can_see_case(cw.session, actor, case)
    )



@dataclass(frozen=True)
class Preview:
    """What an irreversible action will do, said before it is done: the level the case
    moves to, who is told, and (for the notice) the guardian's deadline from the profile."""

    action: str
    to_state: str
    told: list[str]
    guardian_due: date | None = None
    requires_ack: bool = False


def preview(cw: Casework, actor: User, case: Case, action: str) -> Preview | None:
    """``None`` when ``action`` is not one this user may take on the case now."""
    if action not in CONFIRMED or action not in allowed_actions(cw, actor, case):
        return None
    if action == "escalate":
        level = cw.policy.next_level(case.level)  # type: ignore[arg-type]
        assert level is not None  # allowed_actions offers no escalation at the top
    else:
        level = cw.policy.level("deadline_notice")
    told = [u.display_name for u in bodies.people(cw, case, level.notify) if u.id != actor.id]
    due = None
    if action == "issue_deadline_notice" and level.deadline is not None:
        due = cw.calendars.due_at(cw.now(), level.deadline).astimezone(cw.policy.tz).date()
    return Preview(action, level.state, told, due, level.requires_ack and action == "escalate")
