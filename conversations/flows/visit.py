"""Record a persuasion visit (表3 township / 表4 school).

    case ─ meth ─┬─ (home visit / phone / joint visit, today, usual companions) ─┐
                 └─ other: meth2 ─ date ─ who ───────────────────────────────────┤
    fam ─ gatt ─ satt ─ meas ─ res ─┬─ (promised) prom ─┐                       │
                                    └───────────────────┴─ evid ─ [summary: next step editable]

A typical home visit with the defaults accepted takes 8 taps and 2 typed answers
(case, method, guardian attitude, student attitude, result, evidence skip, confirm;
family situation and measures typed). The next step defaults to the next deadline.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import col, select

from casework import codes, ladder, states, validation
from casework.i18n import Text, _
from casework.labels import STATE_LABELS
from casework.notices import case_title
from conversations.engine import Flow, Option, Step, Turn, end, register
from conversations.flows.report import REPORTERS, _code_list_options, _show_date, _store_date
from conversations.formatting import fmt_date
from models.tables import Case, Visit

OTHER = "other"
QUICK_METHODS = ("home_visit", "phone", "joint_visit")
QUICK_LABELS = {
    "home_visit": _("🏠 Home visit, today"),
    "phone": _("📞 Phone call, today"),
    "joint_visit": _("👥 Joint visit, today"),
}


def _open_cases(turn: Turn) -> list[Case]:
    return [c for c in ladder.cases_for(turn.cw, turn.user) if c.state in states.ACTIVE]


def _case_options(turn: Turn) -> list[Option]:
    from handlers.cases import _due_text  # the same "due" words as /cases

    return [
        Option(
            str(c.id),
            _("{title} · {state} · {due}", title=case_title(turn.cw, c),
              state=_(STATE_LABELS[c.state]), due=_due_text(turn, c)),
        )
        for c in _open_cases(turn)
    ]


def _companions(turn: Turn) -> list[str]:
    """The user, plus whoever came along on the last visit of this case."""
    me = turn.user.display_name
    case_id = turn.draft.get("case")
    last = None
    if case_id:
        last = turn.cw.session.exec(
            select(Visit).where(Visit.case_id == int(case_id)).order_by(col(Visit.recorded_at).desc())
        ).first()
    others = [p for p in (last.participants if last else []) if p != me]
    return [me, *others]


def _begin(turn: Turn, args: dict[str, Any]) -> None:
    case_id = turn.conv.case_id if turn.conv else None
    if case_id is not None:
        ladder.load_case(turn.cw, turn.user, case_id, "record_visit")
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
    return _("How did you (or will you) persuade? Today, with: {people}",
             people="、".join(_companions(turn)))


def _method_options(turn: Turn) -> list[Option]:
    return [Option(m, QUICK_LABELS[m]) for m in QUICK_METHODS] + [
        Option(OTHER, _("📅 Another date or other people…"))
    ]


def _store_method(turn: Turn, value: str) -> None:
    if value == OTHER:
        turn.draft["meth"] = OTHER
        return
    turn.draft["meth"] = value
    turn.draft["date"] = turn.cw.today().isoformat()
    turn.draft["who"] = _companions(turn)


def _after_method(turn: Turn) -> str:
    return "meth2" if turn.draft.get("meth") == OTHER else "fam"


def _show_method(turn: Turn) -> Text | None:
    method = turn.draft.get("meth")
    if method in (None, OTHER):
        return None
    return _("{method}, {date}, with {people}", method=codes.label("visit_method", method),
             date=fmt_date(date.fromisoformat(turn.draft["date"]), turn.lang),
             people="、".join(turn.draft.get("who") or []))


def _parse_visit_date(turn: Turn, text: str) -> date:
    return validation.parse_date(text, today=turn.cw.today(), field="visit_date", max_past_days=60)


def _date_options(turn: Turn) -> list[Option]:
    today = turn.cw.today()
    return [Option(today.isoformat(), _("Today")),
            Option((today - timedelta(days=1)).isoformat(), _("Yesterday"))]


USUAL = "*"  # the default button: the usual companions (never a valid typed name)


def _who_default(turn: Turn) -> Option | None:
    return Option(USUAL, _("✓ {people}", people="、".join(_companions(turn))))


def _store_who(turn: Turn, value: list[str] | str) -> None:
    turn.draft["who"] = _companions(turn) if value == USUAL else value


def _parse_people(turn: Turn, text: str) -> list[str]:
    names = [n.strip() for n in text.replace("，", ",").replace("、", ",").split(",") if n.strip()]
    cleaned = [validation.person_name(n, field="participants") for n in names]
    me = turn.user.display_name
    return cleaned if me in cleaned else [me, *cleaned]


def _parse_text(field: str) -> Any:
    return lambda turn, text: validation.free_text(text, field=field)


def _parse_promise(turn: Turn, text: str) -> date:
    when = validation.parse_date(text, today=turn.cw.today(), field="promised_return_on", allow_future=True)
    if when < turn.cw.today():
        from casework.errors import ValidationError

        raise ValidationError("promised_return_on", _("The promised date is before the visit."))
    return when


def _promise_options(turn: Turn) -> list[Option]:
    today = turn.cw.today()
    return [Option((today + timedelta(days=1)).isoformat(), _("Tomorrow")),
            Option(turn.cw.calendars.next_school_day(today).isoformat(), _("Next school day"))]


def _after_result(turn: Turn) -> str:
    return "prom" if turn.draft.get("res") == "promised" else "evid"


def _evidence_prompt(turn: Turn) -> Text:
    if turn.draft.get("meth") == "home_visit":
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
    out = ladder.record_visit(
        turn.cw,
        turn.user,
        int(d["case"]),
        ladder.VisitInput(
            visit_date=date.fromisoformat(d["date"]),
            method=d["meth2"] if d.get("meth") == OTHER else d["meth"],
            result=d["res"],
            participants=tuple(d.get("who") or ()),
            family_situation=d.get("fam"),
            guardian_attitude=d.get("gatt"),
            student_attitude=d.get("satt"),
            measures=d.get("meas"),
            promised_return_on=date.fromisoformat(d["prom"]) if d.get("prom") else None,
            evidence=tuple(evidence),
            latitude=location["lat"] if location else None,
            longitude=location["lon"] if location else None,
            next_step=d.get("next") or _next_step_default(turn),
        ),
    )
    turn.replies.send(out.message)


def _show_evidence(turn: Turn) -> Text | None:
    items = turn.draft.get("evid") or []
    return _("{n} attached", n=len(items)) if items else None


def _show_code(kind: str, name: str) -> Any:
    return lambda t: codes.label(kind, t.draft[name]) if t.draft.get(name) else None


def _summary_title(turn: Turn) -> Text:
    case = turn.cw.session.get(Case, int(turn.draft["case"]))
    return _("Visit for case {title} — summary", title=case_title(turn.cw, case) if case else "?")


def _who_show(turn: Turn) -> str:
    return "、".join(turn.draft.get("who") or [])


VISIT = register(
    Flow(
        name="visit",
        title=_("Record a persuasion visit"),
        roles=REPORTERS,
        begin=_begin,
        summary_title=_summary_title,
        steps=(
            Step("case", _("Case"), lambda t: _("Which case? (nearest deadline first)"), "choice",
                 options=_case_options, store=_store_case, next="meth", editable=False,
                 show=lambda t: case_title(t.cw, t.cw.session.get(Case, int(t.draft["case"])))  # type: ignore[arg-type]
                 if t.draft.get("case") else None),
            Step("meth", _("Method, date and people"), _method_prompt, "choice", options=_method_options,
                 store=_store_method, next=_after_method, show=_show_method),
            Step("meth2", _("Method"), lambda t: _("Which method?"), "choice",
                 options=_code_list_options("visit_method"), next="date",
                 show=_show_code("visit_method", "meth2")),
            Step("date", _("Date"), lambda t: _("On what date? (e.g. 11-21)"), "date", options=_date_options,
                 parse=_parse_visit_date, store=_store_date("date"), show=_show_date("date"), next="who"),
            Step("who", _("Participants"), lambda t: _("Who took part? Tap to keep, or type names separated by commas."),
                 "text", parse=_parse_people, default=_who_default, store=_store_who, show=_who_show, next="fam"),
            Step("fam", _("Family situation"), lambda t: _("Briefly, the family's situation?"), "text",
                 parse=_parse_text("family_situation"), next="gatt"),
            Step("gatt", _("Guardian's attitude"), lambda t: _("The guardian's attitude?"), "choice",
                 options=_code_list_options("attitude"), next="satt", show=_show_code("attitude", "gatt")),
            Step("satt", _("Student's attitude"), lambda t: _("The student's attitude?"), "choice",
                 options=_code_list_options("attitude"), next="meas", show=_show_code("attitude", "satt")),
            Step("meas", _("Measures taken"), lambda t: _("What did you do or offer? (measures taken)"), "text",
                 parse=_parse_text("measures"), next="res"),
            Step("res", _("Result"), lambda t: _("The result?"), "choice", options=_code_list_options("visit_result"),
                 next=_after_result, show=_show_code("visit_result", "res")),
            Step("prom", _("Promised return date"), lambda t: _("By what date did they promise the child will be back?"),
                 "date", options=_promise_options, parse=_parse_promise, store=_store_date("prom"),
                 show=_show_date("prom"), next="evid"),
            Step("evid", _("Evidence"), _evidence_prompt, "media", skippable=True, next=None, show=_show_evidence),
            Step("next", _("Next step"), lambda t: _("What is the next step?"), "text",
                 parse=_parse_text("next_step"), ask=False, show=_show_next, next=None),
        ),
        finish=_finish,
    )
)
