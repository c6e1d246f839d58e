"""Which databases the sandbox may use: only one it created itself.

The sandbox lets anyone at its page act as the demo county's people and move the clock,
so it must never run on a real county's database. When it creates and seeds a database it
writes the marker row ``app_meta(key='sandbox')``; on start it accepts a database with
that row or an empty one (which it then seeds and marks), and refuses one with data and
no marker before touching it (not even a migration).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, inspect, text
from sqlmodel import Session

from bot.runtime import Runtime, StartupError
from casework.clock import FrozenClock, to_db
from models import db
from models.tables import AppMeta

MARKER_KEY = "sandbox"
# the bookkeeping of the schema itself is not data
NOT_DATA = frozenset({"alembic_version", "app_meta"})

Kind = Literal["sandbox", "empty", "foreign"]


class NotTheSandboxDatabase(StartupError):
    """The database has data the sandbox did not put there."""


def database_kind(engine: Engine) -> Kind:
    """``sandbox`` (marked), ``empty`` (no rows in any table) or ``foreign``."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        if "app_meta" in tables and conn.execute(
            text("SELECT 1 FROM app_meta WHERE key = :key"), {"key": MARKER_KEY}
        ).first():
            return "sandbox"
        for table in sorted(tables - NOT_DATA):
            if conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() is not None:
                return "foreign"
    return "empty"


def refuse_foreign(engine: Engine) -> Kind:
    kind = database_kind(engine)
    if kind == "foreign":
        url = engine.url.render_as_string(hide_password=True)
        raise NotTheSandboxDatabase(
            f"The sandbox runs only on a database it created itself, and {url} has data "
            "but no sandbox marker: it may be a real county's. The sandbox would let anyone "
            "at its page act as the people in it. Point DATABASE_URL at a new database, e.g. "
            "DATABASE_URL=sqlite:///sandbox.db make run"
        )
    return kind


def mark(session: Session, now: datetime, note: str) -> None:
    """Write the marker (in the caller's transaction, with the seeding it vouches for)."""
    session.add(AppMeta(key=MARKER_KEY, value=note[:200], created_at=to_db(now)))


def prepare(runtime: Runtime, now: datetime) -> bool:
    """Make ``runtime``'s database ready for the sandbox: refuse a foreign one untouched,
    migrate, and seed + mark an empty one (True when it seeded)."""
    from demo.county import seed_demo

    kind = refuse_foreign(runtime.engine)  # before a migration touches someone else's data
    db.upgrade(runtime.engine)
    if kind != "empty":
        return False
    with Session(runtime.engine, expire_on_commit=False) as session:
        seed_demo(session, FrozenClock(now), runtime.policy)
        mark(session, now, "demo county seeded by baoxue sandbox")
        session.commit()
    return True
