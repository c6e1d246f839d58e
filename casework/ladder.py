"""The case ladder: every action the bot, the scheduler and the web console may take.

Each function takes the context (one session, the clock, the policy) and the acting
user, checks role, scope and the transition table (``casework.states``) before it writes
anything, then writes the change, its case event, the resulting deadlines, the outbox
messages it implies and an audit event, and returns an :class:`Outcome`. The caller
commits (``casework.uow``); a refused call raises a :class:`CaseworkError` and the unit
of work rolls back, keeping only the audit record of a refused access.

``actor=None`` means the scheduler acting on a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from casework import bodies, codes, deadlines, notices, participants, states
from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied, IllegalTransition, NotFound, ValidationError
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, day_text
from casework.papers import documents_on_file, may_issue_notice, missing_documents
from casework.scope import can_see_case, can_see_student, student_units
from models.tables import Case, CaseEvent, Deadline, Guardian, Proposal, Student, User, Visit

# --- inputs and results -----------------------------------------------------------------


@dataclass(frozen=True)
class NewChild:
    """A child found door to door who was never enrolled (表1 未入学适龄儿童少年)."""

    name: str
    gender: str
    birth_date: date
    village_id: int
    guardian_name: str
    guardian_relation: str
    guardian_phone: str | None = None
    id_number: str | None = None
    ethnicity: str | None = None
    current_address: str | None = None
    hukou_address: str | None = None
    key_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportInput:
    student_id: int | None = None
    new_child: NewChild | None = None
    source: str = "teacher_report"
    absent_since: date | None = None
    reasons: tuple[str, ...] = ()
    reason_note: str | None = None
    whereabouts: str | None = None
    key_groups: tuple[str, ...] | None = None  # replaces the student's flags when given
    guardian_contact_checked: bool = False
    note: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class VisitInput:
    visit_date: date
    method: str
    result: str
    participants: tuple[str, ...] = ()
    family_situation: str | None = None
    guardian_attitude: str | None = None
    guardian_attitude_note: str | None = None
    student_attitude: str | None = None
    student_attitude_note: str | None = None
    measures: str | None = None
    promised_return_on: date | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    next_step: str | None = None


@dataclass
class Outcome:
    """What happened: the case as it now stands and what to tell the actor."""

    case: Case
    event: CaseEvent
    message: Text
    deadlines: list[Deadline] = field(default_factory=list)
    notified: list[User] = field(default_factory=list)
    visit: Visit | None = None
    proposal: Proposal | None = None


# --- checks -----------------------------------------------------------------------------


def _deny(cw: Casework, actor: User, action: str, object_type: str, object_id: int | None) -> None:
    raise AccessDenied(
        _("You are not responsible for this case, so you cannot see or change it."),
        actor_id=actor.id,
        action=action,
        object_type=object_type,
        object_id=object_id,
    )


def _check_role(cw: Casework, actor: User, action: str, case_id: int | None) -> None:
    if not actor.active or actor.role not in states.ACTION_ROLES[action]:
        raise AccessDenied(
            _("Your role does not allow this action."),
            actor_id=actor.id,
            action=action,
            object_type="case",
            object_id=case_id,
        )


def load_case(cw: Casework, actor: User | None, case_id: int, action: str = "view") -> Case:
    """Fetch a case the actor may act on; a case out of scope looks like a refusal, audited."""
    case = cw.session.get(Case, case_id)
    if actor is not None:
        _check_role(cw, actor, action, case_id)
        if case is None or not can_see_case(cw.session, actor, case):
            _deny(cw, actor, action, "case", case_id)
    if case is None:
        raise NotFound(_("There is no case #{id}.", id=case_id))
    return case


def check_visitable(cw: Casework, case: Case) -> None:
    """A visit may be recorded: on an active level, or on a deferral where the profile says
    persuasion goes on during it ([deferral] persuasion)."""
    check_transition(case, "record_visit")
    if case.state not in states.visit_states(cw.policy.deferral.persuasion):
        raise IllegalTransition(
            _("Case #{id} is {state}; that cannot be done now.", id=case.id, state=_(STATE_LABELS[case.state])),
            action="record_visit",
            state=case.state,
        )


def check_transition(case: Case, action: str) -> None:
    transition = states.TRANSITIONS[action]
    if case.state not in transition.sources:
        raise IllegalTransition(
            _(
                "Case #{id} is {state}; that cannot be done now.",
                id=case.id,
                state=_(STATE_LABELS[case.state]),
            ),
            action=action,
            state=case.state,
        )


# --- shared writing helpers ---------------------------------------------------------------


def record_event(
    cw: Casework,
    case: Case,
    actor: User | None,
    kind: str,
    *,
    from_state: str | None,
    note: str | None = None,
    evidence: tuple[dict[str, Any], ...] | list[dict[str, Any]] = (),
    **data: Any,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id or 0,
        at=cw.now_db(),
        actor_id=actor.id if actor else None,
        kind=kind,
        from_state=from_state,
        to_state=case.state,
        note=note,
        evidence=list(evidence),
        data=data,
    )
    cw.session.add(event)
    return event


def touch(cw: Casework, case: Case) -> None:
    case.updated_at = cw.now_db()
    case.version += 1
    cw.session.add(case)


def _enter_level(
    cw: Casework, case: Case, level_state: str, rounds_done: int = 0, actor: User | None = None
) -> tuple[list[Deadline], list[User]]:
    """Put the case on a ladder level: its deadlines, reminders and the people told.

    ``rounds_done`` are rounds of this level already recorded (a resumed level); the next
    round deadline is numbered after them.
    """
    deadlines.cancel_open(cw, case)
    case.state = level_state
    case.level = level_state
    case.level_entered_at = cw.now_db()
    case.current_round = rounds_done
    level = cw.policy.level(level_state)  # type: ignore[arg-type]
    made = deadlines.schedule_level(cw, case, level, start=cw.now())
    told = notices.level_entered(cw, case, level, actor=actor)
    if level.names_persuader is not None:
        # 鸡东 四 "落实专人做好动员劝返工作": the school names the person (notices.level_entered
        # asks them), who then owns the case (bodies.responsible)
        case.assigned_to_id = None
    if actor is not None:
        # whoever moved the case here has taken it: not asked to acknowledge their own action
        cw.session.flush()
        for ack in deadlines.open_of_kind(cw, case, "ack"):
            if may_acknowledge(actor, ack):
                ack.status, ack.acted_by, ack.acted_at, ack.result = "done", actor.id, cw.now_db(), "own action"
                cw.session.add(ack)
    return made, told


def visits_of(cw: Casework, case: Case) -> list[Visit]:
    return list(
        cw.session.exec(
            select(Visit).where(Visit.case_id == case.id).order_by(col(Visit.recorded_at))
        ).all()
    )


# --- actions ------------------------------------------------------------------------------


def report(cw: Casework, actor: User, data: ReportInput) -> Outcome:
    """Report a suspected dropout (a teacher's 表4, a cadre's 表1): opens a case."""
    from casework import validation

    _check_role(cw, actor, "report", None)
    for reason in data.reasons:
        codes.require("reason", reason, field="reasons")
    if not data.reasons:
        raise ValidationError("reasons", _("Choose at least one reason."))
    codes.require("source", data.source, field="source")
    if data.absent_since is not None and data.absent_since > cw.today():
        raise ValidationError("absent_since", _("The date cannot be in the future."))
    if (data.student_id is None) == (data.new_child is None):
        raise ValidationError("student", _("Pick a student or register a new child."))

    if data.new_child is not None:
        student = _register_child(cw, actor, data.new_child, validation)
    else:
        found = cw.session.get(Student, data.student_id)
        if found is None or not can_see_student(cw.session, actor, found):
            _deny(cw, actor, "report", "student", data.student_id)
        assert found is not None
        student = found
    if data.key_groups is not None:
        for group in data.key_groups:
            codes.require("key_group", group, field="key_groups")
        student.key_groups = list(data.key_groups)
        cw.session.add(student)

    existing = cw.session.exec(
        select(Case.id).where(
            Case.student_id == student.id,
            col(Case.state).not_in(list(states.FINAL | {states.CLOSED})),
        )
    ).first()
    if existing is not None:
        raise IllegalTransition(
            _("{name} already has an open case, #{id}.", name=student.name, id=existing),
            case_id=existing,
        )

    units = student_units(cw.session, student)
    if units["county_id"] is None:
        raise ValidationError("student", _("This student has no class or village on record."))
    now = cw.now_db()
    first: str = cw.policy.first_level.state
    if (data.new_child is not None or not student.enrolled) and cw.policy.enrolment is not None:
        first = states.ENROLMENT  # a child who never enrolled: organised into school (表2)
    case = Case(
        student_id=student.id or 0,
        state=first,
        source=data.source,
        reasons=list(data.reasons),
        reason_note=data.reason_note,
        whereabouts=data.whereabouts,
        absent_since=data.absent_since,
        policy=cw.policy.name,
        level=first,
        level_entered_at=now,
        county_id=units["county_id"],
        school_id=units["school_id"],
        class_id=units["class_id"],
        village_id=units["village_id"],
        reported_by=actor.id,
        school_responsible_id=actor.id if actor.role in ("teacher", "school_admin") else None,
        village_responsible_id=actor.id if actor.role == "village_cadre" else None,
        created_at=now,
        updated_at=now,
    )
    cw.session.add(case)
    cw.session.flush()
    made, told = _enter_level(cw, case, first)
    event = record_event(
        cw,
        case,
        actor,
        "reported",
        from_state=None,
        note=data.note,
        evidence=data.evidence,
        guardian_contact_checked=data.guardian_contact_checked,
    )
    cw.audit(actor, "case.report", "case", case.id, student_id=student.id)
    opened = _("Case #{id} opened for {name}.", id=case.id, name=student.name)
    if first == states.ENROLMENT:
        opened = _("Case #{id} opened: organising {name}'s enrolment.", id=case.id, name=student.name)
    return Outcome(
        case,
        event,
        opened,
        made,
        told,
    )


def _register_child(cw: Casework, actor: User, child: NewChild, validation: Any) -> Student:
    from models.types import cipher

    if actor.role not in ("village_cadre", "township_officer", "county_officer", "admin"):
        _deny(cw, actor, "register_child", "village", child.village_id)
    name = validation.person_name(child.name)
    validation.birth_date(child.birth_date, today=cw.today())
    codes.require("gender", child.gender, field="gender")
    for group in child.key_groups:
        codes.require("key_group", group, field="key_groups")
    id_number = None
    if child.id_number:
        id_number = validation.resident_id(child.id_number)
        validation.check_birth_date_matches_id(child.birth_date, id_number)
    phone = validation.phone(child.guardian_phone) if child.guardian_phone else None
    now = cw.now_db()
    student = Student(
        name=name,
        gender=child.gender,
        birth_date=child.birth_date,
        ethnicity=child.ethnicity,
        id_number=id_number,
        id_number_hash=cipher().lookup_hash(id_number) if id_number else None,
        key_groups=list(child.key_groups),
        hukou_address=child.hukou_address,
        current_address=child.current_address,
        village_id=child.village_id,
        class_id=None,
        enrolled=False,
        created_at=now,
        updated_at=now,
    )
    if not can_see_student(cw.session, actor, student):
        _deny(cw, actor, "register_child", "village", child.village_id)
    if id_number:
        clash = cw.session.exec(
            # under either key while a key rotation is part-way (casework.keys)
            select(Student).where(col(Student.id_number_hash).in_(cipher().lookup_hashes(id_number)))
        ).first()
        if clash is not None and not can_see_student(cw.session, actor, clash):
            # registered outside the actor's scope: neither taken over nor revealed (the
            # report flow asks the other unit first, ``transfers.registration_match``)
            raise ValidationError(
                "id_number",
                _("This child needs confirmation from another unit before you can report them."),
            )
        if clash is not None:
            raise ValidationError("id_number", _("A child with this ID number is already registered."))
    cw.session.add(student)
    cw.session.flush()
    cw.session.add(
        Guardian(
            student_id=student.id or 0,
            ordinal=1,
            name=validation.person_name(child.guardian_name, field="guardian_name"),
            relation=child.guardian_relation,
            phone=phone,
        )
    )
    cw.audit(actor, "student.register", "student", student.id)
    return student


# a visit may come before the case was opened (the family was visited, then the case
# reported), but not by more than about a month
VISIT_BEFORE_OPENING_DAYS = 31


def record_visit(cw: Casework, actor: User, case_id: int, data: VisitInput) -> Outcome:
    """Record one persuasion attempt (表3 / 表4) and move the case as the result implies."""
    from casework import validation

    case = load_case(cw, actor, case_id, "record_visit")
    check_visitable(cw, case)
    codes.require("visit_method", data.method, field="method")
    codes.require("visit_result", data.result, field="result")
    for attitude, name in (
        (data.guardian_attitude, "guardian_attitude"),
        (data.student_attitude, "student_attitude"),
    ):
        if attitude is not None:
            codes.require("attitude", attitude, field=name)
    if data.visit_date > cw.today():
        raise ValidationError("visit_date", _("The visit date cannot be in the future."))
    if data.visit_date < case.created_at.date() - timedelta(days=VISIT_BEFORE_OPENING_DAYS):
        raise ValidationError("visit_date", _(
            "The visit date is more than {days} days before the case was opened.",
            days=VISIT_BEFORE_OPENING_DAYS,
        ))
    if data.result == "returned":
        from casework.case_views import awaiting_enrolment

        if awaiting_enrolment(cw, case):
            raise ValidationError("result", _(
                "This child was never enrolled: record the enrolment at a school instead."))
    if data.result == "promised":
        if data.promised_return_on is None:
            raise ValidationError("promised_return_on", _("Give the date they promised."))
        validation.promised_return(data.promised_return_on, visit_day=data.visit_date, today=cw.today(),
                                   horizon=cw.policy.promise.max_days)
    for text_field in ("family_situation", "measures", "next_step"):
        value = getattr(data, text_field)
        if value:
            validation.free_text(value, field=text_field)

    from_state = case.state
    made: list[Deadline] = []
    told: list[User] = []
    if case.state == "suspected" and not cw.policy.level("suspected").holds_until_deadline:
        # the first persuasion starts the school's step; its clock runs from here (not
        # where the level runs its full time: jidong's teacher visits or calls at 7 days,
        # and only the month mark brings in the school's named person)
        case_made, case_told = _enter_level(cw, case, "school_persuasion")
        made += case_made
        told += case_told
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    case.current_round += 1
    visit = Visit(
        case_id=case.id or 0,
        level=case.level,
        round=case.current_round,
        visit_date=data.visit_date,
        method=data.method,
        # each person once (typed "郝柏玉" is "郝柏玉（上坪村）"); nobody named: the recorder
        participants=participants.distinct(data.participants) or [actor.display_name],
        family_situation=data.family_situation,
        guardian_attitude=data.guardian_attitude,
        guardian_attitude_note=data.guardian_attitude_note,
        student_attitude=data.student_attitude,
        student_attitude_note=data.student_attitude_note,
        measures=data.measures,
        result=data.result,
        promised_return_on=data.promised_return_on,
        evidence=list(data.evidence),
        latitude=data.latitude,
        longitude=data.longitude,
        next_step=data.next_step,
        recorded_by=actor.id or 0,
        recorded_at=cw.now_db(),
    )
    cw.session.add(visit)
    if actor.role in ("teacher", "school_admin") and case.school_responsible_id is None:
        case.school_responsible_id = actor.id
    if actor.role == "village_cadre" and case.village_responsible_id is None:
        case.village_responsible_id = actor.id
    touch(cw, case)
    cw.session.flush()
    event = record_event(
        cw,
        case,
        actor,
        "visit",
        from_state=from_state,
        note=data.next_step,
        evidence=data.evidence,
        visit_id=visit.id,
        round=visit.round,
        result=data.result,
    )
    cw.audit(actor, "case.visit", "case", case.id, visit_id=visit.id)

    if data.result == "returned":
        returned = _to_returned(cw, case, actor, data.visit_date, note=None)
        return Outcome(case, event, returned.message, made + returned.deadlines, told, visit)

    # a deferred case's visits are its persuasion going on, not rounds that move it up
    on_level = case.state == level.state
    rounds_left = None if level.rounds is None or not on_level else level.rounds - case.current_round
    if rounds_left is not None and rounds_left <= 0 and cw.policy.next_level(case.level) is not None:  # type: ignore[arg-type]
        up = escalate_case(cw, case, None, reason="rounds_used_up")
        msg = _(
            "Visit {round} recorded. The rounds of this level are used up: the case goes to {state}.",
            round=visit.round,
            state=_(STATE_LABELS[case.state]),
        )
        return Outcome(case, event, msg, made + up.deadlines, told + up.notified, visit)

    made += deadlines.after_visit(cw, case, level, visit)
    return Outcome(case, event, where_it_stands(cw, case), made, told, visit)


def where_it_stands(cw: Casework, case: Case) -> Text:
    """"Round 2 of 5, next visit due by 11-26" — what the actor reads after a visit."""
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    due = deadlines.next_due(cw, case)
    state = _(STATE_LABELS[case.state])
    due_text = _("no deadline") if due is None else _("due by {date}", date=_short(cw, due))
    if level.rounds is not None and case.state == level.state:
        return _(
            "Visit recorded — {state}, round {round} of {rounds}; next step {due}.",
            state=state,
            round=case.current_round,
            rounds=level.rounds,
            due=due_text,
        )
    return _(
        "Visit recorded — {state}, visit {round}; next step {due}.",
        state=state,
        round=case.current_round,
        due=due_text,
    )


def _short(cw: Casework, when: datetime) -> Text:
    """A deadline's day as every chat message writes a day (12月14日 / Dec 14)."""
    return day_text(from_db(when).astimezone(cw.policy.tz).date())


