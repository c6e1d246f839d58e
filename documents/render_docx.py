"""A laid-out form (``layout.Document``) as an editable Word file (python-docx).

Offices print and stamp these, and sometimes correct them by hand first, so the file is
plain: A4, 宋体 body and 黑体 titles (set as East Asian fonts, which Word uses for Chinese
text), real merged table cells, shaded label cells as on the printed forms.
"""

from __future__ import annotations

from io import BytesIO

from docx import Document as new_document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import _Cell

from documents.layout import Cell, Document, Paragraph, Table

BODY_FONT = "宋体"
TITLE_FONT = "黑体"
LATIN_FONT = "Times New Roman"
LABEL_FILL = "E7E6E6"
PAGE_WIDTH_CM = 21.0
MARGIN_CM = 2.0
_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
}


def _east_asian(run_or_style: object, font: str) -> None:
    element = run_or_style.element  # type: ignore[attr-defined]
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), font)
    # digits and Latin letters in Times New Roman, as official documents set them: narrow
    # enough that a phone number or a date stays on one line of its cell
    for attr in ("w:ascii", "w:hAnsi"):
        fonts.set(qn(attr), LATIN_FONT)


def _shade(cell: _Cell, fill: str) -> None:
    props = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    props.append(shading)


def render_docx(doc: Document) -> bytes:
    word = new_document()
    section = word.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(MARGIN_CM))
    normal = word.styles["Normal"]
    normal.font.size = Pt(10.5)
    normal.font.name = LATIN_FONT
    _east_asian(normal, BODY_FONT)
    word.core_properties.title = doc.title
    word.core_properties.author = "baoxue"
    for block in doc.blocks:
        if isinstance(block, Table):
            _table(word, block)
        else:
            _paragraph(word, block)
    out = BytesIO()
    word.save(out)
    return out.getvalue()


def _paragraph(word: object, block: Paragraph) -> None:
    para = word.add_paragraph()  # type: ignore[attr-defined]
    if block.kind == "space":
        return
    if block.kind == "cut":
        run = para.add_run("- " * 20 + block.text + " -" * 20)
        run.font.color.rgb = RGBColor(0x80, 0x80, 0x80)
        run.font.size = Pt(9)
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return
    run = para.add_run(block.text)
    if block.kind == "title":
        run.font.size = Pt(16)
        run.bold = True
        _east_asian(run, TITLE_FONT)
        para.paragraph_format.space_after = Pt(12)
    else:
        run.bold = block.bold
        _east_asian(run, BODY_FONT)
    para.alignment = _ALIGN.get(block.align, WD_ALIGN_PARAGRAPH.LEFT)
    if block.indent:
        para.paragraph_format.first_line_indent = Pt(21)  # two characters


def _table(word: object, block: Table) -> None:
    ncols = len(block.widths)
    table = word.add_table(rows=len(block.rows), cols=ncols)  # type: ignore[attr-defined]
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    usable = PAGE_WIDTH_CM - 2 * MARGIN_CM
    total = sum(block.widths)
    widths = [Cm(usable * w / total) for w in block.widths]
    # fixed layout with the grid's own widths: LibreOffice sizes columns from w:tblGrid and,
    # left to autofit, squeezed labels and phone numbers to one character a line
    table.autofit = False  # w:tblLayout fixed
    for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths, strict=True):
        col.set(qn("w:w"), str(int(width.twips)))
    for r, row in enumerate(table.rows):
        for i, cell in enumerate(row.cells):
            cell.width = widths[i]
        height = block.heights[r] if r < len(block.heights) else None
        if height:
            # at least this high, as the paper form leaves room to write by hand; a longer
            # record still grows the row rather than being cut off
            row.height = Cm(height)
            row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    for r, cells in enumerate(block.rows):
        for spec in cells:
            _fill(table, r, spec)


def _fill(table: object, r: int, spec: Cell) -> None:
    cell = table.cell(r, spec.col)  # type: ignore[attr-defined]
    if spec.colspan > 1 or spec.rowspan > 1:
        cell = cell.merge(table.cell(r + spec.rowspan - 1, spec.col + spec.colspan - 1))  # type: ignore[attr-defined]
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    lines = spec.text.split("\n")
    para = cell.paragraphs[0]
    for n, line in enumerate(lines):
        if n:
            para = cell.add_paragraph()
        run = para.add_run(line)
        _east_asian(run, BODY_FONT)
        para.alignment = _ALIGN.get(spec.align, WD_ALIGN_PARAGRAPH.LEFT)
    if spec.label:
        _shade(cell, LABEL_FILL)
