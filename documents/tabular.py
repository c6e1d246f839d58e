"""Reading a roster file: XLSX (openpyxl, read-only) or CSV, into a header and rows.

Register systems export XLSX; people also save CSV from Excel, which on Chinese Windows
is GB18030 (GBK) rather than UTF-8, so both encodings are tried. The header is the row,
among the first ten, that names the most known columns (a title row often comes first).

An upload is read in a child process (:func:`parse_in_process`), never on the event loop
nor in the bot's own memory: a 57 KB XLSX once froze the whole bot for 18 s, and a
223 KB one took 86 s and 1.86 GB. The child gets hard limits (:class:`UploadLimits`:
rows, columns, filled cells, the unpacked size of the XLSX zip and of its shared-strings
part, checked before openpyxl parses anything; wall time and address space, enforced by
the parent's timeout and ``RLIMIT_AS``). Each refusal names the limit it hit.
"""

from __future__ import annotations

import csv
import io
import logging
import multiprocessing
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from casework.errors import ValidationError
from casework.i18n import _
from casework.outbox import text_from_json, text_to_json
from casework.roster_import import find_header_row

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = (".xlsx", ".csv")
MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """Hard limits on reading one uploaded roster (settings ``ROSTER_*``)."""

    @classmethod
    def from_settings(cls, settings: Any) -> UploadLimits:
        return cls(
            rows=settings.roster_max_rows,
            columns=settings.roster_max_columns,
            cells=settings.roster_max_cells,
            uncompressed_bytes=settings.roster_max_unpacked_mb * MB,
            shared_strings_bytes=settings.roster_max_shared_strings_mb * MB,
            seconds=settings.roster_parse_seconds,
            memory_bytes=settings.roster_parse_memory_mb * MB,
        )

    rows: int = 5000
    columns: int = 40
    cells: int = 200_000
    uncompressed_bytes: int = 20 * MB
    shared_strings_bytes: int = 8 * MB
    seconds: float = 30.0
    memory_bytes: int = 512 * MB


@dataclass(frozen=True)
class Sheet:
    headers: list[Any]
    rows: list[tuple[int, Sequence[Any]]]  # (row number as the file shows it, cells)
    # rows that could not be read at all: (row number, longest field allowed) — a CSV
    # field over the csv module's limit
    bad_rows: list[tuple[int, int]] = field(default_factory=list)


def is_roster_name(filename: str | None) -> bool:
    return bool(filename) and str(filename).lower().endswith(EXTENSIONS)


def read_table(filename: str, data: bytes, limits: UploadLimits | None = None) -> Sheet:
    """Header and rows of a roster file; a file we cannot read is a ValidationError."""
    limits = limits or UploadLimits()
    if len(data) > MAX_BYTES:
        raise ValidationError("file", _("The file is too large (at most 10 MB)."))
    name = filename.lower()
    bad: list[tuple[int, int]] = []
    if name.endswith(".xlsx"):
        raw = _xlsx_rows(data, limits)
    elif name.endswith(".csv"):
        raw = _csv_rows(data, limits, bad)
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
    if len(rows) > limits.rows:
        raise _too_many_rows(limits)
    return Sheet(headers=headers, rows=rows, bad_rows=[b for b in bad if b[0] > raw[header_at][0]])


def _too_many_rows(limits: UploadLimits) -> ValidationError:
    return ValidationError(
        "file", _("A roster can have at most {max} rows; split the file.", max=limits.rows)
    )