def escalate(cw: Casework, actor: User | None, case_id: int, reason: str = "manual") -> Outcome:
    """Move a case one level up the policy's ladder."""
    case = load_case(cw, actor, case_id, "escalate")
    return escalate_case(cw, case, actor, reason=reason)


def escalate_case(cw: Casework, case: Case, actor: User | None, *, reason: str) -> Outcome:
    """Move a loaded case one level up (no access check: the caller has done it, or the
    clock is the actor)."""
    check_transition(case, "escalate")
    nxt = cw.policy.next_level(case.level)  # type: ignore[arg-type]
    if nxt is None:
        raise IllegalTransition(
            _("Case #{id} is already at the top of the ladder.", id=case.id)
        )
    missing = missing_documents(cw, case, nxt.state)
    if missing:
        raise IllegalTransition(
            _(
                "Case #{id} cannot go to {state}: {document} is not on file yet.",
                id=case.id,
                state=_(STATE_LABELS[nxt.state]),
                document=missing[0].title(),
            ),
            state=case.state,
        )
    from_state = case.state
    below = bodies.people(cw, case, cw.policy.level(case.level).responsible)  # type: ignore[arg-type]
    made, told = _enter_level(cw, case, nxt.state, actor=actor)
    if nxt.state == "township_persuasion":
        # the village persuades with the township from now on: told today, not at round 1's reminder
        told += notices.village_told(cw, case, nxt, [u.id for u in told], actor)
    touch(cw, case)
    event = record_event(cw, case, actor, "escalated", from_state=from_state, reason=reason)
    told += notices.moved_up(cw, case, from_state, [u for u in below if u not in told])
    cw.audit(actor, "case.escalate", "case", case.id, reason=reason, to=case.state)
    return Outcome(
        case,
        event,
        _("Case #{id} moved up to {state}.", id=case.id, state=_(STATE_LABELS[case.state])),
        made,
        told,
    )


