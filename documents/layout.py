"""Form templates: TOML files in ``templates/`` that lay out each official form once, for
both the DOCX and the PDF renderer.

A template is what an office could edit without touching code: the form's wording, its
grid (widths, merged cells, shaded labels) and ``{placeholders}`` filled from the case.
Blocks, in order::

    [[block]]  type = "title"   text = "…"                 # centred, large
    [[block]]  type = "text"    text = "…"  align = "left|center|right"  indent = true
    [[block]]  type = "space"                                # a blank line
    [[block]]  type = "cut"     text = "（沿此线剪开）"       # the stub's cut line (表5)
    [[block]]  type = "table"   widths = [1, 2, …]           # relative column widths
               [[block.section]]  label = "学生信息"        # optional: a shaded cell down
                                  rows = [ … ]              #   the first column, spanning
                                                            #   every row of the section
A row is a list of cells; a cell is a string (a value) or a table::

    { label = "学生姓名" }                 # a shaded form label
    { text = "{name}", span = 3 }         # a value spanning three columns
    { text = "…", rows = 2, align = "left" }

A row may instead repeat over a list from the case::

    { each = "visits", min = 5, height = 2.5, rows = [ [ "{item.ordinal}", { text = "{item.record}", span = 5 } ] ] }

``height`` (centimetres, on a section or a repeat) is the least height of its rows, as the
paper form leaves room to write by hand; a table's ``widths`` are in centimetres of the
form's 17 cm text width (or any unit: they are scaled to the page).

Inside it ``{item.x}`` is the item's field; rows beyond the list (up to ``min``) show the
row's fixed text with empty values, as on the printed form. A placeholder the case does
not provide is an error at render time (a template mistake), except inside the blank rows
of a repeat. Rows are checked to fill the table's width exactly.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


class TemplateError(ValueError):
    """A template that cannot be laid out; the message names the template and the place."""


@dataclass(frozen=True)
class Cell:
    text: str
    col: int
    colspan: int = 1
    rowspan: int = 1
    label: bool = False
    align: str = "center"


@dataclass(frozen=True)
class Table:
    widths: tuple[float, ...]
    rows: tuple[tuple[Cell, ...], ...]  # each row's cells in order, covered positions left out
    heights: tuple[float | None, ...] = ()  # each row's least height in cm, None: as its text needs


@dataclass(frozen=True)
class Paragraph:
    kind: str  # title | text | space | cut
    text: str = ""
    align: str = "left"
    indent: bool = False
    bold: bool = False


Block = Table | Paragraph


@dataclass(frozen=True)
class Document:
    name: str
    title: str
    blocks: tuple[Block, ...]


@lru_cache(maxsize=32)
def load_template(name: str) -> dict[str, Any]:
    path = TEMPLATES / f"{name}.toml"
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise TemplateError(f"template {name}: {err}") from err


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.toml"))


def _fill(text: str, values: Mapping[str, Any], where: str, *, lenient: bool = False) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in values:
            value = values[key]
            return "" if value is None else str(value)
        if lenient:
            return ""
        raise TemplateError(f"{where}: no value for {{{key}}}")

    return _PLACEHOLDER.sub(one, text)


def layout(name: str, values: Mapping[str, Any], lists: Mapping[str, Sequence[Mapping[str, Any]]]) -> Document:
    """Fill template ``name`` with ``values`` (``{key}``) and ``lists`` (repeats)."""
    spec = load_template(name)
    blocks: list[Block] = []
    for i, block in enumerate(spec.get("block", [])):
        where = f"template {name}, block {i + 1}"
        kind = block.get("type")
        if kind == "table":
            blocks.append(_table(block, values, lists, where))
        elif kind in ("title", "text", "space", "cut"):
            blocks.append(
                Paragraph(
                    kind=kind,
                    text=_fill(block.get("text", ""), values, where),
                    align=block.get("align", "center" if kind in ("title", "cut") else "left"),
                    indent=bool(block.get("indent", False)),
                    bold=bool(block.get("bold", kind == "title")),
                )
            )
        else:
            raise TemplateError(f"{where}: unknown block type {kind!r}")
    title = _fill(spec.get("title", name), values, f"template {name}, title")
    return Document(name=name, title=title, blocks=tuple(blocks))


def _table(
    block: Mapping[str, Any],
    values: Mapping[str, Any],
    lists: Mapping[str, Sequence[Mapping[str, Any]]],
    where: str,
) -> Table:
    widths = tuple(float(w) for w in block.get("widths", ()))
    if not widths:
        raise TemplateError(f"{where}: a table needs widths")
    ncols = len(widths)
    # expand sections and repeats into (label of the section or None, cells) rows first
    expanded: list[tuple[str | None, int, list[tuple[Any, Mapping[str, Any], bool]]]] = []
    heights: list[float | None] = []
    for s, section in enumerate(block.get("section", [])):
        label = section.get("label")
        rows: list[list[tuple[Any, Mapping[str, Any], bool]]] = []
        least = section.get("height")
        for row in section.get("rows", []):
            if isinstance(row, dict) and "each" in row:
                items = list(lists.get(row["each"], ()))
                count = max(len(items), int(row.get("min", 0)))
                for n in range(count):
                    item = items[n] if n < len(items) else {}
                    scope: Mapping[str, Any] = {**values, **{f"item.{k}": v for k, v in item.items()},
                             "item.n": n + 1, "item.ordinal": ordinal(n + 1)}
                    for sub in row.get("rows", []):
                        rows.append([(c, scope, n >= len(items)) for c in sub])
                        heights.append(row.get("height", least))
            elif isinstance(row, list):
                rows.append([(c, values, False) for c in row])
                heights.append(least)
            else:
                raise TemplateError(f"{where}, section {s + 1}: a row is a list or a repeat")
        for r, cells in enumerate(rows):
            expanded.append((label if r == 0 else None, len(rows) if r == 0 else 0, cells))
    # place the cells on the grid, as HTML tables do: skip positions covered from above
    covered: dict[tuple[int, int], bool] = {}
    out: list[tuple[Cell, ...]] = []
    for r, (section_label, section_rows, cells) in enumerate(expanded):
        placed: list[Cell] = []
        c = 0
        if section_label is not None:
            placed.append(Cell(section_label, 0, 1, section_rows, label=True))
            for k in range(section_rows):
                covered[(r + k, 0)] = True
        for spec, scope, blank in cells:
            while covered.get((r, c)):
                c += 1
            if isinstance(spec, str):
                spec = {"text": spec}
            text = spec.get("label", spec.get("text", ""))
            filled = _fill(str(text), scope, f"{where}, row {r + 1}", lenient=blank)
            span = int(spec.get("span", 1))
            down = int(spec.get("rows", 1))
            cell = Cell(filled, c, span, down, label="label" in spec,
                        align=spec.get("align", "center" if "label" in spec else "left"))
            placed.append(cell)
            for dr in range(down):
                for dc in range(span):
                    covered[(r + dr, c + dc)] = True
            c += span
        while covered.get((r, c)):
            c += 1
        used = sum(1 for k in range(ncols) if covered.get((r, k)))
        if c != ncols or used != ncols:
            raise TemplateError(
                f"{where}, row {r + 1}: the cells fill {used} of {ncols} columns"
            )
        out.append(tuple(placed))
    return Table(widths=widths, rows=tuple(out),
                 heights=tuple(None if h is None else float(h) for h in heights))


_DIGITS = "零一二三四五六七八九十"


def chinese_number(n: int) -> str:
    """1–99 in Chinese numerals (第一次 … 第十二次)."""
    if n <= 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return (_DIGITS[tens] if tens > 1 else "") + "十" + (_DIGITS[ones] if ones else "")


def ordinal(n: int) -> str:
    return f"第{chinese_number(n)}次"
