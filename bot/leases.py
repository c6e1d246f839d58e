"""Leases: a role that only one process may play at a time, with failover.

The outbox sender is such a role. Telegram's limits are per bot (30 messages a second in
all, one a second per chat), so a second sender cannot deliver faster; it can only break
the pacing and send rows twice. Every process that may send (each webhook worker, each
``baoxue sender``) asks for the lease; the holder sends and renews it, the others stand by
and take over once a holder has stopped renewing for ``ttl`` (a crash, a hung process).

The lease is one row, taken with a conditional UPDATE, which PostgreSQL and SQLite both
apply atomically: of two processes asking at once, exactly one gets it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, case, insert, update
from sqlalchemy.exc import IntegrityError

from casework.clock import Clock, to_db
from models.tables import ProcessLease

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def holder_name() -> str:
    """Who this process is, in the lease row: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """The lease ``name`` as seen by one process (``holder``)."""

    engine: Engine
    clock: Clock
    name: str
    ttl: timedelta = timedelta(seconds=30)
    holder: str = field(default_factory=holder_name)

    def acquire(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = self.clock.now()
        table = ProcessLease.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(table)
                .where(
                    table.c.name == self.name,
                    (table.c.holder == self.holder) | (table.c.expires_at <= to_db(now)),
                )
                .values(
                    holder=self.holder,
                    expires_at=to_db(now + self.ttl),
                    acquired_at=case(
                        (table.c.holder == self.holder, table.c.acquired_at), else_=to_db(now)
                    ),
                )
            ).rowcount
        if taken:
            return True
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(table).values(
                        name=self.name, holder=self.holder, expires_at=to_db(now + self.ttl),
                        acquired_at=to_db(now),
                    )
                )
        except IntegrityError:
            return False  # somebody holds it (or took it a moment ago)
        return True

    def release(self) -> None:
        """Give the lease up at once (a clean stop), if this process holds it."""
        table = ProcessLease.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.name == self.name, table.c.holder == self.holder)
                .values(expires_at=to_db(EPOCH))
            )
