"""The outbox sender against the fake Bot API, on injected time (no test sleeps).

The fake Telegram and the sender share the test's FrozenClock: the sender's ``ClockTimer``
moves it when it waits, and the fake counts its one-second windows by it. So "no chat got
two messages within a second" and "no second carried more than the global rate" are read
off the fake's own statistics, with ``enforce_limits=True`` answering 429 to any breach.

Checked: pacing (per chat, global, groups), per-recipient order, 429 honoured for that chat
only (and for everyone when several chats get one), 403 → unreachable + supervisor told in
their language, 500 → backoff → dead after N → ``baoxue outbox retry`` replays it, photos
with captions and follow-ups, nothing lost under a mix of faults, the bot process's
long-running sender, and the CLI.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col
from typer.testing import CliRunner

from bot.outbox_sender import (
    CAPTION_LIMIT,
    UNREACHABLE_KIND,
    ClockTimer,
    Limits,
    OutboxSender,
    Pacer,
    RetryPolicy,
    SenderTask,
    drain,
    split_text,
)
from casework.clock import FrozenClock, from_db
from casework.i18n import Text
from casework.outbox import enqueue
from casework.people import supervisor_of
from casework.policy import Policy
from demo.county import World
from models.tables import AuditEvent, OutboxMessage, User
from sandbox.fakebot import TINY_PNG
from tests.botkit import rows, speaking

# PTB builds RetryAfter from an int and warns about its future timedelta type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")

SEND_METHODS = {"sendMessage", "sendPhoto"}


# --- helpers ----------------------------------------------------------------------------


def queue(harness: Any, user: User, n: int, label: str = "msg", **payload: Any) -> list[int]:
    """``n`` messages to ``user``: "<label> 0", "<label> 1", … in that order."""
    with Session(harness.engine, expire_on_commit=False) as s:
        made = []
        for i in range(n):
            row = enqueue(s, user, Text("{label} {i}", {"label": label, "i": i}),
                          kind="prompt", now=harness.services.clock.now())
            if payload:
                row.payload = {**row.payload, **payload}
            made.append(row)
        s.commit()
        return [r.id for r in made]


def teachers(harness: Any, n: int, start: int = 0) -> list[User]:
    """``n`` extra teachers who have opened the bot (private chats exist in the fake)."""
    now = harness.services.clock.now()
    with Session(harness.engine, expire_on_commit=False) as s:
        made = [
            User(telegram_id=800_000_000 + start + i, display_name=f"教师{start + i}",
                 role="teacher", scope_kind="classes", created_at=now, onboarded_at=now)
            for i in range(n)
        ]
        s.add_all(made)
        s.commit()
    for user in made:
        harness.user(user)
    return made


def sender(harness: Any, **kw: Any) -> OutboxSender:
    return OutboxSender(harness.app.bot, harness.services, timer=ClockTimer(harness.services.clock),
                        **kw)


def sends(harness: Any) -> list[tuple[float, int, str]]:
    """(time, chat, method) of every message Telegram accepted, in order."""
    return [(c.at, int(c.params["chat_id"]), c.method) for c in harness.tg.calls
            if c.method in SEND_METHODS and c.status == 200]


def assert_paced(harness: Any, rate: int = 25) -> None:
    stats = harness.tg.stats
    assert stats.enforced_429s == 0
    assert stats.max_chat_sends_per_window <= 1
    assert stats.max_sends_per_window <= rate
    by_chat: dict[int, list[float]] = defaultdict(list)
    for at, chat, _method in sends(harness):
        by_chat[chat].append(at)
    for chat, times in by_chat.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(g >= 1.0 for g in gaps), (chat, gaps)


def texts(harness: Any, user: User) -> list[str]:
    return [m.content for m in harness.tg.bot_messages(user.telegram_id)]


def statuses(harness: Any, ids: list[int]) -> list[str]:
    found = {r.id: r.status for r in rows(harness, OutboxMessage, col(OutboxMessage.id).in_(ids))}
    return [found[i] for i in ids]


# --- pacing and order -------------------------------------------------------------------


async def test_pacing_holds_per_chat_and_global_limits_and_keeps_each_recipients_order(
    harness: Any,
) -> None:
    harness.tg.enforce_limits = True  # any breach would come back as a 429
    [busy] = teachers(harness, 1, start=100)  # one chat with a backlog of its own
    ids = queue(harness, busy, 8, "busy")
    people = teachers(harness, 60)
    ids += [i for person in people for i in queue(harness, person, 3)]
    start = harness.tg.now()

    sent = await drain(harness.app.bot, harness.services,
                       timer=ClockTimer(harness.services.clock))

    assert sent == len(ids) == 188
    assert set(statuses(harness, ids)) == {"sent"}
    assert_paced(harness, 25)
    for person in people:
        assert texts(harness, person) == ["msg 0", "msg 1", "msg 2"]
    assert texts(harness, busy) == [f"busy {i}" for i in range(8)]
    # and it is not slow about it: close to 25 a second, not one a second
    elapsed = harness.tg.now() - start
    assert 188 / 25 - 1 <= elapsed <= 188 / 25 + 2, elapsed
    assert max(harness.tg.stats.sends_per_window.values()) >= 20
    # the backlog moves at its chat's own pace, one a second, not behind every other chat
    busy_times = [at for at, chat, _ in sends(harness) if chat == busy.telegram_id]
    assert all(1.0 <= b - a <= 1.2 for a, b in zip(busy_times, busy_times[1:], strict=False))


async def test_a_lower_configured_rate_is_kept_and_a_rate_over_30_is_refused(harness: Any) -> None:
    people = teachers(harness, 30)
    for person in people:
        queue(harness, person, 1)
    assert await sender(harness, limits=Limits(per_second=10)).drain() == 30
    assert harness.tg.stats.max_sends_per_window <= 10
    with pytest.raises(ValueError, match="at most 30"):
        Limits(per_second=31)
    with pytest.raises(ValueError):
        Limits(chat_interval=0.5)


def test_group_chats_get_at_most_20_messages_a_minute() -> None:
    pacer = Pacer(Limits())
    group, now, starts = -100123, 1000.0, []
    for _ in range(45):
        now = pacer.free_at(group, now)
        starts.append(now)
        pacer.begin(group, now)
        pacer.end(group, now)
    for i, at in enumerate(starts):
        in_a_minute = [s for s in starts[i:] if s < at + 60]
        assert len(in_a_minute) <= 20, (i, len(in_a_minute))
    assert all(b - a >= 1.0 for a, b in zip(starts, starts[1:], strict=False))
    # a private chat is only held to the even spacing of the global rate
    assert pacer.free_at(4242, now) <= now + 1 / 25


def test_a_message_in_flight_counts_until_one_second_after_its_answer() -> None:
    pacer = Pacer(Limits(per_second=2))
    pacer.begin(1, 0.0)
    pacer.begin(2, 0.5)
    assert pacer.free_at(3, 0.6) == float("inf")  # both slots taken by requests in flight
    pacer.end(1, 0.9)
    assert pacer.free_at(3, 1.0) == pytest.approx(1.9)
    assert pacer.free_at(2, 1.0) == float("inf")  # chat 2 still waits for its answer
    pacer.end(2, 1.0)
    assert pacer.free_at(1, 1.0) == pytest.approx(1.9)


def test_when_the_shared_bucket_spaces_the_starts_the_pacer_caps_only_at_telegrams_30() -> None:
    # in real time the bucket (bot.outbox_claims) paces the starts at the configured rate;
    # counting each message's wait for its slot and its round trip against that same rate
    # kept one sender at 91% of it
    pacer = Pacer(Limits(per_second=2), even_spacing=False)
    for chat in range(29):
        pacer.begin(chat, 0.0)
    assert pacer.free_at(99, 0.0) == 0.0
    pacer.begin(29, 0.0)
    assert pacer.free_at(99, 0.0) == float("inf")  # 30 in flight: Telegram's own limit


class StallingTimer:
    """Real-time pacing (not ClockTimer) on the test's frozen clock: the first sleep
    oversleeps by ``stall`` seconds, as a loop held up by a busy CPU would."""

    def __init__(self, clock: FrozenClock, stall: float) -> None:
        self.clock, self.stall = clock, stall

    def now(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=max(0.0, seconds) + self.stall))
        self.stall = 0.0
        await asyncio.sleep(0)


async def test_a_sender_waking_long_after_its_slot_takes_a_new_one_instead_of_bunching_sends(
    harness: Any, world: World
) -> None:
    from bot import outbox_claims

    harness.tg.enforce_limits = True
    user = teachers(harness, 1)[0]
    [row_id] = queue(harness, user, 1)
    clock = harness.services.clock
    # other messages hold the shared bucket's next 0.2 s: this one's slot is a moment ahead
    with harness.engine.begin() as conn:
        conn.execute(outbox_claims._BUCKETS.insert().values(
            name=outbox_claims.BUCKET, tat=clock.now() + timedelta(seconds=0.2),
            held_until=outbox_claims.EPOCH))
    late = OutboxSender(harness.app.bot, harness.services, timer=StallingTimer(clock, 0.5))
    late.pacer.begin(user.telegram_id, late.timer.now())
    await late._deliver(row_id, user.id, user.telegram_id)
    # woke 0.5 s after its slot: the slots after it went to other messages, so it did not
    # send then; the row is free for a new claim, its chat not held
    assert harness.tg.call_count("sendMessage") == 0
    [row] = rows(harness, OutboxMessage, OutboxMessage.id == row_id)
    assert (row.status, row.claimed_by) == ("pending", None)
    assert await late.drain() == 1
    assert texts(harness, user) == ["msg 0"]
    assert harness.tg.stats.too_many_requests == 0


# --- 429 --------------------------------------------------------------------------------


async def test_a_429_holds_that_chat_for_retry_after_while_other_chats_go_on(
    harness: Any, world: World
) -> None:
    a, b = world.users["teacher"], world.users["school_admin"]
    harness.user(a), harness.user(b)
    a_ids, b_ids = queue(harness, a, 3, "a"), queue(harness, b, 3, "b")
    harness.tg.inject("sendMessage", chat_id=a.telegram_id, error_code=429, retry_after=5)
    t0 = harness.tg.now()
    out = sender(harness)

    assert await out.drain() == 3  # b's three; a waits
    assert statuses(harness, b_ids) == ["sent"] * 3
    assert statuses(harness, a_ids) == ["pending"] * 3
    head = rows(harness, OutboxMessage, OutboxMessage.id == a_ids[0])[0]
    assert from_db(head.not_before).timestamp() == pytest.approx(t0 + 5, abs=0.2)
    assert head.attempts == 0 and "429" in (head.last_error or "")
    b_times = [at for at, chat, _ in sends(harness) if chat == b.telegram_id]
    assert b_times[-1] < t0 + 5  # b went on during a's hold

    assert await out.drain(budget=10) == 3
    assert texts(harness, a) == ["a 0", "a 1", "a 2"]  # order kept across the hold
    a_times = [at for at, chat, _ in sends(harness) if chat == a.telegram_id]
    assert a_times[0] >= t0 + 5
    assert out.rate_limited == 1
    assert_paced(harness)


async def test_429s_from_several_chats_at_once_hold_every_chat(harness: Any) -> None:
    people = teachers(harness, 10)
    for person in people:
        queue(harness, person, 1)
    harness.tg.inject("sendMessage", error_code=429, retry_after=4, times=3)
    t0 = harness.tg.now()

    out = sender(harness, limits=Limits(max_in_flight=1))  # one at a time: exact timing
    await out.drain(budget=20)

    assert out.rate_limited == 3
    accepted = [at for at, _chat, _ in sends(harness)]
    assert len(accepted) == 10
    assert all(at >= t0 + 4 for at in accepted)  # nobody sent while the bot was flooded


async def test_retry_after_given_as_timedelta_is_honoured(
    harness: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22: RetryAfter.retry_after is a timedelta
    teacher = world.users["teacher"]
    harness.user(teacher)
    ids = queue(harness, teacher, 1)
    harness.tg.inject("sendMessage", error_code=429, retry_after=7)
    t0 = harness.tg.now()
    await sender(harness).drain()
    row = rows(harness, OutboxMessage, OutboxMessage.id == ids[0])[0]
    assert from_db(row.not_before).timestamp() == pytest.approx(t0 + 7, abs=0.2)


# --- 403 --------------------------------------------------------------------------------


async def test_a_user_who_blocked_the_bot_is_flagged_their_reminders_stop_and_the_school_admin_is_told(
    harness: Any, world: World
) -> None:
    teacher = world.users["teacher"]
    admin = world.users["school_admin"]  # 梅林中学, the teacher's school
    harness.user(teacher)
    speaking(harness, admin, "en")
    ids = queue(harness, teacher, 3)
    harness.tg.block(teacher.telegram_id)

    await sender(harness).drain()

    assert statuses(harness, ids) == ["failed"] * 3
    flagged = rows(harness, User, User.id == teacher.id)[0]
    assert flagged.unreachable
    told = rows(harness, OutboxMessage, OutboxMessage.kind == UNREACHABLE_KIND)
    assert [(m.recipient_id, m.status) for m in told] == [(admin.id, "sent")]
    note = harness.tg.last_bot_message(admin.telegram_id)
    assert note is not None
    assert note.content.startswith(f"{teacher.display_name} (teacher) has blocked the bot")
    assert texts(harness, teacher) == []


async def test_a_blocked_user_who_writes_again_is_reachable_again_and_gets_new_messages(
    harness: Any, world: World
) -> None:
    teacher = world.users["teacher"]
    chat = speaking(harness, teacher, "en")
    stale = queue(harness, teacher, 1, label="stale")
    harness.tg.block(teacher.telegram_id)
    await sender(harness).drain()
    assert rows(harness, User, User.id == teacher.id)[0].unreachable

    harness.tg.unblock(teacher.telegram_id)
    await chat.send("/menu")  # writing to the bot shows they unblocked it

    assert not rows(harness, User, User.id == teacher.id)[0].unreachable
    audit = rows(harness, AuditEvent, AuditEvent.action == "user.reachable_again")
    assert [(a.actor_id, a.object_id) for a in audit] == [(teacher.id, teacher.id)]
    fresh = queue(harness, teacher, 1, label="fresh")
    await sender(harness).drain()
    assert statuses(harness, stale + fresh) == ["failed", "sent"]  # the stale one is not replayed
    assert texts(harness, teacher)[-1] == "fresh 0"


async def test_the_supervisor_is_told_in_their_own_language_one_level_up(
    harness: Any, world: World
) -> None:
    admin = world.users["school_admin"]
    officer = world.users["township_officer"]  # 梅林镇 (zh_Hans)
    harness.user(admin), harness.user(officer)
    queue(harness, admin, 1)
    harness.tg.block(admin.telegram_id)

    await sender(harness).drain()

    note = harness.tg.last_bot_message(officer.telegram_id)
    assert note is not None
    assert note.content.startswith(admin.display_name) and "已屏蔽本机器人" in note.content


def test_supervisor_of_follows_the_line_and_skips_a_rung_nobody_can_be_reached_on(
    session: Session, world: World
) -> None:
    u = world.users
    assert supervisor_of(session, u["teacher"]).id == u["school_admin"].id  # type: ignore[union-attr]
    assert supervisor_of(session, u["school_admin"]).id == u["township_officer"].id  # type: ignore[union-attr]
    assert supervisor_of(session, u["village_cadre"]).id == u["township_officer"].id  # type: ignore[union-attr]
    assert supervisor_of(session, u["township_officer"]).id == u["county_officer"].id  # type: ignore[union-attr]
    assert supervisor_of(session, u["county_officer"]).id == u["admin"].id  # type: ignore[union-attr]
    assert supervisor_of(session, u["admin"]) is None
    # the school administrator blocked the bot too: the township officer hears of the teacher
    school_admin = session.get(User, u["school_admin"].id)
    assert school_admin is not None
    school_admin.unreachable = True
    session.add(school_admin)
    session.commit()
    assert supervisor_of(session, u["teacher"]).id == u["township_officer"].id  # type: ignore[union-attr]


# --- other errors: backoff, dead letters, replay ------------------------------------------


async def test_a_500_is_retried_with_backoff_then_dead_and_outbox_retry_replays_it(
    harness: Any, world: World, cli_env: pytest.MonkeyPatch
) -> None:
    from cli.main import app

    teacher = world.users["teacher"]
    harness.user(teacher)
    first, second = queue(harness, teacher, 2)
    harness.tg.inject("sendMessage", chat_id=teacher.telegram_id, error_code=500, times=None)
    out = sender(harness, retry=RetryPolicy(max_attempts=3, base=timedelta(seconds=30)))
    clock = harness.services.clock

    def row(i: int) -> OutboxMessage:
        return rows(harness, OutboxMessage, OutboxMessage.id == i)[0]

    t0 = clock.now()
    await out.drain()
    assert (row(first).status, row(first).attempts) == ("pending", 1)
    assert abs(from_db(row(first).not_before) - (t0 + timedelta(seconds=30))) < timedelta(seconds=1)
    assert "Internal Server Error" in (row(first).last_error or "")
    calls = harness.tg.call_count("sendMessage")
    await out.drain()  # not due yet: nothing is tried
    assert harness.tg.call_count("sendMessage") == calls
    assert row(second).status == "pending" and row(second).attempts == 0  # waits behind it

    clock.advance(timedelta(seconds=30))
    await out.drain()
    assert (row(first).status, row(first).attempts) == ("pending", 2)
    t2 = clock.now()
    assert abs(from_db(row(first).not_before) - (t2 + timedelta(seconds=60))) < timedelta(seconds=1)

    harness.tg.clear_injections()
    harness.tg.inject("sendMessage", chat_id=teacher.telegram_id, error_code=500, times=1)
    clock.advance(timedelta(seconds=60))
    await out.drain()  # third failure: dead; the message behind it goes now
    assert (row(first).status, row(first).attempts) == ("dead", 3)
    assert row(second).status == "sent"

    runner = CliRunner()
    listed = runner.invoke(app, ["outbox", "list", "--failed"])
    assert listed.exit_code == 0, listed.output
    assert "dead: 1" in listed.output
    assert f"{first:>6}  dead" in listed.output and "Internal Server Error" in listed.output

    replayed = runner.invoke(app, ["outbox", "retry", str(first)])
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed 1: {first}" in replayed.output
    assert (row(first).status, row(first).attempts) == ("pending", 0)
    # the CLI stamps not_before with the real time; the test clock is in 2026, so bring it due
    with Session(harness.engine) as s:
        again = s.get(OutboxMessage, first)
        assert again is not None
        again.not_before = clock.now()
        s.add(again)
        s.commit()
    assert await out.drain() == 1
    assert texts(harness, teacher) == ["msg 1", "msg 0"]


async def test_a_bad_request_is_dead_at_once(harness: Any, world: World) -> None:
    teacher = world.users["teacher"]
    harness.user(teacher)
    bad, good = queue(harness, teacher, 2)
    harness.tg.inject("sendMessage", chat_id=teacher.telegram_id, error_code=400,
                      description="Bad Request: BUTTON_DATA_INVALID")
    await sender(harness).drain()
    assert statuses(harness, [bad, good]) == ["dead", "sent"]


async def test_a_message_telegram_accepted_but_answered_unreadably_is_sent_once_not_retried(
    harness: Any, world: World, cli_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Sent, answer unreadable (HTTP 200, but a ``result`` PTB cannot read or a body that
    is not JSON) is sent: not dead-lettered, not retried, not replayed by ``outbox retry``.
    Not sent (a 502, as a dropped connection: no 2xx answer) is retried."""
    from cli.main import app

    teacher = world.users["teacher"]
    harness.user(teacher)
    tg = harness.tg
    ids = queue(harness, teacher, 3)
    tg.garble_answer("sendMessage", chat_id=teacher.telegram_id,
                     body={"ok": True, "result": "not a message"})
    tg.garble_answer("sendMessage", chat_id=teacher.telegram_id,
                     body=b"<html><body>502 from a proxy, after all</body></html>")
    out = sender(harness)
    caplog.set_level("WARNING", logger="bot.outbox_sender")
    assert await out.drain() == 3
    assert statuses(harness, ids) == ["sent"] * 3
    assert sorted(texts(harness, teacher)) == ["msg 0", "msg 1", "msg 2"]  # each once
    unreadable = [r.getMessage() for r in caplog.records
                  if "accepted the message but its answer could not be read" in r.getMessage()]
    assert len(unreadable) == 2 and "recorded as sent" in unreadable[0]
    assert [r for r in caplog.records if r.name == "bot.outbox_sender" and r.levelname == "ERROR"] == []

    # the operator's replay does not send it again: it is not a dead letter
    replayed = CliRunner().invoke(app, ["outbox", "retry", str(ids[0]), str(ids[1])])
    assert replayed.exit_code == 1 and "not replayed" in replayed.output
    calls = tg.call_count("sendMessage")
    harness.services.clock.advance(timedelta(hours=1))
    assert await out.drain() == 0
    assert tg.call_count("sendMessage") == calls
    assert statuses(harness, ids) == ["sent"] * 3

    # not sent: no 2xx answer came back, so it is tried again (and delivered once)
    (lost,) = queue(harness, teacher, 1, label="again")
    tg.inject("sendMessage", chat_id=teacher.telegram_id, error_code=502, times=1)
    await out.drain()
    row = rows(harness, OutboxMessage, OutboxMessage.id == lost)[0]
    assert (row.status, row.attempts) == ("pending", 1) and "Bad Gateway" in (row.last_error or "")
    harness.services.clock.advance(timedelta(minutes=10))
    assert await out.drain() == 1
    assert statuses(harness, [lost]) == ["sent"]
    assert texts(harness, teacher).count("again 0") == 1


