"""Webhook mode, as Telegram (and an attacker holding the URL) would use it.

- the secret header is checked; a body over 1 MiB is refused before it is read; a body
  that is not an update (bad JSON, deeply nested, a field of the wrong type) is a 400;
  ``/docs`` and ``/openapi.json`` exist only in development;
- redeliveries are dropped by the ``processed_update`` table, written with the turn's
  work: across a restart, across two workers (two PTB Applications on one database:
  processed once, replied once, no "query is too old" apology), while a failed turn's
  retry is processed; updates no turn handles (a group command) are recorded too; old
  rows are pruned;
- a private-chat update whose chat is not its sender (the admin's ``from`` with the
  attacker's chat) is refused before any handler, answers nothing and is audited;
- webhook mode refuses to start without a random ``WEBHOOK_SECRET``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import Session, select
from starlette.requests import ClientDisconnect
from telegram import Update
from telegram.error import BadRequest
from typer.testing import CliRunner

from bot.app import build_application
from bot.runtime import StartupError, new_webhook_secret, webhook_secret
from bot.services import Services
from bot.settings import Settings, get_settings
from bot.webhook import MAX_BODY, SECRET_HEADER, WEBHOOK_PATH, create_webhook_app
from casework import callbacks
from casework.personal import Cipher
from cli.main import app as cli_app
from handlers import background, menu, tap_answers, updates
from models import db
from models.tables import AuditEvent, ProcessedUpdate
from sandbox.harness import (
    FAKE_BASE_FILE_URL,
    FAKE_BASE_URL,
    ChatUser,
    fake_bot_request,
    webhook_client,
)

SECRET = "k3Jx9_vQ-2mWbT7rYp4sLz8nAe6uHc1dFg5oRiUt0yB"  # shaped as `key generate --webhook` makes


def webhook(application: Any, **kwargs: Any) -> Any:
    return create_webhook_app(application, url="https://bot.example.org", secret=SECRET,
                              manage_lifecycle=False, **kwargs)


async def client_for(app: Any, tg: Any, **transport: Any) -> httpx.AsyncClient:
    """Telegram's side: the Bot API call named in a response (a tap's answer) is made."""
    return webhook_client(app, tg, **transport)


@pytest.fixture
async def client(harness: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(webhook(harness.app), harness.tg) as c:
        yield c


async def post(client: httpx.AsyncClient, update: dict[str, Any]) -> int:
    return (await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})).status_code


def processed(harness: Any) -> list[int]:
    with Session(harness.engine) as s:
        return sorted(s.exec(select(ProcessedUpdate.update_id)).all())


def chat_of(harness: Any, db_user: Any) -> Any:
    user = harness.tg.add_user(db_user.display_name, user_id=db_user.telegram_id)
    harness.tg.private_chat(user)
    return user


# --- the endpoint -------------------------------------------------------------------------


async def test_webhook_checks_the_secret_and_drops_redeliveries(harness, world, client) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)

    assert (await client.get("/healthz")).json()["status"] == "ok"
    bad = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: "wrong"})
    missing = await client.post(WEBHOOK_PATH, json=update)
    assert (bad.status_code, missing.status_code) == (401, 401)
    assert harness.tg.bot_messages(teacher.telegram_id) == []

    assert (await post(client, update), await post(client, update)) == (200, 200)
    garbage = await client.post(WEBHOOK_PATH, content=b"{", headers={SECRET_HEADER: SECRET})
    assert garbage.status_code == 400

    replies = harness.tg.bot_messages(teacher.telegram_id)
    assert len(replies) == 1  # the redelivered update was not handled twice
    assert "报告疑似辍学" in str(replies[0].buttons())
    assert processed(harness) == [update["update_id"]]


async def test_webhook_mode_registers_itself_with_telegram(harness) -> None:  # type: ignore[no-untyped-def]
    application = harness.build()
    app = create_webhook_app(application, url="https://bot.example.org/", secret=SECRET)
    async with app.router.lifespan_context(app):
        assert application.running
        assert harness.tg.webhook.url == "https://bot.example.org" + WEBHOOK_PATH
        assert harness.tg.webhook.secret_token == SECRET
    assert not application.running


async def test_a_body_over_a_mebibyte_is_refused_before_it_is_read(harness, world, client) -> None:  # type: ignore[no-untyped-def]
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(3):
            pulled += 1
            yield b" " * (MAX_BODY // 2)

    headers = {SECRET_HEADER: SECRET, "Content-Length": str(3 * (MAX_BODY // 2))}
    declared = await client.post(WEBHOOK_PATH, content=body(), headers=headers)
    assert (declared.status_code, pulled) == (413, 0)  # refused on its length, unread

    # no length given (chunked): read only until it passes the limit
    pulled = 0
    streamed = await client.post(WEBHOOK_PATH, content=body(), headers={SECRET_HEADER: SECRET})
    assert (streamed.status_code, pulled) == (413, 3)

    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)
    padded = json.dumps({**update, "padding": " " * (MAX_BODY - 2_000)}).encode()
    assert len(padded) <= MAX_BODY
    ok = await client.post(WEBHOOK_PATH, content=padded, headers={SECRET_HEADER: SECRET})
    assert ok.status_code == 200  # just under the limit is an update like any other
    assert len(harness.tg.bot_messages(teacher.telegram_id)) == 1


async def test_what_is_not_an_update_is_a_400(harness, world, client) -> None:  # type: ignore[no-untyped-def]
    nested = b'{"update_id": 7, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    link = '{"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "reply_to_message": '
    deep = ('{"update_id": 8, "message": ' + link * 3_000 + "null" + "}" * 3_001).encode()
    for body in (nested, deep, b"[1, 2]", b'{"update_id": "9"}', b'{"update_id": 10, "message": 5}',
                 "☃".encode("utf-16")):
        answer = await client.post(WEBHOOK_PATH, content=body, headers={SECRET_HEADER: SECRET})
        assert answer.status_code == 400, body[:40]
    assert processed(harness) == []

    # a malformed update is not remembered: Telegram's retry of it, well formed, is processed
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)
    broken = {**update, "message": {**update["message"], "chat": "nonsense"}}
    assert await post(client, broken) == 400
    assert await post(client, update) == 200
    assert len(harness.tg.bot_messages(teacher.telegram_id)) == 1


async def test_docs_exist_only_in_development(harness) -> None:  # type: ignore[no-untyped-def]
    async with await client_for(webhook(harness.app), harness.tg) as production:
        assert (await production.get("/docs")).status_code == 404
        assert (await production.get("/openapi.json")).status_code == 404
    async with await client_for(webhook(harness.build(), docs=True), harness.tg) as development:
        assert (await development.get("/docs")).status_code == 200
        assert (await development.get("/openapi.json")).status_code == 200


# --- the path served in front of FastAPI --------------------------------------------------


async def test_the_webhook_is_answered_in_front_of_fastapi(harness, world) -> None:  # type: ignore[no-untyped-def]
    """A POST to the webhook never enters FastAPI's middleware and routing (built on the
    first request they serve); the rest of the path is FastAPI's, answering as it did."""
    app = webhook(harness.app)
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)
    async with await client_for(app, harness.tg) as client:
        assert (await post(client, update), await post(client, update)) == (200, 200)
        assert app.middleware_stack is None  # FastAPI was never asked
        for method in ("GET", "HEAD", "PUT"):
            other = await client.request(method, WEBHOOK_PATH, headers={SECRET_HEADER: SECRET})
            assert (other.status_code, other.headers["allow"]) == (405, "POST"), method
        slash = await client.post(WEBHOOK_PATH + "/", json=update, headers={SECRET_HEADER: SECRET})
        assert (slash.status_code, slash.headers["location"]) == (307, "http://bot" + WEBHOOK_PATH)
        assert (await client.get("/healthz")).json()["status"] == "ok"
    assert app.middleware_stack is not None
    assert len(harness.tg.bot_messages(teacher.telegram_id)) == 1
    assert processed(harness) == [update["update_id"]]


