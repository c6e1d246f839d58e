"""Closing a case (销号): proposals of an outcome with the evidence the policy names, and
their review by another person at the level the policy names.

Every closing outcome — the child back and staying, home teaching, deferral, transfer,
deceased, moved abroad, over age, other — is a proposal first (:func:`propose_outcome`),
checked for its evidence (``casework.evidence``); the case keeps its state and its clock
until a reviewer who is not the proposer decides it (:func:`decide_outcome`). An approval
applies the outcome through the ladder's transitions; a rejection carries its reason back
to the proposer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import select

from casework import codes, deadlines, ladder, notices, states
from casework.context import Casework
from casework.errors import AccessDenied, IllegalTransition, NotFound, ValidationError
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, role_text
from casework.ladder import Outcome, load_case
from casework.policy import Policy
from models.tables import Case, Proposal, User


def _joint_rounds(cw: Casework, case: Case) -> int:
    joint_levels = set(states.LADDER[states.LADDER.index("township_persuasion") :])
    return sum(1 for v in ladder.visits_of(cw, case) if v.method == "joint_visit" or v.level in joint_levels)


OUTCOME_TO_STATE = {
    "home_teaching": states.HOME_TEACHING,
    "deferred": states.DEFERRED,
    "suspended": states.DEFERRED,
    "transferred": states.TRANSFERRED,
    "deceased": states.CLOSED_OTHER,
    "moved_abroad": states.CLOSED_OTHER,
    "over_age": states.CLOSED_OTHER,
    "other": states.CLOSED_OTHER,
    # 大田 表3's result 辍学: persuasion failed, the child is on the 辍学 ledger (a closing,
    # reviewed like every other); 鸡东's 免予入学 (the expert committee's assessment)
    "dropped_out": states.CLOSED_OTHER,
    "exempted": states.CLOSED_OTHER,
    "retained": states.CLOSED,  # 销号 after the return and the retention check-ins
}
# a case still being persuaded, or placed (home teaching, deferral), may end this way
_PLACEABLE = states.ACTIVE | {states.PAUSED, states.HOME_TEACHING, states.DEFERRED}


def _check_outcome_applies(case: Case, outcome: str) -> None:
    """Closing after a return needs a confirmed check-in; the other outcomes need a case
    that is not back at school (and not already in that outcome)."""
    if outcome == "retained":
        if case.state == states.RETURNED:
            raise IllegalTransition(
                _("Confirm at least one retention check-in before closing case #{id}.", id=case.id)
            )
        ok = case.state == states.RETENTION
    else:
        ok = case.state in _PLACEABLE and case.state != OUTCOME_TO_STATE[outcome]
    if not ok:
        raise IllegalTransition(
            _(
                "Case #{id} is {state}; that cannot be done now.",
                id=case.id,
                state=_(STATE_LABELS[case.state]),
            ),
            action="propose_outcome",
            state=case.state,
        )


def proposable_outcomes(case: Case, policy: Policy) -> list[str]:
    """The outcomes a proposal on this case may name now (those the policy names), in the
    order the bot offers them."""
    order = ("retained", "home_teaching", "deferred", "suspended", "transferred", "dropped_out",
             "exempted", "deceased", "moved_abroad", "over_age", "other")
    named = set(policy.outcomes.named()) | {"suspended"}
    found = []
    for outcome in [o for o in order if o in named]:
        try:
            _check_outcome_applies(case, outcome)
        except IllegalTransition:
            continue
        found.append(outcome)
    return found


def _named(policy: Policy, outcome: str) -> bool:
    try:
        policy.outcomes.rule(outcome)
    except KeyError:
        return False
    return True


def evidence_kinds(cw: Casework, outcome: str) -> list[str]:
    """The kinds of evidence the policy names for an outcome (one file each at least)."""
    return list(cw.policy.outcomes.rule(outcome).evidence)


def propose_outcome(
    cw: Casework,
    actor: User,
    case_id: int,
    outcome: str,
    *,
    reason: str,
    evidence: tuple[dict[str, Any], ...] = (),
    until_on: date | None = None,
) -> Outcome:
    """Propose a closing outcome (销号): back and staying, home teaching, deferral (缓学/
    休学), transfer, deceased, moved abroad, over age or other.

    Every outcome waits for a review by another person at the level the policy names
    (DESIGN §3); until then the case stays where it is and its clock runs. The proposal
    carries the evidence the policy names for the outcome, one file per kind at least.
    """
    from casework import evidence as proof
    from casework import validation

    case = load_case(cw, actor, case_id, "close_out" if outcome == "retained" else "propose_outcome")
    ladder.check_transition(case, "propose_outcome")
    if outcome not in OUTCOME_TO_STATE or not _named(cw.policy, outcome):
        raise ValidationError("outcome", _("“{code}” is not a known choice.", code=outcome))
    _check_outcome_applies(case, outcome)
    reason = proof.meaningful(validation.free_text(reason, field="reason"), field="reason")
    target = OUTCOME_TO_STATE[outcome]
    if not evidence:
        raise ValidationError("evidence", _("Attach the evidence (a photo or document)."))
    proof.check_proposal(evidence_kinds(cw, outcome), evidence)
    if target == states.DEFERRED:
        if until_on is None or until_on <= cw.today():
            raise ValidationError("until_on", _("Give the date the deferral ends."))
        needed = cw.policy.outcomes.deferral_min_joint_rounds
        done = _joint_rounds(cw, case)
        if done < needed:
            raise IllegalTransition(
                _(
                    "Deferral needs at least {needed} joint persuasion rounds; {done} recorded.",
                    needed=needed,
                    done=done,
                )
            )
    pending = cw.session.exec(
        select(Proposal).where(Proposal.case_id == case.id, Proposal.status == "pending")
    ).first()
    if pending is not None:
        raise IllegalTransition(
            _("Case #{id} already has a proposal waiting for a decision.", id=case.id)
        )
    proposal = Proposal(
        case_id=case.id or 0,
        outcome=outcome,
        proposed_by=actor.id or 0,
        proposed_at=cw.now_db(),
        reason=reason,
        evidence=list(evidence),
        until_on=until_on,
    )
    cw.session.add(proposal)
    cw.session.flush()
    event = ladder.record_event(
        cw,
        case,
        actor,
        "outcome_proposed",
        from_state=case.state,
        note=reason,
        evidence=evidence,
        outcome=outcome,
        proposal_id=proposal.id,
    )
    cw.audit(actor, "case.propose", "case", case.id, outcome=outcome)
    told = notices.approval_requested(cw, case, proposal)
    ladder.touch(cw, case)
    return Outcome(
        case,
        event,
        _("Proposal sent for approval ({outcome}).", outcome=codes.label("outcome", outcome)),
        [],
        told,
        proposal=proposal,
    )


def load_review(cw: Casework, actor: User, proposal_id: int) -> tuple[Proposal, Case]:
    """A proposal the actor may decide now, with its case; anything else is refused
    (and a refusal of access audited) before the evidence is shown."""
    from casework import actions

    proposal = cw.session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(_("There is no such proposal."))
    case = load_case(cw, actor, proposal.case_id, "decide_outcome")
    if proposal.status != "pending":
        raise IllegalTransition(_("This proposal was already decided."))
    check_reviewer(cw, actor, proposal.proposed_by, actions.required_reviewer(cw, proposal),
                   action="decide_outcome", object_type="case", object_id=case.id)
    return proposal, case


def check_reviewer(cw: Casework, actor: User, proposer_id: int | None, reviewer: str, *, action: str,
                   object_type: str, object_id: int | None) -> None:
    """The second person of every review (销号, a verification's disposition): never the
    proposer, and at ``reviewer``'s rank or above (or of the body ``reviewer`` names); a
    refusal is audited."""
    if proposer_id == actor.id:
        raise AccessDenied(
            _("You made this proposal; another person must review it."),
            actor_id=actor.id,
            action=action,
            object_type=object_type,
            object_id=object_id,
        )
    from casework import actions

    if not actions.may_review(cw, actor, reviewer):
        raise AccessDenied(
            _("Only a {role} or above can decide this.", role=role_text(reviewer)),
            actor_id=actor.id,
            action=action,
            object_type=object_type,
            object_id=object_id,
        )


def decide_outcome(
    cw: Casework, actor: User, proposal_id: int, approve: bool, note: str | None = None
) -> Outcome:
    """The reviewer approves (the outcome takes effect) or rejects with a reason (the case
    goes on where it was, and the proposer reads why)."""
    from casework import evidence as proof

    proposal, case = load_review(cw, actor, proposal_id)
    note = note.strip() if note else None
    if not approve:
        if not note:
            raise ValidationError("note", _("Give a reason for the rejection."))
        proof.meaningful(note, field="note")
    ladder.check_transition(case, "decide_outcome")
    if approve:
        _check_outcome_applies(case, proposal.outcome)
    proposal.decided_by = actor.id
    proposal.decided_at = cw.now_db()
    proposal.decision_note = note
    cw.audit(actor, "case.decide", "case", case.id, proposal_id=proposal.id, approve=approve)
    if approve:
        proposal.status = "approved"
        return _apply_outcome(cw, case, proposal, actor, approved_by=actor)
    proposal.status = "rejected"
    cw.session.add(proposal)
    ladder.touch(cw, case)
    event = ladder.record_event(
        cw, case, actor, "outcome_rejected", from_state=case.state, note=note, proposal_id=proposal.id
    )
    told = notices.decision(cw, case, proposal, approved=False)
    return Outcome(case, event, _("Proposal rejected."), [], told, proposal=proposal)


def approval_preview(cw: Casework, case: Case, proposal: Proposal) -> Text:
    """What approving will do, said before the reviewer confirms."""
    target = OUTCOME_TO_STATE[proposal.outcome]
    if target in states.FINAL:
        return _(
            "Approving closes case #{id} ({outcome}): it leaves the open list and its deadlines "
            "stop.",
            id=case.id,
            outcome=codes.label("outcome", proposal.outcome),
        )
    return _(
        "Approving puts case #{id} into {state}: the persuasion deadlines stop and the "
        "follow-ups of {state} begin.",
        id=case.id,
        state=_(STATE_LABELS[target]),
    )


def _apply_outcome(
    cw: Casework, case: Case, proposal: Proposal, actor: User, approved_by: User
) -> Outcome:
    from_state = case.state
    deadlines.cancel_open(cw, case)
    target = OUTCOME_TO_STATE[proposal.outcome]
    if case.state == states.PAUSED and case.paused_from:
        case.level = case.paused_from
        case.paused_from = None
    case.state = target
    if proposal.outcome != "retained":  # a close-out keeps "returned" as what happened
        case.outcome = proposal.outcome
        case.outcome_note = proposal.reason
        case.outcome_until = proposal.until_on
    if target in states.FINAL:
        case.closed_at = cw.now_db()
    cw.session.add(proposal)
    ladder.touch(cw, case)
    made = deadlines.schedule_outcome(cw, case)
    event = ladder.record_event(
        cw,
        case,
        actor,
        "closed" if proposal.outcome == "retained" else "outcome",
        from_state=from_state,
        note=proposal.reason,
        evidence=proposal.evidence,
        outcome=proposal.outcome,
        proposal_id=proposal.id,
        approved_by=approved_by.id,
        proposed_by=proposal.proposed_by,
    )
    told = notices.decision(cw, case, proposal, approved=True)
    message = (
        _("Case #{id} closed out.", id=case.id)
        if proposal.outcome == "retained"
        else _("Case #{id} is now {state}.", id=case.id, state=_(STATE_LABELS[case.state]))
    )
    return Outcome(case, event, message, made, told, proposal=proposal)




def close_out(
    cw: Casework,
    actor: User,
    case_id: int,
    note: str | None = None,
    evidence: tuple[dict[str, Any], ...] = (),
) -> Outcome:
    """Propose 销号 for a child back and staying at school: the case is closed only when a
    reviewer approves the proposal with its evidence (a photo of the child in class)."""
    case = load_case(cw, actor, case_id, "close_out")
    ladder.check_transition(case, "close_out")
    return propose_outcome(cw, actor, case_id, "retained", reason=note or "", evidence=evidence)


