"""The register of school-age children and duplicates through the real PTB stack and the
fake Bot API: the county officer imports a household-register extract (``/register``, the
file, the preview, Confirm), the village cadre is told of the children with no school and
no case and reports one with a tap; the three ledgers come from the ``/export`` menu and
read back with openpyxl; a cadre registering a child door to door sees the possible
matches in their village (and nothing of what exists elsewhere); the county officer merges
two records of one child, confirmed once more and audited."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import Workbook, load_workbook
from sqlmodel import col

from casework import ladder
from demo.county import invented_id_number
from handlers import background
from models.tables import AuditEvent, Case, Guardian, RegisterChild, Student, TransferRequest
from tests.botkit import act, conversation, deliver_outbox, one, open_case, rows, speaking
from tests.test_bot_exports import documents, upload

HEADERS = ["户号", "户主姓名", "姓名", "性别", "出生日期", "身份证号码", "乡镇", "村（社区）", "户籍地址", "就读情况"]


def extract(rows_: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["青松县2026年适龄儿童户籍信息"])  # a title row first, as the extracts have
    ws.append(HEADERS)
    for row in rows_:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def idn(birth: date, n: int, female: bool = False) -> str:
    return invented_id_number(birth, 800 + n, female)


def household(world) -> list[list[object]]:  # type: ignore[no-untyped-def]
    pupil = world.students_of_class(world.classes[4])[0]  # 梅林中学 七年级1班, lives in 上坪村
    return [
        ["S01", "刘大成", pupil.name, "男" if pupil.gender == "male" else "女", pupil.birth_date,
         pupil.id_number, "梅林镇", "上坪村", "上坪村3组", ""],
        ["S02", "刘大成", "刘小满", "女", date(2016, 3, 8), idn(date(2016, 3, 8), 1, True),
         "梅林镇", "上坪村", "上坪村3组", ""],
        ["S03", "何春", "何小东", "男", date(2012, 7, 1), idn(date(2012, 7, 1), 2),
         "梅林镇", "上坪村", "上坪村5组", "外地就读"],
        ["S04", "何春", "何大东", "男", date(2008, 7, 1), idn(date(2008, 7, 1), 3),
         "梅林镇", "上坪村", "上坪村5组", ""],
    ]


async def test_an_extract_is_imported_the_cadre_is_told_and_reports_a_child(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["county_officer"], "en")
    await officer.send("/register")
    assert officer.last.startswith("Send the household-register extract as an XLSX or CSV file")

    bad = household(world)
    bad.append(["S05", "", "孙小五", "男", date(2015, 1, 2), "1234", "梅林镇", "上坪村", "", ""])
    await upload(officer, extract(bad), "户籍.xlsx")
    assert officer.reply_texts[0].split("\n")[:3] == [
        "Nothing was imported: correct the rows with errors and send the file again.",
        "户籍.xlsx: 5 rows — 3 to add, 0 to update, 0 unchanged, 1 not of school age, 1 with errors.",
        "Row 7 (孙小五): ID number: An ID number has 18 characters; this one has 4.",
    ]
    assert rows(harness, RegisterChild) == []

    await upload(officer, extract(household(world)), "户籍.xlsx")
    assert officer.last.split("\n")[:3] == [
        "Register of school-age children — preview",
        "• Extract: ",
        "户籍.xlsx: 4 rows — 3 to add, 0 to update, 0 unchanged, 1 not of school age, 0 with errors.",
    ]
    assert rows(harness, RegisterChild) == []  # nothing before Confirm
    await officer.tap("✅ Confirm")
    assert officer.reply_texts[-1].startswith("Register updated: 3 children added, 0 updated")
    assert [c.name for c in rows(harness, RegisterChild)] == [
        world.students_of_class(world.classes[4])[0].name, "刘小满", "何小东"]

    # the cadre of 上坪村 is told: one child with no school and no case (the pupil is at
    # school, 何小东 is at school elsewhere)
    cadre = speaking(harness, world.users["village_cadre"], "en")
    assert await deliver_outbox(harness) == 1
    assert cadre.last == ("1 school-age child of your village has no school and no case in the "
                          "register. Please find the child and report them.")
    await cadre.tap("📋 See the list")
    assert cadre.last.split("\n") == [
        "1 school-age child has no school and no case. Find the child; report them if out of school.",
        "• 刘小满, born Mar 8, 2016, household S02 (刘大成): Not yet checked",
    ]
    await cadre.tap("📝 Report 刘小满")
    # a child who never enrolled is an enrolment case: no "since when absent", no whereabouts
    assert cadre.last == "Why has the child not enrolled? Choose all that apply, then Done."
    student = one(harness, Student, Student.name == "刘小满")
    assert (student.enrolled, student.village_id) == (False, world.villages[0].id)
    assert conversation(harness, world.users["village_cadre"]).draft["stu"] == str(student.id)
    assert one(harness, RegisterChild, RegisterChild.name == "刘小满").student_id == student.id

    # once reported, the child has a case and is no longer listed
    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    await cadre.tap("Skip")
    await cadre.tap("Skip")
    await cadre.tap("✅ Confirm")
    case = one(harness, Case)
    assert (case.student_id, case.state) == (student.id, "enrolment")
    await cadre.send("/unschooled")
    assert cadre.last == ("Every school-age child of your area in the register is at school, "
                          "accounted for, or has a case.")


async def test_a_teacher_or_a_township_officer_cannot_import_the_register(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/register")
    assert teacher.last == "This is not among the things your role can do here."
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/register")
    assert officer.last == "This is not among the things your role can do here."


async def test_the_three_ledgers_come_from_the_export_menu(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["county_officer"], "zh_Hans")
    await officer.send("/register")
    await upload(officer, extract(household(world)), "户籍.xlsx")
    await officer.tap("✅ 确认")
    suspected = open_case(harness, world, student_index=1)
    dropout = open_case(harness, world, student_index=2)
    u = world.users
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], dropout))
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], dropout))
    assert one(harness, Case, Case.id == dropout).level == "township_persuasion"

    await officer.send("/export")
    assert officer.buttons()[-3:] == ["适龄儿童台账", "疑似辍学台账", "辍学台账"]
    for title in ("适龄儿童台账", "疑似辍学台账", "辍学台账"):
        await officer.tap(title)
        await background.wait()
    books = {name: load_workbook(io.BytesIO(data)) for name, data in documents(harness, officer)}
    assert sorted(books) == ["疑似辍学台账_2026-11-23.xlsx", "辍学台账_2026-11-23.xlsx",
                             "适龄儿童台账_2026-11-23.xlsx"]

    children = books["适龄儿童台账_2026-11-23.xlsx"]["适龄儿童台账"]
    head = [c.value for c in children[1]]
    body = [dict(zip(head, r, strict=True)) for r in children.iter_rows(min_row=2, values_only=True)]
    pupil = world.students_of_class(world.classes[4])[0]
    assert [(r["姓名"], r["户号"], r["就读状态"], r["就读学校"], r["需入户核查"]) for r in body] == [
        (pupil.name, "S01", "在本校就读", "梅林中学", None),
        ("刘小满", "S02", "待核实", None, "是"),
        ("何小东", "S03", "外地就读", None, None),
    ]
    assert body[1]["居民身份证号码"] == idn(date(2016, 3, 8), 1, True)  # the county reads IDs in full

    def cases_of(name: str, sheet: str) -> list[int]:
        ws = books[name][sheet]
        head = [c.value for c in ws[1]]
        return [r[head.index("个案编号")] for r in ws.iter_rows(min_row=2, values_only=True)]

    assert cases_of("疑似辍学台账_2026-11-23.xlsx", "疑似辍学台账") == [suspected]
    assert cases_of("辍学台账_2026-11-23.xlsx", "辍学台账") == [dropout]
    audited = rows(harness, AuditEvent, col(AuditEvent.action).like("register.%.export"))
    assert [(a.action, a.detail["rows"], a.actor_id) for a in audited] == [
        ("register.children.export", 3, u["county_officer"].id),
        ("register.suspected.export", 1, u["county_officer"].id),
        ("register.dropout.export", 1, u["county_officer"].id),
    ]


async def _register_new_child(cadre, name: str, birth: date, id_number: str | None, phone: str | None) -> None:  # type: ignore[no-untyped-def]
    await cadre.send("/report")
    await cadre.tap("➕ A child who never enrolled")
    await cadre.send(name)
    await cadre.tap("Male")
    await cadre.send(birth.isoformat())
    if id_number:
        await cadre.send(id_number)
    else:
        await cadre.tap("Skip")
    await cadre.tap("Han (汉族)")
    await cadre.send("上坪村三组")
    await cadre.tap("Same as the household registration address")
    await cadre.send("王大山")
    await cadre.tap("Father")
    if phone:
        await cadre.send(phone)
    else:
        await cadre.tap("Skip")


async def test_a_cadre_sees_possible_matches_in_the_village_and_picks_one(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre_user = world.users["village_cadre"]
    cadre = speaking(harness, cadre_user, "en")
    village = world.villages[0].id
    mine = next(p for p in world.students if p.village_id == village and p.class_id == world.classes[4].id)
    before = len(rows(harness, Student))

    # the same name and date of birth as a pupil of the cadre's village
    await _register_new_child(cadre, mine.name, mine.birth_date, None, None)
    assert cadre.last == ("These children on record may be the same child. Pick the one it is, or "
                          "confirm a new child.")
    assert cadre.buttons()[:2] == [f"{mine.name} · Grade 7 Class 1 — same name and date of birth",
                                   "➕ None of these: a new child"]
    await cadre.tap(f"{mine.name} · Grade 7 Class 1")
    assert cadre.last == "Since when has the child been absent? (e.g. 11-21)"
    assert conversation(harness, cadre_user).draft["stu"] == str(mine.id)
    await cadre.send("11-16")
    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    await cadre.tap("At home")
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    await cadre.tap("Reached the guardian")
    await cadre.tap("Skip")
    await cadre.tap("Skip")
    assert f"• Student: {mine.name} · Grade 7 Class 1" in cadre.last.split("\n")
    await cadre.tap("✅ Confirm")
    assert one(harness, Case).student_id == mine.id
    assert len(rows(harness, Student)) == before  # no second record of the child

    # the same guardian phone (a sibling, perhaps): offered; "a new child" makes one
    guardian = one(harness, Guardian, Guardian.student_id == mine.id)
    await _register_new_child(cadre, "王小弟", date(2015, 2, 3), None, guardian.phone)
    assert cadre.buttons()[:2] == [f"{mine.name} · Grade 7 Class 1 — same guardian phone",
                                   "➕ None of these: a new child"]
    await cadre.tap("➕ None of these: a new child")
    assert cadre.last == "Why has the child not enrolled? Choose all that apply, then Done."
    assert conversation(harness, cadre_user).draft["stu"] == "new"


async def test_a_match_outside_the_cadres_village_is_never_shown(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre_user = world.users["village_cadre"]
    cadre = speaking(harness, cadre_user, "en")
    elsewhere = next(p for p in world.students if p.village_id not in (None, world.villages[0].id))
    # the same name and birth date, and the same ID number, as a child of another village
    await _register_new_child(cadre, elsewhere.name, elsewhere.birth_date, elsewhere.id_number, None)
    assert cadre.last == "Why has the child not enrolled? Choose all that apply, then Done."  # no match step
    assert elsewhere.name not in " ".join(cadre.reply_texts)
    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    await cadre.tap("Skip")
    await cadre.tap("Skip")
    await cadre.tap("✅ Confirm")
    # the same ID outside the scope: a transfer request to the child's unit, nothing revealed
    assert cadre.reply_texts[-1].startswith("This child needs confirmation from another unit")
    request = one(harness, TransferRequest)
    assert (request.student_id, request.to_village_id) == (elsewhere.id, world.villages[0].id)
    assert rows(harness, Case) == []


async def test_the_county_officer_merges_two_records_of_one_child(harness, world) -> None:  # type: ignore[no-untyped-def]
    pupil = world.students_of_class(world.classes[4])[1]
    case_id = open_case(harness, world, student_index=1)
    # a cadre registered the same child again door to door, without an ID number
    twin = act(harness, lambda cw: ladder.report(cw, world.users["village_cadre"], ladder.ReportInput(
        new_child=ladder.NewChild(name=pupil.name, gender=pupil.gender, birth_date=pupil.birth_date,
                                  village_id=world.villages[0].id, guardian_name="王大山",
                                  guardian_relation="father"),
        source="door_to_door", reasons=("poverty",))).case.student_id)
    assert twin != pupil.id

    officer = speaking(harness, world.users["county_officer"], "en")
    await officer.send("/duplicates")
    assert officer.reply_texts[0].startswith("1 possible duplicate. Merging moves")
    assert officer.reply_texts[1].split("\n")[0] == "same name and date of birth"
    await officer.tap(f"Keep #{pupil.id}, merge #{twin} into it")
    assert officer.last.startswith(f"Merge #{twin} into #{pupil.id}? 1 cases and 1 guardians move to "
                                   f"#{pupil.id}; #{twin} is deleted.")
    assert len(rows(harness, Student, Student.id == twin)) == 1  # nothing before the confirmation
    await officer.tap("✅ Merge")
    assert officer.reply_texts[-1] == f"Merged: #{twin} is now part of #{pupil.id} (1 cases moved)."
    assert rows(harness, Student, Student.id == twin) == []
    assert sorted(c.student_id for c in rows(harness, Case)) == [pupil.id, pupil.id]
    assert one(harness, Case, Case.id == case_id).student_id == pupil.id
    assert [g.ordinal for g in rows(harness, Guardian, Guardian.student_id == pupil.id)] == [1, 2]
    audit = one(harness, AuditEvent, AuditEvent.action == "student.merge")
    assert (audit.actor_id, audit.object_id, audit.detail["dropped"]) == (
        world.users["county_officer"].id, pupil.id, twin)
    await officer.send("/duplicates")
    assert officer.last == "No possible duplicates in your area."


async def test_only_the_county_officer_merges_and_a_forged_merge_is_refused(harness, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world.students[0], world.students[1]
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/duplicates")
    assert officer.last == "Only the county officer merges duplicate records."
    await officer.tap_data(f"mrg:{a.id}:{b.id}:y")
    assert officer.last == "Only the county officer merges duplicate records."
    assert len(rows(harness, Student, col(Student.id).in_([a.id, b.id]))) == 2
    refused = rows(harness, AuditEvent, AuditEvent.allowed == False)  # noqa: E712
    # both the list and the forged merge were refused, and written down
    assert [(r.action, r.actor_id) for r in refused] == [("student.merge", world.users["township_officer"].id)] * 2


async def test_the_cadre_records_what_was_found_door_to_door(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["county_officer"], "en")
    await officer.send("/register")
    await upload(officer, extract(household(world)), "户籍.xlsx")
    await officer.tap("✅ Confirm")
    child = one(harness, RegisterChild, RegisterChild.name == "刘小满")

    # a cadre of another village cannot touch the child, even with a forged button
    stranger = speaking(harness, world.users["village_cadre2"], "en")
    await stranger.send("/unschooled")
    assert stranger.last.startswith("Every school-age child of your area")
    await stranger.tap_data(f"rst:{child.id}:gone")
    assert stranger.last == "There is no such child in your area's register."
    assert one(harness, RegisterChild, RegisterChild.id == child.id).status is None

    cadre = speaking(harness, world.users["village_cadre"], "en")
    await cadre.send("/unschooled")
    assert cadre.buttons() == ["📝 Report 刘小满", "✏️ Status of 刘小满"]
    await cadre.tap("✏️ Status of 刘小满")
    assert cadre.last == ("What did you find about 刘小满? A child out of school is reported, not given a "
                          "status.")
    await cadre.tap("At school elsewhere")
    assert cadre.reply_texts[-1] == "Status of 刘小满: At school elsewhere."
    await cadre.send("/unschooled")
    assert cadre.last.startswith("Every school-age child of your area")
    audit = one(harness, AuditEvent, AuditEvent.action == "register.status")
    assert (audit.actor_id, audit.object_id, audit.detail) == (
        world.users["village_cadre"].id, child.id, {"before": None, "after": "elsewhere"})