async def test_behind_a_root_path_fastapi_routes_the_webhook_to_the_same_answer(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)
    async with await client_for(webhook(harness.app), harness.tg, root_path="/bot") as client:
        wrong = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: "wrong"})
        assert wrong.status_code == 401
        assert (await post(client, update), await post(client, update)) == (200, 200)
        garbage = await client.post(WEBHOOK_PATH, content=b"{", headers={SECRET_HEADER: SECRET})
        assert garbage.status_code == 400
    assert len(harness.tg.bot_messages(teacher.telegram_id)) == 1
    assert processed(harness) == [update["update_id"]]


async def test_an_unexpected_error_is_a_500_and_goes_on_to_the_server(harness, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As FastAPI's ServerErrorMiddleware did: a 500, and the exception raised on to the
    server (uvicorn logs it); Telegram's retry, once the database is back, is processed."""
    teacher = world.users["teacher"]
    group = harness.tg.add_group("七年级1班家长群")
    update = harness.tg.send_text_in_group(chat_of(harness, teacher), group.id, "/menu", enqueue=False)
    is_processed = updates.is_processed

    def down(*_args: Any) -> bool:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(updates, "is_processed", down)
    async with await client_for(webhook(harness.app), harness.tg, raise_app_exceptions=False) as client:
        failed = await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
        assert (failed.status_code, failed.text) == (500, "Internal Server Error")
        assert failed.headers["content-type"] == "text/plain; charset=utf-8"
    async with await client_for(webhook(harness.app), harness.tg) as client:
        with pytest.raises(RuntimeError, match="the database went away"):
            await post(client, update)
        assert harness.tg.bot_messages(group.id) == []
        monkeypatch.setattr(updates, "is_processed", is_processed)
        assert await post(client, update) == 200
    assert len(harness.tg.bot_messages(group.id)) == 1


async def test_a_sender_gone_mid_body_is_not_processed(harness, world) -> None:  # type: ignore[no-untyped-def]
    app = webhook(harness.app)
    teacher = world.users["teacher"]
    body = json.dumps(harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)).encode()
    messages = [{"type": "http.request", "body": body[:10], "more_body": True},
                {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": WEBHOOK_PATH, "raw_path": WEBHOOK_PATH.encode(),
             "root_path": "", "query_string": b"", "server": ("bot", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"bot"), (SECRET_HEADER.lower().encode(), SECRET.encode())]}
    with pytest.raises(ClientDisconnect):
        await app(scope, receive, send)
    assert sent[0]["status"] == 500  # to no one, as FastAPI did
    assert harness.tg.bot_messages(teacher.telegram_id) == []
    assert processed(harness) == []


