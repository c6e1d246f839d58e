"""Hand a case over to another county: the child moved there (随迁).

    handover: to ─ addr ─ [summary] → handover.offer

The case stays open here, its clock running, until the receiving county's officer accepts
(``casework.handover``); the button is offered only when there is another county.
"""

from __future__ import annotations

from sqlmodel import col, select

from casework import handover, validation
from casework.i18n import Text, _
from casework.notices import case_title
from conversations.engine import Flow, Option, Step, Turn, register
from models.tables import Case, County

OFFERERS = frozenset(handover.OFFER_ROLES)


def _case(turn: Turn) -> Case | None:
    return turn.cw.session.get(Case, turn.conv.case_id) if turn.conv and turn.conv.case_id else None


def _counties(turn: Turn) -> list[Option]:
    case = _case(turn)
    rows = turn.cw.session.exec(select(County).where(County.id != (case.county_id if case else 0))
                                .order_by(col(County.name))).all()
    return [Option(str(c.id), Text("{name}", {"name": c.name})) for c in rows]


def _show_county(turn: Turn) -> Text | None:
    raw = turn.draft.get("to")
    county = turn.cw.session.get(County, int(raw)) if raw else None
    return Text("{name}", {"name": county.name}) if county else None


def _finish(turn: Turn) -> None:
    assert turn.conv is not None and turn.conv.case_id is not None
    offered = handover.offer(turn.cw, turn.user, turn.conv.case_id, int(turn.draft["to"]), turn.draft["addr"])
    county = turn.cw.session.get(County, offered.to_county_id)
    turn.replies.send(_("Case #{id} is offered to {county}. It stays with you, still open, until they "
                        "accept; you will be told their answer.", id=offered.case_id,
                        county=county.name if county else "—"))


register(
    Flow(
        name="handover",
        title=_("Hand over to another county"),
        roles=OFFERERS,
        summary_title=lambda t: _("Hand over case {title}",
                                  title=case_title(t.cw, c) if (c := _case(t)) else Text("—")),
        steps=(
            Step("to", _("Receiving county"), lambda t: _("To which county did the child move?"), "choice",
                 options=_counties, next="addr", show=_show_county),
            Step("addr", _("New address"), lambda t: _("The child's new address there?"), "text",
                 parse=lambda t, text: validation.free_text(text, field="new_address", max_len=200)),
        ),
        finish=_finish,
    )
)
