"""The officers' console in the sandbox: mounted at ``/console`` on the sandbox's own
address (where the bot's /console links point), the evidence files read from the stand-in
Telegram, and for each persona an "open the console as this person" link
(``/sandbox/console/<telegram id>``), which makes the same one-time link the bot would send.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import RedirectResponse
from sqlmodel import col, select

from bot.console import CONSOLE_PATH, console_secret
from bot.runtime import Runtime
from bot.services import Services
from casework import console_access
from casework.uow import unit_of_work
from models.tables import User
from sandbox.fakebot import FakeTelegram
from web.app import create_console
from web.console import ConsoleConfig, FileSource


def fake_files(tg: FakeTelegram) -> FileSource:
    """A file of the stand-in Telegram by its id (what the bot's get_file would fetch)."""

    async def fetch(file_id: str) -> tuple[bytes, str] | None:
        stored = tg.files.get(file_id)
        if stored is None:
            return None
        media = stored.mime_type or ("image/jpeg" if stored.kind == "photo" else "application/octet-stream")
        return stored.data, media

    return fetch


def console_app(services: Services, tg: FakeTelegram, secret: bytes, bot_username: str,
                refresh_seconds: int = 30) -> FastAPI:
    return create_console(ConsoleConfig(
        engine=services.engine, clock=services.clock, policy=services.policy, secret=secret,
        files=fake_files(tg), base=CONSOLE_PATH, bot_username=lambda: bot_username,
        refresh_seconds=refresh_seconds,
    ))


def mount(app: FastAPI, runtime: Runtime, services: Services, tg: FakeTelegram, *, origin: str,
          bot_username: str, personas: Any) -> None:
    services.console_url = origin + CONSOLE_PATH
    app.mount(CONSOLE_PATH, console_app(services, tg, console_secret(runtime), bot_username))

    @app.get("/sandbox/console/{telegram_id}")
    def open_as(telegram_id: int) -> RedirectResponse:
        """Sign in to the console as a persona: a fresh one-time link, followed at once."""
        if telegram_id not in {p["id"] for p in personas()}:
            raise HTTPException(404, "not a persona")
        with unit_of_work(services.engine, services.clock, services.policy) as cw:
            user = cw.session.exec(select(User).where(col(User.telegram_id) == telegram_id)).first()
            if user is None or not console_access.may_use_console(user):
                raise HTTPException(404, "this persona has no console")
            token = console_access.issue_link(cw, user)
            url = console_access.link_url(CONSOLE_PATH, user.id or 0, token)
        return RedirectResponse(url, status_code=303)
