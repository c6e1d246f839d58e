"""A sandbox clock you can set (issue #11): ``SANDBOX_START=2026-09-24T08:00`` starts the
sandbox's clock at that instant, in the county's local time, and a new database's demo
county is seeded as of then — so a trainer can show a case crossing 中秋 and 国庆.

``baoxue sandbox`` is run with typer's runner, ``serve`` recording what it was given
instead of serving (the served clock itself is tested in tests/test_sandbox_profiles.py).
A value that is not a date and time is refused before anything is seeded.
Runs on SQLite or TEST_DATABASE_URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from bot.settings import get_settings
from models import db
from models.tables import Case, CaseEvent, County
from sandbox import server as sandbox_server
from sandbox.clock import OffsetClock
from sandbox.database import database_kind
from tests.conftest import invoke, local


@pytest.fixture
def served(env: pytest.MonkeyPatch) -> list[dict[str, Any]]:  # noqa: F811
    calls: list[dict[str, Any]] = []

    def record(rt: Any, host: str, port: int, start: datetime | None = None) -> None:
        calls.append({"host": host, "port": port, "start": start, "policy": rt.policy.name})

    env.setattr(sandbox_server, "serve", record)
    for name in ("SANDBOX_START", "SANDBOX_HOST", "PORT"):
        env.delenv(name, raising=False)
    return calls


def test_sandbox_start_seeds_the_county_as_of_then_and_starts_the_clock_there(
    env: pytest.MonkeyPatch, served: list[dict[str, Any]], database_url: str  # noqa: F811
) -> None:
    env.setenv("SANDBOX_START", "2026-09-24T08:00")
    get_settings.cache_clear()
    result = invoke("sandbox")
    assert result.exit_code == 0, result.output
    start = local(2026, 9, 24, 8, 0)  # the policy's time zone: Asia/Shanghai
    assert "the sandbox clock starts at 2026-09-24T08:00+08:00" in result.stdout
    assert served == [{"host": "127.0.0.1", "port": 8080, "start": start, "policy": "datian"}]

    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(County)).one() == 1
            assert session.exec(select(func.count()).select_from(Case)).one() == 12
            # the three invented weeks end at the start: reported on 09-03, nothing later
            times = session.exec(select(CaseEvent.at).order_by(col(CaseEvent.at))).all()
            first = times[0].replace(tzinfo=start.tzinfo) if times[0].tzinfo is None else times[0]
            last = times[-1].replace(tzinfo=start.tzinfo) if times[-1].tzinfo is None else times[-1]
            assert first.astimezone(start.tzinfo) == start - timedelta(days=21)
            assert last.astimezone(start.tzinfo) <= start
    finally:
        engine.dispose()

    # --start says the same; a second start on the same database seeds nothing again
    again = invoke("sandbox", "--start", "2026-10-08")
    assert again.exit_code == 0, again.output
    assert "seeded" not in again.stdout
    assert served[1]["start"] == local(2026, 10, 8, 0, 0)


def test_without_sandbox_start_the_clock_is_now(
    env: pytest.MonkeyPatch, served: list[dict[str, Any]]  # noqa: F811
) -> None:
    get_settings.cache_clear()
    assert invoke("sandbox").exit_code == 0
    assert served[0]["start"] is None


def test_a_sandbox_start_that_is_not_a_date_is_refused_before_seeding(
    env: pytest.MonkeyPatch, served: list[dict[str, Any]], database_url: str  # noqa: F811
) -> None:
    env.setenv("SANDBOX_START", "next monday")
    get_settings.cache_clear()
    result = invoke("sandbox")
    assert result.exit_code == 2
    assert "SANDBOX_START='next monday' is not a date and time; write it like 2026-09-24T08:00" \
        in result.stderr
    assert served == []
    engine = db.make_engine(database_url)
    try:
        assert database_kind(engine) == "empty"  # nothing seeded, no marker
    finally:
        engine.dispose()


def test_the_offset_clock_starts_where_it_is_told() -> None:
    start = local(2026, 9, 24, 8, 0)
    clock = OffsetClock.starting_at(start)
    assert start <= clock.now() < start + timedelta(seconds=5)
    clock.advance(timedelta(days=1))
    assert start + timedelta(days=1) <= clock.now() < start + timedelta(days=1, seconds=5)
