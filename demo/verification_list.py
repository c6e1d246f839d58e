"""An invented suspect list (核查名单) as a province sends it, with the mix a real one has.

Everything is invented: names from the demo county's characters, ID numbers with the demo
area code and a correct check digit (or, on purpose, a wrong one). The mix, as in the
lists counties describe: about a third of the ID numbers missing or wrong (those children
are found by name and birth date, or not at all); some of the children are our own pupils
(registered at our schools), most are children registered elsewhere or not at all whose
户籍 is in one of our villages, some name only a township or a place outside the county;
and a few rows name the same child twice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from demo.county import GIVEN, SURNAMES, id_check_digit, invented_id_number

HEADERS = ["序号", "姓名", "身份证号", "性别", "出生日期", "户籍地址", "来源/批次"]


@dataclass(frozen=True)
class Child:
    name: str
    gender: str  # male | female
    birth_date: date
    id_number: str | None
    hukou: str


def _wrong(id_number: str) -> str:
    """The same number with a wrong check digit (a typo the list carries)."""
    right = id_check_digit(id_number[:17])
    wrong = next(d for d in "0123456789X" if d != right)
    return id_number[:17] + wrong


def suspect_list(
    ours: Sequence[Child],
    villages: Sequence[str],
    townships: Sequence[str],
    *,
    size: int,
    today: date,
    seed: int = 14,
    bad_id_share: float = 1 / 3,
    duplicates: int = 0,
    batch: str = "2026年秋季学籍与户籍比对",
) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """(headers, rows numbered as a spreadsheet shows them, from 2): ``ours`` first, then
    invented children up to ``size`` (duplicates included), the ID numbers of about
    ``bad_id_share`` of them missing or wrong."""
    rng = random.Random(seed)
    children: list[Child] = list(ours)
    serial = 40_000
    while len(children) < size - duplicates:
        serial += 1
        female = rng.random() < 0.5
        birth = date(today.year - rng.randint(7, 15), rng.randint(1, 12), rng.randint(1, 28))
        where = rng.random()
        if where < 0.75:
            hukou = f"青松县{rng.choice(villages)}{rng.randint(1, 12)}组"
        elif where < 0.9:
            hukou = f"青松县{rng.choice(townships)}街道{rng.randint(1, 99)}号"
        else:
            hukou = f"外省某市某区{rng.randint(1, 99)}号"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(2))
        children.append(Child(name, "female" if female else "male", birth,
                              invented_id_number(birth, serial, female), hukou))
    rows: list[list[object]] = []
    for i, child in enumerate(children):
        number = child.id_number
        roll = rng.random()
        if number is not None and roll < bad_id_share / 2:
            number = None  # missing
        elif number is not None and roll < bad_id_share:
            number = _wrong(number)
        rows.append([i + 1, child.name, number or "", "女" if child.gender == "female" else "男",
                     child.birth_date.isoformat(), child.hukou, batch])
    for k in range(duplicates):
        source = rows[(k * 7) % len(rows)]
        rows.append([len(rows) + 1, *source[1:]])
    return HEADERS, [(n + 2, row) for n, row in enumerate(rows)]
