"""A scheduler process that is killed mid-tick (tests/test_scheduler.py runs it).

``python -m tests.scheduler_child URL KEY WHEN POLICY DIE_AT BATCH`` ticks once at the
frozen time ``WHEN`` (ISO 8601) and, on the ``DIE_AT``-th row it acts on, writes that
batch's work so far to the database (flush, not commit) and dies with ``os._exit(9)``:
no rollback, no cleanup, the connection simply drops, as with ``kill -9`` or a power cut.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from casework import deadlines, scheduler
from casework.clock import FrozenClock
from casework.context import Casework
from casework.personal import configure_encryption
from casework.policy import load_named
from models import db
from models.tables import Deadline

KILLED = 9


def main(argv: list[str]) -> int:
    url, key, when, policy_name, die_at, batch = argv
    configure_encryption(key)
    engine = db.make_engine(url)
    clock = FrozenClock(datetime.fromisoformat(when))
    real_handle = deadlines.handle
    seen = 0

    def handle_then_die(cw: Casework, deadline: Deadline) -> str:
        nonlocal seen
        seen += 1
        if seen == int(die_at):
            cw.session.flush()  # the batch's work so far is in the database, uncommitted
            os._exit(KILLED)
        return real_handle(cw, deadline)

    deadlines.handle = handle_then_die  # type: ignore[assignment]
    scheduler.tick(engine, clock, load_named(policy_name), batch_size=int(batch), planners=())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
