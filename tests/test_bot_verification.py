"""A verification round (核查) through the real PTB stack and the fake Bot API.

The county officer imports a 200-child suspect list as the province sends it (a third of
the ID numbers missing or wrong, some of our own pupils, children of other places,
children named twice) with ``/verify new``; the class teacher and a village cadre hear how
many children they have and by when, and work through them child by child in the bot —
a candidate matched by name and birth date confirmed, dispositions with their evidence
photos, two children confirmed out of school opening ladder cases; the township reviews
(one sent back and verified again); the other units' children are disposed through
casework; the exported list holds every disposition. Then the due-date reminder and the
units' progress in the township digest."""

from __future__ import annotations

import io
from datetime import date, timedelta

from openpyxl import Workbook, load_workbook
from sqlmodel import Session, col, select

from casework import scheduler
from casework.labels import date_text
from casework.verification import importing, work
from demo.county import World
from demo.verification_list import Child, suspect_list
from handlers import background
from models.tables import Case, OutboxMessage, Student, User, VerificationEntry
from sandbox.fakebot.files import _png
from tests.botkit import deliver_outbox, rows, speaking
from tests.conftest import local

PHOTO = _png(640, 480)  # a photo of a certificate, as a phone sends it
VILLAGES = ["上坪村"] + ["溪口村", "竹园村", "下坪村"] * 3  # a handful for the one cadre we drive
DUE = date(2026, 11, 27)  # Friday of the week


def _list(world: World, today: date) -> bytes:
    pupils = world.students_of_class(world.classes[4])  # the teacher's class
    ours = [Child(s.name, s.gender, s.birth_date, s.id_number, s.hukou_address or "") for s in pupils]
    headers, numbered = suspect_list(ours, VILLAGES, ["梅林镇", "石桥乡"], size=200, today=today,
                                     duplicates=6, seed=3)
    cells = [list(r) for _n, r in numbered]
    cells[0][2] = pupils[0].id_number  # by ID
    cells[1][2] = (pupils[1].id_number or "")[:17] + "0"  # a typo: found by name and birth date
    if cells[1][2] == pupils[1].id_number:
        cells[1][2] = cells[1][2][:17] + "1"
    cells[2][2], cells[3][2] = pupils[2].id_number, pupils[3].id_number
    book = Workbook()
    sheet = book.active
    sheet.append(["青松县2026年秋季疑似失学辍学儿童核查名单"])  # a title row, as the lists have
    sheet.append(headers)
    for row in cells:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def entries(harness) -> list[VerificationEntry]:  # type: ignore[no-untyped-def]
    return rows(harness, VerificationEntry)


async def verify_one(chat, finding: str, *, detail: str | None = None, reason: str | None = None,  # type: ignore[no-untyped-def]
                     note: str | None = None, photo: bool = True) -> None:
    await chat.tap(finding)
    if detail:
        await chat.tap(detail)
    if reason:
        await chat.tap(reason)
    if note:
        await chat.send(note)
    else:
        await chat.tap("Skip")
    if photo:
        await chat.send_photo(PHOTO)
        await chat.tap("Done ✓")
    await chat.tap("✅ Confirm")


