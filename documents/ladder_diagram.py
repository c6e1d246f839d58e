"""The ladder of a policy profile drawn as an SVG diagram, generated from the profile.

An officer holds the diagram against the county's document: one box per level (who acts,
how long they have, how many rounds, who is told), the arrows the clock follows when a
level runs out, and the exits open at every step. It is generated from the loaded
:class:`~casework.policy.Policy`, so it cannot drift from what the bot runs.

Run ``baoxue policy diagram NAME -o ladder.svg``; the sandbox page shows the same SVG.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from xml.sax.saxutils import escape

from casework.codes import EVIDENCE_KINDS, OUTCOMES
from casework.i18n import Text, _
from casework.labels import ACTION_LABELS, duration_text, join, label, state_text
from casework.policy import Level, Policy, level_facts

WIDTH = 760
MARGIN = 24
BOX_W = 470
SIDE_X = MARGIN + BOX_W + 36
SIDE_W = WIDTH - SIDE_X - MARGIN
FONT = 14
LINE = 20
PAD = 10
ARROW = 46

# the exits DESIGN §3 opens from any active state
EXIT_STATES = ("returned", "home_teaching", "deferred", "transferred", "closed_other", "paused")


def _char_width(ch: str) -> float:
    # CJK and full-width punctuation take a full em; Latin about half of one
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.56


def text_width(text: str, size: int = FONT) -> float:
    return sum(_char_width(c) for c in text) * size


def wrap(text: str, width: float, size: int = FONT) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels, at spaces for Latin text
    and anywhere for CJK, never starting a line with closing punctuation."""
    lines: list[str] = []
    line = ""
    for word in _tokens(text):
        candidate = line + word
        if line and text_width(candidate.rstrip(), size) > width:
            if word[0] in _NO_LINE_START and line:
                line, word = line[:-1], line[-1] + word
            lines.append(line.rstrip())
            line = word.lstrip()
        else:
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


_NO_LINE_START = "，。、；：？！）》」』】,.;:?!)"


def _tokens(text: str) -> list[str]:
    """Latin words keep their trailing space; each CJK character is a token of its own."""
    out: list[str] = []
    word = ""
    for ch in text:
        if _char_width(ch) == 1.0:
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
            if ch == " ":
                out.append(word)
                word = ""
    if word:
        out.append(word)
    return out


@dataclass
class _Box:
    x: float
    y: float
    w: float
    title: str
    lines: list[str]
    style: str = "level"

    @property
    def h(self) -> float:
        return PAD * 2 + LINE * (1 + len(self.lines))


def _arrow_label(level: Level) -> Text:
    if level.rounds is not None:
        return _("rounds used up or deadline passed, child not back")
    return _("deadline passed, child not back")


def ladder_svg(policy: Policy, lang: str) -> str:
    """The profile's ladder as a standalone SVG document in ``lang``."""
    inner = BOX_W - 2 * PAD
    title = policy.title_en if lang.lower().startswith("en") else policy.title_zh
    heading = _("Ladder of {name}: {title} (seed {seed})", name=policy.name, title=title,
                seed=policy.seed).render(lang)
    y: float = MARGIN + 8
    parts: list[str] = []
    for line in wrap(heading, WIDTH - 2 * MARGIN, FONT + 2):
        y += LINE + 2
        parts.append(_text(MARGIN, y, line, size=FONT + 2, weight="bold"))
    y += 14

    boxes: list[_Box] = []
    arrows: list[tuple[float, float, str]] = []
    if policy.absence:
        lines: list[str] = []
        for th in policy.absence:
            lines += wrap(
                _("after {days} of unexcused absence: {action}",
                  days=duration_text(th.school_days, "school_days"),
                  action=label(ACTION_LABELS, th.action)).render(lang),
                inner,
            )
        box = _Box(MARGIN, y, BOX_W, _("Absence").render(lang), lines, style="start")
        boxes.append(box)
        y += box.h
        arrows.append((y, y + ARROW, _("the case opens").render(lang)))
        y += ARROW
    for i, level in enumerate(policy.ladder, start=1):
        lines = []
        for part in level_facts(level):
            lines += wrap(part.render(lang), inner)
        box = _Box(MARGIN, y, BOX_W, f"{i}. {state_text(level.state).render(lang)}", lines)
        boxes.append(box)
        y += box.h
        if policy.next_level(level.state) is not None:
            arrows.append((y, y + ARROW, _arrow_label(level).render(lang)))
            y += ARROW
    bottom = y

    exit_lines: list[str] = []
    for state in EXIT_STATES:
        exit_lines += wrap("· " + state_text(state).render(lang), SIDE_W - 2 * PAD)
    exit_lines.append("")
    exit_lines += wrap(
        _("Closing a case (销号) takes evidence and another person's review:").render(lang),
        SIDE_W - 2 * PAD,
    )
    for outcome in policy.outcomes.named():
        rule = policy.outcomes.rule(outcome)
        exit_lines += wrap(
            _("· {outcome}: {evidence}", outcome=label(OUTCOMES, outcome),
              evidence=join(label(EVIDENCE_KINDS, k) for k in rule.evidence)).render(lang),
            SIDE_W - 2 * PAD,
        )
    side_y = boxes[1].y if len(boxes) > 1 else boxes[0].y
    side = _Box(SIDE_X, side_y, SIDE_W, _("From any open step").render(lang), exit_lines,
                style="exit")
    bottom = max(bottom, side.y + side.h)

    for box in boxes + [side]:
        parts.append(_box(box))
    cx = MARGIN + BOX_W / 2
    for top, end, text in arrows:
        parts.append(
            f'<line x1="{cx}" y1="{top + 2}" x2="{cx}" y2="{end - 4}" stroke="#555" '
            f'stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        for j, line in enumerate(wrap(text, BOX_W / 2 - 12, FONT - 2)):
            parts.append(_text(cx + 10, top + 18 + j * (LINE - 4), line, size=FONT - 2,
                               fill="#444"))
    height = bottom + MARGIN
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="WenQuanYi Micro Hei, Noto Sans CJK SC, '
        f'Microsoft YaHei, sans-serif" font-size="{FONT}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs>'
        f'<rect width="{WIDTH}" height="{height:.0f}" fill="#fff"/>'
        + "".join(parts)
        + "</svg>\n"
    )


_STYLES = {
    "start": ("#f3f6fa", "#7a8ca3", "4 3"),
    "level": ("#eef5ee", "#4a7a4a", ""),
    "exit": ("#fbf6ea", "#a8894a", ""),
}


def _box(box: _Box) -> str:
    fill, stroke, dash = _STYLES[box.style]
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    out = [
        f'<rect x="{box.x}" y="{box.y:.0f}" width="{box.w}" height="{box.h:.0f}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash_attr}/>',
        _text(box.x + PAD, box.y + PAD + LINE - 5, box.title, weight="bold"),
    ]
    for i, line in enumerate(box.lines, start=1):
        out.append(_text(box.x + PAD, box.y + PAD + LINE * (i + 1) - 5, line))
    return "".join(out)


def _text(x: float, y: float, text: str, *, size: int = FONT, weight: str = "normal",
          fill: str = "#222") -> str:
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" font-weight="{weight}" '
        f'fill="{fill}">{escape(text)}</text>'
    )
