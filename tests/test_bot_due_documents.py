"""Documents at the moment they are due, and "is the child back?" (issues #11 and #12),
through the fake Bot API as the officers read and tap them:

- the township's escalation alert carries the school's written report (表5) as a file;
- issuing the notice to return to school sends the notice to the issuer at once, with a
  button to record its delivery (送达回执: a date and a photo, kept as evidence);
- on the guardian's last day the township is asked "is the child back?" (the day before,
  reminded of the *guardian's* deadline, not told it is their own); no → the ladder goes on;
- a family's promise moves the next deadline to the promised day plus the profile's grace,
  and on that day the same question comes: yes → the return is recorded.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from casework import deadlines, ladder
from casework.clock import from_db
from casework.labels import day_text
from models.tables import Case, CaseEvent, Deadline
from tests.botkit import act, deliver_outbox, one, open_case, rows, speaking, tick_at


def _day(d: date) -> str:
    """A date as the chat writes it in English (casework.labels.day_text)."""
    return day_text(d).render("en")


def _documents(harness, chat) -> list[tuple[str, str, bytes]]:  # type: ignore[no-untyped-def]
    """(file name, caption, bytes) of every file the bot sent to the chat."""
    found = []
    for msg in harness.tg.bot_messages(chat.chat_id):
        doc = msg.media.get("document")
        if doc:
            found.append((doc.get("file_name"), msg.caption or "", harness.tg.file(doc["file_id"]).data))
    return found


def _texts(harness, chat) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.content for m in harness.tg.bot_messages(chat.chat_id)]


def _local(harness, day: date, at: time) -> datetime:  # type: ignore[no-untyped-def]
    return act(harness, lambda cw: cw.calendars.at_local(day, at))


async def test_the_townships_alert_carries_the_schools_written_report(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    officer = speaking(harness, world.users["township_officer"], "en")
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))  # the school reports to the township
    await deliver_outbox(harness)
    texts = _texts(harness, officer)
    assert any(t.startswith(f"Escalation: case #{case_id} ") for t in texts), texts
    (name, caption, data), = _documents(harness, officer)
    assert name.startswith("表5_") and name.endswith(f"_{case_id}.pdf")
    assert caption == f"Written report to the township (表5) — case #{case_id}"
    assert data.startswith(b"%PDF")
    # the file follows the alert it belongs to; the alert keeps its buttons
    messages = harness.tg.bot_messages(officer.chat_id)
    assert messages[-1].media.get("document") and messages[-2].content.startswith("Escalation:")
    assert officer.buttons(messages[-2]) == ["Acknowledge", "Assign to…", "Open case"]


async def test_the_village_cadre_is_told_when_the_township_takes_up_their_case(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    cadre = speaking(harness, world.users["village_cadre"], "en")
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    await deliver_outbox(harness)
    assert not any("township has taken up" in t for t in _texts(harness, cadre))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    first = min(from_db(d.due_at) for d in rows(harness, Deadline, Deadline.case_id == case_id,
                                                 Deadline.status == "open", Deadline.kind == "round"))
    due = act(harness, lambda cw: cw.calendars.local_date(first))
    await deliver_outbox(harness)
    said = [t for t in _texts(harness, cadre) if "township has taken up" in t]
    assert len(said) == 1 and said[0].endswith(f"First visit due by {_day(due)}."), said
    assert cadre.buttons() == ["Record a visit", "Open case"]


async def test_the_notice_goes_to_its_issuer_its_delivery_is_recorded_and_its_last_day_asks(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.acknowledge(cw, world.users["township_officer"], case_id))
    await deliver_outbox(harness)
    officer = speaking(harness, world.users["township_officer"], "en")
    before = len(_documents(harness, officer))
    await officer.send(f"/case {case_id}")
    await officer.tap("📨 Issue: Deadline notice to return to school")
    await officer.tap("✅ Issue the notice")
    case = one(harness, Case, Case.id == case_id)
    assert case.notice_due_on is not None
    await deliver_outbox(harness)

    # the notice itself, at once, to whoever issued it
    files = _documents(harness, officer)[before:]
    assert [(caption, data[:4]) for _n, caption, data in files] == [
        (f"Return-to-school notice — case #{case_id}", b"%PDF")]
    note = harness.tg.bot_messages(officer.chat_id)[-2]
    assert note.content.startswith(f"Deadline notice to return to school for case #{case_id} ")
    assert officer.buttons(note) == ["📬 Record the delivery", "Open case"]

    # 送达回执: the date and a photo of the signed receipt, kept as the event's evidence
    await officer.tap("📬 Record the delivery", message=note)
    assert officer.last == "On what date was the notice handed to the guardian?"
    await officer.tap("Today")
    assert officer.last.startswith("Send a photo of the receipt the guardian signed")
    await officer.send_photo(caption="送达回执")
    await officer.tap("Done")
    await officer.tap("✅ Confirm")
    today = act(harness, lambda cw: cw.today())
    assert officer.last.startswith(f"Delivery of the notice for case #{case_id} recorded: ")
    delivered = one(harness, CaseEvent, CaseEvent.case_id == case_id, CaseEvent.kind == "notice_delivered")
    assert delivered.data == {"delivered_on": today.isoformat()}
    assert [e["kind"] for e in delivered.evidence] == ["photo"]

    # the day before the guardian's deadline: the guardian's date, not the officer's own
    due_on = case.notice_due_on
    day_before = act(harness, lambda cw: cw.calendars.previous_working_day(due_on))
    tick_at(harness, _local(harness, day_before, time(17, 0)))
    await deliver_outbox(harness)
    said = "\n".join(_texts(harness, officer))
    assert (f"The notice to return to school gives the guardian of #{case_id} " in said
            and f"until {_day(due_on)}. If the child is back, record it." in said), said
    assert "is due by" not in said.split("The notice to return to school gives")[-1]

    # the last day: "is the child back?", once, with yes and no
    tick_at(harness, _local(harness, due_on, time(9, 0)))
    await deliver_outbox(harness)
    asked = [t for t in _texts(harness, officer) if "Is the child back at school?" in t]
    pupil = world.students_of_class(world.classes[4])[1]  # open_case's pupil
    assert asked == [f"Today ({_day(due_on)}) is the last day the notice to return to school gives "
                     f"the guardian of #{case_id} {pupil.name} (Grade 7 Class 1, 梅林中学). "
                     "Is the child back at school?"]
    assert officer.buttons() == ["✅ Yes, back at school", "❌ No, not back", "Open case"]
    await officer.tap("❌ No, not back")
    assert officer.last.startswith(f"Noted: the child of case #{case_id} is not back. ")
    assert one(harness, CaseEvent, CaseEvent.case_id == case_id, CaseEvent.kind == "not_back")
    # the ladder goes on: the notice's deadline passes and the county takes the case
    assert one(harness, Case, Case.id == case_id).state == "deadline_notice"
    tick_at(harness, _local(harness, due_on, time(17, 31)))
    assert one(harness, Case, Case.id == case_id).state == "county_escalation"


async def test_a_promise_moves_the_deadline_and_its_day_asks_whether_the_child_is_back(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    visit = act(harness, lambda cw: ladder.record_visit(
        cw, world.users["teacher"], case_id,
        ladder.VisitInput(visit_date=cw.today(), method="home_visit", result="refused")))
    assert visit.case.state == "school_persuasion"
    (step,) = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "step", Deadline.status == "open")
    was = from_db(step.due_at)
    # the family promises the child back a few school days after the school's deadline
    promised = act(harness, lambda cw: cw.calendars.next_school_day(cw.calendars.local_date(was) + timedelta(days=3)))
    act(harness, lambda cw: ladder.record_visit(
        cw, world.users["teacher"], case_id,
        ladder.VisitInput(visit_date=cw.today(), method="phone", result="promised", promised_return_on=promised)))
    (step,) = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "step", Deadline.status == "open")
    grace_day = act(harness, lambda cw: cw.calendars.add(promised, cw.policy.promise.grace))
    assert act(harness, lambda cw: cw.calendars.local_date(from_db(step.due_at))) == grace_day
    assert act(harness, lambda cw: deadlines.next_due(cw, one(harness, Case, Case.id == case_id))) >= from_db(step.due_at)

    # the old deadline passes: no escalation, the promise holds
    tick_at(harness, was + timedelta(minutes=1))
    assert one(harness, Case, Case.id == case_id).state == "school_persuasion"

    # the promised day: the responsible are asked, once each
    tick_at(harness, _local(harness, promised, time(17, 31)))
    await deliver_outbox(harness)
    asked = [t for t in _texts(harness, teacher) if t.startswith("The family promised")]
    assert len(asked) == 1 and asked[0].endswith(f"by today ({_day(promised)}). Is the child back?")
    await teacher.tap("✅ Yes, back at school")
    case = one(harness, Case, Case.id == case_id)
    assert case.state == "returned" and case.returned_on == promised
    assert teacher.last.startswith(f"Case #{case_id}: the child is back at school.")


async def test_the_end_of_the_holiday_data_is_told_to_the_county_and_the_admin_in_the_chat(harness, world) -> None:  # type: ignore[no-untyped-def]
    from casework.calendars import covered

    assert not covered(2027)  # chinesecalendar's data ends with 2026
    county = speaking(harness, world.users["county_officer"], "en")
    admin = speaking(harness, world.users["admin"], "en")
    teacher = speaking(harness, world.users["teacher"], "en")
    # early September: 2027 is months away, nobody is told yet
    tick_at(harness, _local(harness, date(2026, 9, 7), time(9, 0)))
    await deliver_outbox(harness)
    assert not any("holiday calendar" in t for t in _texts(harness, county))
    # 60 days before 2027: told, once each, with what to do
    tick_at(harness, _local(harness, date(2026, 11, 2), time(9, 0)))
    tick_at(harness, _local(harness, date(2026, 11, 3), time(9, 0)))
    await deliver_outbox(harness)
    for chat in (county, admin):
        said = [t for t in _texts(harness, chat) if "holiday calendar" in t]
        assert said == [
            "The holiday calendar ends before 2027: from 1 January 2027 the bot counts working days as Monday "
            "to Friday, so a deadline may fall on a public holiday or skip a make-up working day (调休). What to "
            "do: when the State Council publishes the 2027 holidays, add them to the policy profile "
            "(calendar.extra_holidays, and the make-up days to calendar.extra_workdays), check it with "
            "“baoxue policy check datian”, and restart the bot; or update the chinesecalendar package."]
    assert not any("holiday calendar" in t for t in _texts(harness, teacher))