async def test_outbox_retry_needs_ids_or_all_and_all_replays_every_dead_letter(
    harness: Any, world: World, cli_env: pytest.MonkeyPatch
) -> None:
    from cli.main import app

    teacher = world.users["teacher"]
    ids = queue(harness, teacher, 3)
    with Session(harness.engine) as s:
        for i in ids[:2]:
            dead = s.get(OutboxMessage, i)
            assert dead is not None
            dead.status, dead.attempts, dead.last_error = "dead", 6, "NetworkError: boom"
            s.add(dead)
        s.commit()
    runner = CliRunner()
    assert runner.invoke(app, ["outbox", "retry"]).exit_code == 2
    listed = runner.invoke(app, ["outbox", "list"])
    assert "pending: 1" in listed.output and "dead: 2" in listed.output
    done = runner.invoke(app, ["outbox", "retry", "--all"])
    assert done.exit_code == 0 and f"replayed 2: {ids[0]}, {ids[1]}" in done.output
    assert statuses(harness, ids) == ["pending"] * 3
    missing = runner.invoke(app, ["outbox", "retry", "99999"])
    assert missing.exit_code == 1


# --- photos -------------------------------------------------------------------------------


PNG_B64 = base64.b64encode(TINY_PNG).decode("ascii")
BUTTONS = [[{"text": {"msgid": "Open case", "params": {}}, "data": "case:1"}]]


