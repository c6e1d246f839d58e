"""Hand-over to another county: a child who moved (随迁) is handed over, never closed.

The township or county officer answering for a case offers it to the county of the
child's new address (:func:`offer`). The case stays open where it is, its clock running,
until that county answers: its county officers get the offer with Accept / Reject buttons
(:func:`decide`). On acceptance the case moves with its whole history (its events, visits
and forms stay with it) into the receiving county, whose officer who accepted answers for
it; the level's deadlines start again there. Both sides are told, and every step is
audited and written into the case's history.

Across deployments (the other county runs its own bot) the case goes as a file:
:func:`export_case` writes the child's record and history as versioned JSON
(:data:`FORMAT`, :data:`VERSION`) and records an ``outgoing`` hand-over; the case stays
open here. The other side imports the file (:func:`import_file`, ``baoxue handover
import FILE``): nothing is created until its county officer accepts in the bot, when the
child (matched by ID number if already known there) and the case with its history are
created. The answer comes back by whatever channel the counties use, and the operator
records it here (:func:`record_answer`): accepted closes the case as handed over,
rejected leaves it open.

This follows the pattern of ``casework.transfers`` (a request answered by the people
responsible on the other side), for a case rather than a pupil's unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from casework import deadlines, outbox, states
from casework.callbacks import HandoverAnswer
from casework.clock import from_db, to_db
from casework.context import Casework
from casework.errors import AccessDenied, IllegalTransition, NotFound, ValidationError
from casework.i18n import Text, _
from casework.ladder import load_case, record_event, touch
from models.tables import (
    Case,
    CaseEvent,
    County,
    Guardian,
    Handover,
    Proposal,
    Student,
    User,
    Visit,
)

FORMAT = "baoxue-handover"
VERSION = 1
OFFER_ROLES = frozenset({"township_officer", "county_officer", "admin"})
OPEN_STATES = frozenset(set(states.ALL_STATES) - states.FINAL - {states.CLOSED})

STUDENT_FIELDS = ("name", "gender", "ethnicity", "id_number", "student_number", "health",
                  "key_groups", "hukou_address", "register_address", "current_address", "enrolled")
CASE_FIELDS = ("state", "level", "source", "reasons", "reason_note", "whereabouts", "current_round",
               "outcome", "outcome_note", "paused_from", "pause_reason")
CASE_DATES = ("absent_since", "outcome_until", "resume_on", "notice_due_on", "returned_on")
CASE_TIMES = ("created_at", "level_entered_at", "notice_issued_at")
VISIT_FIELDS = ("level", "round", "method", "participants", "family_situation", "guardian_attitude",
                "guardian_attitude_note", "student_attitude", "student_attitude_note", "measures",
                "result", "next_step")


def _county(cw: Casework, county_id: int | None) -> County:
    county = cw.session.get(County, county_id) if county_id is not None else None
    if county is None:
        raise NotFound(_("There is no such county."))
    return county


def receivers(cw: Casework, county_id: int) -> list[User]:
    """The people who answer an offer to ``county_id``: its education bureau's county
    officers (not the people who act for another body, casework.bodies)."""
    return list(cw.session.exec(
        select(User).where(User.role == "county_officer", User.scope_kind == "county",
                           User.scope_id == county_id, col(User.active).is_(True),
                           col(User.body).is_(None))
        .order_by(col(User.id))
    ).all())


def _may_decide(actor: User, handover: Handover) -> bool:
    if not actor.active or actor.id == handover.requested_by:
        return False
    if actor.role == "admin" and actor.scope_kind == "all":
        return True
    return (actor.role == "county_officer" and actor.scope_kind == "county" and actor.body is None
            and actor.scope_id == handover.to_county_id)


def _open_case_for_handover(cw: Casework, actor: User | None, case_id: int) -> Case:
    case = load_case(cw, actor, case_id, "view")
    if actor is not None and actor.role not in OFFER_ROLES:
        raise AccessDenied(_("Only a township or county officer can hand a case over to another county."),
                           actor_id=actor.id, action="handover.offer", object_type="case",
                           object_id=case_id)
    if case.state not in OPEN_STATES:
        raise IllegalTransition(_("Case #{id} is closed: there is nothing to hand over.", id=case.id))
    waiting = cw.session.exec(select(Handover.id).where(
        Handover.case_id == case.id, Handover.status == "pending",
        col(Handover.direction).in_(("internal", "outgoing")))).first()
    if waiting is not None:
        raise IllegalTransition(_("Case #{id} is already offered to another county.", id=case.id))
    return case


def _address(value: str) -> str:
    from casework import validation

    return validation.free_text(value, field="new_address", max_len=200)


def offer_text(cw: Casework, handover: Handover) -> Text:
    """What the receiving county officer reads."""
    if handover.direction == "incoming":
        child = handover.payload.get("student", {})
        return _("Hand-over from {county} (another system): {name}, born {birth}, moved to {address}. "
                 "Accept to take the case and its history; until you do, it stays with them.",
                 county=handover.other_county or "—", name=child.get("name", "—"),
                 birth=child.get("birth_date", "—"), address=handover.new_address)
    case = cw.session.get(Case, handover.case_id)
    student = cw.session.get(Student, case.student_id) if case is not None else None
    county = cw.session.get(County, handover.from_county_id)
    return _("Hand-over from {county}: case #{id}, {name}, moved to {address}. Accept to take the "
             "case and its history; until you do, it stays with them.",
             county=county.name if county else "—", id=handover.case_id,
             name=student.name if student else "—", address=handover.new_address)


def _send_offer(cw: Casework, handover: Handover) -> list[User]:
    buttons = [[
        {"text": outbox.text_to_json(_("Accept")), "data": HandoverAnswer(handover.id or 0, accept=True).encode()},
        {"text": outbox.text_to_json(_("Reject")), "data": HandoverAnswer(handover.id or 0, accept=False).encode()},
    ]]
    told = [u for u in receivers(cw, handover.to_county_id or 0) if u.id != handover.requested_by]
    text = offer_text(cw, handover)
    for user in told:
        if not user.unreachable:
            outbox.enqueue(cw.session, user, text, kind="handover_offer", now=cw.now(),
                           buttons=buttons,  # type: ignore[arg-type]  # a label is a Text as JSON
                           dedupe_key=f"hnd:{handover.id}:{user.id}")
    return told


def offer(cw: Casework, actor: User, case_id: int, to_county_id: int, new_address: str) -> Handover:
    """Offer a case to another county of this deployment; it stays here until accepted."""
    case = _open_case_for_handover(cw, actor, case_id)
    county = _county(cw, to_county_id)
    if county.id == case.county_id:
        raise ValidationError("to_county", _("The child moved within this county: that is not a hand-over."))
    handover = Handover(direction="internal", case_id=case.id, from_county_id=case.county_id,
                        to_county_id=county.id, new_address=_address(new_address),
                        requested_by=actor.id, requested_at=cw.now_db())
    cw.session.add(handover)
    cw.session.flush()
    record_event(cw, case, actor, "handover_offered", from_state=case.state, handover=handover.id,
                 to_county=county.id, new_address=handover.new_address)
    told = _send_offer(cw, handover)
    cw.audit(actor, "handover.offer", "case", case.id, handover=handover.id, to_county=county.id,
             told=[u.id for u in told])
    return handover


def pending_for(cw: Casework, actor: User) -> list[Handover]:
    """Offers waiting for ``actor``'s answer (when the message with the buttons is lost)."""
    found = cw.session.exec(select(Handover).where(
        Handover.status == "pending", col(Handover.direction).in_(("internal", "incoming")))
        .order_by(col(Handover.id))).all()
    return [h for h in found if _may_decide(actor, h)]


