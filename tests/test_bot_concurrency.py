"""No turn blocks another: each update's unit of work runs in a worker thread, and PTB
hands on the next person's update without waiting for the last one.

The updates go the production way (the application's update queue, as polling fills it)
and one person's turn is held up by the test: it blocks on a ``threading.Event`` inside
the turn's unit of work until released. Meanwhile another person is answered; the first
is answered once released. On PostgreSQL the hold is inside the first turn's open
transaction; on SQLite, which has one writer at a time (every transaction starts with
``BEGIN IMMEDIATE``), it is just before the first statement, so what is shown there is
the event loop and the update processor, not the database, staying free.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from telegram import Update

from handlers import turns
from sandbox.harness import ChatUser
from tests.botkit import speaking

REPORT_PROMPT = "Which student? Pick from the list, or type part of the name."


def queued(harness: Any, chat: ChatUser) -> ChatUser:
    """``chat`` with its updates put on the application's update queue (as polling does)."""

    async def deliver(update: dict[str, Any]) -> None:
        await harness.app.update_queue.put(Update.de_json(update, harness.app.bot))

    return ChatUser(harness.tg, harness.app, user=chat.user, deliver=deliver, enqueue=False)


async def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait (on the event loop) until ``condition()`` holds."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


class Hold:
    """Holds up the first turn of one Telegram user inside its unit of work."""

    def __init__(self, telegram_id: int, in_transaction: bool) -> None:
        self.telegram_id = telegram_id
        self.in_transaction = in_transaction
        self.entered = threading.Event()
        self.release = threading.Event()
        self.again = threading.Event()  # another turn of the same user began
        self.thread: str | None = None

    def wrap(self, load_user: Any) -> Any:
        def slow_load_user(session: Any, telegram_id: int) -> Any:
            held = telegram_id == self.telegram_id and not self.entered.is_set()
            if telegram_id == self.telegram_id and not held:
                self.again.set()
            if held and not self.in_transaction:
                self._wait()
            user = load_user(session, telegram_id)
            if held and self.in_transaction:
                self._wait()
            return user

        return slow_load_user

    def _wait(self) -> None:
        self.thread = threading.current_thread().name
        self.entered.set()
        assert self.release.wait(30), "never released"


@pytest.fixture
async def running(harness: Any) -> Any:  # type: ignore[no-untyped-def]
    """The harness's application started: its update fetcher takes the queue."""
    await harness.app.start()
    yield harness
    await harness.app.stop()


@pytest.fixture
def hold(running: Any, world: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    teacher = world.users["teacher"]
    in_transaction = running.engine.dialect.name != "sqlite"
    h = Hold(teacher.telegram_id, in_transaction)
    monkeypatch.setattr(turns, "load_user", h.wrap(turns.load_user))
    yield h
    h.release.set()  # never leave a worker blocked, whatever the test did


async def test_a_slow_turn_does_not_delay_another_persons_reply(running, world, hold) -> None:  # type: ignore[no-untyped-def]
    teacher = queued(running, speaking(running, world.users["teacher"], "en"))
    cadre = queued(running, speaking(running, world.users["village_cadre"], "en"))

    await teacher.send("/report")
    assert await asyncio.to_thread(hold.entered.wait, 20), "the teacher's turn never started"
    assert hold.thread is not None and hold.thread != threading.current_thread().name

    await cadre.send("/report")
    await until(lambda: cadre.last == REPORT_PROMPT, "the cadre is answered")
    assert "➕ A child who never enrolled" in cadre.buttons()
    assert teacher.replies == []  # still held

    hold.release.set()
    await until(lambda: teacher.last == REPORT_PROMPT, "the teacher is answered")
    pupils = world.students_of_class(world.classes[4])
    assert sorted(teacher.buttons()[:-1]) == sorted(f"{p.name} · Grade 7 Class 1" for p in pupils)


async def test_one_persons_updates_are_handled_in_the_order_sent(running, world, hold) -> None:  # type: ignore[no-untyped-def]
    teacher = queued(running, speaking(running, world.users["teacher"], "en"))

    await teacher.send("/report")
    assert await asyncio.to_thread(hold.entered.wait, 20)
    await teacher.send("/cancel")  # typed while the first is still being handled
    await until(running.app.update_queue.empty, "the update is taken off the queue")
    # a negative can only be watched for a while: were it run at once, it would start
    # within milliseconds
    assert not await asyncio.to_thread(hold.again.wait, 1.0), "the /cancel overtook the /report"
    hold.release.set()
    await until(lambda: CANCELLED in teacher.reply_texts, "both are answered")
    assert_in_order(teacher.reply_texts)


CANCELLED = "Cancelled. Nothing was saved."


def assert_in_order(texts: list[str]) -> None:
    """The report was started, then cancelled: not "nothing to cancel", then a report."""
    assert REPORT_PROMPT in texts and CANCELLED in texts, texts
    assert texts.index(REPORT_PROMPT) < texts.index(CANCELLED), texts


async def test_by_webhook_too_one_persons_updates_keep_their_order(running, world, hold) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from bot.webhook import SECRET_HEADER, WEBHOOK_PATH, create_webhook_app

    secret = "webhook-secret-of-this-test-0123456789abcdef"
    app = create_webhook_app(running.app, url="https://bot.example.org", secret=secret,
                             manage_lifecycle=False)
    teacher = speaking(running, world.users["teacher"], "en")
    tg_user = running.tg.users[teacher.id]
    headers = {SECRET_HEADER: secret}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as client:
        first = asyncio.create_task(client.post(
            WEBHOOK_PATH, json=running.tg.send_text(tg_user, "/report", enqueue=False), headers=headers))
        assert await asyncio.to_thread(hold.entered.wait, 20)
        second = asyncio.create_task(client.post(
            WEBHOOK_PATH, json=running.tg.send_text(tg_user, "/cancel", enqueue=False), headers=headers))
        assert not await asyncio.to_thread(hold.again.wait, 1.0), "the /cancel overtook the /report"
        hold.release.set()
        assert [(await first).status_code, (await second).status_code] == [200, 200]
    assert_in_order([m.text for m in running.tg.bot_messages(teacher.id)])
