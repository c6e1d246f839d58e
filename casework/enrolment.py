"""A never-enrolled child's case (组织入学, seed 000 附件表1/表2) and how it ends: enrolment
at a named school.

The case opens on the profile's [enrolment] step (``ladder.report`` with a new child), its
visits are rounds of that step and never move it into the school's persuasion, and when its
time runs out it climbs to the level the profile names. It ends when the child is enrolled:
the school (and the class, when known) is recorded on the child and the case, so the
school's line sees it from then on, and the case is followed up as a return is (保学
check-ins, then 销号 on review).
"""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from casework import deadlines, notices, states
from casework.case_views import awaiting_enrolment
from casework.context import Casework
from casework.errors import IllegalTransition, ValidationError
from casework.i18n import _
from casework.ladder import (
    Outcome,
    _withdraw_pending,
    check_transition,
    load_case,
    record_event,
    touch,
)
from models.tables import Case, CaseEvent, School, SchoolClass, Student, Township, User, Village

OUTCOME = "enrolled"  # Case.outcome of an enrolment case that ended in enrolment


def is_enrolment_case(cw: Casework, case: Case) -> bool:
    """The case of a child who was never enrolled when it opened (表1/表2), before and
    after the enrolment."""
    if case.outcome == OUTCOME or case.level == states.ENROLMENT:
        return True
    return cw.session.exec(
        select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.to_state == states.ENROLMENT)
    ).first() is not None


def schools_for(cw: Casework, case: Case) -> list[School]:
    """The schools the child may be enrolled at: the county's, those of the child's own
    township first."""
    township_id = None
    if case.village_id is not None:
        village = cw.session.get(Village, case.village_id)
        township_id = village.township_id if village else None
    schools = cw.session.exec(
        select(School)
        .join(Township, col(School.township_id) == col(Township.id))
        .where(Township.county_id == case.county_id)
        .order_by(col(School.name))
    ).all()
    return sorted(schools, key=lambda s: s.township_id != township_id)


def classes_of(cw: Casework, school_id: int) -> list[SchoolClass]:
    return list(cw.session.exec(
        select(SchoolClass)
        .where(SchoolClass.school_id == school_id)
        .order_by(col(SchoolClass.grade), col(SchoolClass.section))
    ).all())


def enrol(
    cw: Casework, actor: User, case_id: int, school_id: int, class_id: int | None, on: date
) -> Outcome:
    """The child is enrolled at ``school_id`` (in ``class_id`` when known) since ``on``."""
    case = load_case(cw, actor, case_id, "enrol")
    check_transition(case, "enrol")
    if not awaiting_enrolment(cw, case):
        raise IllegalTransition(
            _("Case #{id}: the child is already enrolled at a school.", id=case.id), action="enrol"
        )
    if on > cw.today():
        raise ValidationError("enrolled_on", _("The date cannot be in the future."))
    school = cw.session.get(School, school_id)
    township = cw.session.get(Township, school.township_id) if school is not None else None
    if school is None or township is None or township.county_id != case.county_id:
        raise ValidationError("school", _("Pick a school of the county."))
    klass = cw.session.get(SchoolClass, class_id) if class_id is not None else None
    if class_id is not None and (klass is None or klass.school_id != school.id):
        raise ValidationError("class", _("Pick a class of that school."))
    student = cw.session.get(Student, case.student_id)
    assert student is not None
    student.enrolled = True
    student.class_id = klass.id if klass else None
    student.updated_at = cw.now_db()
    cw.session.add(student)

    from_state = case.state
    deadlines.cancel_open(cw, case)
    _withdraw_pending(cw, case, "child enrolled")
    case.school_id = school.id
    case.class_id = klass.id if klass else None
    case.state = states.RETURNED
    case.returned_on = on
    case.outcome = OUTCOME
    case.outcome_note = school.name
    case.paused_from = None
    touch(cw, case)
    made = deadlines.schedule_retention(cw, case, on)
    event = record_event(
        cw, case, actor, "enrolled", from_state=from_state,
        school_id=school.id, school=school.name, class_id=case.class_id, on=on.isoformat(),
    )
    told = notices.enrolled(cw, case, school.name, actor)
    cw.audit(actor, "case.enrolled", "case", case.id, school_id=school.id)
    return Outcome(
        case,
        event,
        _("Case #{id}: {name} is enrolled at {school}. Retention check-ins are scheduled.",
          id=case.id, name=student.name, school=school.name),
        made,
        told,
    )
