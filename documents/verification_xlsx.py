"""The verification list written back (``casework.verification.export``) as XLSX or CSV:
the province's columns, then the disposition columns. Write-only, row by row, so a list
of tens of thousands of children takes little memory."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import replace
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from documents.tabular import MB, UploadLimits

LIST_ROWS = 50_000  # casework.verification.importing.MAX_ROWS
LIST_COLUMNS = 20


def list_limits(base: UploadLimits | None = None) -> UploadLimits:
    """The limits on reading a suspect list: a roster's (a class has tens of pupils, the
    settings keep it small) raised to what a county's list from the province may hold
    (tens of thousands of children, a dozen columns)."""
    base = base or UploadLimits()
    return replace(
        base,
        rows=max(base.rows, LIST_ROWS),
        cells=max(base.cells, LIST_ROWS * LIST_COLUMNS),
        uncompressed_bytes=max(base.uncompressed_bytes, 120 * MB),
        shared_strings_bytes=max(base.shared_strings_bytes, 60 * MB),
        seconds=max(base.seconds, 120.0),
        memory_bytes=max(base.memory_bytes, 1024 * MB),
    )


def write_xlsx(headers: list[str], rows: Iterable[list[str | int]], out: BinaryIO, *, title: str) -> int:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "list")
    bold = Font(bold=True)
    head = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    count = 0
    for row in rows:
        sheet.append(row)  # the list's cells as text (an ID number must not become a float); counts as numbers
        count += 1
    book.save(out)
    return count


def write_csv(headers: list[str], rows: Iterable[list[str | int]], out: BinaryIO) -> int:
    """UTF-8 with a BOM, which Excel on Chinese Windows opens correctly."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    out.write(text.getvalue().encode("utf-8-sig"))
    return count
