"""The official per-child forms: which ones a case has, and what goes into them.

Seed 000 attaches 表2 (组织入学记录表, township, for a child who never enrolled), 表3
(疑似辍学学生劝返情况记录表, township), 表4 (学校疑似辍学学生情况记录表, school), 表5
(疑似辍学学生报告单, the school's written report to the township, with its stub) and 表6
(缓学申请表); seed 002 the 辍学学生登记表, kept per child (一生一表) with the whole
persuasion record; seeds 000/001 the 限期复学通知书 the township issues, and seed 004 the
劝返复学通知书 the school issues. A form becomes available when the ladder gets there:

- ``register`` (一生一表): always.
- ``school_record`` (表4): an enrolled child.
- ``township_record`` (表3, or 表2 for a child who never enrolled): once the case has
  reached a level the township answers for, or it is a never-enrolled child's case.
- ``report`` (表5): an enrolled child whose case reached the township.
- ``notice``: once the case reached ``deadline_notice``; titled by who issues it under
  the policy (the school: 劝返复学通知书; otherwise the township: 限期复学通知书), with
  the deadline date the policy computed when it was issued.
- ``deferral`` (表6): once a deferral or suspension (缓学/休学) was proposed.

This module returns plain data (codes, dates, the numbers as ``Disclosure`` allows the
reader); ``documents.forms`` lays it out as DOCX and PDF. Every document made is an
audited view of the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from sqlmodel import col, select

from casework import states
from casework.clock import from_db
from casework.context import Casework
from casework.disclosure import Disclosure
from casework.errors import IllegalTransition
from casework.i18n import N_, _
from casework.ladder import load_case
from casework.notices import attachment_for_level as attachment_for_level  # where it used to be
from casework.validation import age_on
from models.tables import (
    Case,
    CaseEvent,
    County,
    Deadline,
    Guardian,
    Proposal,
    School,
    SchoolClass,
    Student,
    Township,
    User,
    Village,
    Visit,
)

FORMS = ("register", "school_record", "township_record", "report", "notice", "deferral")

# what the bot's buttons and captions call each form (the documents carry the official title)
FORM_LABELS: dict[str, str] = {
    "register": N_("Registration sheet with the full record (一生一表)"),
    "school_record": N_("School persuasion record (表4)"),
    "township_record": N_("Township persuasion record (表3)"),
    "report": N_("Written report to the township (表5)"),
    "notice": N_("Return-to-school notice"),
    "deferral": N_("Deferral application (表6)"),
}

SCHOOL_LEVELS = frozenset({"suspected", "school_persuasion"})
TOWNSHIP_LEVELS = frozenset(states.LADDER) - SCHOOL_LEVELS
DEFERRAL_OUTCOMES = ("deferred", "suspended")


@dataclass(frozen=True)
class GuardianInfo:
    name: str
    relation: str  # a code of casework.relations, or the word as registered
    phone: str | None  # as Disclosure allows


@dataclass(frozen=True)
class ChildInfo:
    name: str
    gender: str
    birth_date: date
    age: int
    ethnicity: str | None
    health: str | None
    id_number: str | None
    student_number: str | None
    enrolled: bool
    county: str
    township: str
    village: str
    school: str
    grade: int | None
    section: int | None
    hukou_address: str | None
    register_address: str | None
    current_address: str | None
    key_groups: tuple[str, ...]
    guardians: tuple[GuardianInfo, ...]


@dataclass(frozen=True)
class VisitInfo:
    round: int
    level: str
    visit_date: date
    method: str
    participants: tuple[str, ...]
    family_situation: str | None
    guardian_attitude: str | None
    guardian_attitude_note: str | None
    student_attitude: str | None
    student_attitude_note: str | None
    measures: str | None
    result: str
    promised_return_on: date | None
    next_step: str | None
    recorded_by: str


@dataclass(frozen=True)
class NoticeInfo:
    issuer: str  # "school" (劝返复学通知书) or "township" (限期复学通知书)
    issuer_name: str
    issued_on: date | None
    due_on: date | None


@dataclass(frozen=True)
class DeferralInfo:
    outcome: str  # deferred | suspended
    reason: str | None
    proposed_on: date
    proposed_by: str
    until_on: date | None
    status: str  # pending | approved | rejected | withdrawn
    decided_on: date | None
    decided_by: str | None
    decision_note: str | None
    proposer_role: str = ""


@dataclass(frozen=True)
class EventInfo:
    """A step of the record that is not a visit: a notice issued, a move up the ladder."""

    on: date
    kind: str  # notice_issued | notice_delivered | escalated
    to_state: str | None
    by: str  # who, "" for the scheduler (the deadline passed)
    due_on: date | None = None  # a notice's deadline
    delivered_on: date | None = None  # the day the notice reached the guardian (送达回执)
    # the notice's name as the profile's seed gives it (casework.labels.DOCUMENT_LABELS:
    # 限期复学通知书, lipu's 劝返复学通知书)
    notice: str = "deadline_notice"


# the notice's delivery (casework.notice_delivery) is recorded on its own day, which may
# come after the day it was recorded: the register shows it on the day it was handed over
RECORD_EVENTS = ("notice_issued", "notice_delivered", "escalated")


@dataclass(frozen=True)
class CaseForm:
    """Everything a form of one case may show, read once under one scope check."""

    form: str
    case_id: int
    state: str
    level: str
    child: ChildInfo
    reasons: tuple[str, ...]
    reason_note: str | None
    whereabouts: str | None
    absent_since: date | None
    reported_on: date
    township_reached_on: date | None  # the day the case came to the township (表5's date)
    outcome: str | None
    outcome_note: str | None
    returned_on: date | None
    visits: tuple[VisitInfo, ...]  # the visits this form records, in order
    all_visits: tuple[VisitInfo, ...]
    school_contact: str  # 学校联系人 (the school's responsible person)
    persuaders: tuple[str, ...]  # 劝返责任人
    persuader_phone: str | None  # the first one's, as Disclosure allows
    notice: NoticeInfo | None = None
    deferral: DeferralInfo | None = None
    made_on: date = field(default_factory=date.today)
    policy: str = ""
    events: tuple[EventInfo, ...] = ()  # notices and escalations, in order (the register's record)
    school_contact_phone: str | None = None


def _reached(cw: Casework, case: Case) -> set[str]:
    """The ladder levels a case has stood on (its level now, and every one moved to)."""
    found = {case.level, case.state}
    found |= {
        s
        for s in cw.session.exec(
            select(CaseEvent.to_state).where(CaseEvent.case_id == case.id)
        ).all()
        if s
    }
    return found


def _deferral(cw: Casework, case: Case) -> Proposal | None:
    return cw.session.exec(
        select(Proposal)
        .where(Proposal.case_id == case.id, col(Proposal.outcome).in_(DEFERRAL_OUTCOMES))
        .order_by(col(Proposal.proposed_at).desc(), col(Proposal.id).desc())
    ).first()


def available(cw: Casework, case: Case) -> list[str]:
    """The forms this case has now, in the order of ``FORMS`` (scope is the caller's)."""
    reached = _reached(cw, case)
    # a never-enrolled child's case keeps its 表2 after the enrolment, and never had a 表4
    enrolled = case.school_id is not None and states.ENROLMENT not in reached
    found = ["register"]
    if enrolled:
        found.append("school_record")
    if reached & TOWNSHIP_LEVELS or not enrolled:
        found.append("township_record")
    if enrolled and reached & TOWNSHIP_LEVELS:
        found.append("report")
    if "deadline_notice" in reached and cw.policy.has_level("deadline_notice"):
        found.append("notice")
    if _deferral(cw, case) is not None:
        found.append("deferral")
    return found


def notice_issuer(cw: Casework) -> str:
    """Who issues the notice under this policy: the school (seed 004) or the township."""
    if not cw.policy.has_level("deadline_notice"):
        return "township"
    responsible = cw.policy.level("deadline_notice").responsible
    return "school" if responsible[0] in ("teacher", "school_admin") else "township"


def notice_document(cw: Casework) -> str:
    """The name of the notice this policy's deadline_notice level issues (DOCUMENT_LABELS)."""
    if cw.policy.has_level("deadline_notice"):
        document = cw.policy.level("deadline_notice").document
        if document is not None:
            return document.name
    return "deadline_notice"


def load(
    cw: Casework,
    actor: User | None,
    case_id: int,
    form: str,
    *,
    disclosure: Disclosure | None = None,
) -> CaseForm:
    """The data of ``form`` for a case the actor may see; audited as a view of the case.

    ``actor=None`` is the system (an escalation alert's attachment, the CLI operator);
    then ``disclosure`` says what is shown in full, masked if not given.
    """
    case = load_case(cw, actor, case_id, "view")
    if form not in FORMS or form not in available(cw, case):
        raise IllegalTransition(
            _("That document is not available for case #{id} at this stage.", id=case.id)
        )
    if disclosure is None:
        disclosure = Disclosure.for_role(actor.role) if actor is not None else Disclosure.masked()
    data = _read(cw, case, form, disclosure)
    cw.audit(actor, "case.document", "case", case.id, form=form, disclosure=disclosure.code)
    return data


def _name(cw: Casework, model: type[County | Township | Village | School], key: int | None) -> str:
    row = cw.session.get(model, key) if key is not None else None
    return str(getattr(row, "name", "")) if row is not None else ""


def _local(cw: Casework, when: object) -> date | None:
    if when is None:
        return None
    return cw.calendars.local_date(from_db(when))  # type: ignore[arg-type]


def _read(cw: Casework, case: Case, form: str, disclosure: Disclosure) -> CaseForm:
    session = cw.session
    student = session.get(Student, case.student_id)
    assert student is not None
    klass = session.get(SchoolClass, case.class_id) if case.class_id else None
    village = session.get(Village, case.village_id) if case.village_id else None
    school = session.get(School, case.school_id) if case.school_id else None
    township_id = village.township_id if village else (school.township_id if school else None)
    guardians = session.exec(
        select(Guardian).where(Guardian.student_id == student.id).order_by(col(Guardian.ordinal))
    ).all()
    people: dict[int, User | None] = {}

    def person(uid: int | None) -> str:
        if uid is None:
            return ""
        if uid not in people:
            people[uid] = session.get(User, uid)
        user = people[uid]
        return user.display_name if user else ""

    visits = tuple(
        VisitInfo(
            round=v.round,
            level=v.level,
            visit_date=v.visit_date,
            method=v.method,
            participants=tuple(v.participants or ()),
            family_situation=v.family_situation,
            guardian_attitude=v.guardian_attitude,
            guardian_attitude_note=v.guardian_attitude_note,
            student_attitude=v.student_attitude,
            student_attitude_note=v.student_attitude_note,
            measures=v.measures,
            result=v.result,
            promised_return_on=v.promised_return_on,
            next_step=v.next_step,
            recorded_by=person(v.recorded_by),
        )
        for v in session.exec(
            select(Visit).where(Visit.case_id == case.id).order_by(col(Visit.id))
        ).all()
    )
    never_enrolled = case.school_id is None or states.ENROLMENT in _reached(cw, case)
    if form == "school_record":
        shown = tuple(v for v in visits if v.level in SCHOOL_LEVELS)
    elif form == "township_record":
        shown = tuple(v for v in visits if v.level in TOWNSHIP_LEVELS or never_enrolled)
    else:
        shown = visits
    child = ChildInfo(
        name=student.name,
        gender=student.gender,
        birth_date=student.birth_date,
        age=age_on(student.birth_date, cw.today()),
        ethnicity=student.ethnicity,
        health=student.health,
        id_number=disclosure.id_number(student.id_number),
        student_number=disclosure.student_number(student.student_number),
        enrolled=not never_enrolled,
        county=_name(cw, County, case.county_id),
        township=_name(cw, Township, township_id),
        village=village.name if village else "",
        school=school.name if school else "",
        grade=klass.grade if klass else None,
        section=klass.section if klass else None,
        hukou_address=student.hukou_address,
        register_address=student.register_address,
        current_address=student.current_address,
        key_groups=tuple(student.key_groups or ()),
        guardians=tuple(
            GuardianInfo(g.name, g.relation, disclosure.phone(g.phone)) for g in guardians
        ),
    )
    township_at = session.exec(
        select(CaseEvent.at)
        .where(CaseEvent.case_id == case.id, col(CaseEvent.to_state).in_(list(TOWNSHIP_LEVELS)))
        .order_by(col(CaseEvent.at))
    ).first()
    persuader_ids = [
        uid
        for uid in (case.assigned_to_id, case.village_responsible_id, case.school_responsible_id)
        if uid is not None and person(uid)
    ]
    persuaders = tuple(dict.fromkeys(person(uid) for uid in persuader_ids))
    first = people.get(persuader_ids[0]) if persuader_ids else None
    notice = None
    if form == "notice":
        issuer = notice_issuer(cw)
        notice = NoticeInfo(
            issuer=issuer,
            issuer_name=(school.name if school else "") if issuer == "school" else
            _name(cw, Township, township_id),
            issued_on=_local(cw, case.notice_issued_at) or _entered(cw, case, "deadline_notice"),
            due_on=case.notice_due_on or _notice_due(cw, case),
        )
    deferral = None
    proposal = _deferral(cw, case) if form == "deferral" else None
    if proposal is not None:
        person(proposal.proposed_by)
        proposer = people.get(proposal.proposed_by) if proposal.proposed_by else None
        deferral = DeferralInfo(
            outcome=proposal.outcome,
            reason=proposal.reason,
            proposed_on=_local(cw, proposal.proposed_at) or cw.today(),
            proposed_by=person(proposal.proposed_by),
            until_on=proposal.until_on,
            status=proposal.status,
            decided_on=_local(cw, proposal.decided_at),
            decided_by=person(proposal.decided_by) or None,
            decision_note=proposal.decision_note,
            proposer_role=proposer.role if proposer is not None else "",
        )
    notice_name = notice_document(cw)
    events = tuple(
        EventInfo(
            on=_local(cw, e.at) or cw.today(),
            kind=e.kind,
            to_state=e.to_state,
            by=person(e.actor_id),
            due_on=date.fromisoformat(e.data["due_on"]) if (e.data or {}).get("due_on") else None,
            delivered_on=(date.fromisoformat(e.data["delivered_on"])
                          if (e.data or {}).get("delivered_on") else None),
            notice=notice_name,
        )
        for e in session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, col(CaseEvent.kind).in_(RECORD_EVENTS))
            .order_by(col(CaseEvent.at), col(CaseEvent.id))
        ).all()
    )
    contact_id = case.school_responsible_id
    contact = people.get(contact_id) if contact_id is not None and person(contact_id) else None
    return CaseForm(
        form=form,
        case_id=case.id or 0,
        state=case.state,
        level=case.level,
        child=child,
        reasons=tuple(case.reasons or ()),
        reason_note=case.reason_note,
        whereabouts=case.whereabouts,
        absent_since=case.absent_since,
        reported_on=_local(cw, case.created_at) or cw.today(),
        township_reached_on=_local(cw, township_at),
        outcome=case.outcome,
        outcome_note=case.outcome_note,
        returned_on=case.returned_on,
        visits=shown,
        all_visits=visits,
        school_contact=person(case.school_responsible_id),
        persuaders=persuaders,
        persuader_phone=disclosure.phone(first.phone) if first is not None else None,
        notice=notice,
        deferral=deferral,
        made_on=cw.today(),
        policy=cw.policy.name,
        events=events,
        school_contact_phone=disclosure.phone(contact.phone) if contact is not None else None,
    )


def _entered(cw: Casework, case: Case, state: str) -> date | None:
    at = cw.session.exec(
        select(CaseEvent.at)
        .where(CaseEvent.case_id == case.id, CaseEvent.to_state == state)
        .order_by(col(CaseEvent.at).desc())
    ).first()
    return _local(cw, at)


def _notice_due(cw: Casework, case: Case) -> date | None:
    """The notice's deadline when the case moved onto the level without an explicit issue
    (seed 004: the school's notice is the level itself): its open step deadline, or the
    policy's duration counted from the day it got there."""
    step = cw.session.exec(
        select(Deadline.due_at).where(
            Deadline.case_id == case.id,
            Deadline.kind == "step",
            Deadline.status == "open",
        )
    ).first()
    if step is not None and case.state == "deadline_notice":
        return _local(cw, step)
    entered = _entered(cw, case, "deadline_notice")
    level = cw.policy.level("deadline_notice")
    if entered is None or level.deadline is None:
        return None
    return cw.calendars.local_date(
        cw.calendars.due_at(cw.calendars.at_local(entered, time(9, 0)), level.deadline)
    )