async def test_a_200_child_list_is_verified_reviewed_and_sent_back_up(harness, world) -> None:  # type: ignore[no-untyped-def]
    u = world.users
    county = speaking(harness, u["county_officer"], "en")
    await county.send("/verify new")
    assert county.last.endswith("Name the round (e.g. 2026年秋季第一批):")
    await county.send("2026秋第一批")
    await county.send("2026-11-27")
    assert county.last.startswith("Send the list as the province sent it (XLSX or CSV), then Done.")
    await county.send_document(_list(world, date(2026, 11, 23)), filename="核查名单.xlsx")
    await county.tap("Done ✓")
    await county.tap("✅ Confirm")
    await background.wait()
    summary = county.last
    assert summary.startswith("Round “2026秋第一批” imported: 200 children, due Nov 27, 2026. Matched by ID 3, "
                              "to confirm by name and birth date 1,"), summary
    assert "named twice 6;" in summary
    listed = entries(harness)
    assert len(listed) == 200
    bad_ids = sum(e.id_status != "valid" for e in listed)
    assert 50 <= bad_ids <= 85, bad_ids  # about a third, as real lists have
    assert {e.match for e in listed} == {"id", "candidate", "none", "duplicate"}

    # everyone with children is told how many and by when, in their language
    teacher_user, cadre_user = u["teacher"], u["village_cadre"]
    teacher = speaking(harness, teacher_user, "zh_Hans")
    cadre = speaking(harness, cadre_user, "en")
    officer = speaking(harness, u["township_officer"], "en")
    await deliver_outbox(harness)
    assert teacher.last == "你有 4 名待核查儿童，截止 11月27日（2026秋第一批）。"
    teacher = speaking(harness, teacher_user, "en")
    mine = [e for e in listed if e.village_id == world.villages[0].id and e.status == "open"]
    assert cadre.last == f"You have {len(mine)} children to verify, due 11/27 (2026秋第一批)."
    assert 3 <= len(mine) <= 12

    # the teacher's four pupils, one by one
    pupils = world.students_of_class(world.classes[4])
    await teacher.tap(f"vf:n:{listed[0].round_id}")
    assert teacher.reply_texts[0] == "4 children left, due 11/27."
    assert teacher.last.startswith(f"{pupils[0].name}, ")
    assert teacher.last.endswith("What did you find?")
    assert teacher.buttons()[:8] == [
        "At school here (registered)", "At school elsewhere", "Household-register cause", "Over age, left school",
        "Gone abroad", "Illness or disability", "Away with parents, unreachable", "Confirmed out of school"]
    await teacher.tap("At school here (registered)")
    await teacher.tap("Skip")
    assert teacher.last.startswith(
        "Send the Receiving school's enrolment confirmation (student register) (1 of 1)")
    await teacher.tap("Done ✓")  # the evidence is required
    assert teacher.callback_answer.text == "Send at least one photo or document first."
    await teacher.send_photo(PHOTO)
    await teacher.tap("Done ✓")
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[-1] == f"{pupils[0].name}: At school here (registered). Sent for review."

    await teacher.tap("▶ Next child")  # the pupil whose ID number on the list is wrong
    assert "The ID number on the list is not valid." in teacher.last
    assert f"Possibly our pupil {pupils[1].name}, born {date_text(pupils[1].birth_date).render('en')}" in teacher.last
    await teacher.tap("✅ Same child")
    await verify_one(teacher, "Confirmed out of school", reason="Left to work", note="随父母在外务工，未返校",
                     photo=False)
    first_case = next(e for e in entries(harness) if e.student_id == pupils[1].id).case_id
    assert teacher.reply_texts[-1] == (f"{pupils[1].name}: confirmed out of school; case #{first_case} is "
                                       "open on the ladder. Sent for review.")
    await teacher.tap("▶ Next child")
    await verify_one(teacher, "At school elsewhere", detail="Outside the province, registered")
    await teacher.tap("▶ Next child")
    await verify_one(teacher, "Illness or disability", detail="Home teaching", note="重度残疾，已安排送教上门")
    await teacher.tap("▶ Next child")
    assert teacher.last == "Every child of this list in your care is verified. Thank you."

    # the village cadre's children: the first confirmed out of school, the others not found
    await cadre.tap(f"vf:n:{listed[0].round_id}")
    await verify_one(cadre, "Confirmed out of school", reason="Family poverty", note="家庭困难，在家帮工",
                     photo=False)
    for _ in mine[1:]:
        await cadre.tap("▶ Next child")
        await verify_one(cadre, "Household-register cause", detail="No such person")
    await cadre.tap("▶ Next child")
    assert cadre.last == "Every child of this list in your care is verified. Thank you."

    cases = rows(harness, Case, col(Case.source) == "verification")
    assert len(cases) == 2
    linked = {e.case_id for e in entries(harness) if e.case_id}
    assert linked == {c.id for c in cases}
    new_child = next(c for c in cases if c.id != first_case)
    assert rows(harness, Student, Student.id == new_child.student_id)[0].enrolled is False
    # the pupil is a suspected dropout; the child we had no record of never enrolled here: an
    # enrolment case (组织入学), not a return to a school it never had
    assert {c.id: c.state for c in cases} == {first_case: "suspected", new_child.id: "enrolment"}

    # the township reviews: told once per verifier, the evidence shown, one sent back
    await deliver_outbox(harness)
    told = [t for t in officer.reply_texts if "has verified their children" in t]
    assert f"{teacher_user.display_name} has verified their children of “2026秋第一批”: 4 dispositions wait " \
           "for your review." in told
    await officer.send("/review")
    assert officer.last == f"{4 + len(mine)} verifications wait for your review."
    await officer.tap("🔎 2026秋第一批")
    waiting = officer.buttons()
    assert len(waiting) == 4 + len(mine)
    await officer.tap(waiting[0])
    assert harness.tg.bot_messages(officer.chat_id)[-2].media.get("photo")  # the evidence, before the buttons
    await officer.tap("Approve")
    assert officer.reply_texts[-1].startswith(f"Approved: {pupils[0].name}")
    for _ in range(4 + len(mine) - 2):
        await officer.tap("🔎 Next:")
        await officer.tap("Approve")
    # the last one is sent back with a reason, and verified again
    await officer.tap("🔎 Next:")
    await officer.tap("Send back")
    await officer.send("证明照片不清楚，请重拍")
    await officer.tap("✅ Confirm")
    assert officer.reply_texts[-1] == "Sent back to the verifier."
    await deliver_outbox(harness)
    assert cadre.last.startswith("The verification of ") and cadre.last.endswith("证明照片不清楚，请重拍")
    await cadre.tap("✏️ Verify again")
    assert "Sent back by the reviewer: 证明照片不清楚，请重拍" in cadre.last
    await verify_one(cadre, "Household-register cause", detail="No such person")
    await officer.send("/review")
    await officer.tap("🔎 2026秋第一批")
    await officer.tap(officer.buttons()[0])
    await officer.tap("Approve")

    # the other units' children, through casework as their own people would
    _dispose_the_rest(harness, world)
    assert {e.status for e in entries(harness)} == {"approved", "duplicate"}

    # the list goes back up: the province's columns, every disposition, the evidence count
    await county.send("/verify")
    shown = harness.tg.bot_messages(county.chat_id)[-2].text or ""
    assert "194 of 194 verified, 194 approved. By unit: " in shown  # the duplicates are not worked twice
    assert "梅林中学 4/4" in shown and f"上坪村 {len(mine)}/{len(mine)}" in shown
    await county.tap("📥 Export the list")
    doc = harness.tg.bot_messages(county.chat_id)[-1].media["document"]
    sheet = load_workbook(io.BytesIO(harness.tg.file(doc["file_id"]).data)).active
    got = [[c.value for c in row] for row in sheet.iter_rows()]
    assert got[0] == ["序号", "姓名", "身份证号", "性别", "出生日期", "户籍地址", "来源/批次", "Disposition",
                      "Detail", "Evidence files", "Verified by", "Reviewed by", "Review", "Case", "Note"]
    assert len(got) == 201
    assert all(r[7] and r[12] == "approved" for r in got[1:])
    assert got[1][1:3] == [pupils[0].name, pupils[0].id_number]
    assert got[1][7:13] == ["At school here (registered)", None, 1, teacher_user.display_name,
                            u["township_officer"].display_name, "approved"]
    assert got[2][7:9] == ["Confirmed out of school", None] and got[2][13] == f"#{first_case}"
    assert sum(1 for r in got[1:] if (r[14] or "").startswith("Named twice: see row")) == 6


