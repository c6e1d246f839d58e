"""``/cases`` and ``/case N``: the user's cases, one case's timeline with personal data
masked, and the actions the user may take on it as buttons."""

from __future__ import annotations

from casework import actions, case_views, cases, codes, forms, states
from casework.callbacks import (
    Acknowledge,
    Assign,
    CaseAction,
    ConfirmCaseAction,
    FormFile,
    OpenCase,
    ReviewEvidence,
)
from casework.clock import from_db
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, join
from casework.ladder import load_case
from casework.notices import case_title
from casework.personal import mask_id, mask_phone
from conversations.engine import Turn
from conversations.formatting import fmt_due, fmt_due_at, fmt_short, round_text
from conversations.replies import Button
from models.tables import Case, CaseEvent, Visit

MAX_LISTED = 30
_OPEN_STATES = frozenset(states.ALL_STATES) - states.FINAL

ACTION_BUTTONS: dict[str, Text] = {
    "acknowledge": _("👌 Acknowledge the alert"),
    "assign": _("👤 Assign to…"),
    "record_visit": _("🏠 Record a visit"),
    "mark_returned": _("✅ Back at school"),
    "propose_outcome": _("📄 Propose an outcome"),
    "issue_deadline_notice": _("📨 Issue the deadline notice"),
    "issue_document": _("📨 Issue the paper"),
    "escalate": _("⬆️ Escalate"),
    "pause": _("⏸ Pause"),
    "resume": _("▶️ Resume"),
    "reopen": _("🔁 Reopen"),
    "close_out": _("🗂 Close out (销号)"),
}

EVENT_LABELS: dict[str, Text] = {
    "reported": _("reported"),
    "visit": _("visit recorded"),
    "escalated": _("escalated"),
    "notice_issued": _("deadline notice issued"),
    "document_issued": _("paper issued"),
    "returned": _("back at school"),
    "attending": _("still attending"),
    "relapsed": _("absent again"),
    "outcome_proposed": _("outcome proposed"),
    "outcome_rejected": _("proposal rejected"),
    "outcome": _("outcome decided"),
    "paused": _("paused"),
    "resumed": _("resumed"),
    "reopened": _("reopened"),
    "closed": _("closed out"),
    "acknowledged": _("alert acknowledged"),
    "assigned": _("assigned"),
}


def list_cases(turn: Turn) -> None:
    # closed cases pile up over the years: not read at all; the page shown is audited
    page = cases.cases_page(turn.cw, turn.user, states_in=_OPEN_STATES, limit=MAX_LISTED)
    if not page.items:
        turn.replies.send(_("You have no open cases."))
        return
    lines = [turn.t(_("Your open cases, nearest deadline first:"))]
    buttons: list[Button] = []
    for item in page.items:
        case = item.case
        title = turn.t(item.title)
        state = turn.t(_(STATE_LABELS[case.state]))
        lines.append(
            turn.t(_("{title} — {state}, {round}, due {due}", title=title, state=state,
                     round=round_text(turn.cw, case), due=fmt_due_at(turn.cw, item.next_due, turn.lang)))
        )
        buttons.append(Button(Text("#{id}", {"id": case.id}), OpenCase(case.id or 0).encode()))
    if page.total > MAX_LISTED:
        lines.append(turn.t(_("…and {n} more.", n=page.total - MAX_LISTED)))
    # four case buttons a row
    turn.replies.send_text("\n".join(lines), [buttons[i : i + 4] for i in range(0, len(buttons), 4)])


def show_case(turn: Turn, case_id: int) -> None:
    """One case: where it stands, the child with ID and phone numbers masked, the timeline,
    and the actions this user may take on it as buttons."""
    case = cases.view_case(turn.cw, turn.user, case_id)
    lines = _summary_lines(turn, case) + ["", turn.t(_("Timeline:"))] + _timeline(turn, case)
    buttons = [Button(_action_label(turn, case, a), _action_data(case.id or 0, a))
               for a in actions.allowed_actions(turn.cw, turn.user, case)]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    # the case's documents, as /forms N would list them
    docs = [Button(_(forms.FORM_LABELS[f]), FormFile(case.id or 0, f).encode()) for f in forms.available(turn.cw, case)]
    rows += [[b] for b in docs]
    proposal = actions.pending_proposal(turn.cw, case)
    if proposal is not None:
        lines.append("")
        lines.append(turn.t(_("Waiting for approval: {outcome}. Reason: {reason}",
                              outcome=codes.label("outcome", proposal.outcome), reason=proposal.reason or "—")))
        if actions.may_decide(turn.cw, turn.user, case, proposal):
            rows.insert(0, [Button(_("🔎 Review the evidence"), ReviewEvidence(proposal.id or 0).encode())])
    turn.replies.send_text("\n".join(lines), rows)


