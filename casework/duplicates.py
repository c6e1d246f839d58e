"""Duplicates: the same child recorded twice.

Before a child is registered door to door the person sees the children who may be the
same one (:func:`registration_matches`): the same ID number, the same name and date of
birth in the county, the same guardian phone. Only children in their scope are shown
(``casework.scope``); a child with the same ID number outside it becomes a transfer
request when the report is confirmed (``casework.transfers``), and a name or phone that
matches outside the scope is never mentioned: what exists elsewhere is not revealed.

The county officer sees the possible duplicates of the county (:func:`candidates`: the
same name and date of birth, or the same name and guardian phone) and merges two records
into one (:func:`merge`): the cases, guardians, attendance, roll-call entries, transfer
requests and register links of the dropped record move to the kept one, the kept one
takes the numbers and units it lacked, and the dropped one is deleted, all audited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, update
from sqlmodel import col, select

from casework import validation
from casework.context import Casework
from casework.errors import AccessDenied, NotFound, ValidationError
from casework.i18n import _
from casework.scope import STUDENT_UNITS, visible, visible_students
from models.tables import (
    AttendanceMark,
    Case,
    Guardian,
    RegisterChild,
    RollCallEntry,
    Student,
    TransferRequest,
    User,
    VerificationEntry,
    Village,
)
from models.types import cipher

MERGE_ROLES = frozenset({"county_officer", "admin"})
MAX_MATCHES = 6
MAX_CANDIDATES = 30


@dataclass(frozen=True)
class Match:
    student: Student
    why: tuple[str, ...]  # id | name_birth | phone


def _county_of_village(cw: Casework, village_id: int) -> int | None:
    from models.tables import Township

    village = cw.session.get(Village, village_id)
    township = cw.session.get(Township, village.township_id) if village is not None else None
    return township.county_id if township is not None else None


def registration_matches(
    cw: Casework,
    actor: User,
    *,
    name: str,
    birth_date: date,
    id_number: str | None,
    phone: str | None,
    village_id: int,
) -> list[Match]:
    """The children in the actor's scope who may be the child being registered."""
    reasons: dict[int, list[str]] = defaultdict(list)
    found: dict[int, Student] = {}
    if id_number:
        for s in cw.session.exec(select(Student).where(
                col(Student.id_number_hash).in_(cipher().lookup_hashes(validation.resident_id(id_number))),
                visible_students(actor))).all():
            found[s.id or 0] = s
            reasons[s.id or 0].append("id")
    county_id = _county_of_village(cw, village_id)
    same = select(Student).where(Student.name == name, Student.birth_date == birth_date,
                                 visible_students(actor))
    if county_id is not None:
        same = same.where(STUDENT_UNITS.county == county_id)
    for s in cw.session.exec(same.limit(MAX_MATCHES)).all():
        found[s.id or 0] = s
        reasons[s.id or 0].append("name_birth")
    if phone:
        # phones are encrypted without a lookup hash: compare within the actor's scope only
        rows = cw.session.exec(
            select(Student, Guardian.phone).join(Guardian, col(Guardian.student_id) == Student.id)
            .where(visible_students(actor), col(Guardian.phone).is_not(None))
        ).all()
        for s, guardian_phone in rows:
            if guardian_phone == phone and "phone" not in reasons[s.id or 0]:
                found[s.id or 0] = s
                reasons[s.id or 0].append("phone")
    matches = [Match(found[i], tuple(reasons[i])) for i in found]
    matches.sort(key=lambda m: (-len(m.why), m.student.id or 0))
    matches = matches[:MAX_MATCHES]
    cw.audit_list(actor, "student.matches", "student", [m.student.id for m in matches])
    return matches


# --- the county officer's list and the merge --------------------------------------------------


@dataclass(frozen=True)
class Pair:
    keep: Student  # the older record: the one a merge keeps by default
    drop: Student
    why: str  # name_birth | name_phone


def _check_merger(actor: User | None) -> None:
    if actor is None or (actor.role == "admin" and actor.scope_kind == "all"):
        return
    if not actor.active or actor.role not in MERGE_ROLES:
        raise AccessDenied(_("Only the county officer merges duplicate records."),
                           actor_id=actor.id, action="student.merge", object_type="student",
                           object_id=None)


