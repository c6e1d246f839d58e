"""No secret in a log: the CLI's real logging set-up, in a process of its own, while the
real PTB bot makes real httpx requests (answered by an httpx MockTransport).

httpx is kept at WARNING, so its per-request lines are not written at all; forced to INFO
its line is written with the token replaced. A traceback, a token-shaped string nobody
configured, and the configured webhook secret are redacted too, whatever the logger.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from casework.personal import Cipher

TOKEN = "7012345678:AAHf3kX9_qL2mN8pR4tV6wY0zB1cD5eF7gJ"
OTHER = "98765:" + "b" * 35
SECRET = "k3Jx9_vQ-2mWbT7rYp4sLz8nAe6uHc1dFg5oRiUt0yB"

SCRIPT = f"""
import asyncio, logging, httpx
from telegram import Bot
from telegram.request import HTTPXRequest
from cli.common import boot_or_exit

boot_or_exit()                              # the CLI's logging: WARNING, secrets redacted
logging.getLogger().setLevel(logging.INFO)  # as `baoxue run` does

def answer(request):
    return httpx.Response(200, json={{"ok": True, "result": {{
        "id": 7012345678, "is_bot": True, "first_name": "bot", "username": "qs_bot"}}}})

async def main():
    request = HTTPXRequest(httpx_kwargs={{"transport": httpx.MockTransport(answer)}})
    bot = Bot("{TOKEN}", request=request)
    async with bot:
        print("httpx level", logging.getLogger("httpx").getEffectiveLevel(), flush=True)
        await bot.get_me()                               # httpx at WARNING: no line
        logging.getLogger("httpx").setLevel(logging.INFO)  # were it at httpx's INFO
        await bot.get_me()

asyncio.run(main())
log = logging.getLogger("telegram.ext.Updater")
try:
    raise RuntimeError("POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")
except RuntimeError:
    log.exception("could not send via %s", httpx.URL("https://api.telegram.org/bot{TOKEN}/x"))
logging.getLogger("anything").warning("a token nobody configured: %s", "{OTHER}")
logging.getLogger("anything").warning("the secret: {SECRET}")
"""


def test_no_token_or_secret_reaches_the_log(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "WEBHOOK_SECRET": SECRET,
        "ENCRYPTION_KEY": Cipher.generate_key(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "httpx level 30" in done.stdout  # WARNING
    log = done.stderr
    for secret in (TOKEN, TOKEN.split(":")[1], OTHER, SECRET):
        assert secret not in log, log
    requests = [line for line in log.splitlines() if "HTTP Request" in line]
    assert requests == [
        'INFO httpx: HTTP Request: POST https://api.telegram.org/bot[REDACTED]/getMe "HTTP/1.1 200 OK"'
    ]
    assert "ERROR telegram.ext.Updater: could not send via https://api.telegram.org/bot[REDACTED]/x" in log
    assert "RuntimeError: POST https://api.telegram.org/bot[REDACTED]/sendMessage failed" in log
    assert "a token nobody configured: [REDACTED]" in log
    assert "the secret: [REDACTED]" in log
