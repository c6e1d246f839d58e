"""Who took part in a visit, each person once.

A user's display name often carries their unit ("郝柏玉（上坪村）"); the same person typed
by hand is "郝柏玉". Both are one person: the visit, 表2/表3/表4 and the ledger list them
once, under the recording user's own name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_UNIT = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")


def bare(name: str) -> str:
    """The person's name without a trailing unit in brackets: "郝柏玉（上坪村）" → "郝柏玉"."""
    return _UNIT.sub("", name).strip() or name.strip()


def same_person(a: str, b: str) -> bool:
    """Equal, or one written without the unit the other carries (two namesakes of different
    units stay two people)."""
    a, b = a.strip(), b.strip()
    return a == b or ((bare(a) == a or bare(b) == b) and bare(a) == bare(b))


def distinct(names: Iterable[str], me: str | None = None) -> list[str]:
    """``me`` first (when given), then everyone else once, in the order given."""
    out: list[str] = [me] if me else []
    for name in names:
        name = name.strip()
        if name and not any(same_person(name, seen) for seen in out):
            out.append(name)
    return out
