"""The Bot API client over real HTTP: the bot's (``BotApiRequest``, aiohttp) and the tests'
(``AnswerAwareRequest``, httpx) behave alike: what is sent, what is raised, what is noted.

The fake Bot API is served by uvicorn on a port of its own, as a local Bot API server or
Telegram would be; every test runs with both requests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest

from bot.outbox_sender import retry_after_seconds
from bot.telegram_request import AnswerAwareRequest, BotApiRequest, accepted, watching
from sandbox.fakebot import FakeTelegram, create_fake_bot_api


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: Any) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           log_config=None, loop="asyncio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def tg() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture(scope="module")
def api(tg: FakeTelegram) -> Iterator[str]:
    yield from _serve(create_fake_bot_api(tg))


_ME = (b'{"ok":true,"result":{"id":7000000001,"is_bot":true,"first_name":"bot",'
       b'"username":"baoxue_test_bot"}}')


async def _slow_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """getMe answered; sendMessage answered nothing for 3 s (a hung Telegram); any other
    method, a 502 from a proxy."""
    if scope["type"] != "http":
        return
    status, body = 502, b"<html>Bad Gateway</html>"
    if scope["path"].endswith("/getMe"):
        status, body = 200, _ME
    elif scope["path"].endswith("/sendMessage"):
        await asyncio.sleep(3)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    yield from _serve(_slow_app)


def _request(kind: str, **kwargs: Any) -> BaseRequest:
    return BotApiRequest(**kwargs) if kind == "aiohttp" else AnswerAwareRequest(**kwargs)


@pytest.fixture(params=["aiohttp", "httpx"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def bot(kind: str, tg: FakeTelegram, api: str) -> AsyncIterator[Bot]:
    bot = Bot(tg.token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot",
              request=_request(kind, connection_pool_size=4))
    async with bot:
        yield bot


async def test_a_message_with_buttons_and_a_document_go_and_come_back(
    bot: Bot, tg: FakeTelegram
) -> None:
    chat = tg.private_chat(tg.add_user("彭老师")).id
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="ok:1")]])
    with watching() as statuses:
        sent = await bot.send_message(chat, "请确认家访记录", reply_markup=keyboard)
    assert statuses == [200] and accepted(statuses)
    assert sent.text == "请确认家访记录" and sent.reply_markup == keyboard
    data = "序号,姓名\n1,余斌斌\n".encode() * 2000  # 50 KB: a real multipart upload
    document = await bot.send_document(chat, data, filename="台账.csv", caption="疑似辍学台账")
    stored = tg.bot_messages(chat)[-2:]
    assert [m.content for m in stored] == ["请确认家访记录", "疑似辍学台账"]
    assert stored[0].reply_markup == keyboard.to_dict()
    assert document.document is not None and document.document.file_name == "台账.csv"
    got = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(got) == data


async def test_a_429_raises_retry_after_and_is_noted(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.add_user("何老师")).id
    tg.inject("sendMessage", chat, error_code=429, retry_after=7)
    with watching() as statuses, pytest.raises(RetryAfter) as raised:
        await bot.send_message(chat, "第二条")
    assert retry_after_seconds(raised.value) == 7
    assert statuses == [429] and not accepted(statuses)
    tg.inject("sendMessage", chat, error_code=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(chat, "第三条")


async def test_an_answer_taken_but_unreadable_is_told_apart(bot: Bot, tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.add_user("邹老师")).id
    tg.garble_answer("sendMessage", chat, body=b"<html>proxy</html>")
    with watching() as statuses, pytest.raises(TelegramError, match="Invalid server response"):
        await bot.send_message(chat, "已送达")
    assert accepted(statuses)  # Telegram took it: the outbox must not send it again
    assert tg.bot_messages(chat)[-1].content == "已送达"


async def test_no_answer_is_timed_out_and_a_bad_gateway_or_no_server_a_network_error(
    kind: str, tg: FakeTelegram, odd_server: str
) -> None:
    request = _request(kind, connection_pool_size=2, read_timeout=0.3)
    async with Bot(tg.token, base_url=f"{odd_server}/bot", request=request) as bot:
        began = time.monotonic()
        with watching() as statuses, pytest.raises(TimedOut):
            await bot.send_message(1, "无人应答")
        assert time.monotonic() - began < 2.5 and statuses == []
        with watching() as statuses, pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_chat_action(1, "typing")
        assert statuses == [502]
    closed = f"http://127.0.0.1:{_free_port()}/bot{tg.token}/sendMessage"
    request = _request(kind, connection_pool_size=1)
    await request.initialize()
    try:
        with watching() as statuses, pytest.raises(NetworkError) as raised:
            await request.post(closed)
        assert not isinstance(raised.value, (TimedOut, BadRequest)) and statuses == []
    finally:
        await request.shutdown()


async def test_a_request_works_before_initialize_and_refuses_after_shutdown(
    tg: FakeTelegram, api: str
) -> None:
    """As PTB's own request: a bot driven without ``initialize()`` (the sandbox's tests do)
    still sends; one shut down does not."""
    request = BotApiRequest()
    url = f"{api}/bot{tg.token}/getMe"
    assert (await request.do_request(url, "POST"))[0] == 200
    await request.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        await request.do_request(url, "POST")
