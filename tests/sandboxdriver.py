"""Drive the served sandbox from outside, as a trainer or an evaluator would: only its HTTP
API (the personas, their chats, the taps and the typing, the clock bar, a case's timeline).

The sandbox is started through its own start-up path (``sandbox.database.prepare`` seeds
the demo county as of the chosen start, as SANDBOX_START does; then ``sandbox.server``'s
app is served on a free loopback port with its clock started there). The bot answers a
message or a tap a moment later (it long-polls its Bot API stand-in), so every action
waits until the chat has settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn

from bot.runtime import Runtime
from sandbox import server as sandbox_server

Drive = Callable[["Sandbox"], Awaitable[Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(runtime: Runtime, start: datetime, *, timeout: float = 120.0
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The sandbox served as ``baoxue sandbox`` does, its clock at ``start``, once its bot
    runs: a client of its HTTP API and the sandbox itself; stopped on the way out."""
    port = free_port()
    app = sandbox_server.create_app(runtime, host="127.0.0.1", port=port, start=start)
    server = sandbox_server._Server(  # noqa: SLF001 - its own server
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"), app.state.sandbox)
    serving = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=timeout) as client:
            for _ in range(600):
                assert not serving.done(), "the sandbox stopped while starting"
                try:
                    if (await client.get("/healthz")).json().get("bot") == "running":
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the sandbox bot never ran")
            yield client, app.state.sandbox
    finally:
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(serving, 30)


async def serve(runtime: Runtime, start: datetime, drive: Drive) -> Any:
    """Serve the sandbox with its clock at ``start``, run ``drive`` against it, stop it."""
    async with serving(runtime, start) as (client, _sandbox):
        return await drive(Sandbox(client, await _personas(client)))


