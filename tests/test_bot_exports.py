"""Files through the real PTB stack and the fake Bot API: ``/export`` with its filter menu
and progress message, a roster sent as a file (preview, errors per row, Confirm, and the
all-or-nothing rule), a case's forms, and ``/stats month``."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, func, select

from casework import ledger
from demo.county import invented_id_number
from handlers import background, exports
from models.tables import AuditEvent, Student
from models.types import cipher
from tests.botkit import speaking
from tests.ledgerkit import make_cases
from tests.test_bot_access import forge_tap

HEADERS = ["学生姓名", "性别", "出生日期", "身份证号码", "年级", "班级", "监护人", "联系电话"]


@pytest.fixture
def made(harness, world):  # type: ignore[no-untyped-def]
    with Session(harness.engine, expire_on_commit=False) as s:
        return make_cases(s, harness.services.clock, harness.services.policy, world)


def documents(harness, chat) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    found = []
    for msg in harness.tg.bot_messages(chat.chat_id):
        doc = msg.media.get("document")
        if doc:
            found.append((doc.get("file_name"), harness.tg.file(doc["file_id"]).data))
    return found


def texts_of(harness, chat, message_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    events = harness.tg.events_since(chat.chat_id, 0, from_bot=True, kinds=("sent", "edited"))
    return [e.text for e in events if e.message_id == message_id]


def roster_file(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["梅林中学2026年秋季学期学生名册"])
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def pupil(n: int, name: str) -> list[object]:
    birth = date(2013, 4, n)
    return [name, "男", birth, invented_id_number(birth, 300 + n, False), "七年级", "1班", "张大山",
            "13912345678"]


async def upload(chat, data: bytes, filename: str = "roster.xlsx") -> None:  # type: ignore[no-untyped-def]
    """Send a file and wait until it has been read (in a task of its own, off the loop)."""
    await chat.send_document(data, filename=filename)
    await background.wait()


def students(harness) -> int:  # type: ignore[no-untyped-def]
    with Session(harness.engine) as s:
        return s.exec(select(func.count()).select_from(Student)).one()


async def test_a_township_officer_exports_the_ledger_with_progress(harness, world, made, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(exports, "PROGRESS_MIN_INTERVAL", 0)
    monkeypatch.setattr(exports, "LEDGER_CHUNK", 1)
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/export")
    assert officer.last == "Ledger export for 梅林镇\nFilters: open cases\n2 cases match."
    assert officer.buttons() == ["State ▸", "Period ▸", "Unit ▸", "📥 Make the workbook",
                                 # the three ledgers of the 2024 notice (tests/test_bot_register.py)
                                 "Register of school-age children", "Ledger of suspected dropouts",
                                 "Ledger of dropouts"]

    await officer.tap("State ▸")  # the menu is edited in place
    assert officer.replies[0].edited
    assert officer.buttons()[:3] == ["All cases", "Open cases", "Closed cases"]
    assert "township persuasion" in officer.buttons() and "suspected dropout" not in officer.buttons()
    await officer.tap("All cases")
    assert officer.last == "Ledger export for 梅林镇\nFilters: all cases\n3 cases match."

    await officer.tap("📥 Make the workbook")
    assert officer.callback_answer.text == "Preparing the ledger…"
    await background.wait()
    progress = next(m for m in harness.tg.bot_messages(officer.chat_id)
                    if (m.text or "").startswith(("Preparing the ledger", "The ledger is ready")))
    assert texts_of(harness, officer, progress.message_id) == [
        "Preparing the ledger… 0%",
        "Preparing the ledger… 33%",
        "Preparing the ledger… 66%",
        "Preparing the ledger… 99%",
        "The ledger is ready: 3 cases.",
    ]
    (name, data), = documents(harness, officer)
    assert name == "Dropout-control_ledger_梅林镇_2026-11-23.xlsx"
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Summary", "School persuasion", "Township persuasion", "Closed out"]
    case_col = [c.key for c in ledger.COLUMNS].index("case")
    cases = {row[case_col] for ws in wb.worksheets[1:] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert cases == {made.meilin_township, made.meilin_school, made.meilin_back}  # not 石桥乡's
    with Session(harness.engine) as s:
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "ledger.export")).one()
    assert audit.actor_id == world.users["township_officer"].id and audit.detail["rows"] == 3


async def test_a_teacher_cannot_export(harness, world, made) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/export")
    assert teacher.last == "Ledger exports are for school administrators and township and county officers."


async def test_a_forged_unit_outside_the_area_is_refused(harness, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/export")
    other = world.townships[1].id
    await forge_tap(officer, f"xp:all:-:t{other}:go")
    await background.wait()
    assert officer.last == "That unit is outside your area."
    assert documents(harness, officer) == []
    with Session(harness.engine) as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.allowed == False)).one()  # noqa: E712
    assert (refused.action, refused.object_type, refused.object_id) == ("ledger.export", "township", other)


async def test_a_roster_is_previewed_with_errors_per_row_and_imported_on_confirm(harness, world) -> None:  # type: ignore[no-untyped-def]
    admin = speaking(harness, world.users["school_admin"], "en")
    bad = pupil(3, "张小三")
    bad[3] = str(bad[3])[:-1] + ("1" if str(bad[3])[-1] != "1" else "2")  # a wrong check digit
    wrong_class = pupil(4, "张小四")
    wrong_class[5] = "8班"
    before = students(harness)
    await upload(admin, roster_file([pupil(1, "张小一"), pupil(2, "张小二"), bad, wrong_class]))
    assert admin.last == "\n".join([
        "Roster for 梅林中学 — preview",
        "• School: 梅林中学",
        "• Roster: ",
        "roster.xlsx: 4 rows — 2 to add, 0 to update, 0 unchanged, 2 with errors.",
        "Row 5 (张小三): ID number: The ID number's check digit is wrong.",
        "Row 6 (张小四): class: “七年级 8班” is not a class of 梅林中学 this school year",
        "Rows with errors are not imported: correct them and send the file again.",
        "",
        "Check the details, then confirm.",
    ])
    assert admin.buttons() == ["✅ Confirm", "Cancel"]
    assert students(harness) == before  # nothing before Confirm

    await admin.tap("✅ Confirm")
    assert admin.reply_texts[-1] == ("Roster imported into 梅林中学: 2 added, 0 updated, 0 unchanged; "
                                     "2 rows with errors were left out.")
    with Session(harness.engine) as s:
        names = set(s.exec(select(Student.name).where(Student.class_id == world.classes[4].id)).all())
    assert {"张小一", "张小二"} <= names and not {"张小三", "张小四"} & names
    assert students(harness) == before + 2


async def test_a_roster_import_is_all_or_nothing_when_confirmed(harness, world) -> None:  # type: ignore[no-untyped-def]
    admin = speaking(harness, world.users["school_admin"], "en")
    rows = [pupil(1, "张小一"), pupil(2, "张小二"), pupil(5, "张小五")]
    await upload(admin, roster_file(rows))
    assert "3 to add" in admin.last
    before = students(harness)
    # between the preview and Confirm the third child is registered at another school
    with Session(harness.engine) as s:
        idn = str(rows[2][3])
        s.add(Student(name="张小五", gender="male", birth_date=date(2013, 4, 5), id_number=idn,
                      id_number_hash=cipher().lookup_hash(idn), class_id=world.classes[-1].id,
                      created_at=harness.services.clock.now(), updated_at=harness.services.clock.now()))
        s.commit()
    await admin.tap("✅ Confirm")
    assert admin.reply_texts[-1].startswith(
        "The roster no longer checks out as previewed (someone changed these students meanwhile). "
        "Nothing was imported; please send the file again.")
    assert students(harness) == before + 1  # only the other school's: neither 张小一 nor 张小二


async def test_a_file_that_is_not_a_roster_or_from_a_teacher_goes_where_it_went(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send_document(roster_file([pupil(1, "张小一")]), filename="roster.xlsx")
    assert teacher.last == "Start a report or a visit first, then send the photo there."
    admin = speaking(harness, world.users["school_admin"], "en")
    await admin.send_document(b"%PDF-1.4 hello", filename="scan.pdf")
    assert admin.last == "Start a report or a visit first, then send the photo there."
    wb = Workbook()
    wb.active.append(["no", "header", "here"])
    out = io.BytesIO()
    wb.save(out)
    await upload(admin, out.getvalue())
    assert admin.last == "I could not find the header row (姓名, 性别, 班级, …) in the first ten rows."
    await upload(admin, roster_file([["张小一", "男"]]))
    # the roster conversation starts here: first, how long an unfinished one is kept
    assert admin.reply_texts[0] == (
        "If you leave this unfinished, what you have entered is kept for 7 days and then deleted.")
    assert admin.reply_texts[1].split("\n")[:2] == [
        "Nothing in this file can be imported yet:",
        "roster.xlsx: 1 rows — 0 to add, 0 to update, 0 unchanged, 1 with errors."]
    assert admin.last.startswith("Send the roster of 梅林中学 as an XLSX or CSV file")


async def test_an_officer_picks_the_school_first(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/import")
    assert officer.last == "Which school is the roster for?"
    assert officer.buttons()[:2] == ["梅林中心小学", "梅林中学"]
    await officer.tap("梅林中学")
    assert officer.last.startswith("Send the roster of 梅林中学 as an XLSX or CSV file")
    await upload(officer, roster_file([pupil(1, "张小一")]))
    assert "1 to add" in officer.last
    await officer.tap("✅ Confirm")
    assert officer.reply_texts[-1].startswith("Roster imported into 梅林中学: 1 added")


async def test_a_cases_forms_come_as_word_and_pdf(harness, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send(f"/forms {made.meilin_township}")
    assert officer.last == f"Documents for case #{made.meilin_township} (Word to print, PDF to read):"
    assert officer.buttons() == [
        "Registration sheet with the full record (一生一表)", "School persuasion record (表4)",
        "Township persuasion record (表3)", "Written report to the township (表5)"]
    await officer.tap("Written report to the township (表5)")
    (docx_name, docx), (pdf_name, pdf) = documents(harness, officer)
    assert docx_name.startswith("表5_疑似辍学学生报告单_") and docx_name.endswith(".docx")
    assert pdf_name.endswith(".pdf") and pdf.startswith(b"%PDF")
    assert docx.startswith(b"PK")
    await officer.send(f"/forms {made.shiqiao}")  # 石桥乡's case: not theirs
    assert officer.last == "You are not responsible for this case, so you cannot see or change it."


async def test_stats_month_sends_the_figures_and_the_workbook(harness, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["county_officer"], "en")
    await officer.send("/stats month")
    assert officer.reply_texts[0] == "\n".join([
        "Monthly report for 青松县, 2026-11, as of 11/23",  # the month is not over on 11-23
        "• Open at the start: 0",
        "• Reported in the period: 4",
        "• Back at school: 1; closed out: 1; placed: 0",
        "• Persuasion visits: 5",
        "• Open at the end: 3",
    ])
    (name, data), = documents(harness, officer)
    assert name == "Dropout_control_monthly_report_2026-11.xlsx"
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Summary", "By unit", "Cases", "Figures"]  # Figures: tests/test_figures.py
    # /report reports a dropout, with or without words after it: it means one thing
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    assert teacher.last == "Which student? Pick from the list, or type part of the name."
    await officer.send("/report month")
    assert officer.last == "Which student? Pick from the list, or type part of the name."
    assert len(documents(harness, officer)) == 1  # the workbook above, no other
