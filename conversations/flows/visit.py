"""Record a persuasion visit (表3 township / 表4 school).

    case ─ meth ─┬─ (home visit / phone / joint visit, today, usual companions) ─┐
                 └─ other: meth2 ─ date ─ who ───────────────────────────────────┤
    fam ─ gatt ─ satt ─ meas ─ res ─┬─ (promised) prom ─┐                       │
                                    └───────────────────┴─ evid ─ [summary: next step editable]

A typical home visit with the defaults accepted takes 7 taps and 2 typed answers after
/visit (case, method, guardian attitude, student attitude, result, evidence skip,
confirm; family situation and measures typed); from the menu button it is 8 taps.
The cases are offered nearest deadline first. Participants default to the user alone;
whoever came along on the case's last visit is offered as a one-tap addition on the
"other people" branch, and nobody is listed twice (typing one's own name included).
The next step has a default the summary lets the user edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlmodel import col, select

from casework import case_views, cases, codes, ladder, participants, states, validation
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, join
from casework.notices import case_title
from conversations.engine import Flow, Option, Step, Turn, end, register
from conversations.flows.fields import (
    ALL_ROLES,
    code_options,
    draft_date,
    parse_past_date,
    show_attached,
    show_code,
    show_date,
    store_date,
    today_or_yesterday,
)
from conversations.formatting import due_phrase, fmt_date, fmt_short
from models.tables import Case, Visit

OTHER = "other"
OTHER_STEPS = ("meth2", "date", "who")
QUICK_METHODS = ("home_visit", "phone", "joint_visit")
QUICK_LABELS = {
    "home_visit": _("🏠 Home visit, today"),
    "phone": _("📞 Phone call, today"),
    "joint_visit": _("👥 Joint visit, today"),
}


ENROLMENT_RESULTS: dict[str, Text] = {
    "promised": _("Promised to enrol"),
    "refused": _("Refused to enrol"),
}


def _open_cases(turn: Turn) -> list[cases.ListedCase]:
    return turn.once("visit.open_cases", lambda: cases.list_cases(
        turn.cw, turn.user, states_in=states.visit_states(turn.cw.policy.deferral.persuasion)))


def _case_option(turn: Turn, item: cases.ListedCase) -> Option:
    return Option(
        str(item.case.id),
        _("{title} · {state} · {due}", title=item.title,
          state=_(STATE_LABELS[item.case.state]), due=due_phrase(turn.cw, item.next_due, turn.lang)),
    )


def _case_options(turn: Turn) -> list[Option]:
    return [_case_option(turn, item) for item in _open_cases(turn)]


def _audit_cases(turn: Turn, codes: Sequence[str]) -> None:
    cases.audit_listed(turn.cw, turn.user, [i for c in codes if (i := validation.parse_id(c)) is not None], view="visit")


def _case_lookup(turn: Turn, code: str) -> Option | None:
    """The tapped case, if it is one ``_case_options`` offers: open and in the user's scope."""
    case_id = validation.parse_id(code)
    if case_id is None:
        return None
    found = cases.list_cases(turn.cw, turn.user, states_in=states.visit_states(turn.cw.policy.deferral.persuasion), case_id=case_id)
    if not found:
        return None
    turn.memo["visit.picked"] = found[0].case  # held, so the store's load_case needs no query
    return _case_option(turn, found[0])


def _companions(turn: Turn) -> list[str]:
    """Whoever came along on the case's last visit besides the user: offered as one-tap
    additions, never assumed (a cadre's visit alone is not the teacher's)."""
    case_id = turn.draft.get("case")
    if not case_id:
        return []

    def read() -> list[str]:
        last = turn.cw.session.exec(
            select(Visit).where(Visit.case_id == int(case_id))
            .order_by(col(Visit.visit_date).desc(), col(Visit.recorded_at).desc())
        ).first()
        return participants.distinct(last.participants if last else [], turn.user.display_name)[1:]

    return list(turn.once("visit.companions", read))


def _begin(turn: Turn, args: dict[str, Any]) -> None:
    case_id = turn.conv.case_id if turn.conv else None
    if case_id is not None:
        case = ladder.load_case(turn.cw, turn.user, case_id, "record_visit")
        if case.state not in states.visit_states(turn.cw.policy.deferral.persuasion):  # say so now
            turn.replies.send(_("Case #{id} is {state}; no visit can be recorded on it now.",
                                id=case.id, state=_(STATE_LABELS[case.state])))
            end(turn)
            return
        turn.draft["case"] = str(case_id)
        turn.conv.step = "meth"  # type: ignore[union-attr]
        _visited(turn, "case")
        return
    if not _open_cases(turn):
        turn.replies.send(_("You have no open cases to record a visit for."))
        end(turn)


def _visited(turn: Turn, name: str) -> None:
    turn.draft["_visited"] = [*turn.draft.get("_visited", []), name]


