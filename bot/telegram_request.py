"""The bot's HTTP requests to the Bot API, telling "Telegram answered" from "it did not".

PTB raises the same kinds of exception whether a request never reached Telegram and
whether Telegram accepted it but its answer could not be read (a body that is not JSON, a
``result`` PTB fails to turn into a ``Message``). For the outbox the difference decides
between sending again and a message received twice, so :class:`AnswerAwareRequest` notes
the HTTP status of every answer in the :func:`watching` block around the call (a context
variable: concurrent sends in other tasks each see only their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from telegram.request import HTTPXRequest

_statuses: ContextVar[list[int] | None] = ContextVar("bot_api_statuses", default=None)


class AnswerAwareRequest(HTTPXRequest):
    """``HTTPXRequest`` that records each answer's HTTP status for :func:`watching`."""

    __slots__ = ()

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        box = _statuses.get()
        if box is not None:
            box.append(code)
        return code, payload


@contextmanager
def watching() -> Iterator[list[int]]:
    """The HTTP statuses of the Bot API answers received inside the block, in order."""
    box: list[int] = []
    token = _statuses.set(box)
    try:
        yield box
    finally:
        _statuses.reset(token)


def accepted(statuses: list[int]) -> bool:
    """Telegram answered 2xx: the Bot API did what was asked, whatever the body says."""
    return any(200 <= code <= 299 for code in statuses)
