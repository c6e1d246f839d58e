"""Record a persuasion visit (表3 / 表4), through the real PTB stack and the fake Bot API.

The typical home visit is counted in taps and typed answers (the flow is designed for at
most 8 and 2); the "another date or other people" branch, a promised return date, a
location pin and a photo as evidence, and an edit that changes a branch are played out,
and the Visit row is checked to hold every answer.
"""

from __future__ import annotations

from datetime import date

import pytest

from models.tables import Case, Deadline, Visit
from tests.botkit import conversation, one, open_case, rows, speaking, to_township

SCHOOL_VISIT_DONE = "Visit recorded — school persuasion, visit 1; next step due by Nov 26."


async def test_a_typical_home_visit_takes_at_most_8_taps_and_2_typed_answers(harness, world) -> None:  # type: ignore[no-untyped-def]
    # two open cases: one at the township (due in a week), one reported this morning (due tomorrow)
    later = open_case(harness, world, student_index=2)
    to_township(harness, world, later)
    sooner = open_case(harness, world, student_index=1)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    pupil = world.students_of_class(world.classes[4])[1]

    await teacher.send("/visit")
    assert teacher.last == "Which case? (nearest deadline first)"
    cases = teacher.buttons()[:-1]
    assert [c.split(" ")[0] for c in cases] == [f"#{sooner}", f"#{later}"]
    assert cases[0] == f"#{sooner} {pupil.name} (Grade 7 Class 1, 梅林中学) · suspected dropout · due Nov 24"
    assert cases[1].endswith("· township persuasion · due Nov 30")
    await teacher.tap(f"#{sooner} ")

    assert teacher.last == f"How did you persuade? (with {me.display_name})"
    await teacher.tap("🏠 Home visit, today")
    await teacher.send("父母在外打工，奶奶照看")
    await teacher.tap("Hesitant")
    assert teacher.buttons()[:4] == [  # words that fit a child, not a guardian's
        "Willing to return", "Hesitant", "Unwilling to return", "Did not see the child"]
    await teacher.tap("Unwilling to return")
    await teacher.send("讲解义务教育法，承诺课后辅导")
    await teacher.tap("Refused")
    assert teacher.last == (
        "Send photos, a voice note or your location pin (📎) as evidence, then Done — or Skip.")
    await teacher.tap("Skip")
    assert teacher.last.startswith(f"Visit for case #{sooner} {pupil.name} (Grade 7 Class 1, 梅林中学) — summary")
    assert f"• Method, date and people: Home visit, Nov 23, 2026, with {me.display_name}" in teacher.last
    assert "• Next step: Follow up and record the next visit" in teacher.last
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[1:] == [SCHOOL_VISIT_DONE]

    typed_answers = teacher.typed - 1  # the /visit command itself is not an answer
    print(f"visit flow: {teacher.taps} taps, {typed_answers} typed answers (after /visit)")
    assert teacher.taps <= 8 and typed_answers <= 2
    assert (teacher.taps, typed_answers) == (7, 2)  # the count the visit flow's docstring gives

    visit = one(harness, Visit)
    assert (visit.case_id, visit.level, visit.round) == (sooner, "school_persuasion", 1)
    assert (visit.visit_date, visit.method, visit.result) == (date(2026, 11, 23), "home_visit", "refused")
    assert visit.participants == [me.display_name]
    assert visit.family_situation == "父母在外打工，奶奶照看"
    assert (visit.guardian_attitude, visit.student_attitude) == ("hesitant", "opposed")
    assert visit.measures == "讲解义务教育法，承诺课后辅导"
    assert visit.promised_return_on is None
    assert (visit.evidence, visit.latitude, visit.longitude) == ([], None, None)
    assert visit.next_step == "Follow up and record the next visit"
    assert visit.recorded_by == me.id
    case = one(harness, Case, Case.id == sooner)
    assert (case.state, case.current_round, case.school_responsible_id) == ("school_persuasion", 1, me.id)
    assert conversation(harness, me) is None


