"""The bot's HTTP requests to the Bot API, telling "Telegram answered" from "it did not".

PTB raises the same kinds of exception whether a request never reached Telegram and
whether Telegram accepted it but its answer could not be read (a body that is not JSON, a
``result`` PTB fails to turn into a ``Message``). For the outbox the difference decides
between sending again and a message received twice, so every request of ours
(:class:`AnswerAware`) notes the HTTP status of each answer in the :func:`watching` block
around the call (a context variable: concurrent sends in other tasks each see only their own).

Two requests, one contract:

- :class:`BotApiRequest` (aiohttp) is what the bot, the webhook workers and the senders use
  over the network: 0.46 ms of CPU per Bot API call, PTB's own work included, against
  httpx's 1.03 ms (``benchmarks/bench_bot_api.py``); a tap makes two or three calls.
- :class:`AnswerAwareRequest` (PTB's httpx request) is what the tests and the sandbox use:
  httpx can talk to the fake Bot API in-process (``httpx.ASGITransport``), aiohttp cannot.
  ``tests/test_telegram_request.py`` holds the two to the same behaviour over real HTTP.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

_statuses: ContextVar[list[int] | None] = ContextVar("bot_api_statuses", default=None)


def _note(code: int) -> None:
    box = _statuses.get()
    if box is not None:
        box.append(code)


class AnswerAware:
    """A request that notes each answer's HTTP status for :func:`watching`."""

    __slots__ = ()


class AnswerAwareRequest(AnswerAware, HTTPXRequest):
    """PTB's ``HTTPXRequest``, noting each answer's HTTP status."""

    __slots__ = ()

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        _note(code)
        return code, payload


def _given(value: Any, default: float | None) -> float | None:
    """A timeout passed to a bot method, or the request's own where none was."""
    # any DefaultValue, as HTTPXRequest reads it: PTB may pass one other than DEFAULT_NONE
    return default if isinstance(value, DefaultValue) else value


class BotApiRequest(AnswerAware, BaseRequest):
    """The Bot API over aiohttp: ``HTTPXRequest``'s parameters, timeouts and errors.

    - ``connection_pool_size`` connections at most; a request waits ``pool_timeout`` for
      one, then ``connect_timeout`` to connect, and each read of the answer may take
      ``read_timeout``. An upload's answer may take ``media_write_timeout`` more: aiohttp
      has no write timeout of its own, and its read clock runs while the file goes up.
    - A timeout raises ``TimedOut``, any other failure to get an answer ``NetworkError``
      (whose kind the turn and the outbox read: sent again later, never lost).
    - No redirects followed, no cookies kept; through the proxy in ``HTTPS_PROXY`` (or
      ``HTTP_PROXY``; ``NO_PROXY`` heeded), read when the request is made, as httpx did.
    """

    __slots__ = ("_connect", "_media_write", "_pool", "_pool_size", "_proxies", "_read",
                 "_session", "_via")

    def __init__(
        self,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        del write_timeout  # aiohttp writes without a clock of its own; see media_write_timeout
        self._pool_size = connection_pool_size
        self._read, self._connect, self._pool = read_timeout, connect_timeout, pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies = urllib.request.getproxies_environment()
        self._via: dict[tuple[str, str], str | None] = {}  # (scheme, host) → its proxy

    @property
    def read_timeout(self) -> float | None:
        return self._read

    @property
    def pool_size(self) -> int:
        return self._pool_size

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                # not trust_env: it looks the proxy up in a thread on every request (two
                # thread hops a call, half the client's CPU); _proxy_for reads it once
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
            )

    def _proxy_for(self, url: str) -> str | None:
        """The proxy ``HTTPS_PROXY``/``HTTP_PROXY`` name for ``url`` (``NO_PROXY`` heeded)."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._via:
            bypass = urllib.request.proxy_bypass(key[1])
            self._via[key] = None if bypass else self._proxies.get(key[0])
        return self._via[key]

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:  # as HTTPXRequest, usable before initialize()
            await self.initialize()
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This BotApiRequest is shut down!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        data: Any = fields
        read = _given(read_timeout, self._read)
        if files:
            # a file's name as it is, in UTF-8, as httpx and Telegram's own apps send it
            # (quoted, a teacher would get "%E5%8F%B0%E8%B4%A6.xlsx" instead of 台账.xlsx)
            data = aiohttp.FormData(fields or {}, quote_fields=False)
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, content, filename=filename, content_type=mimetype)
            upload = _given(write_timeout, self._media_write)
            read = None if read is None or upload is None else read + upload
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_read=read, sock_connect=connect,
            # aiohttp's "connect" is the wait for a pooled connection and the connecting
            connect=None if connect is None or pool is None else connect + pool,
        )
        try:
            async with session.request(method, url, data=data, timeout=timeout,
                                       proxy=self._proxy_for(url),
                                       allow_redirects=False) as answer:
                payload = await answer.read()
        except TimeoutError as err:  # aiohttp's own timeouts are TimeoutErrors too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
        _note(answer.status)
        return answer.status, payload


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
