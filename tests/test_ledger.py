"""The ledger (台账): what a row holds, who gets which cases, what is masked, and the
workbook read back with openpyxl — sheets, headers, frozen header, dates as dates."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from casework import ledger
from casework.disclosure import Disclosure
from casework.errors import AccessDenied
from casework.periods import month_of
from casework.personal import Cipher, mask_id
from casework.uow import unit_of_work
from documents.ledger_xlsx import export_ledger
from models.tables import AuditEvent, Case, Guardian, Student
from tests.ledgerkit import make_cases

HEADERS = [c.zh for c in ledger.COLUMNS]


def col(name: str) -> int:
    return [c.key for c in ledger.COLUMNS].index(name)


def export(cw, actor, filt=None, lang="zh_Hans", disclosure=None):  # type: ignore[no-untyped-def]
    job = ledger.prepare(cw, actor, filt or ledger.LedgerFilter(), lang=lang, disclosure=disclosure)
    cw.session.rollback()
    out = BytesIO()
    rows = export_ledger(cw, actor, job, out, chunk=2)
    return job, rows, load_workbook(BytesIO(out.getvalue()))


def all_rows(wb):  # type: ignore[no-untyped-def]
    found = {}
    for ws in wb.worksheets[1:]:
        for row in ws.iter_rows(min_row=2, values_only=True):
            found[row[col("case")]] = (ws.title, row)
    return found


@pytest.fixture
def made(session, clock, policy, world):  # type: ignore[no-untyped-def]
    return make_cases(session, clock, policy, world)


def test_county_ledger_holds_every_case_in_full_with_the_register_columns(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["county_officer"]
    job, written, wb = export(cw, officer)
    assert written == job.total == 4
    # the summary first, then one sheet per state in lifecycle order
    assert wb.sheetnames == ["汇总", "疑似辍学", "学校劝返", "乡镇劝返", "已销号"]
    ws = wb["乡镇劝返"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.freeze_panes == "E2"
    assert ws.auto_filter.ref is not None
    row = [c.value for c in ws[2]]
    student = made.student(cw.session, made.meilin_township)
    guardian = cw.session.exec(select(Guardian).where(Guardian.student_id == student.id)).one()
    assert row[col("no")] == 1 and row[col("case")] == made.meilin_township
    assert row[col("name")] == student.name
    assert row[col("state")] == "乡镇劝返"
    # a county officer reconciles with the national register: numbers in full
    assert row[col("id_number")] == student.id_number
    assert row[col("student_number")] == student.student_number
    assert row[col("phone1")] == guardian.phone
    assert row[col("guardian1")] == guardian.name
    # dates are dates (openpyxl reads a date cell as a datetime)
    assert row[col("birth_date")] == datetime.combine(student.birth_date, datetime.min.time())
    assert ws.cell(2, col("birth_date") + 1).is_date
    assert row[col("absent_since")] == datetime(2026, 11, 15)
    assert row[col("school")] == "梅林中学" and row[col("class")] == "七年级（1）班"
    assert row[col("township")] == "梅林镇"
    assert row[col("reasons")] == "学习困难/厌学"
    assert row[col("persuaded")] == "是" and row[col("visits")] == 2
    assert row[col("unit")] == "梅林镇"  # the township persuades now
    history = row[col("history")].split("\n")  # every visit in order, one line each
    assert len(history) == 2
    for line, words in zip(history, (("1.", "2026-11-17", "家访", "班主任、校长", "拒绝", "讲解义务教育法"),
                                     ("2.", "2026-11-19", "联合劝返", "村干部、王主任", "拒绝")), strict=True):
        assert all(w in line for w in words), line
    assert row[col("next_due")] is not None and ws.cell(2, col("next_due") + 1).is_date


def test_the_summary_counts_by_state_reason_key_group_village_and_school(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    _job, _n, wb = export(cw, world.users["county_officer"])
    cells = [(r[0], r[1]) for r in wb["汇总"].iter_rows(values_only=True) if r[0] is not None]
    assert cells[0][0] == "控辍保学工作台账"
    assert ("个人信息", "完整显示") in cells
    by_state = cells[cells.index(("按状态", "人数")) + 1 : cells.index(("按状态", "人数")) + 6]
    assert by_state == [("疑似辍学", 1), ("学校劝返", 1), ("乡镇劝返", 1), ("已销号", 1), ("合计", 4)]
    reasons = dict(cells[cells.index(("按辍学原因（一人多因分别计数）", "人数")) + 1 :][:4])
    assert reasons["学习困难/厌学"] == 2
    assert ("梅林中学", 3) in cells and ("石桥九年制学校", 1) in cells


def test_a_township_officer_gets_only_the_township_with_id_numbers_masked(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]  # 梅林镇
    job, written, wb = export(cw, officer)
    rows = all_rows(wb)
    assert set(rows) == {made.meilin_township, made.meilin_school, made.meilin_back}
    assert made.shiqiao not in rows
    assert {r[col("township")] for _t, r in rows.values()} == {"梅林镇"}
    student = made.student(cw.session, made.meilin_school)
    row = rows[made.meilin_school][1]
    # the township persuades families: phones in full, ID and student numbers masked
    assert row[col("id_number")] == mask_id(student.id_number) != student.id_number
    assert "*" in row[col("student_number")]
    guardian = cw.session.exec(select(Guardian).where(Guardian.student_id == student.id)).one()
    assert row[col("phone1")] == guardian.phone
    assert job.disclosure == Disclosure(id_numbers=False, phones=True)
    # the other township's officer sees the other case only
    _job2, _n2, wb2 = export(cw, world.users["township_officer2"])
    assert set(all_rows(wb2)) == {made.shiqiao}


def test_a_school_admin_gets_their_school_and_english_headers_in_english(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    admin = world.users["school_admin3"]  # 石桥九年制学校
    _job, _n, wb = export(cw, admin, lang="en")
    assert wb.sheetnames == ["Summary", "Suspected"]
    ws = wb["Suspected"]
    assert [c.value for c in ws[1]][:5] == ["No.", "Case no.", "State", "Name", "ID number"]
    row = [c.value for c in ws[2]]
    assert row[col("case")] == made.shiqiao
    assert row[col("state")] == "suspected dropout"
    assert row[col("reasons")] == "Learning difficulty / weariness of study"
    assert row[col("class")] == "Grade 7 Class 1"


def test_filters_by_state_period_and_unit(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["county_officer"]
    _j, _n, wb = export(cw, officer, ledger.LedgerFilter(state="open"))
    assert set(all_rows(wb)) == {made.meilin_township, made.meilin_school, made.shiqiao}
    _j, _n, wb = export(cw, officer, ledger.LedgerFilter(state="closed"))
    assert set(all_rows(wb)) == {made.meilin_back}
    _j, _n, wb = export(cw, officer, ledger.LedgerFilter(state="township_persuasion"))
    assert set(all_rows(wb)) == {made.meilin_township}
    school = world.schools[2]  # 石桥九年制学校
    _j, _n, wb = export(cw, officer, ledger.LedgerFilter(unit=ledger.Unit("school", school.id or 0)))
    assert set(all_rows(wb)) == {made.shiqiao}
    # active in October: none (reported in November); in November: all four
    job = ledger.prepare(cw, officer, ledger.LedgerFilter(period=month_of(date(2026, 10, 1))), lang="zh_Hans")
    assert job.total == 0
    job = ledger.prepare(cw, officer, ledger.LedgerFilter(period=month_of(date(2026, 11, 1))), lang="zh_Hans")
    assert job.total == 4


def test_only_the_exporting_roles_and_units_in_scope_are_allowed_and_refusals_audited(
    engine, clock, policy, world, made  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(AccessDenied), unit_of_work(engine, clock, policy) as cw:
        ledger.prepare(cw, world.users["teacher"], ledger.LedgerFilter(), lang="zh_Hans")
    other = ledger.Unit("township", world.townships[1].id or 0)
    with pytest.raises(AccessDenied), unit_of_work(engine, clock, policy) as cw:
        ledger.prepare(cw, world.users["township_officer"], ledger.LedgerFilter(unit=other),
                       lang="zh_Hans")
    with Session(engine) as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.allowed == False)).all()  # noqa: E712
    assert [(a.action, a.actor_id) for a in refused] == [
        ("ledger.export", world.users["teacher"].id),
        ("ledger.export", world.users["township_officer"].id),
    ]


def test_an_export_is_audited_with_its_filters_and_what_was_in_full(engine, clock, policy, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    with unit_of_work(engine, clock, policy) as cw:
        job = ledger.prepare(cw, officer, ledger.LedgerFilter(state="open"), lang="zh_Hans")
        ledger.record_export(cw, officer, job)
    with Session(engine) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "ledger.export")).one()
    assert event.actor_id == officer.id
    assert event.detail == {"rows": 2, "state": "open", "period": "", "unit": "",
                            "disclosure": "phones", "via": "bot"}


def test_the_operator_chooses_masked_or_full(cw, made) -> None:  # type: ignore[no-untyped-def]
    _j, _n, wb = export(cw, None, disclosure=Disclosure.masked())
    row = all_rows(wb)[made.meilin_school][1]
    assert "*" in row[col("id_number")] and "*" in row[col("phone1")]
    _j, _n, wb = export(cw, None, disclosure=Disclosure.full())
    assert "*" not in all_rows(wb)[made.meilin_school][1][col("id_number")]


def test_a_case_with_no_guardian_or_visits_leaves_those_cells_empty(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    student = made.student(cw.session, made.shiqiao)
    for g in cw.session.exec(select(Guardian).where(Guardian.student_id == student.id)).all():
        cw.session.delete(g)
    cw.session.commit()
    _j, _n, wb = export(cw, world.users["county_officer"])
    row = all_rows(wb)[made.shiqiao][1]
    assert row[col("guardian1")] is None and row[col("phone1")] is None
    assert row[col("persuaded")] == "否" and row[col("visits")] == 0 and row[col("history")] is None


def test_decrypt_many_gives_what_decrypt_gives_and_refuses_what_it_refuses() -> None:
    cipher = Cipher(Cipher.generate_key())
    values = ["", "a", "430521201305020011", "张" * 40, "0591-12345678-801", "x" * 16]
    tokens = [cipher.encrypt(v) for v in values]
    assert cipher.decrypt_many(tokens) == [cipher.decrypt(t) for t in tokens] == values
    assert cipher.decrypt_many([]) == []
    tampered = tokens[2][:-6] + ("A" if tokens[2][-6] != "A" else "B") + tokens[2][-5:]
    other_key = Cipher(Cipher.generate_key()).encrypt("430521201305020011")
    for bad in (tampered, other_key, "not a token", tokens[2][:40]):
        with pytest.raises(ValueError, match="Cannot decrypt"):
            cipher.decrypt_many([tokens[0], bad])
        with pytest.raises(ValueError):
            cipher.decrypt(bad)


def test_the_ledger_reads_every_case_once_across_chunks(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["county_officer"]
    job = ledger.prepare(cw, officer, ledger.LedgerFilter(), lang="zh_Hans")
    cw.session.rollback()
    seen: list[tuple[int, int]] = []
    ids = [values[0] for _s, values in ledger.iter_rows(
        cw, officer, job, progress=lambda done, total: seen.append((done, total)), chunk=3)]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 4
    assert seen == [(3, 4), (4, 4)]
    assert cw.session.exec(select(Case)).all()  # the session is still usable
    assert all(s.id for s in cw.session.exec(select(Student)).all())


def test_odd_json_in_the_list_columns_is_shown_as_stored_on_every_backend(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    """The list columns are read as text on every backend (psycopg would parse JSON itself,
    SQLite does not): a JSON null, a bare string, a number or a null inside the list
    neither breaks the row nor the summary's counts."""
    from sqlalchemy import JSON, update

    from casework import codes
    from models.tables import Visit

    student = made.student(cw.session, made.shiqiao)
    cw.session.execute(update(Case).where(Case.id == made.meilin_school).values(reasons=JSON.NULL))
    cw.session.execute(update(Case).where(Case.id == made.shiqiao).values(reasons="learning"))
    cw.session.execute(
        update(Student).where(Student.id == student.id).values(key_groups=["left_behind", 3])
    )
    cw.session.execute(
        update(Visit).where(Visit.case_id == made.meilin_school).values(participants=["王老师", None])
    )
    cw.session.commit()
    job = ledger.prepare(cw, world.users["county_officer"], ledger.LedgerFilter(), lang="zh_Hans")
    cw.session.rollback()
    summary = ledger.Summary()
    rows = {values[0]: values for _s, values in ledger.iter_rows(
        cw, world.users["county_officer"], job, summary=summary, chunk=2)}
    at = [c.key for c in ledger.ROW_COLUMNS].index
    learning = codes.label("reason", "learning").render("zh_Hans")
    left_behind = codes.label("key_group", "left_behind").render("zh_Hans")
    assert rows[made.meilin_school][at("reasons")] == ""
    assert rows[made.shiqiao][at("reasons")] == learning
    assert rows[made.shiqiao][at("key_groups")] == f"{left_behind}、3"
    history = str(rows[made.meilin_school][at("history")])
    assert "王老师" in history and "None" not in history
    assert summary.by_reason["learning"] >= 1 and summary.by_key_group["3"] == 1


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_stored_instants_become_the_local_date_the_zone_gives(zone: str) -> None:
    """The per-day shortcut for stored UTC text agrees with converting each instant,
    across midnights, half-hour offsets and the days the clocks change."""
    from datetime import UTC, timedelta
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    dates = ledger._LocalDates(tz)
    when = datetime(2026, 3, 1)
    while when < datetime(2026, 11, 10):
        for text in (f"{when:%Y-%m-%d %H:%M:%S.%f}", f"{when:%Y-%m-%d %H:%M:%S}"):
            assert dates.get(text) == when.replace(tzinfo=UTC).astimezone(tz).date(), text
        when += timedelta(minutes=29, seconds=59)
    aware = datetime(2026, 11, 13, 17, 30, tzinfo=UTC)
    assert dates.get(aware) == dates.get("2026-11-13 17:30:00+00:00") == aware.astimezone(tz).date()


def test_every_case_sheet_prints_landscape_one_page_wide_with_the_header_repeated(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    _job, _written, wb = export(cw, world.users["county_officer"])
    for ws in wb.worksheets[1:]:
        setup = ws.page_setup
        assert setup.orientation == "landscape" and setup.paperSize == 9  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        # fitToWidth's default in the file format is 1, so XlsxWriter leaves it out
        assert int(setup.fitToWidth or 1) == 1
        assert int(setup.fitToHeight) == 0  # as many pages down as it takes
        assert ws.print_title_rows == "$1:$1"
        assert ws.oddHeader.center.text == "&A"  # the sheet's name printed as its title
        assert "&P" in ws.oddFooter.center.text