def _dispose_the_rest(harness, world) -> None:  # type: ignore[no-untyped-def]
    """Every child still open, disposed by a person responsible for its unit and approved by
    a reviewer above them (the county's own by the operator)."""
    from tests.botkit import act

    def run(cw) -> None:  # type: ignore[no-untyped-def]
        admin = cw.session.get(User, world.users["admin"].id)
        for entry in cw.session.exec(select(VerificationEntry).where(VerificationEntry.status == "open")).all():
            who = importing.responsible(cw, entry.county_id, entry.township_id, entry.village_id,
                                        entry.school_id, entry.class_id)[0]
            if entry.match == "candidate":
                work.resolve_candidate(cw, who, entry.id, same=True)
            proof = [{"kind": "photo", "file_id": "f", "width": 800, "height": 600,
                      "evidence_kind": "written_statement"}]
            work.propose(cw, who, entry.id, "unreachable", proof=proof)
            reviewer = next((r for r in work._reviewers(cw, entry) if work.may_decide(cw, r, entry)), admin)
            work.decide(cw, reviewer, entry.id, True)

    act(harness, run)


async def test_the_reminder_before_the_due_date_and_the_progress_in_the_digest(harness, world) -> None:  # type: ignore[no-untyped-def]
    from tests.botkit import act

    data = _list(world, date(2026, 11, 23))
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    act(harness, lambda cw: importing.import_round(
        cw, cw.session.get(User, world.users["county_officer"].id), name="2026秋第一批", due_on=DUE,
        headers=cells[1], rows=[(i + 3, r) for i, r in enumerate(cells[2:])]))
    teacher = speaking(harness, world.users["teacher"], "en")
    officer = speaking(harness, world.users["township_officer"], "en")
    await deliver_outbox(harness)
    services = harness.services
    # the working day before the due date, at the policy's reminder time
    services.clock.set(local(2026, 11, 26, 8, 1))
    scheduler.tick(harness.engine, services.clock, services.policy)
    await deliver_outbox(harness)
    assert teacher.last == "Reminder: 4 children are still to verify for “2026秋第一批”, due 11/27."
    assert teacher.buttons() == ["▶ Start verifying"]
    # the township's daily digest says how far each unit is
    services.clock.set(local(2026, 11, 26, 18, 1))
    scheduler.tick(harness.engine, services.clock, services.policy)
    with Session(harness.engine) as s:
        digest = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "digest",
                                                    OutboxMessage.recipient_id == world.users["township_officer"].id)
                        ).all()[-1]
    from casework.outbox import text_from_json

    lines = [text_from_json(t).render("en") for t in digest.payload["lines"]]
    progress = next(line for line in lines if line.startswith("Verification"))
    assert progress.startswith("Verification “2026秋第一批” (due Nov 27): 0 of ")
    assert "梅林中学 0/4" in progress
    assert officer.chat_id  # the officer reads it with the chart, as every digest
    # on the due day's morning the second lead time reminds again; after it, nothing more
    services.clock.set(local(2026, 11, 27, 8, 1))
    scheduler.tick(harness.engine, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))
    scheduler.tick(harness.engine, services.clock, services.policy)
    with Session(harness.engine) as s:
        reminders = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "verification_due",
                                                       OutboxMessage.recipient_id == world.users["teacher"].id)).all()
    assert len(reminders) == 2


