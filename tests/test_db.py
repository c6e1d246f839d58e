"""The embedded SQLite default: WAL, a busy timeout, and writers that wait for each other
instead of failing with "database is locked" (the bot and a CLI command at once)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, exc, text
from sqlmodel import Session, select

from models import db
from models.tables import County


@pytest.fixture
def sqlite_url(db_url: str) -> str:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite-specific behaviour (this run is on PostgreSQL)")
    return db_url


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_two_writers_wait_for_each_other(sqlite_url: str) -> None:
    """A second process-like writer (its own engine) blocks on the first's transaction and
    then succeeds; neither sees "database is locked"."""
    bot_engine = db.make_engine(sqlite_url)
    cli_engine = db.make_engine(sqlite_url)
    holding = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def bot_writes() -> None:
        try:
            with Session(bot_engine) as s:
                s.add(County(name="甲县", code="A"))
                s.flush()  # the write lock is taken here
                holding.set()
                release.wait(5)
                s.commit()
        except BaseException as err:  # noqa: BLE001 - surfaced below
            errors.append(err)

    def cli_writes() -> None:
        try:
            with Session(cli_engine) as s:
                s.add(County(name="乙县", code="B"))
                s.commit()
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    t1 = threading.Thread(target=bot_writes)
    t1.start()
    assert holding.wait(5)
    t2 = threading.Thread(target=cli_writes)
    t2.start()
    t2.join(0.3)
    assert t2.is_alive(), "the second writer should be waiting, not failing"
    release.set()
    t1.join(5)
    t2.join(5)
    assert errors == []
    with Session(cli_engine) as s:
        assert sorted(c.code for c in s.exec(select(County)).all()) == ["A", "B"]
    bot_engine.dispose()
    cli_engine.dispose()



def test_a_pooled_connection_that_died_while_idle_is_replaced_without_a_ping_per_checkout(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("a SQLite file connection does not go stale; no ping is installed")
    assert not engine.pool._pre_ping  # no round trip on every checkout, i.e. every update
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        conn.execute(text("select 1"))
    raw.close()  # the server (or a proxy) dropped it while it sat idle in the pool
    monkeypatch.setattr(db, "POOL_PING_AFTER_IDLE_S", 0.0)
    with engine.connect() as conn:  # pinged after its idle time, found dead, replaced
        assert conn.execute(text("select 3")).scalar() == 3
    monkeypatch.setattr(db, "POOL_PING_AFTER_IDLE_S", 3600.0)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.close()
    with pytest.raises(exc.DBAPIError), engine.connect() as conn:  # not idle long: not pinged
        conn.execute(text("select 4"))
