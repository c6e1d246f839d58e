"""Outcomes and approvals: back at school, propose an outcome, reject with a reason,
pause with a reason and a resume date.

    returned: when ─ [summary] → ladder.mark_returned
    propose:  out ─ why ─┬─ (deferral) until ─┐─ ev0 ─ (ev1 ─ ev2: one per evidence kind the
                         └────────────────────┘   policy names) ─ [summary] → outcomes.propose_outcome
              (🗂 Close out starts at why with the outcome "retained": 销号 after a return)
    reject:   why ─ [summary] → outcomes.decide_outcome(approve=False)
    pause:    why ─ until ─ [summary] → ladder.pause
"""

from __future__ import annotations

from datetime import date
from typing import Any

from casework import codes, evidence, ladder, outcomes, validation
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import STATE_LABELS
from casework.notices import case_title
from casework.policy import MAX_EVIDENCE_KINDS
from conversations.engine import Flow, Option, Step, Turn, end, register
from conversations.flows.fields import (
    ALL_ROLES,
    draft_date,
    parse_past_date,
    recent_days,
    show_code,
    show_date,
    store_date,
)
from models.tables import Case

OFFICERS = frozenset({"school_admin", "township_officer", "county_officer", "admin"})
PROPOSABLE = ("home_teaching", "deferred", "suspended", "transferred", "deceased", "other")


def _case_title(turn: Turn) -> Text:
    case = turn.cw.session.get(Case, turn.conv.case_id) if turn.conv and turn.conv.case_id else None
    return case_title(turn.cw, case) if case else Text("—")


def _past(field: str) -> Any:
    return lambda turn, text: parse_past_date(turn, text, field=field, max_past_days=60)


def _future(field: str) -> Any:
    def parse(turn: Turn, text: str) -> date:
        when = validation.parse_date(text, today=turn.cw.today(), field=field, allow_future=True)
        if when <= turn.cw.today():
            raise ValidationError(field, _("Give a date after today."))
        return when

    return parse


def _reason(field: str) -> Any:
    return lambda turn, text: validation.free_text(text, field=field, max_len=500)


# --- back at school --------------------------------------------------------------------


def _finish_returned(turn: Turn) -> None:
    assert turn.conv is not None and turn.conv.case_id is not None
    out = ladder.mark_returned(turn.cw, turn.user, turn.conv.case_id, draft_date(turn, "when"))
    turn.replies.send(out.message)


register(
    Flow(
        name="returned",
        title=_("Back at school"),
        roles=ALL_ROLES,
        summary_title=lambda t: _("Case {title}: back at school", title=_case_title(t)),
        steps=(
            Step("when", _("Back since"), lambda t: _("Since when is the child back at school?"), "date",
                 options=recent_days, parse=_past("returned_on"), store=store_date("when"),
                 show=show_date("when")),
        ),
        finish=_finish_returned,
    )
)


# --- propose an outcome (销号) ------------------------------------------------------------

MAX_KINDS = MAX_EVIDENCE_KINDS  # evidence steps ev0…ev2: one per kind the policy names
DEFERRALS = ("deferred", "suspended")


def _open_case(turn: Turn) -> Case:
    assert turn.conv is not None and turn.conv.case_id is not None
    case = turn.cw.session.get(Case, turn.conv.case_id)
    assert case is not None
    return case


def _outcome_options(turn: Turn) -> list[Option]:
    return [Option(code, codes.label("outcome", code))
            for code in turn.once("propose.outcomes", lambda: outcomes.proposable_outcomes(_open_case(turn), turn.cw.policy))]


def _kinds(turn: Turn) -> list[str]:
    out = turn.draft.get("out")
    return outcomes.evidence_kinds(turn.cw, out) if out else []


def _after_reason(turn: Turn) -> str:
    return "until" if turn.draft.get("out") in DEFERRALS else "ev0"


def _after_evidence(index: int) -> Any:
    return lambda turn: f"ev{index + 1}" if index + 1 < len(_kinds(turn)) else None


def _evidence_prompt(index: int) -> Any:
    def prompt(turn: Turn) -> Text:
        kinds = _kinds(turn)
        kind = codes.label("evidence_kind", kinds[index]) if index < len(kinds) else Text("—")
        return _("Send the {kind} ({n} of {total}): a clear photo or a document, then Done.",
                 kind=kind, n=index + 1, total=len(kinds))

    return prompt


def _accept_evidence(index: int) -> Any:
    def accept(turn: Turn, item: dict[str, Any]) -> dict[str, Any]:
        evidence.check_item(item)
        kinds = _kinds(turn)
        return {**item, "evidence_kind": kinds[index]} if index < len(kinds) else item

    return accept


def _show_evidence(index: int) -> Any:
    def show(turn: Turn) -> Text | None:
        items = turn.draft.get(f"ev{index}") or []
        if not items:
            return None
        kind = items[0].get("evidence_kind", "")
        return _("{kind}: {n} attached", kind=codes.label("evidence_kind", kind), n=len(items))

    return show


