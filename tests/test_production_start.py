"""The production start-up path of the Dockerfile, run as a subprocess (``docker build``
cannot run here): the Dockerfile's own ENV and CMD, with only the data path, HOST and
PORT moved into the test's directory.

- without BOT_TOKEN or ENCRYPTION_KEY it refuses, says what to set, and creates nothing
  (no database, no key file) — and above all does not become the sandbox;
- ``baoxue sandbox`` refuses to run at all under BAOXUE_ENV=production, and ``baoxue run``
  refuses the sandbox's (marked) database there;
- with both it gets past the checks and runs the bot against a fake Bot API served on a
  loopback port (BOT_API_URL), the Dockerfile's HEALTHCHECK command passes, the bot
  answers a message, SIGTERM stops it, and no key was written next to the database.

The image itself is checked for what cannot be run here: production mode, a non-root
user, a HEALTHCHECK on /healthz, the data volume not being the working directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.runtime import ENCRYPTION_KEY_MISSING
from casework.personal import Cipher
from sandbox.fakebot import FakeTelegram, create_fake_bot_api

ROOT = Path(__file__).resolve().parent.parent
BAOXUE = ROOT / ".venv" / "bin" / "baoxue"
# settings a developer's shell may have that the container would not
SCRUBBED = ("BOT_TOKEN", "ENCRYPTION_KEY", "BAOXUE_ENV", "DATABASE_URL", "TEST_DATABASE_URL",
            "WEBHOOK_URL", "WEBHOOK_SECRET", "BOT_API_URL", "HOST", "PORT", "SANDBOX_HOST")


@dataclass
class Dockerfile:
    env: dict[str, str]
    cmd: list[str]
    healthcheck: list[str]
    user: str | None
    workdir: str
    volumes: list[str]


def _dockerfile() -> Dockerfile:
    """ENV, CMD, HEALTHCHECK, USER, WORKDIR and VOLUME of the final stage, as Docker reads them."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    # one instruction a line once the continuations are joined; comments dropped
    logical = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()
               if line.strip() and not line.lstrip().startswith("#")]
    env: dict[str, str] = {}
    cmd: list[str] = []
    healthcheck: list[str] = []
    user = None
    workdir = "/"
    volumes: list[str] = []
    for ins in logical:
        word, _sep, rest = ins.partition(" ")
        if word == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(rest))  # type: ignore[misc]
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            healthcheck = json.loads(rest[rest.index("CMD ") + 4:])
        elif word == "USER":
            user = rest.strip()
        elif word == "WORKDIR":
            workdir = rest.strip()
        elif word == "VOLUME":
            volumes = json.loads(rest)
    return Dockerfile(env, cmd, healthcheck, user, workdir, volumes)


DOCKER = _dockerfile()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Container:
    """The Dockerfile's process with /data and /app moved into a temporary directory."""

    data: Path
    workdir: Path
    env: dict[str, str]

    @property
    def db(self) -> Path:
        return self.data / "baoxue.db"

    def command(self, *args: str) -> list[str]:
        return [str(BAOXUE), *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def files(self) -> set[str]:
        """Every file in the data volume and the working directory (a key must be in neither)."""
        return {str(p.relative_to(self.data.parent)) for d in (self.data, self.workdir)
                for p in d.rglob("*") if p.is_file()}


@pytest.fixture
def container(tmp_path: Path) -> Container:
    data = tmp_path / "data"
    workdir = tmp_path / "app"
    data.mkdir()
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    for name, value in DOCKER.env.items():
        env[name] = value.replace("/data/", f"{data}/")
    assert env["DATABASE_URL"] == f"sqlite:///{data}/baoxue.db"
    env["HOST"] = "127.0.0.1"  # 0.0.0.0 in the image; loopback is enough for the test
    env["PORT"] = str(_free_port())
    return Container(data, workdir, env)


def test_the_image_runs_production_mode_as_a_non_root_user_with_a_health_check() -> None:
    assert DOCKER.env["BAOXUE_ENV"] == "production"
    assert DOCKER.cmd == ["baoxue", "run"]
    assert DOCKER.user not in (None, "root", "0")
    assert any("/healthz" in part for part in DOCKER.healthcheck)
    # the key is never written next to the database: nothing is run from the data volume
    assert DOCKER.volumes == ["/data"] and not DOCKER.workdir.startswith("/data")
    assert "ENCRYPTION_KEY" not in DOCKER.env and "BOT_TOKEN" not in DOCKER.env


def test_without_a_token_or_a_key_it_refuses_and_names_both(container: Container) -> None:
    result = container.run(*DOCKER.cmd[1:])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("BOT_TOKEN is not set: `baoxue run` runs the bot on Telegram")
    assert lines[1] == ENCRYPTION_KEY_MISSING
    assert result.stdout == ""  # in particular no "Sandbox running"
    assert container.files() == set()  # no database, no key file


def test_without_a_token_it_refuses_and_does_not_become_the_sandbox(container: Container) -> None:
    container.env["ENCRYPTION_KEY"] = Cipher.generate_key()
    result = container.run(*DOCKER.cmd[1:])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "BOT_TOKEN is not set: `baoxue run` runs the bot on Telegram and needs the token "
        "@BotFather gave it. To try the bot without Telegram, start the sandbox instead: "
        "baoxue sandbox (or make run)."
    )
    assert "Sandbox" not in result.stdout
    assert container.files() == set()
    with socket.socket() as s:  # nothing listens on the port
        assert s.connect_ex(("127.0.0.1", int(container.env["PORT"]))) != 0


