"""What every handler needs, kept in ``application.bot_data["services"]``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from casework.clock import Clock
from casework.policy import Policy
from documents.tabular import UploadLimits

DEFAULT_CONVERSATION_TTL_DAYS = 7


@dataclass
class Services:
    engine: Engine
    clock: Clock
    policy: Policy
    bot_username: str = ""
    # limits on reading an uploaded roster (settings ROSTER_*)
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
    # unfinished conversations (their drafts) are deleted after this many days untouched
    conversation_ttl_days: int = DEFAULT_CONVERSATION_TTL_DAYS
    # the chat the error handler reports exceptions to (settings OPERATOR_CHAT_ID); None: the log only
    operator_chat_id: int | None = None
    # the officers' console's address (settings CONSOLE_URL): /console links point there
    console_url: str | None = None
    _workers: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def workers(self) -> ThreadPoolExecutor:
        """The threads each update's unit of work runs in, off the event loop.

        As many as the engine's pool keeps connections: a turn in a worker always finds a
        connection, and more turns than that wait in the executor's queue (not holding a
        thread on a pool checkout). The pool's overflow is left to the scheduler tick, the
        outbox sender and ledger exports.
        """
        if self._workers is None:
            pool = self.engine.pool
            size = pool.size() if isinstance(pool, QueuePool) else 1
            self._workers = ThreadPoolExecutor(max_workers=max(1, size), thread_name_prefix="turn")
        return self._workers

    def close(self) -> None:
        """Let running turns finish, then stop the worker threads."""
        if self._workers is not None:
            self._workers.shutdown(wait=True)
            self._workers = None
