"""The figures the bureau is judged by (``casework.figures``) as one worksheet: a sheet of
the report workbooks, or a workbook of its own (``baoxue report kpi -o``).

Headers are Chinese or English by the reader's language (``casework.figures.WORDS``);
step names come from the gettext catalog.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import xlsxwriter

from casework.figures import Figures, bucket_label, word
from casework.i18n import _
from casework.labels import STATE_LABELS
from casework.verification.categories import label as disposition_label


def _level(level: str, lang: str) -> str:
    return _(STATE_LABELS[level]).render(lang) if level in STATE_LABELS else level


def write_sheet(wb: Any, fig: Figures, lang: str, local_period: str, generated: str) -> None:
    """Add the figures' sheet to an open XlsxWriter workbook."""
    big = wb.add_format({"bold": True, "font_size": 14})
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                          "align": "center", "valign": "vcenter"})
    cell = wb.add_format({"border": 1})
    share = wb.add_format({"border": 1, "num_format": "0%"})
    decimal = wb.add_format({"border": 1, "num_format": "0.0"})
    ws = wb.add_worksheet(word("sheet", lang))
    ws.set_column(0, 0, 44)
    ws.set_column(1, 4, 14)
    ws.write_string(0, 0, word("title", lang), big)
    for r, (key, value) in enumerate((("scope", fig.scope), ("period", local_period),
                                      ("generated", generated)), start=1):
        ws.write_string(r, 0, word(key, lang), bold)
        ws.write_string(r, 1, value)
    row = 5

    def header(*keys: str) -> None:
        nonlocal row
        for c, key in enumerate(keys):
            ws.write_string(row, c, word(key, lang) if key else "", head)
        row += 1

    def line(label: str, *values: float | None, fmts: tuple[Any, ...] = ()) -> None:
        nonlocal row
        ws.write_string(row, 0, label, cell)
        for c, value in enumerate(values, start=1):
            fmt = fmts[c - 1] if c - 1 < len(fmts) else cell
            if value is None:
                ws.write_blank(row, c, None, fmt)
            else:
                ws.write_number(row, c, value, fmt)
        row += 1

    for key, dist in (("delay", fig.reporting_delay), ("to_return", fig.to_return),
                      ("to_close", fig.to_close)):
        ws.write_string(row, 0, word(key, lang), bold)
        row += 1
        header("days", "cases")
        for code, n in dist.buckets:
            line(bucket_label(code).render(lang), n)
        if key == "delay":
            line(word("unknown", lang), dist.unknown)
        line(word("median", lang), dist.median, fmts=(decimal,))
        row += 1

    ws.write_string(row, 0, word("deadlines", lang), bold)
    row += 1
    header("step", "met", "missed", "share")
    for s in (*fig.deadlines, fig.deadlines_total()):
        label = word("all_steps", lang) if s.level == "*" else _level(s.level, lang)
        line(label, s.met, s.missed, s.share, fmts=(cell, cell, share))
    row += 1

    ws.write_string(row, 0, word("yield", lang), bold)
    row += 1
    header("step", "worked", "returned", "share")
    for y in fig.yields:
        line(_level(y.level, lang), y.worked, y.returned, y.share, fmts=(cell, cell, share))
    row += 1

    ws.write_string(row, 0, word("redropout", lang), bold)
    row += 1
    line(word("returns", lang), fig.redropout.returns)
    header("", "judged", "again", "share")
    for months, judged, again in fig.redropout.within:
        line(word("within", lang).format(months=months), judged, again,
             again / judged if judged else None, fmts=(cell, cell, share))
    row += 1

    c = fig.caseload
    ws.write_string(row, 0, word("caseload", lang), bold)
    row += 1
    loads: tuple[tuple[str, float | None, Any], ...] = (
        ("load_cases", c.cases, cell), ("workers", c.workers, cell),
        ("unassigned", c.unassigned, cell), ("mean", c.mean, decimal),
        ("load_median", c.median, decimal), ("max", c.max, cell))
    for name_key, amount, fmt in loads:
        line(word(name_key, lang), amount, fmts=(fmt,))
    if c.top:
        header("person", "load_cases")
        for name, n in c.top:
            line(name, n)

    if fig.verification:
        row += 1
        ws.write_string(row, 0, word("verification", lang), bold)
        row += 1
        header("round", "due_on", "total", "disposed", "reviewed")
        for v in fig.verification:
            ws.write_string(row, 0, v.name, cell)
            ws.write_string(row, 1, v.due_on.isoformat() if v.due_on else "", cell)
            for col_, n in enumerate((v.total, v.disposed, v.reviewed), start=2):
                ws.write_number(row, col_, n, cell)
            row += 1
            # the dispositions given, each under the round's "given a disposition"
            for code, n in v.by_disposition:
                ws.write_string(row, 0, "  " + disposition_label(code).render(lang), cell)
                ws.write_number(row, 3, n, cell)
                row += 1


def write_workbook(fig: Figures, lang: str, local_period: str, generated: str) -> bytes:
    """The figures alone, as a workbook."""
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_numbers": False, "strings_to_urls": False})
    write_sheet(wb, fig, lang, local_period, generated)
    wb.close()
    return out.getvalue()
