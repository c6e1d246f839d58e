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

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from bot.demo import World
from casework import ladder
from casework.calendars import reset_coverage_warnings
from casework.clock import FrozenClock
from casework.policy import load_named
from tests.casedriver import Run

EVIDENCE = ({"kind": "document", "note": "证明材料"},)


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
        "Visit recorded — township persuasion, round 1 of 5; next step due by 10-14."
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
        f"Deadline notice issued for case #{case}; the guardian must bring the child back "
        "by 2026-11-11."
    )
    assert run.case(case).notice_due_on == date(2026, 11, 11)
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
    run.do(ladder.close_out, run.user("school_admin"), case, note="连续在校")
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
        "township_officer: acknowledged deadline_notice → deadline_notice",
        "scheduler: escalated deadline_notice → county_escalation (deadline_passed)",
        "county_officer: acknowledged county_escalation → county_escalation",
        "scheduler: escalated county_escalation → judicial (deadline_passed)",
        "county_officer: acknowledged judicial → judicial",
        "school_admin: returned judicial → returned",
        "teacher: attending returned → retention",
        "school_admin: closed retention → closed",
    ]
