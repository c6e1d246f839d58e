"""The notice to return to school (限期复学通知书) on paper: its delivery to the guardian
recorded (送达回执).

Issuing the notice in the bot starts the guardian's deadline; the guardian only knows of it
once the paper reaches them. So the issuer gets the document at once
(``notices.notice_to_issuer``: an outbox message with the notice as a file, rendered when it
is sent by ``documents.attachments``) and a button to record the delivery here: the date it
was handed over and a photo of the signed receipt, stored as the evidence of a
``notice_delivered`` case event.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from casework import ladder
from casework.clock import from_db
from casework.context import Casework
from casework.errors import IllegalTransition, ValidationError
from casework.i18n import _
from casework.labels import day_text
from models.tables import Case, CaseEvent, User

KIND = "notice_document"
EVENT = "notice_delivered"


def check_deliverable(cw: Casework, actor: User, case_id: int) -> Case:
    """The case, if the actor may record its notice's delivery now."""
    case = ladder.load_case(cw, actor, case_id, "record_visit")
    if case.notice_issued_at is None:
        raise IllegalTransition(_("No notice to return to school was issued for case #{id}.", id=case.id))
    return case


def record_delivery(
    cw: Casework, actor: User, case_id: int, delivered_on: date, evidence: list[dict[str, Any]]
) -> CaseEvent:
    """Record that the notice reached the guardian on ``delivered_on``, with the receipt."""
    case = check_deliverable(cw, actor, case_id)
    if delivered_on > cw.today():
        raise ValidationError("delivered_on", _("The date cannot be in the future."))
    issued = cw.calendars.local_date(from_db(case.notice_issued_at))  # type: ignore[arg-type]
    if delivered_on < issued:
        raise ValidationError("delivered_on", _("The notice was issued on {date}; it cannot have been delivered before.",
                                                date=day_text(issued)))
    if not any(item.get("kind") in ("photo", "document") for item in evidence):
        raise ValidationError("evidence", _("Send a photo of the signed receipt."))
    event = ladder.record_event(cw, case, actor, EVENT, from_state=case.state, evidence=evidence,
                                delivered_on=delivered_on.isoformat())
    ladder.touch(cw, case)
    cw.audit(actor, "case.notice_delivered", "case", case.id)
    return event
