"""A never-enrolled child found door to door is an enrolment case (组织入学, seed 000 附件表1/表2),
through the real PTB stack and the fake Bot API.

The cadre registers the child with what 表1/表2 ask (民族, 户籍地址, 现住址) and nothing it
just answered; the case stands on the profile's [enrolment] step, its visits never move it
into the school's persuasion, its deadline takes it to the level the profile names, and it
ends in enrolment at a named school, chosen from the case card. The forms stay 表2.
"""

from __future__ import annotations

from datetime import date

from casework import deadlines, forms
from casework.uow import unit_of_work
from demo.county import invented_id_number
from models.tables import Case, CaseEvent, Deadline, Student, Visit
from tests.botkit import act, deliver_outbox, one, rows, speaking
from tests.casedriver import local


async def register_child(cadre) -> None:  # type: ignore[no-untyped-def]
    """The cadre's 表1 in Chinese, every default accepted."""
    await cadre.send("/report")
    await cadre.tap("➕ 未入学儿童")
    await cadre.send("李小花")
    await cadre.tap("女")
    await cadre.send("2015-03-08")
    await cadre.send(invented_id_number(date(2015, 3, 8), 41, female=True))
    await cadre.tap("汉族")
    await cadre.send("青松县梅林镇上坪村5组7号")
    await cadre.tap("同户籍地址")
    await cadre.send("李大勇")
    await cadre.tap("父亲")
    await cadre.tap("跳过")  # no phone
    await cadre.tap("家庭贫困")
    await cadre.tap("完成")
    await cadre.tap("✓ 一般")  # 对象类别 (表2): none of the key groups, one tap
    await cadre.tap("跳过")  # no note
    await cadre.tap("跳过")  # no photo


