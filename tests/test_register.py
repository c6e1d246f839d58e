"""The register of school-age children in the domain: a household-register extract checked
row by row and imported all or nothing, students linked by ID hash, the children with no
school and no case found, and the three ledgers as views of the same data."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlmodel import col, func, select

from casework import ladder, register, register_ledgers
from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from demo.county import World, invented_id_number
from documents import register_xlsx
from models.tables import AuditEvent, OutboxMessage, RegisterChild, Student

HEADERS = ["户号", "户主姓名", "姓名", "性别", "出生日期", "身份证号", "乡镇", "村", "户籍地址", "就读情况"]


def child_id(birth: date, serial: int, female: bool = False) -> str:
    return invented_id_number(birth, 700 + serial, female)


def extract(world: World) -> list[list[object]]:
    """Five children and one too old: an enrolled student of ours, two never enrolled, one
    at school elsewhere, one with an open case, and a 17-year-old."""
    enrolled = world.students[0]
    with_case = world.students[1]
    return [
        ["H001", "林大海", enrolled.name, "男" if enrolled.gender == "male" else "女",
         enrolled.birth_date, enrolled.id_number, "梅林镇", "上坪村", "青松县梅林镇上坪村1号", ""],
        ["H002", "陈木生", "陈小禾", "女", date(2016, 4, 2), child_id(date(2016, 4, 2), 1, True),
         "梅林镇", "上坪村", "青松县梅林镇上坪村2号", "未入学"],
        ["H002", "陈木生", "陈小苗", "男", date(2014, 6, 9), child_id(date(2014, 6, 9), 2),
         "梅林镇", "上坪村", "青松县梅林镇上坪村2号", ""],
        ["H003", "吴石", "吴小川", "男", date(2012, 1, 5), child_id(date(2012, 1, 5), 3),
         "梅林镇", "溪口村", "", "外地就读"],
        ["H004", "郑田", with_case.name, "男" if with_case.gender == "male" else "女",
         with_case.birth_date, with_case.id_number, "梅林镇", "上坪村", "", ""],
        ["H005", "黄山", "黄大江", "男", date(2009, 2, 1), child_id(date(2009, 2, 1), 4),
         "梅林镇", "上坪村", "", ""],
    ]


def rows_of(rows: list[list[object]]) -> list[tuple[int, list[object]]]:
    return [(i, r) for i, r in enumerate(rows, start=2)]


def test_an_extract_is_imported_students_link_and_the_unschooled_are_flagged_to_the_cadre(
        cw: Casework, world: World) -> None:
    officer, cadre = world.users["county_officer"], world.users["village_cadre1"]
    teacher = world.users["teacher1"]
    klass = world.classes[0]
    case_student = world.students[1]
    assert case_student.class_id is not None
    # the child on row 6 has an open case: not flagged, though "no status"
    assert case_student.class_id == klass.id
    ladder.report(cw, teacher, ladder.ReportInput(student_id=case_student.id, absent_since=date(2026, 11, 16), reasons=("illness",)))
    rows = rows_of(extract(world))
    plan = register.plan(cw, officer, world.county.id or 0, HEADERS, rows)
    assert [r.action for r in plan.rows] == ["add", "add", "add", "add", "add", "skip"]
    result = register.apply(cw, officer, world.county.id or 0, HEADERS, rows, plan.fingerprint())
    cw.session.commit()
    assert result.count("add") == 5
    stored = cw.session.exec(select(RegisterChild).order_by(col(RegisterChild.id))).all()
    assert len(stored) == 5
    # sealed like a Student's: encrypted, found by hash
    assert stored[1].id_number == child_id(date(2016, 4, 2), 1, True)
    assert stored[0].id_number_hash == world.students[0].id_number_hash

    found = {e.child.name: e for e in register.entries(cw, officer)}
    enrolled = found[world.students[0].name]
    assert enrolled.student is not None and enrolled.student.id == world.students[0].id
    assert enrolled.status in ("local_school", "county_school") and not enrolled.unschooled
    assert found["吴小川"].status == "elsewhere" and not found["吴小川"].unschooled
    assert found[case_student.name].case_id is not None and not found[case_student.name].unschooled
    assert found["陈小禾"].unschooled and found["陈小苗"].unschooled

    # the cadre of 上坪村 sees exactly those two; the cadre of 溪口村 nobody
    flagged = register.unschooled(cw, cadre)
    assert cadre.scope_id == world.villages[0].id
    assert sorted(e.child.name for e in flagged) == ["陈小禾", "陈小苗"]
    assert register.unschooled(cw, world.users["village_cadre2"]) == []
    # and was told, with a button to the list
    told = cw.session.exec(select(OutboxMessage).where(OutboxMessage.kind == "register_unschooled")).all()
    assert [m.recipient_id for m in told] == [cadre.id]
    assert told[0].payload["buttons"][0][0]["data"] == "ru:1"


def test_a_file_with_one_bad_row_imports_nothing_and_lists_the_row(cw: Casework, world: World) -> None:
    officer = world.users["county_officer"]
    rows = extract(world)[:3]
    rows.append(["H009", "", "王二", "男", date(2015, 1, 1), "350425201501019999", "梅林镇", "上坪村", "", ""])
    rows.append(["H010", "", "王三", "男", date(2015, 1, 1), child_id(date(2015, 1, 1), 9),
                 "梅林镇", "无此村", "", "在读"])
    plan = register.plan(cw, officer, world.county.id or 0, HEADERS, rows_of(rows))
    assert [r.number for r in plan.errors] == [5, 6]
    reasons = [t.render("en") for t in plan.errors[1].errors]
    assert any("无此村" in r for r in reasons) and any("在读" in r for r in reasons)
    with pytest.raises(ValidationError):
        register.apply(cw, officer, world.county.id or 0, HEADERS, rows_of(rows), plan.fingerprint())
    assert cw.session.exec(select(func.count()).select_from(RegisterChild)).one() == 0


def test_only_the_county_officer_of_the_county_imports(cw: Casework, world: World) -> None:
    with pytest.raises(AccessDenied):
        register.plan(cw, world.users["township_officer1"], world.county.id or 0, HEADERS,
                      rows_of(extract(world)))


def test_the_three_ledgers_are_views_of_the_same_data(cw: Casework, world: World) -> None:
    officer, teacher = world.users["county_officer"], world.users["teacher1"]
    rows = rows_of(extract(world))
    plan = register.plan(cw, officer, world.county.id or 0, HEADERS, rows)
    register.apply(cw, officer, world.county.id or 0, HEADERS, rows, plan.fingerprint())
    first = world.students_of_class(world.classes[0])
    suspected = ladder.report(cw, teacher, ladder.ReportInput(student_id=first[0].id,
                                                              absent_since=date(2026, 11, 16), reasons=("illness",)))
    dropout = ladder.report(cw, teacher, ladder.ReportInput(student_id=first[1].id,
                                                            absent_since=date(2026, 11, 2), reasons=("work",)))
    dropout.case.level = dropout.case.state = "township_persuasion"
    cw.session.add(dropout.case)
    # a child the extract does not hold, found door to door (附件表1) by the cadre of 溪口村
    found = ladder.report(cw, world.users["village_cadre2"], ladder.ReportInput(
        new_child=ladder.NewChild(name="赵小溪", gender="female", birth_date=date(2016, 3, 3),
                                  village_id=world.villages[1].id, guardian_name="赵大田",
                                  guardian_relation="father"),
        source="door_to_door", reasons=("poverty",)))
    cw.session.commit()

    books = {}
    for kind in register_ledgers.KINDS:
        job = register_ledgers.prepare(cw, officer, kind, lang="zh_Hans")
        data = register_xlsx.export(cw, officer, job)
        register_ledgers.record_export(cw, officer, job)
        cw.session.commit()
        books[kind] = load_workbook(BytesIO(data))
    children = books["children"].worksheets[0]
    assert children.title == "适龄儿童台账"
    header = [c.value for c in children[1]]
    assert header[:6] == ["序号", "乡镇（街道）", "村（社区）", "户号", "户主姓名", "姓名"]
    body = {r[5]: r for r in children.iter_rows(min_row=2, values_only=True)}
    assert set(body) == {world.students[0].name, "陈小禾", "陈小苗", "吴小川", world.students[1].name, "赵小溪"}
    status, check = header.index("就读状态"), header.index("需入户核查")
    source, case_no = header.index("来源"), header.index("个案编号")
    assert [body["陈小禾"][source], body["赵小溪"][source]] == ["户籍导入", "入户登记"]
    assert body["赵小溪"][2:4] == ("溪口村", None) and body["赵小溪"][status] == "未入学"
    assert (body["赵小溪"][case_no], body["赵小溪"][check]) == (found.case.id, None)  # its case is open
    assert body["陈小禾"][status] == "未入学" and body["陈小禾"][check] == "是"
    assert body["吴小川"][status] == "外地就读" and body["吴小川"][check] is None
    # the county officer reads ID numbers in full (as in the ledger export)
    assert body["陈小苗"][header.index("居民身份证号码")] == child_id(date(2014, 6, 9), 2)
    assert children.print_options.gridLines is not True  # print setup: landscape, fitted, title rows
    assert children.page_setup.orientation == "landscape" and children.print_title_rows == "$1:$1"

    def case_numbers(book) -> list[int]:  # type: ignore[no-untyped-def]
        sheet = book.worksheets[0]
        head = [c.value for c in sheet[1]]
        return [r[head.index("个案编号")] for r in sheet.iter_rows(min_row=2, values_only=True)]

    assert books["suspected"].worksheets[0].title == "疑似辍学台账"
    assert case_numbers(books["suspected"]) == [suspected.case.id]
    assert books["dropout"].worksheets[0].title == "辍学台账"
    assert case_numbers(books["dropout"]) == [dropout.case.id]
    audited = cw.session.exec(select(AuditEvent.action).where(
        col(AuditEvent.action).like("register.%.export"))).all()
    assert sorted(audited) == ["register.children.export", "register.dropout.export",
                               "register.suspected.export"]


def test_a_child_reported_door_to_door_becomes_a_student_linked_to_the_register(
        cw: Casework, world: World) -> None:
    officer, cadre = world.users["county_officer"], world.users["village_cadre1"]
    rows = rows_of(extract(world))
    plan = register.plan(cw, officer, world.county.id or 0, HEADERS, rows)
    register.apply(cw, officer, world.county.id or 0, HEADERS, rows, plan.fingerprint())
    child = next(e.child for e in register.unschooled(cw, cadre) if e.child.name == "陈小禾")
    student = register.student_for(cw, cadre, child.id or 0)
    assert student.enrolled is False and student.village_id == child.village_id
    assert student.id_number_hash == child.id_number_hash
    assert register.student_for(cw, cadre, child.id or 0).id == student.id  # once
    with pytest.raises(AccessDenied):
        register.student_for(cw, world.users["village_cadre2"], child.id or 0)
    assert cw.session.exec(select(func.count()).select_from(Student).where(
        Student.name == "陈小禾")).one() == 1


def test_the_statuses_a_button_carries_are_the_registers() -> None:
    from casework import callbacks

    assert tuple(register.STATUSES) == callbacks.REGISTER_STATUSES
