"""Telegram's length limits, applied to every reply just before it is sent.

A message's text may be at most 4,096 characters, a caption 1,024, the answer to a tapped
button 200; Telegram refuses anything longer, and the user would read nothing. Texts are
measured in UTF-16 code units (an emoji or a rare CJK ideograph outside the BMP counts
twice), which is never less than Telegram's own count.
"""

from __future__ import annotations

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ANSWER = 200
ELLIPSIS = "…"


def units(text: str) -> int:
    """Length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> int:
    """The largest index i such that ``text[:i]`` fits in ``limit`` code units."""
    if units(text) <= limit:
        return len(text)
    total = 0
    for i, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > limit:
            return i
    return len(text)


def shorten(text: str, limit: int) -> str:
    """``text``, or its beginning and an ellipsis when it is longer than ``limit``."""
    if units(text) <= limit:
        return text
    return text[: _cut(text, limit - 1)] + ELLIPSIS


def split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in pieces of at most ``limit`` code units, cut at line ends where possible
    (so a list is not cut in the middle of a line, nor an HTML tag that stays on its line)."""
    pieces: list[str] = []
    while units(text) > limit:
        end = _cut(text, limit)
        newline = text.rfind("\n", 0, end)
        if newline > 0:
            pieces.append(text[:newline])
            text = text[newline + 1 :]
        else:
            pieces.append(text[:end])
            text = text[end:]
    pieces.append(text)
    return [p for p in pieces if p.strip()] or [text]
