"""Where the console runs: the webhook app serves it at /console beside the webhook, with
the bot's own access to Telegram's files for the evidence; the sandbox serves it on its own
address, the bot's /console links point there, and each officer persona has an "open the
console as this person" link (a teacher has none).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.console import bot_files
from bot.runtime import boot
from bot.settings import Settings
from bot.webhook import create_webhook_app
from casework.personal import Cipher
from models import types as model_types
from sandbox.database import prepare
from tests.consolekit import SECRET, photo_in_telegram
from tests.test_sandbox_chats import SEEDED_AT, _chat, _serve


@pytest.fixture
def restore_cipher() -> Iterator[None]:
    previous = model_types._cipher
    yield
    if previous is not None:
        model_types.install_cipher(previous)


async def test_the_webhook_app_serves_the_console_and_the_bot_fetches_its_files(harness) -> None:  # type: ignore[no-untyped-def]
    from sandbox.console import console_app

    app = create_webhook_app(harness.app, url="https://bot.example.org", secret="s" * 40,
                             manage_lifecycle=False,
                             console=console_app(harness.services, harness.tg, SECRET, "b"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        page = await http.get("/console/overview")
        assert page.status_code == 401 and "/console" in page.text  # the sign-in page
        assert (await http.get("/console/static/console.css")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
    photo = photo_in_telegram(harness)
    data, media = await bot_files(harness.app.bot)(photo["file_id"])  # type: ignore[misc]
    assert data.startswith(b"\x89PNG") and media in ("image/png", "image/jpeg")
    assert await bot_files(harness.app.bot)("NO-SUCH-FILE") is None


def test_the_sandbox_serves_the_console_and_opens_it_as_a_persona(db_url: str, tmp_path: Path,
                                                                  restore_cipher: None) -> None:
    runtime = boot(Settings(database_url=db_url, encryption_key=Cipher.generate_key(),
                            dev_key_file=tmp_path / "unused-key", policy="datian"))
    try:
        assert prepare(runtime, SEEDED_AT) is True

        async def step(client: httpx.AsyncClient, sandbox: Any) -> dict[str, Any]:
            personas = (await client.get("/sandbox/api/personas")).json()["personas"]
            by_key = {p["key"]: p for p in personas}
            assert by_key["township_officer1"]["console"] and not by_key["teacher5"]["console"]
            officer = by_key["township_officer1"]["id"]
            page = await client.get(f"/sandbox/console/{officer}", follow_redirects=True)
            assert page.status_code == 200 and 'data-testid="sign-in"' in page.text
            form = dict(re.findall(r'name="([ut])" value="([^"]*)"', page.text))
            opened = await client.post("/console/login", data=form, follow_redirects=True)
            assert opened.status_code == 200 and str(opened.url).endswith("/console/overview")
            assert by_key["township_officer1"]["name"] in opened.text
            refused = await client.get(f"/sandbox/console/{by_key['teacher5']['id']}")
            # the bot's /console in the sandbox: a link to the sandbox's own address
            await client.post("/sandbox/api/send", data={"user_id": officer, "text": "/console"})
            link = None
            for _ in range(100):
                texts = [m["html"] for m in await _chat(client, officer) if m["from_bot"]]
                found = re.search(r"(http://127\.0\.0\.1:\d+/console/login\?u=\d+&amp;t=[\w-]+)", " ".join(texts))
                if found:
                    link = found.group(1).replace("&amp;", "&")
                    break
                await asyncio.sleep(0.1)
            return {"refused": refused.status_code, "link": link,
                    "base": str(client.base_url)}

        seen = asyncio.run(_serve(runtime, step))
        assert seen["refused"] == 404
        assert seen["link"] is not None and seen["link"].startswith(seen["base"].rstrip("/") + "/console/login")
    finally:
        runtime.engine.dispose()
