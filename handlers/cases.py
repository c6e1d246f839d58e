"""``/cases`` and ``/case N``: the user's cases, one case's timeline with personal data
masked, and the actions the user may take on it as buttons."""

from __future__ import annotations

from casework import (
    actions,
    case_views,
    cases,
    codes,
    contact,
    enrolment,
    forms,
    home_teaching,
    states,
)
from casework.callbacks import (
    Acknowledge,
    Assign,
    CaseAction,
    ConfirmCaseAction,
    FormFile,
    OpenCase,
    ReviewEvidence,
)
from casework.case_page import EVENT_LABELS
from casework.clock import from_db
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, join
from casework.ladder import load_case
from casework.notices import case_title
from conversations.engine import Turn
from conversations.formatting import due_phrase, fmt_due, fmt_short, round_text
from conversations.replies import Button
from models.tables import Case, CaseEvent

MAX_LISTED = 30
_OPEN_STATES = frozenset(states.ALL_STATES) - states.FINAL

ACTION_BUTTONS: dict[str, Text] = {
    "acknowledge": _("👌 Acknowledge the alert"),
    "assign": _("👤 Assign to…"),
    "record_visit": _("🏠 Record a visit"),
    "record_home_teaching": _("📚 Record a home-teaching session"),
    "mark_returned": _("✅ Back at school"),
    "enrol": _("🏫 Enrolled at a school"),
    "propose_outcome": _("📄 Propose an outcome"),
    "issue_deadline_notice": _("📨 Issue the deadline notice"),
    "issue_document": _("📨 Issue the paper"),
    "escalate": _("⬆️ Escalate"),
    "pause": _("⏸ Pause"),
    "resume": _("▶️ Resume"),
    "reopen": _("🔁 Reopen"),
    "close_out": _("🗂 Close out (销号)"),
    "hand_over": _("🚚 Hand over to another county"),
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
            turn.t(_("{title} — {state}, {round}, {due}", title=title, state=state,
                     round=round_text(turn.cw, case), due=due_phrase(turn.cw, item.next_due, turn.lang)))
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
    lines += _last_visit(turn, case)
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


def _last_visit(turn: Turn, case: Case) -> list[str]:
    """The last visit in full (表3/表4's columns): what the next visitor needs to know."""
    visit = case_views.last_visit(turn.cw, case)
    if visit is None:
        return []
    t = turn.t
    lines = ["", t(_("Last visit: {date}, {method}, with {people}", date=fmt_short(visit.visit_date, turn.lang),
                     method=codes.label("visit_method", visit.method), people=join(visit.participants or [])))]
    shown: list[tuple[Text, str | Text | None]] = [
        (_("Family situation"), visit.family_situation),
        (_("Guardian's attitude"), codes.label("attitude", visit.guardian_attitude) if visit.guardian_attitude else None),
        (_("Student's attitude"),
         codes.label("student_attitude", visit.student_attitude) if visit.student_attitude else None),
        (_("Measures taken"), visit.measures),
        (_("Result"), codes.label("visit_result", visit.result)),
        (_("Promised return date"), fmt_short(visit.promised_return_on, turn.lang) if visit.promised_return_on else None),
        (_("Next step"), visit.next_step),
    ]
    for label, value in shown:
        if value:
            lines.append(t(_("• {label}: {value}", label=label, value=value)))
    return lines


def _summary_lines(turn: Turn, case: Case) -> list[str]:
    t = turn.t
    student = case_views.student_of(turn.cw, case)
    lines = [
        t(case_title(turn.cw, case)),
        t(_("State: {state}; {round}; next deadline {due}", state=_(STATE_LABELS[case.state]),
            round=round_text(turn.cw, case), due=fmt_due(turn.cw, case, turn.lang))),
    ]
    if case.state == states.HOME_TEACHING:
        lines.append(t(home_teaching.tally_text(home_teaching.tally(turn.cw, case, turn.cw.today()))))
    if case.state == states.PAUSED and case.resume_on is not None:
        lines.append(t(_("Paused until {date}: {reason}", date=fmt_short(case.resume_on, turn.lang),
                         reason=case.pause_reason or "—")))
    if enrolment.is_enrolment_case(turn.cw, case):
        # a child who never enrolled was never absent from a school (表1/表2)
        lines.append(t(_("Never enrolled; household registration: {hukou}; lives at: {address}",
                         hukou=student.hukou_address or "—", address=student.current_address or "—")))
    else:
        lines.append(t(_("Absent since {date}; whereabouts: {where}",
                         date=fmt_short(case.absent_since, turn.lang) if case.absent_since else "—",
                         where=case.whereabouts or "—")))
    lines += [
        t(_("Reasons: {reasons}", reasons=join(codes.label("reason", r) for r in case.reasons) if case.reasons
            else "—")),
    ]
    # masked in the chat (DESIGN §5) except to whoever must reach the family now (audited)
    shown = contact.for_case(turn.cw, turn.user, case, where="case_card")
    lines.append(t(_("ID number: {id}", id=shown.id_number(student.id_number) or "—")))
    for g in case_views.guardians(turn.cw, student):
        lines.append(t(_("Guardian: {name} ({phone})", name=g.name, phone=shown.phone(g.phone) or "—")))
    return lines


# who acted when the scheduler did (an escalation on a deadline)
SYSTEM = _("the system")


def _timeline(turn: Turn, case: Case) -> list[str]:
    lines = []
    for entry in case_views.timeline(turn.cw, case):
        event, actor = entry.event, entry.actor
        label = EVENT_LABELS.get(event.kind, Text(event.kind))
        # a visit is dated by when it happened, not by when it was typed in
        when = entry.visit.visit_date if entry.visit is not None else turn.cw.calendars.local_date(from_db(event.at))
        lines.append(turn.t(_("{day} {what}{detail} — {who}", day=fmt_short(when, turn.lang), what=label,
                              detail=_detail(turn, event, entry), who=actor.display_name if actor else SYSTEM)))
    return lines


def _detail(turn: Turn, event: CaseEvent, entry: case_views.TimelineEntry) -> str:
    """What a timeline line adds to its label: the round and result, the level moved to,
    who was assigned…"""
    visit = entry.visit
    if event.kind == "assigned" and entry.assignee is not None:
        return turn.t(_(" to {name}", name=entry.assignee.display_name))
    if event.kind == "enrolled" and event.data.get("school"):
        return turn.t(_(" ({school})", school=event.data["school"]))
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