def issue_deadline_notice(cw: Casework, actor: User, case_id: int) -> Outcome:
    """The notice level's issuer gives the guardian the notice (限期复学通知书 / 劝返复学通知书 /
    责令限期改正); the guardian's deadline starts today."""
    case = load_case(cw, actor, case_id, "issue_deadline_notice")
    check_transition(case, "issue_deadline_notice")
    if case.notice_issued_at is not None and case.state == "deadline_notice":
        raise IllegalTransition(_("The notice for case #{id} was already issued.", id=case.id))
    if not cw.policy.has_level("deadline_notice"):
        raise IllegalTransition(_("This county's ladder has no deadline notice."))
    if not may_issue_notice(cw, actor, case):
        raise AccessDenied(
            _("Your role does not allow this action."),
            actor_id=actor.id, action="issue_deadline_notice", object_type="case", object_id=case.id,
        )
    document = cw.policy.level("deadline_notice").document
    assert document is not None  # the policy's rule for the notice level
    from_state = case.state
    made: list[Deadline] = []
    told: list[User] = []
    if case.state != "deadline_notice":
        made, told = _enter_level(cw, case, "deadline_notice", actor=actor)
    else:
        deadlines.cancel_open(cw, case, kinds=("step", "reminder"))
        made = deadlines.schedule_level(
            cw, case, cw.policy.level("deadline_notice"), start=cw.now(), ack=False
        )
    case.notice_issued_at = cw.now_db()
    # issuing the notice is the township's answer to the alert: it stops climbing
    _close_acks(cw, case, actor, "notice issued")
    step = next((d for d in made if d.kind == "step"), None)
    case.notice_due_on = (
        from_db(step.due_at).astimezone(cw.policy.tz).date() if step is not None else None
    )
    if case.notice_due_on is not None:
        made.append(deadlines.schedule_guardian_check(cw, case, case.notice_due_on))
    touch(cw, case)
    cw.session.flush()
    # the paper goes to whoever issued it, now, with the step to record its delivery
    notices.notice_to_issuer(cw, case, actor)
    event = record_event(
        cw,
        case,
        actor,
        "notice_issued",
        from_state=from_state,
        due_on=case.notice_due_on.isoformat() if case.notice_due_on else None,
        document=document.kind,
    )
    cw.audit(actor, "case.notice", "case", case.id)
    return Outcome(
        case,
        event,
        _(
            "{document} issued for case #{id}; the guardian must bring the child back by {date}.",
            document=document.title(),
            id=case.id,
            date=day_text(case.notice_due_on),
        ),
        made,
        told,
    )


