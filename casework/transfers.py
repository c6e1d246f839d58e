"""Transfer requests: a child found outside one's scope is asked for, never taken.

A roster import or a door-to-door registration that matches a child (by ID or student
number) the requester cannot see does not move the child, change the guardian or say what
exists elsewhere: the requester reads only "needs confirmation from another unit", and a
:class:`TransferRequest` goes to the people responsible for the child now (the school
admin and township officer whose scope covers the child, by ``casework.scope``), with
Accept / Reject buttons. Accepting moves the child where the request wanted (a class of the
importing school, or the registering cadre's village); both sides are told and every step
is audited. The guardian on record is kept: the new unit corrects it once the child is its.
"""

from __future__ import annotations

from sqlmodel import col, select

from casework import outbox
from casework.callbacks import TransferAnswer
from casework.context import Casework
from casework.errors import AccessDenied, IllegalTransition, NotFound
from casework.i18n import Text, _
from casework.labels import grade_text
from casework.scope import can_see_student, visible_students
from models.tables import School, SchoolClass, Student, TransferRequest, User, Village

# who answers a request for a child in their scope (the county only when nobody else does)
DECIDER_ROLES = ("school_admin", "township_officer")
FALLBACK_ROLES = ("county_officer",)
NEEDS_CONFIRMATION = _("needs confirmation from another unit")
MAX_LISTED = 20


def deciders(cw: Casework, student: Student, *, exclude: int | None = None) -> list[User]:
    """The people who answer for ``student`` now, by the one scope rule."""
    for roles in (DECIDER_ROLES, FALLBACK_ROLES):
        users = cw.session.exec(
            select(User)
            .where(col(User.role).in_(roles), col(User.active).is_(True))
            .order_by(col(User.id))
        ).all()
        found = [u for u in users if u.id != exclude and can_see_student(cw.session, u, student)]
        if found:
            return found
    return []


def _destination(cw: Casework, req: TransferRequest) -> Text:
    if req.to_class_id is not None:
        klass = cw.session.get(SchoolClass, req.to_class_id)
        school = cw.session.get(School, req.to_school_id) if req.to_school_id else None
        if klass is not None and school is not None:
            return _("grade {grade} class {section} of {school}", grade=grade_text(klass.grade),
                     section=klass.section, school=school.name)
    if req.to_village_id is not None:
        village = cw.session.get(Village, req.to_village_id)
        if village is not None:
            return Text("{name}", {"name": village.name})
    return Text("—")


def request_text(cw: Casework, req: TransferRequest) -> Text:
    """What the child's unit reads: who asks, for whom, into where."""
    requester = cw.session.get(User, req.requested_by)
    student = cw.session.get(Student, req.student_id)
    return _(
        "Transfer request: {requester} asks to take {name} into {place}. Accept only if the "
        "child has really moved there; until then the child stays with you.",
        requester=requester.display_name if requester is not None else "—",
        name=student.name if student is not None else "—",
        place=_destination(cw, req),
    )


def pending_for(cw: Casework, actor: User) -> list[TransferRequest]:
    """Requests waiting for ``actor``'s answer: pending, for a child in their scope, not
    their own (``/transfers``, when the message with the buttons is lost)."""
    if not actor.active or actor.role not in (*DECIDER_ROLES, *FALLBACK_ROLES, "admin"):
        return []
    return list(
        cw.session.exec(
            select(TransferRequest)
            .join(Student, col(Student.id) == TransferRequest.student_id)
            .where(
                TransferRequest.status == "pending",
                TransferRequest.requested_by != actor.id,
                visible_students(actor),
            )
            .order_by(col(TransferRequest.id))
            .limit(MAX_LISTED)
        ).all()
    )


