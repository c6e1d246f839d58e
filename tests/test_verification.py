"""Verification rounds (核查) in the domain: a suspect list imported all or nothing, matched
in batches (by ID hash; by name and birth date only as a candidate), assigned to the unit
that verifies each child; dispositions with evidence, the township's review, a confirmed
dropout opening a case; the export in the province's columns; the quarterly sample."""

from __future__ import annotations

import io
import random
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import event
from sqlmodel import select

from casework.errors import AccessDenied, IllegalTransition, ValidationError
from casework.verification import export, importing, sample, work
from demo.county import World
from demo.verification_list import Child, suspect_list
from documents.verification_xlsx import write_xlsx
from models.tables import AuditEvent, Case, Deadline, OutboxMessage, Student, VerificationEntry

DUE = date(2026, 12, 18)
PHOTO = {"kind": "photo", "file_id": "p1", "width": 1000, "height": 800}


def ours(world: World, *indexes: int) -> list[Child]:
    return [Child(s.name, s.gender, s.birth_date, s.id_number, s.hukou_address or "")
            for s in (world.students[i] for i in indexes)]


def test_a_bad_row_imports_nothing_and_is_named(cw, world) -> None:  # type: ignore[no-untyped-def]
    headers = ["姓名", "身份证号", "性别", "出生日期（年月日）", "户籍所在地", "批次"]
    rows = [(2, ["张三", "", "男", "2015-03-02", "青松县上坪村", "一批"]),
            (3, ["", "", "男", "2015-03-02", "青松县上坪村", "一批"]),  # no name
            (4, ["李四", "", "男", "", "青松县上坪村", "一批"]),  # nobody to tell him by
            (5, ["王五", "", "不详", "2014-01-01", "", ""])]  # gender
    with pytest.raises(ValidationError) as err:
        importing.import_round(cw, world.users["county_officer"], name="第一批", due_on=DUE,
                               headers=headers, rows=rows)
    said = err.value.text.render("en")
    assert said.startswith("Nothing was imported: 3 rows cannot be used.")
    assert "Row 3: name: missing" in said and "Row 4: date of birth:" in said and "Row 5: gender:" in said
    assert "Row 2" not in said
    assert cw.session.exec(select(VerificationEntry)).all() == []


def test_only_a_county_officer_imports(cw, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied):
        importing.import_round(cw, world.users["township_officer"], name="x", due_on=DUE,
                               headers=["姓名", "出生日期"], rows=[(2, ["张三", "2015-01-01"])])


