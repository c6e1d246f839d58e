"""Chinese line breaking (禁则) for the PDF renderer, which otherwise breaks wherever a line
is full and starts lines with "，" or "；".

The rules, as in GB/T 15834 and W3C's "Requirements for Chinese Text Layout": closing
punctuation (，。；：、！？）》」』”’ and the like) never starts a line, opening punctuation
never ends one, and a run of Latin letters or digits (a phone number, a date's year, a case
number) is not split when it fits on a line; a line of fields separated by spaces breaks
at a space near its end rather than inside a field. Where a line would break badly, the
character before the break moves down with it (推入), so no line runs past the margin.
"""

from __future__ import annotations

from collections.abc import Callable

NO_START = frozenset("，。；：、！？）】》」』”’〕〉…—·%‰,.;:!?)]}")
NO_END = frozenset("（【《「『“‘〔〈([{")


def _is_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "-_@/+#")


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` in lines no wider than ``width`` (``measure`` gives a string's width), each
    line of the text's own (``\\n``) broken by the rules above."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        out.extend(_wrap_one(paragraph, width, measure))
    return out


def _wrap_one(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    lines: list[str] = []
    line = ""
    used = 0.0
    for ch in text:
        w = measure(ch)
        if used + w <= width or not line:
            line += ch
            used += w
            continue
        keep, carry = _split(line + ch, len(line))
        if measure(carry) > width:  # a word longer than what is left: split the word
            keep, carry = _split(line + ch, len(line), words=False)
        lines.append(keep)
        line = carry
        used = measure(line)
    lines.append(line)
    return lines


def _split(text: str, at: int, *, words: bool = True) -> tuple[str, str]:
    """Where to break ``text`` (full at ``at``): move the break back while the next line
    would start with closing punctuation, the line would end with opening punctuation, or
    a word would be split; never back to an empty line."""
    if words:
        # a form's line of fields ("学校联系人：…　　填表日期：…") breaks between fields, at
        # the spaces, when one is in the line's last third, not inside the last field
        space = max(text.rfind("\u3000", 0, at), text.rfind(" ", 0, at))
        if space > at * 2 // 3 and not _bad(text, space + 1, True):
            return text[:space + 1], text[space + 1:]
    for rule_words in ((True, False) if words else (False,)):
        cut = at
        while cut > 0 and _bad(text, cut, rule_words):
            cut -= 1
        if cut > 0:
            return text[:cut], text[cut:]
    return text[:at], text[at:]  # nothing better: break where the line is full


def _bad(text: str, cut: int, words: bool) -> bool:
    before, after = text[cut - 1], text[cut] if cut < len(text) else ""
    if after and after in NO_START:
        return True
    if before in NO_END:
        return True
    return words and bool(after) and _is_word(before) and _is_word(after)
