"""Every county profile's ladder, end to end, on an injected clock.

For each of the five policy profiles one case is driven from the report to a closing
outcome through every level its ladder has: persuasion visits, deadlines that pass
(the clock moves and ``deadlines.run_due`` acts, as the scheduler's tick will), rounds
that run out, acknowledgements, and the outcome. Each test asserts

- every ``step`` and ``round`` deadline row's due time in local time, against dates
  counted by hand from the calendar (the count is in the comments; the dates are
  literals, never recomputed with ``casework.calendars``);
- the case events in order, the visits with their rounds;
- who was sent a message at the key moments.

datian runs across 中秋 and 国庆 2026 (the make-up working days 2026-09-20 and
2026-10-10 count, 10-01…10-07 and 09-25…09-27 do not); jidong runs into 2027, which
chinesecalendar does not cover, and counts Monday–Friday with a warning. The last tests
show an unacknowledged escalation alert climbing ``escalation.ack_chain`` and an
acknowledgement stopping it.

Calendar used for the hand counts (2026): Sep 1 is a Tuesday, Oct 1 a Thursday, Nov 1 a
Sunday, Dec 1 a Tuesday; 2027-01-01 is a Friday. Off: 09-25…09-27 (中秋), 10-01…10-07
(国庆); on: Sun 09-20 and Sat 10-10 (调休).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from casework import ladder, outcomes
from casework.calendars import reset_coverage_warnings
from casework.clock import FrozenClock
from casework.errors import AccessDenied, IllegalTransition
from casework.outbox import text_from_json
from casework.policy import load_named
from demo.county import World
from models.tables import Deadline, OutboxMessage
from tests.casedriver import PROOF, Run

EVIDENCE = PROOF


def _run(name: str, engine: Engine, clock: FrozenClock, world: World) -> Run:
    return Run(engine, clock, load_named(name), world)


@pytest.fixture(autouse=True)
def _fresh_coverage_warnings() -> Iterator[None]:
    # the 2027 warning is logged once per process: forget earlier tests' warnings
    reset_coverage_warnings()
    yield
    reset_coverage_warnings()


# ---------------------------------------------------------------------------- datian


def test_datian_ladder_across_mid_autumn_and_national_day(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    """大田: report → school (3 working days) → township, 5 rounds → 限期复学通知书 →
    county → judicial → returned → retention check → 销号, from 2026-09-18 over 国庆."""
    run = _run("datian", engine, clock, world)
    run.start(2026, 9, 18, 9, 0)  # Friday

    mark = run.mark()
    case = run.report("teacher", absent_since=date(2026, 9, 18))
    # suspected: 1 working day after Fri 09-18 is Sun 09-20 (调休, a working day)
    assert run.deadlines(case) == ["step suspected 2026-09-20 17:30 open"]
    assert run.messages(mark) == ["level_entered → school_admin"]

    # the scheduler works on the make-up Sunday: the due-day reminder goes out
    mark = run.mark()
    assert run.tick(2026, 9, 20, 8, 0) == ["reminder: reminded 1"]
    assert run.messages(mark) == ["reminder → teacher"]

    # the teacher's first call starts the school's persuasion: 3 working days from Sun
    # 09-20 are Mon 21, Tue 22, Wed 23
    run.at(2026, 9, 20, 10, 0)
    mark = run.mark()
    run.visit("teacher", case, "phone", "refused", guardian_attitude="opposed")
    assert run.case(case).state == "school_persuasion"
    assert run.messages(mark) == ["level_entered → school_admin"]
    run.at(2026, 9, 22, 16, 0)
    run.visit("teacher", case, "home_visit", "refused", measures="讲解义务教育法")

    # 3 working days pass with the child still out: the school reports to the township
    mark = run.mark()
    assert run.tick(2026, 9, 23, 17, 30) == [
        "reminder: reminded 2",  # 09-22 08:00, the working day before
        "reminder: reminded 2",  # 09-23 08:00, the due day
        "step: escalated to township_persuasion",
    ]
    assert run.case(case).state == "township_persuasion"
    assert run.messages(mark) == [
        "escalation_alert → township_officer",
        "moved_up → school_admin",
        "moved_up → teacher",
        "reminder → school_admin",
        "reminder → school_admin",
        "reminder → teacher",
        "reminder → teacher",
        "township_started → village_cadre",  # the cadre persuades with the township from today
    ]
    # township, from Wed 09-23: round 1 within 5 working days = 24, 28, 29, 30 Sep,
    # 8 Oct (中秋 25–27 and 国庆 1–7 skipped); the level's 25 working days end 11-04:
    # 24 28 29 30 | 8 9 10(Sat) 12 13 14 15 16 | 19–23 | 26–30 | 2 3 4 Nov
    assert run.deadlines(case)[2:] == [
        "step township_persuasion 2026-11-04 17:30 open",
        "round township_persuasion #1 2026-10-08 17:30 open",
    ]
    # the alert must be acknowledged within 1 working day: Thu 09-24
    assert run.deadlines(case, ("ack",)) == ["ack township_persuasion township_officer 2026-09-24 17:30 open"]
    run.at(2026, 9, 24, 9, 0)
    run.do(ladder.acknowledge, run.user("township_officer"), case)

    # round 1 on the first working day after the holiday
    mark = run.mark()
    assert run.tick(2026, 10, 8, 9, 0) == ["reminder: reminded 2", "reminder: reminded 2"]
    assert run.messages(mark) == [
        "reminder → township_officer",
        "reminder → township_officer",
        "reminder → village_cadre",
        "reminder → village_cadre",
    ]
    run.at(2026, 10, 8, 10, 0)
    out = run.visit("village_cadre", case, "home_visit", "refused")
    assert out.message.render("en") == (
        "Visit recorded — township persuasion, round 1 of 5; next step due by Oct 14."
    )
    # round 2 within 5 working days of Thu 10-08: 9, 10 (Sat, 调休), 12, 13, 14

    # nobody visits by 10-14: the responsible are told the visit is overdue
    mark = run.mark()
    assert run.tick(2026, 10, 14, 17, 30) == [
        "reminder: reminded 2",
        "reminder: reminded 2",
        "round: overdue notice to 2",
    ]
    assert "overdue → village_cadre" in run.messages(mark)
    assert "overdue → township_officer" in run.messages(mark)

    run.at(2026, 10, 15, 10, 0)  # round 3 due: 16, 19, 20, 21, 22 Oct
    run.visit("township_officer", case, "joint_visit", "refused")
    run.at(2026, 10, 21, 10, 0)  # round 4 due: 22, 23, 26, 27, 28 Oct
    run.visit("village_cadre", case, "home_visit", "unreachable")
    run.at(2026, 10, 28, 10, 0)  # round 5 due: 29, 30 Oct, 2, 3, 4 Nov
    run.visit("village_cadre", case, "phone", "refused")

    # the fifth round refused: the rounds are used up, the 限期复学通知书 level follows
    run.at(2026, 11, 3, 10, 0)
    mark = run.mark()
    out = run.visit("township_officer", case, "joint_visit", "refused")
    assert run.case(case).state == "deadline_notice"
    assert "rounds of this level are used up" in out.message.render("en")
    assert run.messages(mark) == [
        "escalation_alert → school_admin",
        "escalation_alert → township_officer",
        "moved_up → village_cadre",
    ]
    # 7 calendar days from Tue 11-03 → Tue 11-10
    assert run.deadlines(case)[-1] == "step deadline_notice 2026-11-10 17:30 open"

    # the township issues the notice the next morning: the guardian's 7 days start then
    run.at(2026, 11, 4, 9, 0)
    out = run.do(ladder.issue_deadline_notice, run.user("township_officer"), case)
    assert out.message.render("en") == (
        f"Deadline notice to return to school issued for case #{case}; the guardian must "
        "bring the child back by Nov 11."
    )
    assert run.case(case).notice_due_on == date(2026, 11, 11)
    # issuing the notice answers the alert: nothing is left to climb, nothing to acknowledge
    assert [d for d in run.open_deadlines(case) if d.startswith("ack")] == []
    with pytest.raises(IllegalTransition):
        run.do(ladder.acknowledge, run.user("township_officer"), case)

    # the notice's week passes: the county; 10 working days from Wed 11-11 → Wed 11-25
    mark = run.mark()
    assert run.tick(2026, 11, 11, 17, 30)[-1] == "step: escalated to county_escalation"
    assert "escalation_alert → county_officer" in run.messages(mark)
    assert "moved_up → township_officer" in run.messages(mark)
    run.at(2026, 11, 12, 9, 0)
    run.do(ladder.acknowledge, run.user("county_officer"), case)

    mark = run.mark()
    assert run.tick(2026, 11, 25, 17, 30)[-1] == "step: escalated to judicial"
    assert run.case(case).state == "judicial"
    assert "escalation_alert → county_officer" in run.messages(mark)
    run.at(2026, 11, 26, 9, 0)
    run.do(ladder.acknowledge, run.user("county_officer"), case)
    # the last level has no deadline: nothing but the (acknowledged) alert was written
    assert run.open_deadlines(case) == []

    # the child comes back; check-ins 7, 14 and 28 days later at 08:00
    run.at(2026, 12, 1, 9, 0)
    mark = run.mark()
    run.do(ladder.mark_returned, run.user("school_admin"), case)
    assert run.messages(mark) == [
        "returned → teacher",
        "returned → township_officer",
        "returned → village_cadre",
    ]
    assert run.open_deadlines(case) == [
        "retention 2026-12-08 08:00",
        "retention 2026-12-15 08:00",
        "retention 2026-12-29 08:00",
    ]
    mark = run.mark()
    assert run.tick(2026, 12, 8, 8, 0) == ["retention: check-in sent"]
    assert run.messages(mark) == ["retention_check → teacher"]
    run.at(2026, 12, 8, 9, 0)
    run.do(ladder.confirm_attending, run.user("teacher"), case, True)
    run.at(2026, 12, 9, 10, 0)
    # 销号: the school proposes with a photo of the child in class; the township reviews
    assert run.close_out(case, note="连续在校") == "township_officer"
    assert run.case(case).state == "closed"
    assert run.open_deadlines(case) == []

    assert run.deadlines(case) == [
        "step suspected 2026-09-20 17:30 cancelled",  # the teacher's call came first
        "step school_persuasion 2026-09-23 17:30 done",
        "step township_persuasion 2026-11-04 17:30 cancelled",  # rounds ran out first
        "round township_persuasion #1 2026-10-08 17:30 cancelled",
        "round township_persuasion #2 2026-10-14 17:30 done",  # passed: overdue notice
        "round township_persuasion #3 2026-10-22 17:30 cancelled",
        "round township_persuasion #4 2026-10-28 17:30 cancelled",
        "round township_persuasion #5 2026-11-04 17:30 cancelled",
        "step deadline_notice 2026-11-10 17:30 cancelled",  # replaced when issued
        "step deadline_notice 2026-11-11 17:30 done",
        "step county_escalation 2026-11-25 17:30 done",
    ]
    assert run.deadlines(case, ("ack",)) == [
        "ack township_persuasion township_officer 2026-09-24 17:30 done",
        "ack deadline_notice township_officer,school_admin 2026-11-04 17:30 done",
        "ack county_escalation county_officer 2026-11-12 17:30 done",
        "ack judicial county_officer 2026-11-26 17:30 done",
    ]
    assert run.visits(case) == [
        "2026-09-20 school_persuasion #1 phone refused",
        "2026-09-22 school_persuasion #2 home_visit refused",
        "2026-10-08 township_persuasion #1 home_visit refused",
        "2026-10-15 township_persuasion #2 joint_visit refused",
        "2026-10-21 township_persuasion #3 home_visit unreachable",
        "2026-10-28 township_persuasion #4 phone refused",
        "2026-11-03 township_persuasion #5 joint_visit refused",
    ]
    assert run.events(case) == [
        "teacher: reported - → suspected",
        "teacher: visit suspected → school_persuasion",
        "teacher: visit school_persuasion → school_persuasion",
        "scheduler: escalated school_persuasion → township_persuasion (deadline_passed)",
        "township_officer: acknowledged township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "township_officer: visit township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "township_officer: visit township_persuasion → township_persuasion",
        "scheduler: escalated township_persuasion → deadline_notice (rounds_used_up)",
        "township_officer: notice_issued deadline_notice → deadline_notice",
        "scheduler: escalated deadline_notice → county_escalation (deadline_passed)",
        "county_officer: acknowledged county_escalation → county_escalation",
        "scheduler: escalated county_escalation → judicial (deadline_passed)",
        "county_officer: acknowledged judicial → judicial",
        "school_admin: returned judicial → returned",
        "teacher: attending returned → retention",
        "school_admin: outcome_proposed retention → retention",
        "township_officer: closed retention → closed",
    ]


# ---------------------------------------------------------------------------- qiaocheng


def test_qiaocheng_ladder_to_judicial_documents_and_a_verified_transfer(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    """谯城: school (3 working days) → township and district told, 1–2 家访 in 10 working
    days → 责令限期改正 by the township (7 days from the order; its alert climbs to the
    district unacknowledged) → the 区司法部门 sends the legal documents (10 working days)
    → judicial → the child is found enrolled elsewhere."""
    run = _run("qiaocheng", engine, clock, world)
    run.start(2026, 11, 2, 9, 0)  # Monday; November 2026 has no holidays

    case = run.report("teacher", reasons=("work",))
    run.at(2026, 11, 3, 10, 0)
    run.visit("teacher", case, "phone", "unreachable", guardian_attitude="unreachable")
    run.at(2026, 11, 5, 10, 0)
    run.visit("school_admin", case, "home_visit", "refused")

    # 3 working days from Tue 11-03: 4, 5, 6 → Fri 11-06; the written report goes to the
    # township AND the district bureau, and both must acknowledge
    mark = run.mark()
    assert run.tick(2026, 11, 6, 17, 30)[-1] == "step: escalated to township_persuasion"
    assert run.messages(mark) == [
        "escalation_alert → county_officer",
        "escalation_alert → township_officer",
        "moved_up → school_admin",
        "moved_up → teacher",
        "reminder → school_admin",
        "reminder → school_admin",
        "reminder → teacher",
        "reminder → teacher",
        "township_started → village_cadre",
    ]
    run.at(2026, 11, 9, 9, 0)
    run.do(ladder.acknowledge, run.user("township_officer"), case)

    run.at(2026, 11, 12, 10, 0)  # round 2 due 13, 16, 17, 18, 19 Nov
    run.visit("village_cadre", case, "home_visit", "refused", student_attitude="opposed")

    # （四）"每学期开学初要协助各中小学校开展 1-2 次劝学家访": the second 家访 is missed, then
    # the level's 10 working days run out (Fri 11-20)
    mark = run.mark()
    assert run.tick(2026, 11, 19, 17, 30)[-1] == "round: overdue notice to 2"
    assert [m for m in run.messages(mark) if m.startswith("overdue")] == [
        "overdue → township_officer",
        "overdue → village_cadre",
    ]
    mark = run.mark()
    assert run.tick(2026, 11, 20, 17, 30)[-1] == "step: escalated to deadline_notice"
    assert run.messages(mark) == [
        "escalation_alert → school_admin",
        "escalation_alert → township_officer",
        "moved_up → village_cadre",
        "reminder → township_officer",  # the morning of the level's last day
        "reminder → village_cadre",
    ]

    # nobody acknowledges within a working day (Mon 11-23): it climbs the profile's chain
    # above the township officer, to the district bureau
    mark = run.mark()
    assert run.tick(2026, 11, 23, 17, 30) == ["ack: climbed to county_officer"]
    assert run.messages(mark) == ["escalation_alert → county_officer"]
    run.at(2026, 11, 24, 9, 0)
    run.do(ladder.acknowledge, run.user("county_officer"), case)
    # the district's officer cannot go past the township's order: the 区司法部门 step needs it
    with pytest.raises(IllegalTransition):
        run.do(ladder.escalate, run.user("county_officer"), case)
    # the township orders the correction (责令限期改正): the guardian's 7 days start now
    out = run.do(ladder.issue_deadline_notice, run.user("township_officer"), case)
    assert "《责令限期改正通知书》已下达" in out.message.render("zh_Hans")
    assert run.case(case).notice_due_on == date(2026, 12, 1)

    # overdue (Tue 12-01): the 区司法部门 sends the legal documents, the bureau is told
    mark = run.mark()
    assert run.tick(2026, 12, 1, 17, 30)[-1] == "step: escalated to county_escalation"
    assert run.messages(mark) == [
        "escalation_alert → county_officer",
        "escalation_alert → judicial_officer",
        "moved_up → township_officer",
        "reminder → township_officer",  # the working day before (no tick ran in between)
        "return_check → township_officer",  # the guardian's last day: is the child back?
    ]
    run.at(2026, 12, 2, 9, 0)
    run.do(ladder.acknowledge, run.user("judicial_officer"), case)
    with pytest.raises(AccessDenied):  # the education bureau's officer does not send them
        run.do(ladder.issue_document, run.user("county_officer"), case)
    mark = run.mark()
    out = run.do(ladder.issue_document, run.user("judicial_officer"), case)
    assert out.message.render("en").startswith("Legal documents issued")
    assert run.messages(mark) == ["document_issued → county_officer"]
    # 10 working days from Tue 12-01: 2–4, 7–11, 14–15 Dec
    assert run.tick(2026, 12, 15, 17, 30)[-1] == "step: escalated to judicial"
    run.at(2026, 12, 16, 9, 0)
    run.do(ladder.acknowledge, run.user("judicial_officer"), case)

    # the family moved; the school sends the receiving school's 学籍 confirmation, and the
    # township reviews it before the case closes (nobody closes a case alone)
    run.at(2026, 12, 22, 10, 0)
    mark = run.mark()
    out = run.do(
        outcomes.propose_outcome, run.user("school_admin"), case, "transferred",
        reason="已在外地学校就读，学籍转接完成", evidence=EVIDENCE,
    )
    assert out.case.state == "judicial" and out.proposal is not None
    assert run.messages(mark) == ["approval_request → township_officer"]
    out = run.do(outcomes.decide_outcome, run.user("township_officer"), out.proposal.id, True)
    assert out.case.state == "transferred"
    assert run.case(case).closed_at is not None
    assert run.open_deadlines(case) == []

    assert run.deadlines(case) == [
        "step suspected 2026-11-03 17:30 cancelled",
        "step school_persuasion 2026-11-06 17:30 done",
        # 10 working days from Fri 11-06: 9–13, 16–20 Nov
        "step township_persuasion 2026-11-20 17:30 done",
        "round township_persuasion #1 2026-11-13 17:30 cancelled",  # 9–13 Nov
        "round township_persuasion #2 2026-11-19 17:30 done",
        "step deadline_notice 2026-11-27 17:30 cancelled",  # restarted by the order
        "step deadline_notice 2026-12-01 17:30 done",
        "step county_escalation 2026-12-15 17:30 done",
    ]
    assert run.deadlines(case, ("ack",)) == [
        "ack township_persuasion township_officer,county_officer 2026-11-09 17:30 done",
        "ack deadline_notice township_officer,school_admin 2026-11-23 17:30 done",
        "ack deadline_notice county_officer 2026-11-24 17:30 done",
        "ack county_escalation judicial_officer,county_officer 2026-12-02 17:30 done",
        "ack judicial judicial_officer,county_officer 2026-12-16 17:30 done",
    ]
    assert run.visits(case) == [
        "2026-11-03 school_persuasion #1 phone unreachable",
        "2026-11-05 school_persuasion #2 home_visit refused",
        "2026-11-12 township_persuasion #1 home_visit refused",
    ]
    assert run.events(case) == [
        "teacher: reported - → suspected",
        "teacher: visit suspected → school_persuasion",
        "school_admin: visit school_persuasion → school_persuasion",
        "scheduler: escalated school_persuasion → township_persuasion (deadline_passed)",
        "township_officer: acknowledged township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "scheduler: escalated township_persuasion → deadline_notice (deadline_passed)",
        "county_officer: acknowledged deadline_notice → deadline_notice",
        "township_officer: notice_issued deadline_notice → deadline_notice",
        "scheduler: escalated deadline_notice → county_escalation (deadline_passed)",
        "judicial_officer: acknowledged county_escalation → county_escalation",
        "judicial_officer: document_issued county_escalation → county_escalation",
        "scheduler: escalated county_escalation → judicial (deadline_passed)",
        "judicial_officer: acknowledged judicial → judicial",
        "school_admin: outcome_proposed judicial → judicial",
        "township_officer: outcome judicial → transferred",
    ]


# ---------------------------------------------------------------------------- tongnan


def test_tongnan_ladder_joint_rounds_the_group_and_an_approved_deferral(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    """潼南: 即辍即劝 (1 working day) → school (3) → joint persuasion, 3 rounds → the
    township reports to the 区扶贫工作领导小组 (the top: no notice, no court step), which
    approves a deferral (缓学) after ≥ 3 joint rounds while persuasion goes on."""
    run = _run("tongnan", engine, clock, world)
    run.start(2026, 11, 23, 9, 0)  # Monday

    mark = run.mark()
    case = run.report("teacher", reasons=("learning",))
    assert run.messages(mark) == ["level_entered → school_admin"]

    # nobody started persuading within a working day (Tue 11-24): the school's level
    mark = run.mark()
    assert run.tick(2026, 11, 24, 17, 30) == [
        "reminder: reminded 1",
        "step: escalated to school_persuasion",
    ]
    assert run.messages(mark) == [
        "level_entered → school_admin",
        "moved_up → teacher",
        "reminder → teacher",
    ]

    # the family promises the child back on Thursday; the day comes, no child
    run.at(2026, 11, 25, 10, 0)
    run.visit("teacher", case, "home_visit", "promised", promised_return_on=date(2026, 11, 26))
    mark = run.mark()
    assert run.tick(2026, 11, 26, 17, 30) == [
        "reminder: reminded 2",
        "promise: promise check to 2",
    ]
    assert [m for m in run.messages(mark) if m.startswith("return_check")] == [  # "is the child back?"
        "return_check → school_admin",
        "return_check → teacher",
    ]
    run.at(2026, 11, 27, 10, 0)
    run.visit("school_admin", case, "phone", "unreachable")

    # 3 working days from Tue 11-24: 25, 26, 27 → the joint persuasion with the township
    mark = run.mark()
    assert run.tick(2026, 11, 27, 17, 30)[-1] == "step: escalated to township_persuasion"
    assert [m for m in run.messages(mark) if not m.startswith("reminder")] == [
        "escalation_alert → township_officer",
        "moved_up → school_admin",
        "moved_up → teacher",
        "township_started → village_cadre",
    ]
    run.at(2026, 11, 30, 9, 0)
    run.do(ladder.acknowledge, run.user("township_officer"), case)

    run.at(2026, 12, 2, 10, 0)  # round 2 due 3, 4, 7, 8, 9 Dec
    run.visit("school_admin", case, "joint_visit", "refused", participants=("校长", "村干部"))
    run.at(2026, 12, 8, 10, 0)  # round 3 due 9, 10, 11, 14, 15 Dec
    run.visit("township_officer", case, "joint_visit", "refused")
    run.at(2026, 12, 14, 10, 0)
    mark = run.mark()
    run.visit("village_cadre", case, "joint_visit", "refused")
    # "经联合劝返3次以上": the third joint round refused — the township reports to the
    # 区扶贫工作领导小组, the top of this ladder (no 限期复学通知书, no court step)
    assert run.case(case).state == "county_escalation"
    assert run.messages(mark) == [
        "escalation_alert → poverty_group",
        "escalation_alert → township_officer",
        "moved_up → school_admin",
        "moved_up → village_cadre",
    ]
    run.at(2026, 12, 15, 9, 0)
    run.do(ladder.acknowledge, run.user("poverty_group"), case)
    with pytest.raises(IllegalTransition):  # nothing above the group
        run.do(ladder.escalate, run.user("county_officer"), case)

    # "并继续做好劝返复学工作": persuasion goes on, a round due every 10 working days
    assert "round 2026-12-28 17:30" in run.open_deadlines(case)

    # the pupil still refuses: the school proposes a deferral, which only the group decides
    # (not the education bureau's county officer)
    run.at(2026, 12, 30, 10, 0)
    mark = run.mark()
    proposed = run.do(
        outcomes.propose_outcome, run.user("school_admin"), case, "deferred",
        reason="经联合劝返3次，监护人已履行义务，学生本人拒不返校", evidence=EVIDENCE,
        until_on=date(2027, 2, 26),
    )
    assert proposed.case.state == "county_escalation"
    assert proposed.proposal is not None and proposed.proposal.status == "pending"
    assert run.messages(mark) == ["approval_request → poverty_group"]
    with pytest.raises(AccessDenied):
        run.do(outcomes.decide_outcome, run.user("county_officer"), proposed.proposal.id, True)

    run.at(2026, 12, 31, 10, 0)
    mark = run.mark()
    decided = run.do(
        outcomes.decide_outcome, run.user("poverty_group"), proposed.proposal.id, True,
        note="同意缓学，继续做好劝返",
    )
    assert decided.case.state == "deferred"
    assert run.messages(mark) == ["decision → school_admin"]
    # "并继续做好劝返复学工作" ([deferral] persuasion): a visit stays due every 10 working days
    # (2027 on the weekday fallback: 1, 4–8, 11–14 Jan), and the deferral's last day is checked
    assert run.open_deadlines(case) == [
        "reminder 2027-01-13 08:00",
        "reminder 2027-01-14 08:00",
        "round 2027-01-14 17:30",
        "deferral_end 2027-02-26 08:00",
    ]
    mark = run.mark()
    assert run.tick(2027, 1, 13, 8, 0) == ["reminder: reminded 3"]
    assert run.messages(mark) == [
        "reminder → school_admin",
        "reminder → township_officer",
        "reminder → village_cadre",
    ]
    run.at(2027, 1, 13, 15, 0)
    run.visit("village_cadre", case, "joint_visit", "refused")
    assert run.case(case).state == "deferred"
    # the next visit 10 working days after it: 14–15, 18–22, 25–27 Jan
    assert run.open_deadlines(case) == [
        "reminder 2027-01-26 08:00",
        "reminder 2027-01-27 08:00",
        "round 2027-01-27 17:30",
        "deferral_end 2027-02-26 08:00",
    ]
    # nobody visits again: the round passes, its people are told
    assert run.tick(2027, 1, 27, 17, 30) == [
        "reminder: reminded 3",
        "reminder: reminded 3",
        "round: overdue notice to 3",
    ]

    # the deferral's last day: the school and the township are asked whether the child is back
    mark = run.mark()
    assert run.tick(2027, 2, 26, 8, 0) == ["deferral_end: told 2"]
    assert run.messages(mark) == [
        "deferral_end → school_admin",
        "deferral_end → township_officer",
    ]

    assert run.deadlines(case) == [
        "step suspected 2026-11-24 17:30 done",
        "step school_persuasion 2026-11-27 17:30 done",
        # 15 working days from Fri 11-27: 30 Nov–4 Dec, 7–11, 14–18 Dec
        "step township_persuasion 2026-12-18 17:30 cancelled",
        "round township_persuasion #1 2026-12-04 17:30 cancelled",  # 30 Nov–4 Dec
        "round township_persuasion #2 2026-12-09 17:30 cancelled",
        "round township_persuasion #3 2026-12-15 17:30 cancelled",
        "round county_escalation #1 2026-12-28 17:30 cancelled",  # 15–18, 21–25, 28 Dec
        "round deferred #1 2027-01-14 17:30 cancelled",
        "round deferred #2 2027-01-27 17:30 done",
    ]
    assert run.visits(case) == [
        "2026-11-25 school_persuasion #1 home_visit promised",
        "2026-11-27 school_persuasion #2 phone unreachable",
        "2026-12-02 township_persuasion #1 joint_visit refused",
        "2026-12-08 township_persuasion #2 joint_visit refused",
        "2026-12-14 township_persuasion #3 joint_visit refused",
        "2027-01-13 county_escalation #1 joint_visit refused",  # during the deferral
    ]
    assert run.events(case) == [
        "teacher: reported - → suspected",
        "scheduler: escalated suspected → school_persuasion (deadline_passed)",
        "teacher: visit school_persuasion → school_persuasion",
        "school_admin: visit school_persuasion → school_persuasion",
        "scheduler: escalated school_persuasion → township_persuasion (deadline_passed)",
        "township_officer: acknowledged township_persuasion → township_persuasion",
        "school_admin: visit township_persuasion → township_persuasion",
        "township_officer: visit township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "scheduler: escalated township_persuasion → county_escalation (rounds_used_up)",
        "poverty_group: acknowledged county_escalation → county_escalation",
        "school_admin: outcome_proposed county_escalation → county_escalation",
        "poverty_group: outcome county_escalation → deferred",
        "village_cadre: visit deferred → deferred",
    ]


# ---------------------------------------------------------------------------- jidong


def test_jidong_ladder_runs_into_2027_on_the_weekday_fallback(
    engine: Engine, clock: FrozenClock, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """鸡东: 7 school days → the teacher visits (the level holds) → the month mark, the 22nd
    school day away → the school names a 专人 (10 working days) → township and county told,
    3 rounds → the county government's 责令限期改正 (7 days) → the bureau's 教育行政处罚决定
    → court → returned → 销号, from 2026-12-14 into 2027, which chinesecalendar does not
    cover: Monday–Friday count, with a warning."""
    caplog.set_level(logging.WARNING, logger="casework.calendars")
    run = _run("jidong", engine, clock, world)
    run.start(2026, 12, 14, 9, 0)  # Monday

    # away since Thu 12-03: the 7th school day was Fri 12-11, the case opens on Monday
    case = run.report("teacher", reasons=("work",), absent_since=date(2026, 12, 3))
    # the month counts from the first day away: 21 school days after Thu 12-03 — 4, 7–11,
    # 14–18, 21–25, 28–31 Dec, Fri 2027-01-01 (a weekday: 2027 has no holiday data)
    assert run.deadlines(case) == ["step suspected 2027-01-01 17:30 open"]
    warnings = [r for r in caplog.records if r.name == "casework.calendars"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "no holiday data for 2027" in warnings[0].getMessage()

    # the class teacher visits: recorded, but the month mark is not pre-empted (no school
    # step, no alert to the township or the county before the month is up)
    run.at(2026, 12, 15, 10, 0)
    mark = run.mark()
    run.visit("teacher", case, "home_visit", "refused")
    assert run.case(case).state == "suspected"
    assert run.messages(mark) == []
    assert run.deadlines(case) == ["step suspected 2027-01-01 17:30 open"]

    # the month mark: the school administrator is asked to name the 专人
    mark = run.mark()
    assert run.tick(2027, 1, 1, 17, 30) == [
        "reminder: reminded 1",  # Thu 12-31 08:00
        "reminder: reminded 1",  # Fri 2027-01-01 08:00
        "step: escalated to school_persuasion",
    ]
    assert run.messages(mark) == [
        "moved_up → teacher",
        "name_persuader → school_admin",
        "reminder → teacher",
        "reminder → teacher",
    ]
    run.at(2027, 1, 4, 9, 0)
    mark = run.mark()
    run.do(ladder.assign, run.user("school_admin"), case, run.user("teacher").id)
    assert run.messages(mark) == ["assigned → teacher"]
    assert run.case(case).assigned_to_id == run.user("teacher").id
    run.at(2027, 1, 5, 10, 0)
    run.visit("teacher", case, "home_visit", "refused")
    run.at(2027, 1, 11, 10, 0)
    run.visit("teacher", case, "phone", "unreachable")

    # 10 working days from Fri 01-01: 4–8, 11–15 Jan; the reminders went to the 专人 alone;
    # then the township, the county bureau told (劝返后仍不返校的……向县教育局上报)
    mark = run.mark()
    assert run.tick(2027, 1, 15, 17, 30)[-1] == "step: escalated to township_persuasion"
    assert run.messages(mark) == [
        "escalation_alert → county_officer",
        "escalation_alert → township_officer",
        "moved_up → school_admin",
        "moved_up → teacher",
        "reminder → teacher",
        "reminder → teacher",
        "township_started → village_cadre",
    ]
    run.at(2027, 1, 18, 9, 0)
    run.do(ladder.acknowledge, run.user("township_officer"), case)
    run.at(2027, 1, 22, 10, 0)
    run.visit("village_cadre", case, "home_visit", "refused")
    run.at(2027, 1, 29, 10, 0)
    run.visit("township_officer", case, "joint_visit", "refused")
    run.at(2027, 2, 4, 10, 0)
    mark = run.mark()
    run.visit("village_cadre", case, "home_visit", "refused")
    # 四 县人民政府 "责令送子女……入学": the county government's step, alerted to it
    assert run.case(case).state == "deadline_notice"
    assert run.messages(mark) == [
        "escalation_alert → county_government",
        "escalation_alert → township_officer",
        "moved_up → village_cadre",
    ]
    # the township cannot issue the county government's order
    with pytest.raises(AccessDenied):
        run.do(ladder.issue_deadline_notice, run.user("township_officer"), case)
    run.at(2027, 2, 5, 9, 0)
    out = run.do(ladder.issue_deadline_notice, run.user("county_government"), case)
    assert "《责令限期改正通知书》已下达" in out.message.render("zh_Hans")

    # 7 calendar days from Fri 02-05 → Fri 02-12: the bureau's step, which must issue its
    # 教育行政处罚决定 before the court; its time up without it, the case waits
    mark = run.mark()
    assert run.tick(2027, 2, 12, 17, 30)[-1] == "step: escalated to county_escalation"
    assert "escalation_alert → county_officer" in run.messages(mark)
    run.at(2027, 2, 15, 9, 0)
    run.do(ladder.acknowledge, run.user("county_officer"), case)
    with pytest.raises(IllegalTransition):  # no court without the penalty decision
        run.do(ladder.escalate, run.user("county_officer"), case)
    # 15 working days from Fri 02-12: 15–19, 22–26 Feb, 1–5 Mar
    mark = run.mark()
    assert run.tick(2027, 3, 5, 17, 30)[-1] == "step: held: penalty_decision not on file"
    assert "held → county_officer" in run.messages(mark)
    assert run.case(case).state == "county_escalation"
    run.at(2027, 3, 8, 9, 0)
    run.do(ladder.issue_document, run.user("county_officer"), case)
    # the next working day's deadline finds it on file: the court step
    mark = run.mark()
    assert run.tick(2027, 3, 8, 17, 30)[-1] == "step: escalated to judicial"
    assert sorted(m for m in run.messages(mark) if m.startswith("escalation")) == [
        "escalation_alert → county_officer",
        "escalation_alert → judicial_officer",
    ]
    run.at(2027, 3, 9, 9, 0)
    run.do(ladder.acknowledge, run.user("county_officer"), case)

    # the child is back
    run.at(2027, 3, 10, 9, 0)
    run.do(ladder.mark_returned, run.user("school_admin"), case)
    mark = run.mark()
    assert run.tick(2027, 3, 17, 8, 0) == ["retention: check-in sent"]
    assert run.messages(mark) == ["retention_check → teacher"]
    run.at(2027, 3, 17, 9, 0)
    run.do(ladder.confirm_attending, run.user("teacher"), case, True)
    run.at(2027, 3, 18, 10, 0)
    assert run.close_out(case) == "township_officer"
    assert run.case(case).state == "closed"

    assert run.deadlines(case) == [
        "step suspected 2027-01-01 17:30 done",
        "step school_persuasion 2027-01-15 17:30 done",
        # 15 working days from Fri 01-15: 18–22, 25–29 Jan, 1–5 Feb
        "step township_persuasion 2027-02-05 17:30 cancelled",
        "round township_persuasion #1 2027-01-22 17:30 cancelled",
        "round township_persuasion #2 2027-01-29 17:30 cancelled",
        "round township_persuasion #3 2027-02-05 17:30 cancelled",
        "step deadline_notice 2027-02-11 17:30 cancelled",  # restarted by the order
        "step deadline_notice 2027-02-12 17:30 done",
        "step county_escalation 2027-03-05 17:30 done",
        "step county_escalation 2027-03-08 17:30 done",  # held a working day
    ]
    assert run.events(case) == [
        "teacher: reported - → suspected",
        "teacher: visit suspected → suspected",
        "scheduler: escalated suspected → school_persuasion (deadline_passed)",
        "school_admin: assigned school_persuasion → school_persuasion",
        "teacher: visit school_persuasion → school_persuasion",
        "teacher: visit school_persuasion → school_persuasion",
        "scheduler: escalated school_persuasion → township_persuasion (deadline_passed)",
        "township_officer: acknowledged township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "township_officer: visit township_persuasion → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
        "scheduler: escalated township_persuasion → deadline_notice (rounds_used_up)",
        "county_government: notice_issued deadline_notice → deadline_notice",
        "scheduler: escalated deadline_notice → county_escalation (deadline_passed)",
        "county_officer: acknowledged county_escalation → county_escalation",
        "county_officer: document_issued county_escalation → county_escalation",
        "scheduler: escalated county_escalation → judicial (deadline_passed)",
        "county_officer: acknowledged judicial → judicial",
        "school_admin: returned judicial → returned",
        "teacher: attending returned → retention",
        "school_admin: outcome_proposed retention → retention",
        "township_officer: closed retention → closed",
    ]


# ---------------------------------------------------------------------------- lipu


def test_lipu_ladder_school_notice_city_rounds_and_approved_home_teaching(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    """荔浦: the school persuades 3 times (every 3 working days) → the school issues its own
    劝返复学通知书 (one week) → township and 市教育局, 3 rounds in 15 working days →
    enforcement led by the 市教育局 → home teaching approved by the township, with its
    weekly session reminder."""
    run = _run("lipu", engine, clock, world)
    run.start(2026, 11, 23, 9, 0)  # Monday

    case = run.report("teacher", reasons=("disability",))
    run.at(2026, 11, 24, 10, 0)
    run.visit("teacher", case, "phone", "refused")
    # the school's level from Tue 11-24: 10 working days → 12-08; the next round within 3
    # working days → 25, 26, 27 Nov
    assert run.deadlines(case) == [
        "step suspected 2026-11-24 17:30 cancelled",
        "step school_persuasion 2026-12-08 17:30 open",
        "round school_persuasion #1 2026-11-27 17:30 cancelled",  # replaced by the visit
        "round school_persuasion #2 2026-11-27 17:30 open",
    ]
    run.at(2026, 11, 27, 10, 0)  # round 3 due Mon 30 Nov, 1, 2 Dec
    run.visit("teacher", case, "home_visit", "refused")
    run.at(2026, 12, 2, 10, 0)
    mark = run.mark()
    run.visit("school_admin", case, "home_visit", "refused", measures="下达劝返复学通知书")
    assert run.case(case).state == "deadline_notice"
    assert run.messages(mark) == ["escalation_alert → school_admin", "moved_up → teacher"]
    # 四(一) "各学校要依法向其法定监护人下达《劝返复学通知书》": the SCHOOL issues it (its
    # issuing answers the alert); the guardian's week starts then
    run.at(2026, 12, 3, 9, 0)
    out = run.do(ladder.issue_deadline_notice, run.user("school_admin"), case)
    assert out.message.render("zh_Hans") == (
        f"案件#{case}的《劝返复学通知书》已下达；监护人须在12月10日前送孩子返校。"
    )
    assert out.message.render("en").startswith("Notice to return to school issued")

    # one week from Thu 12-03 → Thu 12-10: the school reports to the township AND the
    # 市教育局, both alerted
    mark = run.mark()
    assert run.tick(2026, 12, 10, 17, 30) == [
        "reminder: reminded 1",
        "reminder: folded into the return check",  # the last day asks "is the child back?"
        "return_check: return check to 1",
        "step: escalated to county_escalation",
    ]
    assert run.messages(mark) == [
        "escalation_alert → city_bureau",
        "escalation_alert → township_officer",
        "moved_up → school_admin",
        "reminder → school_admin",
        "return_check → school_admin",
    ]
    run.at(2026, 12, 11, 9, 0)
    run.do(ladder.acknowledge, run.user("township_officer"), case)
    run.at(2026, 12, 15, 10, 0)  # round 2 due 16, 17, 18, 21, 22 Dec
    run.visit("village_cadre", case, "home_visit", "refused")
    run.at(2026, 12, 22, 10, 0)  # round 3 due 23, 24, 25, 28, 29 Dec
    run.visit("township_officer", case, "joint_visit", "refused")
    mark = run.mark()
    assert run.tick(2026, 12, 29, 17, 30)[-1] == "round: overdue notice to 2"
    assert [m for m in run.messages(mark) if m.startswith("overdue")] == [
        "overdue → township_officer",
        "overdue → village_cadre",
    ]
    # 15 working days from Thu 12-10: 11, 14–18, 21–25, 28–31 Dec → the 市教育局's step,
    # the judicial office told
    mark = run.mark()
    assert run.tick(2026, 12, 31, 17, 30)[-1] == "step: escalated to judicial"
    assert [m for m in run.messages(mark) if not m.startswith("reminder")] == [
        "escalation_alert → city_bureau",
        "escalation_alert → judicial_officer",
        "moved_up → township_officer",
        "moved_up → village_cadre",
    ]
    run.at(2026, 12, 31, 18, 0)
    run.do(ladder.acknowledge, run.user("city_bureau"), case)

    # the assessment finds the child cannot attend: home teaching, approved by the township
    run.at(2027, 1, 4, 10, 0)
    mark = run.mark()
    proposed = run.do(
        outcomes.propose_outcome, run.user("school_admin"), case, "home_teaching",
        reason="经鉴定为重度残疾，无法到校就读", evidence=EVIDENCE,
    )
    assert proposed.proposal is not None
    assert run.messages(mark) == ["approval_request → township_officer"]
    run.at(2027, 1, 4, 11, 0)
    mark = run.mark()
    run.do(outcomes.decide_outcome, run.user("township_officer"), proposed.proposal.id, True)
    assert run.case(case).state == "home_teaching"
    assert run.messages(mark) == ["decision → school_admin"]
    assert run.open_deadlines(case) == ["home_teaching 2027-01-11 17:30"]

    mark = run.mark()
    assert run.tick(2027, 1, 11, 17, 30) == ["home_teaching: session reminder sent"]
    assert run.messages(mark) == ["home_teaching → teacher"]
    assert run.open_deadlines(case) == ["home_teaching 2027-01-18 17:30"]

    assert run.deadlines(case) == [
        "step suspected 2026-11-24 17:30 cancelled",
        "step school_persuasion 2026-12-08 17:30 cancelled",  # rounds ran out first
        "round school_persuasion #1 2026-11-27 17:30 cancelled",
        "round school_persuasion #2 2026-11-27 17:30 cancelled",
        "round school_persuasion #3 2026-12-02 17:30 cancelled",
        "step deadline_notice 2026-12-09 17:30 cancelled",  # restarted by the notice
        "step deadline_notice 2026-12-10 17:30 done",
        "step county_escalation 2026-12-31 17:30 done",
        "round county_escalation #1 2026-12-17 17:30 cancelled",  # 11, 14, 15, 16, 17
        "round county_escalation #2 2026-12-22 17:30 cancelled",
        "round county_escalation #3 2026-12-29 17:30 done",
    ]
    assert run.visits(case) == [
        "2026-11-24 school_persuasion #1 phone refused",
        "2026-11-27 school_persuasion #2 home_visit refused",
        "2026-12-02 school_persuasion #3 home_visit refused",
        "2026-12-15 county_escalation #1 home_visit refused",
        "2026-12-22 county_escalation #2 joint_visit refused",
    ]
    assert run.events(case) == [
        "teacher: reported - → suspected",
        "teacher: visit suspected → school_persuasion",
        "teacher: visit school_persuasion → school_persuasion",
        "school_admin: visit school_persuasion → school_persuasion",
        "scheduler: escalated school_persuasion → deadline_notice (rounds_used_up)",
        "school_admin: notice_issued deadline_notice → deadline_notice",
        "scheduler: escalated deadline_notice → county_escalation (deadline_passed)",
        "township_officer: acknowledged county_escalation → county_escalation",
        "village_cadre: visit county_escalation → county_escalation",
        "township_officer: visit county_escalation → county_escalation",
        "scheduler: escalated county_escalation → judicial (deadline_passed)",
        "city_bureau: acknowledged judicial → judicial",
        "school_admin: outcome_proposed judicial → judicial",
        "township_officer: outcome judicial → home_teaching",
    ]


# ---------------------------------------------------------------------------- acknowledgement


def _at_township(run: Run) -> int:
    """A datian case that reached the township on Thu 2026-11-26 17:30 (alert unacknowledged)."""
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.at(2026, 11, 23, 10, 0)
    run.visit("teacher", case, "home_visit", "refused")
    # 3 working days from Mon 11-23: 24, 25, 26
    assert run.tick(2026, 11, 26, 17, 30)[-1] == "step: escalated to township_persuasion"
    return case


def test_an_unacknowledged_alert_climbs_the_chain_one_level_at_a_time(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    run = _run("datian", engine, clock, world)
    case = _at_township(run)
    # ack_grace is 1 working day: Fri 11-27
    assert run.deadlines(case, ("ack",)) == [
        "ack township_persuasion township_officer 2026-11-27 17:30 open"
    ]

    mark = run.mark()
    assert run.tick(2026, 11, 27, 17, 30) == ["ack: climbed to county_officer"]
    assert run.messages(mark) == ["escalation_alert → county_officer"]
    with Session(engine) as s:
        alert = s.exec(select(OutboxMessage).where(col(OutboxMessage.id) > mark)).one()
    assert text_from_json(alert.payload["text"]).render("en").startswith(
        "Not acknowledged in time by the township officer: case #"
    )
    assert [b["data"] for row in alert.payload["buttons"] for b in row] == [
        f"ack:{case}", f"assign:{case}", f"case:{case}"
    ]

    # the county officer does not acknowledge either (grace from Fri 17:30 → Mon 11-30):
    # the top of datian's own chain, so nobody is left to tell — never the system
    # administrator, whom the profile does not name — and nothing more is scheduled
    mark = run.mark()
    assert run.tick(2026, 11, 30, 17, 30) == ["ack: no one higher"]
    assert run.messages(mark) == []
    assert run.deadlines(case, ("ack",)) == [
        "ack township_persuasion township_officer 2026-11-27 17:30 done",
        "ack township_persuasion county_officer 2026-11-30 17:30 done",
    ]
    # the case itself did not move: an unacknowledged alert is not an escalation
    assert run.case(case).state == "township_persuasion"


def test_acknowledging_stops_the_climb(engine: Engine, clock: FrozenClock, world: World) -> None:
    run = _run("datian", engine, clock, world)
    case = _at_township(run)
    assert run.tick(2026, 11, 27, 17, 30) == ["ack: climbed to county_officer"]

    run.at(2026, 11, 30, 9, 0)
    out = run.do(ladder.acknowledge, run.user("county_officer"), case)
    assert out.message.render("en") == f"Alert on case #{case} acknowledged."

    # days pass: reminders about the visit go out, but no alert climbs any further
    mark = run.mark()
    handled = run.tick(2026, 12, 3, 17, 30)
    assert not any(h.startswith("ack") for h in handled)
    assert not any(m.startswith("escalation_alert") for m in run.messages(mark))
    with Session(engine) as s:
        rows = s.exec(
            select(Deadline).where(Deadline.case_id == case, Deadline.kind == "ack")
            .order_by(col(Deadline.id))
        ).all()
        assert [(d.status, d.result, d.acted_by) for d in rows] == [
            ("done", "climbed to county_officer", None),
            ("done", "acknowledged", run.user("county_officer").id),
        ]
    assert run.events(case)[-1] == (
        "county_officer: acknowledged township_persuasion → township_persuasion"
    )
    # a second acknowledgement has nothing to take
    with pytest.raises(IllegalTransition) as err:
        run.do(ladder.acknowledge, run.user("township_officer"), case)
    assert err.value.render("en") == f"There is no alert on case #{case} to acknowledge."


@pytest.mark.parametrize("who", ["teacher", "village_cadre"])
def test_only_the_alerted_role_or_a_superior_can_acknowledge(
    engine: Engine, clock: FrozenClock, world: World, who: str
) -> None:
    """A teacher or cadre in scope cannot silence the township's alert (even with a crafted
    ``ack:<case>`` callback): refused, audited, and the alert still climbs."""
    run = _run("datian", engine, clock, world)
    case = _at_township(run)
    run.at(2026, 11, 27, 9, 0)
    with pytest.raises(AccessDenied) as err:
        run.do(ladder.acknowledge, run.user(who), case)
    assert err.value.render("en") == "Your role does not allow this action."
    assert run.deadlines(case, ("ack",)) == [
        "ack township_persuasion township_officer 2026-11-27 17:30 open"
    ]
    assert run.tick(2026, 11, 27, 17, 30) == ["ack: climbed to county_officer"]
    run.at(2026, 11, 30, 9, 0)
    with pytest.raises(AccessDenied):  # now the county's alert: not the cadre's either
        run.do(ladder.acknowledge, run.user("village_cadre"), case)
    run.do(ladder.acknowledge, run.user("admin"), case)  # above the county: may
    assert run.deadlines(case, ("ack",))[-1] == (
        "ack township_persuasion county_officer 2026-11-30 17:30 done"
    )
