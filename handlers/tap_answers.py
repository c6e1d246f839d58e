"""The answer to a tap (``answerCallbackQuery``), in the webhook's HTTP response.

Telegram lets a webhook answer an update with one Bot API call of its own ("making
requests when getting updates"): the response body names the method and its parameters.
In webhook mode the tap's single answer goes there (:func:`collecting`, around the
update's handlers), which saves each tap one request to Telegram of the three it makes.
Anywhere else (polling, the sandbox, a job after the response) :func:`answer` is the
ordinary call.

The answer is still given once: the first one inside the block is kept; a second one for
the same tap (the error handler's, after a turn that answered and then failed) is refused
as Telegram refuses a second answer, with the same error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from telegram import CallbackQuery, Update
from telegram.error import BadRequest

# what Telegram says to a second answer of one tap (and the fake Bot API too)
ANSWERED_ALREADY = "Query is too old and response timeout expired or query ID is invalid"


class TapAnswer:
    """The answer to the tap of one update, collected for the webhook's response."""

    def __init__(self, query_id: str) -> None:
        self.query_id = query_id
        self.params: dict[str, Any] | None = None  # once answered
        self.open = True  # the response is not written yet

    def response(self) -> bytes | None:
        """The response body that makes Telegram answer the tap; None if nothing was
        answered. Later answers (a job's) are ordinary calls."""
        self.open = False
        if self.params is None:
            return None
        return json.dumps({"method": "answerCallbackQuery", **self.params},
                          ensure_ascii=False, separators=(",", ":")).encode()


_collector: ContextVar[TapAnswer | None] = ContextVar("tap_answer", default=None)


@contextmanager
def collecting(update: Update) -> Iterator[TapAnswer | None]:
    """Inside the block, the answer to ``update``'s tap is kept for the response (None for
    an update that is not a tap)."""
    query = update.callback_query
    if query is None:
        yield None
        return
    box = TapAnswer(query.id)
    token = _collector.set(box)
    try:
        yield box
    finally:
        _collector.reset(token)
        box.open = False


async def answer(query: CallbackQuery, text: str | None = None,
                 show_alert: bool | None = None) -> bool:
    """``query.answer(text, show_alert=…)``, or kept for the webhook's response."""
    box = _collector.get()
    if box is None or not box.open or box.query_id != query.id:
        return await query.answer(text, show_alert=show_alert)
    if box.params is not None:
        raise BadRequest(ANSWERED_ALREADY)
    params: dict[str, Any] = {"callback_query_id": query.id}
    if text is not None:
        params["text"] = text
    if show_alert is not None:
        params["show_alert"] = show_alert
    box.params = params
    return True
