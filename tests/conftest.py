"""Test fixtures: a migrated database per test, a frozen clock, the demo world.

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
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from bot.demo import World, seed_world
from casework.clock import FrozenClock
from casework.context import Casework
from casework.personal import Cipher
from casework.policy import Policy, load_named
from models import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    """A datetime in the policies' time zone (Asia/Shanghai)."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture(scope="session", autouse=True)
def _encryption_key() -> None:
    db.configure(Cipher.generate_key())


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
def world(session: Session, clock: FrozenClock, policy: Policy) -> World:
    cw = Casework(session, clock, policy)
    world = seed_world(session, cw.today(), students_per_class=4)
    session.commit()
    return world


@pytest.fixture
def cw(session: Session, clock: FrozenClock, policy: Policy, world: World) -> Casework:
    return Casework(session, clock, policy)
