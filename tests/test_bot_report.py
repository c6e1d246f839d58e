"""Report a suspected dropout, through the real PTB stack and the fake Bot API.

A teacher picks a pupil from the class roster (or types part of the name), a village
cadre registers a child who never enrolled (表1), in English and in Chinese. Wrong ID
numbers, phones and dates are asked again with the reason, and nothing is written until
the summary is confirmed; then the people the policy names are told (the outbox).
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, func, select

from casework.personal import mask_name
from demo.county import invented_id_number
from models.tables import (
    AuditEvent,
    Case,
    CaseEvent,
    ConversationState,
    Guardian,
    OutboxMessage,
    Student,
)
from tests.botkit import conversation, deliver_outbox, one, open_case, rows, run_agenda, speaking

SUMMARY_EN = "Report a suspected dropout — summary"


def counts(harness) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(harness.engine) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (Case, CaseEvent, Student, Guardian, OutboxMessage)}


async def test_teacher_reports_from_the_roster_edits_a_field_and_the_school_admin_is_told(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    teacher = speaking(harness, world.users["teacher"], "en")
    pupils = world.students_of_class(world.classes[4])
    student = pupils[1]  # 邹浩瑶, a monitored household

    await teacher.send("/report")
    assert teacher.last == "Which student? Pick from the list, or type part of the name."
    # the class roster, and nothing else: no other class, no "never enrolled" for a teacher
    assert sorted(teacher.buttons()[:-1]) == sorted(f"{p.name} · Grade 7 Class 1" for p in pupils)

    await teacher.tap(student.name)
    assert teacher.last == "Since when has the child been absent? (e.g. 11-21)"
    # Monday 11-23: the school day before is Friday, not Sunday
    assert teacher.buttons() == ["Today (Nov 23)", "Previous school day (Nov 20)", "◀ Back", "Cancel"]
    await teacher.tap("Previous school day")

    await teacher.tap("Done")  # nothing chosen yet
    assert teacher.callback_answer.text == "Choose at least one."
    assert teacher.callback_answer.show_alert
    await teacher.tap("Learning difficulty")
    await teacher.tap("Left to work")
    await teacher.tap("Done")
    assert teacher.reply_texts[0].endswith(
        "→ Learning difficulty / weariness of study, Left to work")
    assert teacher.last == "Where is the child now? Choose or type."
    await teacher.send("在县城打工")

    assert teacher.buttons()[0] == "Keep: Monitored household"
    assert "✅ Monitored household" in teacher.buttons()
    await teacher.tap("Left-behind child")  # a changed selection is taken with Done, not "Keep"
    assert not teacher.buttons()[0].startswith("Keep")
    await teacher.tap("Left-behind child")
    await teacher.tap("Keep")
    await teacher.tap("Could not reach the guardian")
    await teacher.send("Mother says he refuses to come")
    assert teacher.last == "A photo if you have one (optional), or Skip."
    await teacher.send_photo(caption="his empty desk")
    assert teacher.last == "Received (1). Send more, or tap Done."
    await teacher.tap("Done")

    assert teacher.last == "\n".join([
        SUMMARY_EN,
        f"• Student: {student.name} · Grade 7 Class 1",
        "• Absent since: Nov 20, 2026",
        "• Reasons: Learning difficulty / weariness of study, Left to work",
        "• Whereabouts: 在县城打工",
        "• Key groups: Monitored household",
        "• Guardian contact: Could not reach the guardian",
        "• Note: Mother says he refuses to come",
        "• Photo: 1 attached",
        "",
        "Check the details, then confirm.",
    ])
    assert "✏️ Student" not in teacher.buttons()  # the subject is not edited, it is re-reported
    assert counts(harness)["Case"] == 0  # nothing written before Confirm

    # edit one field and come back to the summary, the rest untouched
    await teacher.tap("✏️ Whereabouts")
    assert teacher.last == "Where is the child now? Choose or type."
    assert "« Back to summary" in teacher.buttons()
    await teacher.tap("At home")
    assert teacher.last.startswith(SUMMARY_EN)
    assert "• Whereabouts: At home" in teacher.last
    assert "• Note: Mother says he refuses to come" in teacher.last

    await teacher.tap("✅ Confirm")
    admin = world.users["school_admin"]
    assert teacher.reply_texts[1:] == [f"Case #1 opened for {student.name}.", f"Told: {admin.display_name}."]
    confirmed = teacher.replies[0]
    assert confirmed.edited and confirmed.text.endswith("→ ✅ Confirm")
    assert confirmed.button_labels == []  # the confirmed summary keeps no buttons to tap twice

    case = one(harness, Case)
    assert (case.student_id, case.state, case.source) == (student.id, "suspected", "teacher_report")
    assert case.reasons == ["learning", "work"]
    assert case.whereabouts == "At home"
    assert case.absent_since == date(2026, 11, 20)
    assert case.reported_by == world.users["teacher"].id
    event = one(harness, CaseEvent, CaseEvent.kind == "reported")
    assert event.note == "Mother says he refuses to come"
    assert [(e["kind"], e["caption"]) for e in event.evidence] == [("photo", "his empty desk")]
    assert event.data == {"guardian_contact_checked": False}
    assert rows(harness, ConversationState) == []

    # the school admin (the policy's "notify" for a suspected dropout) reads it in Chinese
    message = one(harness, OutboxMessage)
    assert (message.recipient_id, message.kind) == (admin.id, "level_entered")
    admin_chat = harness.user(admin)
    assert await deliver_outbox(harness) == 0  # news waits for the admin's agenda (casework.agenda)
    run_agenda(harness)
    assert await deliver_outbox(harness) == 1
    assert admin_chat.last.split("\n")[1] == f"• 个案#1 梅林中学七年级（1）班{student.name}已进入“疑似辍学”阶段。"
    assert admin_chat.buttons() == [f"#1 {mask_name(student.name)}"]
    assert [m.status for m in rows(harness, OutboxMessage)] == ["folded", "sent"]  # the news, the agenda


async def test_a_pupil_is_found_by_typing_part_of_the_name_within_scope(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    await teacher.send("欧阳")
    assert teacher.last == (
        "Nothing matches “欧阳”. Try another part of the name.\n"
        "Which student? Pick from the list, or type part of the name."
    )
    # 晴 is in three names at 梅林中学, one of them in the teacher's class: that one is taken
    ding = next(p for p in world.students_of_class(world.classes[4]) if "晴" in p.name)
    await teacher.send("晴")
    assert teacher.last == "Since when has the child been absent? (e.g. 11-21)"
    assert conversation(harness, world.users["teacher"]).draft["stu"] == str(ding.id)

    # the school admin sees the whole school: three found, each with its class
    admin = speaking(harness, world.users["school_admin"], "en")
    await admin.send("/report")
    await admin.send("晴")
    assert teacher.last.startswith("Since when")  # (the teacher's chat is untouched)
    assert admin.last.startswith("3 found:\nWhich student?")
    found = admin.buttons()[:3]
    assert sorted(found) == sorted(["丁晴岩 · Grade 7 Class 1", "唐超晴 · Grade 7 Class 2",
                                    next(b for b in found if b.startswith("邱岩晴 · "))])
    await admin.tap("唐超晴")
    assert admin.last.startswith("Since when")


async def test_a_cadre_searches_the_children_of_the_village(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre = speaking(harness, world.users["village_cadre"], "en")
    village = world.villages[0].id
    mine = next(p for p in world.students if p.village_id == village and p.class_id == world.classes[4].id)
    elsewhere = next(p for p in world.students if p.village_id != village)
    await cadre.send("/report")
    await cadre.send(elsewhere.name)
    assert cadre.last.startswith(f"Nothing matches “{elsewhere.name}”")
    assert cadre.buttons()[0] == "➕ A child who never enrolled"  # still there to register someone
    await cadre.send(mine.name)
    assert cadre.last == "Since when has the child been absent? (e.g. 11-21)"
    assert conversation(harness, world.users["village_cadre"]).draft["stu"] == str(mine.id)


async def test_a_pupil_with_an_open_case_is_refused_when_picked(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world, student_index=1)
    pupil = world.students_of_class(world.classes[4])[1]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    await teacher.tap(pupil.name)
    assert teacher.last.startswith(
        f"{pupil.name} already has an open case, #{case_id}; send /case {case_id} to see it.")
    conv = conversation(harness, world.users["teacher"])
    assert conv is not None and conv.step == "stu" and "stu" not in conv.draft
    # another pupil is fine
    await teacher.tap(world.students_of_class(world.classes[4])[2].name)
    assert teacher.last.startswith("Since when")


async def test_cadre_registers_a_child_who_never_enrolled_and_bad_answers_are_asked_again(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    cadre_user = world.users["village_cadre"]
    cadre = speaking(harness, cadre_user, "en")
    before = counts(harness)

    await cadre.send("/report")
    # the village's pupils, paged, with the never-enrolled child pinned above every page
    assert cadre.buttons()[0] == "➕ A child who never enrolled"
    assert "1/3" in cadre.buttons()
    await cadre.tap("2 ›")
    assert cadre.buttons()[0] == "➕ A child who never enrolled"
    assert "2/3" in cadre.buttons()
    await cadre.tap("➕ A child who never enrolled")
    assert cadre.last == "The child's full name?"

    async def refused(answer: str, reason: str, step: str) -> None:
        await cadre.send(answer)
        prompt = cadre.last
        assert prompt.split("\n")[0] == reason, prompt
        conv = conversation(harness, cadre_user)
        assert conv is not None and conv.step == step, conv  # the question did not move on
        assert step not in conv.draft
        assert counts(harness) == before  # and nothing was written

    await refused("王2明", "A name cannot contain digits.", "nname")
    await cadre.send("王小明")
    await cadre.tap("Male")
    await refused("2030-01-01", "The date Jan 1, 2030 is in the future.", "nbirth")
    await refused("13/5/6", "Please write the date like 2026-11-21, 11-21 or 11月21日.", "nbirth")
    await refused("2023-05-06", "A child born on May 6, 2023 is 3 years old; only ages 5 to 17 can be recorded.",
                  "nbirth")
    await cadre.send("2013-05-06")
    assert cadre.last == "Resident ID number? (Skip if the child has none)"
    await refused("4305212013", "An ID number has 18 characters; this one has 10.", "nid")
    good_id = invented_id_number(date(2013, 5, 6), 9, female=False)
    broken = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    await refused(broken, "The ID number's check digit is wrong.", "nid")
    other_day = invented_id_number(date(2013, 5, 7), 9, female=False)
    await refused(other_day, "The birth date May 6, 2013 does not match the ID number, which says May 7, 2013.",
                  "nid")
    await cadre.send(good_id)
    # 表1/表2 ask for the ethnicity and both addresses
    assert cadre.last == "Ethnicity (民族)? Tap or type."
    await cadre.tap("Han (汉族)")
    assert cadre.last == "Household registration address (户籍地址)?"
    await cadre.send("青松县梅林镇上坪村3组12号")
    await cadre.tap("Same as the household registration address")
    await cadre.send("王大山")
    await cadre.tap("Father")
    await refused("12345", "A mobile number has 11 digits and starts with 13 to 19.", "gphone")
    await refused("5912345678", "This is neither a mobile number (11 digits) nor a landline number with its "
                  "area code.", "gphone")
    await cadre.send("138 0013 8000")
    # never absent from a school it never had: no "since when", no whereabouts, and the
    # guardian just described is not asked about again
    assert cadre.last == "Why has the child not enrolled? Choose all that apply, then Done."
    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    assert not any(b.startswith("Keep") for b in cadre.buttons())  # a new child has no groups to keep
    assert cadre.buttons()[0] == "✓ General"  # 表2's 一般, one tap
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    assert cadre.last == "Anything else to note? Type it, or Skip."
    await cadre.tap("Skip")
    assert cadre.buttons() == ["Skip", "◀ Back", "Cancel"]  # no photo yet: Skip, not Done
    await cadre.tap("Skip")

    summary = cadre.last
    assert summary.startswith("Register a child who never enrolled — summary")
    for line in ("• Student: New child: 王小明", "• Gender: Male", "• Date of birth: May 6, 2013",
                 f"• ID number: {good_id}", "• Ethnicity: 汉族",
                 "• Household registration address: 青松县梅林镇上坪村3组12号",
                 "• Current address: 青松县梅林镇上坪村3组12号", "• Guardian: 王大山",
                 "• Relation: Father", "• Guardian's phone: 13800138000",
                 "• Key groups: Left-behind child", "• Photo: —"):
        assert line in summary.split("\n"), (line, summary)
    assert "Absent since" not in summary and "Guardian contact" not in summary
    # the cadre who typed them reads them back in full to catch a typo, and that is audited
    shown = rows(harness, AuditEvent, AuditEvent.action == "personal.disclose")
    assert {(a.actor_id, a.detail["shown"], a.detail["where"]) for a in shown} == {
        (cadre_user.id, "id_number", "report_summary"), (cadre_user.id, "guardian_phone", "report_summary")}
    assert counts(harness) == before

    await cadre.tap("✅ Confirm")
    assert cadre.reply_texts[1] == "Case #1 opened: organising 王小明's enrolment."
    officer = world.users["township_officer"]
    # no school to tell for a child who never enrolled: the township officer is told
    assert cadre.reply_texts[2] == f"Told: {officer.display_name}."

    student = one(harness, Student, Student.name == "王小明")
    assert (student.enrolled, student.class_id, student.village_id) == (False, None, world.villages[0].id)
    assert (student.gender, student.birth_date, student.id_number) == ("male", date(2013, 5, 6), good_id)
    assert student.key_groups == ["left_behind"]
    guardian = one(harness, Guardian, Guardian.student_id == student.id)
    assert (guardian.name, guardian.relation, guardian.phone) == ("王大山", "father", "13800138000")
    case = one(harness, Case)
    assert (case.source, case.school_id, case.village_id) == ("door_to_door", None, world.villages[0].id)
    assert (case.reasons, case.absent_since, case.state) == (["poverty"], None, "enrolment")
    assert (student.ethnicity, student.hukou_address, student.current_address) == (
        "汉族", "青松县梅林镇上坪村3组12号", "青松县梅林镇上坪村3组12号")

    officer_chat = speaking(harness, officer, "en")
    run_agenda(harness)
    assert await deliver_outbox(harness) == 1
    assert officer_chat.last.split("\n")[1] == "• Case #1 王小明 (not enrolled, 上坪村) is now at organising enrolment."


async def test_teacher_reports_in_chinese(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = harness.user(world.users["teacher"])  # zh_Hans, the default
    student = world.students_of_class(world.classes[4])[1]
    await teacher.send("/report")
    assert teacher.last == "哪位学生？请从列表中选择，或输入姓名中的几个字。"
    assert f"{student.name} · 七年级（1）班" in teacher.buttons()
    await teacher.tap(student.name)
    assert teacher.last == "孩子从哪天开始缺课？（如 11-21）"
    assert teacher.buttons()[:2] == ["今天（11月23日）", "上一个上课日（11月20日）"]
    await teacher.send("11月20日")  # typed the Chinese way
    await teacher.tap("完成")
    assert teacher.callback_answer.text == "请至少选择一项。"
    await teacher.tap("学习困难/厌学")
    await teacher.tap("完成")
    assert teacher.last == "孩子现在在哪里？请选择或直接输入。"
    await teacher.tap("在家")
    await teacher.tap("沿用：监测户")
    await teacher.tap("已联系上监护人")
    await teacher.send("家长表示孩子厌学")
    assert teacher.last == "如有照片请发送（选填），或点“跳过”。"
    await teacher.send_photo()
    assert teacher.last == "已收到（1）。可继续发送，或点“完成”。"
    await teacher.tap("完成")
    assert teacher.last == "\n".join([
        "报告疑似辍学——信息汇总",
        f"• 学生：{student.name} · 七年级（1）班",
        "• 缺课起始日：2026年11月20日",
        "• 原因：学习困难/厌学",
        "• 去向：在家",
        "• 对象类别：监测户",
        "• 联系监护人：已联系上监护人",
        "• 备注：家长表示孩子厌学",
        "• 照片：已附1份",
        "",
        "请核对以下信息，无误后确认。",
    ]), teacher.last
    await teacher.tap("✅ 确认")
    admin = world.users["school_admin"]
    assert teacher.reply_texts[1:] == [f"已为{student.name}建档，个案编号#1。", f"已通知：{admin.display_name}。"]
    case = one(harness, Case)
    # a label tapped is kept in the reporter's words (去向 is free text on 表4)
    assert (case.whereabouts, case.absent_since, case.reasons) == ("在家", date(2026, 11, 20), ["learning"])


async def test_bad_answers_are_explained_in_chinese(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre_user = world.users["village_cadre"]
    cadre = harness.user(cadre_user)
    before = counts(harness)
    await cadre.send("/report")
    await cadre.tap("➕ 未入学儿童")
    assert cadre.last == "儿童的姓名（全名）？"

    async def refused(answer: str, reason: str, step: str) -> None:
        await cadre.send(answer)
        assert cadre.last.split("\n")[0] == reason, cadre.last
        conv = conversation(harness, cadre_user)
        assert conv is not None and conv.step == step and step not in conv.draft
        assert counts(harness) == before

    await refused("王2明", "姓名不能包含数字。", "nname")
    await cadre.send("王小明")
    await cadre.tap("男")
    await refused("2030-01-01", "日期2030年1月1日晚于今天。", "nbirth")
    await refused("13/5/6", "请按 11月21日、2026年11月21日 或 11-21 的格式填写日期。", "nbirth")
    await cadre.send("2013年5月6日")
    assert cadre.last == "居民身份证号码？（没有的请点“跳过”）"
    await refused("4305212013", "身份证号码应为18位，您输入的是10位。", "nid")
    good_id = invented_id_number(date(2013, 5, 6), 9, female=False)
    await refused(good_id[:-1] + ("0" if good_id[-1] != "0" else "1"), "身份证号码的校验位不正确。", "nid")
    await cadre.send(good_id)
    assert cadre.last == "民族？请点选或输入。"
    await cadre.send("苗族")  # typed: kept as written
    assert cadre.last == "户籍地址？"
    await cadre.send("青松县梅林镇上坪村3组12号")
    assert cadre.last == "现住址？请点选或输入。"
    await cadre.send("青松县城关镇新华路8号")
    await cadre.send("王大山")
    await cadre.tap("父亲")
    assert cadre.last == "监护人的联系电话？"
    await refused("12345", "手机号码为11位，以13至19开头。", "gphone")
    await cadre.send("13800138000")
    assert cadre.last == "未入学原因？可多选，选好后点“完成”。"
    conv = conversation(harness, cadre_user)
    assert conv is not None
    assert (conv.draft["eth"], conv.draft["addr"]) == ("苗族", "青松县城关镇新华路8号")
    assert counts(harness) == before


async def test_back_twice_from_a_typed_step_and_change_an_answer(harness, world) -> None:  # type: ignore[no-untyped-def]
    """Issue #12: every step after the first offers "◀ Back" (to the step actually asked
    before), the earlier answer offered to keep; "返回上一步" typed at a text step goes back
    and is never saved as the answer."""
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    student = world.students_of_class(world.classes[4])[1]
    await teacher.send("/report")
    assert "◀ Back" not in teacher.buttons()  # the first question has nothing before it
    await teacher.tap(student.name)
    await teacher.tap("Previous school day")
    await teacher.tap("Learning difficulty")
    await teacher.tap("Done")
    await teacher.send("在县城打工")
    await teacher.tap("Keep")
    await teacher.tap("Could not reach the guardian")
    assert teacher.last == "Anything else to note? Type it, or Skip."

    await teacher.send("返回上一步")  # typed at a text step: back, not the note
    assert teacher.last == "Have you reached the guardian?"
    assert "↩ Could not reach the guardian" in teacher.buttons()
    assert conversation(harness, me).draft.get("note") is None
    await teacher.tap("◀ Back")
    assert teacher.last == "Key groups (对象类别)? Choose all that apply, then Done."
    await teacher.tap("◀ Back")
    assert teacher.last == "Where is the child now? Choose or type."
    assert "↩ 在县城打工" in teacher.buttons()
    await teacher.send("在外地亲戚家")  # the changed answer
    # forward again: the earlier answers are one tap each
    await teacher.tap("Keep: Monitored household")
    await teacher.tap("↩ Could not reach the guardian")
    await teacher.send("Mother says he refuses to come")
    await teacher.tap("Skip")
    assert "• Whereabouts: 在外地亲戚家" in teacher.last
    assert "• Note: Mother says he refuses to come" in teacher.last
    assert "返回上一步" not in teacher.last
    await teacher.tap("✅ Confirm")

    case = one(harness, Case)
    assert case.whereabouts == "在外地亲戚家"
    assert case.absent_since == date(2026, 11, 20)
    event = one(harness, CaseEvent, CaseEvent.kind == "reported")
    assert event.note == "Mother says he refuses to come"
    assert event.data == {"guardian_contact_checked": False}
