"""Reading a roster file: XLSX (openpyxl, read-only) or CSV, into a header and rows.

Register systems export XLSX; people also save CSV from Excel, which on Chinese Windows
is GB18030 (GBK) rather than UTF-8, so both encodings are tried. The header is the row,
among the first ten, that names the most known columns (a title row often comes first).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from casework.errors import ValidationError
from casework.i18n import _
from casework.roster_import import MAX_ROWS, find_header_row

MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = (".xlsx", ".csv")


@dataclass(frozen=True)
class Sheet:
    headers: list[Any]
    rows: list[tuple[int, Sequence[Any]]]  # (row number as the file shows it, cells)


def is_roster_name(filename: str | None) -> bool:
    return bool(filename) and str(filename).lower().endswith(EXTENSIONS)


def read_table(filename: str, data: bytes) -> Sheet:
    """Header and rows of a roster file; a file we cannot read is a ValidationError."""
    if len(data) > MAX_BYTES:
        raise ValidationError("file", _("The file is too large (at most 10 MB)."))
    name = filename.lower()
    if name.endswith(".xlsx"):
        raw = _xlsx_rows(data)
    elif name.endswith(".csv"):
        raw = _csv_rows(data)
    else:
        raise ValidationError("file", _("Send the roster as an XLSX or CSV file."))
    header_at = find_header_row([cells for _n, cells in raw])
    if header_at is None:
        raise ValidationError(
            "file",
            _("I could not find the header row (姓名, 性别, 班级, …) in the first ten rows."),
        )
    headers = list(raw[header_at][1])
    rows = raw[header_at + 1 :]
    if len(rows) > MAX_ROWS:
        raise ValidationError(
            "file", _("A roster can have at most {max} rows; split the file.", max=MAX_ROWS)
        )
    return Sheet(headers=headers, rows=rows)


def _xlsx_rows(data: bytes) -> list[tuple[int, Sequence[Any]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValidationError("file", _("This is not a readable XLSX file.")) from None
    try:
        ws = wb.worksheets[0]
        out: list[tuple[int, Sequence[Any]]] = []
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            out.append((number, list(row)))
            if len(out) > MAX_ROWS + 20:
                break
        return out
    finally:
        wb.close()


def _csv_rows(data: bytes) -> list[tuple[int, Sequence[Any]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValidationError("file", _("The CSV file's text encoding is not UTF-8 or GBK."))
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    return [(n, row) for n, row in enumerate(reader, start=1) if n <= MAX_ROWS + 20]
