"""Working through a round: each child's disposition with its evidence, and its review.

A disposition is a proposal, as closing a case is (``casework.outcomes``): it carries the
evidence the profile names for its category (``[verification]``, checked by
``casework.evidence``), and a second person at the level the profile names (the township
by default) approves or rejects it (``outcomes.check_reviewer``: never the proposer). A
rejected disposition goes back to the verifier with the reason. 确属失学辍学 opens a
case on the profile's ladder at once (``ladder.report``), linked to the child's entry: a
child out of school is never left waiting for a review.

Who may see and work on which child is the one scope rule (``scope.visible_entries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import col, select

from casework import codes, evidence, ladder, validation
from casework.context import Casework
from casework.errors import AccessDenied, IllegalTransition, NotFound, ValidationError
from casework.i18n import Text, _
from casework.labels import date_text, n_
from casework.outbox import enqueue, text_to_json
from casework.outcomes import check_reviewer
from casework.policy import review_level
from casework.scope import unit_within, visible_entries
from casework.verification.categories import DETAILS, DISPOSITIONS, DROPOUT, label
from casework.verification.importing import due_text, reassign_by_address, responsible
from models.tables import (
    Case,
    Student,
    Township,
    User,
    VerificationEntry,
    VerificationRound,
    Village,
)

VERIFY_ROLES = frozenset({"teacher", "school_admin", "village_cadre", "township_officer",
                          "county_officer", "admin"})
REVIEW_ROLES = frozenset({"township_officer", "county_officer", "admin"})
E = VerificationEntry


def _deny(actor: User, action: str, entry_id: int | None) -> AccessDenied:
    return AccessDenied(_("This child is not on your verification list."), actor_id=actor.id,
                        action=action, object_type="verification_entry", object_id=entry_id)


def load_entry(cw: Casework, actor: User, entry_id: int, action: str = "verification.view") -> VerificationEntry:
    """A child of a round the actor may see (the scope rule); anything else is refused, audited."""
    if not actor.active or actor.role not in VERIFY_ROLES:
        raise _deny(actor, action, entry_id)
    entry = cw.session.exec(select(E).where(E.id == entry_id, visible_entries(actor))).first()
    if entry is None:
        if cw.session.get(E, entry_id) is None:
            raise NotFound(_("There is no such child on a verification list."))
        raise _deny(actor, action, entry_id)
    return entry


def round_of(cw: Casework, entry: VerificationEntry) -> VerificationRound:
    rnd = cw.session.get(VerificationRound, entry.round_id)
    assert rnd is not None
    return rnd


# --- the lists -----------------------------------------------------------------------------------


def own_entries(user: User) -> Any:
    """The children ``user`` is to verify: those they see (the scope rule), less, for the
    officers above a village or school, the children already placed in one of their units
    (the township's own are the ones no village or school was found for; the county's, the
    ones no township was)."""
    seen = visible_entries(user)
    if user.role == "township_officer":
        return and_(seen, col(E.village_id).is_(None), col(E.school_id).is_(None))
    if user.role in ("county_officer", "admin"):
        return and_(seen, col(E.township_id).is_(None))
    return seen


@dataclass(frozen=True)
class MyRound:
    round: VerificationRound
    open: int
    total: int


def my_rounds(cw: Casework, actor: User) -> list[MyRound]:
    """The rounds with children in the actor's scope, latest due first, with how many are open."""
    if not actor.active or actor.role not in VERIFY_ROLES:
        return []
    rows = cw.session.exec(
        select(E.round_id, func.count()).where(visible_entries(actor), E.status != "duplicate")
        .group_by(col(E.round_id))
    ).all()
    totals: dict[int, list[int]] = {round_id: [0, int(n)] for round_id, n in rows}
    mine = cw.session.exec(
        select(E.round_id, func.count()).where(own_entries(actor), E.status == "open").group_by(col(E.round_id))
    ).all()
    for round_id, n in mine:
        totals.setdefault(round_id, [0, 0])[0] = int(n)
    found = []
    for round_id, (open_n, total) in totals.items():
        rnd = cw.session.get(VerificationRound, round_id)
        if rnd is not None:
            found.append(MyRound(rnd, open_n, total))
    return sorted(found, key=lambda r: (r.round.due_on, r.round.id or 0), reverse=True)


