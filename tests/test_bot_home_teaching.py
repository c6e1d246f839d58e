"""送教上门 sessions recorded from the case card and counted (seed 002 二(三): "每周送教1次，
每次不少于2学时"), through the real PTB stack and the fake Bot API, under tongnan's profile.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from casework import ladder, outcomes
from casework.policy import load_named
from models.tables import Case, Deadline, HomeTeachingSession
from tests.botkit import act, one, rows, speaking
from tests.casedriver import PROOF

pytestmark = pytest.mark.parametrize("policy", [load_named("tongnan")], ids=["tongnan"])


def placed_at_home(harness, world) -> int:  # type: ignore[no-untyped-def]
    """A pupil of 七年级1班 placed in home teaching, approved by the district (tongnan)."""
    student = world.students_of_class(world.classes[4])[0]
    case_id = int(act(harness, lambda cw: ladder.report(cw, world.users["teacher"], ladder.ReportInput(
        student_id=student.id, reasons=("disability",), absent_since=cw.today() - timedelta(days=1)))).case.id)
    proposal = act(harness, lambda cw: outcomes.propose_outcome(
        cw, world.users["school_admin"], case_id, "home_teaching", reason="重度残疾，无法到校",
        evidence=PROOF).proposal)
    act(harness, lambda cw: outcomes.decide_outcome(cw, world.users["county_officer"], proposal.id, True))
    assert one(harness, Case).state == "home_teaching"
    return case_id


async def test_a_home_teaching_session_is_recorded_from_the_case_card_and_counted(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = placed_at_home(harness, world)
    me = world.users["teacher"]
    teacher = speaking(harness, me, "zh_Hans")
    await teacher.send(f"/case {case_id}")
    assert "本周送教上门：0次，共0学时（每周至少2学时）；累计0次。" in teacher.last.split("\n")
    await teacher.tap("📚 记录送教上门")
    assert teacher.last == "送教日期？（如 11-21）"
    await teacher.tap("今天")
    assert teacher.buttons()[:3] == ["2学时", "3学时", "4学时"]  # the profile's minimum first
    await teacher.tap("2学时")
    await teacher.tap(f"✓ {me.display_name}")
    await teacher.send("语文识字、康复训练")
    assert teacher.last.startswith("送教上门记录")
    await teacher.tap("✅ 确认")
    assert teacher.reply_texts[-1] == (
        "已记录送教：11月23日，2学时。本周送教上门：1次，共2学时（每周至少2学时）；累计1次。")

    session = one(harness, HomeTeachingSession)
    assert (session.case_id, session.session_date, session.class_hours, session.teacher, session.content) == (
        case_id, date(2026, 11, 23), 2, me.display_name, "语文识字、康复训练")
    # the weekly reminder now counts from the session: due a week after it
    due = [d.due_at.date() for d in rows(harness, Deadline, Deadline.kind == "home_teaching",
                                          Deadline.status == "open")]
    assert due == [date(2026, 11, 30)]
    await teacher.send(f"/case {case_id}")
    assert "本周送教上门：1次，共2学时（每周至少2学时）；累计1次。" in teacher.last.split("\n")
    assert any("送教上门记录" in line for line in teacher.last.split("\n"))  # in the history too