def request(
    cw: Casework,
    actor: User,
    student: Student,
    *,
    source: str,
    to_class_id: int | None = None,
    to_village_id: int | None = None,
) -> TransferRequest:
    """Ask the child's unit to let the child move; one pending request per child and place."""
    to_school_id = None
    if to_class_id is not None:
        klass = cw.session.get(SchoolClass, to_class_id)
        to_school_id = klass.school_id if klass is not None else None
    pending = cw.session.exec(
        select(TransferRequest).where(
            TransferRequest.student_id == student.id,
            TransferRequest.status == "pending",
            TransferRequest.to_class_id == to_class_id if to_class_id is not None
            else col(TransferRequest.to_class_id).is_(None),
            TransferRequest.to_village_id == to_village_id if to_village_id is not None
            else col(TransferRequest.to_village_id).is_(None),
        )
    ).first()
    if pending is not None:
        return pending
    req = TransferRequest(
        student_id=student.id or 0,
        source=source,
        requested_by=actor.id or 0,
        requested_at=cw.now_db(),
        to_school_id=to_school_id,
        to_class_id=to_class_id,
        to_village_id=to_village_id,
    )
    cw.session.add(req)
    cw.session.flush()
    told = deciders(cw, student, exclude=actor.id)
    text = request_text(cw, req)
    buttons = [[
        {"text": outbox.text_to_json(_("Accept")), "data": TransferAnswer(req.id or 0, accept=True).encode()},
        {"text": outbox.text_to_json(_("Reject")), "data": TransferAnswer(req.id or 0, accept=False).encode()},
    ]]
    for user in told:
        if user.unreachable:
            continue
        outbox.enqueue(cw.session, user, text, kind="transfer_request", now=cw.now(),
                       buttons=buttons,  # type: ignore[arg-type]  # a label is a Text as JSON
                       dedupe_key=f"trf:{req.id}:{user.id}")
    cw.audit(actor, "transfer.request", "student", student.id, request=req.id, source=source,
             to_class=to_class_id, to_village=to_village_id, told=[u.id for u in told])
    return req


def registration_match(
    cw: Casework, actor: User, id_number: str | None, village_id: int
) -> TransferRequest | None:
    """A door-to-door registration whose ID number is a child outside the actor's scope:
    the request to the child's unit (the child would move to ``village_id``), else None."""
    from casework import validation
    from models.types import cipher

    if not id_number:
        return None
    number = validation.resident_id(id_number)
    student = cw.session.exec(
        select(Student).where(col(Student.id_number_hash).in_(cipher().lookup_hashes(number)))
    ).first()
    if student is None or can_see_student(cw.session, actor, student):
        return None
    village = cw.session.get(Village, village_id)
    if village is None or actor.scope_kind == "village" and actor.scope_id != village_id:
        return None  # not the actor's village: ladder.report refuses it as it always did
    return request(cw, actor, student, source="registration", to_village_id=village_id)


def decide(cw: Casework, actor: User, request_id: int, *, accept: bool) -> TransferRequest:
    """Accept (the child moves) or reject a pending request; the requester is told."""
    req = cw.session.get(TransferRequest, request_id)
    student = cw.session.get(Student, req.student_id) if req is not None else None
    if req is None or student is None:
        raise NotFound(_("There is no such transfer request."))
    if (
        not actor.active
        or actor.role not in (*DECIDER_ROLES, *FALLBACK_ROLES, "admin")
        or actor.id == req.requested_by
        or not can_see_student(cw.session, actor, student)
    ):
        raise AccessDenied(
            _("Only the unit the child belongs to can answer this transfer request."),
            actor_id=actor.id, action="transfer.decide", object_type="transfer_request",
            object_id=request_id,
        )
    if req.status != "pending":
        raise IllegalTransition(_("This transfer request has already been answered."))
    req.status = "accepted" if accept else "rejected"
    req.decided_by = actor.id
    req.decided_at = cw.now_db()
    cw.session.add(req)
    before = {"class_id": student.class_id, "village_id": student.village_id}
    if accept:
        if req.to_class_id is not None:
            student.class_id = req.to_class_id
            student.enrolled = True
            school = cw.session.get(School, req.to_school_id) if req.to_school_id else None
            if school is not None:
                student.register_address = school.name
        if req.to_village_id is not None:
            student.village_id = req.to_village_id
        student.updated_at = cw.now_db()
        cw.session.add(student)
    requester = cw.session.get(User, req.requested_by)
    place = _destination(cw, req)
    if requester is not None:
        text = (
            _("Your transfer request for {name} into {place} was accepted: the child is now yours.",
              name=student.name, place=place)
            if accept
            else _("Your transfer request for {name} into {place} was not accepted by the other unit.",
                   name=student.name, place=place)
        )
        outbox.enqueue(cw.session, requester, text, kind="transfer_decision", now=cw.now(),
                       dedupe_key=f"trf:{req.id}:decided")
    cw.audit(actor, "transfer.accept" if accept else "transfer.reject", "student", student.id,
             request=req.id, before=before,
             after={"class_id": student.class_id, "village_id": student.village_id})
    return req


def describe(cw: Casework, req: TransferRequest, *, accept: bool) -> Text:
    """What the person who answered reads."""
    student = cw.session.get(Student, req.student_id)
    name = student.name if student is not None else "—"
    if accept:
        return _("Accepted: {name} moves to {place}. The requester has been told.",
                 name=name, place=_destination(cw, req))
    return _("Rejected: {name} stays with you. The requester has been told.", name=name)