def decide(cw: Casework, actor: User, handover_id: int, *, accept: bool) -> Handover:
    """The receiving county accepts (the case moves, or is created from the file) or rejects."""
    handover = cw.session.get(Handover, handover_id)
    if handover is None or handover.direction == "outgoing":
        raise NotFound(_("There is no such hand-over."))
    if not _may_decide(actor, handover):
        raise AccessDenied(_("Only the receiving county can answer this hand-over."),
                           actor_id=actor.id, action="handover.decide", object_type="handover",
                           object_id=handover_id)
    if handover.status != "pending":
        raise IllegalTransition(_("This hand-over has already been answered."))
    handover.status = "accepted" if accept else "rejected"
    handover.decided_by = actor.id
    handover.decided_at = cw.now_db()
    cw.session.add(handover)
    if handover.direction == "incoming":
        if accept:
            handover.case_id = _create_from_file(cw, actor, handover).id
        cw.audit(actor, "handover.accept" if accept else "handover.reject", "handover", handover.id,
                 case=handover.case_id, direction="incoming", origin=handover.other_county)
        return handover
    case = cw.session.get(Case, handover.case_id)
    if case is None:
        raise NotFound(_("There is no such hand-over."))
    if accept and case.state not in OPEN_STATES:  # closed here while the offer waited
        raise IllegalTransition(_("Case #{id} is closed: there is nothing to hand over.", id=case.id))
    before = {"county_id": case.county_id, "school_id": case.school_id, "village_id": case.village_id}
    if accept:
        _move(cw, actor, case, handover)
    else:
        record_event(cw, case, actor, "handover_rejected", from_state=case.state, handover=handover.id)
    requester = cw.session.get(User, handover.requested_by) if handover.requested_by else None
    county = cw.session.get(County, handover.to_county_id)
    _tell_sender(cw, handover, case, [requester] if requester else [], county.name if county else "—",
                 accepted=accept)
    cw.audit(actor, "handover.accept" if accept else "handover.reject", "case", case.id,
             handover=handover.id, before=before,
             after={"county_id": case.county_id, "school_id": case.school_id, "village_id": case.village_id})
    return handover