def mark_returned(
    cw: Casework, actor: User, case_id: int, on: date | None = None, note: str | None = None
) -> Outcome:
    from casework.case_views import awaiting_enrolment

    case = load_case(cw, actor, case_id, "mark_returned")
    check_transition(case, "mark_returned")
    if awaiting_enrolment(cw, case):
        raise IllegalTransition(_("This child was never enrolled: record the enrolment at a school instead."),
                                action="mark_returned")
    returned_on = on or cw.today()
    if returned_on > cw.today():
        raise ValidationError("returned_on", _("The date cannot be in the future."))
    return _to_returned(cw, case, actor, returned_on, note=note)


def _close_acks(cw: Casework, case: Case, actor: User | None, result: str) -> None:
    cw.session.flush()
    for ack in deadlines.open_of_kind(cw, case, "ack"):
        ack.status = "done"
        ack.acted_by = actor.id if actor else None
        ack.acted_at = cw.now_db()
        ack.result = result
        cw.session.add(ack)


def _withdraw_pending(cw: Casework, case: Case, why: str) -> None:
    """A proposal waiting for a decision no longer applies once the child is back."""
    for proposal in cw.session.exec(
        select(Proposal).where(Proposal.case_id == case.id, Proposal.status == "pending")
    ).all():
        proposal.status = "withdrawn"
        proposal.decision_note = why
        cw.session.add(proposal)


