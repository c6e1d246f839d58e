"""Test fixtures: a migrated database per test, a frozen clock, the demo world, the
command line's environment.

The suite runs on SQLite by default. With ``TEST_DATABASE_URL`` set (CI sets it to the
machine's PostgreSQL) every database test runs there instead; the schema comes from the
same Alembic migrations production uses. Under ``CI=true`` an unreachable PostgreSQL is
an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from casework import kinds as _kinds  # noqa: F401  (every deadline kind, as in every process)
from casework.clock import FrozenClock
from casework.context import Casework
from casework.personal import Cipher, configure_encryption
from casework.policy import Policy, load_named
from demo.county import World, seed_world
from models import db
from models import types as model_types

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    """A datetime in the policies' time zone (Asia/Shanghai)."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture(scope="session", autouse=True)
def _encryption_key() -> None:
    configure_encryption(Cipher.generate_key())


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> str:
    assert TEST_DATABASE_URL
    engine = db.make_engine(TEST_DATABASE_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    engine.dispose()
    return TEST_DATABASE_URL


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty, migrated database of its own for this test."""
    if TEST_DATABASE_URL:
        url: str = request.getfixturevalue("_postgres_migrated")
        engine = db.make_engine(url)
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "test.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(local(2026, 11, 23, 9, 0))  # a Monday, in the autumn term


@pytest.fixture
def policy() -> Policy:
    return load_named("datian")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def cipher_key() -> Iterator[str]:
    """A key the test knows, so that the CLI or a child process given it reads the same
    encrypted columns; the previous cipher is put back afterwards."""
    previous = model_types._cipher
    key = Cipher.generate_key()
    configure_encryption(key)
    yield key
    if previous is not None:
        model_types.install_cipher(previous)


@pytest.fixture
def world(cipher_key: str, session: Session, clock: FrozenClock, policy: Policy) -> World:
    """The demo world (demo.county.seed_world), seeded under :func:`cipher_key`."""
    cw = Casework(session, clock, policy)
    world = seed_world(session, cw.today(), students_per_class=4)
    session.commit()
    return world


@pytest.fixture
def cw(session: Session, clock: FrozenClock, policy: Policy, world: World) -> Casework:
    return Casework(session, clock, policy)


# --- the command line -------------------------------------------------------------------

# the settings the CLI reads from the environment; a test sets the ones it means
CLI_VARIABLES = ("DATABASE_URL", "ENCRYPTION_KEY", "BAOXUE_ENV", "POLICY", "BOT_TOKEN",
                 "HOST", "PORT", "SANDBOX_HOST", "WEBHOOK_URL", "WEBHOOK_SECRET", "RUN_SENDER",
                 "RUN_SCHEDULER", "WEB_WORKERS")


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The CLI's database: a new SQLite file (it does not exist until ``db upgrade``), or the
    test PostgreSQL database, emptied and migrated."""
    if TEST_DATABASE_URL:
        url: str = request.getfixturevalue("db_url")  # emptied, already migrated
        return url
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _cli_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, key: str
) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment for the CLI; settings and the process-wide cipher restored after."""
    from bot.settings import get_settings

    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no stray .env; a dev key file would land here
    for name in CLI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    get_settings.cache_clear()
    previous = model_types._cipher
    yield monkeypatch
    get_settings.cache_clear()
    if previous is not None:
        model_types.install_cipher(previous)


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.MonkeyPatch]:
    """The CLI on :func:`database_url` with a new key, as an operator starts it."""
    yield from _cli_environment(monkeypatch, tmp_path, database_url, Cipher.generate_key())


@pytest.fixture
def cli_env(
    db_url: str, cipher_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.MonkeyPatch]:
    """The CLI on the test's own database and key: it reads what the test (or the bot) wrote."""
    yield from _cli_environment(monkeypatch, tmp_path, db_url, cipher_key)


def invoke(*args: str, input: str | None = None) -> Result:
    """``baoxue *args`` as an operator types it (``input`` answers its questions); an
    exception other than the exit is raised here, with its traceback."""
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# --- every message of the suite, read in Chinese ---------------------------------------------

