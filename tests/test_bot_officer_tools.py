"""Officers find their tools (issue #12): the menu and /help list every command of the
role, typed words ("月报", "导出") open the tool, and the case card offers every action the
user may take now (acknowledge and assign included) and the case's documents."""

from __future__ import annotations

from casework import ladder
from models.tables import Case, Deadline, OutboxMessage
from tests.botkit import act, one, open_case, rows, speaking


async def test_an_officer_finds_the_report_the_ledger_and_the_forms(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/help")
    listed = officer.last
    for command in ("/case — ", "/forms — ", "/review — ", "/stats — ", "/export — ", "/import — ",
                    "/transfers — "):
        assert command in listed, command
    await officer.send("/menu")
    assert officer.last.count("What would you like to do?") == 1
    assert officer.buttons() == ["📝 Report a suspected dropout", "🏠 Record a persuasion visit", "📋 My cases",
                                 "🔎 Proposals to review", "📊 Monthly report", "📥 Ledger (台账)",
                                 "✉️ Invite a colleague", "🌐 Language / 语言"]
    await officer.tap("📥 Ledger (台账)")
    assert officer.buttons()[:3] == ["State ▸", "Period ▸", "Unit ▸"]  # the /export menu

    # typed words open the tool instead of "I didn't understand"
    await officer.send("导出台账")
    assert officer.buttons()[:3] == ["State ▸", "Period ▸", "Unit ▸"]
    await officer.send("月报")
    assert "document" in officer.messages[-1].media  # the report's workbook
    assert not any("didn't understand" in t for t in officer.reply_texts)

    # the teacher's /help has the case card and its forms, not the officers' tools
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/help")
    assert "/case — " in teacher.last and "/forms — " in teacher.last
    assert "/export" not in teacher.last and "/stats" not in teacher.last
    await teacher.send("月报")
    assert teacher.last.startswith("That is a tool for officers; here is what you can do:\n")
    # an unknown word: said once, then the menu's own question, not asked twice
    await teacher.send("你好")
    assert teacher.last.split("\n")[0] == "I didn't understand that."
    assert teacher.last.count("What would you like to do?") == 1


async def test_the_case_card_acknowledges_and_assigns_when_the_alert_is_gone(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))  # the township is alerted
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send(f"/case {case_id}")
    assert officer.buttons()[:3] == ["👌 Acknowledge the alert", "🏠 Record a visit", "👤 Assign to…"]
    await officer.tap("👌 Acknowledge the alert")
    assert officer.last == f"Alert on case #{case_id} acknowledged."
    acks = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "ack")
    assert [(a.status, a.acted_by) for a in acks if a.status != "cancelled"][-1] == (
        "done", world.users["township_officer"].id)
    await officer.send(f"/case {case_id}")
    assert "👌 Acknowledge the alert" not in officer.buttons()
    await officer.tap("👤 Assign to…")
    assert officer.last == f"Assign case #{case_id} to:"
    # a teacher is not offered the township's alert
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    assert "👌 Acknowledge the alert" not in teacher.buttons() and "👤 Assign to…" not in teacher.buttons()


async def test_who_escalates_is_not_asked_to_acknowledge_it(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    county = world.users["county_officer"]
    # the county officer moves it up by hand, to the top of the ladder
    while act(harness, lambda cw: cw.policy.next_level(ladder.load_case(cw, county, case_id, "view").level)):
        if one(harness, Case, Case.id == case_id).state == "deadline_notice":
            # no climbing past the notice level without the notice: the township issues it
            act(harness, lambda cw: ladder.issue_deadline_notice(
                cw, world.users["township_officer"], case_id))
        act(harness, lambda cw: ladder.escalate(cw, county, case_id))
    acks = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "ack", Deadline.status == "open")
    assert acks == []
    told = rows(harness, OutboxMessage, OutboxMessage.recipient_id == county.id)
    assert not any(m.kind == "escalation_alert" for m in told)
    chat = speaking(harness, county, "en")
    await chat.send(f"/case {case_id}")
    assert "👌 Acknowledge the alert" not in chat.buttons()


async def test_escalating_and_the_notice_say_what_happens_and_ask_to_confirm(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.acknowledge(cw, world.users["township_officer"], case_id))
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send(f"/case {case_id}")
    await officer.tap("⬆️ Escalate")
    shown = officer.last.split("\n")
    assert shown[0].startswith(f"Escalate #{case_id} ")
    assert shown[1].startswith("It moves up from township persuasion to ")
    assert shown[2].startswith("To be told: ") and shown[-1] == "This cannot be undone."
    assert officer.buttons() == ["✅ Escalate", "✖ Cancel"]
    case = one(harness, Case, Case.id == case_id)
    assert case.state == "township_persuasion"  # nothing done yet
    await officer.tap("✖ Cancel")
    assert officer.last.startswith(f"#{case_id} ")  # back to the card

    await officer.tap("📨 Issue: Deadline notice to return to school")
    due = act(harness, lambda cw: cw.calendars.due_at(cw.now(), cw.policy.level("deadline_notice").deadline)
              .astimezone(cw.policy.tz).date())
    assert officer.last.split("\n")[1] == (
        f"The guardian must bring the child back by {due.strftime('%b')} {due.day}.")
    assert one(harness, Case, Case.id == case_id).notice_issued_at is None
    await officer.tap("✅ Issue the notice")
    case = one(harness, Case, Case.id == case_id)
    assert case.notice_issued_at is not None and case.notice_due_on == due
    assert officer.last.startswith(f"Deadline notice to return to school issued for case #{case_id}")


async def test_the_digest_names_the_overdue_cases_with_a_button_each(harness, world, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from casework import digest
    from casework.clock import to_db
    from casework.personal import mask_name
    from tests.botkit import deliver_outbox

    pupils = [(p, "school_admin") for k in (4, 5, 6, 7) for p in world.students_of_class(world.classes[k])]
    made = []
    for pupil, teacher in pupils[:12]:
        made.append(act(harness, lambda cw, p=pupil, t=teacher: ladder.report(
            cw, world.users[t], ladder.ReportInput(student_id=p.id, reasons=("learning",)))).case.id)
    clock.advance(timedelta(days=10))  # every suspected step has passed, unanswered
    officer = world.users["township_officer"]
    since = act(harness, lambda cw: cw.now() - timedelta(days=1))
    row = Deadline(kind=digest.KIND, recipient_id=officer.id, due_at=to_db(since + timedelta(days=1)),
                   payload={"scope": "township", "since": since.isoformat()})
    act(harness, lambda cw: digest.handle_digest(cw, row, None))
    chat = speaking(harness, officer, "en")
    await deliver_outbox(harness)
    text = "\n".join(m.content or "" for m in chat.messages if m.from_bot)
    assert "Overdue now: 12 (a step or visit deadline has passed)." in text
    names = {p.id: mask_name(p.name) for p, _t in pupils}
    cases = {c.id: c for c in rows(harness, Case)}
    listed = [line for line in text.split("\n") if line.startswith("• #")]
    assert len(listed) == digest.OVERDUE_LISTED
    first = cases[made[0]]
    assert listed[0] == f"• #{first.id} {names[first.student_id]} — suspected dropout, 9 days overdue"
    assert all(p.name not in text for p, _t in pupils)  # names masked
    assert "• …and 2 more." in text
    assert chat.buttons() == [f"#{i}" for i in made[:10]]
    await chat.tap(f"#{made[3]}")
    assert chat.last.startswith(f"#{made[3]} ")  # the case card
