"""The context every domain call runs in: one session (one transaction), the clock, the
policy and its calendars. Adapters build one per update or tick; tests build one with a
frozen clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from casework.calendars import Calendars
from casework.clock import Clock, to_db
from casework.policy import Policy
from models.tables import AuditEvent, User

# a list view's audit row names at most this many children (with the full count)
MAX_AUDITED_IDS = 200


@dataclass(frozen=True)
class Operator:
    """Who runs a command at the command line (no bot user is the actor there): the
    OS account, or the bot user they named with ``--as`` (``user_id``)."""

    name: str
    user_id: int | None = None


@dataclass
class Casework:
    session: Session
    clock: Clock
    policy: Policy
    calendars: Calendars = field(init=False)
    # the command line's operator, written into the audit rows that have no actor
    operator: Operator | None = None
    # list views already audited in this unit of work (a turn may compute a list twice)
    _listed: set[tuple[Any, ...]] = field(init=False, default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.calendars = Calendars(self.policy)

    def now(self) -> datetime:
        return self.clock.now()

    def now_db(self) -> datetime:
        return to_db(self.clock.now())

    def today(self) -> date:
        return self.calendars.local_date(self.clock.now())

    def audit(
        self,
        actor: User | None,
        action: str,
        object_type: str,
        object_id: int | None,
        *,
        allowed: bool = True,
        **detail: Any,
    ) -> AuditEvent:
        actor_id = actor.id if actor else None
        if actor is None and self.operator is not None:
            actor_id = self.operator.user_id
            detail = {**detail, "operator": self.operator.name}
        event = AuditEvent(
            at=self.now_db(),
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            allowed=allowed,
            detail=detail,
        )
        self.session.add(event)
        return event

    def audit_list(
        self,
        actor: User | None,
        action: str,
        object_type: str,
        ids: Iterable[int | None],
        *,
        object_id: int | None = None,
        **detail: Any,
    ) -> AuditEvent | None:
        """Audit a view of a list of children (``/cases``, a student search, a roster
        preview) like a view of one case: one row naming the ids shown (the first
        :data:`MAX_AUDITED_IDS`, with ``count`` of them all). The same list shown again
        in the same unit of work is not recorded twice (None then). An empty list is
        recorded too: it says who looked, and that nobody matched."""
        shown = [i for i in ids if i is not None]
        key = (actor.id if actor else None, action, object_type, object_id, tuple(shown))
        if key in self._listed:
            return None
        self._listed.add(key)
        if len(shown) > MAX_AUDITED_IDS:
            detail["truncated"] = True
        return self.audit(actor, action, object_type, object_id,
                          ids=shown[:MAX_AUDITED_IDS], count=len(shown), **detail)