def _action_label(turn: Turn, case: Case, action: str) -> Text:
    """The button's words; a paper is named as the county's seed names it."""
    policy = turn.cw.policy
    level = None
    if action == "issue_deadline_notice":
        level = policy.level("deadline_notice")
    elif action == "issue_document":
        level = policy.level(case.level)  # type: ignore[arg-type]
    if level is not None and level.document is not None:
        return _("📨 Issue: {document}", document=level.document.title())
    return ACTION_BUTTONS[action]


def ask_confirmation(turn: Turn, case_id: int, action: str) -> None:
    """An escalation or the legal notice, before it is done: the level the case moves to,
    who is told, the guardian's deadline; ✅ does it, ✖ goes back to the case."""
    case = load_case(turn.cw, turn.user, case_id, action)  # refused (and audited) if not theirs
    seen = actions.preview(turn.cw, turn.user, case, action)
    if seen is None:
        turn.replies.send(_("That action is not available on case #{id} now.", id=case_id))
        return
    told = join(seen.told) if seen.told else _("nobody else")
    title = case_title(turn.cw, case)
    if action == "escalate":
        lines = [_("Escalate {title}?", title=title),
                 _("It moves up from {old} to {new}.", old=_(STATE_LABELS[case.state]),
                   new=_(STATE_LABELS[seen.to_state])),
                 _("To be told: {names}.", names=told)]
        if seen.requires_ack:
            lines.append(_("They are asked to acknowledge it."))
        confirm = _("✅ Escalate")
    else:
        due = fmt_short(seen.guardian_due, turn.lang) if seen.guardian_due else "—"
        lines = [_("Issue the deadline notice (限期复学通知书) for {title}?", title=title),
                 _("The guardian must bring the child back by {date}.", date=due),
                 _("To be told: {names}.", names=told)]
        confirm = _("✅ Issue the notice")
    lines.append(_("This cannot be undone."))
    turn.replies.send_text("\n".join(turn.t(line) for line in lines), [[
        Button(confirm, ConfirmCaseAction(case_id, action).encode()),
        Button(_("✖ Cancel"), OpenCase(case_id).encode())]])


def _action_data(case_id: int, action: str) -> str:
    # acknowledge and assign keep the alert message's own buttons, so both answer alike
    if action == "acknowledge":
        return Acknowledge(case_id).encode()
    if action == "assign":
        return Assign(case_id).encode()
    return CaseAction(case_id, action).encode()


def _summary_lines(turn: Turn, case: Case) -> list[str]:
    t = turn.t
    student = case_views.student_of(turn.cw, case)
    lines = [
        t(case_title(turn.cw, case)),
        t(_("State: {state}; {round}; next deadline {due}", state=_(STATE_LABELS[case.state]),
            round=round_text(turn.cw, case), due=fmt_due(turn.cw, case, turn.lang))),
    ]
    if case.state == states.PAUSED and case.resume_on is not None:
        lines.append(t(_("Paused until {date}: {reason}", date=fmt_short(case.resume_on, turn.lang),
                         reason=case.pause_reason or "—")))
    lines += [
        t(_("Absent since {date}; whereabouts: {where}",
            date=fmt_short(case.absent_since, turn.lang) if case.absent_since else "—",
            where=case.whereabouts or "—")),
        t(_("Reasons: {reasons}", reasons=join(codes.label("reason", r) for r in case.reasons) if case.reasons
            else "—")),
        # personal data is masked in the chat (DESIGN §5); the full numbers stay in the ledger
        t(_("ID number: {id}", id=mask_id(student.id_number) or "—")),
    ]
    for g in case_views.guardians(turn.cw, student):
        lines.append(t(_("Guardian: {name} ({phone})", name=g.name, phone=mask_phone(g.phone) or "—")))
    return lines


def _timeline(turn: Turn, case: Case) -> list[str]:
    lines = []
    for entry in case_views.timeline(turn.cw, case):
        event, actor = entry.event, entry.actor
        label = EVENT_LABELS.get(event.kind, Text(event.kind))
        day = fmt_short(turn.cw.calendars.local_date(from_db(event.at)), turn.lang)
        lines.append(
            f"{day} {turn.t(label)}{_detail(turn, event, entry.visit)} — "
            f"{actor.display_name if actor else turn.t(_('system'))}"
        )
    return lines


def _detail(turn: Turn, event: CaseEvent, visit: Visit | None) -> str:
    """What a timeline line adds to its label: the round and result, the level moved to…"""
    if visit is not None:
        return turn.t(_(" (round {round}: {method}, {result})", round=visit.round,
                        method=codes.label("visit_method", visit.method),
                        result=codes.label("visit_result", visit.result)))
    if event.kind in ("escalated", "resumed", "reopened") and event.to_state:
        return turn.t(_(" → {state}", state=_(STATE_LABELS[event.to_state])))
    if event.kind in ("outcome_proposed", "outcome", "outcome_rejected") and event.data.get("outcome"):
        return turn.t(_(" ({outcome})", outcome=codes.label("outcome", event.data["outcome"])))
    if event.kind == "paused" and event.note:
        return turn.t(_(" ({reason})", reason=event.note))
    return ""