async def test_a_photo_goes_with_its_text_as_caption_and_the_buttons(
    harness: Any, world: World
) -> None:
    officer = world.users["township_officer"]
    harness.user(officer)
    queue(harness, officer, 1, "digest", photo_b64=PNG_B64, buttons=BUTTONS)
    assert await sender(harness).drain() == 1
    [msg] = harness.tg.bot_messages(officer.telegram_id)
    assert msg.kind == "photo" and msg.caption == "digest 0"
    assert msg.inline_markup is not None


async def test_a_long_caption_follows_as_a_message_and_a_429_on_it_does_not_resend_the_photo(
    harness: Any, world: World
) -> None:
    officer = world.users["township_officer"]
    harness.user(officer)
    lines = [{"msgid": "line {i} " + "x" * 90, "params": {"i": i}} for i in range(30)]
    [row_id] = queue(harness, officer, 1, "digest", photo_b64=PNG_B64, lines=lines,
                     buttons=BUTTONS)
    harness.tg.inject("sendMessage", chat_id=officer.telegram_id, error_code=429, retry_after=3)
    out = sender(harness)

    assert await out.drain(budget=2) == 0  # the photo went; its follow-up got a 429
    assert statuses(harness, [row_id]) == ["pending"]
    assert await out.drain(budget=10) == 1

    photo, text = harness.tg.bot_messages(officer.telegram_id)
    assert photo.kind == "photo" and len(photo.caption or "") <= CAPTION_LIMIT
    assert photo.inline_markup is None and text.inline_markup is not None
    whole = (photo.caption or "") + "\n" + (text.text or "")
    assert whole.splitlines()[0] == "digest 0" and whole.count("• line") == 30
    assert harness.tg.call_count("sendPhoto") == 1
    assert_paced(harness)


