"""``/cases`` and ``/case N``: the user's cases, one case's timeline with personal data
masked, and the actions the user may take on it as buttons."""

from __future__ import annotations

from sqlmodel import col, select

from casework import actions, codes, ladder
from casework.clock import from_db
from casework.deadlines import next_due
from casework.i18n import Text, _
from casework.labels import STATE_LABELS
from casework.notices import case_title
from casework.personal import mask_id, mask_phone
from conversations.engine import Turn
from conversations.formatting import fmt_date, fmt_short
from conversations.replies import Button
from models.tables import Case, CaseEvent, Guardian, Student, User, Visit

MAX_LISTED = 30

ACTION_BUTTONS: dict[str, Text] = {
    "record_visit": _("🏠 Record a visit"),
    "mark_returned": _("✅ Back at school"),
    "propose_outcome": _("📄 Propose an outcome"),
    "issue_deadline_notice": _("📨 Issue the deadline notice"),
    "escalate": _("⬆️ Escalate"),
    "pause": _("⏸ Pause"),
    "resume": _("▶️ Resume"),
    "reopen": _("🔁 Reopen"),
    "close_out": _("🗂 Close out"),
}

EVENT_LABELS: dict[str, Text] = {
    "reported": _("reported"),
    "visit": _("visit recorded"),
    "escalated": _("escalated"),
    "notice_issued": _("deadline notice issued"),
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


def _due_text(turn: Turn, case: Case) -> str:
    due = next_due(turn.cw, case)
    if due is None:
        return "—"
    return fmt_short(turn.cw.calendars.local_date(from_db(due)), turn.lang)


def list_cases(turn: Turn) -> None:
    cases = ladder.cases_for(turn.cw, turn.user)
    open_cases = [c for c in cases if c.state not in ("closed", "transferred", "closed_other")]
    if not open_cases:
        turn.replies.send(_("You have no open cases."))
        return
    lines = [turn.t(_("Your open cases, nearest deadline first:"))]
    rows: list[list[Button]] = []
    for case in open_cases[:MAX_LISTED]:
        title = turn.t(case_title(turn.cw, case))
        state = turn.t(_(STATE_LABELS[case.state]))
        lines.append(
            turn.t(_("{title} — {state}, round {round}, due {due}", title=title, state=state,
                     round=case.current_round, due=_due_text(turn, case)))
        )
        rows.append([Button(Text("#{id}", {"id": case.id}), f"case:{case.id}")])
    if len(open_cases) > MAX_LISTED:
        lines.append(turn.t(_("…and {n} more.", n=len(open_cases) - MAX_LISTED)))
    turn.replies.send_text("\n".join(lines), [rows[i : i + 4] for i in range(0, len(rows), 4)][:8])


def show_case(turn: Turn, case_id: int) -> None:
    case = ladder.view_case(turn.cw, turn.user, case_id)
    student = turn.cw.session.get(Student, case.student_id)
    assert student is not None
    t = turn.t
    lines = [
        t(case_title(turn.cw, case)),
        t(_("State: {state}; round {round}; next deadline {due}", state=_(STATE_LABELS[case.state]),
            round=case.current_round, due=_due_text(turn, case))),
        t(_("Reasons: {reasons}", reasons="、".join(codes.label("reason", r).render(turn.lang) for r in case.reasons) or "—")),
        t(_("ID number: {id}", id=mask_id(student.id_number) or "—")),
    ]
    guardians = turn.cw.session.exec(
        select(Guardian).where(Guardian.student_id == student.id).order_by(col(Guardian.ordinal))
    ).all()
    for g in guardians:
        lines.append(t(_("Guardian: {name} ({phone})", name=g.name, phone=mask_phone(g.phone) or "—")))
    lines.append("")
    lines.append(t(_("Timeline:")))
    events = turn.cw.session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    visits = {v.id: v for v in turn.cw.session.exec(select(Visit).where(Visit.case_id == case.id)).all()}
    for event in events:
        actor = turn.cw.session.get(User, event.actor_id) if event.actor_id else None
        label = EVENT_LABELS.get(event.kind, Text(event.kind))
        detail = ""
        visit = visits.get(event.data.get("visit_id")) if event.kind == "visit" else None
        if visit is not None:
            detail = t(_(" ({method}, {result})", method=codes.label("visit_method", visit.method),
                         result=codes.label("visit_result", visit.result)))
        lines.append(
            f"{fmt_short(turn.cw.calendars.local_date(from_db(event.at)), turn.lang)} "
            f"{t(label)}{detail} — {actor.display_name if actor else t(_('system'))}"
        )
    buttons = [
        Button(ACTION_BUTTONS[a], f"act:{case.id}:{a}") for a in actions.allowed_actions(turn.cw, turn.user, case)
    ]
    turn.replies.send_text("\n".join(lines), [buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def fmt_case_date(turn: Turn, case: Case) -> str:
    return fmt_date(case.created_at, turn.lang)
