"""The console's verification page (核查): the rounds with children in the reader's scope and
their progress by unit (``verification.progress``), and the children of those rounds still
to finish (not yet verified, or waiting for review), their names masked, one page at a time.
Scope is the one rule (``casework.scope.visible_entries``); the export is
``verification.export``, the same as the bot's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from casework.console_access import CONSOLE_ROLES
from casework.context import Casework
from casework.errors import AccessDenied
from casework.i18n import Text, _
from casework.personal import mask_name
from casework.scope import visible_entries
from casework.verification import export
from casework.verification.progress import RoundProgress, progress
from models.tables import School, Township, User, VerificationEntry, VerificationRound, Village

PAGE_SIZE = 50
STILL_OPEN = ("open", "proposed")
E = VerificationEntry


@dataclass(frozen=True)
class OpenChild:
    entry_id: int
    round_name: str
    row_number: int
    name: str  # masked
    unit: Text
    status: Text


@dataclass(frozen=True)
class VerificationPage:
    rounds: list[RoundProgress]
    children: list[OpenChild]
    total: int  # children still open, all pages
    page: int
    pages: int
    may_export: bool


def verification_page(cw: Casework, actor: User, page: int = 1, *,
                      size: int = PAGE_SIZE) -> VerificationPage:
    """The rounds due today or later with children in ``actor``'s scope, and one page of
    their children still open. Viewing it is audited (it lists children by name)."""
    if not actor.active or actor.role not in CONSOLE_ROLES:
        raise AccessDenied(_("The console is for school administrators and officers."),
                           actor_id=actor.id, action="verification.console",
                           object_type="verification_round", object_id=None)
    rounds = progress(cw, actor)
    round_ids = [rp.round.id for rp in rounds]
    where = [visible_entries(actor), col(E.status).in_(STILL_OPEN), col(E.round_id).in_(round_ids)]
    total = int(cw.session.execute(sa_select(func.count()).select_from(E).where(*where)).scalar_one())
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    found = cw.session.execute(
        sa_select(col(E.id), col(E.round_id), col(E.row_number), col(E.name), col(E.status),
                  col(E.school_id), col(E.village_id), col(E.township_id))
        .join(VerificationRound, col(VerificationRound.id) == col(E.round_id))
        .where(*where)
        .order_by(col(VerificationRound.due_on), col(E.round_id), col(E.row_number))
        .offset((page - 1) * size).limit(size)
    ).all()
    names = {rp.round.id: rp.round.name for rp in rounds}
    units = _unit_names(cw, found)
    children = [
        OpenChild(entry_id=eid, round_name=names.get(rid, ""), row_number=row, name=mask_name(name),
                  unit=units.get(("s", school)) or units.get(("v", village))
                  or units.get(("t", township)) or _("county, to assign"),
                  status=_(export.STATUS[status]))
        for eid, rid, row, name, status, school, village, township in found
    ]
    cw.audit(actor, "verification.console", "verification_round", None, page=page, rows=len(children))
    return VerificationPage(rounds, children, total, page, pages,
                            may_export=actor.role in export.EXPORT_ROLES)


def _unit_names(cw: Casework, rows: Any) -> dict[tuple[str, int], Text]:
    """The unit that verifies each child: its school, else its village, else its township."""
    wanted: dict[str, set[int]] = {"s": set(), "v": set(), "t": set()}
    for *_head, school, village, township in rows:
        if school:
            wanted["s"].add(school)
        elif village:
            wanted["v"].add(village)
        elif township:
            wanted["t"].add(township)
    names: dict[tuple[str, int], Text] = {}
    for letter, model in (("s", School), ("v", Village), ("t", Township)):
        if wanted[letter]:
            table: Any = model
            for uid, name in cw.session.execute(
                    sa_select(col(table.id), col(table.name)).where(table.id.in_(sorted(wanted[letter])))).all():
                names[(letter, uid)] = Text("{name}", {"name": name})
    return names