def _to_returned(
    cw: Casework, case: Case, actor: User | None, on: date, note: str | None
) -> Outcome:
    from_state = case.state
    deadlines.cancel_open(cw, case)
    _withdraw_pending(cw, case, "child returned")
    case.state = states.RETURNED
    case.returned_on = on
    case.outcome = "returned"
    case.paused_from = None
    touch(cw, case)
    made = deadlines.schedule_retention(cw, case, on)
    event = record_event(cw, case, actor, "returned", from_state=from_state, note=note)
    told = notices.returned(cw, case, actor)
    cw.audit(actor, "case.returned", "case", case.id)
    return Outcome(
        case,
        event,
        _(
            "Case #{id}: the child is back at school. Retention check-ins are scheduled.",
            id=case.id,
        ),
        made,
        told,
    )


def confirm_attending(cw: Casework, actor: User | None, case_id: int, attending: bool) -> Outcome:
    """Answer a retention check-in: still attending (保学) or stopped again (relapse)."""
    case = load_case(cw, actor, case_id, "confirm_attending" if attending else "relapse")
    if attending:
        check_transition(case, "confirm_attending")
        from_state = case.state
        case.state = states.RETENTION
        touch(cw, case)
        event = record_event(cw, case, actor, "attending", from_state=from_state)
        cw.audit(actor, "case.attending", "case", case.id)
        return Outcome(case, event, _("Thank you — noted that the student is still attending."))
    check_transition(case, "relapse")
    from_state = case.state
    _withdraw_pending(cw, case, "absent again")
    made, told = _enter_level(cw, case, "school_persuasion")
    case.returned_on = None
    case.outcome = None
    touch(cw, case)
    event = record_event(cw, case, actor, "relapsed", from_state=from_state)
    cw.audit(actor, "case.relapse", "case", case.id)
    return Outcome(
        case,
        event,
        _("Case #{id} is open again: the school persuades anew.", id=case.id),
        made,
        told,
    )


