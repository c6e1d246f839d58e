"""Record the delivery of the notice to return to school (送达回执), from the button on the
notice the issuer received:

    delivery: when ─ receipt ─ [summary] → notice_delivery.record_delivery
"""

from __future__ import annotations

from typing import Any

from casework import notice_delivery
from casework.i18n import Text, _
from casework.notices import case_title
from conversations.engine import Flow, Step, Turn, register
from conversations.flows.fields import (
    ALL_ROLES,
    draft_date,
    parse_past_date,
    show_attached,
    show_date,
    store_date,
    today_or_yesterday,
)
from conversations.formatting import fmt_date
from models.tables import Case


def _title(turn: Turn) -> Text:
    case = turn.cw.session.get(Case, turn.conv.case_id) if turn.conv and turn.conv.case_id else None
    return case_title(turn.cw, case) if case else Text("—")


def _parse_day(turn: Turn, text: str) -> Any:
    return parse_past_date(turn, text, field="delivered_on", max_past_days=60)


def _finish(turn: Turn) -> None:
    assert turn.conv is not None and turn.conv.case_id is not None
    day = draft_date(turn, "when")
    assert day is not None
    notice_delivery.record_delivery(turn.cw, turn.user, turn.conv.case_id, day,
                                    list(turn.draft.get("rcpt") or []))
    turn.replies.send(_("Delivery of the notice for case #{id} recorded: {date}, with the receipt.",
                        id=turn.conv.case_id, date=fmt_date(day, turn.lang)))


register(
    Flow(
        name="delivery",
        title=_("Record the delivery of the notice"),
        roles=ALL_ROLES,
        summary_title=lambda t: _("Case {title}: notice delivered", title=_title(t)),
        steps=(
            Step("when", _("Delivered on"), lambda t: _("On what date was the notice handed to the guardian?"),
                 "date", options=today_or_yesterday, parse=_parse_day, store=store_date("when"), next="rcpt",
                 show=show_date("when")),
            # required: the Done button refuses until the photo was sent
            Step("rcpt", _("Receipt"), lambda t: _("Send a photo of the receipt the guardian signed (送达回执), then Done."),
                 "media", show=show_attached("rcpt")),
        ),
        finish=_finish,
    )
)