def _store_case(turn: Turn, value: str) -> None:
    ladder.load_case(turn.cw, turn.user, int(value), "record_visit")
    turn.draft["case"] = value
    if turn.conv is not None:
        turn.conv.case_id = int(value)


def _method_prompt(turn: Turn) -> Text:
    if _awaiting_enrolment(turn):
        return _("How did you talk the family into enrolling the child? (with {people})",
                 people=turn.user.display_name)
    return _("How did you persuade? (with {people})", people=turn.user.display_name)


def _method_options(turn: Turn) -> list[Option]:
    return [Option(m, QUICK_LABELS[m]) for m in QUICK_METHODS] + [
        Option(OTHER, _("📅 Another date or other people…"))
    ]


def _store_method(turn: Turn, value: str) -> None:
    turn.draft["meth"] = value
    if value == OTHER:
        # ask method, date and people again, even when editing from the summary
        turn.draft["_visited"] = [v for v in turn.draft.get("_visited", []) if v not in OTHER_STEPS]
        return
    turn.draft["date"] = turn.cw.today().isoformat()
    turn.draft["who"] = [turn.user.display_name]


def _after_method(turn: Turn) -> str:
    return "meth2" if turn.draft.get("meth") == OTHER else "fam"


def _method(turn: Turn) -> str | None:
    method = turn.draft.get("meth")
    return turn.draft.get("meth2") if method == OTHER else method


def _show_method(turn: Turn) -> Text | None:
    """One summary row for method, date and people, whichever way they were answered."""
    method = _method(turn)
    if method is None:
        return None
    return _("{method}, {date}, with {people}", method=codes.label("visit_method", method),
             date=fmt_date(draft_date(turn, "date"), turn.lang),
             people=join(turn.draft.get("who") or []))


def _parse_visit_date(turn: Turn, text: str) -> date:
    return parse_past_date(turn, text, field="visit_date", max_past_days=60)


USUAL = "*"  # the default button: the user alone (never a valid typed name)
ADD = "+"  # "+<n>": the user and the n-th companion of the last visit; "+*": all of them


def _who_default(turn: Turn) -> Option | None:
    return Option(USUAL, _("✓ {people}", people=turn.user.display_name))


def _who_options(turn: Turn) -> list[Option]:
    others = _companions(turn)
    found = [Option(f"{ADD}{i}", _("➕ {name}", name=name)) for i, name in enumerate(others)]
    if len(others) > 1:
        found.append(Option(f"{ADD}*", _("➕ {people}", people=join(others))))
    return found


def _store_who(turn: Turn, value: list[str] | str) -> None:
    turn.draft["who"] = [turn.user.display_name] if value == USUAL else value


def _parse_people(turn: Turn, text: str) -> list[str]:
    me = turn.user.display_name
    if text.startswith(ADD):
        others = _companions(turn)
        picked = others if text == f"{ADD}*" else others[int(text[1:]):int(text[1:]) + 1] if text[1:].isdigit() else []
        return participants.distinct(picked, me)
    names = [n.strip() for n in text.replace("，", ",").replace("、", ",").split(",") if n.strip()]
    cleaned = [validation.person_name(n, field="participants") for n in names]
    # the user typing their own name, or a name twice, is still one person
    return participants.distinct(cleaned, me)


def _parse_text(field: str) -> Any:
    return lambda turn, text: validation.free_text(text, field=field)


def _parse_promise(turn: Turn, text: str) -> date:
    today = turn.cw.today()
    when = validation.parse_date(text, today=today, field="promised_return_on", allow_future=True)
    return validation.promised_return(when, visit_day=draft_date(turn, "date") or today, today=today,
                                      horizon=turn.cw.policy.promise.max_days,
                                      shown=fmt_date(when, turn.lang))


def _promise_options(turn: Turn) -> list[Option]:
    """The next school day and the one a week on, with their dates (never two equal buttons)."""
    cal = turn.cw.calendars
    first = cal.next_school_day(turn.cw.today())
    week = cal.next_school_day(first + timedelta(days=6))
    return [
        Option(first.isoformat(), _("Next school day ({date})", date=fmt_short(first, turn.lang))),
        Option(week.isoformat(), _("A week later ({date})", date=fmt_short(week, turn.lang))),
    ]


def _awaiting_enrolment(turn: Turn) -> bool:
    def read() -> bool:
        # no autoflush: until Confirm a visit's turn writes only its conversation row, which
        # no case read depends on; it is written with the commit (engine.write), not first
        with turn.cw.session.no_autoflush:
            case = turn.cw.session.get(Case, int(turn.draft["case"])) if turn.draft.get("case") else None
            return case is not None and case_views.awaiting_enrolment(turn.cw, case)

    return bool(turn.once("visit.awaiting_enrolment", read))


def _result_options(turn: Turn) -> list[Option]:
    """A never-enrolled child is not "back at school" after a visit: the enrolment at a named
    school is recorded from the case card; the family may promise to enrol the child."""
    if not _awaiting_enrolment(turn):
        return code_options("visit_result")(turn)
    return [Option(code, ENROLMENT_RESULTS.get(code) or codes.label("visit_result", code))
            for code in codes.CODE_LISTS["visit_result"] if code != "returned"]





