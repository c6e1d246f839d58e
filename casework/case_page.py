"""One case as the console shows it: everything read in one unit of work, scope-checked and
audited by ``cases.view_case``; personal numbers masked unless the reader asked to see them
(:func:`case_page` with ``disclose``), which is audited on its own and shows in full only what
the reader's role may read (``casework.disclosure``).

The actions offered are ``actions.allowed_actions`` (the same answer the bot's buttons come
from); the console runs them through the same ``ladder``/``outcomes`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from casework import actions, case_views, cases, codes, forms
from casework.clock import from_db
from casework.context import Casework
from casework.disclosure import Disclosure
from casework.i18n import Text, _
from casework.labels import STATE_LABELS
from casework.ladder import visits_of
from casework.notices import case_title
from casework.people import user_unit_label
from casework.scope import users_for_case
from models.tables import Case, Deadline, Guardian, Proposal, Student, User, Visit

# what each event of a case's history is called, in the chat's case card and the console
EVENT_LABELS: dict[str, Text] = {
    "reported": _("reported"),
    "visit": _("visit recorded"),
    "escalated": _("escalated"),
    "notice_issued": _("deadline notice issued"),
    "notice_delivered": _("notice delivered to the guardian"),
    "not_back": _("not back on the set day"),
    "document_issued": _("paper issued"),
    "returned": _("back at school"),
    "enrolled": _("enrolled at a school"),
    "home_teaching_session": _("home-teaching session"),
    "attending": _("still attending"),
    "relapsed": _("absent again"),
    "outcome_proposed": _("outcome proposed"),
    "outcome_rejected": _("proposal rejected"),
    "outcome": _("outcome decided"),
    "paused": _("paused"),
    "resumed": _("resumed"),
    "reopened": _("reopened"),
    "closed": _("closed out"),
    "acknowledged": _("acknowledged the alert"),
    "assigned": _("assigned"),
    "handover_offered": _("offered to another county"),
    "handover_exported": _("exported to another county's system"),
    "handover_rejected": _("hand-over not accepted"),
    "handed_over": _("handed over to another county"),
    "visit_imported": _("visit (recorded in the other county)"),
}

# what each deadline a case page lists is (reminders are the scheduler's, not listed)
DEADLINE_LABELS: dict[str, Text] = {
    "step": _("deadline of this level"),
    "round": _("next persuasion round due"),
    "ack": _("alert to be acknowledged"),
    "promise": _("promised return date"),
    "retention": _("retention check"),
    "resume": _("resumes"),
    "deferral_end": _("end of deferral"),
    "home_teaching": _("home teaching session due"),
}

# the actions the console offers on a case page (recording a visit and proposing an outcome
# take photos and voice notes from a phone: those stay in the bot)
CONSOLE_ACTIONS = ("acknowledge", "assign", "escalate", "issue_deadline_notice", "pause", "resume")


@dataclass(frozen=True)
class Responsible:
    line: str  # education | administrative | assigned
    user: User
    unit: str


@dataclass(frozen=True)
class Event:
    at: datetime
    label: Text
    note: str | None
    to_state: str | None
    actor: str | None


@dataclass
class CasePage:
    case: Case
    title: Text
    state: Text
    student: Student
    id_number: str | None
    guardians: list[tuple[Guardian, str | None]]  # (guardian, phone as shown)
    disclosed: bool
    timeline: list[Event]
    visits: list[Visit]
    deadlines: list[Deadline]
    responsible: list[Responsible]
    actions: list[str]
    assignees: list[User]
    proposal: Proposal | None
    may_decide: bool
    documents: list[tuple[str, Text]]
    reasons: list[Text]


def _people_in_charge(cw: Casework, case: Case) -> list[Responsible]:
    out: list[Responsible] = []
    seen: set[tuple[str, int | None]] = set()
    named = (("education", case.school_responsible_id), ("administrative", case.village_responsible_id),
             ("assigned", case.assigned_to_id))
    for line, user_id in named:
        user = cw.session.get(User, user_id) if user_id else None
        if user is not None and (line, user.id) not in seen:
            seen.add((line, user.id))
            out.append(Responsible(line, user, user_unit_label(cw.session, user)))
    # the officers of both lines who see the case (school admin; township and county officers)
    for line, roles in (("education", ("teacher", "school_admin")),
                        ("administrative", ("village_cadre", "township_officer", "county_officer"))):
        for user in users_for_case(cw.session, case, roles):
            if (line, user.id) not in seen and not any(r.user.id == user.id for r in out):
                seen.add((line, user.id))
                out.append(Responsible(line, user, user_unit_label(cw.session, user)))
    return out


def case_page(cw: Casework, actor: User, case_id: int, *, disclose: bool = False) -> CasePage:
    case = cases.view_case(cw, actor, case_id)  # scope-checked; audited (and a refusal too)
    student = case_views.student_of(cw, case)
    disclosure = Disclosure.for_role(actor.role) if disclose else Disclosure.masked()
    if disclose:
        cw.audit(actor, "case.disclose", "case", case.id, disclosure=disclosure.code)
    proposal = actions.pending_proposal(cw, case)
    allowed = actions.allowed_actions(cw, actor, case)
    events = [
        Event(from_db(e.event.at), EVENT_LABELS.get(e.event.kind, Text(e.event.kind)), e.event.note,
              e.event.to_state, e.actor.display_name if e.actor else None)
        for e in case_views.timeline(cw, case)
    ]
    return CasePage(
        case=case,
        title=case_title(cw, case),
        state=_(STATE_LABELS[case.state]),
        student=student,
        id_number=disclosure.id_number(student.id_number),
        guardians=[(g, disclosure.phone(g.phone)) for g in case_views.guardians(cw, student)],
        disclosed=disclose,
        timeline=events,
        visits=visits_of(cw, case),
        deadlines=list(cw.session.exec(
            select(Deadline).where(Deadline.case_id == case.id, Deadline.status == "open",
                                   col(Deadline.kind).in_(list(DEADLINE_LABELS)))
            .order_by(col(Deadline.due_at))).all()),
        responsible=_people_in_charge(cw, case),
        actions=[a for a in allowed if a in CONSOLE_ACTIONS],
        assignees=case_views.assignees(cw, case) if "assign" in allowed else [],
        proposal=proposal,
        may_decide=actions.may_decide(cw, actor, case, proposal) if proposal else False,
        documents=[(f, _(forms.FORM_LABELS[f])) for f in forms.available(cw, case)],
        reasons=[codes.label("reason", r) for r in case.reasons],
    )


def evidence_file_ids(cw: Casework, actor: User, case_id: int) -> set[str]:
    """The Telegram file ids of a case's evidence (visits, proposals, events): the only
    files the console fetches for this reader, after the same scope check as the page."""
    case = cases.view_case(cw, actor, case_id)
    found: set[str] = set()

    def take(items: list[dict[str, Any]]) -> None:
        found.update(str(i["file_id"]) for i in items if i.get("file_id"))

    for visit in visits_of(cw, case):
        take(visit.evidence)
    for proposal in cw.session.exec(select(Proposal).where(Proposal.case_id == case.id)).all():
        take(proposal.evidence)
    return found

