"""The sandbox keeps to invented data (issue #10 §1), in process:

- ``baoxue sandbox`` seeds and marks an empty database, comes back to a marked one, and
  refuses a database with data but no marker — untouched, not even migrated;
- it listens on loopback unless told (``--host`` / SANDBOX_HOST), whatever HOST says;
- its web API acts only as the demo personas and the guests who joined through the page:
  the admin and the other demo users are refused on every endpoint, as are their files;
- the page carries a banner: a sandbox, invented data, not for real children's data,
  and where it listens.

The web API is driven over ASGI without the lifespan (the bot is not needed to see what the
API lets a visitor do). Runs on SQLite or TEST_DATABASE_URL. Production's refusal is in
tests/test_production_start.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, col, func, select

from bot.runtime import Runtime, boot
from bot.settings import Settings, get_settings
from casework.clock import SystemClock
from casework.personal import Cipher
from models import db
from models import types as model_types
from models.tables import AppMeta, County, User
from sandbox import server as sandbox_server
from sandbox.database import database_kind, prepare
from tests.conftest import invoke

# invented: stands for a real county's data
FOREIGN_NAME, FOREIGN_CODE = "白河县", "999901"


@pytest.fixture
def database_url(db_url: str) -> str:
    """The CLI works on the test's own (migrated) database."""
    return db_url


@pytest.fixture
def served(env: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    env.setattr(sandbox_server, "serve", lambda rt, host, port: calls.append((host, port)))
    return calls


def _counts(url: str) -> tuple[int, int, int]:
    engine = db.make_engine(url)
    try:
        with Session(engine) as s:
            marks = s.exec(select(func.count()).select_from(AppMeta)).one() \
                if "app_meta" in inspect(engine).get_table_names() else 0
            return (s.exec(select(func.count()).select_from(County)).one(),
                    s.exec(select(func.count()).select_from(User)).one(), marks)
    finally:
        engine.dispose()


# --- the database ------------------------------------------------------------------------


def test_an_empty_database_is_seeded_marked_and_served_on_loopback(
    env: pytest.MonkeyPatch, served: list[tuple[str, int]], db_url: str
) -> None:
    env.setenv("HOST", "0.0.0.0")  # the bot's setting (the Dockerfile's): not the sandbox's
    env.setenv("PORT", "18080")
    get_settings.cache_clear()
    first = invoke("sandbox")
    assert first.exit_code == 0, first.output
    assert "seeded the demo county (青松县) into a new sandbox database" in first.stdout
    assert served == [("127.0.0.1", 18080)]
    counties, users, marks = _counts(db_url)
    assert (counties, marks) == (1, 1)

    # a second start finds its own database: nothing seeded again
    again = invoke("sandbox", "--port", "18081")
    assert again.exit_code == 0, again.output
    assert "seeded" not in again.stdout
    assert _counts(db_url) == (1, users, 1)
    # told otherwise, it listens elsewhere
    env.setenv("SANDBOX_HOST", "0.0.0.0")
    assert invoke("sandbox").exit_code == 0
    assert served[1:] == [("127.0.0.1", 18081), ("0.0.0.0", 18080)]


def test_a_database_with_data_but_no_marker_is_refused_untouched(
    env: pytest.MonkeyPatch, served: list[tuple[str, int]], db_url: str
) -> None:
    engine = db.make_engine(db_url)
    with Session(engine) as s:
        s.add(County(name=FOREIGN_NAME, code=FOREIGN_CODE))
        s.commit()
    engine.dispose()

    result = invoke("sandbox")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        "The sandbox runs only on a database it created itself, and "
    )
    assert "has data but no sandbox marker" in result.stderr
    assert "DATABASE_URL=sqlite:///sandbox.db make run" in result.stderr
    assert served == []
    assert _counts(db_url) == (1, 0, 0)  # no demo county added, no marker


def test_an_unmigrated_foreign_database_is_refused_before_any_migration(
    tmp_path: Path, env: pytest.MonkeyPatch, served: list[tuple[str, int]]
) -> None:
    """A real county's database an older release left: not even the new migration runs."""
    url = f"sqlite:///{tmp_path / 'county.db'}"  # SQLite whatever the suite runs on
    engine = db.make_engine(url)
    db.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO county (name, code) VALUES ('白河县', '999901')"))
    env.setenv("DATABASE_URL", url)
    get_settings.cache_clear()

    result = invoke("sandbox")
    assert result.exit_code == 2
    assert "has data but no sandbox marker" in result.stderr
    assert served == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    assert "app_meta" not in inspect(engine).get_table_names()
    engine.dispose()


def test_demo_seed_into_an_empty_database_marks_it_for_the_sandbox(
    env: pytest.MonkeyPatch, served: list[tuple[str, int]], db_url: str
) -> None:
    assert invoke("demo", "seed").exit_code == 0
    result = invoke("sandbox")
    assert result.exit_code == 0, result.output
    assert "seeded" not in result.stdout
    assert len(served) == 1
    assert _counts(db_url)[0] == 1


def test_demo_seed_forced_onto_data_does_not_mark_it(
    env: pytest.MonkeyPatch, served: list[tuple[str, int]], db_url: str
) -> None:
    engine = db.make_engine(db_url)
    with Session(engine) as s:
        s.add(County(name=FOREIGN_NAME, code=FOREIGN_CODE))
        s.commit()
    try:
        assert invoke("demo", "seed", "--force").exit_code == 0
        assert database_kind(engine) == "foreign"
    finally:
        engine.dispose()
    assert invoke("sandbox").exit_code == 2
    assert served == []