async def test_another_date_other_people_a_promise_and_a_location_pin(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    await teacher.send(f"/visit {case_id}")  # straight to the method: the case is given
    assert teacher.last.startswith("How did you persuade?")
    await teacher.tap("📅 Another date or other people…")
    assert teacher.last == "Which method?"
    await teacher.tap("Joint visit")
    assert teacher.last == "On what date? (e.g. 11-21)"
    assert teacher.buttons()[:2] == ["Today (Nov 23)", "Yesterday (Nov 22)"]

    await teacher.send("11-30")  # still to come this year: not "a year ago, too far back"
    assert teacher.last.split("\n")[0] == "The date Nov 30, 2026 is in the future."
    assert conversation(harness, me).step == "date"
    await teacher.send("11-21")
    assert teacher.last == "Who took part? Tap to keep, add last visit's companions, or type names separated by commas."
    assert teacher.buttons()[0] == f"✓ {me.display_name}"
    await teacher.send("王主任，李 娜、邹红")
    await teacher.send("父亲从城里回来了")
    await teacher.tap("Supportive")
    await teacher.tap("Hesitant")
    await teacher.send("申请助学金")
    await teacher.tap("Promised to return")
    assert teacher.last == "By what date did they promise the child will be back?"
    # the next school day and a week later, dated, never two equal buttons
    assert teacher.buttons()[:2] == ["Next school day (Nov 24)", "A week later (Dec 1)"]
    await teacher.send("11-20")  # a month-day already past reads as next year: said, not kept
    # the profile's limit (promise.max_days, 30 under datian)
    assert teacher.last.split("\n")[0] == "Nov 20, 2027 is more than 30 days away. Please check the date."
    await teacher.send("11月26日")
    assert teacher.last == (
        "Send photos, a voice note or your location pin (📎) as evidence, then Done — or Skip.")
    await teacher.send_location(25.9, 117.3)
    assert teacher.last == "Received (1). Send more, or tap Done."
    await teacher.send_photo(caption="与家长合影")
    await teacher.send_voice(duration=12)
    assert teacher.last == "Received (3). Send more, or tap Done."
    await teacher.tap("Done")

    summary = teacher.last
    assert (f"• Method, date and people: Joint visit, Nov 21, 2026, with {me.display_name}, "
            "王主任, 李 娜, 邹红") in summary
    assert "• Promised return date: Nov 26, 2026" in summary
    assert "• Evidence: 3 attached" in summary
    # the next step is not asked in sequence, but can be written on the summary
    await teacher.tap("✏️ Next step")
    assert teacher.last == "What is the next step?"
    await teacher.send("11月26日电话确认是否到校")
    assert "• Next step: 11月26日电话确认是否到校" in teacher.last
    await teacher.tap("✅ Confirm")
    # the promise (11-26) moves the school's deadline to that day plus a working day's grace
    assert teacher.reply_texts[1] == SCHOOL_VISIT_DONE.replace("Nov 26", "Nov 27")

    visit = one(harness, Visit)
    assert (visit.visit_date, visit.method, visit.result) == (date(2026, 11, 21), "joint_visit", "promised")
    assert visit.participants == [me.display_name, "王主任", "李 娜", "邹红"]
    assert visit.family_situation == "父亲从城里回来了"
    assert (visit.guardian_attitude, visit.student_attitude) == ("supportive", "hesitant")
    assert visit.measures == "申请助学金"
    assert visit.promised_return_on == date(2026, 11, 26)
    assert (visit.latitude, visit.longitude) == (25.9, 117.3)
    assert [e["kind"] for e in visit.evidence] == ["location", "photo", "voice"]
    assert visit.evidence[0] == {"kind": "location", "lat": 25.9, "lon": 117.3}
    assert visit.evidence[1]["caption"] == "与家长合影" and visit.evidence[1]["file_id"]
    assert visit.evidence[2]["duration"] == 12 and visit.evidence[2]["file_id"]
    assert visit.next_step == "11月26日电话确认是否到校"
    # the promise is a deadline row: the scheduler asks on that day whether the child is back
    promise = one(harness, Deadline, Deadline.kind == "promise")
    assert promise.payload == {"visit_id": visit.id} and promise.status == "open"


@pytest.mark.parametrize("typed", ["11-21", "11月21日", "2026-11-21", "２０２６／１１／２１"])
async def test_the_visit_date_is_typed_the_usual_ways(harness, world, typed: str) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/visit {case_id}")
    await teacher.tap("📅 Another date or other people…")
    await teacher.tap("Home visit")
    await teacher.send(typed)
    assert teacher.last == "Who took part? Tap to keep, add last visit's companions, or type names separated by commas."
    assert conversation(harness, world.users["teacher"]).draft["date"] == "2026-11-21"


async def test_cancel_leaves_nothing_behind(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/visit {case_id}")
    await teacher.tap("🏠 Home visit, today")
    await teacher.send("父母在外打工")
    await teacher.tap("Cancel")
    assert teacher.last == "Cancelled. Nothing was saved."
    assert conversation(harness, world.users["teacher"]) is None
    assert rows(harness, Visit) == [] and one(harness, Case).current_round == 0


async def test_an_edit_that_changes_the_branch_leaves_no_stale_answer(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/visit {case_id}")
    await teacher.tap("📞 Phone call, today")
    await teacher.send("家长在外地")
    await teacher.tap("Could not be reached")
    await teacher.tap("Did not see the child")
    await teacher.send("留言请家长回电")
    await teacher.tap("Promised to return")
    await teacher.tap("Next school day")
    assert teacher.last.startswith("Send photos, a voice note or documents as evidence")  # no pin by phone
    await teacher.tap("Skip")
    assert "• Promised return date: Nov 24, 2026" in teacher.last

    await teacher.tap("✏️ Result")
    await teacher.tap("Unreachable")
    assert "Promised return date" not in teacher.last  # off the branch now: not shown...
    await teacher.tap("✏️ Method, date and people")
    await teacher.tap("📅 Another date or other people…")  # ...and a changed branch is asked again
    await teacher.tap("Phone call")
    await teacher.tap("Yesterday")
    await teacher.tap("✓")
    assert "• Method, date and people: Phone call, Nov 22, 2026, with " in teacher.last
    await teacher.tap("✅ Confirm")

    visit = one(harness, Visit)
    assert (visit.result, visit.promised_return_on) == ("unreachable", None)  # ...nor recorded
    assert (visit.method, visit.visit_date) == ("phone", date(2026, 11, 22))
    assert rows(harness, Deadline, Deadline.kind == "promise") == []


async def test_a_township_round_says_where_the_case_stands_in_chinese(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world, student_index=2)
    to_township(harness, world, case_id, visits=1)
    cadre_user = world.users["village_cadre"]
    cadre = harness.user(cadre_user)  # zh_Hans
    await cadre.send("/visit")
    assert cadre.last == "哪个个案？（截止日期近的在前）"
    await cadre.tap(f"#{case_id} ")
    # the user alone: the last round's companion is not assumed to have come again...
    assert cadre.last == f"您是如何劝返的？（参与人：{cadre_user.display_name}）"
    await cadre.tap("📅 其他日期或人员…")
    await cadre.tap("联合劝返")
    await cadre.tap("今天")
    # ...but offered as a one-tap addition
    assert cadre.buttons()[:2] == [f"✓ {cadre_user.display_name}", "➕ 王主任"]
    await cadre.tap("➕ 王主任")
    await cadre.send("母亲已回家")
    await cadre.tap("支持返校")
    assert "愿意返校" in cadre.buttons() and "支持返校" not in cadre.buttons()
    await cadre.tap("犹豫")
    await cadre.send("村里协调车辆接送")
    await cadre.tap("拒绝返校")
    await cadre.tap("跳过")
    assert f"• 方式、日期和人员：联合劝返，2026年11月23日，参加人员：{cadre_user.display_name}、王主任" in cadre.last
    await cadre.tap("✅ 确认")
    # datian: the township has five recorded rounds (表3); this was the second
    assert cadre.reply_texts[1] == "劝返已记录——乡镇劝返，第2次（共5次）；下一步：11月30日前完成。"

    visits = rows(harness, Visit)
    assert [(v.level, v.round, v.method) for v in visits] == [
        ("township_persuasion", 1, "joint_visit"), ("township_persuasion", 2, "joint_visit")]
    assert visits[1].participants == [cadre_user.display_name, "王主任"]
    assert one(harness, Case).current_round == 2


async def test_back_twice_and_change_an_answer_in_a_visit(harness, world) -> None:  # type: ignore[no-untyped-def]
    """Issue #12: "返回上一步" typed at a text step goes back (it is not saved as the
    measures), "◀ Back" goes back again, and a changed answer is what the Visit holds."""
    case_id = open_case(harness, world)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "en")
    await teacher.send(f"/visit {case_id}")
    assert "◀ Back" not in teacher.buttons()  # the first question asked
    await teacher.tap("🏠 Home visit, today")
    assert teacher.last == "Briefly, the family's situation?"
    # back over the steps the one-tap answer skipped (method, date, people): to the method
    await teacher.tap("◀ Back")
    assert teacher.last.startswith("How did you persuade?")
    await teacher.tap("🏠 Home visit, today")
    await teacher.send("父母在外打工")
    await teacher.tap("Hesitant")
    await teacher.tap("Unwilling to return")
    assert teacher.last == "What did you do or offer? (measures taken)"

    await teacher.send("返回上一步")
    assert teacher.last == "The student's attitude?"
    await teacher.tap("◀ Back")
    assert teacher.last == "The guardian's attitude?"
    assert "↩ Hesitant" in teacher.buttons()
    await teacher.tap("Supportive")  # the changed answer
    await teacher.tap("↩ Unwilling to return")
    await teacher.send("讲解义务教育法")
    await teacher.tap("Refused")
    await teacher.tap("Skip")
    assert "返回上一步" not in teacher.last
    await teacher.tap("✅ Confirm")
    assert teacher.reply_texts[-1] == SCHOOL_VISIT_DONE

    visit = one(harness, Visit)
    assert (visit.guardian_attitude, visit.student_attitude) == ("supportive", "opposed")
    assert visit.family_situation == "父母在外打工"
    assert visit.measures == "讲解义务教育法"
    assert visit.result == "refused"
