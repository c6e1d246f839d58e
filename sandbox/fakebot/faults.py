"""Error injection: the next matching calls answer an error (:meth:`Faults.inject`) or a
garbled body after doing their work (:meth:`Faults.garble_answer`); sends to a user who
blocked the bot answer 403; the flood limits are checked here too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeVar

from sandbox.fakebot.limits import Limits
from sandbox.fakebot.protocol import (
    _SEND_METHODS,
    JSON,
    Params,
    TelegramApiError,
    _default_description,
)

# Methods that answer 403 when the target private chat has blocked the bot.
_BLOCKABLE_METHODS = _SEND_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
}


@dataclass(kw_only=True)
class _Armed:
    """Something armed for the next ``remaining`` calls matching ``method`` and ``chat_id``
    (``None`` matches anything; ``remaining=None``: until cleared)."""

    method: str | None
    chat_id: int | None
    remaining: int | None
    hits: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


_A = TypeVar("_A", bound=_Armed)


def _take(armed: list[_A], method: str, chat_id: int | None) -> tuple[_A | None, list[_A]]:
    """The first of ``armed`` matching the call, counted as used; and what stays armed."""
    for item in armed:
        if item.matches(method, chat_id):
            item.hits += 1
            if item.remaining is not None:
                item.remaining -= 1
            return item, [a for a in armed if a.remaining is None or a.remaining > 0]
    return None, armed


@dataclass(kw_only=True)
class Injection(_Armed):
    """A fault armed with :meth:`FakeTelegram.inject`."""

    error_code: int
    description: str
    retry_after: int | None

    def to_error(self) -> TelegramApiError:
        params = {"retry_after": self.retry_after} if self.retry_after else None
        return TelegramApiError(self.error_code, self.description, params)


@dataclass(kw_only=True)
class Garble(_Armed):
    """An unreadable answer armed with :meth:`FakeTelegram.garble_answer`: the call is
    carried out (the message is delivered), then answered 200 with ``body``."""

    body: bytes


class Faults(Limits):
    """Injected errors and garbled answers, checked before and after every call."""

    _injections: list[Injection]
    _garbles: list[Garble]

    def inject(
        self,
        method: str | None = None,
        chat_id: int | None = None,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
    ) -> Injection:
        """Make the next ``times`` matching calls fail (``times=None``: until cleared).

        ``method`` and ``chat_id`` narrow the match (``None`` matches anything).  A 429 always
        carries ``parameters.retry_after`` (default 1) as Telegram's does.
        """
        if error_code == 429 and not retry_after:
            retry_after = 1
        injection = Injection(
            method=method,
            chat_id=chat_id,
            error_code=error_code,
            description=description or _default_description(error_code, retry_after),
            retry_after=retry_after,
            remaining=times,
        )
        self._injections.append(injection)
        return injection

    def clear_injections(self) -> None:
        self._injections.clear()
        self._garbles.clear()

    def garble_answer(
        self,
        method: str | None = None,
        chat_id: int | None = None,
        *,
        body: bytes | JSON,
        times: int | None = 1,
    ) -> Garble:
        """Carry out the next ``times`` matching calls but answer each 200 with ``body``
        (bytes as they are, a dict as JSON): Telegram took the message, its answer is
        unreadable (``{"ok": true, "result": "?"}``, a proxy's HTML page…)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        garble = Garble(method=method, chat_id=chat_id, body=raw, remaining=times)
        self._garbles.append(garble)
        return garble

    def _garbled(self, method: str, params: Params) -> bytes | None:
        garble, self._garbles = _take(self._garbles, method, self._chat_id_of(params))
        return garble.body if garble is not None else None

    def _check_faults(self, method: str, params: Params) -> None:
        chat_id = self._chat_id_of(params)
        injection, self._injections = _take(self._injections, method, chat_id)
        if injection is not None:
            raise injection.to_error()
        if method in _BLOCKABLE_METHODS and chat_id is not None and chat_id in self._blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        if self.enforce_limits and method in _SEND_METHODS:
            self._enforce_flood_limits(chat_id)
