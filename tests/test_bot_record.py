"""The record says what happened (issue #12), through the real PTB stack and the fake Bot API.

A visit lists who was there, each once (a cadre's one-tap visit is not the teacher's
last one; typing one's own name is not a second person), and 表2/表3 and the ledger say the
same. The case history names who was assigned and by whom, reads naturally when an alert
is taken, dates a visit by when it happened; ``/case N`` shows the last visit in full.
The family's numbers are shown in full to whoever the case's step makes responsible for
reaching them (audited), masked to everyone else.
"""

from __future__ import annotations

from datetime import date, timedelta

from casework import forms, ladder
from casework.uow import unit_of_work
from models.tables import AuditEvent, Guardian, Student, Visit
from tests.botkit import act, one, open_case, rows, speaking, to_township


async def test_a_cadres_one_tap_visit_lists_the_cadre_alone_and_their_own_name_once(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world, student_index=2)
    to_township(harness, world, case_id)
    # the teacher went first, with the head teacher
    act(harness, lambda cw: ladder.record_visit(cw, world.users["teacher"], case_id, ladder.VisitInput(
        visit_date=cw.today(), method="home_visit", result="refused",
        participants=(world.users["teacher"].display_name, "王主任"))))
    cadre_user = world.users["village_cadre"]
    cadre = harness.user(cadre_user)  # zh_Hans
    await cadre.send(f"/visit {case_id}")
    assert cadre.last == f"您是如何劝返的？（参与人：{cadre_user.display_name}）"
    await cadre.tap("🏠 今天家访")
    await cadre.send("奶奶在家")
    await cadre.tap("犹豫")
    await cadre.tap("犹豫")
    await cadre.send("讲解政策")
    await cadre.tap("拒绝返校")
    await cadre.tap("跳过")
    assert f"参加人员：{cadre_user.display_name}\n" in cadre.last + "\n"
    await cadre.tap("✅ 确认")
    visits = rows(harness, Visit)
    assert visits[-1].participants == [cadre_user.display_name]  # not the teacher, not 王主任

    # on the "other people" branch the last companions are one tap each; the cadre's own
    # name typed by hand ("邹红" for "邹红（上坪村）") and a name typed twice are one person
    await cadre.send(f"/visit {case_id}")
    await cadre.tap("📅 其他日期或人员…")
    await cadre.tap("电话")
    await cadre.tap("今天")
    bare = cadre_user.display_name.split("（")[0]
    await cadre.send(f"{bare}、李娜，李娜")
    await cadre.send("父亲外出")
    await cadre.tap("犹豫")
    await cadre.tap("犹豫")
    await cadre.send("电话沟通")
    await cadre.tap("拒绝返校")
    await cadre.tap("跳过")
    await cadre.tap("✅ 确认")
    last = rows(harness, Visit)[-1]
    assert last.participants == [cadre_user.display_name, "李娜"]
    with unit_of_work(harness.engine, harness.services.clock, harness.services.policy) as cw:
        form = forms.load(cw, world.users["township_officer"], case_id, "township_record")
        assert form.visits[-1].participants == (cadre_user.display_name, "李娜")  # 表3 too


async def test_the_history_names_who_was_assigned_by_whom_and_dates_visits_by_when_they_happened(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    case_id = open_case(harness, world, student_index=2)
    to_township(harness, world, case_id)
    officer, cadre = world.users["township_officer"], world.users["village_cadre"]
    act(harness, lambda cw: ladder.assign(cw, officer, case_id, cadre.id or 0))
    # a visit two days ago, recorded today, with what was said and promised
    act(harness, lambda cw: ladder.record_visit(cw, cadre, case_id, ladder.VisitInput(
        visit_date=cw.today() - timedelta(days=2), method="home_visit", result="promised",
        family_situation="父母离异，随祖父生活", guardian_attitude="supportive", student_attitude="hesitant",
        measures="申请助学金，安排同学结对", promised_return_on=cw.today() + timedelta(days=3),
        next_step="周一到校门口接孩子")))
    chat = speaking(harness, officer, "zh_Hans")
    await chat.send(f"/case {case_id}")
    card = chat.last.split("\n")
    assert f"11月23日 已指派给{cadre.display_name} — {officer.display_name}" in card
    assert f"11月23日 已确认收到 — {officer.display_name}" in card
    assert not any("已确认提醒" in line or "system" in line for line in card)
    # dated by the visit, Saturday 11-21, not by the recording on Monday 11-23
    assert any(line.startswith("11月21日 ") and "第1次" in line for line in card)
    # the last visit in full
    at = card.index(f"最近一次劝返：11月21日，家访，参加人员：{cadre.display_name}")
    assert card[at + 1:] == [
        "• 家庭情况：父母离异，随祖父生活",
        "• 监护人态度：支持返校",
        "• 学生态度：犹豫",
        "• 采取的措施：申请助学金，安排同学结对",
        "• 劝返结果：承诺返校",
        "• 承诺返校日期：11月26日",
        "• 下一步：周一到校门口接孩子",
    ]


async def test_the_teacher_who_must_reach_the_family_reads_the_numbers_in_full_others_masked(
    harness, world  # type: ignore[no-untyped-def]
) -> None:
    case_id = open_case(harness, world, student_index=1)  # suspected: the teacher's step (datian)
    pupil = world.students_of_class(world.classes[4])[1]
    student = one(harness, Student, Student.id == pupil.id)
    phone = one(harness, Guardian, Guardian.student_id == pupil.id).phone
    assert phone and student.id_number
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    assert f"({phone})" in teacher.last and student.id_number in teacher.last
    admin = speaking(harness, world.users["school_admin"], "en")
    await admin.send(f"/case {case_id}")
    assert phone not in admin.last and f"({phone[:3]}****{phone[-4:]})" in admin.last
    assert student.id_number not in admin.last
    disclosed = rows(harness, AuditEvent, AuditEvent.action == "personal.disclose")
    assert [(a.actor_id, a.object_id, a.detail) for a in disclosed] == [
        (world.users["teacher"].id, case_id, {"shown": "full", "where": "case_card"})]
    assert date(2026, 11, 23) == harness.services.clock.now().date()