def candidates(cw: Casework, actor: User | None) -> list[Pair]:
    """Possible duplicates among the students the county officer sees: the same name and
    date of birth, or the same name and guardian phone (siblings share a phone, not a
    name). ``None``: the operator, every county. Audited as a list view."""
    _check_merger(actor)
    query = select(Student).order_by(col(Student.id))
    if actor is not None:
        query = query.where(visible_students(actor))
    students = cw.session.exec(query).all()
    pairs: list[Pair] = []
    seen: set[tuple[int, int]] = set()

    def add(group: list[Student], why: str) -> None:
        first = group[0]
        for other in group[1:]:
            key = (first.id or 0, other.id or 0)
            if key not in seen:
                seen.add(key)
                pairs.append(Pair(first, other, why))

    by_name_birth: dict[tuple[str, date], list[Student]] = defaultdict(list)
    for s in students:
        by_name_birth[(s.name, s.birth_date)].append(s)
    for group in by_name_birth.values():
        if len(group) > 1:
            add(group, "name_birth")
    by_id = {s.id: s for s in students}
    phones = cw.session.exec(select(Guardian.student_id, Guardian.phone).where(
        col(Guardian.student_id).in_(list(by_id)), col(Guardian.phone).is_not(None))).all() if by_id else []
    by_name_phone: dict[tuple[str, str], list[Student]] = defaultdict(list)
    for sid, phone in phones:
        student = by_id.get(sid)
        if student is not None and phone:
            group = by_name_phone[(student.name, phone)]
            if student not in group:
                group.append(student)
    for group in by_name_phone.values():
        if len(group) > 1:
            add(sorted(group, key=lambda s: s.id or 0), "name_phone")
    pairs = pairs[:MAX_CANDIDATES]
    cw.audit_list(actor, "student.duplicates", "student",
                  [i for p in pairs for i in (p.keep.id, p.drop.id)])
    return pairs


def _load_pair(cw: Casework, actor: User | None, keep_id: int, drop_id: int) -> tuple[Student, Student]:
    _check_merger(actor)
    if keep_id == drop_id:
        raise ValidationError("student", _("A record cannot be merged into itself."))
    keep, drop = cw.session.get(Student, keep_id), cw.session.get(Student, drop_id)
    if keep is None or drop is None:
        raise NotFound(_("One of these records no longer exists (merged already?)."))
    if actor is not None:
        allowed = cw.session.exec(select(Student.id).where(
            col(Student.id).in_([keep_id, drop_id]), visible(actor, STUDENT_UNITS))).all()
        if len(allowed) != 2:
            raise AccessDenied(_("Both records must be in your area."), actor_id=actor.id,
                               action="student.merge", object_type="student", object_id=drop_id)
    if keep.id_number_hash and drop.id_number_hash:
        # two ID numbers are two children (or a wrong number to correct first), never one
        raise ValidationError("student", _("These two records have different ID numbers: they are "
                                           "not one child. Correct the wrong number first."))
    return keep, drop


@dataclass(frozen=True)
class MergePlan:
    keep: Student
    drop: Student
    cases: int
    guardians: int


def preview(cw: Casework, actor: User | None, keep_id: int, drop_id: int) -> MergePlan:
    """What a merge would move, for the confirmation."""
    keep, drop = _load_pair(cw, actor, keep_id, drop_id)
    cases = len(cw.session.exec(select(Case.id).where(Case.student_id == drop_id)).all())
    guardians = len(cw.session.exec(select(Guardian.id).where(Guardian.student_id == drop_id)).all())
    return MergePlan(keep, drop, cases, guardians)


_FILL = ("id_number", "student_number", "ethnicity", "health", "hukou_address", "register_address",
         "current_address", "village_id", "class_id")


