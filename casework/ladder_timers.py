"""What the ladder's own timed rows do when due: a level's time running out (``step``:
escalate) and a pause ending (``resume``).

They act on the ladder, which itself writes deadline rows through ``casework.deadlines``;
living here, above both, they let ``deadlines`` stay below ``ladder`` with no import back
up. Registered in ``casework.kinds``.
"""

from __future__ import annotations

from casework import bodies, deadlines, ladder, notices, papers
from casework.context import Casework
from models.tables import Case, Deadline


def on_step(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    if case.state != deadline.payload.get("level"):
        return "stale"
    if cw.policy.next_level(case.level) is None:  # type: ignore[arg-type]
        return "top of ladder"
    nxt = cw.policy.next_level(case.level)  # type: ignore[arg-type]
    assert nxt is not None
    missing = papers.missing_documents(cw, case, nxt.state)
    if missing:
        # the paper is not on file: the case waits here, its issuers are asked again
        # every ack_grace, and no level is skipped
        document = missing[0]
        issuing = next(lv for lv in cw.policy.ladder if lv.document == document)
        users = bodies.people(cw, case, issuing.responsible)
        notices.held_for_document(cw, case, document, users)
        deadlines.add_step(cw, case, cw.calendars.due_at(cw.now(), cw.policy.escalation.ack_grace))
        return f"held: {document.kind} not on file"
    deadline.status = "done"  # before escalating, which cancels the case's open rows
    ladder.escalate_case(cw, case, None, reason="deadline_passed")
    return f"escalated to {case.state}"


def on_resume(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    assert case is not None
    if case.state != "paused":
        return "stale"
    deadline.status = "done"
    ladder.resume(cw, None, case.id or 0, note=None)
    return f"resumed to {case.state}"
