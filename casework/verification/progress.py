"""How far each unit is with the open rounds: for the digests and the county officer's
/verify. Counted within the reader's scope (``scope.visible_entries``), duplicates left out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from casework.context import Casework
from casework.i18n import Text, _
from casework.labels import CLAUSE_SEPARATOR, day_text, join
from casework.scope import visible_entries
from models.tables import School, Township, User, VerificationEntry, VerificationRound, Village

E = VerificationEntry


@dataclass(frozen=True)
class UnitProgress:
    name: Text
    total: int
    verified: int  # a disposition given (waiting for review or approved)
    approved: int


@dataclass(frozen=True)
class RoundProgress:
    round: VerificationRound
    units: tuple[UnitProgress, ...]

    @property
    def total(self) -> int:
        return sum(u.total for u in self.units)

    @property
    def verified(self) -> int:
        return sum(u.verified for u in self.units)

    @property
    def approved(self) -> int:
        return sum(u.approved for u in self.units)


def progress(cw: Casework, user: User, *, since: date | None = None,
             round_id: int | None = None) -> list[RoundProgress]:
    """Rounds due on or after ``since`` (default: today) with children in ``user``'s scope,
    per unit: schools, villages, then children still with a township or the county."""
    since = since or cw.today()
    query = (
        sa_select(col(E.round_id), col(E.school_id), col(E.village_id), col(E.township_id), col(E.status), func.count())
        .join(VerificationRound, col(VerificationRound.id) == col(E.round_id))
        .where(visible_entries(user), col(E.status) != "duplicate")
        .group_by(col(E.round_id), col(E.school_id), col(E.village_id), col(E.township_id), col(E.status))
    )
    query = query.where(col(VerificationRound.id) == round_id) if round_id is not None else query.where(
        col(VerificationRound.due_on) >= since)
    counts: dict[int, dict[tuple[str, int], list[int]]] = {}
    for rid, school, village, township, status, n in cw.session.execute(query).all():
        key = ("s", school) if school else ("v", village) if village else ("t", township or 0)
        slot = counts.setdefault(rid, {}).setdefault(key, [0, 0, 0])
        slot[0] += int(n)
        slot[1] += int(n) if status in ("proposed", "approved") else 0
        slot[2] += int(n) if status == "approved" else 0
    names = _names(cw, {k for per in counts.values() for k in per})
    out = []
    for rid, per in counts.items():
        rnd = cw.session.get(VerificationRound, rid)
        assert rnd is not None
        units = sorted((UnitProgress(names.get(k, Text("—")), *v) for k, v in per.items()),
                       key=lambda u: (u.verified - u.total, u.name.params.get("name", "")))
        out.append(RoundProgress(rnd, tuple(units)))
    return sorted(out, key=lambda r: (r.round.due_on, r.round.id or 0))


def _names(cw: Casework, keys: set[tuple[str, int]]) -> dict[tuple[str, int], Text]:
    names: dict[tuple[str, int], Text] = {}
    for letter, model in (("s", School), ("v", Village), ("t", Township)):
        ids = [i for k, i in keys if k == letter and i]
        if ids:
            table: Any = model
            for uid, name in cw.session.execute(sa_select(col(table.id), col(table.name)).where(table.id.in_(ids))).all():
                names[(letter, uid)] = Text("{name}", {"name": name})
    if ("t", 0) in keys:
        names[("t", 0)] = _("county, to assign")
    return names


MAX_UNITS = 6


def progress_lines(rounds: Sequence[RoundProgress]) -> list[Text]:
    """One line per round (a digest's): verified of total, approved, and the units least done."""
    lines: list[Text] = []
    for rp in rounds:
        units = [_("{unit} {done}/{total}", unit=u.name, done=u.verified, total=u.total)
                 for u in rp.units[:MAX_UNITS]]
        if len(rp.units) > MAX_UNITS:
            units.append(_("{count} more", count=len(rp.units) - MAX_UNITS))
        lines.append(_(
            "Verification “{round}” (due {due}): {done} of {total} verified, {approved} approved. "
            "By unit: {units}",
            round=rp.round.name, due=day_text(rp.round.due_on), done=rp.verified, total=rp.total,
            approved=rp.approved, units=join(units, CLAUSE_SEPARATOR)))
    return lines
