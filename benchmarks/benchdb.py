"""The benchmarks' databases: a temporary SQLite file, or a PostgreSQL database that the
benchmark wipes — refused unless its name starts with ``bench`` (or ``--force``), so a
benchmark never empties a database somebody works in.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from models import db


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--db`` and ``--force``, as every benchmark takes them."""
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--force", action="store_true", help="wipe a PostgreSQL database not named bench*")


def refuse_unless_bench(url: str | None, force: bool) -> None:
    """Exit when ``url`` is a PostgreSQL database this benchmark must not wipe."""
    if url and make_url(url).get_backend_name() == "postgresql":
        name = make_url(url).database or ""
        if not name.startswith("bench") and not force:
            sys.exit(f"refusing to wipe database {name!r}: name it bench… or pass --force")


def fresh_engine(url: str | None, file_name: str = "bench.db") -> Engine:
    """An engine on an empty, migrated database: ``url`` wiped (PostgreSQL), or a new SQLite
    file in a temporary directory when ``url`` is None."""
    engine = db.make_engine(url or f"sqlite:///{tempfile.mkdtemp()}/{file_name}")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    return engine
