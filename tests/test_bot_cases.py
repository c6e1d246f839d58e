"""``/cases`` and ``/case N`` through the real PTB stack and the fake Bot API: the user's
cases in scope, nearest deadline first; one case's timeline with ID and phone numbers
masked; the actions this user may take on it as buttons, and nothing more."""

from __future__ import annotations

from datetime import date

from casework import ladder
from models.tables import AuditEvent, Guardian, Student
from tests.botkit import act, one, open_case, rows, speaking, to_township


def _cases(harness, world) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    """Three cases of the teacher's class on different rungs, one of another class."""
    township = open_case(harness, world, student_index=2)
    to_township(harness, world, township, visits=2)
    suspected = open_case(harness, world, student_index=1)
    paused = open_case(harness, world, student_index=3)
    act(harness, lambda cw: ladder.pause(cw, world.users["school_admin"], paused, "住院治疗", date(2026, 12, 7)))
    other_pupil = world.students_of_class(world.classes[5])[0]  # 七年级2班: not the teacher's class
    other = act(harness, lambda cw: ladder.report(
        cw, world.users["teacher6"], ladder.ReportInput(student_id=other_pupil.id, reasons=("work",)))).case.id
    return township, suspected, paused, other


async def test_my_cases_lists_the_cases_in_scope_nearest_deadline_first(harness, world) -> None:  # type: ignore[no-untyped-def]
    township, suspected, paused, other = _cases(harness, world)
    pupils = world.students_of_class(world.classes[4])
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/cases")
    assert teacher.last == "\n".join([
        "Your open cases, nearest deadline first:",
        f"#{suspected} {pupils[1].name} (Grade 7 Class 1, 梅林中学) — suspected dropout, no visit yet, due Nov 24",
        f"#{township} {pupils[2].name} (Grade 7 Class 1, 梅林中学) — township persuasion, round 2 of 5, due Nov 30",
        f"#{paused} {pupils[3].name} (Grade 7 Class 1, 梅林中学) — paused, no visit yet, no deadline",
    ])
    assert teacher.buttons() == [f"#{suspected}", f"#{township}", f"#{paused}"]  # not #{other}

    # the school admin sees the other class's case too
    admin = speaking(harness, world.users["school_admin"], "en")
    await admin.send("/cases")
    assert f"#{other} " in admin.last and admin.buttons() == [
        f"#{suspected}", f"#{other}", f"#{township}", f"#{paused}"]

    # a tap on a number opens the case
    await teacher.tap(f"#{township}")
    assert teacher.last.startswith(f"#{township} {pupils[2].name} (Grade 7 Class 1, 梅林中学)\n"
                                   "State: township persuasion; round 2 of 5; next deadline Nov 30")


