"""The per-child forms read back: DOCX with python-docx (paragraphs and table cells in the
places of the seed forms), PDF with pypdf (the Chinese names and headings are text in it,
so the CJK font is embedded). Also which forms a case has when, and masking."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from io import BytesIO

import pytest
from docx import Document as read_docx
from pypdf import PdfReader
from sqlmodel import select

from casework import codes, forms, ladder, notice_delivery, outcomes
from casework.errors import AccessDenied, IllegalTransition
from casework.personal import mask_id
from documents import attachments, layout
from documents import forms as form_files
from models.tables import AuditEvent, Case, Guardian
from tests.casedriver import PROOF, local
from tests.ledgerkit import make_cases


@pytest.fixture
def made(session, clock, policy, world):  # type: ignore[no-untyped-def]
    return make_cases(session, clock, policy, world)


def docx_of(cw, actor, case_id, form):  # type: ignore[no-untyped-def]
    name, data = form_files.make(cw, actor, case_id, form, "docx")
    return name, read_docx(BytesIO(data))


def paragraphs(doc) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.text for p in doc.paragraphs if p.text]


def table_cells(doc, n: int = 0) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[c.text for c in row.cells] for row in doc.tables[n].rows]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def guardian_of(cw, student):  # type: ignore[no-untyped-def]
    return cw.session.exec(select(Guardian).where(Guardian.student_id == student.id)).one()


def test_the_forms_a_case_has_follow_the_ladder(cw, made) -> None:  # type: ignore[no-untyped-def]
    case = cw.session.get(Case, made.meilin_school)
    assert forms.available(cw, case) == ["register", "school_record"]
    case = cw.session.get(Case, made.meilin_township)
    assert forms.available(cw, case) == ["register", "school_record", "township_record", "report"]
    with pytest.raises(IllegalTransition):
        forms.load(cw, None, made.meilin_school, "report")


def test_the_written_report_to_the_township_with_its_stub(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    admin = world.users["school_admin"]  # 梅林中学: the school writes the report
    student = made.student(cw.session, made.meilin_township)
    guardian = guardian_of(cw, student)
    name, doc = docx_of(cw, admin, made.meilin_township, "report")
    assert name == f"表5_疑似辍学学生报告单_{student.name}_{made.meilin_township}.docx"
    text = paragraphs(doc)
    reason = codes.label("reason", "learning").render("zh_Hans")
    body = (f"兹有我校7年1班学生{student.name}，因其{reason}，疑似辍学。该生系{world.villages[0].name}"
            f"人，家长姓名：{guardian.name}，联系电话：{guardian.phone}。请求组织人员劝返为盼。")
    # the stub (存根) and the report itself, cut apart along the line
    assert text[0] == "疑似辍学学生报告单（存根）"
    assert text[1] == "梅林镇人民政府："
    assert text.count(body) == 2 and text.count("梅林中学（盖章）") == 2
    assert "2026年11月18日" in text  # the day the case came to the township
    assert any("沿此线剪开" in t for t in text)
    assert text.index("疑似辍学学生报告单") > text.index(body)


def test_the_township_record_lists_the_township_rounds_on_the_printed_grid(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    student = made.student(cw.session, made.meilin_township)
    _name, doc = docx_of(cw, officer, made.meilin_township, "township_record")
    assert paragraphs(doc)[0] == "疑似辍学学生劝返情况记录表（乡镇用）"
    rows = table_cells(doc)
    # merged cells repeat their text in python-docx: the label column spans the section
    assert rows[0][:4] == ["学生信息", "学生姓名", student.name, "性别"]
    assert rows[1][1] == "就读学校" and rows[1][2] == "梅林中学" and rows[1][-1] == "七年级（1）班"
    assert rows[5][0] == "动员情况记录" and rows[5][1] == "次　数"
    # five rounds printed, the first filled from the township's joint visit (not the school's)
    assert [r[1] for r in rows[6:11]] == ["第一次", "第二次", "第三次", "第四次", "第五次"]
    assert rows[6][2] == "11月19日"
    assert "联合劝返" in rows[6][3] and "村干部、王主任" in rows[6][3]
    assert all(r[3] == "" for r in rows[7:11])
    assert rows[-1][1] == "动员结果"
    # the form's values only (缓学、送教上门、辍学、返校): a case still being persuaded has no
    # result yet, so the cell is left to fill by hand, not given the last visit's "拒绝返校"
    assert rows[-1][3] == ""
    # the heading fills the form's blank before 乡（镇） with the township's own name, once
    assert paragraphs(doc)[1] == "青松县　梅林镇"


def test_the_school_record_has_a_block_per_school_visit(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    _name, doc = docx_of(cw, world.users["teacher"], made.meilin_school, "school_record")
    rows = table_cells(doc)
    labels = [r[1] for r in rows]
    assert labels.count("劝返工作教师") == 2  # two visits, two blocks, in order
    first = labels.index("劝返方式")
    assert "电话(√)" in rows[first][2] and "家访(　)" in rows[first][2]
    assert rows[first][-1] == "2026年11月17日"
    second = labels.index("劝返方式", first + 1)
    assert "家访(√)" in rows[second][2] and rows[second][-1] == "2026年11月18日"
    assert any(r[1] == "家访记录" and r[2] == "学生态度" and r[3] == "不愿返校；说不想读书" for r in rows)


def test_the_register_sheet_holds_the_whole_record_in_order(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["county_officer"]
    student = made.student(cw.session, made.meilin_township)
    _name, doc = docx_of(cw, officer, made.meilin_township, "register")
    assert paragraphs(doc)[0] == "青松县义务教育阶段辍学学生登记表"
    rows = table_cells(doc)
    flat = {cell for row in rows for cell in row}
    assert student.id_number in flat  # the county gets the register in full
    record = [r for r in rows if r[0] == "劝返过程详细记录"]
    # visits and the moves up the ladder, in the order they happened
    assert [r[1] for r in record] == ["1", "2", "3"]
    assert record[0][2].startswith("2026年11月17日，班主任、校长入户家访")
    assert record[1][2] == "2026年11月18日，由陈博校长上报至乡镇劝返。"
    assert record[2][2].startswith("2026年11月19日，村干部、王主任联合入户劝返")


def test_a_township_officer_gets_the_id_number_masked_in_the_register(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    student = made.student(cw.session, made.meilin_township)
    _name, doc = docx_of(cw, world.users["township_officer"], made.meilin_township, "register")
    flat = {cell for row in table_cells(doc) for cell in row}
    assert mask_id(student.id_number) in flat and student.id_number not in flat


def test_a_form_of_a_case_out_of_scope_is_refused(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied):
        forms.load(cw, world.users["township_officer2"], made.meilin_township, "register")


def test_the_pdf_embeds_the_chinese_text(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    student = made.student(cw.session, made.meilin_township)
    for form, heading in (("report", "疑似辍学学生报告单"), ("township_record", "疑似辍学学生劝返情况记录表"),
                          ("register", "义务教育阶段辍学学生登记表")):
        name, data = form_files.make(cw, world.users["county_officer"], made.meilin_township, form, "pdf")
        assert name.endswith(".pdf") and data.startswith(b"%PDF")
        text = pdf_text(data)
        assert heading in text, text[:200]
        assert student.name in text
    assert "梅林镇人民政府" in pdf_text(
        form_files.make(cw, world.users["school_admin"], made.meilin_township, "report", "pdf")[1])


def test_the_deadline_notice_carries_the_date_the_policy_computed(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    out = ladder.issue_deadline_notice(cw, officer, made.meilin_township)
    cw.session.commit()
    due: date = out.case.notice_due_on
    assert due is not None and due > cw.today()
    case = cw.session.get(Case, made.meilin_township)
    assert "notice" in forms.available(cw, case)
    student = made.student(cw.session, made.meilin_township)
    guardian = guardian_of(cw, student)
    _name, doc = docx_of(cw, officer, made.meilin_township, "notice")
    text = paragraphs(doc)
    assert text[0] == "限期复学通知书"
    assert text[2] == f"{guardian.name}（监护人）："
    due_text = f"{due.year}年{due.month}月{due.day}日"
    assert f"现责令你于{due_text}前送{student.name}返校复学。" in text[5]
    assert "梅林镇人民政府（盖章）" in text
    assert "2026年11月23日" in text  # issued today
    assert "送达回执" in text
    assert "限期复学通知书" in pdf_text(form_files.make(cw, officer, made.meilin_township, "notice", "pdf")[1])


def test_a_proposed_deferral_has_its_application_form(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    admin = world.users["school_admin"]
    until = cw.today() + timedelta(days=90)
    outcomes.propose_outcome(cw, admin, made.meilin_school, "deferred", reason="重病住院，医嘱休养三个月",
                           evidence=PROOF, until_on=until)
    cw.session.commit()
    case = cw.session.get(Case, made.meilin_school)
    assert "deferral" in forms.available(cw, case)
    _name, doc = docx_of(cw, admin, made.meilin_school, "deferral")
    rows = table_cells(doc)
    by_label = {r[0]: r[1:] for r in rows}
    assert "缓学(√)" in by_label["申请类别"][0]
    assert by_label["申请理由"][0] == "重病住院，医嘱休养三个月"
    assert by_label["申请期限"][0] == f"自2026年11月23日至{until.year}年{until.month}月{until.day}日"
    # the school proposed it: its opinion is filled from the proposal, not left blank
    assert by_label["学校意见"][0] == f"同意缓学，由{admin.display_name}提出。　梅林中学（盖章）　2026年11月23日"


def test_a_child_who_never_enrolled_gets_the_enrolment_record(cw, world) -> None:  # type: ignore[no-untyped-def]
    cadre = world.users["village_cadre"]
    out = ladder.report(cw, cadre, ladder.ReportInput(
        new_child=ladder.NewChild(name="林小雨", gender="female", birth_date=date(2016, 3, 4),
                                  village_id=world.villages[0].id or 0, guardian_name="林大山",
                                  guardian_relation="father", guardian_phone="13912345678"),
        source="door_to_door", reasons=("poverty",)))
    cw.session.commit()
    case = out.case
    assert forms.available(cw, case) == ["register", "township_record"]
    _name, doc = docx_of(cw, cadre, case.id, "township_record")
    assert paragraphs(doc)[0] == "未入学适龄儿童少年组织入学记录表"
    rows = table_cells(doc)
    assert rows[0][2] == "林小雨" and rows[3][1] == "未入学原因"


def test_every_document_is_an_audited_view(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    form_files.make(cw, world.users["teacher"], made.meilin_school, "school_record", "pdf")
    event = cw.session.exec(select(AuditEvent).where(AuditEvent.action == "case.document")).one()
    assert (event.actor_id, event.object_id) == (world.users["teacher"].id, made.meilin_school)
    assert event.detail == {"form": "school_record", "disclosure": "masked"}


def test_the_escalation_alert_hook_renders_the_written_report_for_its_recipient(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    case = cw.session.get(Case, made.meilin_township)
    spec = forms.attachment_for_level(case, "township_persuasion")
    assert spec == {"type": "form", "form": "report", "case_id": made.meilin_township, "format": "pdf"}
    rendered = attachments.render_attachment(cw, world.users["township_officer"], spec)
    assert rendered is not None
    name, data, _caption = rendered
    assert name.startswith("表5_") and "疑似辍学学生报告单" in pdf_text(data)
    # a recipient who cannot see the case gets nothing attached
    assert attachments.render_attachment(cw, world.users["township_officer2"], spec) is None
    assert forms.attachment_for_level(case, "school_persuasion") is None


def test_every_template_lays_out_with_empty_lists() -> None:
    values = {key: "x" for key in _all_placeholders()}
    for name in layout.template_names():
        doc = layout.layout(name, values, {})
        assert doc.blocks, name


def test_a_template_row_that_does_not_fill_the_table_is_an_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bad = {"block": [{"type": "table", "widths": [1, 1, 1], "section": [{"rows": [["a", "b"]]}]}]}
    monkeypatch.setattr(layout, "load_template", lambda name: bad)
    with pytest.raises(layout.TemplateError, match="fill 2 of 3 columns"):
        layout.layout("bad", {}, {})


def _all_placeholders() -> set[str]:
    import re

    found: set[str] = set()
    for path in layout.TEMPLATES.glob("*.toml"):
        found |= set(re.findall(r"\{([a-z_][a-z0-9_.]*)\}", path.read_text(encoding="utf-8")))
    return found


def test_the_register_names_the_contact_phone_the_reason_not_back_and_the_notice(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    ladder.issue_deadline_notice(cw, officer, made.meilin_township)
    cw.session.commit()
    county = world.users["county_officer"]
    _name, doc = docx_of(cw, county, made.meilin_township, "register")
    contact = cw.session.exec(select(Case).where(Case.id == made.meilin_township)).one().school_responsible_id
    phone = cw.session.get(type(county), contact).phone
    assert phone and paragraphs(doc)[1].endswith(f"学校联系人及电话：彭娜老师　{phone}　　填表日期：2026年11月23日")
    rows = table_cells(doc)
    persuaded = next(r for r in rows if r[1] == "是否已开展劝返工作")
    assert persuaded[persuaded.index("未复学原因") + 1] == "说不想读书"  # the child's own words
    record = [r[2] for r in rows if r[0] == "劝返过程详细记录"]
    case = cw.session.get(Case, made.meilin_township)
    due = case.notice_due_on
    assert record[-1] == (f"2026年11月23日，{officer.display_name}下达限期复学通知书，"
                          f"限{due.year}年{due.month}月{due.day}日前返校。")


def test_the_register_lists_the_notices_delivery_with_its_date_and_recorder(cw, world, made, clock) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    ladder.issue_deadline_notice(cw, officer, made.meilin_township)
    cw.session.commit()
    # handed to the guardian the next day, recorded the day after (the receipt came back late)
    clock.set(local(2026, 11, 25, 10, 0))
    admin = world.users["school_admin"]
    receipt = [{"kind": "photo", "file_id": "RECEIPT", "width": 1280, "height": 960}]
    notice_delivery.record_delivery(cw, admin, made.meilin_township, date(2026, 11, 24), receipt)
    cw.session.commit()
    _name, doc = docx_of(cw, world.users["county_officer"], made.meilin_township, "register")
    record = [r[2] for r in table_cells(doc) if r[0] == "劝返过程详细记录"]
    due = cw.session.get(Case, made.meilin_township).notice_due_on
    assert record[-2:] == [
        f"2026年11月23日，{officer.display_name}下达限期复学通知书，限{due.year}年{due.month}月{due.day}日前返校。",
        f"2026年11月24日，限期复学通知书送达监护人，送达回执由{admin.display_name}登记。",
    ]


def test_the_notice_counts_the_visits_it_follows(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    ladder.issue_deadline_notice(cw, officer, made.meilin_township)
    cw.session.commit()
    _name, doc = docx_of(cw, officer, made.meilin_township, "notice")
    body = next(t for t in paragraphs(doc) if "动员劝返" in t)
    assert "多次" not in body
    assert "经学校和梅林镇人民政府动员劝返2次，至今仍未返校复学。" in body  # one school, one township visit
    # where the school issues it (seed 004), it counts the school's own visits
    data = forms.load(cw, officer, made.meilin_township, "notice")
    assert data.notice is not None
    school = dataclasses.replace(data, notice=dataclasses.replace(data.notice, issuer="school"))
    doc = form_files.document_for(school)
    assert doc.name == "notice_school"
    body = next(b.text for b in doc.blocks if isinstance(b, layout.Paragraph) and "动员劝返" in b.text)
    assert "经学校动员劝返1次，至今仍未返校复学。" in body and "多次" not in body


def test_the_result_box_takes_the_forms_values(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    ladder.mark_returned(cw, officer, made.meilin_township)
    cw.session.commit()
    # back at school: 返校 in the box, as the form says, not the last visit's "拒绝返校"
    _name, doc = docx_of(cw, officer, made.meilin_township, "township_record")
    rows = table_cells(doc)
    assert rows[-1][1] == "动员结果" and rows[-1][3] == "返校"
    assert form_files.FORM_RESULTS["home_teaching"] == "送教上门"
    assert form_files.FORM_RESULTS["dropped_out"] == "辍学"
    assert form_files.FORM_RESULTS["deferred"] == "缓学"
    assert form_files.township_heading("梅林镇") == "梅林镇"
    assert form_files.township_heading("城南") == "城南乡（镇）"
