"""A laid-out form (``layout.Document``) as a PDF to read on a phone (fpdf2).

The CJK font (``fonts.cjk_font``) is embedded and subset, so the text renders on any
device and can be searched and copied (fpdf2 writes the ToUnicode map). Tables use
fpdf2's own row/column spans and break across pages between rows.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import TableCellFillMode
from fpdf.fonts import FontFace

from documents.fonts import cjk_font
from documents.layout import Document, Paragraph, Table

FONT = "cjk"
LABEL_FILL = (231, 230, 230)
_ALIGN = {"left": "L", "center": "C", "right": "R", "justify": "J"}


def render_pdf(doc: Document) -> bytes:
    font = cjk_font()
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(FONT, "", str(font.path), collection_font_number=font.index)
    pdf.set_title(doc.title)
    pdf.set_creator("baoxue")
    pdf.set_lang("zh-CN")
    pdf.add_page()
    for block in doc.blocks:
        if isinstance(block, Table):
            _table(pdf, block)
        else:
            _paragraph(pdf, block)
    return bytes(pdf.output())


def _paragraph(pdf: FPDF, block: Paragraph) -> None:
    width = pdf.epw
    if block.kind == "space":
        pdf.ln(6)
        return
    if block.kind == "cut":
        pdf.ln(4)
        pdf.set_font(FONT, size=8)
        pdf.set_text_color(128)
        pdf.set_dash_pattern(dash=2, gap=2)
        y = pdf.get_y() + 2
        pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
        pdf.set_dash_pattern()
        pdf.set_y(y + 1)
        pdf.cell(width, 5, block.text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
        pdf.ln(4)
        return
    if block.kind == "title":
        pdf.set_font(FONT, size=16)
        pdf.multi_cell(width, 9, block.text, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        return
    pdf.set_font(FONT, size=10.5)
    if block.indent:
        # first line two characters in (Chinese paragraphs); write() wraps to the margin
        pdf.set_x(pdf.l_margin + 2 * pdf.get_string_width("中"))
        pdf.write(6.5, block.text)
        pdf.ln(6.5)
    else:
        pdf.multi_cell(width, 6.5, block.text, align=_ALIGN.get(block.align, "L"),
                       new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(pdf: FPDF, block: Table) -> None:
    pdf.set_font(FONT, size=9)
    label = FontFace(fill_color=LABEL_FILL)
    with pdf.table(
        col_widths=block.widths,
        width=pdf.epw,
        first_row_as_headings=False,
        line_height=5,
        text_align="LEFT",
        cell_fill_mode=TableCellFillMode.NONE,
        padding=1.2,
    ) as table:
        for cells in block.rows:
            row = table.row()
            for spec in cells:
                row.cell(
                    spec.text,
                    align=_ALIGN.get(spec.align, "L"),
                    colspan=spec.colspan,
                    rowspan=spec.rowspan,
                    style=label if spec.label else None,
                )
    pdf.ln(3)
