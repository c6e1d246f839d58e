"""How long what people leave unfinished is kept.

A conversation left half-way (a report with a child's ID number and a guardian's phone
typed in, a roster waiting for Confirm) is deleted once nobody has touched it for the
operator's ``CONVERSATION_TTL_DAYS``; the step that starts such a flow says so. The
scheduler's tick runs the purge with its housekeeping.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from casework.context import Casework
from models.tables import ConversationState


def purge_abandoned_conversations(cw: Casework, ttl_days: int) -> int:
    """Delete the conversations untouched for ``ttl_days`` days; how many were deleted."""
    if ttl_days < 1:
        raise ValueError("conversations are kept for at least one day")
    cutoff = cw.now_db() - timedelta(days=ttl_days)
    result = cw.session.execute(
        delete(ConversationState).where(col(ConversationState.updated_at) < cutoff)
    )
    deleted = int(result.rowcount)  # type: ignore[attr-defined]
    if deleted:
        cw.audit(None, "conversation.purge", "conversation", None, count=deleted, ttl_days=ttl_days)
    return deleted
