"""A case's timeline for the sandbox's JSON API: follow a demo case from outside.

State and level, the events in order (who did what, from which state to which), the
deadlines (due, done or cancelled, and what was done), and who was told what and when
(the outbox rows, rendered in the language asked for). Read-only, and served only by the
sandbox, whose database holds nothing but the invented demo county (``sandbox.database``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from casework.clock import from_db
from casework.outbox import text_from_json
from casework.policy import Policy
from models.tables import Case, CaseEvent, Deadline, OutboxMessage, User


def case_timeline(session: Session, policy: Policy, case_id: int, lang: str) -> dict[str, Any] | None:
    """The timeline of case ``case_id`` (None when there is no such case); times are the
    county's local time."""
    case = session.get(Case, case_id)
    if case is None:
        return None

    def at(value: datetime | None) -> str | None:
        return from_db(value).astimezone(policy.tz).isoformat() if value is not None else None

    people: dict[int, dict[str, Any]] = {}

    def who(user_id: int | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        if user_id not in people:
            user = session.get(User, user_id)
            people[user_id] = {"id": user_id, "name": user.display_name if user else None,
                               "role": user.role if user else None,
                               "body": user.body if user else None}
        return people[user_id]

    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
    ).all()
    rows = session.exec(
        select(Deadline).where(Deadline.case_id == case_id).order_by(col(Deadline.due_at), col(Deadline.id))
    ).all()
    messages = session.exec(
        select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(col(OutboxMessage.id))
    ).all()
    return {
        "case": {
            "id": case.id,
            "state": case.state,
            "level": case.level,
            "round": case.current_round,
            "ladder": list(policy.states),
            "opened_at": at(case.created_at),
            "notice_due_on": case.notice_due_on.isoformat() if case.notice_due_on else None,
            "returned_on": case.returned_on.isoformat() if case.returned_on else None,
        },
        "events": [
            {"at": at(e.at), "kind": e.kind, "from": e.from_state, "to": e.to_state,
             "by": who(e.actor_id), "note": e.note, "data": e.data}
            for e in events
        ],
        "deadlines": [
            {"kind": d.kind, "level": d.payload.get("level"), "due_at": at(d.due_at),
             "status": d.status, "acted_at": at(d.acted_at), "result": d.result}
            for d in rows
        ],
        "told": [
            {"to": who(m.recipient_id), "kind": m.kind, "queued_at": at(m.created_at),
             "sent_at": at(m.sent_at), "status": m.status,
             "text": text_from_json(m.payload["text"]).render(lang) if "text" in m.payload else None}
            for m in messages
        ],
    }
