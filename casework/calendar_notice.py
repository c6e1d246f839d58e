"""When the holiday data runs out, the people who can fix it are told in the chat.

Working days are counted from chinesecalendar's State Council data (holidays and 调休
make-up days). For a year it has no data for, the bot counts Monday–Friday plus the
profile's ``calendar.extra_workdays`` minus its ``extra_holidays`` (``casework.calendars``):
the ladder goes on, but a deadline may fall on 春节 or skip a make-up Saturday. A warning in
the server log reaches nobody who can act, so from ``LEAD`` days before such a year the
county officers and the administrators get one message each, saying what to do.

A year the profile already gives holidays for (``extra_holidays`` in that year) counts as
looked after: nobody is told.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from casework import deadlines
from casework.calendars import covered
from casework.context import Casework
from casework.i18n import _
from casework.outbox import enqueue
from models.tables import Case, Deadline, User

KIND = "calendar_end"
LEAD = timedelta(days=60)  # the State Council publishes next year's holidays in Nov–Dec
ROLES = ("county_officer", "admin")


def _uncovered_year(cw: Casework) -> int | None:
    """The first year within ``LEAD`` of today with neither data nor the profile's own holidays."""
    today = cw.today()
    for year in sorted({today.year, (today + LEAD).year}):
        if covered(year):
            continue
        if any(d.year == year for d in cw.policy.calendar.extra_holidays):
            continue
        return year
    return None


def plan(cw: Casework) -> None:
    """Planner: one ``calendar_end`` row per year without data, when it comes near."""
    year = _uncovered_year(cw)
    if year is None:
        return
    key = f"{KIND}:{cw.policy.name}:{year}"
    if cw.session.exec(select(Deadline.id).where(Deadline.dedupe_key == key)).first() is None:
        deadlines.plan_job(cw, KIND, cw.now(), key=key, year=year)


def handle(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """Tell each county officer and administrator, once, what to do."""
    year = int(deadline.payload["year"])
    if covered(year) or any(d.year == year for d in cw.policy.calendar.extra_holidays):
        return "covered meanwhile"
    users = cw.session.exec(
        select(User).where(col(User.role).in_(list(ROLES)), col(User.active).is_(True),
                           col(User.unreachable).is_(False), col(User.telegram_id).is_not(None))
        .order_by(col(User.id))
    ).all()
    text = _(
        "The holiday calendar ends before {year}: from 1 January {year} the bot counts working days "
        "as Monday to Friday, so a deadline may fall on a public holiday or skip a make-up working day (调休). "
        "What to do: when the State Council publishes the {year} holidays, add them to the policy profile "
        "(calendar.extra_holidays, and the make-up days to calendar.extra_workdays), check it with "
        "“baoxue policy check {policy}”, and restart the bot; or update the chinesecalendar package.",
        year=year, policy=cw.policy.name,
    )
    for user in users:
        enqueue(cw.session, user, text, kind=KIND, now=cw.now(), dedupe_key=f"{KIND}:{year}:{user.id}")
    return f"told {len(users)}"
