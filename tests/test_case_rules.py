"""The rules that used to live in the Telegram adapter or in a flow, held by casework:

- who may be handed a case (``states.ASSIGNEE_ROLES``): ``ladder.assign`` refuses anyone
  else, and ``case_views.assignees`` (the list the bot's buttons show) offers no one else;
- the promised return date (``validation.promised_return``): not before the visit, at most
  ``PROMISE_HORIZON_DAYS`` away, in the flow and in ``ladder.record_visit`` alike;
- the case view's reads (``case_views``): guardians in order, the timeline with its visits
  and actors.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from casework import case_views, ladder, states, validation
from casework.clock import FrozenClock
from casework.errors import ValidationError
from casework.policy import load_named
from demo.county import World
from tests.casedriver import Run


@pytest.fixture
def run(engine: Engine, clock: FrozenClock, world: World) -> Run:
    return Run(engine, clock, load_named("datian"), world)


def test_a_case_goes_only_to_someone_who_persuades(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    officer = run.user("township_officer")
    for role in ("county_officer", "admin"):  # they see the case, but oversee; they do not visit
        with pytest.raises(ValidationError) as err:
            run.do(ladder.assign, officer, case, run.user(role).id)
        assert err.value.field == "assignee"
        assert err.value.render("en") == "A case cannot be assigned to someone in that role."
    assert run.case(case).assigned_to_id is None

    def offered(cw):  # type: ignore[no-untyped-def]
        return [(u.role, u.id) for u in case_views.assignees(cw, ladder.load_case(cw, officer, case, "assign"))]

    people = run.do(offered)
    roles = [role for role, _id in people]
    assert set(roles) <= set(states.ASSIGNEE_ROLES)
    assert {"village_cadre", "teacher", "school_admin", "township_officer"} <= set(roles)
    assert roles == sorted(roles, key=states.ASSIGNEE_ROLES.index)  # by role order
    # everyone offered is taken
    for _role, user_id in people:
        run.do(ladder.assign, officer, case, user_id)
        assert run.case(case).assigned_to_id == user_id


def test_a_promised_return_date_is_after_the_visit_and_near() -> None:
    today = date(2026, 11, 23)
    assert validation.promised_return(today, visit_day=today, today=today) == today
    far = today + timedelta(days=validation.PROMISE_HORIZON_DAYS)
    assert validation.promised_return(far, visit_day=today, today=today) == far
    with pytest.raises(ValidationError) as err:
        validation.promised_return(today - timedelta(days=1), visit_day=today, today=today)
    assert (err.value.field, err.value.render("en")) == (
        "promised_return_on", "The promised date is before the visit.")
    with pytest.raises(ValidationError) as err:
        validation.promised_return(far + timedelta(days=1), visit_day=today, today=today)
    assert err.value.render("en") == "Jan 23, 2027 is more than 60 days away. Please check the date."
    with pytest.raises(ValidationError) as err:  # as the chat writes the date
        validation.promised_return(far + timedelta(days=1), visit_day=today, today=today, shown="Jan 23, 2027")
    assert err.value.render("en") == "Jan 23, 2027 is more than 60 days away. Please check the date."


def test_recording_a_visit_holds_the_promise_rule(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    with pytest.raises(ValidationError) as err:
        run.visit("teacher", case, "home_visit", "promised", promised_return_on=date(2027, 1, 23))
    assert err.value.field == "promised_return_on"
    assert run.visits(case) == []
    run.visit("teacher", case, "home_visit", "promised", promised_return_on=date(2026, 11, 30))
    assert len(run.visits(case)) == 1


def test_the_case_view_reads_the_timeline_with_visits_and_actors(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = run.report("teacher")
    run.visit("teacher", case, "home_visit", "promised", promised_return_on=date(2026, 11, 30))

    def read(cw):  # type: ignore[no-untyped-def]
        loaded = ladder.load_case(cw, run.user("teacher"), case, "view")
        entries = case_views.timeline(cw, loaded)
        student = case_views.student_of(cw, loaded)
        return ([(e.event.kind, e.visit.round if e.visit else None, e.actor.role if e.actor else None)
                 for e in entries],
                student.id == loaded.student_id,
                [g.ordinal for g in case_views.guardians(cw, student)])

    lines, same_student, ordinals = run.do(read)
    assert lines[0] == ("reported", None, "teacher")
    assert ("visit", 1, "teacher") in lines
    assert same_student
    assert ordinals == sorted(ordinals)