def next_open(cw: Casework, actor: User, round_id: int) -> tuple[VerificationEntry | None, int]:
    """The next child the actor has to verify in the round (in list order), and how many are left."""
    query = select(E).where(E.round_id == round_id, E.status == "open", own_entries(actor))
    left = cw.session.exec(select(func.count()).select_from(query.subquery())).one()
    entry = cw.session.exec(query.order_by(col(E.row_number)).limit(1)).first()
    if entry is not None:
        cw.audit(actor, "verification.view", "verification_entry", entry.id)
    return entry, int(left)


def describe(cw: Casework, entry: VerificationEntry) -> list[Text]:
    """What the verifier reads about a child: the list's data (the ID number masked) and the
    candidate to confirm, if any."""
    from casework.personal import mask_id

    lines = [
        _("{name}, {gender}, born {birth}", name=entry.name,
          gender=codes.label("gender", entry.gender) if entry.gender else Text("—"),
          birth=date_text(entry.birth_date)),
        _("ID number: {id}", id=mask_id(entry.id_raw) if entry.id_raw else _("missing")),
        _("Registered residence: {address}", address=entry.hukou_address or "—"),
    ]
    if entry.id_status == "invalid":
        lines.append(_("The ID number on the list is not valid."))
    if entry.batch:
        lines.append(_("Source: {batch}", batch=entry.batch))
    if entry.match == "candidate" and entry.candidate_id is not None:
        child = cw.session.get(Student, entry.candidate_id)
        if child is not None:
            lines.append(_("Possibly our pupil {name}, born {birth}: is this the same child?",
                           name=child.name, birth=date_text(child.birth_date)))
    if entry.decision_note and entry.status == "open":
        lines.append(_("Sent back by the reviewer: {note}", note=entry.decision_note))
    return lines


# --- a candidate confirmed or denied -------------------------------------------------------------


def resolve_candidate(cw: Casework, actor: User, entry_id: int, same: bool) -> Text:
    """The unit says whether the child matched by name and birth date is theirs: confirmed,
    the entry is that pupil's; denied, the child goes where its 户籍 address says."""
    entry = load_entry(cw, actor, entry_id, "verification.match")
    if entry.match != "candidate" or entry.status != "open":
        raise IllegalTransition(_("That question is finished; see the latest message."))
    cw.audit(actor, "verification.match", "verification_entry", entry.id, same=same,
             student_id=entry.candidate_id)
    if same:
        entry.student_id, entry.match = entry.candidate_id, "confirmed"
        cw.session.add(entry)
        return _("Confirmed: {name} is our pupil.", name=entry.name)
    entry.candidate_id, entry.match = None, "none"
    reassign_by_address(cw, entry)
    cw.session.add(entry)
    return _("Noted: {name} is not our pupil; the child goes to the unit of the registered residence.",
             name=entry.name)


# --- a child no unit was found for, passed to a village ------------------------------------------

ASSIGN_ROLES = frozenset({"township_officer", "county_officer", "admin"})


def assignable_villages(cw: Casework, actor: User, entry: VerificationEntry) -> list[Village]:
    """The villages the actor may pass an unassigned child to: those of the entry's township
    (or of the county, for a child nobody could place), within the actor's scope."""
    if actor.role not in ASSIGN_ROLES or entry.village_id is not None or entry.school_id is not None:
        return []
    query = select(Village).join(Township, col(Township.id) == col(Village.township_id)).where(
        Township.county_id == entry.county_id)
    if entry.township_id is not None:
        query = query.where(Village.township_id == entry.township_id)
    found = cw.session.exec(query.order_by(col(Village.id))).all()
    return [v for v in found if unit_within(cw.session, actor, "village", v.id)]