def _tell_sender(cw: Casework, handover: Handover, case: Case, people: Sequence[User], county: str, *,
                 accepted: bool) -> None:
    """The sending side hears the receiving county's answer."""
    student = cw.session.get(Student, case.student_id)
    params = {"id": case.id, "name": student.name if student else "—", "county": county}
    text = (_("Case #{id} ({name}) was accepted by {county}: it is theirs now, with its history.", **params)
            if accepted else
            _("{county} did not accept case #{id} ({name}): it stays with you, still open.", **params))
    for user in people:
        if user.active and not user.unreachable:
            outbox.enqueue(cw.session, user, text, kind="handover_decision", now=cw.now(), case_id=case.id,
                           dedupe_key=f"hnd:{handover.id}:decided:{user.id}")


def _restart_clock(cw: Casework, case: Case) -> None:
    """The receiving county's people start afresh on the level the case stands on."""
    deadlines.cancel_open(cw, case)
    levels = {level.state: level for level in cw.policy.ladder}
    if case.state in levels:  # a level this county's policy has (an imported case's may not)
        case.level_entered_at = cw.now_db()
        deadlines.schedule_level(cw, case, levels[case.state], start=cw.now())


def _move(cw: Casework, actor: User, case: Case, handover: Handover) -> None:
    """The case and the child go to the receiving county, history and all; where in it the
    child lives or studies is for that county to record (the units of the old one go)."""
    student = cw.session.get(Student, case.student_id)
    from_county = case.county_id
    case.county_id = handover.to_county_id or case.county_id
    case.school_id = case.class_id = case.village_id = None
    case.school_responsible_id = case.village_responsible_id = None
    case.assigned_to_id = actor.id
    # a proposal of the sending county's people is theirs to pursue no more
    for proposal in cw.session.exec(select(Proposal).where(
            Proposal.case_id == case.id, Proposal.status == "pending")).all():
        proposal.status = "withdrawn"
        proposal.decision_note = "handed over"
        cw.session.add(proposal)
    _restart_clock(cw, case)
    touch(cw, case)
    if student is not None:
        student.class_id = student.village_id = None
        student.current_address = handover.new_address
        student.updated_at = cw.now_db()
        cw.session.add(student)
    record_event(cw, case, actor, "handed_over", from_state=case.state, handover=handover.id,
                 from_county=from_county, to_county=case.county_id)


# --- across deployments ----------------------------------------------------------------------


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return to_db(from_db(value)).isoformat() if isinstance(value, datetime) else value.isoformat()