class _Counter:
    """Rows, columns and filled cells as they are read; refuses past a limit."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.rows = 0
        self.cells = 0

    def take(self, cells: Sequence[Any]) -> list[Any] | None:
        """The row's cells up to the last filled one; None for an empty row (not kept: a
        sheet can claim a million of them)."""
        filled = [i for i, c in enumerate(cells) if c is not None and c != ""]
        if not filled:
            return None
        if filled[-1] >= self.limits.columns:
            raise ValidationError("file", _(
                "A roster can have at most {max} columns; delete the columns that are not needed.",
                max=self.limits.columns))
        self.rows += 1
        self.cells += len(filled)
        # a title row and the header come before the rows counted against the limit
        if self.rows > self.limits.rows + 10:
            raise _too_many_rows(self.limits)
        if self.cells > self.limits.cells:
            raise ValidationError("file", _(
                "A roster can have at most {max} filled cells; split the file.",
                max=self.limits.cells))
        return list(cells[: filled[-1] + 1])


def _check_zip(data: bytes, limits: UploadLimits) -> None:
    """Refuse an XLSX that unpacks too large before openpyxl reads a byte of it (a zip
    declares each member's size; reading stops at that size, so it cannot lie upwards)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ValidationError("file", _("This is not a readable XLSX file.")) from None
    if sum(m.file_size for m in members) > limits.uncompressed_bytes:
        raise ValidationError("file", _(
            "This XLSX file unpacks to more than {max} MB; save only the roster sheet and send it again.",
            max=limits.uncompressed_bytes // MB))
    strings = sum(m.file_size for m in members if m.filename.lower().endswith("sharedstrings.xml"))
    if strings > limits.shared_strings_bytes:
        raise ValidationError("file", _(
            "The text in this XLSX file is larger than {max} MB; save only the roster sheet and send it again.",
            max=limits.shared_strings_bytes // MB))


def _xlsx_rows(data: bytes, limits: UploadLimits) -> list[tuple[int, Sequence[Any]]]:
    from openpyxl import load_workbook

    _check_zip(data, limits)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValidationError("file", _("This is not a readable XLSX file.")) from None
    try:
        ws = wb.worksheets[0]
        # the declared dimension can claim 16,384 columns: never pad rows out to it
        ws.reset_dimensions()
        counter = _Counter(limits)
        out: list[tuple[int, Sequence[Any]]] = []
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = counter.take(row)
            if cells is not None:
                out.append((number, cells))
        return out
    finally:
        wb.close()


def _csv_rows(data: bytes, limits: UploadLimits, bad: list[tuple[int, int]]) -> list[tuple[int, Sequence[Any]]]:
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
    counter = _Counter(limits)
    out: list[tuple[int, Sequence[Any]]] = []
    number = 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            if "field limit" not in str(err):
                raise ValidationError("file", _("This is not a readable CSV file.")) from None
            # the row is lost, not the file: it is listed with why
            bad.append((number, csv.field_size_limit()))
            continue
        cells = counter.take(row)
        if cells is not None:
            out.append((number, cells))
    return out


# --- in a child process, with hard limits -------------------------------------------------

Reader = Callable[[str, bytes, UploadLimits], Sheet]


def _child(conn: Any, filename: str, data: bytes, limits: UploadLimits, reader: Reader) -> None:
    import resource

    try:
        cpu = int(limits.seconds) + 2  # a backstop to the parent's timeout
        for which, value in ((resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_CPU, cpu)):
            _soft, hard = resource.getrlimit(which)
            # never above a hard limit the deployment already set (raising it is refused)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
        result: tuple[str, Any] = ("ok", reader(filename, data, limits))
    except ValidationError as err:
        result = ("refused", text_to_json(err.text))
    except MemoryError:
        result = ("memory", None)
    except Exception:  # whatever a malformed file makes the reader raise: a refusal, not a crash
        result = ("refused", text_to_json(_("This file could not be read as a roster (XLSX or CSV).")))
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", None))
    finally:
        conn.close()


def _memory_refusal(limits: UploadLimits) -> ValidationError:
    return ValidationError("file", _(
        "Reading this file needs more than {max} MB of memory; split it or save it again as a "
        "plain XLSX or CSV.", max=limits.memory_bytes // MB))


_CONTEXT: Any = None


def _context() -> Any:
    """forkserver: a small, single-threaded parent for each child (forking the bot itself,
    with its threads and connections, is not safe), with the reader preloaded."""
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["documents.tabular", "openpyxl"])
        _CONTEXT = ctx
    return _CONTEXT


def parse_in_process(
    filename: str, data: bytes, limits: UploadLimits | None = None, *, reader: Reader = read_table
) -> Sheet:
    """``reader(filename, data, limits)`` in a child process under the limits; blocking, so
    call it from a worker thread. A refusal is a ValidationError naming the limit."""
    limits = limits or UploadLimits()
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, filename, data, limits, reader), daemon=True)
    try:
        proc.start()
    except OSError:  # no child could be started (a refused fork, a broken forkserver)
        log.exception("could not start the roster reader")
        receive.close()
        send.close()
        raise ValidationError("file", _("This file could not be read as a roster (XLSX or CSV).")) from None
    send.close()
    try:
        if not receive.poll(limits.seconds):
            raise ValidationError("file", _(
                "Reading this file took longer than {max} seconds; split it or save it again as a "
                "plain XLSX or CSV.", max=_number(limits.seconds)))
        try:
            kind, payload = receive.recv()
        except EOFError:  # the child died: out of memory or CPU time
            raise _memory_refusal(limits) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
    if kind == "refused":
        raise ValidationError("file", text_from_json(payload))
    if kind == "memory":
        raise _memory_refusal(limits)
    sheet: Sheet = payload
    return sheet


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