def test_without_a_key_it_refuses(container: Container) -> None:
    container.env["BOT_TOKEN"] = "123456:AAinvented-token-for-the-test"
    result = container.run(*DOCKER.cmd[1:])
    assert result.returncode == 2
    assert result.stderr.strip() == ENCRYPTION_KEY_MISSING
    assert container.files() == set()


def test_production_refuses_the_sandboxs_database(container: Container) -> None:
    """The other way round: the bot on Telegram never runs on the invented county, whose
    invented Telegram ids real people may have."""
    from sqlmodel import Session

    from models import db
    from sandbox.database import mark

    engine = db.make_engine(container.env["DATABASE_URL"])
    db.upgrade(engine)
    with Session(engine) as session:
        mark(session, datetime.now(UTC), "demo county seeded by baoxue sandbox")
        session.commit()
    engine.dispose()
    container.env.update(BOT_TOKEN="123456:AAinvented-token-for-the-test",
                         ENCRYPTION_KEY=Cipher.generate_key())
    result = container.run(*DOCKER.cmd[1:])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"sqlite:///{container.db} is the sandbox's database (the invented demo county): on "
        "Telegram, whoever has one of its invented user ids would act as that user. Point "
        "DATABASE_URL at the county's own database."
    )


def test_the_sandbox_refuses_to_run_in_production(container: Container) -> None:
    container.env["ENCRYPTION_KEY"] = Cipher.generate_key()
    container.env["BOT_TOKEN"] = "123456:AAinvented-token-for-the-test"
    result = container.run("sandbox")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "The sandbox does not run in production (BAOXUE_ENV=production)"
    )
    assert container.files() == set()


# --- with both: past the checks, against a fake Bot API on a loopback port ---------------


class FakeBotApiServer:
    """The fake Bot API (``sandbox.fakebot``) under uvicorn on a loopback port, in a thread
    with its own event loop; changes to its state are made on that loop."""

    def __init__(self, tg: FakeTelegram) -> None:
        import uvicorn

        self.tg = tg
        self.port = _free_port()
        config = uvicorn.Config(create_fake_bot_api(tg), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(self.server.serve(),), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeBotApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the fake Bot API did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def on_loop(self, fn, *args):  # type: ignore[no-untyped-def]
        async def call():  # type: ignore[no-untyped-def]
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)


@pytest.fixture
def bot_api() -> Iterator[FakeBotApiServer]:
    with FakeBotApiServer(FakeTelegram(bot_username="baoxue_prod_test_bot")) as server:
        yield server


def _healthz(port: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as res:  # noqa: S310
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_with_a_token_and_a_key_it_runs_the_bot_and_answers_the_health_check(
    container: Container, bot_api: FakeBotApiServer
) -> None:
    tg = bot_api.tg
    container.env.update(BOT_TOKEN=tg.token, ENCRYPTION_KEY=Cipher.generate_key(),
                         BOT_API_URL=bot_api.url)
    log = container.data.parent / "run.log"
    proc = subprocess.Popen(container.command(*DOCKER.cmd[1:]), cwd=container.workdir,
                            env=container.env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"it exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the bot never ran:\n{log.read_text()[-3000:]}"
            try:
                status, health = _healthz(container.env["PORT"])
                if status == 200:
                    break
                assert (status, health["bot"]) == (503, "starting")
            except OSError:
                pass
            time.sleep(0.3)
        assert health == {"status": "ok", "bot": "running"}
        # the Dockerfile's own HEALTHCHECK command, as Docker would run it
        check = subprocess.run(DOCKER.healthcheck, env=container.env, capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        assert tg.call_count("getMe") >= 1  # it asked the Bot API at BOT_API_URL who it is
        # the officers' console on the same port, served from the polling bot's own loop
        console = f"http://127.0.0.1:{container.env['PORT']}/console"
        with pytest.raises(urllib.error.HTTPError) as signin:
            urllib.request.urlopen(console + "/overview", timeout=5)  # noqa: S310
        assert signin.value.code == 401 and "/console" in signin.value.read().decode()
        with urllib.request.urlopen(console + "/static/console.css", timeout=5) as css:  # noqa: S310
            assert css.status == 200

        # a stranger writes: the real bot, polling the fake over HTTP, answers
        stranger = bot_api.on_loop(tg.add_user, "路人")
        bot_api.on_loop(tg.send_text, stranger, "/start")
        deadline = time.monotonic() + 30
        while not bot_api.on_loop(
            lambda: [m for m in tg.messages(stranger.id) if m.from_bot]
        ):
            assert time.monotonic() < deadline, f"no answer:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # what `docker stop` sends
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError("SIGTERM did not stop the bot") from None
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
    assert "Sandbox" not in log.read_text()
    # the database, and no key beside it (nor in the working directory)
    assert {f for f in container.files() if not f.endswith(("-wal", "-shm"))} == {"data/baoxue.db"}
