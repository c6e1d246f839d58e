"""The ledger workbook: a summary sheet, then one sheet per state, one row per case.

Written with XlsxWriter in ``constant_memory`` mode: each row goes to a temporary file as
soon as it is written, so the export holds one chunk of cases at a time, a few MiB
whatever the county's size (``benchmarks/bench_ledger.py``). That mode writes rows
strictly in order per sheet; the sheets themselves may interleave, which is how one pass
over the cases fills all state sheets. The summary sheet is created first (so it is the
first tab) and filled last.

Cells are typed: dates are real dates (Excel serials with a date format), numbers are
numbers, and text is always written as a string, so a value starting with "=" is never
taken for a formula.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from casework import codes
from casework.context import Casework
from casework.i18n import _
from casework.labels import STATE_LABELS
from casework.ledger import (
    CHUNK,
    COLUMNS,
    LedgerJob,
    Progress,
    Summary,
    Value,
    iter_rows,
    sheet_name,
    word,
)
from models.tables import User

EXCEL_EPOCH = date(1899, 12, 30)
DATE_FORMAT = "yyyy-mm-dd"
HEADER_HEIGHT = 32


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None
BULK_GC_THRESHOLD = 100_000


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Fewer cyclic-GC passes while a big workbook is made.

    An export allocates millions of short-lived rows and tuples and makes no reference
    cycles, yet every 700 allocations the collector scans the young objects: about a
    tenth of the export's time (``benchmarks/bench_ledger.py``). The first generation's
    threshold is raised for the duration and restored after the last concurrent export;
    the setting is process-wide, and only makes collections rarer, never skips them.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], BULK_GC_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


def workbook_options() -> dict[str, Any]:
    return {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "default_date_format": DATE_FORMAT,
    }


class Styles:
    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.header = wb.add_format(
            {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center",
             "bg_color": "#DDEBF7", "border": 1}
        )
        self.date = wb.add_format({"num_format": DATE_FORMAT, "align": "left"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.bold = wb.add_format({"bold": True})
        self.section = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.cell = wb.add_format({"border": 1})
        self.total = wb.add_format({"bold": True, "border": 1, "top": 2})


def setup_case_sheet(ws: Worksheet, styles: Styles, lang: str) -> None:
    """Widths, column formats, the header row frozen with the first columns, print setup."""
    for i, column in enumerate(COLUMNS):
        fmt = styles.date if column.kind == "date" else styles.wrap if column.kind == "long" else None
        ws.set_column(i, i, column.width, fmt)
    ws.set_row(0, HEADER_HEIGHT)
    for i, column in enumerate(COLUMNS):
        ws.write_string(0, i, column.label(lang), styles.header)
    ws.freeze_panes(1, 4)
    print_setup(ws)


def print_setup(ws: Worksheet) -> None:
    """A4 landscape, every column on the page's width (as many pages down as it takes), the
    header row on every page, the sheet's name as the print title and page numbers below:
    without it a ledger of 14 cases printed as 89 pages of column fragments."""
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.set_header("&C&14&A")
    ws.set_footer("&C&P / &N")


class CaseSheet:
    """One state's sheet; rows are numbered within the sheet (序号)."""

    def __init__(self, ws: Worksheet) -> None:
        self.ws = ws
        self.rows = 0
        # per column: the writer method, chosen once (the row loop only calls)
        self._kinds = [c.kind for c in COLUMNS[1:]]

    def write(self, values: list[Value]) -> None:
        self.rows += 1
        r = self.rows
        ws = self.ws
        ws.write_number(r, 0, r)
        put_string, put_number = ws.write_string, ws.write_number
        for c, (kind, value) in enumerate(zip(self._kinds, values, strict=True), start=1):
            if value is None or value == "":
                continue
            if kind == "date":
                put_number(r, c, (value - EXCEL_EPOCH).days)  # type: ignore[operator, union-attr]
            elif kind == "int":
                put_number(r, c, value)
            else:
                put_string(r, c, value)

    def finish(self) -> None:
        self.ws.autofilter(0, 0, max(self.rows, 1), len(COLUMNS) - 1)


