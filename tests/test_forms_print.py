"""The forms as they print: 表3's grid sized as the paper form (row heights, column widths,
read from the DOCX XML), no PDF line starting with closing punctuation (the PDF's text read
back with pypdf), and, where LibreOffice is installed, the pages rendered to PNG in
test-output/forms/ to be looked at (the assertions never depend on LibreOffice)."""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document as read_docx
from docx.enum.table import WD_ROW_HEIGHT_RULE
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from pypdf import PdfReader

from casework import ladder
from documents import forms as form_files
from documents.linebreak import NO_END, NO_START, wrap
from tests.ledgerkit import make_cases

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "forms"
CELL_MARGINS = Cm(0.19) * 2  # Word's and LibreOffice's default cell margins, left and right
CJK = Pt(10.5)  # one Chinese character at 五号, the table's body size
DIGIT = Pt(10.5) * 0.5


@pytest.fixture
def made(session, clock, policy, world):  # type: ignore[no-untyped-def]
    return make_cases(session, clock, policy, world)


def _grid(table) -> list[int]:  # type: ignore[no-untyped-def]
    """The grid's column widths in EMU, as LibreOffice lays the table out."""
    return [int(Pt(int(c.get(qn("w:w"))) / 20)) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]


def _cell_widths(table, grid: list[int]) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """(text, width in EMU) of every cell, spans summed from the grid."""
    out = []
    for row in table._tbl.tr_lst:
        col = 0
        for tc in row.tc_lst:
            span = tc.grid_span
            text = "".join(t.text or "" for t in tc.iter(qn("w:t")))
            out.append((text, sum(grid[col:col + span])))
            col += span
    return out


def test_the_township_record_has_room_to_write_and_labels_that_fit(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    _name, data = form_files.make(cw, officer, made.meilin_township, "township_record", "docx")
    doc = read_docx(BytesIO(data))
    table = doc.tables[0]
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    rows = table.rows
    first = next(i for i, r in enumerate(rows) if r.cells[1].text == "第一次")
    record_rows = rows[first:first + 5]
    assert [r.cells[1].text for r in record_rows] == ["第一次", "第二次", "第三次", "第四次", "第五次"]
    for row in record_rows:  # room to write by hand, filled or not
        assert row.height_rule == WD_ROW_HEIGHT_RULE.AT_LEAST and row.height >= Cm(2.5)
    for row in rows[:first]:
        assert row.height is not None and row.height >= Cm(0.8)
    grid = _grid(table)
    assert abs(sum(grid) - Cm(17)) < Cm(0.05)  # the A4 text width
    cells = _cell_widths(table, grid)
    labels = {"学生姓名", "性别", "出生年月", "家长姓名", "就读学校", "就读班级", "联系电话", "旷课原因",
              "旷课日期", "对象类别", "记录人"}
    for text, width in cells:
        if text in labels:  # a four-character label on one line
            assert width - CELL_MARGINS >= len(text) * CJK, text
    phone = next(w for t, w in cells if t.isdigit() and len(t) == 11)
    assert phone - CELL_MARGINS >= 11 * DIGIT  # the eleven digits on one line
    absent = next(w for t, w in cells if t == "2026年11月15日")
    assert absent - CELL_MARGINS >= 8 * DIGIT + 3 * CJK
    # the section labels down the first column: two characters a line, never one
    assert grid[0] - CELL_MARGINS >= 2 * CJK


def test_chinese_line_breaking_rules() -> None:
    def measure(s: str) -> float:
        return sum(1.0 if ord(c) > 127 else 0.5 for c in s)

    text = "家长态度：反对；学生态度：不愿意，说不想读书。（承诺12月15日返校）电话13912345678。"
    for width in (4, 5, 6, 7, 8, 9, 10, 11, 12):
        lines = wrap(text, width, measure)
        assert "".join(lines) == text
        assert all(measure(line) <= width for line in lines), (width, lines)
        assert not any(line[0] in NO_START for line in lines[1:]), (width, lines)
        assert not any(line[-1] in NO_END for line in lines[:-1]), (width, lines)
        if width >= 7:  # the phone and its full stop fit on a line: never split
            assert any("13912345678" in line for line in lines), (width, lines)


def _pdf_lines(data: bytes) -> list[str]:
    return [line for page in PdfReader(BytesIO(data)).pages
            for line in page.extract_text().splitlines() if line.strip()]


def test_no_pdf_line_starts_with_closing_punctuation(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    ladder.issue_deadline_notice(cw, officer, made.meilin_township)
    cw.session.commit()
    county = world.users["county_officer"]
    checked = 0
    for case_id, form in ((made.meilin_township, "notice"), (made.meilin_township, "township_record"),
                          (made.meilin_township, "register"), (made.meilin_school, "school_record")):
        _name, data = form_files.make(cw, county, case_id, form, "pdf")
        lines = _pdf_lines(data)
        assert len(lines) > 10
        bad = [line for line in lines if line.lstrip()[0] in NO_START]
        assert not bad, (form, bad)
        if form == "register":  # our lines are fpdf2's lines: it does not break them again
            assert any(line.endswith("填表日期：2026年11月23日") for line in lines), lines[:4]
        checked += len(lines)
    assert checked > 80


def _render_png(source: Path) -> list[Path]:
    """The file's pages as PNG beside it: a DOCX through LibreOffice to PDF, a PDF as is."""
    pdf = source
    if source.suffix == ".docx":
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(source.parent),
                        str(source)], check=True, capture_output=True, timeout=180)
        pdf = source.with_suffix(".pdf")
    stem = source.parent / f"{source.stem}.{source.suffix[1:]}"
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(stem)], check=True, timeout=120)
    return sorted(source.parent.glob(f"{stem.name}*.png"))


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="LibreOffice and poppler-utils render the screenshots; the files are checked above")
def test_the_forms_rendered_to_png_for_a_look(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    ladder.issue_deadline_notice(cw, officer, made.meilin_township)
    cw.session.commit()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    county = world.users["county_officer"]
    made_files = []
    for form, fmt, name in (("township_record", "docx", "t3_township_record"),
                            ("township_record", "pdf", "t3_township_record_pdf"),
                            ("notice", "pdf", "notice_pdf"), ("register", "pdf", "register_pdf")):
        _n, data = form_files.make(cw, county, made.meilin_township, form, fmt)
        path = OUTPUT / f"{name}.{fmt}"
        path.write_bytes(data)
        made_files += _render_png(path)
    assert len(made_files) >= 4 and all(p.stat().st_size > 5000 for p in made_files)
