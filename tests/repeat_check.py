"""The same thing said twice in answer to one action (issue #12, "no duplicate confirmation
messages"): the harness reads what each tap, typed answer or upload made the bot say in that
chat — the messages it sent, the messages it edited and the tap's toast (answerCallbackQuery)
— and fails a test where two of them, on different messages, say the same: the same text, or
one whole text that is the other's first line (a toast "已保存" and a message "已保存。…"; the
answered prompt edited to "谢谢！…" and a new message "谢谢！…")."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_NOISE = re.compile(r"[\s。．.！!，,：:；;、…]+")


def _norm(text: str) -> str:
    """The words of a text: emoji, spaces and punctuation aside."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Cf", "Mn"))
    return _NOISE.sub("", kept)


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _same(a: str, b: str) -> bool:
    na, nb = _norm(a), _norm(b)
    if not na or not nb:
        return False
    return na == nb or na == _norm(_first_line(b)) or nb == _norm(_first_line(a))


def repeated(toast: str | None, events: Sequence[Any]) -> list[str]:
    """Pairs of things said twice in one action's answer: ``events`` are the bot's sent and
    edited messages in that chat (``ChatEvent``), ``toast`` the tap's answer if any."""
    said: list[tuple[int, str]] = [(e.message_id, e.text or "") for e in events]
    # a message edited twice is one message: its last text is what the reader sees
    last: dict[int, str] = {}
    for mid, text in said:
        last[mid] = text
    items = list(last.items())
    found = []
    for i, (mid, text) in enumerate(items):
        for other_mid, other in items[i + 1:]:
            if other_mid != mid and _same(text, other):
                found.append(f"{text!r} / {other!r}")
        if toast and _same(toast, text):
            found.append(f"toast {toast!r} / {text!r}")
    return found
