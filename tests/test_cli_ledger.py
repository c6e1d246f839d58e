"""``baoxue export`` and ``baoxue import`` run as an operator would, on the demo county:
the ledger masked or in full, a case's form, the monthly report, a roster import with a
bad row (the preview lists it, the valid rows go in, audited)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from casework import ledger
from demo.county import invented_id_number
from models import db
from models.tables import AuditEvent, Student
from tests.conftest import invoke


def test_export_the_ledger_a_form_and_the_report(
    env: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    assert invoke("demo", "seed").exit_code == 0
    out = tmp_path / "ledger.xlsx"
    done = invoke("export", "ledger", "-o", str(out))
    assert done.exit_code == 0, done.output
    assert done.stdout.strip().endswith(f"12 cases written to {out} (masked)")
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "汇总"
    id_col = [c.key for c in ledger.COLUMNS].index("id_number")
    ids = [r[id_col] for ws in wb.worksheets[1:] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(ids) == 12 and all("*" in i for i in ids)

    full = invoke("export", "ledger", "--state", "open", "--unit", "school:2", "--full", "--lang", "en",
                  "-o", str(tmp_path / "open.xlsx"))
    assert full.exit_code == 0, full.output
    wb = load_workbook(tmp_path / "open.xlsx")
    assert wb.sheetnames[0] == "Summary"
    assert all("*" not in r[id_col] for ws in wb.worksheets[1:]
               for r in ws.iter_rows(min_row=2, values_only=True))

    bad = invoke("export", "ledger", "--state", "nonsense", "--lang", "en", "-o", str(out))
    assert bad.exit_code == 1 and "“nonsense” is not a known choice." in bad.output

    form = invoke("export", "form", "9", "report", "-o", str(tmp_path / "t5.pdf"))
    assert form.exit_code == 0, form.output
    assert (tmp_path / "t5.pdf").read_bytes().startswith(b"%PDF")
    early = invoke("export", "form", "1", "report", "-o", str(tmp_path / "t5.docx"))
    assert early.exit_code == 1 and "#1" in early.output  # a suspected case has no 表5 yet

    report = invoke("export", "report", "month", "--lang", "en", "-o", str(tmp_path / "m.xlsx"))
    assert report.exit_code == 0, report.output
    assert report.stdout.splitlines()[0].startswith("Monthly report for")
    assert load_workbook(tmp_path / "m.xlsx").sheetnames == ["Summary", "By unit", "Cases", "Figures"]

    with Session(db.make_engine(database_url)) as s:
        actions = [a.action for a in s.exec(select(AuditEvent).where(AuditEvent.actor_id == None)).all()]  # noqa: E711
    assert actions.count("ledger.export") == 2 and "case.document" in actions and "report.export" in actions


def test_import_a_roster_with_a_bad_row(
    env: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    assert invoke("demo", "seed").exit_code == 0
    wb = Workbook()
    ws = wb.active
    ws.append(["Name", "Sex", "Date of birth", "ID number", "Grade", "Class", "Guardian", "Phone"])
    for n, name in enumerate(("王一", "王二"), start=1):
        birth = date(2013, 5, n)
        ws.append([name, "女", birth, invented_id_number(birth, 450 + n, True), 7, 1, "王大", "13900000000"])
    ws.append(["王三", "女", date(2013, 5, 3), "123", 7, 1, "", ""])
    roster = tmp_path / "roster.xlsx"
    buffer = io.BytesIO()
    wb.save(buffer)
    roster.write_bytes(buffer.getvalue())

    no = invoke("import", "roster", str(roster), "--school", "2", "--lang", "en", input="n\n")
    assert no.exit_code == 0, no.output
    assert "roster.xlsx: 3 rows — 2 to add, 0 to update, 0 unchanged, 1 with errors." in no.stdout
    assert "row 4 (王三): ID number: An ID number has 18 characters; this one has 3." in no.stdout
    assert "nothing imported" in no.stdout

    yes = invoke("import", "roster", str(roster), "--school", "2", "--yes", "--lang", "en")
    assert yes.exit_code == 0, yes.output
    assert "imported into 梅林中学: 2 added, 0 updated, 1 rows left out" in yes.stdout
    with Session(db.make_engine(database_url)) as s:
        assert set(s.exec(select(Student.name).where(Student.name.startswith("王"))).all()) >= {"王一", "王二"}  # type: ignore[attr-defined]
        assert "王三" not in set(s.exec(select(Student.name)).all())
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).one()
    assert audit.detail["via"] == "cli" and audit.detail["added"] == 2
