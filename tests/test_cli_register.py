"""``baoxue register`` run as an operator would, on the demo county: an extract imported
(a bad row refuses the whole file), the three ledgers written masked or in full, and a
duplicate listed and merged, every step audited as made at the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, col, func, select

from demo.county import invented_id_number
from models import db
from models.tables import AuditEvent, RegisterChild, Student
from tests.conftest import invoke


def _extract(path: Path, *rows: list[object]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "性别", "出生日期", "公民身份号码", "乡镇", "村", "户号", "户主姓名"])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_import_export_and_merge_at_the_command_line(
    env: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    assert invoke("demo", "seed").exit_code == 0
    engine = db.make_engine(database_url)
    born = date(2015, 6, 1)
    good = ["林小溪", "女", born, invented_id_number(born, 901, True), "梅林镇", "上坪村", "A1", "林海"]
    bad = ["林小河", "男", born, "12345", "梅林镇", "上坪村", "A1", "林海"]

    refused = invoke("register", "import", str(_extract(tmp_path / "bad.xlsx", good, bad)), "--county", "1",
                     "--yes", "--lang", "en")
    assert refused.exit_code == 1, refused.output
    assert "row 3 (林小河): ID number: An ID number has 18 characters; this one has 5." in refused.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(RegisterChild)).one() == 0

    done = invoke("register", "import", str(_extract(tmp_path / "good.xlsx", good)), "--county", "1", "--yes")
    assert done.exit_code == 0, done.output
    assert "register: 1 added" in done.stdout

    out = tmp_path / "children.xlsx"
    masked = invoke("register", "export", "children", "-o", str(out))
    assert masked.exit_code == 0, masked.output
    ws = load_workbook(out)["适龄儿童台账"]
    head = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[head.index("姓名")] == "林小溪")
    assert "*" in row[head.index("居民身份证号码")] and row[head.index("需入户核查")] == "是"
    full = invoke("register", "export", "dropout", "--full", "--lang", "en", "-o", str(tmp_path / "d.xlsx"))
    assert full.exit_code == 0, full.output
    assert load_workbook(tmp_path / "d.xlsx").sheetnames == ["Ledger of dropouts", "About this file"]

    # a second record of a demo pupil: listed, then merged into the first
    with Session(engine, expire_on_commit=False) as s:
        first = s.exec(select(Student).where(col(Student.class_id).is_not(None)).order_by(col(Student.id))).first()
        assert first is not None
        twin = Student(name=first.name, gender=first.gender, birth_date=first.birth_date, enrolled=False,
                       village_id=first.village_id, created_at=first.created_at, updated_at=first.updated_at)
        s.add(twin)
        s.commit()
    listed = invoke("register", "duplicates")
    assert f"#{first.id} {first.name}" in listed.stdout and f"#{twin.id}" in listed.stdout
    merged = invoke("register", "merge", str(first.id), str(twin.id), "--yes")
    assert merged.exit_code == 0, merged.output
    with Session(engine) as s:
        assert s.get(Student, twin.id) is None
        actions = [a.action for a in s.exec(select(AuditEvent).where(AuditEvent.actor_id == None)).all()]  # noqa: E711
    assert {"register.import", "register.children.export", "register.dropout.export",
            "student.duplicates", "student.merge"} <= set(actions)