def test_matching_is_one_query_per_batch_and_assigns_every_child(cw, world, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # pupils 16–19 are 梅林中学 七年级1班 (classes[4]); 0 is at the primary school
    mine = ours(world, 16, 17, 18, 19, 0)
    headers, rows = suspect_list(mine, ["上坪村", "溪口村", "竹园村", "下坪村"], ["梅林镇", "石桥乡"],
                                 size=200, today=cw.today(), duplicates=6, bad_id_share=0)
    # the pupils' own rows: 16 by ID, 17 with a wrong check digit, 18 with none
    rows[1][1][2] = rows[1][1][2][:17] + ("0" if rows[1][1][2][17] != "0" else "1")  # type: ignore[index]
    rows[2][1][2] = ""
    students = []
    monkeypatch.setattr(importing, "BATCH", 50)
    event.listen(engine, "before_cursor_execute",
                 lambda *a: students.append(1) if re.search(r"\bFROM student\b", a[2]) else None)
    out = importing.import_round(cw, world.users["county_officer"], name="2026秋第一批", due_on=DUE,
                                 headers=headers, rows=rows)
    # one or two lookups of students per batch of 50 (by ID, then by name and birth date),
    # not one per row
    assert 4 <= len(students) <= 2 * 4, len(students)
    assert (out.rows, out.duplicates) == (200, 6)
    entries = cw.session.exec(select(VerificationEntry).order_by(VerificationEntry.row_number)).all()
    by_row = {e.row_number: e for e in entries}
    assert (by_row[2].match, by_row[2].student_id, by_row[2].class_id) == ("id", world.students[16].id,
                                                                           world.classes[4].id)
    assert (by_row[3].match, by_row[3].student_id, by_row[3].candidate_id, by_row[3].id_status) == (
        "candidate", None, world.students[17].id, "invalid")
    assert (by_row[4].match, by_row[4].candidate_id, by_row[4].id_status) == (
        "candidate", world.students[18].id, "missing")
    assert by_row[4].class_id == world.classes[4].id  # the class that knows the pupil confirms
    assert out.by_id == 3 and out.candidates == 2
    # the ID cell is never kept in the clear: the number is in its encrypted column
    assert all(e.cells[2] == "" for e in entries)
    from sqlalchemy import text

    stored = cw.session.execute(text("SELECT id_raw FROM verification_entry WHERE row_number = 2")).scalar()
    assert by_row[2].id_raw == world.students[16].id_number and stored != by_row[2].id_raw
    # every child has a unit; a duplicate is tied to the first row
    dups = [e for e in entries if e.status == "duplicate"]
    assert len(dups) == 6 and all(d.duplicate_of for d in dups)
    assert out.to_school + out.to_village + out.to_township + out.to_county == 194
    assert out.to_village > 100 and out.to_township > 0 and out.to_county > 0
    # reminders at the policy's lead times before the due date, and everyone told
    reminders = cw.session.exec(select(Deadline).where(Deadline.kind == "verification_due")).all()
    assert len(reminders) == 2
    told = cw.session.exec(select(OutboxMessage).where(OutboxMessage.kind == "verification")).all()
    teacher = world.users["teacher"]
    mine_msg = next(m for m in told if m.recipient_id == teacher.id)
    assert mine_msg.payload["text"]["params"]["n"] == 4  # pupils 16–19, two of them to confirm


def test_disposition_review_case_and_export(cw, world) -> None:  # type: ignore[no-untyped-def]
    headers, rows = suspect_list(ours(world, 16), ["上坪村"], ["梅林镇"], size=4, today=cw.today(),
                                 bad_id_share=0, duplicates=1)
    out = importing.import_round(cw, world.users["county_officer"], name="复核", due_on=DUE,
                                 headers=headers, rows=rows)
    entries = cw.session.exec(select(VerificationEntry).order_by(VerificationEntry.row_number)).all()
    teacher, cadre = world.users["teacher"], world.users["village_cadre"]
    officer = world.users["township_officer"]
    pupil = entries[0]
    with pytest.raises(ValidationError):  # the register record is the evidence
        work.propose(cw, teacher, pupil.id, "local_school")
    work.propose(cw, teacher, pupil.id, "local_school",
                 proof=[{**PHOTO, "evidence_kind": "enrolment_confirmation"}])
    with pytest.raises(AccessDenied):  # another's child
        work.propose(cw, teacher, entries[1].id, "dropout", reasons=("work",))
    said = work.propose(cw, cadre, entries[1].id, "dropout", reasons=("work",), note="在外打工，未入学")
    assert "is open on the ladder" in said.render("en")
    case = cw.session.get(Case, entries[1].case_id)
    # a child we had no record of, never enrolled here: an enrolment case (组织入学)
    assert case is not None and case.source == "verification" and case.state == "enrolment"
    with pytest.raises(AccessDenied):  # nobody reviews their own, nor below the township
        work.decide(cw, teacher, pupil.id, True)
    work.decide(cw, officer, pupil.id, False, note="请补学籍截图")
    assert cw.session.get(VerificationEntry, pupil.id).status == "open"
    work.propose(cw, teacher, pupil.id, "local_school",
                 proof=[{**PHOTO, "evidence_kind": "enrolment_confirmation"}])
    work.decide(cw, officer, pupil.id, True)
    with pytest.raises(IllegalTransition):
        work.decide(cw, officer, pupil.id, True)
    job = export.prepare(cw, world.users["county_officer"], out.round.id, "zh_Hans")
    buf = io.BytesIO()
    write_xlsx(job.headers, export.rows(cw, world.users["county_officer"], job, "zh_Hans"), buf, title="核查")
    sheet = load_workbook(io.BytesIO(buf.getvalue())).active
    got = [[c.value for c in row] for row in sheet.iter_rows()]
    assert got[0][:7] == headers and got[0][7:12] == ["处置结果", "具体情形", "佐证材料数", "核查人", "审核人"]
    assert got[1][2] == world.students[16].id_number  # restored from its encrypted column
    assert got[1][7:13] == ["在本地就读（已注册学籍）", None, 1, teacher.display_name, officer.display_name, "已审核"]
    assert got[2][7] == "确属失学辍学" and got[2][12] == "待审核" and got[2][13] == f"#{case.id}"
    assert got[3][7:13] == [None, None, 0, None, None, "尚未核查"]
    assert got[4][1] == got[1][1] and got[4][7] == "在本地就读（已注册学籍）" and got[4][14] == "名单重复：见第 2 行。"
    assert cw.session.exec(select(AuditEvent).where(AuditEvent.action == "verification.export")).one()


def test_a_dropout_sent_back_and_verified_again_as_at_school_says_so(cw, world) -> None:  # type: ignore[no-untyped-def]
    """The case opened at once stays on the ladder and linked to the list; the second
    disposition is answered as what it is, not as the first."""
    headers, rows = suspect_list(ours(world, 16), [], [], size=1, today=cw.today(), bad_id_share=0)
    importing.import_round(cw, world.users["county_officer"], name="复核", due_on=DUE, headers=headers, rows=rows)
    entry = cw.session.exec(select(VerificationEntry)).one()
    teacher, officer = world.users["teacher"], world.users["township_officer"]
    first = work.propose(cw, teacher, entry.id, "dropout", reasons=("work",))
    case_id = entry.case_id
    assert first.render("en") == f"{entry.name}: confirmed out of school; case #{case_id} is open on the ladder. Sent for review."
    work.decide(cw, officer, entry.id, False, note="孩子在校，请核实")
    again = work.propose(cw, teacher, entry.id, "local_school",
                         proof=[{**PHOTO, "evidence_kind": "enrolment_confirmation"}])
    assert again.render("en") == f"{entry.name}: At school here (registered). Sent for review."
    assert (entry.disposition, entry.case_id) == ("local_school", case_id)


def test_quarterly_sample_is_a_round_of_our_cases(cw, world) -> None:  # type: ignore[no-untyped-def]
    from casework import ladder

    for s in world.students[16:20]:
        ladder.report(cw, world.users["teacher"], ladder.ReportInput(student_id=s.id, reasons=("work",)))
    out = sample.draw_sample(cw, world.users["county_officer"], size=3, name="2026Q4复核", due_on=DUE,
                             rng=random.Random(1))
    entries = cw.session.exec(select(VerificationEntry)).all()
    assert out.round.source == "sample" and len(entries) == 3
    assert {e.class_id for e in entries} == {world.classes[4].id}
    assert all(e.match == "id" and e.batch.startswith("案件#") for e in entries)


def test_the_re_check_draws_suspected_confirmed_and_closed_cases_of_the_county(cw, world) -> None:  # type: ignore[no-untyped-def]
    """The pool is the 疑似辍学台账 (a case on the school's steps, or paused on one), the 辍学台账
    (a case above them, or paused there) and the closed cases, as the 2024 notice has the county
    re-check suspected and confirmed dropouts; a child back at school is not drawn, nor a case of
    another county. The ledgers' own definition decides (``register_ledgers.case_filter``)."""
    from datetime import timedelta

    from casework import ladder, register_ledgers
    from casework.ledger import conditions
    from models.tables import County, Township, User, Village

    admin = world.users["school_admin"]
    kinds = ("new", "school", "paused", "township", "paused_township", "notice", "returned")
    made = {}
    pupils = [*world.students_of_class(world.classes[4]), *world.students_of_class(world.classes[5])]  # 梅林中学
    for key, s in zip(kinds, pupils, strict=False):
        made[key] = ladder.report(cw, admin, ladder.ReportInput(student_id=s.id, reasons=("work",))).case
    assert set(made) == set(kinds)
    made["closed"] = ladder.report(cw, world.users["teacher1"], ladder.ReportInput(
        student_id=world.students_of_class(world.classes[0])[0].id, reasons=("work",))).case
    for key, steps in (("school", 1), ("paused", 1), ("township", 2), ("paused_township", 2), ("notice", 3)):
        for _step in range(steps):
            ladder.escalate(cw, None, made[key].id)
    for key in ("paused", "paused_township"):
        ladder.pause(cw, admin, made[key].id, "住院治疗", cw.today() + timedelta(days=20))
    ladder.mark_returned(cw, admin, made["returned"].id)
    made["closed"].state = "closed"  # a case closed (销号) after its review
    cw.session.add(made["closed"])
    # a suspected dropout of another county (松溪县), reported by its own officer
    other = County(name="松溪县", code="SX")
    cw.session.add(other)
    cw.session.flush()
    township = Township(county_id=other.id or 0, name="岭下乡")
    cw.session.add(township)
    cw.session.flush()
    village = Village(township_id=township.id or 0, name="东坑村")
    cw.session.add(village)
    cw.session.flush()
    officer = User(telegram_id=920_000_001, display_name="周明（松溪县教育局）", role="county_officer",
                   scope_kind="county", scope_id=other.id, created_at=cw.now_db(), onboarded_at=cw.now_db())
    child = Student(name="吴小松", gender="female", birth_date=date(2013, 4, 2), village_id=village.id,
                    enrolled=True, key_groups=[], created_at=cw.now_db(), updated_at=cw.now_db())
    cw.session.add_all([officer, child])
    cw.session.flush()
    made["elsewhere"] = ladder.report(cw, officer, ladder.ReportInput(student_id=child.id, reasons=("work",))).case
    assert {k: (made[k].state, made[k].level) for k in made} == {
        "new": ("suspected", "suspected"), "school": ("school_persuasion", "school_persuasion"),
        "paused": ("paused", "school_persuasion"), "township": ("township_persuasion", "township_persuasion"),
        "paused_township": ("paused", "township_persuasion"),
        "notice": ("deadline_notice", "deadline_notice"), "returned": ("returned", "suspected"),
        "closed": ("closed", "suspected"), "elsewhere": ("suspected", "suspected")}
    assert made["elsewhere"].county_id == other.id

    def ledger_of(kind: str) -> set[int]:
        return set(cw.session.exec(select(Case.id).where(
            *conditions(cw, world.users["county_officer"], register_ledgers.case_filter(kind)))).all())

    suspected, dropout = ledger_of("suspected"), ledger_of("dropout")
    assert suspected == {made[k].id for k in ("new", "school", "paused")}
    assert dropout == {made[k].id for k in ("township", "paused_township", "notice")}
    sample.draw_sample(cw, world.users["county_officer"], size=50, name="2026Q4复核", due_on=DUE)
    drawn = {int(e.batch.removeprefix("案件#")) for e in cw.session.exec(select(VerificationEntry)).all()}
    assert drawn == suspected | dropout | {made["closed"].id}
    # a smaller sample: random, but only from that pool
    for seed in range(5):
        out = sample.draw_sample(cw, world.users["county_officer"], size=3, name=f"抽样{seed}", due_on=DUE,
                                 rng=random.Random(seed))
        got = {int(e.batch.removeprefix("案件#")) for e in cw.session.exec(
            select(VerificationEntry).where(VerificationEntry.round_id == out.round.id)).all()}
        assert len(got) == 3 and got <= drawn
    # the other county's officer draws theirs only
    theirs = sample.draw_sample(cw, officer, size=50, name="松溪复核", due_on=DUE)
    assert [e.batch for e in cw.session.exec(select(VerificationEntry).where(
        VerificationEntry.round_id == theirs.round.id)).all()] == [f"案件#{made['elsewhere'].id}"]


def test_a_denied_candidate_and_an_unplaced_child_go_where_the_address_says(cw, world) -> None:  # type: ignore[no-untyped-def]
    pupil = world.students[16]
    headers = ["姓名", "身份证号", "性别", "出生日期", "户籍地址"]
    rows = [(2, [pupil.name, "", "男", pupil.birth_date.isoformat(), "青松县溪口村5组"]),
            (3, ["江小河", "", "男", "2015-06-01", "青松县梅林镇"]),
            (4, ["海小波", "", "女", "2014-06-01", "外省某市"])]
    importing.import_round(cw, world.users["county_officer"], name="x", due_on=DUE, headers=headers, rows=rows)
    candidate, in_town, nowhere = cw.session.exec(select(VerificationEntry).order_by(VerificationEntry.row_number)).all()
    teacher, officer = world.users["teacher"], world.users["township_officer"]
    assert candidate.class_id == world.classes[4].id
    with pytest.raises(IllegalTransition):  # not before the match is settled
        work.propose(cw, teacher, candidate.id, "local_school")
    work.resolve_candidate(cw, teacher, candidate.id, same=False)
    assert (candidate.class_id, candidate.village_id, candidate.match) == (None, world.villages[1].id, "none")
    with pytest.raises(AccessDenied):  # no longer the teacher's
        work.load_entry(cw, teacher, candidate.id)
    # the township officer sees the child the address placed only in the township, and passes it on
    assert (in_town.township_id, in_town.village_id) == (world.townships[0].id, None)
    assert [v.name for v in work.assignable_villages(cw, officer, in_town)] == ["上坪村", "溪口村"]
    with pytest.raises(AccessDenied):  # another township's village
        work.assign(cw, officer, in_town.id, world.villages[2].id)
    work.assign(cw, officer, in_town.id, world.villages[0].id)
    assert work.load_entry(cw, world.users["village_cadre"], in_town.id).village_id == world.villages[0].id
    # a child placed nowhere is the county's; the township does not see it
    assert (nowhere.township_id, nowhere.village_id, nowhere.school_id) == (None, None, None)
    with pytest.raises(AccessDenied):
        work.load_entry(cw, officer, nowhere.id)
    assert work.load_entry(cw, world.users["county_officer"], nowhere.id)


def test_a_child_of_the_register_goes_to_the_village_its_household_register_names(cw, world) -> None:  # type: ignore[no-untyped-def]
    """Not our pupil, but in the register of school-age children with the same ID number:
    the child goes to the register's village even when the list's address names only the
    township (else the township officer would have to place it by hand)."""
    from demo.county import invented_id_number
    from models.tables import RegisterChild
    from models.types import cipher

    number = invented_id_number(date(2015, 6, 1), 801, False)
    cw.session.add(RegisterChild(county_id=world.county.id, village_id=world.villages[1].id, name="江小河",
                                 gender="male", birth_date=date(2015, 6, 1), id_number=number,
                                 id_number_hash=cipher().lookup_hash(number), created_at=cw.now_db(),
                                 updated_at=cw.now_db()))
    cw.session.flush()
    importing.import_round(cw, world.users["county_officer"], name="x", due_on=DUE,
                           headers=["姓名", "身份证号", "出生日期", "户籍地址"],
                           rows=[(2, ["江小河", number, "2015-06-01", "青松县梅林镇"]),
                                 (3, ["海小波", invented_id_number(date(2014, 6, 1), 802, True),
                                      "2014-06-01", "青松县梅林镇"])])
    known, unknown = cw.session.exec(select(VerificationEntry).order_by(VerificationEntry.row_number)).all()
    assert (known.match, known.township_id, known.village_id) == ("none", world.townships[0].id, world.villages[1].id)
    assert work.load_entry(cw, world.users["village_cadre2"], known.id).name == "江小河"
    assert (unknown.township_id, unknown.village_id) == (world.townships[0].id, None)  # by the address only


def test_a_list_without_a_gender_column_takes_it_from_a_valid_id_number(cw, world) -> None:  # type: ignore[no-untyped-def]
    """A child confirmed out of school is registered with the gender its ID number gives,
    not a guess; without a valid ID number the gender stays unknown on the list."""
    from demo.county import invented_id_number

    girl = invented_id_number(date(2015, 6, 1), 803, True)
    importing.import_round(cw, world.users["county_officer"], name="x", due_on=DUE,
                           headers=["姓名", "身份证号", "出生日期", "户籍地址"],
                           rows=[(2, ["江小溪", girl, "", "青松县上坪村"]),
                                 (3, ["江小河", invented_id_number(date(2014, 6, 1), 804, False), "",
                                      "青松县上坪村"]),
                                 (4, ["江小山", girl[:17] + ("0" if girl[17] != "0" else "1"), "2015-06-01",
                                      "青松县上坪村"])])
    first, second, third = cw.session.exec(select(VerificationEntry).order_by(VerificationEntry.row_number)).all()
    assert (first.gender, second.gender, third.gender) == ("female", "male", None)
    work.propose(cw, world.users["village_cadre"], first.id, "dropout", reasons=("work",))
    case = cw.session.get(Case, first.case_id)
    assert case is not None and cw.session.get(Student, case.student_id).gender == "female"  # type: ignore[union-attr]


def test_a_child_of_unknown_gender_is_not_registered_without_one(cw, world) -> None:  # type: ignore[no-untyped-def]
    """No gender on the list and no valid ID number: confirming the child out of school is
    refused until the verifier gives the gender (never a default: it goes on the forms); the
    refusal leaves nothing behind. A gender the list gives is the one registered."""
    importing.import_round(cw, world.users["county_officer"], name="x", due_on=DUE,
                           headers=["姓名", "性别", "出生日期", "户籍地址"],
                           rows=[(2, ["江小溪", "", "2015-06-01", "青松县上坪村"]),
                                 (3, ["江小河", "女", "2014-06-01", "青松县上坪村"])])
    unknown, given = cw.session.exec(select(VerificationEntry).order_by(VerificationEntry.row_number)).all()
    cadre = world.users["village_cadre"]
    assert (unknown.gender, work.needs_gender(unknown), work.needs_gender(given)) == (None, True, False)
    before = len(cw.session.exec(select(Student)).all())
    for gender in (None, "unknown"):
        with pytest.raises(ValidationError) as refused:
            work.propose(cw, cadre, unknown.id, "dropout", reasons=("work",), gender=gender)
        assert refused.value.text.render("zh_Hans") == "名单没有江小溪的性别：请说明孩子是男是女。"
    assert len(cw.session.exec(select(Student)).all()) == before
    assert (unknown.status, unknown.case_id, unknown.student_id) == ("open", None, None)
    work.propose(cw, cadre, unknown.id, "dropout", reasons=("work",), gender="female")
    assert cw.session.get(Student, unknown.student_id).gender == "female"  # type: ignore[union-attr]
    assert not work.needs_gender(unknown)  # sent back and given again, the child is ours now
    work.propose(cw, cadre, given.id, "dropout", reasons=("work",), gender="male")  # the list's stands
    assert cw.session.get(Student, given.student_id).gender == "female"  # type: ignore[union-attr]


def test_the_profile_names_the_evidence_of_each_disposition() -> None:
    from pathlib import Path

    from casework.policy import parse_policy

    text = (Path(__file__).parents[1] / "casework" / "policies" / "datian.toml").read_text(encoding="utf-8")
    assert parse_policy(text).verification.evidence_for("hukou") == ["household_certificate"]
    stricter = text.replace('dropout = [] }', 'dropout = ["written_statement"] }\nreviewer = "county_officer"')
    policy = parse_policy(stricter)
    assert policy.verification.evidence_for("dropout") == ["written_statement"]
    assert policy.verification.reviewer == "county_officer"
    with pytest.raises(Exception, match=r"verification\.evidence\.over_age\[1\]"):
        parse_policy(text.replace('over_age = ["birth_record"]', 'over_age = ["birth_record", "birth_record"]'))


def test_nobody_reviews_their_own_disposition(cw, world) -> None:  # type: ignore[no-untyped-def]
    """The township officer may verify a child the address placed only in the township;
    that disposition then waits for another person (the county officer), never for them."""
    importing.import_round(cw, world.users["county_officer"], name="补充", due_on=DUE,
                           headers=["姓名", "出生日期", "户籍地址"],
                           rows=[(2, ["江小河", "2015-06-01", "青松县梅林镇"])])
    entry = cw.session.exec(select(VerificationEntry)).one()
    officer, county = world.users["township_officer"], world.users["county_officer"]
    work.propose(cw, officer, entry.id, "unreachable",
                 proof=[{**PHOTO, "evidence_kind": "written_statement"}])
    assert work.review_queue(cw, officer) == []
    with pytest.raises(AccessDenied) as refused:
        work.decide(cw, officer, entry.id, True)
    assert refused.value.text.render("en") == "You made this proposal; another person must review it."
    assert (refused.value.detail["action"], refused.value.detail["actor_id"]) == ("verification.decide", officer.id)
    assert [e.id for e in work.review_queue(cw, county)] == [entry.id]
    work.decide(cw, county, entry.id, True)
    assert (entry.status, entry.proposed_by, entry.decided_by) == ("approved", officer.id, county.id)