def pause(cw: Casework, actor: User, case_id: int, reason: str, resume_on: date) -> Outcome:
    """Stop the clock (e.g. the child is in hospital); it starts again on ``resume_on``."""
    from casework import validation

    case = load_case(cw, actor, case_id, "pause")
    check_transition(case, "pause")
    reason = validation.free_text(reason, field="reason")
    if resume_on <= cw.today():
        raise ValidationError("resume_on", _("The resume date must be after today."))
    from_state = case.state
    deadlines.cancel_open(cw, case)
    case.paused_from = case.state
    case.state = states.PAUSED
    case.pause_reason = reason
    case.resume_on = resume_on
    touch(cw, case)
    made = deadlines.schedule_resume(cw, case, resume_on)
    event = record_event(cw, case, actor, "paused", from_state=from_state, note=reason)
    cw.audit(actor, "case.pause", "case", case.id)
    return Outcome(
        case,
        event,
        _("Case #{id} paused until {date}.", id=case.id, date=day_text(resume_on)),
        made,
    )


def resume(cw: Casework, actor: User | None, case_id: int, note: str | None = None) -> Outcome:
    """Start the clock again: the level the case was paused on begins afresh today."""
    case = load_case(cw, actor, case_id, "resume")
    check_transition(case, "resume")
    from_state = case.state
    back_to = case.paused_from or case.level
    # rounds already done at this level still count (and number the next round due)
    made, told = _enter_level(cw, case, back_to, rounds_done=case.current_round)
    case.paused_from = None
    case.pause_reason = None
    case.resume_on = None
    touch(cw, case)
    event = record_event(cw, case, actor, "resumed", from_state=from_state, note=note)
    cw.audit(actor, "case.resume", "case", case.id)
    return Outcome(
        case,
        event,
        _("Case #{id} resumed: {state}.", id=case.id, state=_(STATE_LABELS[case.state])),
        made,
        told,
    )