# --- a tap's answer in the response -------------------------------------------------------


def answers_in(harness: Any, chat_id: int, since: int = 0) -> list[tuple[str | None, bool]]:
    return [(a.text, a.show_alert) for a in harness.tg.callback_answers if a.chat_id == chat_id][since:]


async def test_a_taps_answer_comes_back_in_the_webhooks_response(harness, world, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """By webhook, the answer to a tap is the webhook's response (Telegram makes the call):
    the same answers as over HTTP, each tap answered once, a failed turn's tap too, and a
    redelivered tap answered by its first delivery alone."""
    teacher = world.users["teacher"]
    tg_user = chat_of(harness, teacher)

    async def taps(user: ChatUser) -> None:
        await user.send("/menu")
        await user.tap_data("nonsense")  # a button no longer in use: an answer with a text
        await user.tap("报告疑似辍学")  # an answer without one
        await user.send("/cancel")

    # over HTTP (no webhook: the harness's process_update), as in polling mode
    await taps(ChatUser(harness.tg, harness.app, user=tg_user, enqueue=False))
    over_http = answers_in(harness, teacher.telegram_id)
    assert len(over_http) == 2 and over_http[0][0], over_http
    assert harness.tg.call_count("answerCallbackQuery", via="http") == 2

    responses: list[httpx.Response] = []

    async def deliver(update: dict[str, Any]) -> None:
        responses.append(await client.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET}))

    user = ChatUser(harness.tg, user=tg_user, deliver=deliver, enqueue=False)
    await taps(user)
    assert answers_in(harness, teacher.telegram_id, since=2) == over_http
    assert harness.tg.unanswered_callbacks == []
    assert harness.tg.call_count("answerCallbackQuery", via="http") == 2  # none more
    assert harness.tg.call_count("answerCallbackQuery", via="webhook response") == 2
    tap_ids = [u["callback_query"]["id"] for u in user.updates if "callback_query" in u]
    assert [r.json()["callback_query_id"] for r in responses if r.content] == tap_ids
    assert responses[1].json() == {"method": "answerCallbackQuery", "callback_query_id": tap_ids[0],
                                   "text": over_http[0][0], "show_alert": over_http[0][1]}
    assert responses[1].headers["content-type"] == "application/json"
    assert [r.content for r in (responses[0], responses[3])] == [b"", b""]  # messages: nothing

    # Telegram redelivers the tap: done already, nothing answered again
    redelivered = await client.post(WEBHOOK_PATH, json=user.updates[2], headers={SECRET_HEADER: SECRET})
    assert (redelivered.status_code, redelivered.content) == (200, b"")

    # a turn that fails: the error handler's answer (the tap stops spinning) is the response
    def broken(_data: str) -> Any:
        raise RuntimeError("the database went away mid-turn")

    monkeypatch.setattr(callbacks, "decode", broken)
    await user.tap_data("nonsense")
    assert [str(e) for e in harness.errors] == ["the database went away mid-turn"]
    harness.errors.clear()
    assert responses[-1].json() == {"method": "answerCallbackQuery",
                                    "callback_query_id": user.updates[-1]["callback_query"]["id"]}
    assert harness.tg.unanswered_callbacks == []
    assert harness.tg.call_count("answerCallbackQuery", via="http") == 2
    assert "出了点问题" in harness.tg.bot_messages(teacher.telegram_id)[-1].content


