"""Engine, sessions and migrations.

SQLite is the embedded default, opened in WAL mode with a busy timeout so the bot and a
CLI command writing at the same time wait for each other instead of failing with
"database is locked". PostgreSQL is the production database. Both get their schema from
the Alembic migrations only (``upgrade``), never from ``create_all``, so the tests run
the same migrations production does.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlmodel import Session

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_RECYCLE_S = 1800
POOL_PING_AFTER_IDLE_S = 30.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _create_private(parsed.database)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling would defer BEGIN; take it over so a
            # write transaction starts with BEGIN IMMEDIATE and never deadlocks on upgrade
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if parsed.database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # no pool_pre_ping: it costs a round trip on every checkout, i.e. on every update.
    # A connection is pinged only after it sat idle (when a server or proxy may have
    # dropped it), and none is kept longer than POOL_RECYCLE_S.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < POOL_PING_AFTER_IDLE_S:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as err:
            # the pool discards this connection and checks out (or opens) another
            raise exc.DisconnectionError(f"stale pooled connection: {err}") from err


def _create_private(database: str | None) -> None:
    """Create a new SQLite file with mode 0600 before SQLite does (it would use the umask,
    often world-readable): the database holds children's personal data. SQLite gives its
    -wal and -shm files the database file's mode. An empty file is an empty database."""
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = os.stat(database).st_mode & 0o777
        if mode & 0o077:
            log.warning("the database file %s can be read by other users (mode %o); "
                        "chmod 600 it", database, mode)
        return
    except FileNotFoundError:
        return  # no such directory: SQLite says so when it opens the database
    os.close(fd)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations to the engine's database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