def assign(cw: Casework, actor: User, entry_id: int, village_id: int) -> Text:
    """The township officer passes a child the list's address placed nowhere to a village,
    whose cadre is told."""
    from casework.callbacks import VerifyTap

    entry = load_entry(cw, actor, entry_id, "verification.assign")
    if entry.status != "open":
        raise IllegalTransition(_("{name} was already verified.", name=entry.name))
    village = next((v for v in assignable_villages(cw, actor, entry) if v.id == village_id), None)
    if village is None:
        raise _deny(actor, "verification.assign", entry_id)
    entry.village_id, entry.township_id = village.id, village.township_id
    cw.session.add(entry)
    cw.audit(actor, "verification.assign", "verification_entry", entry.id, village_id=village.id)
    rnd = round_of(cw, entry)
    for user in responsible(cw, entry.county_id, village.township_id, village.id, None, None):
        if user.active and user.telegram_id is not None and user.id != actor.id:
            text = _("{name} of “{round}” was passed to you to verify, due {due}.", name=entry.name,
                     round=rnd.name, due=due_text(rnd.due_on))
            button = {"text": text_to_json(_("▶ Start verifying")), "data": VerifyTap("n", rnd.id or 0).encode()}
            enqueue(cw.session, user, text, kind="verification", now=cw.now(),
                    buttons=[[button]])  # type: ignore[list-item]
    return _("{name} passed to {village}.", name=entry.name, village=village.name)


# --- the disposition -----------------------------------------------------------------------------


def evidence_kinds(cw: Casework, disposition: str) -> list[str]:
    return cw.policy.verification.evidence_for(disposition)


def propose(
    cw: Casework,
    actor: User,
    entry_id: int,
    disposition: str,
    *,
    detail: str | None = None,
    note: str | None = None,
    proof: Sequence[dict[str, Any]] = (),
    reasons: Sequence[str] = (),
    gender: str | None = None,
) -> Text:
    """Give a child's disposition with its evidence; it waits for the township's review.
    确属失学辍学 opens (or links) the child's case on the ladder at once; a child we have no
    record of is registered with the gender the verifier gives when the list gives none
    (``needs_gender``)."""
    entry = load_entry(cw, actor, entry_id, "verification.dispose")
    if entry.status != "open":
        raise IllegalTransition(_("{name} was already verified.", name=entry.name))
    if entry.match == "candidate":
        raise IllegalTransition(_("Say first whether {name} is the pupil we matched.", name=entry.name))
    if disposition not in DISPOSITIONS:
        raise ValidationError("disposition", _("“{code}” is not a known choice.", code=disposition))
    subs = DETAILS.get(disposition)
    if subs and detail not in subs:
        raise ValidationError("detail", _("Choose one of the options."))
    detail = detail if subs else None
    if note:
        note = evidence.meaningful(validation.free_text(note, field="note", max_len=500), field="note")
    evidence.check_proposal(evidence_kinds(cw, disposition), proof)
    if disposition == DROPOUT:
        entry.case_id = _open_case(cw, actor, entry, reasons, note, gender)
    entry.status, entry.disposition, entry.detail = "proposed", disposition, detail
    entry.note, entry.evidence = note, list(proof)
    entry.proposed_by, entry.proposed_at = actor.id, cw.now_db()
    entry.decided_by = entry.decided_at = None
    cw.session.add(entry)
    cw.audit(actor, "verification.dispose", "verification_entry", entry.id,
             disposition=disposition, detail=detail, case_id=entry.case_id)
    cw.session.flush()
    _tell_reviewers_when_done(cw, actor, entry)
    said = _("{name}: {disposition}. Sent for review.", name=entry.name, disposition=label(disposition, detail))
    if disposition == DROPOUT:  # (a case opened before the review sent it back stays linked)
        said = _("{name}: confirmed out of school; case #{id} is open on the ladder. Sent for review.",
                 name=entry.name, id=entry.case_id)
    return said


def needs_gender(entry: VerificationEntry) -> bool:
    """Whether confirming the child out of school registers a child we have no record of
    whose gender the list does not give (nor a valid ID number): the verifier, who found
    the child, is asked; a gender is never guessed (it goes on the official forms)."""
    return entry.student_id is None and entry.gender is None


