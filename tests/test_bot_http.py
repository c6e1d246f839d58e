"""The bot's HTTP client to the Bot API on asyncio's own streams (``bot.telegram_request``).

httpcore's pool and HTTP/1.1 are kept; only the sockets under them are asyncio streams
instead of anyio's (a third of a Bot API call's CPU in a webhook worker). These check that
the bot talks through them, concurrently and again after a shutdown, and that a pooled
connection the server has closed (or spoken on unasked) is not used again.
"""

from __future__ import annotations

import asyncio

from telegram import Bot

from bot.telegram_request import AnswerAwareRequest, AsyncioBackend, watching
from sandbox.fakebot import FakeTelegram
from tests.test_production_start import FakeBotApiServer


async def test_the_bot_sends_through_asyncio_streams_concurrently_and_after_a_restart() -> None:
    tg = FakeTelegram()
    user = tg.add_user("测试用户")
    tg.private_chat(user)
    with FakeBotApiServer(tg) as server:
        request = AnswerAwareRequest(connection_pool_size=4)
        bot = Bot(tg.token, base_url=f"{server.url}/bot", request=request)
        async with bot:
            pool = request._client._transport._pool  # type: ignore[attr-defined]
            assert isinstance(pool._network_backend, AsyncioBackend)
            with watching() as statuses:
                await asyncio.gather(*(bot.send_message(user.id, f"第{i}条") for i in range(10)))
            assert statuses == [200] * 10
        async with bot:  # PTB builds a new client after a shutdown: it works the same
            await bot.send_message(user.id, "重启之后")
    texts = [m.content for m in tg.bot_messages(user.id)]
    assert sorted(texts[:10]) == sorted(f"第{i}条" for i in range(10)) and texts[10] == "重启之后"


async def test_a_pooled_connection_the_server_closed_or_spoke_on_reads_as_expired() -> None:
    served: list[asyncio.StreamWriter] = []

    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(writer)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = AsyncioBackend()
    try:
        quiet = await backend.connect_tcp("127.0.0.1", port, timeout=5)
        spoken = await backend.connect_tcp("127.0.0.1", port, timeout=5)
        closed = await backend.connect_tcp("127.0.0.1", port, timeout=5)
        while len(served) < 3:
            await asyncio.sleep(0)
        served[1].write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # unasked, before closing
        await served[1].drain()
        served[2].close()
        for _ in range(1000):  # until the loop has read what the server did
            if spoken.get_extra_info("is_readable") and closed.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0)
        assert spoken.get_extra_info("is_readable") and closed.get_extra_info("is_readable")
        assert not quiet.get_extra_info("is_readable")  # an idle, open connection is reused
        for stream in (quiet, spoken, closed):
            await stream.aclose()
    finally:
        for writer in served:
            writer.close()
        server.close()
        await server.wait_closed()