def test_split_text_cuts_at_line_ends_within_the_limits() -> None:
    text = "\n".join(f"line {i:02d}" for i in range(10))  # 7 chars a line
    chunks = split_text(text, 16, 24)
    assert chunks == ["line 00\nline 01", "line 02\nline 03\nline 04", "line 05\nline 06\nline 07",
                      "line 08\nline 09"]
    assert split_text("a" * 10, 4, 6) == ["aaaa", "aaaaaa"]
    assert split_text("", 4, 6) == [""]


# --- nothing lost -------------------------------------------------------------------------


async def test_nothing_is_lost_under_a_mix_of_429s_blocks_and_5xx(harness: Any, world: World) -> None:
    harness.tg.enforce_limits = True
    rng = random.Random(5)
    people = teachers(harness, 40)
    harness.user(world.users["admin"])
    blocked = people[:3]
    by_person = {p.id: queue(harness, p, rng.randint(1, 4)) for p in people}
    for person in blocked:
        harness.tg.block(person.telegram_id)
    for person in rng.sample(people[3:], 8):
        harness.tg.inject("sendMessage", chat_id=person.telegram_id, error_code=429,
                          retry_after=rng.randint(1, 6), times=rng.randint(1, 2))
    for person in rng.sample(people[3:], 4):
        harness.tg.inject("sendMessage", chat_id=person.telegram_id, error_code=500)

    out = sender(harness, retry=RetryPolicy(base=timedelta(seconds=2)))
    await out.drain(budget=120)

    all_rows = rows(harness, OutboxMessage)
    assert {r.status for r in all_rows} <= {"sent", "failed"}
    for person in people:
        got = statuses(harness, by_person[person.id])
        if person in blocked:
            assert set(got) == {"failed"}
            assert rows(harness, User, User.id == person.id)[0].unreachable
        else:
            assert set(got) == {"sent"}
            assert texts(harness, person) == [f"msg {i}" for i in range(len(got))]
    # each blocked teacher's news reached someone (they have no class: the system operator)
    told = [r for r in all_rows if r.kind == UNREACHABLE_KIND]
    assert len(told) == 3 and {(r.recipient_id, r.status) for r in told} == {
        (world.users["admin"].id, "sent")}
    assert harness.tg.stats.max_chat_sends_per_window <= 1
    assert harness.tg.stats.max_sends_per_window <= 25