# --- the web chat ------------------------------------------------------------------------


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    previous = model_types._cipher
    rt = boot(Settings(database_url=db_url, encryption_key=Cipher.generate_key(),
                       dev_key_file=tmp_path / "unused-key"))
    assert prepare(rt, SystemClock().now()) is True
    yield rt
    rt.engine.dispose()
    if previous is not None:
        model_types.install_cipher(previous)


class Client:
    """Requests to the sandbox app over ASGI; no lifespan, so the bot stays off."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def _client(runtime: Runtime, host: str = "127.0.0.1", port: int = 8080) -> tuple[Client, Any]:
    app = sandbox_server.create_app(runtime, host=host, port=port)
    return Client(app), app.state.sandbox


def _telegram_id(runtime: Runtime, role: str, nth: int = 0) -> int:
    with Session(runtime.engine) as s:
        users = s.exec(select(User).where(User.role == role).order_by(col(User.id))).all()
        tid = users[nth].telegram_id
        assert tid is not None
        return tid


def test_only_the_demo_personas_can_be_acted_as(runtime: Runtime) -> None:
    client, sandbox = _client(runtime)
    personas = client.get("/sandbox/api/personas").json()["personas"]
    assert [p["key"] for p in personas] == list(sandbox_server.PERSONA_KEYS)
    teacher = next(p["id"] for p in personas if p["key"] == "teacher5")
    admin = _telegram_id(runtime, "admin")
    other_teacher = _telegram_id(runtime, "teacher", 0)  # teacher1: a demo user, not offered
    assert other_teacher not in {p["id"] for p in personas}
    tg = sandbox.tg
    # the bot can still reach them: they have accounts in the stand-in
    assert admin in tg.users and other_teacher in tg.users

    def attempts(user_id: int) -> list[int]:
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
        return [
            client.get(f"/sandbox/api/chat/{user_id}").status_code,
            client.post("/sandbox/api/send", data={"user_id": user_id, "text": "/export"}).status_code,
            client.post("/sandbox/api/tap", data={"user_id": user_id, "message_id": 1,
                                                  "data": "x"}).status_code,
            client.post("/sandbox/api/contact", data={"user_id": user_id}).status_code,
            client.post("/sandbox/api/location", data={"user_id": user_id, "lat": 28.1,
                                                       "lon": 112.9}).status_code,
            client.post("/sandbox/api/upload", data={"user_id": user_id, "as_photo": "true"},
                        files={"file": ("a.png", png, "image/png")}).status_code,
        ]

    before = len(tg.update_log)
    assert attempts(admin) == [404] * 6
    assert attempts(other_teacher) == [404] * 6
    assert len(tg.update_log) == before  # nothing reached the bot in their name
    assert attempts(teacher) == [200, 200, 409, 200, 200, 200]  # 409: no such button
    sent = [u["message"] for u in tg.update_log[before:]]
    assert {m["from"]["id"] for m in sent} == {teacher}
    assert sent[0]["text"] == "/export"


def test_another_users_files_are_not_served(runtime: Runtime) -> None:
    client, sandbox = _client(runtime)
    tg = sandbox.tg
    admin = tg.users[_telegram_id(runtime, "admin")]
    teacher = next(p["id"] for p in sandbox.personas() if p["key"] == "teacher5")
    tg.send_document(admin, b"ledger", "台账.xlsx", "application/octet-stream")
    admins_file = next(f for m in tg.messages(admin.id) for f in m.file_ids())
    assert client.get(f"/sandbox/api/file/{admins_file}").status_code == 404

    tg.send_document(tg.users[teacher], b"note", "家访记录.txt", "text/plain")
    teachers_file = next(f for m in tg.messages(teacher) for f in m.file_ids())
    got = client.get(f"/sandbox/api/file/{teachers_file}")
    assert got.status_code == 200 and got.content == b"note"


def test_a_guest_who_joined_through_the_page_can_chat(runtime: Runtime) -> None:
    client, sandbox = _client(runtime)
    joined = client.post("/sandbox/api/invite", data={"code": "https://t.me/x?start=NOPE",
                                                      "name": "新同事"})
    assert joined.status_code == 200
    guest = joined.json()["id"]
    assert client.post("/sandbox/api/send", data={"user_id": guest, "text": "你好"}).status_code == 200
    assert guest in {p["id"] for p in client.get("/sandbox/api/personas").json()["personas"]}


@pytest.mark.parametrize(
    ("host", "lang", "expected"),
    [
        ("127.0.0.1", "zh_Hans",
         ["演示沙盒：虚构的演示县（青松县）与虚构人员。请勿在此录入真实学生或家庭信息。",
          "监听地址 127.0.0.1:8123：仅本机可以打开。", 'class="sandbox-banner loopback"']),
        ("127.0.0.1", "en",
         ["Sandbox: the invented demo county (青松县) with invented people. Do not enter "
          "real children&#x27;s or families&#x27; data here.",
          "Listening on 127.0.0.1:8123: only this computer can open it."]),
        ("0.0.0.0", "en",
         ["Listening on 0.0.0.0:8123: other computers on the network can open it.",
          'class="sandbox-banner network"']),
    ],
    ids=["loopback-zh", "loopback-en", "network-en"],
)
def test_the_page_says_it_is_a_sandbox_and_where_it_listens(
    runtime: Runtime, host: str, lang: str, expected: list[str]
) -> None:
    client, _sandbox = _client(runtime, host=host, port=8123)
    page = client.get("/", params={"lang": lang}).text
    for words in expected:
        assert words in page


def test_the_marker_is_what_makes_a_database_the_sandboxs(runtime: Runtime) -> None:
    assert database_kind(runtime.engine) == "sandbox"
    with Session(runtime.engine) as s:
        s.delete(s.get(AppMeta, "sandbox"))
        s.commit()
    assert database_kind(runtime.engine) == "foreign"