def merge(cw: Casework, actor: User | None, keep_id: int, drop_id: int) -> MergePlan:
    """Merge ``drop`` into ``keep`` in the caller's transaction (see the module's words)."""
    plan = preview(cw, actor, keep_id, drop_id)
    keep, drop = plan.keep, plan.drop
    before = {"keep": _snapshot(keep), "drop": _snapshot(drop)}
    # the numbers are unique: free them on the dropped record before the kept one takes them
    taken = {"id_number": drop.id_number, "id_number_hash": drop.id_number_hash,
             "student_number": drop.student_number, "student_number_hash": drop.student_number_hash}
    drop.id_number = drop.id_number_hash = drop.student_number = drop.student_number_hash = None
    cw.session.add(drop)
    cw.session.flush()
    for name in _FILL:
        if getattr(keep, name) is None:
            value = taken.get(name, getattr(drop, name))
            setattr(keep, name, value)
            if name in ("id_number", "student_number") and value is not None:
                setattr(keep, f"{name}_hash", taken[f"{name}_hash"])
    keep.enrolled = keep.enrolled or drop.enrolled
    keep.key_groups = sorted(set(keep.key_groups) | set(drop.key_groups))
    keep.updated_at = cw.now_db()
    cw.session.add(keep)
    moved_cases = list(cw.session.exec(select(Case.id).where(Case.student_id == drop.id)).all())
    cw.session.exec(update(Case).where(col(Case.student_id) == drop.id)
                    .values(student_id=keep.id))
    # guardians: the dropped record's come after the kept one's
    last = max((g.ordinal for g in cw.session.exec(
        select(Guardian).where(Guardian.student_id == keep.id)).all()), default=0)
    for g in cw.session.exec(select(Guardian).where(Guardian.student_id == drop.id)
                             .order_by(col(Guardian.ordinal))).all():
        last += 1
        g.student_id, g.ordinal = keep.id or 0, last
        cw.session.add(g)
    # attendance and roll-call rows: a day or roll call the kept record has wins
    kept_days = set(cw.session.exec(select(col(AttendanceMark.day)).where(
        AttendanceMark.student_id == keep.id)).all())
    for mark in cw.session.exec(select(AttendanceMark).where(AttendanceMark.student_id == drop.id)).all():
        if mark.day in kept_days:
            cw.session.delete(mark)
        else:
            mark.student_id = keep.id or 0
            cw.session.add(mark)
    kept_calls = set(cw.session.exec(select(RollCallEntry.roll_call_id).where(
        RollCallEntry.student_id == keep.id)).all())
    for entry in cw.session.exec(select(RollCallEntry).where(RollCallEntry.student_id == drop.id)).all():
        if entry.roll_call_id in kept_calls:
            cw.session.delete(entry)
        else:
            entry.student_id = keep.id or 0
            cw.session.add(entry)
    cw.session.exec(update(TransferRequest)
                    .where(col(TransferRequest.student_id) == drop.id).values(student_id=keep.id))
    cw.session.exec(update(RegisterChild)
                    .where(col(RegisterChild.student_id) == drop.id).values(student_id=keep.id))
    # a verification list's child matched (or offered as a candidate) to the dropped record
    cw.session.exec(update(VerificationEntry)
                    .where(col(VerificationEntry.student_id) == drop.id).values(student_id=keep.id))
    cw.session.exec(update(VerificationEntry)
                    .where(col(VerificationEntry.candidate_id) == drop.id).values(candidate_id=keep.id))
    cw.session.flush()
    cw.session.exec(delete(Student).where(col(Student.id) == drop.id))
    cw.session.expunge(drop)
    cw.session.flush()
    cw.audit(actor, "student.merge", "student", keep.id, dropped=drop_id, cases=moved_cases,
             guardians=plan.guardians, before=before, after=_snapshot(keep))
    return plan


def _snapshot(s: Student) -> dict[str, object]:
    """What the audit keeps of a record: never its numbers, only whether it had them."""
    return {"id": s.id, "name": s.name, "birth_date": s.birth_date.isoformat(),
            "class_id": s.class_id, "village_id": s.village_id, "enrolled": s.enrolled,
            "has_id_number": s.id_number_hash is not None,
            "has_student_number": s.student_number_hash is not None}