def _after_result(turn: Turn) -> str:
    return "prom" if turn.draft.get("res") == "promised" else "evid"


def _evidence_prompt(turn: Turn) -> Text:
    if _method(turn) in ("home_visit", "joint_visit"):
        return _("Send photos, a voice note or your location pin (📎) as evidence, then Done — or Skip.")
    return _("Send photos, a voice note or documents as evidence, then Done — or Skip.")


def _next_step_default(turn: Turn) -> str:
    return turn.t(_("Follow up and record the next visit"))


def _show_next(turn: Turn) -> str:
    return turn.draft.get("next") or _next_step_default(turn)


def _finish(turn: Turn) -> None:
    d = turn.draft
    evidence = list(d.get("evid") or [])
    location = next((e for e in evidence if e.get("kind") == "location"), None)
    promised = d["res"] == "promised"  # an edited result leaves no stale promised date
    out = ladder.record_visit(
        turn.cw,
        turn.user,
        int(d["case"]),
        ladder.VisitInput(
            visit_date=date.fromisoformat(d["date"]),
            method=_method(turn) or "",
            result=d["res"],
            participants=tuple(d.get("who") or ()),
            family_situation=d.get("fam"),
            guardian_attitude=d.get("gatt"),
            student_attitude=d.get("satt"),
            measures=d.get("meas"),
            promised_return_on=draft_date(turn, "prom") if promised else None,
            evidence=tuple(evidence),
            latitude=location["lat"] if location else None,
            longitude=location["lon"] if location else None,
            next_step=d.get("next") or _next_step_default(turn),
        ),
    )
    turn.replies.send(out.message)


def _show_case(turn: Turn) -> Text | None:
    def title() -> Text | None:
        with turn.cw.session.no_autoflush:  # as in _awaiting_enrolment
            case = turn.cw.session.get(Case, int(turn.draft["case"])) if turn.draft.get("case") else None
            return case_title(turn.cw, case) if case is not None else None

    return turn.once("visit.case_title", title)  # the summary shows it twice


def _summary_title(turn: Turn) -> Text:
    return _("Visit for case {title} — summary", title=_show_case(turn) or "?")


VISIT = register(
    Flow(
        name="visit",
        title=_("Record a persuasion visit"),
        roles=ALL_ROLES,
        begin=_begin,
        summary_title=_summary_title,
        steps=(
            Step("case", _("Case"), lambda t: _("Which case? (nearest deadline first)"), "choice",
                 options=_case_options, lookup=_case_lookup, audit_shown=_audit_cases, store=_store_case, next="meth", editable=False, show=_show_case),
            Step("meth", _("Method, date and people"), _method_prompt, "choice", options=_method_options,
                 store=_store_method, next=_after_method, show=_show_method),
            # the "other" branch: shown on the summary through the row above
            Step("meth2", _("Method"), lambda t: _("Which method?"), "choice",
                 options=code_options("visit_method"), next="date", in_summary=False),
            Step("date", _("Date"), lambda t: _("On what date? (e.g. 11-21)"), "date", options=today_or_yesterday,
                 parse=_parse_visit_date, store=store_date("date"), next="who", in_summary=False),
            Step("who", _("Participants"),
                 lambda t: _("Who took part? Tap to keep, add last visit's companions, or type names separated by commas."),
                 "text", options=_who_options, parse=_parse_people, default=_who_default, store=_store_who, next="fam",
                 in_summary=False),
            Step("fam", _("Family situation"), lambda t: _("Briefly, the family's situation?"), "text",
                 parse=_parse_text("family_situation"), next="gatt"),
            Step("gatt", _("Guardian's attitude"), lambda t: _("The guardian's attitude?"), "choice",
                 options=code_options("attitude"), next="satt", show=show_code("attitude", "gatt")),
            Step("satt", _("Student's attitude"), lambda t: _("The student's attitude?"), "choice",
                 options=code_options("student_attitude"), next="meas",
                 show=show_code("student_attitude", "satt")),
            Step("meas", _("Measures taken"), lambda t: _("What did you do or offer? (measures taken)"), "text",
                 parse=_parse_text("measures"), next="res"),
            Step("res", _("Result"), lambda t: _("The result?"), "choice", options=_result_options,
                 next=_after_result, show=show_code("visit_result", "res")),
            Step("prom", _("Promised return date"), lambda t: _("By what date did they promise the child will be back?"),
                 "date", options=_promise_options, parse=_parse_promise, store=store_date("prom"),
                 show=show_date("prom"), next="evid"),
            Step("evid", _("Evidence"), _evidence_prompt, "media", skippable=True, next=None, show=show_attached("evid")),
            Step("next", _("Next step"), lambda t: _("What is the next step?"), "text",
                 parse=_parse_text("next_step"), ask=False, show=_show_next, next=None),
        ),
        finish=_finish,
    )
)
