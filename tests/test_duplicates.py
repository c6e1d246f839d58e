"""Duplicates in the domain: the matches a door-to-door registration is shown (by ID, by
name and birth date, by guardian phone; only within the person's scope), the county
officer's list of possible duplicates, and a merge that moves everything and takes over
the numbers the kept record lacked."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from casework import duplicates, ladder
from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from demo.county import World
from models.tables import (
    AttendanceMark,
    Case,
    Guardian,
    RegisterChild,
    Student,
    VerificationEntry,
    VerificationRound,
)


def test_registration_matches_stay_inside_the_scope(cw: Casework, world: World) -> None:
    cadre = world.users["village_cadre"]  # 上坪村
    mine = next(s for s in world.students if s.village_id == world.villages[0].id)
    other = next(s for s in world.students if s.village_id not in (None, world.villages[0].id))
    assert mine.id_number is not None and other.id_number is not None

    by_id = duplicates.registration_matches(cw, cadre, name="某某", birth_date=date(2014, 1, 1),
                                            id_number=mine.id_number, phone=None, village_id=cadre.scope_id or 0)
    assert [(m.student.id, m.why) for m in by_id] == [(mine.id, ("id",))]
    both = duplicates.registration_matches(cw, cadre, name=mine.name, birth_date=mine.birth_date,
                                           id_number=mine.id_number, phone=None, village_id=cadre.scope_id or 0)
    assert [(m.student.id, m.why) for m in both] == [(mine.id, ("id", "name_birth"))]
    # a child of another village, by every key: nothing
    assert duplicates.registration_matches(
        cw, cadre, name=other.name, birth_date=other.birth_date, id_number=other.id_number,
        phone=cw.session.exec(select(Guardian.phone).where(Guardian.student_id == other.id)).first(),
        village_id=cadre.scope_id or 0) == []


def test_a_merge_moves_everything_and_takes_the_numbers_the_kept_record_lacked(
        cw: Casework, world: World) -> None:
    officer, cadre = world.users["county_officer"], world.users["village_cadre"]
    pupil = world.students_of_class(world.classes[4])[0]
    # the kept record: registered door to door without an ID number, with a case
    kept = ladder.report(cw, cadre, ladder.ReportInput(
        new_child=ladder.NewChild(name=pupil.name, gender=pupil.gender, birth_date=pupil.birth_date,
                                  village_id=world.villages[0].id, guardian_name="王大山",
                                  guardian_relation="father"),
        source="door_to_door", reasons=("poverty",))).case.student_id
    cw.session.add(AttendanceMark(student_id=pupil.id or 0, class_id=pupil.class_id or 0, day=date(2026, 11, 20),
                                  status="unexcused", recorded_by=world.users["teacher"].id or 0,
                                  recorded_at=cw.now_db()))
    link = RegisterChild(county_id=world.county.id or 0, village_id=world.villages[0].id or 0, name=pupil.name,
                         gender=pupil.gender, birth_date=pupil.birth_date, student_id=pupil.id,
                         created_at=cw.now_db(), updated_at=cw.now_db())
    cw.session.add(link)
    cw.session.flush()
    listed = VerificationRound(county_id=world.county.id or 0, name="核查", due_on=date(2026, 12, 31),
                               created_at=cw.now_db())
    cw.session.add(listed)
    cw.session.flush()
    matched = VerificationEntry(round_id=listed.id or 0, row_number=1, name=pupil.name,
                                county_id=world.county.id or 0, match="id", student_id=pupil.id)
    offered = VerificationEntry(round_id=listed.id or 0, row_number=2, name=pupil.name,
                                county_id=world.county.id or 0, match="candidate", candidate_id=pupil.id)
    cw.session.add_all([matched, offered])
    cw.session.flush()

    pairs = duplicates.candidates(cw, officer)
    assert [(p.keep.id, p.drop.id, p.why) for p in pairs] == [(pupil.id, kept, "name_birth")]
    with pytest.raises(AccessDenied):
        duplicates.merge(cw, world.users["township_officer"], kept, pupil.id or 0)
    other = world.students_of_class(world.classes[4])[1]
    with pytest.raises(ValidationError):  # two ID numbers are two children
        duplicates.merge(cw, officer, other.id or 0, pupil.id or 0)

    number, number_hash, klass = pupil.id_number, pupil.id_number_hash, pupil.class_id
    assert number_hash is not None
    plan = duplicates.merge(cw, officer, kept, pupil.id or 0)
    cw.session.commit()
    assert (plan.cases, plan.guardians) == (0, 1)
    student = cw.session.get(Student, kept)
    assert student is not None and cw.session.get(Student, pupil.id) is None
    # the kept record now has the ID number, its hash and the class of the dropped one
    assert (student.id_number, student.class_id, student.enrolled) == (number, klass, True)
    assert student.id_number_hash == number_hash
    assert sorted(g.ordinal for g in cw.session.exec(select(Guardian).where(Guardian.student_id == kept)).all()) == [1, 2]
    assert cw.session.exec(select(AttendanceMark.student_id)).all() == [kept]
    assert cw.session.get(RegisterChild, link.id).student_id == kept  # type: ignore[union-attr]
    # a verification list's child follows the record it was matched or offered to
    assert cw.session.get(VerificationEntry, matched.id).student_id == kept  # type: ignore[union-attr]
    assert cw.session.get(VerificationEntry, offered.id).candidate_id == kept  # type: ignore[union-attr]
    assert [c.student_id for c in cw.session.exec(select(Case)).all()] == [kept]