def _open_case(cw: Casework, actor: User, entry: VerificationEntry, reasons: Sequence[str],
               note: str | None, gender: str | None) -> int:
    """The case of a child confirmed out of school: the pupil's open case if there is one,
    else a new one (a child not in our records is registered first, in the village, with
    the list's gender or else the verifier's)."""
    if not reasons:
        raise ValidationError("reasons", _("Choose at least one reason."))
    student_id = entry.student_id
    if student_id is None:
        if entry.village_id is None or entry.birth_date is None:
            raise IllegalTransition(_("Assign {name} to a village first: a case needs the child's village.",
                                      name=entry.name))
        gender = entry.gender or gender
        if gender is None or gender not in codes.GENDERS:
            raise ValidationError("gender", _("The list does not give the gender of {name}: say whether "
                                              "the child is male or female.", name=entry.name))
        student = Student(name=entry.name, gender=gender, birth_date=entry.birth_date,
                          hukou_address=entry.hukou_address, village_id=entry.village_id, enrolled=False,
                          key_groups=[], created_at=cw.now_db(), updated_at=cw.now_db())
        if entry.id_status == "valid" and entry.id_raw:
            from models.types import cipher

            number = validation.resident_id(entry.id_raw)
            taken = cw.session.exec(select(Student.id).where(
                col(Student.id_number_hash).in_(cipher().lookup_hashes(number)))).first()
            if taken is None:
                student.id_number, student.id_number_hash = number, cipher().lookup_hash(number)
        cw.session.add(student)
        cw.session.flush()
        cw.audit(actor, "student.register", "student", student.id, via="verification",
                 gender_from="list" if entry.gender else "verifier")
        entry.student_id = student_id = student.id
    existing = cw.session.exec(select(Case).where(
        Case.student_id == student_id, col(Case.closed_at).is_(None))).first()
    if existing is not None:
        return existing.id or 0
    out = ladder.report(cw, actor, ladder.ReportInput(
        student_id=student_id, source="verification", reasons=tuple(reasons), reason_note=note,
        note=_("From the verification list “{round}”, row {row}.", round=round_of(cw, entry).name,
               row=entry.row_number).render("zh_Hans")))
    cw.audit(actor, "verification.case", "case", out.case.id, round_id=entry.round_id, entry_id=entry.id)
    return out.case.id or 0


def _reviewers(cw: Casework, entry: VerificationEntry) -> list[User]:
    found = responsible(cw, entry.county_id, entry.township_id, None, None, None)
    return [u for u in found if u.role in REVIEW_ROLES]


def _tell_reviewers_when_done(cw: Casework, actor: User, entry: VerificationEntry) -> None:
    """When the verifier has no child left open in the round, the reviewers are told once
    how many wait for them (not one message per child)."""
    from casework.callbacks import VerifyTap

    left = cw.session.exec(select(func.count()).select_from(
        select(E.id).where(E.round_id == entry.round_id, E.status == "open", own_entries(actor)).subquery()
    )).one()
    if left:
        return
    waiting = cw.session.exec(select(func.count()).select_from(
        select(E.id).where(E.round_id == entry.round_id, E.status == "proposed",
                           E.proposed_by == actor.id).subquery())).one()
    rnd = round_of(cw, entry)
    for user in _reviewers(cw, entry):
        if user.id == actor.id or user.telegram_id is None:
            continue
        text = n_("{who} has verified their children of “{round}”: {n} disposition waits for your review.",
                  "{who} has verified their children of “{round}”: {n} dispositions wait for your review.",
                  int(waiting), who=actor.display_name, round=rnd.name)
        button = {"text": text_to_json(_("🔎 Review")), "data": VerifyTap("q", rnd.id or 0).encode()}
        enqueue(cw.session, user, text, kind="verification_review", now=cw.now(),
                buttons=[[button]])  # type: ignore[list-item]


# --- the review ----------------------------------------------------------------------------------


