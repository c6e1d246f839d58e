"""Verification rounds at county scale: a 20,000-child suspect list imported and matched,
and its export, rows per second and peak memory (RSS).

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_verification.py                 # 20,000 rows, SQLite
    .venv/bin/python benchmarks/bench_verification.py --rows 5000
    createdb -h 127.0.0.1 -U postgres bench_verification
    .venv/bin/python benchmarks/bench_verification.py \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_verification

The county is the demo world with ``--students`` pupils (about 20,000 by default), seeded
once. The list has the mix a real one has (``demo.verification_list``): a third of the
children our own pupils, a third of the ID numbers missing or wrong, 2% named twice, the
rest children of our villages, townships or elsewhere. Each phase runs in a fresh child
process, so its peak RSS is its own:

- ``read``: the XLSX read as an upload is (``documents.tabular.read_table``);
- ``import``: ``casework.verification.importing.import_round`` as ``baoxue verification
  import`` runs it: every row checked, matched in batches (the queries on the student
  table are counted: one or two per batch, not per row), assigned, written, the people
  told, committed;
- ``export``: ``baoxue export verification`` into an XLSX file.

Measured 2026-12-07 on the shared 2-core machine (load average 11–17, so the CPU-second
rates are the comparable ones), 20,000 rows against 20,000 pupils:

    SQLite      import 13.4 s CPU (1,489 rows per CPU s), peak RSS 221 MiB, 80 queries on student
                export  4.6 s CPU (4,324 rows per CPU s), peak RSS 153 MiB
    PostgreSQL  import 11.5 s CPU (1,735 rows per CPU s; 556 rows/s wall), peak RSS 223 MiB
                export  4.6 s CPU (4,333 rows per CPU s; 1,392 rows/s wall), peak RSS 159 MiB
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import benchdb  # noqa: E402

TODAY = date(2026, 11, 23)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _boot(url: str, key: str) -> Any:
    from casework import kinds  # noqa: F401  (every deadline kind)
    from casework.personal import configure_encryption
    from models import db

    configure_encryption(key)
    return db.make_engine(url)


def _seed(url: str, key: str, students: int) -> None:
    """The demo county's units and people, then ``students`` pupils in bulk (the demo's own
    numbering repeats after a few thousand), each with a unique invented ID number."""
    import random
    from datetime import UTC, timedelta

    from sqlmodel import Session

    from demo.county import GIVEN, SURNAMES, id_check_digit, seed_world
    from models.tables import Student
    from models.types import cipher

    engine = _boot(url, key)
    rng = random.Random(9)
    with Session(engine) as session:
        world = seed_world(session, TODAY, students_per_class=1)
        classes = [(k.id, k.school_id) for k in world.classes]
        villages = {t.id: [v for v in world.villages if v.township_id == t.id] for t in world.townships}
        school_township = {s.id: s.township_id for s in world.schools}
        now = datetime(2026, 11, 23, tzinfo=UTC)
        table: Any = Student.__table__  # type: ignore[attr-defined]
        rows: list[dict[str, Any]] = []
        for serial in range(students):
            female = serial % 2 == 0
            birth = date(2011, 1, 1) + timedelta(days=serial % 3000)
            # another (real) county code than the demo's, so no number repeats one of the demo's
            body = f"430524{birth:%Y%m%d}{(serial // 3000) * 2 + (0 if female else 1):03d}"
            number = body + id_check_digit(body)
            class_id, school_id = rng.choice(classes)
            village = rng.choice(villages[school_township[school_id]])
            rows.append({
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "gender": "female" if female else "male", "birth_date": birth, "id_number": number,
                "id_number_hash": cipher().lookup_hash(number), "key_groups": [],
                "hukou_address": f"青松县{village.name}{rng.randint(1, 12)}组", "village_id": village.id,
                "class_id": class_id, "enrolled": True, "created_at": now, "updated_at": now,
            })
            if len(rows) == 2000:
                session.execute(table.insert(), rows)
                rows = []
        if rows:
            session.execute(table.insert(), rows)
        session.commit()
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def _make_list(url: str, key: str, rows: int, path: str) -> None:
    import random

    from openpyxl import Workbook
    from sqlmodel import Session, select

    from demo.verification_list import Child, suspect_list
    from models.tables import Student

    engine = _boot(url, key)
    with Session(engine) as session:
        pupils = list(session.exec(select(Student)).all())
    rng = random.Random(5)
    ours = [Child(s.name, s.gender, s.birth_date, s.id_number, s.hukou_address or "")
            for s in rng.sample(pupils, min(len(pupils), rows // 3))]
    headers, numbered = suspect_list(ours, ["上坪村", "溪口村", "竹园村", "下坪村"], ["梅林镇", "石桥乡"],
                                     size=rows, today=TODAY, duplicates=rows // 50)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(headers)
    for _n, row in numbered:
        sheet.append(row)
    book.save(path)


def _phase(name: str, url: str, key: str, path: str, out: Any) -> None:
    from sqlalchemy import event

    from casework.clock import FrozenClock
    from casework.policy import load_named
    from casework.uow import unit_of_work
    from documents import tabular
    from documents.verification_xlsx import list_limits

    engine = _boot(url, key)
    policy = load_named("datian")
    clock = FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    data = Path(path).read_bytes()
    start_rss = _rss_mib()
    if name == "read":
        t0, c0 = time.perf_counter(), time.process_time()
        sheet = tabular.read_table("list.xlsx", data, list_limits())
        out.put((name, len(sheet.rows), time.perf_counter() - t0, time.process_time() - c0, start_rss,
                 _rss_mib(), {}))
        return
    sheet = tabular.read_table("list.xlsx", data, list_limits())
    queries = {"student": 0, "all": 0}
    kinds: dict[str, int] = {}

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        queries["all"] += 1
        if re.search(r"\bFROM student\b", statement):
            queries["student"] += 1
        head = " ".join(statement.split()[:3])
        kinds[head] = kinds.get(head, 0) + 1

    event.listen(engine, "before_cursor_execute", count)
    start_rss = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    if name == "import":
        from casework.verification import importing

        with unit_of_work(engine, clock, policy) as cw:
            result = importing.import_round(cw, None, name="benchmark", due_on=date(2026, 12, 18), county_id=1,
                                            headers=sheet.headers, rows=sheet.rows)
            n = result.rows
            extra: dict[str, Any] = {"by ID": result.by_id, "candidates": result.candidates, "unmatched": result.unmatched,
                     "duplicates": result.duplicates, "bad IDs": result.id_problems}
    else:
        from casework.verification import export
        from documents.verification_xlsx import write_xlsx

        with unit_of_work(engine, clock, policy) as cw:
            job = export.prepare(cw, None, 1, "zh_Hans")
            with open(os.devnull, "wb") as sink, io.BytesIO() as buf:
                n = write_xlsx(job.headers, export.rows(cw, None, job, "zh_Hans"), buf, title="list")
                sink.write(buf.getvalue())
                extra = {"file MiB": round(len(buf.getvalue()) / 2**20, 1)}
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    extra.update({"queries": queries["all"], "on student": queries["student"]})
    if os.environ.get("BENCH_SQL"):
        print(sorted(kinds.items(), key=lambda kv: -kv[1])[:8])
    out.put((name, n, wall, cpu, start_rss, _rss_mib(), extra))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--students", type=int, default=20_000)
    benchdb.add_arguments(parser)
    args = parser.parse_args()
    benchdb.refuse_unless_bench(args.db, args.force)
    from casework.personal import Cipher

    key = Cipher.generate_key()
    engine = benchdb.fresh_engine(args.db, "bench_verification.db")
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    child = ctx.Process(target=_seed, args=(url, key, args.students))
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit("seeding failed")
    print(f"seeded {args.students} pupils in {time.perf_counter() - t0:.1f} s ({engine.dialect.name})")
    path = os.path.join(tempfile.mkdtemp(), "list.xlsx")
    child = ctx.Process(target=_make_list, args=(url, key, args.rows, path))
    child.start()
    child.join()
    print(f"list: {args.rows} rows, {os.path.getsize(path) / 2**20:.1f} MiB XLSX; load average "
          f"{os.getloadavg()[0]:.2f}")
    for phase in ("read", "import", "export"):
        queue = ctx.Queue()
        child = ctx.Process(target=_phase, args=(phase, url, key, path, queue))
        child.start()
        child.join()
        if child.exitcode != 0 or queue.empty():
            sys.exit(f"{phase} failed (exit code {child.exitcode})")
        name, n, wall, cpu, start_rss, peak, extra = queue.get()
        facts = ", ".join(f"{k} {v}" for k, v in extra.items())
        print(f"{name:>6}: {n} rows in {wall:.2f} s wall / {cpu:.2f} s CPU = {n / wall:,.0f} rows/s "
              f"({n / max(cpu, 1e-9):,.0f} per CPU s); RSS {start_rss:.0f} → peak {peak:.0f} MiB"
              + (f"; {facts}" if facts else ""))


if __name__ == "__main__":
    main()
