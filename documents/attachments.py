"""The outbox sender's hook for files attached to pushed messages.

An outbox row may carry ``payload["attachments"]``: a list of specs, rendered for the
recipient when the message is sent (in their language and with what their role may see
in full), never stored as files:

- ``{"type": "form", "form": "report", "case_id": 12, "format": "pdf"}``: a per-child
  form (``casework.forms``) — e.g. the 表5 written report on an escalation alert to the
  township (``casework.forms.attachment_for_level`` says which form a level brings);
- ``{"type": "periodic_report", "period": "2026-11"}``: the monthly or quarterly workbook
  for the recipient's scope (``casework.reports``).

``render_attachment`` returns ``(file name, bytes, caption)`` or ``None`` when the spec
no longer applies (the case moved on, the recipient lost the scope); it audits like any
other export. The sender sends it with ``bot.send_document`` after the text.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from casework import reports
from casework.context import Casework
from casework.errors import CaseworkError
from casework.i18n import Text
from casework.periods import parse_period
from documents import forms as form_files
from documents import report_xlsx
from documents.fonts import FontMissing
from models.tables import User


def render_attachment(
    cw: Casework, recipient: User, spec: dict[str, Any]
) -> tuple[str, bytes, Text | None] | None:
    kind = spec.get("type")
    try:
        if kind == "form":
            case_id = int(spec["case_id"])
            form = str(spec["form"])
            fmt = str(spec.get("format", "pdf"))
            try:
                name, data = form_files.make(cw, recipient, case_id, form, fmt)
            except FontMissing:
                name, data = form_files.make(cw, recipient, case_id, form, "docx")
            return name, data, form_files.caption(form, case_id)
        if kind == "periodic_report":
            period = parse_period(str(spec["period"]), today=date(2000, 1, 1))
            data_ = reports.report_data(cw, recipient, period)
            reports.record_report(cw, recipient, data_)
            lang = recipient.language
            return report_xlsx.filename(data_, lang), report_xlsx.write_report(data_, lang), None
    except (CaseworkError, KeyError, ValueError):
        return None
    return None

