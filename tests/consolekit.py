"""Helpers for the console's tests: the console mounted at /console as the webhook app and
the sandbox mount it, an HTTP client on it (in process, or a real server for Chromium),
and the sign-in link read off the bot's reply to /console, as an officer gets it."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import Session, col, select

from models.tables import AuditEvent
from sandbox.console import console_app

CONSOLE = "/console"
LINK = re.compile(r"(http://\S+/console/login\?u=\d+&t=[\w-]+)")
SECRET = b"test console secret, 32 bytes..."


def make_app(harness: Any, origin: str = "http://testserver", refresh_seconds: int = 30) -> FastAPI:
    """The console on the harness's database, clock and fake Telegram, mounted at /console;
    the bot's /console links point at ``origin``."""
    harness.services.console_url = origin + CONSOLE
    app = FastAPI()
    app.mount(CONSOLE, console_app(harness.services, harness.tg, SECRET, "baoxue_test_bot",
                                   refresh_seconds))
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def link_from_bot(chat: Any) -> str:
    """``/console`` sent to the bot; the link in its reply."""
    await chat.send("/console")
    found = LINK.search(chat.reply_texts[-1])
    assert found, chat.reply_texts
    return found.group(1)


def path_of(link: str) -> str:
    return link.split("://", 1)[1].split("/", 1)[1].join(("/", ""))


async def follow(http: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link from the bot, and press its one button (what spends the link)."""
    page = await http.get(path_of(link))
    assert page.status_code == 200 and 'data-testid="sign-in"' in page.text
    query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    return await http.post(CONSOLE + "/login", data={"u": query["u"], "t": query["t"]})


async def signed_in(http: httpx.AsyncClient, link: str) -> httpx.Response:
    res = await follow(http, link)
    assert res.status_code == 303, res.text
    return res


def audits(engine: Any, action: str, *, allowed: bool | None = None) -> list[AuditEvent]:
    with Session(engine) as s:
        query = select(AuditEvent).where(AuditEvent.action == action)
        if allowed is not None:
            query = query.where(col(AuditEvent.allowed).is_(allowed))
        return list(s.exec(query.order_by(col(AuditEvent.id))).all())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The console app served by uvicorn on a free loopback port, in a thread of its own
    (the browser tests: Chromium needs a real socket)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        import uvicorn

        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def png(width: int = 320, height: int = 240, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A real PNG of one colour (a photo stand-in Chromium can draw)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def photo_in_telegram(harness: Any, rgb: tuple[int, int, int] = (40, 120, 200)) -> dict[str, Any]:
    """A photo held by the fake Telegram, as evidence refers to it (its file id)."""
    stored = harness.tg._store_file(png(rgb=rgb), kind="photo", mime_type="image/png")  # noqa: SLF001
    return {"kind": "photo", "file_id": stored.file_id, "width": 320, "height": 240}


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