async def test_a_never_enrolled_child_opens_an_enrolment_case_and_ends_enrolled_at_a_named_school(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    cadre_user = world.users["village_cadre"]
    cadre = harness.user(cadre_user)  # zh_Hans, the default
    await register_child(cadre)
    summary = cadre.last
    assert summary.startswith("登记未入学适龄儿童——信息汇总")
    assert "报告疑似辍学" not in summary and "缺课" not in summary
    assert "是否已联系上监护人" not in summary
    await cadre.tap("✅ 确认")
    typed = cadre.typed - 1  # /report itself
    print(f"enrolment case (表1, door to door): {cadre.taps} taps, {typed} typed answers (after /report)")
    assert cadre.reply_texts[1].startswith("已为李小花建档，个案编号#1，开始组织入学。")

    student = one(harness, Student, Student.name == "李小花")
    assert (student.enrolled, student.ethnicity, student.current_address) == (False, "汉族", "青松县梅林镇上坪村5组7号")
    case = one(harness, Case)
    assert (case.state, case.level, case.absent_since, case.school_id) == ("enrolment", "enrolment", None, None)
    # datian [enrolment]: 25 working days in all, a round a working week (附件2 第一次…第五次)
    open_rows = {(d.kind, d.payload.get("level")) for d in rows(harness, Deadline, Deadline.status == "open")}
    assert ("step", "enrolment") in open_rows and ("round", "enrolment") in open_rows

    # a visit: a round of the enrolment step, never the school's persuasion
    await cadre.send(f"/visit {case.id}")
    assert cadre.last.startswith("您是如何动员入学的？")
    await cadre.tap("🏠 今天家访")
    await cadre.send("父亲在家务农，孩子帮忙带弟弟")
    await cadre.tap("犹豫")
    assert "愿意返校" in cadre.buttons() and "支持返校" not in cadre.buttons()  # a child's attitude
    await cadre.tap("犹豫")
    await cadre.send("讲解义务教育法，介绍就近入学")
    assert "已返校" not in cadre.buttons()  # a child who never had a school is not "back"
    assert "承诺入学" in cadre.buttons()
    await cadre.tap("拒绝入学")
    await cadre.tap("跳过")
    await cadre.tap("✅ 确认")
    case = one(harness, Case)
    assert (case.state, case.current_round) == ("enrolment", 1)
    assert one(harness, Visit).level == "enrolment"

    # the township officer's case card: the enrolment, not a return
    officer = speaking(harness, world.users["township_officer"], "zh_Hans")
    await officer.send(f"/case {case.id}")
    card = officer.last
    assert "从未入学；户籍地址：青松县梅林镇上坪村5组7号；现住址：青松县梅林镇上坪村5组7号" in card
    assert "缺课" not in card
    assert "🏫 已入学" in officer.buttons() and "✅ 已返校" not in officer.buttons()

    await officer.tap("🏫 已入学")
    assert officer.last == "孩子在哪所学校入学？"
    # the schools of the child's own township first
    assert officer.buttons()[:2] == ["梅林中学", "梅林中心小学"]
    await officer.tap("梅林中心小学")
    assert officer.last == "编入哪个班？"
    assert officer.buttons()[0] == "由学校编班"
    await officer.tap("由学校编班")
    await officer.tap("今天")
    assert officer.last.startswith("个案#1 上坪村未入学儿童李小花：已入学")
    await officer.tap("✅ 确认")
    assert officer.reply_texts[-1] == "个案#1：李小花已在梅林中心小学入学，已安排保学回访。"

    case = one(harness, Case)
    school = next(s for s in world.schools if s.name == "梅林中心小学")
    assert (case.state, case.outcome, case.school_id, case.returned_on) == (
        "returned", "enrolled", school.id, date(2026, 11, 23))
    student = one(harness, Student, Student.name == "李小花")
    assert student.enrolled
    event = rows(harness, CaseEvent, CaseEvent.kind == "enrolled")[0]
    assert (event.from_state, event.to_state, event.data["school"]) == ("enrolment", "returned", "梅林中心小学")

    # the record stays the township's 表2 (动员结果: 入学), never a school's 表4
    with unit_of_work(harness.engine, harness.services.clock, harness.services.policy) as cw:
        found = forms.available(cw, cw.session.get(Case, case.id))
        assert "school_record" not in found and "township_record" in found
        form = forms.load(cw, world.users["township_officer"], case.id or 0, "township_record")
        assert not form.child.enrolled and [v.level for v in form.visits] == ["enrolment"]
    await deliver_outbox(harness)


async def test_an_enrolment_case_past_its_deadline_goes_to_the_level_the_profile_names(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    cadre = harness.user(world.users["village_cadre"])
    await register_child(cadre)
    await cadre.tap("✅ 确认")
    case = one(harness, Case)
    step = one(harness, Deadline, Deadline.kind == "step", Deadline.status == "open")
    clock = harness.services.clock
    clock.set(local(2027, 1, 15, 9, 0))  # well past the 25 working days
    with unit_of_work(harness.engine, clock, harness.services.policy) as cw:
        deadlines.run_due(cw)
    case = one(harness, Case)
    # datian [enrolment] then = "deadline_notice" (四(二) 限期复学通知书), never 学校劝返
    assert case.state == "deadline_notice"
    history = [(e.from_state, e.to_state) for e in rows(harness, CaseEvent, CaseEvent.kind == "escalated")]
    assert history == [("enrolment", "deadline_notice")]
    assert step.payload["level"] == "enrolment"


def test_every_profile_has_an_enrolment_step_that_never_goes_to_the_school(harness) -> None:  # type: ignore[no-untyped-def]
    from casework.policy import available, load_named

    for name in available():
        policy = load_named(name)
        assert policy.enrolment is not None, name
        nxt = policy.next_level("enrolment")
        assert nxt is not None and nxt.state not in ("suspected", "school_persuasion"), name
        assert policy.enrolment.clause, name


def test_a_case_already_enrolled_cannot_be_marked_back(harness, world) -> None:  # type: ignore[no-untyped-def]
    from casework import ladder
    from casework.errors import CaseworkError

    out = act(harness, lambda cw: ladder.report(cw, world.users["village_cadre"], ladder.ReportInput(
        new_child=ladder.NewChild(name="赵小雨", gender="female", birth_date=date(2016, 2, 2),
                                  village_id=world.villages[0].id or 0, guardian_name="赵大林",
                                  guardian_relation="father"),
        source="door_to_door", reasons=("other",))))
    case_id = out.case.id
    try:
        act(harness, lambda cw: ladder.mark_returned(cw, world.users["township_officer"], case_id))
    except CaseworkError as refused:
        assert "never enrolled" in refused.render("en")
    else:
        raise AssertionError("a never-enrolled child was marked back at school")
