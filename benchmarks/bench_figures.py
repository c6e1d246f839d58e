"""The figures the bureau is judged by (``casework.figures``) at county scale: 50,000 cases
with their histories and step deadlines, all figures for a county officer over a year, and
for one township officer; wall time, CPU time and peak RSS.

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_figures.py                    # 50,000 cases, SQLite
    .venv/bin/python benchmarks/bench_figures.py --cases 10000
    createdb -h 127.0.0.1 -U postgres bench_figures
    .venv/bin/python benchmarks/bench_figures.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_figures

The histories are invented (no personal data, no encryption): every case reported in 2026,
half moved up to the township, some to the notice, six in ten back at school, half of those
closed, some of the returns out of school again; step deadlines left open, so each counts
as met when its level was left in time and as missed otherwise. Seeding is untimed.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(engine: Any, cases: int) -> dict[str, int]:
    from sqlalchemy import insert
    from sqlmodel import col

    from models.tables import (
        Case,
        CaseEvent,
        County,
        Deadline,
        School,
        Student,
        Township,
        User,
        Village,
    )

    rng = random.Random(14)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        county = conn.execute(insert(County).values(name="青松县", code="QSF")).inserted_primary_key[0]
        units = []
        for t in range(10):
            township = conn.execute(insert(Township).values(county_id=county, name=f"第{t}镇")).inserted_primary_key[0]
            school = conn.execute(insert(School).values(township_id=township, name=f"第{t}学校",
                                                        stage="nine_year")).inserted_primary_key[0]
            for v in range(5):
                village = conn.execute(insert(Village).values(township_id=township,
                                                              name=f"{t}-{v}村")).inserted_primary_key[0]
                units.append((township, school, village))
        officer = conn.execute(insert(User).values(display_name="县教育局", role="county_officer", scope_kind="county",
                                                   scope_id=county, created_at=now)).inserted_primary_key[0]
        township_officer = conn.execute(insert(User).values(
            display_name="镇专干", role="township_officer", scope_kind="township", scope_id=units[0][0],
            created_at=now)).inserted_primary_key[0]
        workers = [conn.execute(insert(User).values(display_name=f"教师{i}", role="teacher", scope_kind="classes",
                                                    created_at=now)).inserted_primary_key[0] for i in range(400)]
        for start in range(0, cases, 5000):
            n = min(5000, cases - start)
            students = conn.execute(insert(Student).returning(col(Student.id)), [
                {"name": f"学生{start + i}", "gender": "male", "birth_date": date(2013, 1, 1), "key_groups": [],
                 "created_at": now, "updated_at": now} for i in range(n)]).scalars().all()
            plans = []
            for sid in students:
                township, school, village = rng.choice(units)
                made = now + timedelta(days=rng.randint(0, 360), hours=rng.randint(0, 23))
                steps: list[tuple[datetime, str | None, str, str]] = [
                    (made, None, "suspected", "reported"),
                    (made + timedelta(hours=1), "suspected", "school_persuasion", "visit")]
                deadlines = [("school_persuasion", made + timedelta(hours=1), made + timedelta(days=5))]
                at, level = made + timedelta(hours=1), "school_persuasion"
                if rng.random() < 0.5:
                    at = made + timedelta(days=rng.randint(3, 8))
                    steps.append((at, level, "township_persuasion", "escalated"))
                    level = "township_persuasion"
                    deadlines.append((level, at, at + timedelta(days=15)))
                    if rng.random() < 0.4:
                        at += timedelta(days=rng.randint(10, 20))
                        steps.append((at, level, "deadline_notice", "notice_issued"))
                        level = "deadline_notice"
                        deadlines.append((level, at, at + timedelta(days=7)))
                state, closed = level, None
                if rng.random() < 0.6:
                    at += timedelta(days=rng.randint(1, 30))
                    steps.append((at, level, "returned", "returned"))
                    state = "returned"
                    if rng.random() < 0.5:
                        at += timedelta(days=30)
                        steps.append((at, "returned", "closed", "outcome_decided"))
                        state, closed = "closed", at
                    elif rng.random() < 0.2:
                        at += timedelta(days=rng.randint(20, 200))
                        steps.append((at, "returned", "school_persuasion", "relapsed"))
                        state = "school_persuasion"
                plans.append((sid, township, school, village, made, state, closed, steps, deadlines))
            ids = conn.execute(insert(Case).returning(col(Case.id)), [{
                "student_id": sid, "state": state, "source": "teacher_report", "reasons": ["learning"],
                "absent_since": (made - timedelta(days=rng.randint(0, 40))).date(), "policy": "datian",
                "level": state if state in ("school_persuasion", "township_persuasion", "deadline_notice") else "school_persuasion",
                "level_entered_at": made, "county_id": county, "school_id": school, "village_id": village,
                "school_responsible_id": rng.choice(workers), "created_at": made, "updated_at": made,
                "closed_at": closed, "current_round": 0, "version": 1,
            } for sid, township, school, village, made, state, closed, _s, _d in plans]).scalars().all()
            conn.execute(insert(CaseEvent), [
                {"case_id": cid, "at": at, "kind": kind, "from_state": frm, "to_state": to, "evidence": [], "data": {}}
                for cid, plan in zip(ids, plans, strict=True) for at, frm, to, kind in plan[7]])
            conn.execute(insert(Deadline), [
                {"case_id": cid, "kind": "step", "due_at": due, "created_at": made_at, "payload": {"level": lvl},
                 "status": "open", "attempts": 0}
                for cid, plan in zip(ids, plans, strict=True) for lvl, made_at, due in plan[8]])
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return {"county_officer": officer, "township_officer": township_officer}


def measure(engine: Any, user_id: int) -> tuple[float, float, Any]:
    from sqlmodel import Session

    from casework import figures
    from casework.clock import FrozenClock
    from casework.context import Casework
    from casework.periods import parse_period
    from casework.policy import load_named
    from models.tables import User

    with Session(engine) as session:
        cw = Casework(session, FrozenClock(datetime(2027, 1, 15, 2, 0, tzinfo=UTC)), load_named("datian"))
        user = session.get(User, user_id)
        wall, cpu = time.perf_counter(), time.process_time()
        fig = figures.for_period(cw, user, parse_period("2026", today=cw.today()))
        return time.perf_counter() - wall, time.process_time() - cpu, fig


def main() -> None:
    from benchmarks.benchdb import add_arguments, fresh_engine, refuse_unless_bench

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50_000)
    add_arguments(parser)
    args = parser.parse_args()
    refuse_unless_bench(args.db, args.force)
    engine = fresh_engine(args.db, "figures.db")
    started = time.perf_counter()
    users = seed(engine, args.cases)
    print(f"seeded {args.cases} cases on {engine.dialect.name} in {time.perf_counter() - started:.1f} s (untimed)")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for who, uid in users.items():
        wall, cpu, fig = measure(engine, uid)
        returned = sum(y.returned for y in fig.yields)
        print(f"{who}: all figures for 2026 in {wall:.2f} s wall, {cpu:.2f} s CPU — "
              f"{fig.reporting_delay.total + fig.reporting_delay.unknown} reported, {fig.to_return.total} returned "
              f"(median {fig.to_return.median} days), deadlines {fig.deadlines_total().met}/"
              f"{fig.deadlines_total().met + fig.deadlines_total().missed} met, {returned} returns by step, "
              f"re-dropout 6 months {fig.redropout.again(6)}, caseload {fig.caseload.cases} cases / "
              f"{fig.caseload.workers} people")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB (before the figures, after seeding: {rss_before:.0f} MiB)")


if __name__ == "__main__":
    main()