def write_ledger(
    target: str | Path | IO[bytes],
    job: LedgerJob,
    rows: Iterable[tuple[str, list[Value]]],
    summary: Summary,
) -> int:
    """Write the workbook to ``target``; returns the number of case rows written."""
    lang = job.lang
    wb = xlsxwriter.Workbook(target, workbook_options())
    styles = Styles(wb)
    summary_ws = wb.add_worksheet(sheet_name("summary", lang))
    sheets: dict[str, CaseSheet] = {}
    for state in job.states:
        ws = wb.add_worksheet(sheet_name(state, lang))
        setup_case_sheet(ws, styles, lang)
        sheets[state] = CaseSheet(ws)
    written = 0
    for state, values in rows:
        sheet = sheets.get(state)
        if sheet is None:  # a case changed state after the count: give it its sheet
            ws = wb.add_worksheet(sheet_name(state, lang))
            setup_case_sheet(ws, styles, lang)
            sheet = sheets[state] = CaseSheet(ws)
        sheet.write(values)
        written += 1
    for sheet in sheets.values():
        sheet.finish()
    write_summary(summary_ws, styles, job, summary)
    wb.close()
    return written


def write_summary(ws: Worksheet, styles: Styles, job: LedgerJob, summary: Summary) -> None:
    lang = job.lang
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 12)
    ws.write_string(0, 0, word("title", lang), styles.title)
    local = job.exported_at
    facts = [
        (word("scope", lang), job.scope if job.scope != "*" else word("all_states", lang)),
        (word("filters", lang), job.filter_text()),
        (word("exported", lang), f"{local:%Y-%m-%d %H:%M}"),
        (word("disclosure", lang), word(job.disclosure.code, lang)),
    ]
    row = 1
    for label, value in facts:
        ws.write_string(row, 0, label, styles.bold)
        ws.write_string(row, 1, value)
        row += 1

    def block(title: str, items: list[tuple[str, int]], total: int | None) -> None:
        nonlocal row
        row += 1
        ws.write_string(row, 0, title, styles.section)
        ws.write_string(row, 1, word("count", lang), styles.section)
        row += 1
        for label, count in items:
            ws.write_string(row, 0, label, styles.cell)
            ws.write_number(row, 1, count, styles.cell)
            row += 1
        if total is not None:
            ws.write_string(row, 0, word("total", lang), styles.total)
            ws.write_number(row, 1, total, styles.total)
            row += 1

    states = [(s, n) for s, n in summary.by_state.items() if n]
    order = list(STATE_LABELS)
    states.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    total = sum(n for _s, n in states)
    block(
        word("by_state", lang),
        [(_(STATE_LABELS[s]).render(lang) if s in STATE_LABELS else s, n) for s, n in states],
        total,
    )
    block(
        word("by_reason", lang),
        [(codes.label("reason", r).render(lang), n) for r, n in summary.by_reason.most_common()],
        None,
    )
    block(
        word("by_key_group", lang),
        [(codes.label("key_group", g).render(lang), n) for g, n in summary.by_key_group.most_common()],
        None,
    )
    for key, counter, kind in (
        ("by_township", summary.by_township, "township"),
        ("by_village", summary.by_village, "village"),
        ("by_school", summary.by_school, "school"),
    ):
        block(
            word(key, lang),
            [(summary.name(kind, uid, lang), n) for uid, n in counter.most_common()],
            total,
        )


def export_ledger(
    cw: Casework,
    actor: User | None,
    job: LedgerJob,
    target: str | Path | IO[bytes],
    *,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> int:
    """Read the job's cases (``casework.ledger.iter_rows``) straight into the workbook.

    ``cw`` must have a session of its own: the rows are read chunk by chunk, each in a
    short transaction. Auditing is the caller's (after the file was made).
    """
    summary = Summary()
    rows = iter_rows(cw, actor, job, summary=summary, progress=progress, chunk=chunk)
    with bulk_gc():
        return write_ledger(target, job, rows, summary)
