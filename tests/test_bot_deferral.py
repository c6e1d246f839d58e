"""Persuasion goes on while a deferral runs (seed 002 二(四): "可以准许先办理延缓入学或休学手续，
并继续做好劝返复学工作"), through the real PTB stack and the fake Bot API.

Under tongnan's profile ([deferral] persuasion) a case the 区扶贫工作领导小组 deferred keeps a
visit due: its people are reminded in their agenda and record the visit on the deferred
case, and the deferral's last day is still checked. Under a profile without the setting
(datian) a deferral stops the persuasion: no visit due, none offered.
"""

from __future__ import annotations

from datetime import date

import pytest

from casework import ladder, outcomes
from casework.clock import from_db
from casework.policy import load_named
from models.tables import Case, Deadline, Visit
from tests.botkit import act, deliver_outbox, one, open_case, rows, shanghai_at, speaking, tick_at
from tests.casedriver import PROOF, SHANGHAI


def _open(harness, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The case's open deadlines as "kind level YYYY-MM-DD HH:MM", in local time."""
    return [f"{d.kind} {d.payload.get('level', '-')} {from_db(d.due_at).astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
            for d in sorted(rows(harness, Deadline, Deadline.case_id == case_id, Deadline.status == "open"),
                            key=lambda d: (d.due_at, d.id))]


def deferred(harness, world) -> int:  # type: ignore[no-untyped-def]
    """A pupil of 七年级1班 (上坪村) deferred on Mon 2026-11-23: the school's persuasion and
    three joint rounds failed, the township reported to the 区扶贫工作领导小组, which approved
    the deferral until 2027-02-26."""
    u = world.users
    case_id = open_case(harness, world)
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))
    act(harness, lambda cw: ladder.acknowledge(cw, u["township_officer"], case_id))
    for _ in range(3):  # "经联合劝返3次以上"
        act(harness, lambda cw: ladder.record_visit(cw, u["village_cadre"], case_id, ladder.VisitInput(
            visit_date=cw.today(), method="joint_visit", result="refused")))
    proposal = act(harness, lambda cw: outcomes.propose_outcome(
        cw, u["school_admin"], case_id, "deferred", reason="经联合劝返3次，学生本人拒不返校",
        evidence=PROOF, until_on=date(2027, 2, 26)).proposal)
    approver = u["poverty_group"] if "poverty_group" in harness.services.policy.bodies else u["township_officer"]
    act(harness, lambda cw: outcomes.decide_outcome(cw, approver, proposal.id, True))
    assert one(harness, Case, Case.id == case_id).state == "deferred"
    return case_id


