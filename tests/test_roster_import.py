"""Roster import in the domain: loose header matching in both languages, every row checked
with a reason per error, and the all-or-nothing rule when the import is applied."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlmodel import Session, func, select

from casework import roster_import
from casework.errors import AccessDenied, Conflict, ValidationError
from casework.uow import unit_of_work
from demo.county import invented_id_number
from documents import tabular
from models.tables import AuditEvent, Guardian, Student
from models.types import cipher

HEADERS = ["姓名", "性别", "出生日期", "身份证号", "学籍号", "年级", "班级", "监护人", "与学生关系",
           "联系电话", "家庭住址"]


def new_id(birth: date, serial: int, female: bool) -> str:
    return invented_id_number(birth, 400 + serial, female)


def good_row(n: int, *, grade: str = "七年级", klass: str = "1班") -> list[object]:
    birth = date(2013, 3, n)
    idn = new_id(birth, n, female=False)
    return [f"张小{'一二三四五六七八九'[n - 1]}", "男", datetime(2013, 3, n), idn, "G" + idn, grade, klass,
            "张大山", "父亲", "13912345678", "青松县上坪村1号"]


def rows_of(*rows: list[object]) -> list[tuple[int, list[object]]]:
    return [(i, list(r)) for i, r in enumerate(rows, start=2)]


def count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Student)).one()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["姓名", "性别", "出生日期", "身份证号", "学籍号", "年级", "班级", "监护人", "联系电话", "家庭住址"],
         ["name", "gender", "birth_date", "id_number", "student_number", "grade", "class", "guardian",
          "phone", "address"]),
        (["Name", "Sex", "Date of birth", "ID No.", "Student number", "Grade", "Class",
          "Guardian name", "Mobile", "Home address"],
         ["name", "gender", "birth_date", "id_number", "student_number", "grade", "class", "guardian",
          "phone", "address"]),
        # loose: stars, colons, brackets, spaces, and longer names containing a known one
        (["*学生姓名", "性 别：", "出生年月(必填)", "居民身份证号码", "全国学籍号", "所在年级", "班级（班号）",
          "监护人姓名", "监护人联系电话", "家庭详细住址"],
         ["name", "gender", "birth_date", "id_number", "student_number", "grade", "class", "guardian",
          "phone", "address"]),
    ],
)
def test_headers_are_matched_loosely_in_both_languages(headers, expected) -> None:  # type: ignore[no-untyped-def]
    match = roster_import.match_headers(headers)
    assert [f for f, _i in sorted(match.columns.items(), key=lambda item: item[1])] == expected
    assert match.missing == ()


def test_unknown_and_repeated_columns_are_reported_and_required_ones_missing() -> None:
    match = roster_import.match_headers(["姓名", "备注", "姓名", "性别"])
    assert match.ignored == ("备注", "姓名")
    assert match.missing == ("class",)


@pytest.mark.parametrize(
    ("grade", "klass", "expected"),
    [
        ("七年级", "1班", (7, 1)), ("7", "(2)班", (7, 2)), (None, "七年级3班", (7, 3)),
        ("初一", "1", (7, 1)), (7, 2, (7, 2)), (None, "7-1", (7, 1)), ("Grade 8", "Class 2", (8, 2)),
        ("三年级", "十二班", (3, 12)), (None, "1班", (None, 1)),
    ],
)
def test_grades_and_classes_are_read_as_schools_write_them(grade, klass, expected) -> None:  # type: ignore[no-untyped-def]
    assert roster_import.parse_class(klass, roster_import.parse_grade(grade)) == expected


def test_a_title_row_before_the_header_is_skipped() -> None:
    rows = [["梅林中学2026年秋季学生花名册"], HEADERS, good_row(1)]
    assert roster_import.find_header_row(rows) == 1


def test_each_bad_row_is_listed_with_why_and_the_good_ones_are_planned(cw, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.users["school_admin"]  # 梅林中学
    school = world.schools[1]
    existing = world.students_of_class(world.classes[4])[0]
    other_school = world.students_of_class(world.classes[-1])[0]
    bad_check = good_row(3)
    bad_check[3] = bad_check[3][:-1] + ("0" if bad_check[3][-1] != "0" else "1")
    bad_check[4] = ""
    unknown_class = good_row(4, klass="9班")
    duplicate = good_row(1)
    wrong_gender = good_row(5)
    wrong_gender[1] = "女"
    update = [existing.name, "男" if existing.gender == "male" else "女", existing.birth_date,
              existing.id_number, existing.student_number, "七年级", "1班", "李四", "母亲", "13800000001", ""]
    taken = [other_school.name, "男" if other_school.gender == "male" else "女", other_school.birth_date,
             other_school.id_number, "", "七年级", "1班", "", "", "", ""]
    plan = roster_import.plan(cw, admin, school.id, HEADERS, rows_of(
        good_row(1), good_row(2), bad_check, unknown_class, duplicate, wrong_gender, update, taken))
    assert [(r.number, r.action) for r in plan.rows] == [
        (2, "add"), (3, "add"), (4, "error"), (5, "error"), (6, "error"), (7, "error"), (8, "update"),
        (9, "transfer")]  # another township's child: asked for, not an error that says so
    why = {r.number: [t.render("en") for t in r.errors] for r in plan.errors}
    assert why[4] == ["ID number: The ID number's check digit is wrong."]
    assert why[5] == ["class: “七年级 9班” is not a class of 梅林中学 this school year"]
    assert why[6] == ["ID number: the same as row 2", "student number: the same as row 2"]
    assert why[7] == ["gender: the ID number says the other gender"]
    assert 9 not in why and plan.rows[7].changes == ()
    old = cw.session.exec(select(Guardian).where(Guardian.student_id == existing.id)).one()
    assert plan.rows[6].changes == (
        ("guardian", "phone") if old.relation == "mother" else ("guardian", "relation", "phone"))
    assert count(cw.session) == len(world.students)  # a plan writes nothing


def test_apply_imports_every_valid_row_and_audits(engine, clock, policy, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.users["school_admin"]
    school = world.schools[1]
    bad = good_row(3, klass="9班")
    rows = rows_of(good_row(1), good_row(2), bad)
    with unit_of_work(engine, clock, policy) as cw:
        plan = roster_import.plan(cw, admin, school.id, HEADERS, rows)
    with unit_of_work(engine, clock, policy) as cw:
        result = roster_import.apply(cw, admin, school.id, HEADERS, rows, plan.fingerprint())
    assert (result.count("add"), result.count("error")) == (2, 1)
    with Session(engine) as s:
        added = s.exec(select(Student).where(Student.name.in_(["张小一", "张小二"]))).all()  # type: ignore[attr-defined]
        assert len(added) == 2
        first = next(x for x in added if x.name == "张小一")
        assert first.id_number == good_row(1)[3]
        assert first.id_number_hash == cipher().lookup_hash(first.id_number)
        assert first.class_id == world.classes[4].id and first.enrolled
        guardian = s.exec(select(Guardian).where(Guardian.student_id == first.id)).one()
        assert (guardian.name, guardian.relation, guardian.phone) == ("张大山", "father", "13912345678")
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).one()
        assert audit.detail == {"added": 2, "updated": 0, "unchanged": 0, "transfers": 0, "errors": 1,
                                "added_students": sorted(x.id for x in added), "updated_students": [],
                                "transfer_requests": [], "via": "bot"}


def test_apply_imports_nothing_when_the_rows_no_longer_check_out_as_previewed(engine, clock, policy, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.users["school_admin"]
    school = world.schools[1]
    rows = rows_of(good_row(1), good_row(2), good_row(3))
    with unit_of_work(engine, clock, policy) as cw:
        plan = roster_import.plan(cw, admin, school.id, HEADERS, rows)
        before = count(cw.session)
    # meanwhile someone registers the third child at another school
    with unit_of_work(engine, clock, policy) as cw:
        taken = good_row(3)
        cw.session.add(Student(name="张小三", gender="male", birth_date=date(2013, 3, 3), id_number=taken[3],
                               id_number_hash=cipher().lookup_hash(taken[3]), class_id=world.classes[-1].id,
                               created_at=cw.now_db(), updated_at=cw.now_db()))
    with pytest.raises(Conflict), unit_of_work(engine, clock, policy) as cw:
        roster_import.apply(cw, admin, school.id, HEADERS, rows, plan.fingerprint())
    with Session(engine) as s:
        assert count(s) == before + 1  # only the other school's registration: none of ours


def test_only_a_school_in_scope(cw, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied):
        roster_import.plan(cw, world.users["school_admin"], world.schools[2].id, HEADERS, [])
    with pytest.raises(AccessDenied):
        roster_import.plan(cw, world.users["teacher"], world.schools[1].id, HEADERS, [])
    roster_import.plan(cw, world.users["township_officer"], world.schools[1].id, HEADERS, [])


def test_a_file_without_the_required_columns_is_refused_whole(cw, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as err:
        roster_import.plan(cw, world.users["school_admin"], world.schools[1].id, ["姓名", "电话"], [])
    assert "gender, class" in err.value.render("en")


def test_xlsx_and_gbk_csv_files_are_read() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["梅林中学学生花名册"])
    ws.append(HEADERS)
    ws.append(good_row(1))
    out = io.BytesIO()
    wb.save(out)
    sheet = tabular.read_table("花名册.xlsx", out.getvalue())
    assert sheet.headers == HEADERS
    assert sheet.rows[0][0] == 3 and sheet.rows[0][1][0] == "张小一"
    text = io.StringIO()
    csv.writer(text).writerows([HEADERS, [str(c) for c in good_row(2)]])
    sheet = tabular.read_table("roster.csv", text.getvalue().encode("gb18030"))
    assert sheet.headers == HEADERS and sheet.rows[0][1][0] == "张小二"
    with pytest.raises(ValidationError):
        tabular.read_table("roster.xlsx", b"not a zip")