def reopen(cw: Casework, actor: User | None, case_id: int, note: str | None = None) -> Outcome:
    """A deferral ended, or home teaching stopped, with the child not in school."""
    case = load_case(cw, actor, case_id, "reopen")
    check_transition(case, "reopen")
    from_state = case.state
    made, told = _enter_level(cw, case, case.level)
    case.outcome = None
    case.outcome_until = None
    touch(cw, case)
    event = record_event(cw, case, actor, "reopened", from_state=from_state, note=note)
    cw.audit(actor, "case.reopen", "case", case.id)
    return Outcome(case, event, _("Case #{id} is open again.", id=case.id), made, told)


def acknowledge(cw: Casework, actor: User, case_id: int) -> Outcome:
    """The receiver of an escalation alert takes it; it will not climb further."""
    case = load_case(cw, actor, case_id, "acknowledge")
    check_transition(case, "acknowledge")
    open_acks = deadlines.open_of_kind(cw, case, "ack")
    if not open_acks:
        raise IllegalTransition(_("There is no alert on case #{id} to acknowledge.", id=case.id))
    # the alert is for the roles it went to; someone else in scope (a teacher, a cadre)
    # cannot silence it, but an officer above them can take it
    mine = [a for a in open_acks if may_acknowledge(actor, a)]
    if not mine:
        raise AccessDenied(
            _("Your role does not allow this action."),
            actor_id=actor.id,
            action="acknowledge",
            object_type="case",
            object_id=case.id,
        )
    for ack in mine:
        ack.status = "done"
        ack.acted_by = actor.id
        ack.acted_at = cw.now_db()
        ack.result = "acknowledged"
        cw.session.add(ack)
    touch(cw, case)
    event = record_event(cw, case, actor, "acknowledged", from_state=case.state)
    cw.audit(actor, "case.acknowledge", "case", case.id)
    return Outcome(case, event, _("Alert on case #{id} acknowledged.", id=case.id))


