"""The periodic report as a small workbook: the figures, a table per unit, the cases.

Headers are Chinese or English by the reader's language (``casework.reports.WORDS``);
the code labels in the cells come from the gettext catalog.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO

import xlsxwriter

from casework import codes
from casework.i18n import _
from casework.labels import STATE_LABELS, grade_text
from casework.reports import ReportData, word
from documents import figures_xlsx

DATE_FORMAT = "yyyy-mm-dd"


def title(data: ReportData, lang: str) -> str:
    return word({"month": "month_title", "quarter": "quarter_title"}.get(data.kind, "range_title"), lang)


def filename(data: ReportData, lang: str) -> str:
    return f"{title(data, lang)}_{data.period.code}.xlsx".replace(" ", "_").replace(":", "")


def period_text(data: ReportData, lang: str) -> str:
    if data.as_of is not None:  # the period is still running: its figures stop on that day
        return (f"{data.period.start.isoformat()} – {data.as_of.isoformat()}"
                f"（{word('as_of', lang)} {data.as_of.isoformat()}）")
    return f"{data.period.start.isoformat()} – {data.period.end.isoformat()}"


def write_report(data: ReportData, lang: str) -> bytes:
    out = BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_numbers": False, "strings_to_urls": False})
    bold = wb.add_format({"bold": True})
    big = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                          "align": "center", "valign": "vcenter"})
    cell = wb.add_format({"border": 1})
    day = wb.add_format({"border": 1, "num_format": DATE_FORMAT, "align": "left"})

    ws = wb.add_worksheet(word("summary", lang))
    ws.set_column(0, 0, 40)
    ws.set_column(1, 1, 12)
    ws.write_string(0, 0, title(data, lang), big)
    ws.write_string(1, 0, word("scope", lang), bold)
    ws.write_string(1, 1, data.scope)
    ws.write_string(2, 0, word("period", lang), bold)
    ws.write_string(2, 1, period_text(data, lang))
    ws.write_string(3, 0, word("generated", lang), bold)
    ws.write_string(3, 1, f"{data.generated_at:%Y-%m-%d %H:%M}")
    row = 5
    ws.write_string(row, 0, word("figure", lang), head)
    ws.write_string(row, 1, word("count", lang), head)
    for key, value in (
        ("open_start", data.open_start), ("new", data.new), ("returned", data.returned),
        ("closed", data.closed), ("placed", data.placed), ("visits", data.visits),
        ("open_end", data.open_end),
    ):
        row += 1
        ws.write_string(row, 0, word(key, lang), cell)
        ws.write_number(row, 1, value, cell)
    for key, counter, kind in (
        ("by_state", data.by_state_end, "state"),
        ("by_reason", data.by_reason, "reason"),
        ("by_key_group", data.by_key_group, "key_group"),
    ):
        row += 2
        ws.write_string(row, 0, word(key, lang), head)
        ws.write_string(row, 1, word("count", lang), head)
        for code, n in counter.most_common():
            row += 1
            label = (_(STATE_LABELS[code]).render(lang) if code in STATE_LABELS else code) \
                if kind == "state" else codes.label(kind, code).render(lang)
            ws.write_string(row, 0, label, cell)
            ws.write_number(row, 1, n, cell)

    ws = wb.add_worksheet(word("units", lang))
    keys: tuple[str, ...] = ("unit", "new", "returned", "closed", "placed", "visits", "open_end")
    for c, key in enumerate(keys):
        ws.set_column(c, c, 22 if c == 0 else 14)
        ws.write_string(0, c, word(key, lang), head)
    ws.set_row(0, 32)
    ws.freeze_panes(1, 1)
    for r, unit in enumerate(data.units, start=1):
        ws.write_string(r, 0, unit.name, cell)
        for c, value in enumerate(
            (unit.new, unit.returned, unit.closed, unit.placed, unit.visits, unit.open_end), start=1
        ):
            ws.write_number(r, c, value, cell)

    ws = wb.add_worksheet(word("cases", lang))
    keys = ("case", "name", "school", "class", "village", "reported_on", "state_end",
            "returned_on", "visits_in_period")
    widths = (9, 10, 16, 14, 12, 12, 18, 12, 10)
    for c, (key, width) in enumerate(zip(keys, widths, strict=True)):
        ws.set_column(c, c, width)
        ws.write_string(0, c, word(key, lang), head)
    ws.set_row(0, 32)
    ws.freeze_panes(1, 2)
    klass = word("class_label", lang)
    for r, line in enumerate(data.cases, start=1):
        ws.write_number(r, 0, line.case_id, cell)
        ws.write_string(r, 1, line.name, cell)
        ws.write_string(r, 2, line.school or word("not_enrolled", lang), cell)
        ws.write_string(r, 3, klass.format(grade=grade_text(line.grade).render(lang), section=line.section)
                        if line.grade else "", cell)
        ws.write_string(r, 4, line.village, cell)
        _date(ws, r, 5, line.reported_on, day, cell)
        ws.write_string(r, 6, _(STATE_LABELS[line.state_end]).render(lang)
                        if line.state_end in STATE_LABELS else line.state_end, cell)
        _date(ws, r, 7, line.returned_on, day, cell)
        ws.write_number(r, 8, line.visits, cell)
    if data.cases:
        ws.autofilter(0, 0, len(data.cases), len(keys) - 1)
    if data.kpi is not None:
        figures_xlsx.write_sheet(wb, data.kpi, lang, period_text(data, lang),
                                 f"{data.generated_at:%Y-%m-%d %H:%M}")
    wb.close()
    return out.getvalue()


def _date(ws: object, r: int, c: int, value: date | None, fmt: object, blank: object) -> None:
    if value is None:
        ws.write_blank(r, c, None, blank)  # type: ignore[attr-defined]
    else:
        ws.write_datetime(r, c, value, fmt)  # type: ignore[attr-defined]
