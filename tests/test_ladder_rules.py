"""The rules of the actions around the ladder, each shown to hold and to refuse.

- pause stops the clock (nothing the case had scheduled fires while it is paused) and
  resume restarts the level, by hand or automatically on the resume date, keeping the
  rounds already done;
- tongnan's deferral needs ``deferral_min_joint_rounds`` (3) joint rounds first;
- every closing outcome (销号) is a proposal with the evidence the policy names, decided
  by a second person at the policy's reviewing level or above, never by the proposer;
  a rejection needs a reason; nothing changes on the case before the decision;
- an action the transition table does not allow raises IllegalTransition with a message
  a user can read, and writes nothing (row counts and the case row before and after);
- a student with an open case cannot get a second one.

Each action runs in its own unit of work, as in production (``tests.casedriver``).
Deadline dates are counted by hand (2026-11-01 is a Sunday; November has no holidays).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from casework import ladder, outcomes
from casework.clock import FrozenClock
from casework.errors import AccessDenied, IllegalTransition, ValidationError
from casework.policy import load_named
from demo.county import World
from tests.casedriver import PROOF, Run

EVIDENCE = PROOF


@pytest.fixture
def run(engine: Engine, clock: FrozenClock, world: World) -> Run:
    return Run(engine, clock, load_named("datian"), world)


def _refused(
    run: Run, case_id: int, error: type[Exception], action: Callable[..., Any], *args: Any,
    **kwargs: Any,
) -> str:
    """Run an action that must be refused; assert it changed nothing; return the message."""
    before, case_before = run.counts(), run.snapshot(case_id)
    with pytest.raises(error) as err:
        run.do(action, *args, **kwargs)
    after = run.counts()
    if error is AccessDenied:  # a refused access leaves exactly one audit record
        assert after.pop("AuditEvent") == before.pop("AuditEvent") + 1
    assert after == before
    assert run.snapshot(case_id) == case_before
    return err.value.render("en")  # type: ignore[attr-defined, no-any-return]


def _township_with_two_rounds(run: Run) -> int:
    """A datian case at the township since Thu 11-05 17:30, two rounds done by 11-10."""
    run.start(2026, 11, 2, 9, 0)  # Monday
    case = run.report("teacher")
    run.at(2026, 11, 2, 10, 0)
    run.visit("teacher", case, "home_visit", "refused")
    # 3 working days from Mon 11-02: 3, 4, 5
    assert run.tick(2026, 11, 5, 17, 30)[-1] == "step: escalated to township_persuasion"
    run.at(2026, 11, 6, 9, 0)
    run.do(ladder.acknowledge, run.user("township_officer"), case)
    run.at(2026, 11, 9, 10, 0)
    run.visit("village_cadre", case, "home_visit", "refused")
    run.at(2026, 11, 10, 10, 0)
    run.visit("village_cadre", case, "phone", "refused")
    assert run.deadlines(case)[2:] == [
        # 25 working days from Thu 11-05: 6, 9–13, 16–20, 23–27, 30 Nov–4 Dec, 7–10 Dec
        "step township_persuasion 2026-12-10 17:30 open",
        "round township_persuasion #1 2026-11-12 17:30 cancelled",
        "round township_persuasion #2 2026-11-16 17:30 cancelled",
        "round township_persuasion #3 2026-11-17 17:30 open",  # 11, 12, 13, 16, 17
    ]
    return case


# ---------------------------------------------------------------------------- pause / resume


def test_pause_stops_the_clock_and_the_resume_date_restarts_the_level(run: Run) -> None:
    case = _township_with_two_rounds(run)

    run.at(2026, 11, 11, 10, 0)
    out = run.do(
        ladder.pause, run.user("township_officer"), case, reason="学生住院治疗",
        resume_on=date(2026, 11, 23),
    )
    assert out.message.render("en") == f"Case #{case} paused until Nov 23."
    paused = run.case(case)
    assert (paused.state, paused.paused_from, paused.pause_reason) == (
        "paused", "township_persuasion", "学生住院治疗"
    )
    # every deadline of the level is off; only the automatic resume is left
    assert run.open_deadlines(case) == ["resume 2026-11-23 00:00"]

    # the old round-3 date passes: nothing fires, nobody is told, nothing moves
    mark = run.mark()
    assert run.tick(2026, 11, 17, 17, 30) == []
    assert run.tick(2026, 11, 22, 23, 59) == []
    assert run.messages(mark) == []
    assert run.case(case).state == "paused"
    # no persuasion is recorded on a paused case
    refused = _refused(
        run, case, IllegalTransition, ladder.record_visit, run.user("village_cadre"), case,
        ladder.VisitInput(visit_date=date(2026, 11, 22), method="phone", result="refused"),
    )
    assert refused == f"Case #{case} is paused; that cannot be done now."

    # on the resume date the scheduler restarts the level where it stood
    mark = run.mark()
    assert run.tick(2026, 11, 23, 0, 0) == ["resume: resumed to township_persuasion"]
    resumed = run.case(case)
    assert (resumed.state, resumed.current_round, resumed.paused_from, resumed.resume_on) == (
        "township_persuasion", 2, None, None
    )
    assert run.messages(mark) == ["escalation_alert → township_officer"]
    assert run.deadlines(case)[-2:] == [
        # the level afresh from Mon 11-23: 25 working days → 24–27 Nov, 30 Nov–4 Dec,
        # 7–11, 14–18, 21–25, 28 Dec
        "step township_persuasion 2026-12-28 17:30 open",
        # the two rounds done still count: the next visit due is round 3, 24–27, 30 Nov
        "round township_persuasion #3 2026-11-30 17:30 open",
    ]
    assert run.deadlines(case, ("resume",)) == ["resume 2026-11-23 00:00 done"]
    run.at(2026, 11, 24, 10, 0)
    run.visit("village_cadre", case, "home_visit", "refused")
    assert run.visits(case)[-1] == "2026-11-24 township_persuasion #3 home_visit refused"
    assert run.events(case)[-3:] == [
        "township_officer: paused township_persuasion → paused",
        "scheduler: resumed paused → township_persuasion",
        "village_cadre: visit township_persuasion → township_persuasion",
    ]


def test_resuming_by_hand_cancels_the_automatic_resume(run: Run) -> None:
    case = _township_with_two_rounds(run)
    run.at(2026, 11, 11, 10, 0)
    run.do(ladder.pause, run.user("school_admin"), case, reason="外出就医",
           resume_on=date(2026, 11, 23))
    run.at(2026, 11, 16, 9, 0)
    run.do(ladder.resume, run.user("township_officer"), case, note="已出院")
    assert run.case(case).state == "township_persuasion"
    assert run.deadlines(case, ("resume",)) == ["resume 2026-11-23 00:00 cancelled"]
    # from Mon 11-16: round 3 within 17, 18, 19, 20, 23 Nov
    assert run.deadlines(case)[-1] == "round township_persuasion #3 2026-11-23 17:30 open"
    assert not any(h.startswith("resume") for h in run.tick(2026, 11, 23, 0, 0))
    assert run.events(case)[-1] == "township_officer: resumed paused → township_persuasion"


def test_pause_is_refused_without_a_future_date_or_by_a_teacher(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    with pytest.raises(ValidationError) as err:
        run.do(ladder.pause, run.user("school_admin"), case, reason="住院",
               resume_on=date(2026, 11, 23))
    assert err.value.field == "resume_on"
    with pytest.raises(ValidationError) as err:
        run.do(ladder.pause, run.user("school_admin"), case, reason="  ",
               resume_on=date(2026, 12, 1))
    assert err.value.field == "reason"
    message = _refused(run, case, AccessDenied, ladder.pause, run.user("teacher"), case,
                       reason="住院", resume_on=date(2026, 12, 1))
    assert message == "Your role does not allow this action."
    assert run.case(case).state == "suspected"


def test_returning_from_a_pause_cancels_the_automatic_resume(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.do(ladder.pause, run.user("school_admin"), case, reason="住院",
           resume_on=date(2026, 12, 1))
    run.at(2026, 11, 25, 9, 0)
    with pytest.raises(ValidationError) as err:  # not a date still to come
        run.do(ladder.mark_returned, run.user("school_admin"), case, date(2026, 11, 26))
    assert err.value.field == "returned_on"
    run.do(ladder.mark_returned, run.user("school_admin"), case)
    returned = run.case(case)
    assert (returned.state, returned.paused_from, returned.returned_on) == (
        "returned", None, date(2026, 11, 25)
    )
    assert run.deadlines(case, ("resume",)) == ["resume 2026-12-01 00:00 cancelled"]
    assert run.open_deadlines(case) == [  # 7, 14, 28 days after Wed 11-25
        "retention 2026-12-02 08:00",
        "retention 2026-12-09 08:00",
        "retention 2026-12-23 08:00",
    ]


# ---------------------------------------------------------------------------- relapse, reopen


def test_a_relapse_at_the_check_in_reopens_the_school_persuasion(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.at(2026, 11, 23, 10, 0)
    run.do(ladder.mark_returned, run.user("school_admin"), case)
    assert run.tick(2026, 11, 30, 8, 0) == ["retention: check-in sent"]

    run.at(2026, 11, 30, 9, 0)
    mark = run.mark()
    out = run.do(ladder.confirm_attending, run.user("teacher"), case, False)
    assert out.message.render("en") == f"Case #{case} is open again: the school persuades anew."
    relapsed = run.case(case)
    assert (relapsed.state, relapsed.returned_on, relapsed.outcome) == (
        "school_persuasion", None, None
    )
    assert run.messages(mark) == ["level_entered → school_admin"]
    # the later check-ins are off; the school has 3 working days from Mon 11-30 again
    assert run.deadlines(case, ("retention",)) == [
        "retention 2026-11-30 08:00 done",
        "retention 2026-12-07 08:00 cancelled",
        "retention 2026-12-21 08:00 cancelled",
    ]
    assert run.deadlines(case)[-1] == "step school_persuasion 2026-12-03 17:30 open"
    assert run.events(case)[-2:] == [
        "school_admin: returned suspected → returned",
        "teacher: relapsed returned → school_persuasion",
    ]


def test_reopening_after_a_deferral_restarts_the_level_it_left(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.at(2026, 11, 23, 10, 0)
    run.visit("teacher", case, "home_visit", "refused")
    out = run.do(outcomes.propose_outcome, run.user("school_admin"), case, "deferred",
                 reason="因病缓学", evidence=EVIDENCE, until_on=date(2026, 12, 14))
    assert out.proposal is not None
    run.do(outcomes.decide_outcome, run.user("township_officer"), out.proposal.id, True)
    assert run.case(case).state == "deferred"
    assert run.open_deadlines(case) == ["deferral_end 2026-12-14 08:00"]
    assert run.tick(2026, 12, 14, 8, 0) == ["deferral_end: told 2"]

    run.at(2026, 12, 14, 9, 0)
    run.do(ladder.reopen, run.user("township_officer"), case, note="缓学期满未返校")
    reopened = run.case(case)
    assert (reopened.state, reopened.outcome, reopened.outcome_until, reopened.current_round) == (
        "school_persuasion", None, None, 0
    )
    # 3 working days from Mon 12-14: 15, 16, 17
    assert run.deadlines(case)[-1] == "step school_persuasion 2026-12-17 17:30 open"
    assert run.events(case)[-2:] == [
        "township_officer: outcome school_persuasion → deferred",
        "township_officer: reopened deferred → school_persuasion",
    ]


# ---------------------------------------------------------------------------- assign


def test_an_officer_assigns_someone_responsible_for_the_area(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    officer = run.user("township_officer")
    with pytest.raises(ValidationError) as err:  # a cadre of another township's village
        run.do(ladder.assign, officer, case, run.user("village_cadre3").id)
    assert err.value.field == "assignee"
    assert _refused(run, case, AccessDenied, ladder.assign, run.user("teacher"), case,
                    run.user("village_cadre").id) == "Your role does not allow this action."

    mark = run.mark()
    run.do(ladder.assign, officer, case, run.user("village_cadre").id)
    assigned = run.case(case)
    assert assigned.assigned_to_id == assigned.village_responsible_id == run.user(
        "village_cadre"
    ).id
    assert run.messages(mark) == ["assigned → village_cadre"]
    assert run.events(case)[-1] == "township_officer: assigned suspected → suspected"


# ---------------------------------------------------------------------------- deferral


def test_tongnan_deferral_needs_three_joint_rounds(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    run = Run(engine, clock, load_named("tongnan"), world)
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")

    deferral: dict[str, Any] = {
        "reason": "学生本人拒不返校", "evidence": EVIDENCE, "until_on": date(2027, 1, 22)
    }

    run.at(2026, 11, 23, 10, 0)
    run.visit("teacher", case, "home_visit", "refused")  # the school's own visit: not joint
    run.at(2026, 11, 24, 10, 0)
    run.visit("school_admin", case, "joint_visit", "refused")
    run.at(2026, 11, 25, 10, 0)
    run.visit("township_officer", case, "joint_visit", "refused")
    message = _refused(run, case, IllegalTransition, outcomes.propose_outcome,
                       run.user("school_admin"), case, "deferred", **deferral)
    assert message == "Deferral needs at least 3 joint persuasion rounds; 2 recorded."

    run.at(2026, 11, 26, 10, 0)
    run.visit("village_cadre", case, "joint_visit", "refused")
    out = run.do(outcomes.propose_outcome, run.user("school_admin"), case, "deferred", **deferral)
    assert out.proposal is not None and out.proposal.status == "pending"
    assert out.case.state == "school_persuasion"  # waits for the district's approval


def test_datian_allows_a_deferral_without_joint_rounds_but_not_without_an_end_date(
    run: Run,
) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    with pytest.raises(ValidationError) as err:
        run.do(outcomes.propose_outcome, run.user("school_admin"), case, "deferred",
               reason="因病缓学", evidence=EVIDENCE)
    assert err.value.field == "until_on"
    with pytest.raises(ValidationError) as err:
        run.do(outcomes.propose_outcome, run.user("school_admin"), case, "deferred",
               reason="因病缓学", until_on=date(2027, 1, 22))
    assert err.value.field == "evidence"
    out = run.do(outcomes.propose_outcome, run.user("school_admin"), case, "deferred",
                 reason="因病缓学", evidence=EVIDENCE, until_on=date(2027, 1, 22))
    assert out.proposal is not None and out.proposal.status == "pending"


# ---------------------------------------------------------------------------- approvals


def _pending_home_teaching(run: Run) -> tuple[int, int]:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher", reasons=("disability",))
    out = run.do(outcomes.propose_outcome, run.user("school_admin"), case, "home_teaching",
                 reason="重度残疾，无法到校", evidence=EVIDENCE)
    assert out.proposal is not None and out.proposal.id is not None
    return case, out.proposal.id


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("teacher", "Your role does not allow this action."),
        ("school_admin", "Your role does not allow this action."),
        ("township_officer2", "You are not responsible for this case, so you cannot see or "
                              "change it."),
    ],
    ids=["teacher", "school admin", "officer of another township"],
)
def test_only_the_approver_may_decide(run: Run, who: str, message: str) -> None:
    case, proposal = _pending_home_teaching(run)
    assert _refused(run, case, AccessDenied, outcomes.decide_outcome, run.user(who),
                    proposal, True) == message
    assert run.case(case).state == "suspected"


def test_an_officer_above_the_approver_may_decide(run: Run) -> None:
    case, proposal = _pending_home_teaching(run)
    mark = run.mark()
    out = run.do(outcomes.decide_outcome, run.user("county_officer"), proposal, True)
    assert out.case.state == "home_teaching"
    assert run.messages(mark) == ["decision → school_admin"]
    assert run.events(case)[-1] == "county_officer: outcome suspected → home_teaching"


def test_tongnan_township_cannot_approve_what_the_district_decides(
    engine: Engine, clock: FrozenClock, world: World
) -> None:
    run = Run(engine, clock, load_named("tongnan"), world)
    case, proposal = _pending_home_teaching(run)
    message = _refused(run, case, AccessDenied, outcomes.decide_outcome,
                       run.user("township_officer"), proposal, True)
    assert message == "Only a county officer or above can decide this."
    out = run.do(outcomes.decide_outcome, run.user("county_officer"), proposal, True)
    assert out.case.state == "home_teaching"


@pytest.mark.parametrize("note", [None, "", "   "], ids=["none", "empty", "blank"])
def test_a_rejection_needs_a_reason(run: Run, note: str | None) -> None:
    case, proposal = _pending_home_teaching(run)
    before, case_before = run.counts(), run.snapshot(case)
    with pytest.raises(ValidationError) as err:
        run.do(outcomes.decide_outcome, run.user("township_officer"), proposal, False, note)
    assert (err.value.field, err.value.render("en")) == (
        "note", "Give a reason for the rejection."
    )
    assert run.counts() == before and run.snapshot(case) == case_before


def test_a_rejection_with_a_reason_leaves_the_case_on_its_level(run: Run) -> None:
    case, proposal = _pending_home_teaching(run)
    mark = run.mark()
    out = run.do(outcomes.decide_outcome, run.user("township_officer"), proposal, False,
                 "请先提供残联鉴定")
    assert out.proposal is not None
    assert (out.proposal.status, out.proposal.decision_note) == ("rejected", "请先提供残联鉴定")
    assert run.case(case).state == "suspected"
    assert run.messages(mark) == ["decision → school_admin"]
    assert run.events(case)[-1] == "township_officer: outcome_rejected suspected → suspected"
    # decided once: a second decision is refused, and a new proposal may now be made
    assert _refused(run, case, IllegalTransition, outcomes.decide_outcome,
                    run.user("township_officer"), proposal, True) == (
        "This proposal was already decided."
    )
    run.do(outcomes.propose_outcome, run.user("school_admin"), case, "home_teaching",
           reason="补充残联鉴定", evidence=EVIDENCE)


# ---------------------------------------------------------------------------- illegal moves


def test_illegal_transitions_are_refused_readably_and_change_nothing(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    suspected = f"Case #{case} is suspected dropout; that cannot be done now."
    u = run.user
    assert _refused(run, case, IllegalTransition, outcomes.close_out, u("school_admin"), case) == suspected
    assert _refused(run, case, IllegalTransition, ladder.confirm_attending, u("teacher"), case,
                    True) == suspected
    assert _refused(run, case, IllegalTransition, ladder.confirm_attending, u("teacher"), case,
                    False) == suspected
    assert _refused(run, case, IllegalTransition, ladder.issue_deadline_notice,
                    u("township_officer"), case) == suspected
    assert _refused(run, case, IllegalTransition, ladder.resume, u("school_admin"), case) == suspected
    assert _refused(run, case, IllegalTransition, ladder.reopen, u("school_admin"), case) == suspected
    assert _refused(run, case, IllegalTransition, ladder.acknowledge, u("teacher"), case) == (
        f"There is no alert on case #{case} to acknowledge."
    )
    run.do(outcomes.propose_outcome, u("school_admin"), case, "home_teaching", reason="重度残疾",
           evidence=EVIDENCE)
    assert _refused(run, case, IllegalTransition, outcomes.propose_outcome, u("school_admin"), case,
                    "transferred", reason="转学外地", evidence=EVIDENCE) == (
        f"Case #{case} already has a proposal waiting for a decision."
    )

    # back at school: not closed before a retention check-in confirms attendance
    run.do(ladder.mark_returned, u("school_admin"), case)
    assert _refused(run, case, IllegalTransition, outcomes.close_out, u("school_admin"), case) == (
        f"Confirm at least one retention check-in before closing case #{case}."
    )
    assert _refused(run, case, IllegalTransition, ladder.escalate, u("school_admin"), case) == (
        f"Case #{case} is returned to school; that cannot be done now."
    )
    run.do(ladder.confirm_attending, u("teacher"), case, True)
    assert run.close_out(case) == "township_officer"

    # closed: nothing moves it any more
    closed = f"Case #{case} is closed; that cannot be done now."
    visit = ladder.VisitInput(visit_date=date(2026, 11, 23), method="phone", result="refused")
    assert _refused(run, case, IllegalTransition, ladder.record_visit, u("teacher"), case,
                    visit) == closed
    assert _refused(run, case, IllegalTransition, ladder.mark_returned, u("teacher"), case) == closed
    assert _refused(run, case, IllegalTransition, ladder.pause, u("school_admin"), case,
                    reason="x", resume_on=date(2026, 12, 1)) == closed


def test_a_visit_may_come_a_month_before_the_case_and_the_refusal_says_so(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    teacher = run.user("teacher")
    too_early = ladder.VisitInput(visit_date=date(2026, 10, 22), method="phone", result="refused")
    assert _refused(run, case, ValidationError, ladder.record_visit, teacher, case, too_early) == (
        "The visit date is more than 31 days before the case was opened."
    )
    run.do(ladder.record_visit, teacher, case,
           ladder.VisitInput(visit_date=date(2026, 10, 23), method="phone", result="refused"))
    assert run.case(case).current_round == 1


def test_the_top_of_the_ladder_cannot_be_escalated(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    officer = run.user("county_officer")
    for _level in ("school_persuasion", "township_persuasion", "deadline_notice"):
        run.do(ladder.escalate, officer, case)
    # past the notice level only with the notice on file (no level skipped silently)
    assert _refused(run, case, IllegalTransition, ladder.escalate, officer, case) == (
        f"Case #{case} cannot go to county escalation: Deadline notice to return to school "
        "is not on file yet."
    )
    run.do(ladder.issue_deadline_notice, run.user("township_officer"), case)
    for _level in ("county_escalation", "judicial"):
        run.do(ladder.escalate, officer, case)
    assert run.case(case).state == "judicial"
    assert _refused(run, case, IllegalTransition, ladder.escalate, officer, case) == (
        f"Case #{case} is judicial enforcement; that cannot be done now."
    )


# ---------------------------------------------------------------------------- one open case


def test_a_second_open_case_for_the_same_student_is_refused(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    first = run.report("teacher")
    name = run.student().name
    for reporter in ("teacher", "village_cadre"):
        message = _refused(run, first, IllegalTransition, ladder.report, run.user(reporter),
                           ladder.ReportInput(student_id=run.student().id, reasons=("work",)))
        assert message == f"{name} already has an open case, #{first}."

    # still open while paused; once closed, a new case may be opened
    run.do(ladder.pause, run.user("school_admin"), first, reason="住院",
           resume_on=date(2026, 12, 1))
    _refused(run, first, IllegalTransition, ladder.report, run.user("teacher"),
             ladder.ReportInput(student_id=run.student().id, reasons=("work",)))
    run.do(ladder.mark_returned, run.user("school_admin"), first)
    run.do(ladder.confirm_attending, run.user("teacher"), first, True)
    run.close_out(first)
    second = run.report("teacher", reasons=("work",))
    assert second != first
    assert run.case(second).state == "suspected"


# ---------------------------------------------------------------------------- 销号: evidence and a second person


def _photo(kind: str, width: int = 1280, height: int = 960) -> dict[str, Any]:
    return {"kind": "photo", "file_id": f"F-{kind}", "width": width, "height": height,
            "evidence_kind": kind}


def test_a_transfer_waits_for_review_and_the_clock_keeps_running(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    deadlines_before = run.open_deadlines(case)
    mark = run.mark()
    out = run.do(outcomes.propose_outcome, run.user("teacher"), case, "transferred",
                 reason="已在广州白云区某小学就读", evidence=(_photo("enrolment_confirmation"),))
    assert out.proposal is not None and out.proposal.status == "pending"
    assert run.case(case).state == "suspected" and run.case(case).closed_at is None
    assert run.open_deadlines(case) == deadlines_before  # the clock runs until the review
    assert run.messages(mark) == ["approval_request → township_officer"]
    # a teacher's proposal: the township reviews it
    out = run.do(outcomes.decide_outcome, run.user("township_officer"), out.proposal.id, True)
    assert out.case.state == "transferred" and out.case.closed_at is not None
    assert run.events(case)[-1] == "township_officer: outcome suspected → transferred"


@pytest.mark.parametrize(
    ("outcome", "evidence", "message"),
    [
        ("transferred", (_photo("class_photo"),),
         "Attach the evidence the policy asks for: Receiving school's enrolment confirmation "
         "(student register) (a photo or a document)."),
        ("deceased", (_photo("enrolment_confirmation"),),
         "Attach the evidence the policy asks for: Police station or community certificate "
         "(a photo or a document)."),
        ("deferred", (_photo("guardian_application"),),
         "Attach the evidence the policy asks for: Hospital diagnosis or disability certificate "
         "(a photo or a document)."),
        ("deceased", (_photo("household_certificate", 1, 1),),
         "This image is only 1×1 pixels, too small to show anything. Send a clear photo "
         "(at least 200 pixels on its short side)."),
        ("deceased", ({"kind": "document", "file_id": "D", "mime_type": "image/png",
                       "evidence_kind": "household_certificate"},),
         "This image file is too small to show anything. Send a clear photo of the document."),
        ("deceased", ({"kind": "voice", "file_id": "V", "evidence_kind": "household_certificate"},),
         "Attach the evidence the policy asks for: Police station or community certificate "
         "(a photo or a document)."),
    ],
    ids=["transfer without the school's confirmation", "deceased without the certificate",
         "deferral with one of two", "a 1x1 image", "an image file with no preview", "a voice note"],
)
def test_a_proposal_carries_the_evidence_the_policy_names(
    run: Run, outcome: str, evidence: tuple[dict[str, Any], ...], message: str
) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    before, case_before = run.counts(), run.snapshot(case)
    with pytest.raises(ValidationError) as err:
        run.do(outcomes.propose_outcome, run.user("teacher"), case, outcome, reason="家长提供了证明材料",
               evidence=evidence, until_on=date(2027, 1, 22))
    assert (err.value.field, err.value.render("en")) == ("evidence", message)
    assert run.counts() == before and run.snapshot(case) == case_before


@pytest.mark.parametrize("reason", ["x", "  x ", "...", "xxxxxx", "死了"])
def test_a_reason_like_x_is_not_a_reason(run: Run, reason: str) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    with pytest.raises(ValidationError) as err:
        run.do(outcomes.propose_outcome, run.user("teacher"), case, "deceased", reason=reason,
               evidence=(_photo("household_certificate"),))
    assert (err.value.field, err.value.render("en")) == (
        "reason", "Say why in a few words (at least 4 characters), so the reviewer can check it.")


def test_nobody_decides_their_own_proposal(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.do(ladder.escalate, run.user("school_admin"), case)
    run.do(ladder.escalate, run.user("school_admin"), case)  # at the township now
    mark = run.mark()
    out = run.do(outcomes.propose_outcome, run.user("township_officer"), case, "home_teaching",
                 reason="重度残疾，无法到校", evidence=PROOF)
    assert out.proposal is not None and out.proposal.id is not None
    proposal = out.proposal.id
    # a township officer's proposal goes to the county: the proposer cannot approve it,
    # even though the township reviews home teaching proposed by a school
    assert run.messages(mark) == ["approval_request → county_officer"]
    assert _refused(run, case, AccessDenied, outcomes.decide_outcome, run.user("township_officer"),
                    proposal, True) == "You made this proposal; another person must review it."
    assert _refused(run, case, AccessDenied, outcomes.decide_outcome, run.user("township_officer"),
                    proposal, False, "撤回重新提交") == "You made this proposal; another person must review it."
    out = run.do(outcomes.decide_outcome, run.user("county_officer"), proposal, True)
    assert out.case.state == "home_teaching"


def test_a_county_officer_proposal_needs_a_second_county_person(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    out = run.do(outcomes.propose_outcome, run.user("county_officer"), case, "over_age",
                 reason="已满十七周岁，超出义务教育年龄", evidence=PROOF)
    assert out.proposal is not None and out.proposal.id is not None
    assert [u.role for u in out.notified] == ["admin"]  # the only other person at that level
    assert _refused(run, case, AccessDenied, outcomes.decide_outcome, run.user("county_officer"),
                    out.proposal.id, True) == "You made this proposal; another person must review it."
    assert _refused(run, case, AccessDenied, outcomes.decide_outcome, run.user("township_officer"),
                    out.proposal.id, True) == "Only a county officer or above can decide this."
    assert run.do(outcomes.decide_outcome, run.user("admin"), out.proposal.id, True).case.state == (
        "closed_other")


def test_back_at_school_is_reported_and_closed_only_on_review(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.do(ladder.mark_returned, run.user("teacher"), case)
    assert run.case(case).state == "returned"  # reported: the retention follow-ups run
    assert [d.split()[0] for d in run.open_deadlines(case)] == ["retention"] * 3
    run.do(ladder.confirm_attending, run.user("teacher"), case, True)
    with pytest.raises(ValidationError) as err:
        run.do(outcomes.close_out, run.user("school_admin"), case, note="连续在校两周")
    assert err.value.field == "evidence"
    out = run.do(outcomes.close_out, run.user("school_admin"), case, note="连续在校两周",
                 evidence=(_photo("class_photo"),))
    assert out.proposal is not None and out.proposal.id is not None
    assert run.case(case).state == "retention" and run.case(case).closed_at is None
    assert _refused(run, case, AccessDenied, outcomes.decide_outcome, run.user("school_admin"),
                    out.proposal.id, True) == "Your role does not allow this action."
    # absent again before the review: the close-out no longer applies
    run.do(ladder.confirm_attending, run.user("teacher"), case, False)
    assert _refused(run, case, IllegalTransition, outcomes.decide_outcome,
                    run.user("township_officer"), out.proposal.id, True) == (
        "This proposal was already decided.")
    assert run.case(case).state == "school_persuasion"