async def test_a_tap_is_answered_once_in_the_response_and_later_answers_go_over_http(harness) -> None:  # type: ignore[no-untyped-def]
    """The first answer inside the webhook's block is the response; a second (the error
    handler's after a turn that answered) is refused as Telegram refuses it; once the
    response is written, an answer is an ordinary call again."""
    user = harness.tg.add_user("某人", user_id=990_000_002)
    harness.tg.private_chat(user)
    message = (await harness.app.bot.send_message(user.id, "?")).message_id
    tap = Update.de_json(harness.tg.tap(user, message, "x", enqueue=False, forged=True), harness.app.bot)
    assert tap is not None and tap.callback_query is not None
    with tap_answers.collecting(tap) as box:
        assert box is not None
        assert await tap_answers.answer(tap.callback_query, "好的", show_alert=True)
        with pytest.raises(BadRequest, match="too old"):
            await tap_answers.answer(tap.callback_query)
    assert json.loads(box.response() or b"") == {
        "method": "answerCallbackQuery", "callback_query_id": tap.callback_query.id,
        "text": "好的", "show_alert": True}
    assert harness.tg.call_count("answerCallbackQuery") == 0
    made = await harness.tg.apply_webhook_response(200, box.response() or b"", "application/json")
    assert isinstance(made, dict) and made["ok"]  # Telegram made the call
    with pytest.raises(BadRequest, match="too old"):  # over HTTP now: answered already
        await tap_answers.answer(tap.callback_query)
    assert harness.tg.call_count("answerCallbackQuery", via="webhook response") == 1
    assert harness.tg.call_count("answerCallbackQuery", via="http") == 1
    assert harness.tg.callback_answer(tap.callback_query.id).text == "好的"


