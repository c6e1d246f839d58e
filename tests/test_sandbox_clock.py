"""The sandbox clock's "+1 day" (issue #11): each deadline on the way is acted on at its
own time, in order, and the day ends where it should — not everything at once at the end;
the calendar jobs of each day jumped over run in turn; and the bot's answers to taps show.
The page's clock API with an injected clock and an injected tick; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sandbox.clock import OffsetClock
from sandbox.fakebot import FakeTelegram, create_fake_bot_api
from sandbox.web import SandboxState, mount
from tests.conftest import local


def _clock_bar(start: datetime, deadlines: list[datetime]) -> tuple[TestClient, list[datetime]]:
    """The sandbox's clock bar on a clock at ``start`` with these deadlines; the list fills
    with the instants the bar ticked at."""
    clock = OffsetClock.starting_at(start)
    ticks: list[datetime] = []

    def next_deadline() -> datetime | None:
        now = clock.now()
        return next((d for d in deadlines if d > now), None)

    async def tick() -> None:
        ticks.append(clock.now())

    app = FastAPI()
    mount(app, SandboxState(FakeTelegram(), clock, on_clock_moved=tick,
                            next_deadline=next_deadline, personas=lambda: []))
    return TestClient(app), ticks


def test_plus_one_day_ticks_at_each_deadline_in_order() -> None:
    start = local(2026, 9, 30, 9, 0)
    deadlines = [local(2026, 9, 30, 17, 30), local(2026, 10, 1, 8, 0)]
    client, ticks = _clock_bar(start, deadlines)
    moved = client.post("/sandbox/api/clock", data={"step": "day"})
    assert moved.status_code == 200
    # a tick where it stood (planning), just after 17:30, just after 08:00 the next day,
    # and at the day's end
    assert len(ticks) == 4
    assert start <= ticks[0] < start + timedelta(seconds=5)
    assert deadlines[0] < ticks[1] < deadlines[0] + timedelta(seconds=5)
    assert deadlines[1] < ticks[2] < deadlines[1] + timedelta(seconds=5)
    assert start + timedelta(days=1) <= ticks[3] < start + timedelta(days=1, seconds=5)


def test_the_calendar_jobs_of_each_day_jumped_over_are_planned_and_run_in_order() -> None:
    """The scheduler plans a calendar job one occurrence ahead (as the digests and the
    attendance prompts are): ticking at each due instant plans the next day's, so a jump
    of a day runs each day's 08:00 job at 08:00, not one of them or none."""
    start = local(2026, 9, 30, 9, 0)
    clock = OffsetClock.starting_at(start)
    planned: list[datetime] = []
    ran: list[datetime] = []

    def next_deadline() -> datetime | None:
        now = clock.now()
        return next((d for d in planned if d > now), None)

    async def tick() -> None:
        now = clock.now()
        ran.extend(d for d in planned if d <= now and d not in ran)
        # the planner: the next 08:00 after now, if not planned yet
        day = now.astimezone(start.tzinfo).date()
        nxt = local(day.year, day.month, day.day, 8, 0)
        if nxt <= now:
            nxt += timedelta(days=1)
        if nxt not in planned:
            planned.append(nxt)

    app = FastAPI()
    mount(app, SandboxState(FakeTelegram(), clock, on_clock_moved=tick,
                            next_deadline=next_deadline, personas=lambda: []))
    client = TestClient(app)
    for _ in range(3):
        assert client.post("/sandbox/api/clock", data={"step": "day"}).status_code == 200
    assert ran == [local(2026, 10, 1, 8, 0), local(2026, 10, 2, 8, 0), local(2026, 10, 3, 8, 0)]


def test_the_bots_answer_to_a_tap_is_shown_in_the_chat() -> None:
    """A tap's short answer (answerCallbackQuery, a toast on a phone) appears under the
    message tapped, in the page's chat; the page's change marker moves with it."""
    tg = FakeTelegram()
    user = tg.add_user("秦瑶", user_id=501)
    tg.private_chat(user)
    bot = TestClient(create_fake_bot_api(tg))
    sent = bot.post(f"/bot{tg.token}/sendMessage", json={
        "chat_id": 501, "text": "请确认收到",
        "reply_markup": {"inline_keyboard": [[{"text": "确认收到", "callback_data": "ack:1"}]]}})
    message_id = sent.json()["result"]["message_id"]

    app = FastAPI()
    mount(app, SandboxState(tg, OffsetClock(), on_clock_moved=_nothing, next_deadline=lambda: None,
                            personas=lambda: [{"id": 501, "key": "teacher5", "name": "秦瑶",
                                               "role": "teacher"}]))
    page = TestClient(app)
    assert page.post("/sandbox/api/tap", data={"user_id": 501, "message_id": message_id,
                                               "data": "ack:1"}).status_code == 200
    before = page.get("/sandbox/api/chat/501").json()
    query = next(iter(tg.callback_queries))
    assert bot.post(f"/bot{tg.token}/answerCallbackQuery",
                    json={"callback_query_id": query, "text": "已确认收到"}).json()["ok"]
    after = page.get("/sandbox/api/chat/501").json()
    assert after["seq"] != before["seq"]  # the page redraws
    tapped = next(m for m in after["messages"] if m["id"] == message_id)
    assert tapped["answer"] == {"text": "已确认收到", "alert": False}


async def _nothing() -> None:
    return None


def test_the_date_field_moves_the_clock_on_to_a_chosen_instant_through_what_is_due() -> None:
    """The page's date field: on to a later instant, each deadline on the way at its time;
    an earlier instant or one without its zone is refused, and the clock stays."""
    start = local(2026, 9, 24, 8, 0)
    deadlines = [local(2026, 9, 30, 17, 30), local(2026, 10, 8, 9, 0)]
    client, ticks = _clock_bar(start, deadlines)
    assert client.post("/sandbox/api/clock", data={"step": "to", "to": "2026-09-20T08:00+08:00"}).status_code == 409
    assert client.post("/sandbox/api/clock", data={"step": "to", "to": "2026-10-10T08:00"}).status_code == 400
    assert ticks == []
    moved = client.post("/sandbox/api/clock", data={"step": "to", "to": "2026-10-10T08:00+08:00"})
    assert moved.status_code == 200
    target = local(2026, 10, 10, 8, 0)
    assert target <= datetime.fromisoformat(moved.json()["now"]) < target + timedelta(seconds=5)
    assert [t for t in ticks if deadlines[0] < t < deadlines[0] + timedelta(seconds=5)]
    assert [t for t in ticks if deadlines[1] < t < deadlines[1] + timedelta(seconds=5)]
    assert ticks == sorted(ticks)