def export_case(cw: Casework, actor: User | None, case_id: int, *, to_county: str,
                new_address: str) -> tuple[Handover, dict[str, Any]]:
    """The case as a hand-over file for another deployment, and the ``outgoing`` record.
    The file holds ID and phone numbers in full: the receiving county needs them."""
    case = _open_case_for_handover(cw, actor, case_id)
    student = cw.session.get(Student, case.student_id)
    county = cw.session.get(County, case.county_id)
    assert student is not None and county is not None
    handover = Handover(direction="outgoing", case_id=case.id, from_county_id=case.county_id,
                        other_county=to_county[:60], new_address=_address(new_address),
                        requested_by=actor.id if actor else None, requested_at=cw.now_db())
    cw.session.add(handover)
    cw.session.flush()
    # the export is part of the history the file carries
    record_event(cw, case, actor, "handover_exported", from_state=case.state, handover=handover.id,
                 to_county=handover.other_county, new_address=handover.new_address)
    cw.session.flush()
    guardians = cw.session.exec(select(Guardian).where(Guardian.student_id == student.id)
                                .order_by(col(Guardian.ordinal))).all()
    events = cw.session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(col(CaseEvent.at), col(CaseEvent.id))).all()
    visits = cw.session.exec(select(Visit).where(Visit.case_id == case.id)
                             .order_by(col(Visit.recorded_at), col(Visit.id))).all()
    names = {u.id: u.display_name for u in cw.session.exec(select(User)).all()}
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(cw.now()),
        "handover": handover.id,
        "from": {"county": county.name, "code": county.code, "policy": case.policy},
        "to": {"county": handover.other_county},
        "new_address": handover.new_address,
        "student": {**{f: getattr(student, f) for f in STUDENT_FIELDS},
                    "birth_date": student.birth_date.isoformat()},
        "guardians": [{"ordinal": g.ordinal, "name": g.name, "relation": g.relation, "phone": g.phone}
                      for g in guardians],
        "case": {"id": case.id, **{f: getattr(case, f) for f in CASE_FIELDS},
                 **{f: _iso(getattr(case, f)) for f in (*CASE_DATES, *CASE_TIMES)}},
        "events": [{"at": _iso(e.at), "kind": e.kind, "from_state": e.from_state, "to_state": e.to_state,
                    "note": e.note, "actor": names.get(e.actor_id) if e.actor_id else None,
                    "data": e.data} for e in events],
        "visits": [{**{f: getattr(v, f) for f in VISIT_FIELDS}, "visit_date": v.visit_date.isoformat(),
                    "promised_return_on": _iso(v.promised_return_on), "recorded_at": _iso(v.recorded_at),
                    "recorded_by": names.get(v.recorded_by)} for v in visits],
    }
    cw.audit(actor, "handover.export", "case", case.id, handover=handover.id, to=handover.other_county,
             full_numbers=True)
    return handover, data


def _bad(why: Text) -> ValidationError:
    return ValidationError("file", _("This is not a hand-over file this system can read: {why}", why=why))


