"""CPU per Bot API call: the bot's request (aiohttp) against PTB's own (httpx).

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_bot_api.py [--calls 3000] [--rounds 3]

A stand-in Bot API answers every ``sendMessage`` with the same message, in a process of
its own (uvicorn, as Telegram or a local Bot API server would be reached over HTTP). The
bot sends ``--calls`` messages one after another with each request in turn, ``--rounds``
times interleaved, and prints the median CPU time of this process per call: what a webhook
worker or a sender spends on each call it makes (PTB's own work included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvloop  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.request import BaseRequest  # noqa: E402

from bot.telegram_request import AnswerAwareRequest, BotApiRequest  # noqa: E402

TOKEN = "7000000001:AAbench"
MESSAGE = {"message_id": 5, "date": 1_700_000_000, "text": "下一步：家长态度？",
           "chat": {"id": 42, "type": "private", "first_name": "彭"},
           "from": {"id": 7_000_000_001, "is_bot": True, "first_name": "bot"},
           "reply_markup": {"inline_keyboard": [[{"text": "支持", "callback_data": "v:1"}]]}}
ME = {"id": 7_000_000_001, "is_bot": True, "first_name": "bot", "username": "bench_bot"}

SERVER = f"""
import json, uvicorn
BODIES = {{b"getMe": {json.dumps({"ok": True, "result": ME}).encode()!r},
           b"sendMessage": {json.dumps({"ok": True, "result": MESSAGE}).encode()!r}}}
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = BODIES.get(scope["path"].rsplit("/", 1)[1].encode(), b"{{}}")
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]}})
    await send({{"type": "http.response.body", "body": body}})
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning")
"""


async def cpu_per_call(request: BaseRequest, url: str, calls: int) -> float:
    async with Bot(TOKEN, base_url=f"{url}/bot", request=request) as bot:
        for _ in range(100):  # warm: connections open, caches filled
            await bot.send_message(42, "家访记录已保存")
        began = time.process_time()
        for _ in range(calls):
            await bot.send_message(42, "家访记录已保存")
        return (time.process_time() - began) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18990)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.port)])
    try:
        for _ in range(100):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        kinds = {"httpx (AnswerAwareRequest, the tests')": AnswerAwareRequest,
                 "aiohttp (BotApiRequest, the bot's)": BotApiRequest}
        seen: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(args.rounds):
            for name, kind in kinds.items():
                seen[name].append(uvloop.run(
                    cpu_per_call(kind(connection_pool_size=8), url, args.calls)))
        print(f"{args.calls} sendMessage calls, {args.rounds} interleaved rounds; "
              "CPU of the calling process per call, median (and each round):")
        for name, values in seen.items():
            rounds = " ".join(f"{1000 * v:.3f}" for v in values)
            print(f"  {name:40s} {1000 * statistics.median(values):.3f} ms   ({rounds})")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
