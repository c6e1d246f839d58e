"""The sandbox's chats survive a restart (issue #12): the stand-in Telegram keeps its
messages in the sandbox's own database (``sandbox.chatstore``), so after ``make run`` is
stopped and started again on the same database the clock goes on from where it was and an old message is still in the officer's
chat with its buttons, and tapping one still reaches the bot, which answers it.

In process, through the sandbox's start-up path (``sandbox.database.prepare``, then the
app served on a free loopback port), twice on one database. Runs on SQLite or
TEST_DATABASE_URL. The same run checks the page's 流程图: the running policy's ladder diagram.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.runtime import Runtime, boot
from bot.settings import Settings
from casework.personal import Cipher
from documents.ladder_diagram import ladder_svg
from models import types as model_types
from sandbox.database import prepare
from tests.conftest import local
from tests.sandboxdriver import serving

SEEDED_AT = local(2026, 11, 23, 9, 0)


@pytest.fixture
def restore_cipher() -> Iterator[None]:
    previous = model_types._cipher
    yield
    if previous is not None:
        model_types.install_cipher(previous)


Step = Callable[[httpx.AsyncClient, Any], Awaitable[dict[str, Any]]]


async def _serve(runtime: Runtime, step: Step) -> dict[str, Any]:
    """Serve the sandbox as ``baoxue sandbox`` does, run ``step`` against it, stop it."""
    async with serving(runtime, SEEDED_AT, timeout=30) as (client, sandbox):
        return await step(client, sandbox)


async def _chat(client: httpx.AsyncClient, user_id: int) -> list[dict[str, Any]]:
    res = await client.get(f"/sandbox/api/chat/{user_id}")
    assert res.status_code == 200
    messages: list[dict[str, Any]] = res.json()["messages"]
    return messages


def test_an_old_alert_keeps_its_buttons_after_a_restart(db_url: str, tmp_path: Path,
                                                         restore_cipher: None) -> None:
    runtime = boot(Settings(database_url=db_url, encryption_key=Cipher.generate_key(),
                            dev_key_file=tmp_path / "unused-key", policy="datian"))
    try:
        assert prepare(runtime, SEEDED_AT) is True

        async def first_run(client: httpx.AsyncClient, sandbox: Any) -> dict[str, Any]:
            officer = next(p["id"] for p in sandbox.personas() if p["key"] == "township_officer1")
            # the officer asks for the menu: the bot answers with buttons
            assert (await client.post("/sandbox/api/send", data={"user_id": officer, "text": "/menu"})).status_code == 200
            alert = None
            for _ in range(100):
                alert = next((m for m in reversed(await _chat(client, officer))
                              if m["from_bot"] and any(b["data"] for row in m["buttons"] for b in row)),
                             None)
                if alert is not None:
                    break
                await asyncio.sleep(0.1)
            assert alert is not None, "the bot answered /menu with no buttons"
            # the clock moved a day on: a restart must not put it back
            moved = await client.post("/sandbox/api/clock", data={"step": "day"})
            # the page's 流程图: the running policy's ladder as an SVG (issue #11)
            page = (await client.get("/")).text
            ladder = await client.get("/sandbox/api/ladder.svg", params={"lang": "zh_Hans"})
            return {"officer": officer, "alert": alert, "count": len(await _chat(client, officer)),
                    "page": page, "ladder": ladder,
                    "moved_to": datetime.fromisoformat(moved.json()["now"])}

        before = asyncio.run(_serve(runtime, first_run))
        assert 'id="ladder-link"' in before["page"] and '"ladder": "流程图"' in before["page"]
        assert before["ladder"].status_code == 200
        assert before["ladder"].headers["content-type"].startswith("image/svg+xml")
        assert before["ladder"].text == ladder_svg(runtime.policy, "zh_Hans")
        assert "<svg" in before["ladder"].text

        async def second_run(client: httpx.AsyncClient, sandbox: Any) -> dict[str, Any]:
            officer = before["officer"]
            chat = await _chat(client, officer)
            again = next((m for m in chat if m["id"] == before["alert"]["id"]), None)
            data = next(b["data"] for row in before["alert"]["buttons"] for b in row if b["data"])
            tapped = await client.post("/sandbox/api/tap", data={
                "user_id": officer, "message_id": before["alert"]["id"], "data": data})
            answered = False
            for _ in range(100):
                if any(a.answered and a.message_id == before["alert"]["id"]
                       for a in sandbox.tg.callback_answers):
                    answered = True
                    break
                await asyncio.sleep(0.1)
            now = datetime.fromisoformat((await client.get("/sandbox/api/clock")).json()["now"])
            return {"chat": chat, "again": again, "tap": tapped.status_code, "answered": answered,
                    "now": now}

        after = asyncio.run(_serve(runtime, second_run))
        # the whole chat is back, the alert with its words and its buttons
        assert len(after["chat"]) >= before["count"]
        assert after["again"] is not None, "the old alert is gone after the restart"
        assert after["again"]["html"] == before["alert"]["html"]
        assert after["again"]["buttons"] == before["alert"]["buttons"]
        # the clock goes on from where the first run left it, not back to today
        assert after["now"] >= before["moved_to"]
        # and tapping it still reaches the bot, which answers the tap
        assert after["tap"] == 200
        assert after["answered"], "the bot did not answer a tap on the restored alert"
    finally:
        runtime.engine.dispose()
