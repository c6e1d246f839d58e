"""``baoxue verification`` and ``baoxue export verification`` as an operator runs them on
the demo county: a list with a bad row refused whole, the good list imported, a re-check
sample drawn, the rounds listed, the list exported as CSV in the province's columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from models import db
from models.tables import AuditEvent, Case, VerificationEntry
from tests.conftest import invoke

HEADER = "序号,姓名,身份证号,性别,出生日期,户籍地址,来源/批次\n"
GOOD = ("1,林小雨,430521201403050025,女,2014-03-05,青松县上坪村3组,2026秋比对\n"
        "2,陈大山,43052120120101001X,男,2012-01-01,青松县梅林镇街道9号,2026秋比对\n"
        "3,林小雨,430521201403050025,女,2014-03-05,青松县上坪村3组,2026秋比对\n")


def test_import_sample_list_and_export(env: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    assert invoke("demo", "seed").exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD + "4,,,男,,青松县溪口村,2026秋比对\n", encoding="utf-8")
    refused = invoke("verification", "import", str(bad), "--name", "第一批", "--due", "2099-12-31",
                     "--lang", "en")
    assert refused.exit_code == 1
    assert "Nothing was imported: 1 rows cannot be used." in refused.output
    assert "Row 5: name: missing" in refused.output

    good = tmp_path / "核查名单.csv"
    good.write_text(HEADER + GOOD, encoding="utf-8")
    done = invoke("verification", "import", str(good), "--name", "第一批", "--due", "2099-12-31", "--lang", "en")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("#1 Round “第一批” imported: 3 children, due Dec 31, 2099.")
    assert "named twice 1;" in done.output and "to villages 1, to township officers to assign 1" in done.output

    sample = invoke("verification", "sample", "--size", "50", "--name", "2026Q4复核", "--due", "2099-12-31")
    assert sample.exit_code == 0, sample.output
    # every case of the demo's but the child back at school: its two suspected dropouts (on the
    # school's step), its eight confirmed ones (above it) and its closed one
    assert sample.output.strip() == "#2 2026Q4复核: 11 case(s) to re-check, due 2099-12-31"
    listed = invoke("verification", "list")
    assert listed.output.splitlines() == [
        "#1\t第一批\tdue 2099-12-31\timport\t0/2 verified\t0 approved",
        "#2\t2026Q4复核\tdue 2099-12-31\tsample\t0/11 verified\t0 approved"]

    out = tmp_path / "back.csv"
    exported = invoke("export", "verification", "1", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    got = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert got[0] == ["序号", "姓名", "身份证号", "性别", "出生日期", "户籍地址", "来源/批次", "处置结果",
                      "具体情形", "佐证材料数", "核查人", "审核人", "审核", "个案", "备注"]
    assert got[1][:7] == GOOD.splitlines()[0].split(",")  # the ID number restored
    assert got[1][12] == "尚未核查" and got[3][14] == "名单重复：见第 2 行。"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    engine = db.make_engine(database_url)
    with Session(engine) as s:
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "verification.export")).one()
        assert audit.detail["operator"].startswith("os:") and audit.detail["rows"] == 3
        assert len(s.exec(select(VerificationEntry)).all()) == 14
        drawn = [int(e.batch.removeprefix("案件#")) for e in s.exec(
            select(VerificationEntry).where(VerificationEntry.round_id == 2)).all()]
        assert sorted((c.state, c.level) for c in s.exec(select(Case).where(col(Case.id).in_(drawn))).all()) == [
            ("closed", "school_persuasion"), ("county_escalation", "county_escalation"), ("judicial", "judicial"),
            *[("school_persuasion", "school_persuasion")] * 2, *[("township_persuasion", "township_persuasion")] * 6]
        assert [c.state for c in s.exec(select(Case).where(col(Case.id).not_in(drawn))).all()] == ["returned"]
    engine.dispose()
