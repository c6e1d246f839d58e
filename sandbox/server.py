"""The sandbox: try the whole ladder with no Telegram account, no token, no internet.

One process, one port:
- ``/tg/bot<token>/…`` — the Bot API stand-in (``sandbox.fakebot``, the same one the tests use);
- the real bot, long-polling that stand-in over HTTP exactly as it would poll Telegram;
- the scheduler's tick and the outbox sender, on the sandbox's movable clock;
- ``/`` — the web chat: pick a persona of the demo county, chat, move the clock.

Run it with ``baoxue sandbox`` or ``make run``. It is for invented data only: it runs on
no database it did not create (``sandbox.database``), never under BAOXUE_ENV=production,
offers only the demo personas (and guests who joined through the page), and listens on
loopback unless told otherwise — all said in a banner on the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session, col, select

from bot.app import build_application
from bot.runtime import Runtime
from bot.services import Services
from casework.clock import from_db
from casework.policy import Policy
from documents.ladder_diagram import ladder_svg
from documents.tabular import UploadLimits
from models.tables import Deadline, User
from sandbox import console as sandbox_console
from sandbox import web
from sandbox.chatstore import ChatStore
from sandbox.clock import OffsetClock
from sandbox.fakebot import FakeTelegram, create_fake_bot_api

log = logging.getLogger(__name__)

SANDBOX_BOT = "baoxue_sandbox_bot"
OUTBOX_EVERY_S = 1.0
TICK_EVERY_S = 15.0
# the demo county's people offered as personas, in this order
PERSONA_KEYS = ("teacher5", "school_admin2", "village_cadre1", "village_cadre2",
                "township_officer1", "county_officer")
# offered too where the running profile names them: the judicial office, the bodies
EXTRA_PERSONA_KEYS = ("judicial_officer", "county_government", "city_bureau", "poverty_group")


def persona_keys(policy: Policy) -> tuple[str, ...]:
    """The personas the page offers under ``policy``: the six, and whoever of the judicial
    office and the seeds' bodies acts or is told on its ladder."""
    named = {p for level in policy.ladder for p in (*level.responsible, *level.notify)}
    named |= set(policy.escalation.ack_chain) | set(policy.bodies)
    return PERSONA_KEYS + tuple(k for k in EXTRA_PERSONA_KEYS if k in named)


