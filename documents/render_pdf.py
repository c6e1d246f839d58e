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
from documents.linebreak import wrap

FONT = "cjk"
LABEL_FILL = (231, 230, 230)
_ALIGN = {"left": "L", "center": "C", "right": "R", "justify": "J"}
PADDING = 1.2
SLACK = 0.3  # mm kept free of our own line breaks, so fpdf2 never breaks a line again


def _lines(pdf: FPDF, text: str, width: float) -> str:
    """The text broken into lines by the Chinese rules (``linebreak``), for fpdf2 to set
    line by line: its own wrapping starts lines with "，" and "；"."""
    return "\n".join(wrap(text, width - SLACK, pdf.get_string_width))


def _paragraph_lines(pdf: FPDF, text: str, width: float) -> str:
    """As ``_lines``, inside multi_cell's own margins on either side."""
    return _lines(pdf, text, width - 2 * pdf.c_margin)


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
        pdf.multi_cell(width, 9, _paragraph_lines(pdf, block.text, width), align="C",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        return
    pdf.set_font(FONT, size=10.5)
    # first line two characters in (Chinese paragraphs): two ideographic spaces
    text = "\u3000\u3000" + block.text if block.indent else block.text
    align = _ALIGN.get(block.align, "L")
    pdf.multi_cell(width, 6.5, _paragraph_lines(pdf, text, width), align="L" if align == "J" else align,
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(pdf: FPDF, block: Table) -> None:
    pdf.set_font(FONT, size=9)
    label = FontFace(fill_color=LABEL_FILL)
    total = sum(block.widths)
    columns = [pdf.epw * w / total for w in block.widths]
    with pdf.table(
        col_widths=block.widths,
        width=pdf.epw,
        first_row_as_headings=False,
        line_height=5,
        text_align="LEFT",
        cell_fill_mode=TableCellFillMode.NONE,
        padding=PADDING,
    ) as table:
        for r, cells in enumerate(block.rows):
            least = block.heights[r] if r < len(block.heights) else None
            row = table.row(min_height=least * 10 if least else None)  # cm → mm
            for spec in cells:
                inner = sum(columns[spec.col:spec.col + spec.colspan]) - 2 * PADDING
                row.cell(
                    _lines(pdf, spec.text, inner),
                    align=_ALIGN.get(spec.align, "L"),
                    colspan=spec.colspan,
                    rowspan=spec.rowspan,
                    style=label if spec.label else None,
                )
    pdf.ln(3)
