"""``/review``: the proposals waiting for this user's decision (销号 and the other closing
outcomes), each shown with its evidence before Approve / Reject; Approve asks once more,
saying what will happen. Who may decide is casework's rule (``outcomes.load_review``)."""

from __future__ import annotations

from casework import cases, codes, outcomes
from casework.callbacks import Approve, Reject, ReviewEvidence
from casework.i18n import Text, _
from casework.labels import join
from casework.notices import case_title, case_titles
from conversations import engine
from conversations.formatting import fmt_date
from conversations.replies import Button
from models.tables import User

MAX_LISTED = 20


def list_queue(turn: engine.Turn) -> None:
    from handlers import verification

    queue = cases.review_queue(turn.cw, turn.user)
    verifications = verification.waiting(turn)
    if not queue:
        if verifications:
            verification.review_lines(turn)
        else:
            turn.replies.send(_("Nothing is waiting for your review."))
        return
    titles = case_titles(turn.cw, [case for _p, case in queue[:MAX_LISTED]])
    lines = [turn.t(_("Waiting for your review, oldest first:"))]
    buttons: list[list[Button]] = []
    for proposal, case in queue[:MAX_LISTED]:
        lines.append(turn.t(_("{title}: {outcome}", title=titles[case.id or 0],
                              outcome=codes.label("outcome", proposal.outcome))))
        buttons.append([Button(_("🔎 #{id} {outcome}", id=case.id, outcome=codes.label("outcome", proposal.outcome)),
                               ReviewEvidence(proposal.id or 0).encode())])
    if len(queue) > MAX_LISTED:
        lines.append(turn.t(_("…and {n} more.", n=len(queue) - MAX_LISTED)))
    turn.replies.send_text("\n".join(lines), buttons)
    if verifications:
        verification.review_lines(turn)


def show(turn: engine.Turn, proposal_id: int) -> None:
    """The proposal, its evidence files, then the decision buttons (after the evidence)."""
    proposal, case = outcomes.load_review(turn.cw, turn.user, proposal_id)
    turn.cw.audit(turn.user, "proposal.review", "case", case.id, proposal_id=proposal.id)
    proposer = turn.cw.session.get(User, proposal.proposed_by)
    lines = [
        turn.t(_("Review: case {title}", title=case_title(turn.cw, case))),
        turn.t(_("Proposed outcome: {outcome}", outcome=codes.label("outcome", proposal.outcome))),
        turn.t(_("Proposed by {name}", name=proposer.display_name if proposer else "—")),
        turn.t(_("Reason: {reason}", reason=proposal.reason or "—")),
    ]
    if proposal.until_on is not None:
        lines.append(turn.t(_("Until: {date}", date=fmt_date(proposal.until_on, turn.lang))))
    files = [item for item in proposal.evidence if item.get("kind") in ("photo", "document")]
    required = outcomes.evidence_kinds(turn.cw, proposal.outcome)
    lines.append(turn.t(_("Evidence required: {kinds}",
                          kinds=join(codes.label("evidence_kind", k) for k in required))))
    lines.append(turn.t(_("{n} file(s) follow.", n=len(files))))
    turn.replies.send_text("\n".join(lines))
    for item in files:
        if not item.get("file_id"):  # listed by name only (seeded demo records)
            turn.replies.send_text(str(item.get("name") or "—"))
            continue
        caption = codes.label("evidence_kind", item.get("evidence_kind", "")) if item.get("evidence_kind") \
            else Text(str(item.get("name") or ""))
        turn.replies.send_file(str(item["kind"]), str(item["file_id"]), caption)
    turn.replies.send(
        _("Approve or reject the proposal for case #{id}?", id=case.id),
        [[Button(_("Approve"), Approve(proposal.id or 0).encode()), Button(_("Reject"), Reject(proposal.id or 0).encode())]],
    )


def ask_approval(turn: engine.Turn, proposal_id: int) -> None:
    """Approve, step one: what will happen, and a button to confirm it."""
    proposal, case = outcomes.load_review(turn.cw, turn.user, proposal_id)
    turn.replies.send(
        outcomes.approval_preview(turn.cw, case, proposal),
        [[Button(_("✅ Yes, approve"), Approve(proposal.id or 0, confirmed=True).encode()),
          Button(_("🔎 Review the evidence"), ReviewEvidence(proposal.id or 0).encode())]],
    )


def approve(turn: engine.Turn, proposal_id: int) -> None:
    out = outcomes.decide_outcome(turn.cw, turn.user, proposal_id, approve=True)
    turn.replies.answer()  # the message says it: no toast saying it too
    turn.replies.send(out.message)
