"""The scheduler's tick is O(due), not O(open): 500 due rows among 1,000,000 open ones
take about as long as 500 among 10,000.

Run on demand (not a test), on a PostgreSQL database it may wipe (its name must start
with "bench" unless --force):

    .venv/bin/python benchmarks/bench_tick.py
    .venv/bin/python benchmarks/bench_tick.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_tick --repeat 7

For each size the schema is rebuilt by the migrations, the demo world gets 48 real cases,
and the deadline table is filled with COPY: ``open - 500`` rows due in the next year (half
case rows, half calendar jobs) and 500 due in the last day (250 stale reminders of cases,
which casework reads and dismisses, and 250 calendar jobs of a no-op kind). Then the
whole tick — claim in batches of 100, act, commit — is timed ``--repeat`` times (the 500
rows are re-opened between runs) and the median is printed, with the ratio of the two
sizes and the plans of both claim searches on the larger table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, event, make_url, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from casework import kinds, ladder, scheduler  # noqa: E402
from casework.clock import FrozenClock  # noqa: E402
from casework.context import Casework  # noqa: E402
from casework.personal import Cipher, configure_encryption  # noqa: E402
from casework.policy import Policy, load_named  # noqa: E402
from casework.uow import unit_of_work  # noqa: E402
from demo.county import seed_world  # noqa: E402
from models import db  # noqa: E402
from models.tables import Case  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_tick"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DUE = 500
NOOP = "bench_noop"


def _noop(cw: Casework, deadline: Any, case: Case | None) -> str:
    return "nothing to do"


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)


def _cases(engine: Engine, clock: FrozenClock, policy: Policy) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        world = seed_world(session, Casework(session, clock, policy).today(), students_per_class=4)
        session.commit()
    with unit_of_work(engine, clock, policy) as cw:
        for i, klass in enumerate(world.classes, start=1):
            teacher = world.users[f"teacher{i}"]
            for student in world.students_of_class(klass):
                ladder.report(cw, teacher, ladder.ReportInput(
                    student_id=student.id, reasons=("learning",), absent_since=date(2026, 11, 23)))
    with Session(engine) as session:
        return [c for c in session.exec(select(Case.id)).all() if c is not None]


def _copy_rows(engine: Engine, open_rows: int, case_ids: list[int]) -> None:
    """COPY ``open_rows`` open deadlines: DUE of them due, the rest in the coming year."""
    now = NOW.astimezone(UTC)
    stale = json.dumps({"target_id": 0, "level": "nowhere"})
    buf = io.StringIO()
    for n in range(open_rows):
        with_case = n % 2 == 0
        if n < DUE:
            due = now - timedelta(seconds=1 + (n * 86_000) // DUE)  # within the last day
        else:
            due = now + timedelta(days=1, seconds=(n * 7919) % (365 * 86_400))
        case = str(case_ids[n % len(case_ids)]) if with_case else "\\N"
        kind = "reminder" if with_case else NOOP
        payload = stale if with_case else "{}"
        buf.write(f"{case}\t{kind}\t{due.isoformat()}\topen\t{payload}\t{now.isoformat()}\t0\n")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(
            "COPY deadline (case_id, kind, due_at, status, payload, created_at, attempts) "
            "FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE deadline")


def _reopen(engine: Engine, ids: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE deadline SET status = 'open', result = NULL, acted_at = NULL "
                 "WHERE id = ANY(:ids)"),
            {"ids": ids},
        )


def _explain(engine: Engine, clock: FrozenClock) -> list[str]:
    """EXPLAIN ANALYZE of both claim searches, run with their real parameters."""
    out: list[str] = []
    for name, statement in zip(("case rows", "calendar jobs"),
                               scheduler.claim_queries(clock.now(), scheduler.BATCH_SIZE),
                               strict=True):
        lines: list[str] = []

        def explain(conn: Any, cursor: Any, sql: str, params: Any, *_: Any) -> tuple[str, Any]:
            return "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params

        def collect(conn: Any, cursor: Any, *_: Any, into: list[str] = lines) -> None:
            into.extend(row[0] for row in cursor.fetchall())

        with engine.connect() as conn:
            event.listen(conn, "before_cursor_execute", explain, retval=True)
            event.listen(conn, "after_cursor_execute", collect)
            # the rows fetched are the plan, not the columns the statement selects
            with contextlib.suppress(Exception):
                conn.execute(statement)
            conn.rollback()
        out.append(f"-- claim search: {name}")
        out += lines
    return out


def bench(engine: Engine, open_rows: int, repeat: int) -> float:
    policy = load_named("datian")
    clock = FrozenClock(NOW)
    started = time.perf_counter()
    _reset(engine)
    case_ids = _cases(engine, clock, policy)
    _copy_rows(engine, open_rows, case_ids)
    setup = time.perf_counter() - started
    clock.set(NOW + timedelta(minutes=1))
    with engine.connect() as conn:
        due_ids = [r[0] for r in conn.execute(text(
            "SELECT id FROM deadline WHERE status = 'open' AND due_at <= :now"),
            {"now": clock.now()})]
        total = conn.execute(text("SELECT count(*) FROM deadline WHERE status = 'open'")).scalar()
    assert len(due_ids) == DUE, len(due_ids)
    times: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = scheduler.tick(engine, clock, policy, planners=())
        times.append(time.perf_counter() - t0)
        assert len(report.acted) == DUE and not report.errors, report
        _reopen(engine, due_ids)
    claims = [line.split(":")[1].strip() for line in _explain(engine, clock)
              if line.startswith("Execution Time")]
    print(f"{total:>9,} open, {DUE} due: setup {setup:6.1f} s; tick "
          f"median {statistics.median(times) * 1000:7.1f} ms "
          f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={repeat}); "
          f"claim searches {' + '.join(claims)}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="a PostgreSQL URL (wiped)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--force", action="store_true", help="wipe a database not named bench*")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    url = make_url(args.db)
    if url.get_backend_name() != "postgresql":
        sys.exit("this benchmark is for PostgreSQL (SKIP LOCKED, COPY)")
    if not (url.database or "").startswith("bench") and not args.force:
        sys.exit(f"refusing to wipe database {url.database!r}: name it bench… or pass --force")

    configure_encryption(Cipher.generate_key())
    kinds.KINDS[NOOP] = kinds.Kind(NOOP, _noop, caseless=True)  # a benchmark-only kind
    engine = db.make_engine(args.db)
    small = bench(engine, args.small, args.repeat)
    large = bench(engine, args.large, args.repeat)
    print(f"ratio large/small: {large / small:.2f}  (open rows x{args.large / args.small:.0f})")
    print()
    for line in _explain(engine, FrozenClock(NOW + timedelta(minutes=1))):
        print(line)
    engine.dispose()


if __name__ == "__main__":
    main()
