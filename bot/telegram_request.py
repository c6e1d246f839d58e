"""The bot's HTTP requests to the Bot API, telling "Telegram answered" from "it did not".

PTB raises the same kinds of exception whether a request never reached Telegram and
whether Telegram accepted it but its answer could not be read (a body that is not JSON, a
``result`` PTB fails to turn into a ``Message``). For the outbox the difference decides
between sending again and a message received twice, so :class:`AnswerAwareRequest` notes
the HTTP status of every answer in the :func:`watching` block around the call (a context
variable: concurrent sends in other tasks each see only their own).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx
from telegram.request import HTTPXRequest

_statuses: ContextVar[list[int] | None] = ContextVar("bot_api_statuses", default=None)


class AnswerAwareRequest(HTTPXRequest):
    """``HTTPXRequest`` that records each answer's HTTP status for :func:`watching`, its
    connections on asyncio's streams (:class:`AsyncioBackend`) unless a proxy is set."""

    __slots__ = ()

    def _build_client(self) -> httpx.AsyncClient:
        # a fresh transport for every client PTB builds (it builds another after a shutdown)
        kwargs = dict(self._client_kwargs)
        if kwargs.get("transport") is None and kwargs.get("proxy") is None and not kwargs.get("http2"):
            kwargs["transport"] = asyncio_transport(kwargs["limits"])
        return httpx.AsyncClient(**kwargs)

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


# --- the connections under it: asyncio's streams, not anyio's ---------------------------------
#
# httpcore talks to sockets through anyio under asyncio. Measured in a webhook worker, anyio
# took a third of every Bot API call: each write yields a whole loop turn (a "cancel-shielded
# checkpoint"), and every idle pooled connection is asked whether it is readable through
# anyio's typed-attribute lookup on each request. These streams are asyncio's own; the pool,
# HTTP/1.1 and TLS (``StreamWriter.start_tls``) stay httpcore's and asyncio's.


class AsyncioStream(httpcore.AsyncNetworkStream):
    """An httpcore stream over an asyncio ``StreamReader``/``StreamWriter`` pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as err:
            raise httpcore.ReadTimeout(str(err)) from err
        except OSError as err:
            raise httpcore.ReadError(str(err)) from err

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as err:
            raise httpcore.WriteTimeout(str(err)) from err
        except (OSError, RuntimeError) as err:  # RuntimeError: the transport is closing
            raise httpcore.WriteError(str(err)) from err

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await self._writer.wait_closed()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            await self._writer.start_tls(ssl_context, server_hostname=server_hostname,
                                         ssl_handshake_timeout=timeout)
        except TimeoutError as err:
            await self.aclose()
            raise httpcore.ConnectTimeout(str(err)) from err
        except (OSError, ssl.SSLError) as err:
            await self.aclose()
            raise httpcore.ConnectError(str(err)) from err
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            # an idle connection with something to read is done for: the server closed it
            # (end of stream) or said something unasked (a 408 before closing). asyncio reads
            # the socket as data comes, so the reader's buffer is where it is
            return self._reader.at_eof() or bool(getattr(self._reader, "_buffer", b""))
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio's streams (TCP only: the Bot API is TCP)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None)
        except TimeoutError as err:
            raise httpcore.ConnectTimeout(str(err)) from err
        except OSError as err:
            raise httpcore.ConnectError(str(err)) from err
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not served by this backend")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def asyncio_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport with its connection pool on :class:`AsyncioBackend` (httpx 0.28
    takes no backend: the pool it made is replaced by the same pool on ours)."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    old = transport._pool  # noqa: SLF001
    transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001
        ssl_context=old._ssl_context,  # noqa: SLF001
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True, http2=False, network_backend=AsyncioBackend(),
    )
    return transport
