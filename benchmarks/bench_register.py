"""The register of school-age children at county scale: a household-register extract of
``--children`` rows checked (``register.plan``) and imported (``register.apply``), imported
again unchanged, and the 适龄儿童台账 written; rows per second and peak memory (RSS).

Run on demand (not a test), on a new SQLite database in a temporary directory:

    .venv/bin/python benchmarks/bench_register.py                 # 20,000 children
    .venv/bin/python benchmarks/bench_register.py --children 50000

The demo county (4 villages) is seeded first; the extract's children are invented, spread
over its villages, aged 6–15, each with a valid ID number. Times are wall-clock on a
shared machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


GIVEN = "一二三四五六七八九十春夏秋冬山水木石云雨风雪花草"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--children", type=int, default=20_000)
    args = parser.parse_args()

    from sqlmodel import Session

    from casework import register, register_ledgers
    from casework.clock import FrozenClock
    from casework.context import Casework
    from casework.personal import Cipher, configure_encryption
    from casework.policy import load_named
    from demo.county import invented_id_number, seed_world
    from documents import register_xlsx
    from models import db

    configure_encryption(Cipher.generate_key())
    tmp = Path(tempfile.mkdtemp(prefix="bench-register-"))
    engine = db.make_engine(f"sqlite:///{tmp / 'bench.db'}")
    db.upgrade(engine)
    policy = load_named("datian")
    from datetime import UTC, datetime

    clock = FrozenClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    with Session(engine, expire_on_commit=False) as s:
        world = seed_world(s, date(2026, 11, 23), students_per_class=4)
        s.commit()
    villages = [(v.name, "梅林镇" if v.township_id == world.townships[0].id else "石桥乡") for v in world.villages]
    headers = ["户号", "户主姓名", "姓名", "性别", "出生日期", "身份证号", "乡镇", "村", "户籍地址"]
    rows: list[tuple[int, list[object]]] = []
    for i in range(args.children):
        born = date(2011, 1, 1) + timedelta(days=i % 3000)  # ages 7 to 15 on 2026-11-23
        female = i % 2 == 0
        village, township = villages[i % len(villages)]
        number = invented_id_number(born, i // 3000, female)  # (day, serial): every number differs
        name = "林" + GIVEN[i % len(GIVEN)] + GIVEN[i // len(GIVEN) % len(GIVEN)]
        rows.append((i + 2, [f"H{i // 3:05d}", "林某", name, "女" if female else "男", born,
                             number, township, village, f"{village}{i}号"]))
    officer = world.users["county_officer"]
    load = os.getloadavg()[0]

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = fn()
        took = time.perf_counter() - start
        rate = args.children / took if took else 0
        print(f"{label:<28} {took:7.2f} s  {rate:9,.0f} rows/s")
        return out

    with Session(engine, expire_on_commit=False) as s:
        cw = Casework(s, clock, policy)
        plan = timed("plan (check every row)", lambda: register.plan(cw, officer, world.county.id or 0, headers, rows))
        assert not plan.errors, [(r.number, [t.render("en") for t in r.errors]) for r in plan.errors[:3]]
        timed("apply (import, in one txn)", lambda: register.apply(cw, officer, world.county.id or 0, headers,
                                                                    rows, plan.fingerprint()))
        s.commit()
    with Session(engine, expire_on_commit=False) as s:
        cw = Casework(s, clock, policy)
        again = timed("plan again (all unchanged)",
                      lambda: register.plan(cw, officer, world.county.id or 0, headers, rows))
        assert again.count("unchanged") == args.children
    with Session(engine, expire_on_commit=False) as s:
        cw = Casework(s, clock, policy)
        job = register_ledgers.prepare(cw, officer, "children", lang="zh_Hans")
        s.rollback()
        data = timed("适龄儿童台账 (xlsx)", lambda: register_xlsx.export(cw, officer, job))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"children {args.children:,}; workbook {len(data) / 1024 / 1024:.1f} MiB; peak RSS {peak:.0f} MiB; "
          f"load average {load:.1f}")


if __name__ == "__main__":
    main()
