"""Outcomes and approvals: back at school, propose an outcome, reject with a reason,
pause with a reason and a resume date.

    returned: when ─ [summary] → ladder.mark_returned
    propose:  out ─ why ─┬─ (deferral) until ─┐─ evid ─ [summary] → ladder.propose_outcome
                         └────────────────────┘
    reject:   why ─ [summary] → ladder.decide_outcome(approve=False)
    pause:    why ─ until ─ [summary] → ladder.pause
"""

from __future__ import annotations

from datetime import date
from typing import Any

from casework import codes, ladder, validation
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.notices import case_title
from conversations.engine import Flow, Option, Step, Turn, end, register
from conversations.flows.fields import (
    ALL_ROLES,
    draft_date,
    parse_past_date,
    recent_days,
    show_attached,
    show_code,
    show_date,
    store_date,
)
from models.tables import Case, Proposal

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


# --- propose an outcome ----------------------------------------------------------------


def _outcome_options(turn: Turn) -> list[Option]:
    return [Option(code, codes.label("outcome", code)) for code in PROPOSABLE]


DEFERRALS = ("deferred", "suspended")


def _after_reason(turn: Turn) -> str:
    return "until" if turn.draft.get("out") in DEFERRALS else "evid"


def _finish_propose(turn: Turn) -> None:
    assert turn.conv is not None and turn.conv.case_id is not None
    d = turn.draft
    out = ladder.propose_outcome(
        turn.cw,
        turn.user,
        turn.conv.case_id,
        d["out"],
        reason=d.get("why") or "",
        evidence=tuple(d.get("evid") or ()),
        # an outcome changed on the summary from a deferral leaves no stale end date
        until_on=draft_date(turn, "until") if d["out"] in DEFERRALS else None,
    )
    turn.replies.send(out.message)


register(
    Flow(
        name="propose",
        title=_("Propose an outcome"),
        roles=ALL_ROLES,
        summary_title=lambda t: _("Case {title}: proposed outcome", title=_case_title(t)),
        steps=(
            Step("out", _("Outcome"), lambda t: _("Which outcome do you propose?"), "choice",
                 options=_outcome_options, next="why", show=show_code("outcome", "out")),
            Step("why", _("Reason"), lambda t: _("Why? (the policy asks for the grounds)"), "text",
                 parse=_reason("reason"), next=_after_reason),
            Step("until", _("Until"), lambda t: _("Until what date? (e.g. 2027-02-22)"), "date",
                 parse=_future("until_on"), store=store_date("until"), show=show_date("until"), next="evid"),
            # required: the Done button refuses until at least one item was sent
            Step("evid", _("Evidence"),
                 lambda t: _("Send the evidence (a photo of the certificate, a document), then Done."),
                 "media", next=None, show=show_attached("evid")),
        ),
        finish=_finish_propose,
    )
)


# --- reject a proposal -----------------------------------------------------------------


def _begin_reject(turn: Turn, args: dict[str, Any]) -> None:
    proposal = turn.cw.session.get(Proposal, int(args["proposal"]))
    if proposal is None or proposal.status != "pending":
        # say so now, not after the reason was typed
        turn.replies.send(
            _("There is no such proposal.") if proposal is None else _("This proposal was already decided.")
        )
        end(turn)
        return
    ladder.load_case(turn.cw, turn.user, proposal.case_id, "decide_outcome")
    turn.draft["proposal"] = proposal.id
    if turn.conv is not None:
        turn.conv.case_id = proposal.case_id


def _finish_reject(turn: Turn) -> None:
    out = ladder.decide_outcome(turn.cw, turn.user, int(turn.draft["proposal"]), approve=False,
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
                 parse=_reason("note")),
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
