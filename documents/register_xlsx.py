"""The three ledgers of the 2024 notice as workbooks (``casework.register_ledgers``): one
sheet named after the ledger, one row per child or case, with the ledger's print setup
(A4 landscape, one page wide, the header row on every page, the title above, page numbers
below) and an autofilter; then a sheet saying what the file holds (scope, when, how many,
which numbers are in full)."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from casework import ledger
from casework.context import Casework
from casework.ledger import Column, Value
from casework.register_ledgers import CHILD_COLUMNS, Job, case_rows, child_rows
from documents.ledger_xlsx import EXCEL_EPOCH, HEADER_HEIGHT, Styles, print_setup, workbook_options
from models.tables import User


def write(job: Job, rows: Sequence[Sequence[Value]]) -> bytes:
    columns = CHILD_COLUMNS if job.kind == "children" else ledger.COLUMNS
    lang = job.lang
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, workbook_options())
    styles = Styles(wb)
    ws = wb.add_worksheet(job.title[:31])
    _header(ws, styles, columns, lang)
    kinds = [c.kind for c in columns[1:]]
    for r, values in enumerate(rows, start=1):
        ws.write_number(r, 0, r)
        for c, (kind, value) in enumerate(zip(kinds, values, strict=True), start=1):
            if value is None or value == "":
                continue
            if kind == "date":
                ws.write_number(r, c, (value - EXCEL_EPOCH).days)  # type: ignore[operator, union-attr]
            elif kind == "int":
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, str(value))
    ws.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
    about = wb.add_worksheet(ledger.word("summary_sheet", lang)[:31])
    about.set_column(0, 0, 20)
    about.set_column(1, 1, 40)
    about.write_string(0, 0, job.title, styles.title)
    facts = [
        (ledger.word("scope", lang), job.scope if job.scope != "*" else ledger.word("all_states", lang)),
        (ledger.word("exported", lang), f"{job.exported_at:%Y-%m-%d %H:%M}"),
        (ledger.word("disclosure", lang), ledger.word(job.disclosure.code, lang)),
        (ledger.word("total", lang), str(len(rows))),
    ]
    for i, (label, value) in enumerate(facts, start=1):
        about.write_string(i, 0, label, styles.bold)
        about.write_string(i, 1, value)
    wb.close()
    return out.getvalue()


def _header(ws: Worksheet, styles: Styles, columns: Sequence[Column], lang: str) -> None:
    for i, column in enumerate(columns):
        fmt = styles.date if column.kind == "date" else styles.wrap if column.kind == "long" else None
        ws.set_column(i, i, column.width, fmt)
        ws.write_string(0, i, column.label(lang), styles.header)
    ws.set_row(0, HEADER_HEIGHT)
    ws.freeze_panes(1, 6 if columns is CHILD_COLUMNS else 4)
    print_setup(ws)


def export(cw: Casework, actor: User | None, job: Job) -> bytes:
    """The workbook of a prepared job; ``cw`` must have a session of its own (the case rows
    are read as the ledger reads them). Auditing is the caller's."""
    rows = child_rows(cw, actor, job) if job.kind == "children" else case_rows(cw, actor, job)
    job.rows = len(rows)
    return write(job, rows)


def filename(job: Job) -> str:
    return f"{job.title}_{job.today.isoformat()}.xlsx".replace(" ", "_")