# --- the bot process ----------------------------------------------------------------------


async def test_the_long_running_sender_delivers_as_rows_arrive_and_stops_cleanly(
    harness: Any, world: World
) -> None:
    teacher = world.users["teacher"]
    harness.user(teacher)
    task = SenderTask(harness.app.bot, harness.services,
                      timer=ClockTimer(harness.services.clock))
    task.start()
    try:
        ids = queue(harness, teacher, 2)
        for _ in range(500):
            if statuses(harness, ids) == ["sent", "sent"]:
                break
            await asyncio.sleep(0.01)
        more = queue(harness, teacher, 1, "later")
        for _ in range(500):
            if statuses(harness, more) == ["sent"]:
                break
            await asyncio.sleep(0.01)
    finally:
        await task.stop()
    assert texts(harness, teacher) == ["msg 0", "msg 1", "later 0"]


def test_the_runner_runs_the_sender_instead_of_a_job_queue_drain(
    engine: Any, policy: Policy
) -> None:
    from pydantic import ValidationError

    from bot.runner import OUTBOX_KEY, make_application
    from bot.runtime import Runtime
    from bot.settings import Settings

    settings = Settings(bot_token="123456:TEST", outbox_rate=20)
    application = make_application(Runtime(settings, engine, policy))
    task = application.bot_data[OUTBOX_KEY]
    assert isinstance(task, SenderTask) and task.sender.limits.per_second == 20
    assert application.job_queue.jobs() == ()
    with pytest.raises(ValidationError):
        Settings(bot_token="123456:TEST", outbox_rate=31)


