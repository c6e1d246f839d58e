"""The roles of a process: each starts only its parts.

- ``baoxue run`` (one process) runs the outbox sender and the deadline scheduler beside the
  bot, unless RUN_SENDER / RUN_SCHEDULER turn them off;
- a webhook worker of ``baoxue web`` (however many) answers updates and runs neither;
- ``baoxue sender`` runs the sender alone, ``baoxue scheduler`` the tick alone;
- ``baoxue web`` refuses to start without the webhook's settings.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine

from bot import roles
from bot.outbox_sender import SenderTask
from bot.runner import OUTBOX_KEY, SCHEDULER_KEY, make_application
from bot.runtime import Runtime
from bot.scheduler import DeadlineScheduler
from bot.settings import Settings, get_settings
from bot.telegram_request import BotApiRequest
from casework.policy import Policy
from tests.conftest import invoke

SECRET = "k3Jx9_vQ-2mWbT7rYp4sLz8nAe6uHc1dFg5oRiUt0yB"


def runtime(engine: Engine, policy: Policy, **settings: Any) -> Runtime:
    return Runtime(Settings(bot_token="123456:TEST", **settings), engine, policy)


def parts(application: Any) -> set[str]:
    return {key for key in (OUTBOX_KEY, SCHEDULER_KEY) if key in application.bot_data}


def test_one_process_runs_the_sender_and_the_scheduler_unless_turned_off(
    engine: Engine, policy: Policy
) -> None:
    assert parts(make_application(runtime(engine, policy))) == {OUTBOX_KEY, SCHEDULER_KEY}
    assert parts(make_application(runtime(engine, policy, run_sender=False))) == {SCHEDULER_KEY}
    assert parts(make_application(runtime(engine, policy, run_scheduler=False))) == {OUTBOX_KEY}


def test_the_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_SENDER", "false")
    monkeypatch.setenv("RUN_SCHEDULER", "0")
    monkeypatch.setenv("WEB_WORKERS", "4")
    settings = Settings()
    assert (settings.run_sender, settings.run_scheduler, settings.web_workers) == (False, False, 4)


def test_a_webhook_worker_answers_updates_and_runs_neither_sender_nor_scheduler(
    engine: Engine, policy: Policy
) -> None:
    # whatever the settings say: with N workers, N senders would push into the same chats
    rt = runtime(engine, policy, webhook_url="https://bot.example.org", webhook_secret=SECRET,
                 run_sender=True, run_scheduler=True)
    app = roles.web_app(rt)
    application = app.state.application
    assert parts(application) == set()
    assert not any(isinstance(v, SenderTask | DeadlineScheduler) for v in application.bot_data.values())
    assert "/telegram/webhook" in {getattr(r, "path", "") for r in app.routes}


def test_each_uvicorn_worker_boots_its_own_webhook_app_from_the_environment(
    cli_env: pytest.MonkeyPatch,
) -> None:
    cli_env.setenv("BOT_TOKEN", "123456:TEST")
    cli_env.setenv("WEBHOOK_URL", "https://bot.example.org")
    cli_env.setenv("WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    assert invoke("db", "upgrade").exit_code == 0
    app = roles.create_web_app()
    assert parts(app.state.application) == set()


class Recorder:
    """Stands in for a part of a process: records that it was started and stopped."""

    started: list[str]

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *_args: Any, **_kwargs: Any) -> Recorder:
        return self

    def start(self) -> None:
        Recorder.started.append(self.name)

    async def stop(self) -> None:
        Recorder.started.append(f"{self.name} stopped")

    async def shutdown(self) -> None:
        await self.stop()


class FakeBot:
    async def __aenter__(self) -> FakeBot:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    Recorder.started = []
    monkeypatch.setattr(roles, "SenderTask", Recorder("sender"))
    monkeypatch.setattr(roles, "DeadlineScheduler", Recorder("scheduler"))
    return Recorder.started


async def stopped_at_once(serve: Any, rt: Runtime, **kwargs: Any) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(rt, stop, **kwargs))
    await asyncio.sleep(0)
    stop.set()
    await task


async def test_the_sender_process_runs_the_sender_alone(
    engine: Engine, policy: Policy, recorded: list[str]
) -> None:
    await stopped_at_once(roles.serve_sender, runtime(engine, policy), bot=FakeBot())
    assert recorded == ["sender", "sender stopped"]


async def test_the_scheduler_process_runs_the_scheduler_alone(
    engine: Engine, policy: Policy, recorded: list[str]
) -> None:
    await stopped_at_once(roles.serve_scheduler, runtime(engine, policy))
    assert recorded == ["scheduler", "scheduler stopped"]


def test_the_sender_bot_talks_to_bot_api_url_through_a_small_pool(
    engine: Engine, policy: Policy
) -> None:
    bot = roles.sender_bot(runtime(engine, policy, bot_api_url="http://127.0.0.1:9/"))
    assert bot.base_url == "http://127.0.0.1:9/bot123456:TEST"
    assert isinstance(bot.request, BotApiRequest)
    assert bot.request.pool_size == roles.SENDER_HTTP_POOL


def test_baoxue_web_without_a_webhook_url_says_what_to_set(cli_env: pytest.MonkeyPatch) -> None:
    cli_env.setenv("BOT_TOKEN", "123456:TEST")
    get_settings.cache_clear()
    result = invoke("web")
    assert result.exit_code == 2
    assert "WEBHOOK_URL is not set" in result.output
