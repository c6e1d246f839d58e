"""Work that outlives its update: a ledger being made, a roster being read.

A turn asks for it (``Replies.start_job``); ``handlers.turns.deliver`` starts it here after
the commit, as a task of its own, so the bot answers everyone else meanwhile. An exception
in it goes to the one error handler, as if the handler had raised it. Shutdown and tests
wait for what is running with ``wait``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from conversations.replies import Job

# the tasks in flight
RUNNING: set[asyncio.Task[Any]] = set()


def start(job: Job, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    task = asyncio.create_task(_guarded(job(update, context), update, context))
    RUNNING.add(task)
    task.add_done_callback(RUNNING.discard)


async def _guarded(work: Coroutine[Any, Any, None] | Any, update: Update,
                   context: ContextTypes.DEFAULT_TYPE) -> None:
    try:
        await work
    except Exception as err:  # to the error handler, as if the handler had raised it
        await context.application.process_error(update, err)


async def wait() -> None:
    """Wait until every job started so far is done (tests, shutdown)."""
    while RUNNING:
        await asyncio.gather(*list(RUNNING), return_exceptions=True)