async def test_rows_for_people_who_cannot_be_reached_fail_without_a_send(
    harness: Any, world: World
) -> None:
    teacher = world.users["teacher"]
    with Session(harness.engine) as s:
        user = s.get(User, teacher.id)
        assert user is not None
        user.unreachable = True
        s.add(user)
        s.commit()
    ids = queue(harness, teacher, 2)
    assert await sender(harness).drain() == 0
    assert statuses(harness, ids) == ["failed", "failed"]
    assert harness.tg.call_count("sendMessage") == 0
    assert rows(harness, OutboxMessage, OutboxMessage.kind == UNREACHABLE_KIND) == []


# --- several senders on one database -------------------------------------------------------


async def run_until_sent(harness: Any, senders: list[OutboxSender], ids: list[int],
                         crash: OutboxSender | None = None, crash_after: int = 0) -> None:
    """Run ``senders`` side by side until every row in ``ids`` is sent; ``crash`` stops
    once it has sent ``crash_after`` rows."""
    stops = {id(s): asyncio.Event() for s in senders}
    tasks = [asyncio.create_task(s.run_forever(stops[id(s)])) for s in senders]
    try:
        for _ in range(20_000):
            if crash is not None and crash.sent >= crash_after and not stops[id(crash)].is_set():
                stops[id(crash)].set()
            if set(statuses(harness, ids)) == {"sent"}:
                break
            await asyncio.sleep(0)
    finally:
        for stop in stops.values():
            stop.set()
        await asyncio.gather(*tasks)


