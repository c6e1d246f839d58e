"""Record a 送教上门 session (seed 002 二(三): weekly, at least 2 class hours each).

    when ─ hrs ─ tchr ─ what ─ [summary] → home_teaching.record_session

Started from the case card of a child placed in home teaching, or from the weekly
reminder's button. The teacher defaults to the user; the class hours offer the profile's
minimum first.
"""

from __future__ import annotations

from casework import home_teaching, validation
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.notices import case_title
from conversations.engine import Flow, Option, Step, Turn, register
from conversations.flows.fields import (
    draft_date,
    parse_past_date,
    recent_days,
    show_date,
    store_date,
)
from models.tables import Case

TEACHERS = frozenset({"teacher", "school_admin", "township_officer", "county_officer", "admin"})
ME = "*"


def _case(turn: Turn) -> Case:
    assert turn.conv is not None and turn.conv.case_id is not None
    case = turn.cw.session.get(Case, turn.conv.case_id)
    assert case is not None
    return case


def _hours_options(turn: Turn) -> list[Option]:
    least = max(1, turn.cw.policy.home_teaching.min_class_hours)
    return [Option(str(h), _("{n} class hours", n=h)) for h in sorted({least, least + 1, least + 2})]


def _parse_hours(turn: Turn, text: str) -> int:
    digits = text.strip().rstrip("学时").strip()
    if not digits.isdigit() or not 1 <= int(digits) <= home_teaching.MAX_CLASS_HOURS:
        raise ValidationError("class_hours", _("Class hours are a whole number from 1 to {max}.",
                                               max=home_teaching.MAX_CLASS_HOURS))
    return int(digits)


def _me(turn: Turn) -> Option:
    return Option(ME, _("✓ {people}", people=turn.user.display_name))


def _store_teacher(turn: Turn, value: str) -> None:
    turn.draft["tchr"] = turn.user.display_name if value == ME else value


def _finish(turn: Turn) -> None:
    d = turn.draft
    when = draft_date(turn, "when")
    assert turn.conv is not None and turn.conv.case_id is not None and when is not None
    out = home_teaching.record_session(turn.cw, turn.user, turn.conv.case_id, home_teaching.SessionInput(
        session_date=when, class_hours=int(d["hrs"]), teacher=d["tchr"], content=d["what"]))
    turn.replies.send(out.message)


def _title(turn: Turn) -> Text:
    return _("Home-teaching session for {title} — summary", title=case_title(turn.cw, _case(turn)))


register(
    Flow(
        name="hometeach",
        title=_("Record a home-teaching session"),
        roles=TEACHERS,
        summary_title=_title,
        steps=(
            Step("when", _("Date"), lambda t: _("On what date was the session? (e.g. 11-21)"), "date",
                 options=recent_days,
                 parse=lambda t, v: parse_past_date(t, v, field="session_date", max_past_days=60),
                 store=store_date("when"), show=show_date("when"), next="hrs"),
            Step("hrs", _("Class hours"), lambda t: _("How many class hours (学时)? Tap or type."), "text",
                 options=_hours_options, parse=_parse_hours, next="tchr",
                 show=lambda t: _("{n} class hours", n=t.draft.get("hrs"))),
            Step("tchr", _("Teacher"), lambda t: _("Who taught? Tap if it was you, or type the name."), "text",
                 parse=lambda t, v: validation.person_name(v, field="teacher"), default=_me,
                 store=_store_teacher, next="what"),
            Step("what", _("Content"), lambda t: _("What was taught or done? (content)"), "text",
                 parse=lambda t, v: validation.free_text(v, field="content", max_len=1000)),
        ),
        finish=_finish,
    )
)