_SEEN_MSGIDS: set[tuple[str | None, str]] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every catalog lookup of the run is noted (tests.zh_check.Recording), whatever language
    the test reads; at the end each is read in Chinese for English left in it."""
    from casework import i18n
    from tests import zh_check

    real = i18n.translations

    def recording(lang: str) -> object:
        return zh_check.Recording(real(lang), _SEEN_MSGIDS)

    recording.cache_clear = real.cache_clear  # type: ignore[attr-defined]  (tests reload catalogs)
    i18n.translations = recording  # type: ignore[assignment]
    session.config._zh_real_translations = real  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests import zh_check

    real = getattr(session.config, "_zh_real_translations", None)
    if real is None or not _SEEN_MSGIDS:
        return
    english = zh_check.untranslated(_SEEN_MSGIDS, real("zh_Hans"))
    print(f"\nzh_Hans: {len(_SEEN_MSGIDS)} messages the suite used, read in Chinese")
    if english:
        print("English left in the Chinese of messages the suite sent:\n" + "\n".join(english))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- the bot through the fake Bot API ---------------------------------------------------


class BotHarness:
    """The real Application on the test database, talking to the in-process fake Telegram."""

    def __init__(self, engine: Engine, clock: FrozenClock, policy: Policy) -> None:
        from bot.app import build_application
        from bot.services import Services
        from sandbox.fakebot import FakeTelegram, create_fake_bot_api
        from sandbox.harness import FAKE_BASE_FILE_URL, FAKE_BASE_URL, fake_bot_request

        self.tg = FakeTelegram(now=lambda: clock.now().timestamp())
        self.api = create_fake_bot_api(self.tg)
        self.services = Services(engine=engine, clock=clock, policy=policy)
        self.engine = engine

        def build():  # type: ignore[no-untyped-def]
            return build_application(
                self.tg.token,
                self.services,
                base_url=FAKE_BASE_URL,
                base_file_url=FAKE_BASE_FILE_URL,
                request=fake_bot_request(self.api),
                get_updates_request=fake_bot_request(self.api),
                updater=False,
            )

        self.build = build
        self.app = build()
        # every message and button the bot sends, by chat; read at the end of the test in the
        # language of its reader (the database is not read while a turn may hold it)
        self.sent: list[tuple[int, list[str]]] = []
        # the same thing said twice in answer to one action (tests.repeat_check)
        self.repeats: list[str] = []
        self.tg.observers.append(self._observe)

    def _observe(self, event: object) -> None:
        from tests import zh_check

        if event.from_bot and event.kind != "deleted":  # type: ignore[attr-defined]
            self.sent.append((event.chat_id, zh_check.texts_of(event)))  # type: ignore[attr-defined]

    def zh_texts(self) -> list[str]:
        """What readers of Chinese were sent: chats of users whose language is zh_Hans, and of
        people not registered whose Telegram language is not English (as the bot reads it)."""
        from sqlmodel import Session, col, select

        from models.tables import User

        chats = {chat for chat, _texts in self.sent}
        with Session(self.engine) as s:
            known = dict(s.exec(select(User.telegram_id, User.language)
                                .where(col(User.telegram_id).in_(list(chats)))).all())
        def chinese(chat: int) -> bool:
            if chat in known:
                return known[chat] == "zh_Hans"
            fake = self.tg.users.get(chat)
            return not ((fake.language_code if fake else None) or "").startswith("en")

        return [text for chat, texts in self.sent if chinese(chat) for text in texts]

    def user(self, db_user: object | None = None, **fields: object):  # type: ignore[no-untyped-def]
        """A ChatUser; for a seeded user, with their Telegram id and language."""
        from sandbox.harness import ChatUser

        if db_user is not None:
            fields.setdefault("user_id", db_user.telegram_id)  # type: ignore[attr-defined]
            fields.setdefault("first_name", db_user.display_name)  # type: ignore[attr-defined]
            lang = db_user.language  # type: ignore[attr-defined]
            fields.setdefault("language_code", "en" if lang == "en" else "zh-hans")
        chat_user = ChatUser(self.tg, self.app, **fields)
        if db_user is not None:
            self.tg.private_chat(chat_user.user)  # they opened the chat when they joined
        self._watch_repeats(chat_user)
        return chat_user

    def _watch_repeats(self, chat_user: Any) -> None:
        """Each action of ``chat_user`` is read for the same thing said twice in its answer
        (tests.repeat_check); found at the end of the test."""
        from tests import repeat_check

        act = chat_user._act

        async def checked(make_update: Any) -> Any:
            replies = await act(make_update)
            query = self.tg.callback_queries.get(chat_user._last_query_id or "")
            toast = query.text if query is not None and chat_user.updates and \
                "callback_query" in chat_user.updates[-1] else None
            for pair in repeat_check.repeated(toast, replies):
                self.repeats.append(f"after {_describe(chat_user.updates[-1])}: {pair}")
            return replies

        chat_user._act = checked


def _describe(update: dict[str, Any]) -> str:
    """An update as the user did it: the text typed or the button's data tapped."""
    if "callback_query" in update:
        return f"tap {update['callback_query'].get('data')!r}"
    message = update.get("message") or {}
    return f"message {message.get('text') or '(media)'!r}"


@pytest.fixture
async def harness(engine: Engine, clock: FrozenClock, policy: Policy, world: World):  # type: ignore[no-untyped-def]
    h = BotHarness(engine, clock, policy)
    from sandbox.harness import capture_errors

    h.errors = capture_errors(h.app)  # type: ignore[attr-defined]
    async with h.app:
        yield h
    assert h.errors == [], h.errors  # type: ignore[attr-defined]
    from tests import zh_check

    chinese = h.zh_texts()
    english = zh_check.problems(chinese)
    assert not english, "English in a Chinese reply:\n" + "\n".join(english)
    assert not h.repeats, "Said twice in answer to one action:\n" + "\n".join(h.repeats)
    iso = zh_check.iso_dates(chinese)
    assert not iso, "A date written as files write it (12月14日 in a chat):\n" + "\n".join(iso)