# --- redeliveries ------------------------------------------------------------------------


async def test_a_failed_turn_is_processed_on_telegrams_retry(harness, world, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)
    show_menu = menu.show_menu

    def broken(turn: Any, **kwargs: Any) -> None:
        turn.replies.send("half a menu")
        raise RuntimeError("the database went away mid-turn")

    monkeypatch.setattr(menu, "show_menu", broken)
    assert await post(client, update) == 200  # PTB reported it; the user was told
    assert [str(e) for e in harness.errors] == ["the database went away mid-turn"]
    harness.errors.clear()
    assert processed(harness) == []  # rolled back with the turn
    apology = harness.tg.bot_messages(teacher.telegram_id)
    assert len(apology) == 1 and "出了点问题" in apology[0].content

    monkeypatch.setattr(menu, "show_menu", show_menu)
    assert await post(client, update) == 200  # the retry
    replies = harness.tg.bot_messages(teacher.telegram_id)
    assert len(replies) == 2 and "报告疑似辍学" in str(replies[1].buttons())
    assert processed(harness) == [update["update_id"]]


async def test_a_redelivery_after_a_restart_is_dropped(harness, world, client) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/menu", enqueue=False)
    assert await post(client, update) == 200

    # a new process: nothing in memory, its own engine
    engine = db.make_engine(harness.engine.url.render_as_string(hide_password=False))
    restarted = build_application(
        harness.tg.token, Services(engine=engine, clock=harness.services.clock, policy=harness.services.policy),
        base_url=FAKE_BASE_URL, base_file_url=FAKE_BASE_FILE_URL, request=fake_bot_request(harness.api),
        get_updates_request=fake_bot_request(harness.api), updater=False,
    )
    async with restarted, await client_for(webhook(restarted), harness.tg) as after:
        assert await post(after, update) == 200
    engine.dispose()
    assert len(harness.tg.bot_messages(teacher.telegram_id)) == 1


async def test_two_workers_process_a_redelivery_once(harness, world) -> None:  # type: ignore[no-untyped-def]
    """Two webhook workers (two PTB Applications) on one database get the same updates,
    at the same time: each is processed once and answered once."""
    teacher = world.users["teacher"]
    worker2 = harness.build()
    async with worker2, await client_for(webhook(harness.app), harness.tg) as one, \
            await client_for(webhook(worker2), harness.tg) as two:

        async def both(update: dict[str, Any]) -> None:
            assert await asyncio.gather(post(one, update), post(two, update)) == [200, 200]

        user = ChatUser(harness.tg, user=chat_of(harness, teacher), deliver=both, enqueue=False)
        await user.send("/menu")
        assert len(user.replies) == 1
        await user.tap("报告疑似辍学")  # the tap Telegram redelivered to the other worker
        assert harness.tg.unanswered_callbacks == []
        assert len(harness.tg.callback_answers) == 1
        await user.send("/cancel")
        await user.send("/export")  # refused: the refusal is said once, audited once

    texts = [m.content for m in harness.tg.bot_messages(teacher.telegram_id)]
    assert not any("出了点问题" in t for t in texts), texts  # no "query is too old" apology
    # the menu, how long a draft is kept and the report's first question, "cancelled" and
    # the menu, the refusal: each once
    assert len(texts) == 6, texts
    assert len(set(texts)) == 5 and texts.count(texts[0]) == 2, texts
    assert texts[-1] == "只有学校负责人、乡镇和县级工作人员可以导出台账。"
    with Session(harness.engine) as s:
        denials = s.exec(select(AuditEvent).where(AuditEvent.allowed == False)).all()  # noqa: E712
    assert [d.action for d in denials] == ["ledger.export"]
    assert processed(harness) == [u["update_id"] for u in user.updates]