async def test_the_quarterly_re_check_and_a_child_passed_to_a_village(harness, world) -> None:  # type: ignore[no-untyped-def]
    from casework import ladder
    from tests.botkit import act

    u = world.users
    for pupil in world.students_of_class(world.classes[4])[:3]:
        act(harness, lambda cw, p=pupil: ladder.report(
            cw, cw.session.get(User, u["teacher"].id), ladder.ReportInput(student_id=p.id, reasons=("work",))))
    county = speaking(harness, u["county_officer"], "en")
    await county.send("/verify sample")
    assert county.last.endswith("How many suspected, confirmed and closed dropout cases should be re-checked?")
    await county.send("2")
    await county.send("2026年第四季度复核")
    await county.send("2026-12-31")
    await county.tap("✅ Confirm")
    assert county.reply_texts[-1] == "Re-check “2026年第四季度复核” drawn: 2 cases, due 12/31; the units are told."
    sampled = entries(harness)
    assert len(sampled) == 2 and {e.class_id for e in sampled} == {world.classes[4].id}
    await county.send("/export 核查")
    assert county.buttons() == ["📥 Export the list"]
    teacher = speaking(harness, u["teacher"], "en")
    await teacher.send("核查")  # the word opens the tool, as 导出 opens the ledger
    assert teacher.last == "“2026年第四季度复核”, due 12/31: 2 children left to verify of 2."

    # a list whose child only names the township: the township officer passes it to a village
    act(harness, lambda cw: importing.import_round(
        cw, cw.session.get(User, u["county_officer"].id), name="补充名单", due_on=DUE,
        headers=["姓名", "出生日期", "户籍地址"], rows=[(2, ["江小河", "2015-06-01", "青松县梅林镇"])]))
    officer = speaking(harness, u["township_officer"], "en")
    cadre = speaking(harness, u["village_cadre"], "en")
    await deliver_outbox(harness)
    assert officer.last == "You have 1 child to verify, due 11/27 (补充名单)."
    await officer.tap("▶ Start verifying")
    assert officer.reply_texts[0] == ("1 child left, due 11/27. No village or school was found for this child: "
                                      "pass it to a village, or verify it yourself below.")
    assert officer.buttons(officer.replies[0].message_id) == ["➡ 上坪村", "➡ 溪口村"]
    await officer.tap("➡ 上坪村")
    assert officer.reply_texts[-1] == "江小河 passed to 上坪村."
    await deliver_outbox(harness)
    assert cadre.last == "江小河 of “补充名单” was passed to you to verify, due 11/27."
    await cadre.tap("▶ Start verifying")
    assert cadre.last.startswith("江小河, —, born Jun 1, 2015")