def reviewer_role(cw: Casework, entry: VerificationEntry) -> str:
    proposer = cw.session.get(User, entry.proposed_by) if entry.proposed_by else None
    return review_level(cw.policy.verification.reviewer, proposer.role if proposer else "county_officer")


def may_decide(cw: Casework, actor: User, entry: VerificationEntry) -> bool:
    from casework.states import ROLE_RANK

    return (entry.status == "proposed" and entry.proposed_by != actor.id and actor.role in REVIEW_ROLES
            and ROLE_RANK[actor.role] >= ROLE_RANK[reviewer_role(cw, entry)])


def review_queue(cw: Casework, actor: User) -> list[VerificationEntry]:
    """Dispositions waiting for this reviewer, oldest first, within their scope."""
    if not actor.active or actor.role not in REVIEW_ROLES:
        return []
    found = cw.session.exec(select(E).where(E.status == "proposed", visible_entries(actor))
                            .order_by(col(E.proposed_at), col(E.id))).all()
    return [e for e in found if may_decide(cw, actor, e)]


def load_review(cw: Casework, actor: User, entry_id: int) -> VerificationEntry:
    entry = load_entry(cw, actor, entry_id, "verification.decide")
    if entry.status != "proposed":
        raise IllegalTransition(_("This proposal was already decided."))
    if actor.role not in REVIEW_ROLES:
        raise _deny(actor, "verification.decide", entry_id)
    check_reviewer(cw, actor, entry.proposed_by, reviewer_role(cw, entry), action="verification.decide",
                   object_type="verification_entry", object_id=entry.id)
    return entry


def decide(cw: Casework, actor: User, entry_id: int, approve: bool, note: str | None = None) -> Text:
    """Approve a disposition, or send it back to the verifier with the reason."""
    from casework.callbacks import VerifyTap

    entry = load_review(cw, actor, entry_id)
    note = note.strip() if note else None
    if not approve:
        if not note:
            raise ValidationError("note", _("Give a reason for the rejection."))
        evidence.meaningful(note, field="note")
    entry.decided_by, entry.decided_at, entry.decision_note = actor.id, cw.now_db(), note
    cw.audit(actor, "verification.decide", "verification_entry", entry.id, approve=approve)
    if approve:
        entry.status = "approved"
        cw.session.add(entry)
        return _("Approved: {name}, {disposition}.", name=entry.name,
                 disposition=label(entry.disposition, entry.detail))
    entry.status = "open"
    cw.session.add(entry)
    proposer = cw.session.get(User, entry.proposed_by) if entry.proposed_by else None
    if proposer is not None and proposer.active and proposer.telegram_id is not None:
        text = _("The verification of {name} was sent back: {note}", name=entry.name, note=note or "")
        button = {"text": text_to_json(_("✏️ Verify again")), "data": VerifyTap("d", entry.id or 0).encode()}
        enqueue(cw.session, proposer, text, kind="verification_review", now=cw.now(),
                buttons=[[button]])  # type: ignore[list-item]
    return _("Sent back to the verifier.")


# --- the reminder before the due date ------------------------------------------------------------


def on_reminder(cw: Casework, deadline: Any, case: Case | None) -> str:
    """A ``verification_due`` row: everyone with children still to verify is reminded."""
    from casework.callbacks import VerifyTap
    from casework.verification.importing import open_counts

    rnd = cw.session.get(VerificationRound, deadline.payload.get("round_id"))
    if rnd is None:
        return "round gone"
    told = 0
    for user, n in open_counts(cw, rnd).values():
        if not user.active or user.telegram_id is None:
            continue
        text = n_("Reminder: {n} child is still to verify for “{round}”, due {due}.",
                  "Reminder: {n} children are still to verify for “{round}”, due {due}.", n,
                  round=rnd.name, due=due_text(rnd.due_on))
        button = {"text": text_to_json(_("▶ Start verifying")), "data": VerifyTap("n", rnd.id or 0).encode()}
        enqueue(cw.session, user, text, kind="verification_due", now=cw.now(),
                buttons=[[button]])  # type: ignore[list-item]
        told += 1
    return f"reminded {told}"