async def test_two_senders_on_one_database_send_each_row_once_at_telegrams_pace(
    harness: Any, world: World
) -> None:
    harness.tg.enforce_limits = True
    users = teachers(harness, 8)
    ids = [i for u in users for i in queue(harness, u, 4)]
    senders = [sender(harness), sender(harness)]
    await run_until_sent(harness, senders, ids)
    assert set(statuses(harness, ids)) == {"sent"}
    for user in users:  # each message once, in order
        assert texts(harness, user) == ["msg 0", "msg 1", "msg 2", "msg 3"]
    # both sent, each row once, and the fake saw one bot at Telegram's pace: no chat twice
    # within a second, no second over the rate, no 429
    assert all(s.sent > 0 for s in senders) and sum(s.sent for s in senders) == len(ids)
    assert_paced(harness)
    assert sum(s.rate_limited for s in senders) == 0


async def test_a_sender_that_dies_holding_a_claim_loses_it_to_another_after_the_lease(
    harness: Any, world: World
) -> None:
    from bot import outbox_claims

    users = teachers(harness, 2)
    ids = [i for u in users for i in queue(harness, u, 2)]
    clock = harness.services.clock
    started = clock.now()
    pace = outbox_claims.Pace(rate=25)
    # a sender took the first row of users[0] and died before Telegram answered
    assert outbox_claims.claim(harness.engine, ids[0], users[0].id, users[0].telegram_id,
                               holder="dead", now=clock.now(), pace=pace).taken
    survivor = sender(harness)
    await run_until_sent(harness, [survivor], ids)
    assert set(statuses(harness, ids)) == {"sent"}
    assert texts(harness, users[0]) == ["msg 0", "msg 1"]  # in order, once
    assert texts(harness, users[1]) == ["msg 0", "msg 1"]  # never held up by the dead claim
    first_to_0 = min(at for at, chat, _m in sends(harness) if chat == users[0].telegram_id)
    assert first_to_0 >= (started + pace.lease).timestamp()


async def test_a_429_holds_the_chat_and_several_hold_everyone_for_every_sender(
    harness: Any, world: World
) -> None:
    users = teachers(harness, 4)
    for user in users[:3]:
        harness.tg.inject("sendMessage", user.telegram_id, error_code=429, retry_after=30)
    ids = [i for u in users[:3] for i in queue(harness, u, 1)]
    first = sender(harness)
    assert await first.drain() == 0 and first.rate_limited == 3
    held_from = harness.services.clock.now().timestamp()
    late = queue(harness, users[3], 1)
    # another sender, which got no 429 itself, holds every chat too
    other = sender(harness)
    await run_until_sent(harness, [other], ids + late)
    after = [at for at, chat, _m in sends(harness)]
    assert len(after) == 4 and min(after) >= held_from + 30 - 1