class Sandbox:
    def __init__(self, runtime: Runtime, *, host: str, port: int, start: datetime | None = None) -> None:
        self.runtime = runtime
        self.chats = ChatStore(runtime.engine)
        # a restart goes on from the time the last run reached, never back before it (the
        # database holds what happened until then), even if SANDBOX_START names an earlier one
        reached = self.chats.saved_clock()
        if reached is not None and reached > (start if start is not None else datetime.now(UTC)):
            start = reached
        # SANDBOX_START: a trainer shows a holiday crossing from a chosen day
        self.clock = OffsetClock.starting_at(start) if start is not None else OffsetClock()
        # a token of this run only: the Bot API stand-in on the same port answers no one else
        bot_id = 7_000_000_001
        self.tg = FakeTelegram(bot_id=bot_id, bot_username=SANDBOX_BOT,
                               token=f"{bot_id}:AA{secrets.token_hex(17)}",
                               now=lambda: self.clock.now().timestamp())
        self.services = Services(engine=runtime.engine, clock=self.clock, policy=runtime.policy,
                                 conversation_ttl_days=runtime.settings.conversation_ttl_days,
                                 upload_limits=UploadLimits.from_settings(runtime.settings))
        origin = f"http://{_local_address(host)}:{port}"
        self.application = build_application(
            self.tg.token,
            self.services,
            base_url=f"{origin}/tg/bot",
            base_file_url=f"{origin}/tg/file/bot",
        )
        self._persona_ids = self._register_personas()
        # the chats of the last run, so old alerts keep their buttons (sandbox.chatstore)
        self.chats.load(self.tg)
        self._tasks: list[asyncio.Task[None]] = []
        self._tick_lock = asyncio.Lock()

    # --- personas ----------------------------------------------------------------------

    def _register_personas(self) -> list[dict[str, Any]]:
        """Every demo user gets a Telegram account with the chat opened (so the bot can
        reach them); the chosen few are offered as personas on the page."""
        from demo.county import demo_user_keys

        offered = persona_keys(self.runtime.policy)
        with Session(self.runtime.engine) as session:
            keyed = demo_user_keys(session)
            key_of = {u.id: k for k, u in keyed.items()}
            people = []
            for user in session.exec(select(User).where(col(User.telegram_id).is_not(None))).all():
                fake = self.tg.add_user(
                    user.display_name, user_id=user.telegram_id,
                    language_code="en" if user.language == "en" else "zh-hans",
                )
                self.tg.private_chat(fake)
                key = key_of.get(user.id)
                if key in offered:
                    people.append({"id": fake.id, "key": key, "name": user.display_name,
                                   "role": user.role, "body": user.body})
        return sorted(people, key=lambda p: offered.index(p["key"]))

    def personas(self) -> list[dict[str, Any]]:
        return self._persona_ids

    # --- the clock, the tick and the sender ----------------------------------------------

    def next_deadline(self) -> datetime | None:
        with Session(self.runtime.engine) as session:
            due = session.exec(
                select(Deadline.due_at)
                .where(Deadline.status == "open", col(Deadline.due_at) > self.clock.now())
                .order_by(col(Deadline.due_at))
            ).first()
        return from_db(due) if due else None

    def timeline(self, case_id: int, lang: str) -> dict[str, Any] | None:
        from sandbox.timeline import case_timeline

        with Session(self.runtime.engine) as session:
            return case_timeline(session, self.runtime.policy, case_id, lang)

    async def tick(self) -> None:
        """Act on what is due at the sandbox time, then send what that queued."""
        from bot.outbox_sender import drain
        from bot.runner import tick_once

        async with self._tick_lock:
            await asyncio.to_thread(tick_once, self.services)
            await drain(self.application.bot, self.services)
            self.chats.save(self.tg)
            self.chats.save_clock(self.clock.now())

    async def _every(self, seconds: float, job: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:  # noqa: BLE001 - a failed round is logged and retried
                log.exception("sandbox background job failed")

    async def _drain(self) -> None:
        from bot.outbox_sender import drain

        async with self._tick_lock:
            await drain(self.application.bot, self.services)
            # what the personas typed and the bot answered in between is saved with it
            self.chats.save(self.tg)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.application.initialize()
        self.services.bot_username = self.application.bot.username
        assert self.application.updater is not None
        await self.application.updater.start_polling(poll_interval=0.0, timeout=10)
        await self.application.start()
        self._tasks = [
            asyncio.create_task(self._every(OUTBOX_EVERY_S, self._drain)),
            asyncio.create_task(self._every(TICK_EVERY_S, self.tick)),
        ]

    async def start_when_listening(self, attempts: int = 100) -> None:
        from telegram.error import NetworkError

        for _ in range(attempts):
            try:
                await self.start()
                return
            except NetworkError:
                await asyncio.sleep(0.1)
        log.error("the sandbox bot could not reach its Bot API stand-in")

    async def stop(self) -> None:
        """Stop polling and the background jobs (idempotent: Ctrl-C and the lifespan both call it)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            self.chats.save(self.tg)
            self.chats.save_clock(self.clock.now())
        except Exception:  # noqa: BLE001 - a failed last save must not block Ctrl-C
            log.exception("the sandbox could not save its chats")
        assert self.application.updater is not None
        if self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        if self.application._initialized:  # noqa: SLF001 - PTB has no public flag
            await self.application.shutdown()


def create_app(
    runtime: Runtime, *, host: str = "127.0.0.1", port: int = 8080, start: datetime | None = None
) -> FastAPI:
    sandbox = Sandbox(runtime, host=host, port=port, start=start)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the bot talks to this very server, which only listens once start-up is over
        starting = asyncio.create_task(sandbox.start_when_listening())
        try:
            yield
        finally:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            await sandbox.stop()

    app = FastAPI(title="baoxue sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox
    app.mount("/tg", create_fake_bot_api(sandbox.tg))
    # the officers' console on the sandbox's own address (/console links point here)
    sandbox_console.mount(app, runtime, sandbox.services, sandbox.tg,
                          origin=f"http://{_local_address(host)}:{port}", bot_username=SANDBOX_BOT,
                          personas=sandbox.personas)
    web.mount(
        app,
        web.SandboxState(
            sandbox.tg,
            sandbox.clock,
            on_clock_moved=sandbox.tick,
            next_deadline=sandbox.next_deadline,
            personas=sandbox.personas,
            bot_running=lambda: sandbox.application.running,
            bound=f"{host}:{port}",
            loopback=is_loopback(host),
            timeline=sandbox.timeline,
            ladder=lambda lang: ladder_svg(runtime.policy, lang),
        ),
    )
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_address(host: str) -> str:
    """Where this machine reaches a server bound to ``host`` (the wildcard → loopback)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def serve(runtime: Runtime, host: str, port: int, start: datetime | None = None) -> None:
    import uvicorn

    from bot.logs import redact_logs

    redact_logs()  # no token in a log (bot.logs); httpx kept at WARNING
    app = create_app(runtime, host=host, port=port, start=start)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning"), app.state.sandbox)
    redact_logs()  # again: uvicorn's Config gave its loggers handlers of their own
    if not is_loopback(host):
        log.warning("the sandbox listens on %s: anyone who can reach it can act as the demo "
                    "county's people. Invented data only.", host)
    print(f"Sandbox running: open http://{_local_address(host)}:{port}/  (Ctrl-C stops)",
          flush=True)
    server.run()


class _Server:
    """uvicorn's server, stopping the bot before the port closes: the bot long-polls this
    very server, so closing the port first would make its last poll fail noisily."""

    def __new__(cls, config: Any, sandbox: Sandbox) -> Any:
        import uvicorn

        class Server(uvicorn.Server):
            stopping = False

            def handle_exit(self, sig: int, frame: Any) -> None:
                if self.stopping:  # a second Ctrl-C: leave at once
                    super().handle_exit(sig, frame)
                    return
                self.stopping = True
                loop = asyncio.get_event_loop()

                async def stop_then_exit() -> None:
                    try:
                        await sandbox.stop()
                    finally:
                        self.should_exit = True

                loop.call_soon_threadsafe(lambda: loop.create_task(stop_then_exit()))

        return Server(config)
