"""One unit of work: one session, one transaction, committed only if the call succeeds.

A refused access is different: the change is rolled back, but the attempt itself is
written to the audit log and committed, so a probe of someone else's case leaves a trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlmodel import Session

from casework.clock import Clock
from casework.context import Casework, Operator
from casework.errors import AccessDenied
from casework.policy import Policy
from models.tables import AuditEvent


def record_denial(cw: Casework, err: AccessDenied) -> AuditEvent:
    """After a rollback: write the refused attempt to the audit log (caller commits)."""
    detail = dict(err.detail)
    event = AuditEvent(
        at=cw.now_db(),
        actor_id=detail.pop("actor_id", None),
        action=str(detail.pop("action", "access")),
        object_type=str(detail.pop("object_type", "case")),
        object_id=detail.pop("object_id", None),
        allowed=False,
        detail={k: v for k, v in detail.items() if isinstance(v, str | int | float | bool)},
    )
    cw.session.add(event)
    return event


@contextmanager
def unit_of_work(
    engine: Engine, clock: Clock, policy: Policy, *, operator: Operator | None = None
) -> Iterator[Casework]:
    with Session(engine, expire_on_commit=False) as session:
        cw = Casework(session, clock, policy, operator=operator)
        try:
            yield cw
            session.commit()
        except AccessDenied as err:
            session.rollback()
            record_denial(cw, err)
            session.commit()
            raise
        except BaseException:
            session.rollback()
            raise
