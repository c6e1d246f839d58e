"""Migrations that remove something: the upgrade drops it, the downgrade makes it again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from models import db


def test_0021_drops_the_unused_process_lease_table_and_its_downgrade_makes_it_again(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        assert "process_lease" not in inspect(engine).get_table_names()
        cfg = db.alembic_config(db_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0020_due_order")
        assert "process_lease" in inspect(engine).get_table_names()
    finally:
        db.upgrade(engine)  # the database is the suite's again, at head
        assert "process_lease" not in inspect(engine).get_table_names()
        engine.dispose()