def may_acknowledge(actor: User, ack: Deadline) -> bool:
    from casework import actions

    return actions.may_acknowledge(actor, ack)


def assign(cw: Casework, actor: User, case_id: int, assignee_id: int) -> Outcome:
    """An officer names who persuades next (a cadre or a joint team lead in scope)."""
    case = load_case(cw, actor, case_id, "assign")
    check_transition(case, "assign")
    assignee = cw.session.get(User, assignee_id)
    if assignee is None or not can_see_case(cw.session, assignee, case):
        raise ValidationError("assignee", _("That person is not responsible for this case's area."))
    if assignee.role not in states.ASSIGNEE_ROLES:
        raise ValidationError("assignee", _("A case cannot be assigned to someone in that role."))
    case.assigned_to_id = assignee.id
    if assignee.role == "village_cadre":
        case.village_responsible_id = assignee.id
    if assignee.role in ("teacher", "school_admin"):
        # the school's named person (专人) answers for the case on the school's line
        case.school_responsible_id = assignee.id
    touch(cw, case)
    event = record_event(cw, case, actor, "assigned", from_state=case.state, assignee_id=assignee.id)
    told = notices.assigned(cw, case, assignee)
    cw.audit(actor, "case.assign", "case", case.id, assignee_id=assignee.id)
    return Outcome(
        case,
        event,
        _("Case #{id} assigned to {name}.", id=case.id, name=assignee.display_name),
        [],
        told,
    )


# --- the papers a ladder needs on file --------------------------------------------------


def issue_document(cw: Casework, actor: User, case_id: int) -> Outcome:
    """The level's responsible issue the paper the level names (jidong's county bureau its
    教育行政处罚决定, qiaocheng's 区司法部门 the 司法文书): recorded on file, which lets the case
    climb past this level when its time runs out, and answers the level's alert."""
    case = load_case(cw, actor, case_id, "issue_document")
    check_transition(case, "issue_document")
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    document = level.document
    if document is None or document.kind == "deadline_notice":
        raise IllegalTransition(_("Case #{id} has no paper to issue at this level.", id=case.id))
    if not bodies.acts_for(cw.policy, actor, level.responsible) and actor.role != "admin":
        raise AccessDenied(
            _("Your role does not allow this action."),
            actor_id=actor.id, action="issue_document", object_type="case", object_id=case.id,
        )
    if document.kind in documents_on_file(cw, case):
        raise IllegalTransition(
            _("{document} for case #{id} was already issued.", document=document.title(), id=case.id)
        )
    _close_acks(cw, case, actor, "document issued")
    touch(cw, case)
    event = record_event(cw, case, actor, "document_issued", from_state=case.state,
                         document=document.kind)
    told = notices.document_issued(cw, case, document, actor)
    cw.audit(actor, "case.document", "case", case.id, document=document.kind)
    return Outcome(
        case,
        event,
        _("{document} issued for case #{id} and on file.", document=document.title(), id=case.id),
        [],
        told,
    )