async def test_a_refused_turn_records_its_update_with_the_audit(harness, world) -> None:  # type: ignore[no-untyped-def]
    """The turn itself writes the row (the webhook's after-the-fact record is for updates no
    turn handled): a refusal rolls the turn back but keeps the row, with the audit entry."""
    webhook(harness.app)  # the application is now served by webhook: turns record updates
    teacher = world.users["teacher"]
    update = harness.tg.send_text(chat_of(harness, teacher), "/export", enqueue=False)
    await harness.app.process_update(Update.de_json(update, harness.app.bot))
    assert processed(harness) == [update["update_id"]]
    await harness.app.process_update(Update.de_json(update, harness.app.bot))  # redelivered
    assert [m.content for m in harness.tg.bot_messages(teacher.telegram_id)] == [
        "只有学校负责人、乡镇和县级工作人员可以导出台账。"
    ]
    with Session(harness.engine) as s:
        assert len(s.exec(select(AuditEvent).where(AuditEvent.allowed == False)).all()) == 1  # noqa: E712


def claim_race(engine: Any, clock: Any, first_commits: bool) -> tuple[list[str], list[bool]]:
    """Worker 1 claims update 7 and holds its transaction a moment; worker 2 claims it too."""
    claimed = threading.Event()
    order: list[str] = []
    results: list[bool] = []

    def first() -> None:
        with Session(engine) as s:
            assert updates.claim(s, 7, clock.now())
            claimed.set()
            time.sleep(0.3)  # real time: the other worker's claim is waiting meanwhile
            order.append("first ends")
            if first_commits:
                s.commit()
            else:
                s.rollback()  # the turn failed

    def second() -> None:
        assert claimed.wait(5)
        with Session(engine) as s:
            results.append(updates.claim(s, 7, clock.now()))
            order.append("second claimed")
            s.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return order, results


def test_a_claim_waits_for_the_other_workers_transaction(engine, clock) -> None:  # type: ignore[no-untyped-def]
    """At the database: while one worker's turn holds update 7, another worker's claim
    waits; it takes the row if that turn fails, and finds it taken if that turn commits."""
    for first_commits in (False, True):
        order, results = claim_race(engine, clock, first_commits)
        assert order == ["first ends", "second claimed"]
        assert results == [not first_commits]
        with Session(engine) as s:
            assert s.exec(select(ProcessedUpdate.update_id)).all() == [7]
            s.delete(s.get(ProcessedUpdate, 7))
            s.commit()


async def test_updates_no_turn_handles_are_deduped_and_old_rows_pruned(harness, world, clock, client) -> None:  # type: ignore[no-untyped-def]
    teacher = world.users["teacher"]
    group = harness.tg.add_group("七年级1班家长群")
    in_group = harness.tg.send_text_in_group(chat_of(harness, teacher), group.id, "/menu", enqueue=False)
    assert (await post(client, in_group), await post(client, in_group)) == (200, 200)
    assert len(harness.tg.bot_messages(group.id)) == 1  # one pointer to a private chat
    assert processed(harness) == [in_group["update_id"]]

    clock.set(clock.now() + timedelta(days=1, minutes=1))
    later = copy.deepcopy(in_group)
    later["update_id"] = updates.PRUNE_EVERY * 4  # every PRUNE_EVERY-th update prunes
    later["message"]["text"] = "hello"
    assert await post(client, later) == 200
    assert processed(harness) == [later["update_id"]]  # the day-old row is gone