async def _personas(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    res = await client.get("/sandbox/api/personas")
    assert res.status_code == 200
    return {p["key"]: p for p in res.json()["personas"]}


class Sandbox:
    """The page's API, by persona key (``teacher5``, ``county_government``…)."""

    def __init__(self, client: httpx.AsyncClient, personas: dict[str, dict[str, Any]]) -> None:
        self.client = client
        self.personas = personas

    def uid(self, key: str) -> int:
        return int(self.personas[key]["id"])

    # --- the chat

    async def chat(self, key: str) -> dict[str, Any]:
        res = await self.client.get(f"/sandbox/api/chat/{self.uid(key)}")
        assert res.status_code == 200
        data: dict[str, Any] = res.json()
        return data

    async def settled(self, key: str, seq: str) -> None:
        """Wait until the chat changed from ``seq`` and then stayed still a moment."""
        changed, still, last = False, 0, seq
        for _ in range(300):
            await asyncio.sleep(0.1)
            now = (await self.chat(key))["seq"]
            if now != last:
                changed, still, last = True, 0, now
            elif changed:
                still += 1
                if still >= 4:
                    return
        raise AssertionError(f"{key}'s chat never settled")

    async def send(self, key: str, text: str) -> None:
        seq = (await self.chat(key))["seq"]
        res = await self.client.post("/sandbox/api/send", data={"user_id": self.uid(key), "text": text})
        assert res.status_code == 200
        await self.settled(key, seq)

    async def tap(self, key: str, message_id: int, data: str) -> None:
        seq = (await self.chat(key))["seq"]
        res = await self.client.post(
            "/sandbox/api/tap", data={"user_id": self.uid(key), "message_id": message_id, "data": data}
        )
        assert res.status_code == 200, res.text
        await self.settled(key, seq)

    async def button(
        self, key: str, match: Callable[[str, str], bool], wait: float = 30.0
    ) -> tuple[int, str]:
        """The newest bot message's button for which ``match(data, text)`` holds, waiting up
        to ``wait`` seconds for it (the outbox sender delivers alerts a moment after a tick)."""
        for _ in range(max(1, int(wait / 0.5))):
            for msg in reversed((await self.chat(key))["messages"]):
                if not msg["from_bot"]:
                    continue
                for row in msg["buttons"]:
                    for b in row:
                        if match(b["data"], b["text"]):
                            return int(msg["id"]), str(b["data"])
            await asyncio.sleep(0.5)
        raise AssertionError(f"no such button in {key}'s chat")

    async def tap_data(self, key: str, data: str, wait: float = 30.0) -> None:
        message_id, found = await self.button(key, lambda d, _t: d == data, wait)
        await self.tap(key, message_id, found)

    async def texts(self, key: str) -> list[str]:
        """The bot's messages in the chat, as plain text, oldest first."""
        msgs = [m for m in (await self.chat(key))["messages"] if m["from_bot"]]
        return [re.sub(r"<[^>]+>", "", str(m["html"])) for m in msgs]

    async def last_text(self, key: str) -> str:
        msgs = [m for m in (await self.chat(key))["messages"] if m["from_bot"]]
        return re.sub(r"<[^>]+>", "", str(msgs[-1]["html"])) if msgs else ""

    # --- a conversation's step, by the step's name

    async def answer(self, key: str, step: str, choice: str | None = None, text: str | None = None) -> None:
        """Type ``text``, or tap ``choice`` (an option code, ``!skip``, ``!done``, ``!ok``…;
        None: the step's first option) on the newest question of ``step``."""
        if text is not None:
            await self.send(key, text)
            return

        def fits(data: str, _text: str) -> bool:
            parts = data.split("|")
            if len(parts) != 4 or parts[0] != "s" or parts[2] != step:
                return False
            return parts[3] == choice if choice is not None else not parts[3].startswith("!")

        message_id, data = await self.button(key, fits)
        await self.tap(key, message_id, data)

    async def options(self, key: str, step: str) -> list[tuple[int, str]]:
        """The newest question of ``step``: its options' (message, data), in order."""
        for msg in reversed((await self.chat(key))["messages"]):
            found = [
                (int(msg["id"]), str(b["data"]))
                for row in msg["buttons"] for b in row
                if b["data"].split("|")[2:3] == [step] and not b["data"].split("|")[3].startswith("!")
            ]
            if msg["from_bot"] and found:
                return found
        raise AssertionError(f"no question {step} in {key}'s chat")

    async def asks(self, key: str, step: str) -> bool:
        try:
            await self.button(key, lambda d, _t: d.split("|")[2:3] == [step], wait=2.0)
        except AssertionError:
            return False
        return True

    # --- the clock and the timeline

    async def clock_to(self, when: datetime) -> None:
        """The clock bar's date field, a few days at a time (each request acts on every
        deadline and calendar job on the way, in order)."""
        now = datetime.fromisoformat((await self.client.get("/sandbox/api/clock")).json()["now"])
        while now < when:
            now = min(when, now + timedelta(days=4))
            res = await self.client.post("/sandbox/api/clock", data={"step": "to", "to": now.isoformat()})
            assert res.status_code == 200, res.text
        # what the tick queued reaches the chats
        await asyncio.sleep(1.5)

    async def timeline(self, case_id: int, lang: str = "en") -> dict[str, Any]:
        res = await self.client.get(f"/sandbox/api/cases/{case_id}/timeline", params={"lang": lang})
        assert res.status_code == 200
        data: dict[str, Any] = res.json()
        return data

    # --- what people do

    async def report(self, key: str, absent_since: str) -> int:
        """A teacher reports one of their pupils who has no open case (表4): the first the
        roster offers that the flow takes. Returns the new case's number."""
        await self.send(key, "/report")
        for n in range(20):
            # a pupil who already has a case is refused and the question asked again: the next
            options = await self.options(key, "stu")
            await self.tap(key, options[n][0], options[n][1])
            if await self.asks(key, "since"):
                break
        await self.answer(key, "since", text=absent_since)
        await self.answer(key, "why")
        await self.answer(key, "why", "!done")
        await self.answer(key, "where")
        # the pupil's key groups as on record (the step's default button)
        message_id, data = await self.button(
            key, lambda d, _t: d.split("|")[2:] [:1] == ["grp"] and d.split("|")[3].startswith("=")
        )
        await self.tap(key, message_id, data)
        await self.answer(key, "gchk")
        await self.answer(key, "note", "!skip")
        await self.answer(key, "photo", "!skip")
        await self.answer(key, "sum", "!ok")
        for text in reversed(await self.texts(key)):
            found = re.search(r"#(\d+)", text)
            if found is not None:
                return int(found.group(1))
        raise AssertionError("no case number in the reply")

    async def case_action(self, key: str, case_id: int, action: str) -> str:
        """/case N, tap the action's button (and confirm it where it asks); what the bot
        said after the tap, joined (the reply, and a document the outbox may already have
        delivered after it, such as the notice to print)."""
        await self.send(key, f"/case {case_id}")
        before = len(await self.texts(key))
        await self.tap_data(key, f"act:{case_id}:{action}")
        with contextlib.suppress(AssertionError):  # an action done at the first tap
            await self.tap_data(key, f"actok:{case_id}:{action}", wait=2.0)
        return "\n".join((await self.texts(key))[before:])