def _begin_propose(turn: Turn, args: dict[str, Any]) -> None:
    case = ladder.load_case(turn.cw, turn.user, _open_case(turn).id or 0,
                            "close_out" if args.get("outcome") == "retained" else "propose_outcome")
    offered = outcomes.proposable_outcomes(case, turn.cw.policy)
    preset = args.get("outcome")
    if preset is not None:
        offered = [o for o in offered if o == preset]
    if not offered:
        turn.replies.send(_("Case #{id} is {state}; that cannot be done now.", id=case.id,
                            state=_(STATE_LABELS[case.state])))
        end(turn)
        return
    if preset is not None:  # 销号 from the case's button: the outcome is known
        turn.draft["out"] = preset
        turn.draft["_visited"] = ["out"]
        assert turn.conv is not None
        turn.conv.step = "why"


def _finish_propose(turn: Turn) -> None:
    assert turn.conv is not None and turn.conv.case_id is not None
    d = turn.draft
    proof = [item for i in range(len(_kinds(turn))) for item in d.get(f"ev{i}") or []]
    out = outcomes.propose_outcome(
        turn.cw,
        turn.user,
        turn.conv.case_id,
        d["out"],
        reason=d.get("why") or "",
        evidence=tuple(proof),
        until_on=draft_date(turn, "until") if d["out"] in DEFERRALS else None,
    )
    turn.replies.send(out.message)


def _reason_text(field: str) -> Any:
    return lambda turn, text: evidence.meaningful(
        validation.free_text(text, field=field, max_len=500), field=field)


register(
    Flow(
        name="propose",
        title=_("Propose an outcome"),
        roles=ALL_ROLES,
        begin=_begin_propose,
        summary_title=lambda t: _("Case {title}: proposed outcome", title=_case_title(t)),
        steps=(
            # not editable on the summary: another outcome needs other evidence
            Step("out", _("Outcome"), lambda t: _("Which outcome do you propose?"), "choice",
                 options=_outcome_options, next="why", show=show_code("outcome", "out"), editable=False),
            Step("why", _("Reason"), lambda t: _("Why? (the policy asks for the grounds)"), "text",
                 parse=_reason_text("reason"), next=_after_reason),
            Step("until", _("Until"), lambda t: _("Until what date? (e.g. 2027-02-22)"), "date",
                 parse=_future("until_on"), store=store_date("until"), show=show_date("until"), next="ev0"),
            # required: the Done button refuses until at least one file was sent
            *(
                Step(f"ev{i}", _("Evidence"), _evidence_prompt(i), "media", next=_after_evidence(i),
                     show=_show_evidence(i), accept_media=_accept_evidence(i))
                for i in range(MAX_KINDS)
            ),
        ),
        finish=_finish_propose,
    )
)


# --- reject a proposal -----------------------------------------------------------------


def _begin_reject(turn: Turn, args: dict[str, Any]) -> None:
    proposal, case = outcomes.load_review(turn.cw, turn.user, int(args["proposal"]))
    turn.draft["proposal"] = proposal.id
    if turn.conv is not None:
        turn.conv.case_id = case.id


def _finish_reject(turn: Turn) -> None:
    out = outcomes.decide_outcome(turn.cw, turn.user, int(turn.draft["proposal"]), approve=False,
                                note=turn.draft.get("why"))
    turn.replies.send(out.message)


register(
    Flow(
        name="reject",
        title=_("Reject a proposal"),
        roles=OFFICERS,
        begin=_begin_reject,
        summary_title=lambda t: _("Reject the proposal for case {title}", title=_case_title(t)),
        steps=(
            Step("why", _("Reason"), lambda t: _("Why do you reject it? The proposer will read this."), "text",
                 parse=_reason_text("note")),
        ),
        finish=_finish_reject,
    )
)


# --- pause -----------------------------------------------------------------------------


def _finish_pause(turn: Turn) -> None:
    assert turn.conv is not None and turn.conv.case_id is not None
    out = ladder.pause(turn.cw, turn.user, turn.conv.case_id, turn.draft["why"],
                       date.fromisoformat(turn.draft["until"]))
    turn.replies.send(out.message)


register(
    Flow(
        name="pause",
        title=_("Pause a case"),
        roles=OFFICERS,
        summary_title=lambda t: _("Pause case {title}", title=_case_title(t)),
        steps=(
            Step("why", _("Reason"), lambda t: _("Why pause the case? (e.g. in hospital)"), "text",
                 parse=_reason("reason"), next="until"),
            Step("until", _("Resume on"), lambda t: _("On what date should the clock start again?"), "date",
                 parse=_future("resume_on"), store=store_date("until"), show=show_date("until")),
        ),
        finish=_finish_pause,
    )
)