def _check_file(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(_("it is not a hand-over file."))
    if data.get("version") != VERSION:
        raise _bad(_("version {version}; this system reads version {ours}.",
                     version=str(data.get("version")), ours=VERSION))
    try:
        student, case = data["student"], data["case"]
        str(student["name"]), date.fromisoformat(student["birth_date"])
        if case["state"] not in OPEN_STATES or case["level"] not in states.LADDER:
            raise _bad(_("the case is not open."))
        for e in data.get("events", []):
            datetime.fromisoformat(e["at"])
        for v in data.get("visits", []):
            date.fromisoformat(v["visit_date"])
        str(data["new_address"]), str(data["from"]["county"])
    except (KeyError, TypeError, ValueError) as err:
        raise _bad(_("a field is missing or malformed ({field}).", field=str(err))) from err
    return data


def import_file(cw: Casework, data: Any, to_county_id: int) -> Handover:
    """A hand-over file from another deployment, offered to ``to_county_id``'s officers.
    Nothing else is written until one of them accepts."""
    data = _check_file(data)
    county = _county(cw, to_county_id)
    handover = Handover(direction="incoming", to_county_id=county.id,
                        other_county=str(data["from"]["county"])[:60],
                        new_address=_address(str(data["new_address"])), requested_at=cw.now_db(),
                        payload=data)
    cw.session.add(handover)
    cw.session.flush()
    told = _send_offer(cw, handover)
    cw.audit(None, "handover.import", "handover", handover.id, origin=handover.other_county,
             to_county=county.id, told=[u.id for u in told])
    return handover


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _time(value: Any) -> datetime | None:
    return to_db(from_db(datetime.fromisoformat(value))) if value else None


def _create_from_file(cw: Casework, actor: User, handover: Handover) -> Case:
    """The child (the one already known here by ID number, else a new record) and the case
    with its history, as the file holds them, in the receiving county."""
    from models.types import cipher

    data = handover.payload
    child = data["student"]
    now = cw.now_db()
    number = child.get("id_number")
    student = cw.session.exec(select(Student).where(
        col(Student.id_number_hash).in_(cipher().lookup_hashes(number)))).first() if number else None
    if student is not None:
        open_here = cw.session.exec(select(Case.id).where(
            Case.student_id == student.id, col(Case.state).in_(list(OPEN_STATES)))).first()
        if open_here is not None:
            raise IllegalTransition(_("{name} already has an open case here, #{id}: accepting would "
                                      "make a second one.", name=student.name, id=open_here))
    else:
        student = Student(**{f: child.get(f) for f in STUDENT_FIELDS if f not in ("key_groups", "enrolled")},
                          key_groups=list(child.get("key_groups") or []),
                          enrolled=bool(child.get("enrolled", True)),
                          birth_date=date.fromisoformat(child["birth_date"]),
                          id_number_hash=cipher().lookup_hash(number) if number else None,
                          created_at=now, updated_at=now)
        sn = child.get("student_number")
        student.student_number_hash = cipher().lookup_hash(sn) if sn else None
        cw.session.add(student)
        cw.session.flush()
        for g in data.get("guardians", []):
            cw.session.add(Guardian(student_id=student.id or 0, ordinal=int(g["ordinal"]), name=g["name"],
                                    relation=g["relation"], phone=g.get("phone")))
    student.current_address = handover.new_address
    cw.session.add(student)
    old = data["case"]
    fields: dict[str, Any] = {f: old.get(f) for f in CASE_FIELDS}
    fields.update({f: _date(old.get(f)) for f in CASE_DATES})
    fields["reasons"] = list(old.get("reasons") or [])
    fields["current_round"] = int(old.get("current_round") or 0)
    case = Case(student_id=student.id or 0, policy=cw.policy.name, county_id=handover.to_county_id or 0,
                created_at=_time(old.get("created_at")) or now,
                level_entered_at=_time(old.get("level_entered_at")) or now,
                notice_issued_at=_time(old.get("notice_issued_at")),
                assigned_to_id=actor.id, updated_at=now, **fields)
    cw.session.add(case)
    cw.session.flush()
    origin = handover.other_county
    for e in data.get("events", []):
        cw.session.add(CaseEvent(case_id=case.id or 0, at=_time(e["at"]) or now, kind=str(e["kind"])[:32],
                                 from_state=e.get("from_state"), to_state=e.get("to_state"),
                                 note=e.get("note"), data={**(e.get("data") or {}), "actor": e.get("actor"),
                                                          "from_county": origin}))
    for v in data.get("visits", []):
        # a visit recorded by someone of the other system: kept as history, in its own words
        cw.session.add(CaseEvent(case_id=case.id or 0, at=_time(v.get("recorded_at")) or now,
                                 kind="visit_imported", from_state=case.state, to_state=case.state,
                                 data={**v, "from_county": origin}))
    _restart_clock(cw, case)
    record_event(cw, case, actor, "handed_over", from_state=case.state, handover=handover.id,
                 from_county=origin, to_county=case.county_id, original_case=old.get("id"))
    return case


def record_answer(cw: Casework, actor: User | None, handover_id: int, *, accepted: bool,
                  note: str | None = None) -> Handover:
    """The other deployment's answer to an exported case, recorded by the operator:
    accepted closes the case here as handed over; rejected leaves it open."""
    handover = cw.session.get(Handover, handover_id)
    if handover is None or handover.direction != "outgoing":
        raise NotFound(_("There is no such hand-over."))
    if handover.status != "pending":
        raise IllegalTransition(_("This hand-over has already been answered."))
    case = load_case(cw, actor, handover.case_id or 0, "view")
    handover.status = "accepted" if accepted else "rejected"
    handover.decided_by = actor.id if actor else None
    handover.decided_at = cw.now_db()
    handover.decision_note = note
    cw.session.add(handover)
    from_state = case.state
    if accepted:
        deadlines.cancel_open(cw, case)
        case.state = states.TRANSFERRED
        case.outcome = "transferred"
        case.outcome_note = note or handover.other_county
        case.closed_at = cw.now_db()
        touch(cw, case)
        record_event(cw, case, actor, "handed_over", from_state=from_state, handover=handover.id,
                     to_county=handover.other_county)
    else:
        record_event(cw, case, actor, "handover_rejected", from_state=from_state, handover=handover.id)
    # the county that sent it is told (the answer came by another channel, to the operator)
    told = receivers(cw, case.county_id)
    _tell_sender(cw, handover, case, told, handover.other_county or "—", accepted=accepted)
    cw.audit(actor, "handover.answer", "case", case.id, handover=handover.id, accepted=accepted,
             told=[u.id for u in told])
    return handover


def describe(cw: Casework, handover: Handover, *, accept: bool) -> Text:
    """What the person who answered reads."""
    if handover.direction == "incoming":  # the other system hears of it from its operator
        if accept:
            return _("Accepted: case #{id} is now your county's, with its history. Tell {county} "
                     "so they can close it on their side.", id=handover.case_id,
                     county=handover.other_county or "—")
        return _("Rejected: nothing was created here. Tell {county} so they keep the case open.",
                 county=handover.other_county or "—")
    if accept:
        return _("Accepted: case #{id} is now your county's, with its history. The sending side "
                 "has been told.", id=handover.case_id)
    return _("Rejected: the case stays with the sending county, which has been told.")