@pytest.mark.parametrize("policy", [load_named("tongnan")], ids=["tongnan"])
async def test_a_deferred_case_keeps_its_visits_due_and_the_cadre_records_one(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = deferred(harness, world)
    # a visit due 10 working days on (24–27 Nov, 30 Nov–4 Dec, 7 Dec), reminded the working
    # day before and the morning it is due; the deferral's last day is still checked
    assert _open(harness, case_id) == [
        "reminder deferred 2026-12-04 08:00",
        "reminder deferred 2026-12-07 08:00",
        "round deferred 2026-12-07 17:30",
        "deferral_end - 2027-02-26 08:00",
    ]
    me = world.users["village_cadre"]
    cadre = speaking(harness, me, "zh_Hans")
    await deliver_outbox(harness)
    seen = len(harness.tg.bot_messages(cadre.chat_id))

    # Fri 4 Dec: the reminder waits for the 08:30 agenda, one line for the case
    tick_at(harness, shanghai_at(date(2026, 12, 4), 8, 0))
    tick_at(harness, shanghai_at(date(2026, 12, 4), 8, 30))
    await deliver_outbox(harness)
    new = harness.tg.bot_messages(cadre.chat_id)[seen:]
    assert len(new) == 1, [m.content for m in new]
    about = [line for line in new[0].content.split("\n") if f"#{case_id} " in line]
    assert len(about) == 1 and about[0].startswith(f"• 提醒：个案#{case_id} "), new[0].content
    assert about[0].endswith("的第1次劝返须在12月7日前完成。"), about[0]

    # the cadre opens the case from the agenda and records the visit on the deferred case
    await cadre.tap(f"#{case_id} ", message=new[0])
    assert "🏠 记录劝返" in cadre.buttons(), cadre.buttons()
    await cadre.tap("🏠 记录劝返")
    await cadre.tap("🏠 今天家访")
    await cadre.send("奶奶在家，孩子仍不愿上学")
    await cadre.tap("犹豫")
    await cadre.tap("不愿返校")
    await cadre.send("讲解义务教育法，约定下周再访")
    await cadre.tap("拒绝")
    await cadre.tap("跳过")
    await cadre.tap("✅ 确认")
    # 10 working days from Fri 4 Dec: 7–11, 14–18 Dec
    assert cadre.reply_texts[-1] == "劝返已记录——缓学，第1次劝返；下一步：12月18日前完成。"

    visit = rows(harness, Visit, Visit.case_id == case_id)[-1]
    assert (visit.level, visit.round, visit.visit_date, visit.result, visit.recorded_by) == (
        "county_escalation", 1, date(2026, 12, 4), "refused", me.id)
    assert one(harness, Case, Case.id == case_id).state == "deferred"  # the deferral stands
    assert _open(harness, case_id) == [
        "reminder deferred 2026-12-17 08:00",
        "reminder deferred 2026-12-18 08:00",
        "round deferred 2026-12-18 17:30",
        "deferral_end - 2027-02-26 08:00",
    ]

    # nobody visits by Fri 18 Dec (the reminders came in the agendas of the 17th and the
    # 18th): its people are told in Monday's first agenda
    for day in (17, 18):
        for hour, minute in ((8, 0), (8, 30), (16, 0)):
            tick_at(harness, shanghai_at(date(2026, 12, day), hour, minute))
    assert "round: overdue notice to 3" in tick_at(harness, shanghai_at(date(2026, 12, 18), 17, 30))
    await deliver_outbox(harness)
    seen = len(harness.tg.bot_messages(cadre.chat_id))
    tick_at(harness, shanghai_at(date(2026, 12, 21), 8, 30))
    await deliver_outbox(harness)
    new = harness.tg.bot_messages(cadre.chat_id)[seen:]
    about = [line for m in new for line in m.content.split("\n") if f"#{case_id} " in line]
    assert len(about) == 1 and about[0].startswith(f"• 已逾期：个案#{case_id} "), about
    assert about[0].endswith("的第2次劝返应于12月18日前完成。"), about[0]


@pytest.mark.parametrize("policy", [load_named("tongnan")], ids=["tongnan"])
async def test_a_promise_made_during_the_deferral_is_asked_on_its_day(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = deferred(harness, world)
    me = world.users["village_cadre"]
    cadre = speaking(harness, me, "zh_Hans")
    # Wed 25 Nov: the family promises the child back on Mon 30 Nov
    tick_at(harness, shanghai_at(date(2026, 11, 25), 10, 0))
    act(harness, lambda cw: ladder.record_visit(cw, me, case_id, ladder.VisitInput(
        visit_date=cw.today(), method="home_visit", result="promised", promised_return_on=date(2026, 11, 30))))
    await deliver_outbox(harness)
    seen = len(harness.tg.bot_messages(cadre.chat_id))
    for hour, minute in ((8, 0), (8, 30), (16, 0), (17, 30)):
        tick_at(harness, shanghai_at(date(2026, 11, 30), hour, minute))
    await deliver_outbox(harness)
    asked = [m for m in harness.tg.bot_messages(cadre.chat_id)[seen:] if m.content.startswith("家长承诺")]
    assert len(asked) == 1, [m.content for m in harness.tg.bot_messages(cadre.chat_id)[seen:]]
    await cadre.tap("❌ 未返校", message=asked[0])
    # the deferral stands and its persuasion goes on: the next visit 10 working days after
    # the visit of 25 Nov (26, 27 Nov, 30 Nov–4 Dec, 7–9 Dec)
    assert cadre.last == f"已记录：个案#{case_id}的学生仍未返校。缓学继续，下次劝返须在12月9日前完成。"
    assert one(harness, Case, Case.id == case_id).state == "deferred"


@pytest.mark.parametrize("policy", [load_named("datian")], ids=["datian"])
async def test_without_the_setting_a_deferral_stops_the_persuasion(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = deferred(harness, world)
    assert _open(harness, case_id) == ["deferral_end - 2027-02-26 08:00"]
    cadre = speaking(harness, world.users["village_cadre"], "zh_Hans")
    await cadre.send(f"/case {case_id}")
    assert "🏠 记录劝返" not in cadre.buttons()
