"""Ledger export at county scale: 100,000 cases, rows per second and peak memory (RSS),
next to XlsxWriter's ``constant_memory`` writing the same rows with no application logic.

Run on demand (not a test):

    .venv/bin/python benchmarks/bench_ledger.py                      # 100,000 cases, SQLite
    .venv/bin/python benchmarks/bench_ledger.py --cases 20000
    .venv/bin/python benchmarks/bench_ledger.py --keep /tmp/ledger-bench.db   # reuse the data
    createdb -h 127.0.0.1 -U postgres bench_ledger       # an empty database of its own
    .venv/bin/python benchmarks/bench_ledger.py --runs 3 \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_ledger --keep /tmp/ledger-bench-pg

What is measured, each in a fresh child process so the peak RSS is the export's own:

- ``app``: what ``/export`` and ``baoxue export ledger`` run for a county officer — read
  the cases chunk by chunk (scope filter, joins, guardians, visits, deadlines), decrypt
  the numbers (in full for a county officer), label the codes in the reader's language,
  and write the workbook (summary + one sheet per state) with
  ``documents.ledger_xlsx``. Wall time, end to end. The workbook goes to a file, as
  the command line writes it; the bot's ``/export`` builds it in memory, which adds the
  file's size (23.5 MiB here) to that process.
- ``xlsxwriter``: the same rows (dumped beforehand by the app, read back untimed), written
  to the same sheets with the same formats by XlsxWriter alone, twice: with its plain
  ``write_row`` ("write_row") and with the typed calls the app's writer makes ("typed",
  the strict comparison: what is left is our application logic). Only the XlsxWriter
  calls and ``close()`` are timed. The typed run's workbook is checked to be the app's.

Rates are given per wall-clock second and per CPU second of the process; on a shared
machine (the load average is printed) the CPU-second rates are the comparable ones, and
``--runs`` interleaves repeated runs and keeps each one's best time (and worst memory).
"At start" is the RSS when the timed part begins: the interpreter, the libraries and the
database driver, which any process that exports carries.

The data is seeded once per database (``--keep`` keeps it, and the key it was encrypted
with); on PostgreSQL the seed ends with ``ANALYZE``, as autovacuum would after a load.

Targets (issue 6): app rate ≥ 0.8 × xlsxwriter rate, app peak RSS ≤ 100 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY_ENV = "BENCH_LEDGER_KEY"
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


# --- data ----------------------------------------------------------------------------------


def _pk(result: CursorResult[Any]) -> Any:
    """The primary key of the one row an INSERT just wrote."""
    key = result.inserted_primary_key
    assert key is not None
    return key[0]


def seed(url: str, cases: int) -> None:
    """A county of 10 townships, 100 villages, 40 schools, 360 classes and ``cases``
    students each with a case, 1–2 guardians and 0–4 visits, spread over every state."""
    from sqlalchemy import insert, text
    from sqlmodel import col

    from casework import codes, states
    from demo.county import GIVEN, SURNAMES, invented_id_number
    from models import db
    from models.tables import (
        Case,
        County,
        Deadline,
        Guardian,
        School,
        SchoolClass,
        Student,
        Township,
        User,
        Village,
        Visit,
    )
    from models.types import cipher

    engine = db.make_engine(url)
    db.upgrade(engine)
    rng = random.Random(6)
    with engine.begin() as conn:
        county_id = _pk(conn.execute(insert(County).values(name="青松县", code="QSB")))
        towns = [
            _pk(conn.execute(insert(Township).values(county_id=county_id, name=f"第{i}镇")))
            for i in range(1, 11)
        ]
        villages = [
            (_pk(conn.execute(insert(Village).values(township_id=t, name=f"{i}村"))), t)
            for i, t in enumerate((t for t in towns for _ in range(10)), start=1)
        ]
        schools = [
            (_pk(conn.execute(insert(School).values(township_id=t, name=f"第{i}学校", stage="nine_year"))), t)
            for i, t in enumerate((t for t in towns for _ in range(4)), start=1)
        ]
        classes = []
        for school_id, town in schools:
            for grade in range(1, 10):
                cid = _pk(conn.execute(
                    insert(SchoolClass).values(school_id=school_id, grade=grade, section=1, school_year="2026-2027")
                ))
                classes.append((cid, school_id, town, grade))
        officer = _pk(conn.execute(
            insert(User).values(display_name="县教育局", role="county_officer", scope_kind="county",
                                scope_id=county_id, language="zh_Hans", active=True, unreachable=False,
                                phone="13300000001", created_at=NOW)
        ))
        teachers = [
            _pk(conn.execute(
                insert(User).values(display_name=f"教师{i}", role="teacher", scope_kind="classes",
                                    language="zh_Hans", active=True, unreachable=False,
                                    phone=f"137{i:08d}", created_at=NOW)
            ))
            for i in range(40)
        ]
    print(f"seeding {cases:,} cases …", flush=True)
    ladder_states = list(states.LADDER)
    all_states = list(states.ALL_STATES)
    # spread like real records, so that no cache of the export looks better than it is:
    # instants to the second, a few dozen reason and key-group combinations
    reason_codes = list(codes.CODE_LISTS["reason"])
    group_codes = list(codes.CODE_LISTS["key_group"])
    noticed = {"deadline_notice", "county_escalation", "judicial"}
    batch = 5000
    for start in range(0, cases, batch):
        students: list[dict[str, Any]] = []
        guardians: list[dict[str, Any]] = []
        case_rows: list[dict[str, Any]] = []
        visit_rows: list[dict[str, Any]] = []
        deadline_rows: list[dict[str, Any]] = []
        n = min(batch, cases - start)
        with engine.begin() as conn:
            for i in range(start, start + n):
                cid, school_id, town, grade = classes[i % len(classes)]
                village_id = rng.choice([v for v, t in villages if t == town])
                female = rng.random() < 0.5
                birth = date(2026 - grade - 6, rng.randint(1, 12), rng.randint(1, 28))
                idn = invented_id_number(birth, i, female)
                students.append(dict(
                    name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                    gender="female" if female else "male", birth_date=birth, ethnicity="汉族",
                    id_number=idn, id_number_hash=cipher().lookup_hash(f"{i}-{idn}"),
                    student_number="G" + idn, student_number_hash=cipher().lookup_hash(f"{i}-G{idn}"),
                    health="健康", key_groups=rng.sample(group_codes, rng.choice((1, 1, 2))),
                    hukou_address=f"青松县第{town}镇{village_id}村{rng.randint(1, 99)}号",
                    register_address="青松县", current_address=f"青松县{village_id}村{rng.randint(1, 99)}号",
                    village_id=village_id, class_id=cid, enrolled=True, created_at=NOW, updated_at=NOW,
                ))
            first_id = conn.execute(insert(Student).returning(col(Student.id)), students).scalars().all()
            for k, student_id in enumerate(first_id):
                i = start + k
                cid, school_id, town, grade = classes[i % len(classes)]
                for ordinal in range(1, 2 + (i % 3 == 0)):
                    guardians.append(dict(student_id=student_id, ordinal=ordinal, name="家长" + str(ordinal),
                                          relation="father" if ordinal == 1 else "mother",
                                          phone=f"139{rng.randint(0, 99999999):08d}"))
                state = all_states[i % len(all_states)]
                level = state if state in ladder_states else rng.choice(ladder_states[:3])
                created = NOW - timedelta(seconds=rng.randint(86_400, 200 * 86_400))
                notice = min(NOW, created + timedelta(days=20)) if state in noticed else None
                case_rows.append(dict(
                    student_id=student_id, state=state, source="teacher_report",
                    reasons=rng.sample(reason_codes, rng.choice((1, 1, 2))),
                    reason_note="厌学，沉迷手机", outcome_note=None, whereabouts="在家", absent_since=created.date(),
                    policy="datian", level=level, level_entered_at=created, current_round=i % 4,
                    county_id=1, school_id=school_id, class_id=cid, village_id=students[k]["village_id"],
                    reported_by=teachers[i % 40], school_responsible_id=teachers[i % 40],
                    outcome="returned" if state in ("returned", "retention", "closed") else None,
                    returned_on=TODAY - timedelta(days=3) if state in ("returned", "retention", "closed") else None,
                    closed_at=min(NOW, created + timedelta(seconds=rng.randint(3_600, 60 * 86_400)))
                    if state in states.FINAL | {"closed"} else None,
                    notice_issued_at=notice,
                    notice_due_on=(notice + timedelta(days=15)).date() if notice else None,
                    created_at=created, updated_at=created, version=1,
                ))
            case_ids = conn.execute(insert(Case).returning(col(Case.id)), case_rows).scalars().all()
            conn.execute(insert(Guardian), guardians)
            for k, case_id in enumerate(case_ids):
                for r in range((start + k) % 5):
                    visit_rows.append(dict(
                        case_id=case_id, level="school_persuasion", round=r + 1,
                        visit_date=TODAY - timedelta(days=10 - r), method="home_visit",
                        participants=[f"教师{(start + k) % 40}", rng.choice(["班主任", "校长", "村干部"])],
                        family_situation="父母外出务工，与祖父母同住",
                        guardian_attitude="hesitant", student_attitude="opposed",
                        measures="讲解义务教育法，落实资助", result="refused", recorded_by=officer,
                        recorded_at=NOW - timedelta(days=10 - r), evidence=[],
                    ))
                if case_rows[k]["state"] in ladder_states:
                    due = NOW + timedelta(seconds=rng.randint(3_600, 14 * 86_400))
                    deadline_rows.append(dict(case_id=case_id, kind="step", due_at=due,
                                              status="open", payload={}, created_at=NOW, attempts=0))
            if visit_rows:
                conn.execute(insert(Visit), visit_rows)
            if deadline_rows:
                conn.execute(insert(Deadline), deadline_rows)
        print(f"  {start + n:,}", flush=True)
    if engine.dialect.name == "postgresql":
        # what autovacuum does after a bulk load in production (the test server runs
        # without it): with no statistics the planner takes the chunk queries for
        # one-row lookups and the export waits on the server for minutes
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


# --- the two measured runs (each in a child process) ----------------------------------------


def _key() -> None:
    from casework.personal import configure_encryption

    configure_encryption(os.environ[KEY_ENV])


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_mib() -> float:
    """The process's peak RSS (VmHWM; ``ru_maxrss`` would carry the parent's over exec)."""
    return _status_mib("VmHWM")


def _rss_mib() -> float:
    return _status_mib("VmRSS")


class _Format:
    """A format of ``ledger_xlsx.Styles`` by its name, in the recorded summary."""

    def __init__(self, name: str) -> None:
        self.name = name


class _SummaryRecorder:
    """Stands in for the summary worksheet: notes the calls ``write_summary`` makes, so
    that the baseline writes the very same cells without the code that chose them."""

    def __init__(self, styles: Any) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._names = {id(v): k for k, v in vars(styles).items()}

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any) -> None:
            self.calls.append((method, tuple(
                _Format(self._names[id(a)]) if id(a) in self._names else a for a in args
            )))
        return call


def record_summary(job: Any, summary: Any) -> list[tuple[str, tuple[Any, ...]]]:
    import io

    import xlsxwriter

    from documents.ledger_xlsx import Styles, write_summary

    wb = xlsxwriter.Workbook(io.BytesIO())
    styles = Styles(wb)
    recorder = _SummaryRecorder(styles)
    write_summary(recorder, styles, job, summary)
    wb.close()
    return recorder.calls


def run_app(url: str, out: str, dump: str | None) -> dict[str, Any]:
    from sqlmodel import Session, select

    from casework.clock import FrozenClock
    from casework.context import Casework
    from casework.ledger import LedgerFilter, Summary, iter_rows, prepare
    from casework.policy import load_named
    from documents.ledger_xlsx import export_ledger
    from models import db
    from models.tables import User

    _key()
    engine = db.make_engine(url)
    policy = load_named("datian")
    clock = FrozenClock(NOW)
    with Session(engine, expire_on_commit=False) as session:
        cw = Casework(session, clock, policy)
        actor = session.exec(select(User).where(User.role == "county_officer")).one()
        if dump:  # the rows for the baseline, written before (and not part of) the timing
            job = prepare(cw, actor, LedgerFilter(), lang="zh_Hans")
            session.rollback()
            summary = Summary()
            with open(dump, "wb") as fh:
                buffer: list[Any] = []
                for item in iter_rows(cw, actor, job, summary=summary):
                    buffer.append(item)
                    if len(buffer) == 2000:
                        pickle.dump(buffer, fh)
                        buffer = []
                if buffer:
                    pickle.dump(buffer, fh)
            with open(dump + ".job", "wb") as jf:
                pickle.dump((job, record_summary(job, summary)), jf)
            return {}
        rss_start = _rss_mib()
        start, cpu = time.perf_counter(), time.process_time()
        job = prepare(cw, actor, LedgerFilter(), lang="zh_Hans")
        session.rollback()
        rows = export_ledger(cw, actor, job, out)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"rows": rows, "seconds": elapsed, "rate": rows / elapsed, "cpu": cpu,
            "cpu_rate": rows / cpu, "peak_mib": _peak_mib(), "start_mib": rss_start,
            "size_mib": os.path.getsize(out) / 2**20}


def run_baseline(dump: str, out: str, mode: str) -> dict[str, Any]:
    """XlsxWriter alone: same sheets, same cells and formats, rows streamed from the dump.

    ``mode`` "write_row": XlsxWriter's own ``write_row`` (types chosen by XlsxWriter, dates
    as date objects) — the plain way to write rows with no logic of ours. "typed": the very
    calls the app's writer makes (``write_string`` / ``write_number``, dates as serials,
    empty cells skipped), and the summary sheet's cells as the app wrote them — so the
    file is the app's, byte for byte, and the difference to the app is the application
    logic alone (checked after the runs).
    """
    from documents.ledger_xlsx import bulk_gc

    with bulk_gc():  # the app's own GC setting, so that only the application logic differs
        return _baseline(dump, out, mode)


def _baseline(dump: str, out: str, mode: str) -> dict[str, Any]:
    import xlsxwriter

    from casework.ledger import COLUMNS, sheet_name
    from documents.ledger_xlsx import EXCEL_EPOCH, Styles, setup_case_sheet, workbook_options

    with open(dump + ".job", "rb") as jf:
        job, summary_calls = pickle.load(jf)
    kinds = [c.kind for c in COLUMNS[1:]]
    timed = cpu = 0.0
    rows = 0
    rss_start = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    wb = xlsxwriter.Workbook(out, workbook_options())
    styles = Styles(wb)
    summary_ws = wb.add_worksheet(sheet_name("summary", "zh_Hans"))
    sheets = {}
    for state in job.states:
        ws = wb.add_worksheet(sheet_name(state, "zh_Hans"))
        setup_case_sheet(ws, styles, "zh_Hans")
        sheets[state] = [ws, 0]
    timed += time.perf_counter() - t0
    cpu += time.process_time() - c0
    with open(dump, "rb") as fh:
        while True:
            try:
                chunk = pickle.load(fh)  # untimed: the rows arrive ready-made
            except EOFError:
                break
            t0, c0 = time.perf_counter(), time.process_time()
            for state, values in chunk:
                sheet = sheets[state]
                sheet[1] += 1
                r = sheet[1]
                ws = sheet[0]
                if mode == "write_row":
                    ws.write_row(r, 0, [r, *values])
                    rows += 1
                    continue
                ws.write_number(r, 0, r)
                for c, (kind, value) in enumerate(zip(kinds, values, strict=True), start=1):
                    if value is None or value == "":
                        continue
                    if kind == "date":
                        ws.write_number(r, c, (value - EXCEL_EPOCH).days)
                    elif kind == "int":
                        ws.write_number(r, c, value)
                    else:
                        ws.write_string(r, c, value)
                rows += 1
            timed += time.perf_counter() - t0
            cpu += time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    for ws, n in sheets.values():
        ws.autofilter(0, 0, max(n, 1), len(COLUMNS) - 1)
    for method, args in summary_calls:
        getattr(summary_ws, method)(
            *(getattr(styles, a.name) if isinstance(a, _Format) else a for a in args)
        )
    wb.close()
    timed += time.perf_counter() - t0
    cpu += time.process_time() - c0
    return {"rows": rows, "seconds": timed, "rate": rows / timed, "cpu": cpu,
            "cpu_rate": rows / cpu, "peak_mib": _peak_mib(), "start_mib": rss_start,
            "size_mib": os.path.getsize(out) / 2**20}


def same_content(a: Path, b: Path) -> list[str]:
    """The parts of two workbooks that differ, but for the creation time in docProps."""
    import zipfile

    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        names = set(za.namelist()) | set(zb.namelist())
        return sorted(
            n for n in names
            if n != "docProps/core.xml"
            and (n not in za.namelist() or n not in zb.namelist() or za.read(n) != zb.read(n))
        )


def child(mode: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, *args],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{mode} run failed")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def prepare_database(args: argparse.Namespace, workdir: Path) -> str:
    """The database URL, seeded unless ``--keep`` names data seeded before."""
    from casework.personal import Cipher, configure_encryption
    from models import db

    key_file = Path(args.keep + ".key") if args.keep else None
    reuse = key_file is not None and key_file.exists()
    if reuse:
        os.environ[KEY_ENV] = key_file.read_text().strip()  # type: ignore[union-attr]
    else:
        os.environ.setdefault(KEY_ENV, Cipher.generate_key())
    configure_encryption(os.environ[KEY_ENV])
    if args.db:
        from sqlalchemy import inspect, text

        url = str(args.db)
        engine = db.make_engine(url)
        seeded = False
        if "county" in inspect(engine).get_table_names():
            with engine.connect() as conn:
                seeded = bool(conn.execute(text("select count(*) from county")).scalar())
        engine.dispose()
        if seeded and not reuse:
            raise SystemExit(f"{url} is not empty: give an empty database, or the --keep "
                             "file its data was seeded with")
        if seeded:
            print(f"reusing the data in {url}", flush=True)
            return url
        if reuse:
            raise SystemExit(f"{url} is empty but {key_file} exists: remove one of them")
    else:
        path = Path(args.keep) if args.keep else workdir / "ledger.db"
        url = f"sqlite:///{path}"
        if path.exists():
            if not reuse:
                raise SystemExit(f"{path} exists but not {path}.key, the key it was seeded with")
            print(f"reusing the data in {path}", flush=True)
            return url
    seed(url, args.cases)
    if key_file is not None:
        key_file.write_text(os.environ[KEY_ENV])
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--db", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--keep", help="keep the data to reuse: the SQLite file, or with --db "
                        "the file (+ .key) that remembers the encryption key")
    parser.add_argument("--runs", type=int, default=1, help="repeat each measurement, keep the best")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        mode, *rest = args.child
        result = run_app(*rest) if mode == "app" else run_baseline(rest[0], rest[1], mode=mode)
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    url = prepare_database(args, workdir)
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
          flush=True)
    dump = str(workdir / "rows.pickle")
    child("app", url, str(workdir / "dump.xlsx"), dump)
    names = ("app", "write_row", "typed")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(args.runs):  # interleaved, so that a busy spell hits all three alike
        results = {
            "app": child("app", url, str(workdir / "app.xlsx"), ""),
            "write_row": child("write_row", dump, str(workdir / "base.xlsx")),
            "typed": child("typed", dump, str(workdir / "typed.xlsx")),
        }
        print("  run: " + ", ".join(
            f"{n} {r['rate']:,.0f} rows/s ({r['cpu_rate']:,.0f} per CPU s, peak {r['peak_mib']:.1f} MiB)"
            for n, r in results.items()
        ), flush=True)
        for name, r in results.items():
            runs[name].append(r)
    # the best time of each kind, the worst memory
    best = {
        name: {
            **min(rs, key=lambda r: r["seconds"]),
            "cpu": min(r["cpu"] for r in rs),
            "cpu_rate": max(r["cpu_rate"] for r in rs),
            "peak_mib": max(r["peak_mib"] for r in rs),
            "start_mib": max(r["start_mib"] for r in rs),
        }
        for name, rs in runs.items()
    }
    print(f"\nbest of {args.runs} run(s) (wall and CPU rates each their best, peak RSS the highest):")
    print(f"{'':<22}{'rows':>9}{'wall s':>9}{'rows/s':>9}{'CPU s':>8}{'rows/CPU s':>12}"
          f"{'peak RSS':>12}{'at start':>12}{'file':>10}")
    titles = {"app": "app (export_ledger)", "write_row": "xlsxwriter write_row",
              "typed": "xlsxwriter typed"}
    for name in names:
        r = best[name]
        print(f"{titles[name]:<22}{r['rows']:>9,}{r['seconds']:>9.2f}{r['rate']:>9,.0f}{r['cpu']:>8.2f}"
              f"{r['cpu_rate']:>12,.0f}{r['peak_mib']:>8.1f} MiB{r['start_mib']:>8.1f} MiB"
              f"{r['size_mib']:>6.1f} MiB")
    app = best["app"]
    print()
    for name in ("write_row", "typed"):
        base = best[name]
        print(f"app / {titles[name]}: {app['rate'] / base['rate']:.2f} by wall time, "
              f"{app['cpu_rate'] / base['cpu_rate']:.2f} by CPU time (target ≥ 0.80)")
    paired = sorted(a["cpu_rate"] / t["cpu_rate"] for a, t in zip(runs["app"], runs["typed"], strict=True))
    print("app / xlsxwriter typed run by run, by CPU time: "
          + ", ".join(f"{x:.2f}" for x in paired) + f" (median {paired[len(paired) // 2]:.2f})")
    print(f"app peak RSS {app['peak_mib']:.1f} MiB (target ≤ 100); "
          f"{app['start_mib']:.1f} MiB of it before the export (interpreter, libraries, driver)")
    differ = same_content(workdir / "app.xlsx", workdir / "typed.xlsx")
    print("typed baseline's workbook vs the app's: "
          + ("identical (but for the creation time)" if not differ else f"DIFFERENT in {differ}"))
    print(f"load average after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall-time rates are only comparable on an idle machine)")


if __name__ == "__main__":
    main()