async def test_a_child_the_list_gives_no_gender_is_asked_for_before_the_case_opens(harness, world) -> None:  # type: ignore[no-untyped-def]
    """A child we have no record of, confirmed out of school, is registered with the gender
    the verifier gives (they found the child) when the list gives none and has no valid ID
    number to read it from: 性别 goes on the official forms, so it is asked, never guessed.
    Where the ID number gives it, nobody is asked."""
    from demo.county import invented_id_number
    from tests.botkit import act

    u = world.users
    act(harness, lambda cw: importing.import_round(
        cw, cw.session.get(User, u["county_officer"].id), name="补充名单", due_on=DUE,
        headers=["姓名", "身份证号", "出生日期", "户籍地址"],
        rows=[(2, ["江小溪", "", "2015-06-01", "青松县上坪村"]),
              (3, ["江小河", invented_id_number(date(2014, 6, 1), 804, False), "", "青松县上坪村"])]))
    cadre = speaking(harness, u["village_cadre"], "zh_Hans")
    await deliver_outbox(harness)
    await cadre.tap("▶")
    assert cadre.last.startswith("江小溪，—，")
    await cadre.tap("确属失学辍学")
    await cadre.tap("家庭贫困")
    assert cadre.last == "性别？" and cadre.buttons()[:2] == ["男", "女"]
    assert rows(harness, Case) == [] and rows(harness, Student, Student.name == "江小溪") == []  # not yet
    await cadre.tap("女")
    await cadre.tap("跳过")
    assert cadre.last.splitlines()[:5] == ["江小溪的核查", "• 核查结果：确属失学辍学", "• 理由：家庭贫困",
                                           "• 性别：女", "• 备注：—"]
    await cadre.tap("✅ 确认")
    girl = next(e for e in entries(harness) if e.name == "江小溪")
    assert cadre.reply_texts[-1] == f"江小溪：确属失学辍学，已立案 #{girl.case_id} 进入劝返流程。已提交审核。"
    assert rows(harness, Student, Student.id == girl.student_id)[0].gender == "female"

    # the ID number says 男: the verifier goes straight on to the note
    await cadre.tap("▶")
    assert cadre.last.startswith("江小河，男，")
    await cadre.tap("确属失学辍学")
    await cadre.tap("外出打工")
    assert cadre.last == "有需要向审核人说明的情况吗？（没有请点“跳过”）"
    await cadre.tap("跳过")
    assert "性别" not in cadre.last
    await cadre.tap("✅ 确认")
    boy = next(e for e in entries(harness) if e.name == "江小河")
    assert boy.case_id is not None
    assert rows(harness, Student, Student.id == boy.student_id)[0].gender == "male"