async def test_my_cases_is_audited_as_a_view_of_the_cases_it_shows(harness, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from handlers import cases as cases_handler

    township, suspected, paused, other = _cases(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/cases")
    admin = speaking(harness, world.users["school_admin"], "en")
    monkeypatch.setattr(cases_handler, "MAX_LISTED", 2)  # only the first two are shown
    await admin.send("/cases")
    assert admin.last.endswith("…and 2 more.")
    nobody = speaking(harness, world.users["teacher2"], "en")
    await nobody.send("/cases")
    assert nobody.last == "You have no open cases."

    listed = rows(harness, AuditEvent, AuditEvent.action == "case.list")
    assert [(a.actor_id, a.object_type, a.object_id, a.detail) for a in listed] == [
        (world.users["teacher"].id, "case", None,
         {"ids": [suspected, township, paused], "count": 3, "view": "cases", "total": 3}),
        (world.users["school_admin"].id, "case", None,
         {"ids": [suspected, other], "count": 2, "view": "cases", "total": 4}),
        (world.users["teacher2"].id, "case", None,
         {"ids": [], "count": 0, "view": "cases", "total": 0}),
    ]


async def test_a_case_shows_its_timeline_masked_and_the_actions_of_the_role(harness, world) -> None:  # type: ignore[no-untyped-def]
    township, suspected, paused, _other = _cases(harness, world)
    pupil = world.students_of_class(world.classes[4])[2]
    student = one(harness, Student, Student.id == pupil.id)
    guardian = one(harness, Guardian, Guardian.student_id == pupil.id)
    assert student.id_number and guardian.phone
    cadre = world.users["village_cadre"].display_name
    head = world.users["school_admin"].display_name

    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {township}")
    shown = teacher.last
    assert shown == "\n".join([
        f"#{township} {pupil.name} (Grade 7 Class 1, 梅林中学)",
        "State: township persuasion; round 2 of 5; next deadline Nov 30",
        "Absent since Nov 20; whereabouts: 在家",
        "Reasons: Learning difficulty / weariness of study",
        f"ID number: {student.id_number[:6]}********{student.id_number[-4:]}",
        f"Guardian: {guardian.name} ({guardian.phone[:3]}****{guardian.phone[-4:]})",
        "",
        "Timeline:",
        f"Nov 23 reported — {world.users['teacher'].display_name}",
        f"Nov 23 escalated → school persuasion — {head}",
        f"Nov 23 escalated → township persuasion — {head}",
        f"Nov 23 acknowledged the alert — {world.users['township_officer'].display_name}",
        f"Nov 23 visit recorded (round 1: Joint visit, Refused) — {cadre}",
        f"Nov 23 visit recorded (round 2: Joint visit, Refused) — {cadre}",
        "",
        # the last visit in full, before anyone goes again (issue #12)
        f"Last visit: Nov 23, Joint visit, with {cadre}, 王主任",
        "• Result: Refused",
    ])
    assert student.id_number not in shown and guardian.phone not in shown
    # a teacher may visit, report the return or propose an outcome; escalating is not theirs;
    # the case's documents follow, one button each (as /forms N lists them)
    forms = ["Registration sheet with the full record (一生一表)", "School persuasion record (表4)",
             "Township persuasion record (表3)", "Written report to the township (表5)"]
    assert teacher.buttons() == ["🏠 Record a visit", "✅ Back at school", "📄 Propose an outcome", *forms]

    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send(f"/case {township}")
    # the township's step is the township's to reach the family: the officer reads the numbers
    # in full (the teacher above, whose step it is not, reads them masked), and it is audited
    assert officer.last == shown.replace(
        f"{student.id_number[:6]}********{student.id_number[-4:]}", student.id_number).replace(
        f"{guardian.phone[:3]}****{guardian.phone[-4:]}", guardian.phone)
    disclosed = rows(harness, AuditEvent, AuditEvent.action == "personal.disclose")
    assert [(a.actor_id, a.object_id, a.detail["where"]) for a in disclosed] == [
        (world.users["township_officer"].id, township, "case_card")]
    assert officer.buttons() == ["🏠 Record a visit", "👤 Assign to…", "✅ Back at school",
                                 "📄 Propose an outcome", "📨 Issue: Deadline notice to return to school", "⬆️ Escalate",
                                 "⏸ Pause", *forms]

    # a paused case: why and until when; no visit, but Resume for the officer
    await officer.send(f"/case {paused}")
    assert "\nState: paused; no visit yet; next deadline —\nPaused until Dec 7: 住院治疗\n" in officer.last
    assert officer.last.endswith(f"paused (住院治疗) — {head}")
    assert officer.buttons() == ["👤 Assign to…", "✅ Back at school", "📄 Propose an outcome", "▶️ Resume",
                                 *forms[:2]]
    await teacher.send(f"/case {paused}")
    assert "▶️ Resume" not in teacher.buttons()

    # every view of personal data is audited
    views = rows(harness, AuditEvent, AuditEvent.action == "case.view")
    assert [(v.actor_id, v.object_id) for v in views] == [
        (world.users["teacher"].id, township), (world.users["township_officer"].id, township),
        (world.users["township_officer"].id, paused), (world.users["teacher"].id, paused)]


async def test_a_case_in_chinese(harness, world) -> None:  # type: ignore[no-untyped-def]
    township, suspected, _paused, _other = _cases(harness, world)
    pupil = world.students_of_class(world.classes[4])[1]
    student = one(harness, Student, Student.id == pupil.id)
    guardian = one(harness, Guardian, Guardian.student_id == pupil.id)
    officer = harness.user(world.users["township_officer"])  # zh_Hans
    await officer.send("/cases")
    assert officer.last.split("\n")[:2] == [
        "您负责的未结个案（截止日期近的在前）：",
        f"#{suspected} 梅林中学七年级（1）班{pupil.name}— 疑似辍学，尚未劝返，11月24日前",
    ]
    await officer.tap(f"#{suspected}")
    shown = officer.last
    assert shown.split("\n")[:6] == [
        f"#{suspected} 梅林中学七年级（1）班{pupil.name}",
        "状态：疑似辍学；尚未劝返；下一截止日期：11月24日",
        "缺课起始日：11月20日；去向：在家",
        "原因：学习困难/厌学",
        f"身份证号：{student.id_number[:6]}********{student.id_number[-4:]}",
        f"监护人：{guardian.name}（{guardian.phone[:3]}****{guardian.phone[-4:]}）",
    ]
    assert student.id_number not in shown and guardian.phone not in shown
    assert officer.buttons()[:6] == ["🏠 记录劝返", "👤 指派给…", "✅ 已返校", "📄 提出处理意见", "⬆️ 上报", "⏸ 暂停"]