async def test_a_turns_update_is_recorded_by_its_turn_alone(harness, world, clock, client) -> None:  # type: ignore[no-untyped-def]
    """A private chat's update is always a turn's, which writes the row with its work: no
    look-up before the handlers and no record after them (the turn's is the only
    transaction), and the update that prunes still prunes."""
    teacher = world.users["teacher"]
    user = chat_of(harness, teacher)
    transactions: list[int] = []

    def began(_conn: Any) -> None:
        transactions.append(1)

    event.listen(harness.engine, "begin", began)
    try:
        first = harness.tg.send_text(user, "/menu", enqueue=False)
        assert await post(client, first) == 200
        assert len(transactions) == 1  # the turn, with its claim
        assert processed(harness) == [first["update_id"]]

        clock.set(clock.now() + timedelta(days=1, minutes=1))
        later = harness.tg.send_text(user, "/cancel", enqueue=False)
        later["update_id"] = updates.PRUNE_EVERY * 4  # every PRUNE_EVERY-th update prunes
        transactions.clear()
        assert await post(client, later) == 200
        assert len(transactions) == 2  # the turn, and the prune
    finally:
        event.remove(harness.engine, "begin", began)
    assert processed(harness) == [later["update_id"]]  # the day-old row is gone
    replies = harness.tg.bot_messages(teacher.telegram_id)
    assert "报告疑似辍学" in str(replies[0].buttons())  # each update answered once
    assert [m.content for m in replies[1:]] == ["当前没有可取消的操作。", replies[0].content]


# --- a forged private chat --------------------------------------------------------------------


async def test_a_forged_update_gets_nothing_and_is_audited(harness, world, client) -> None:  # type: ignore[no-untyped-def]
    """Someone with the webhook secret posts the admin's ``from`` in their own chat, asking
    for the ledger: nothing is answered anywhere, and the attempt is in the audit log."""
    admin = world.users["admin"]
    chat_of(harness, admin)
    attacker = harness.tg.add_user("某人", user_id=990_000_001)
    harness.tg.private_chat(attacker)
    forged = harness.tg.send_text(attacker, "/export", enqueue=False)
    forged["message"]["from"] = harness.tg.users[admin.telegram_id].to_dict()

    assert await post(client, forged) == 200
    await background.wait()
    assert harness.tg.bot_messages(attacker.id) == []
    assert harness.tg.bot_messages(admin.telegram_id) == []
    with Session(harness.engine) as s:
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "update.forged")).one()
    assert (audit.allowed, audit.actor_id, audit.object_type) == (False, admin.id, "update")
    assert audit.detail == {"update_id": forged["update_id"], "chat_id": attacker.id,
                            "from_id": admin.telegram_id}

    # the admin, in their own chat, is served as always
    real = harness.tg.send_text(harness.tg.users[admin.telegram_id], "/export", enqueue=False)
    assert await post(client, real) == 200
    assert harness.tg.bot_messages(admin.telegram_id)[0].content.startswith("导出台账：")


# --- the secret is required ---------------------------------------------------------------


def test_webhook_mode_needs_a_random_secret_of_32_characters() -> None:
    generated = new_webhook_secret()
    assert webhook_secret(Settings(bot_token="1:x", webhook_secret=generated)) == generated
    for bad in (None, "", "short_secret", "a" * 31, "has spaces and is long enough to pass 32",
                Cipher.generate_key()):  # a Fernet key ends in "=", which Telegram refuses
        with pytest.raises(StartupError):
            webhook_secret(Settings(bot_token="1:x", webhook_secret=bad))


@pytest.fixture
def cli_env(cli_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """conftest's, with a token and a public address for webhook mode (and no secret)."""
    cli_env.setenv("BOT_TOKEN", "123456:" + "A" * 35)
    cli_env.setenv("WEBHOOK_URL", "https://bot.example.org")
    get_settings.cache_clear()
    return cli_env


def test_run_in_webhook_mode_refuses_to_start_without_the_secret(cli_env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli_app, ["run"])
    assert result.exit_code == 2, result.output
    assert "WEBHOOK_SECRET is not set" in result.stderr
    assert "baoxue key generate --webhook" in result.stderr

    made = CliRunner().invoke(cli_app, ["key", "generate", "--webhook"])
    assert made.exit_code == 0
    assert webhook_secret(Settings(webhook_secret=made.stdout.strip())) == made.stdout.strip()

