"""Invite a colleague (officers): role ─ unit ─ [summary] → a single-use t.me deep link.

Only units inside the officer's own scope are offered, and ``casework.invites`` checks
again, so a forged choice cannot widen anyone's access.
"""

from __future__ import annotations

from sqlmodel import col, select

from casework import invites
from casework.i18n import Text, _
from casework.labels import ROLE_LABELS
from casework.scope import ROLE_SCOPE
from casework.states import ROLE_RANK
from conversations.engine import Flow, Option, Step, Turn, register
from conversations.formatting import class_label
from models.tables import School, SchoolClass, Township, Village

INVITERS = frozenset({"township_officer", "county_officer", "admin"})


def _roles(turn: Turn) -> list[Option]:
    mine = ROLE_RANK[turn.user.role]
    return [
        Option(role, _(ROLE_LABELS[role]))
        for role in ("teacher", "school_admin", "village_cadre", "township_officer", "county_officer")
        if ROLE_RANK[role] <= mine
    ]


def _townships(turn: Turn) -> list[Township]:
    query = select(Township).order_by(col(Township.id))
    if turn.user.scope_kind == "county":
        query = query.where(Township.county_id == turn.user.scope_id)
    elif turn.user.scope_kind == "township":
        query = query.where(Township.id == turn.user.scope_id)
    return list(turn.cw.session.exec(query).all())


def _units(turn: Turn) -> list[Option]:
    role = turn.draft.get("role")
    s = turn.cw.session
    township_ids = [t.id for t in _townships(turn)]
    kind = ROLE_SCOPE.get(role or "", "")
    if kind == "village":
        rows = s.exec(select(Village).where(col(Village.township_id).in_(township_ids))).all()
        return [Option(str(v.id), Text(v.name)) for v in rows]
    if kind == "school":
        rows2 = s.exec(select(School).where(col(School.township_id).in_(township_ids))).all()
        return [Option(str(x.id), Text(x.name)) for x in rows2]
    if kind == "classes":
        schools = {x.id: x for x in s.exec(select(School).where(col(School.township_id).in_(township_ids))).all()}
        classes = s.exec(select(SchoolClass).where(col(SchoolClass.school_id).in_(list(schools)))
                         .order_by(col(SchoolClass.school_id), col(SchoolClass.grade), col(SchoolClass.section))).all()
        return [
            Option(str(k.id), _("{school} {klass}", school=schools[k.school_id].name,
                                 klass=class_label(k.grade, k.section)))
            for k in classes
        ]
    if kind == "township":
        return [Option(str(t.id), Text(t.name)) for t in _townships(turn)]
    if kind == "county":
        return [Option(str(turn.user.scope_id), _("My county"))] if turn.user.scope_kind == "county" else []
    return []


def _show_unit(turn: Turn) -> Text | None:
    code = turn.draft.get("unit")
    return next((o.label for o in _units(turn) if o.code == code), None)


def _finish(turn: Turn) -> None:
    role = turn.draft["role"]
    unit = int(turn.draft["unit"])
    kind = ROLE_SCOPE[role]
    invite = invites.create(
        turn.cw,
        turn.user,
        role=role,
        scope_kind=kind,
        scope_id=None if kind == "classes" else unit,
        class_ids=[unit] if kind == "classes" else None,
    )
    turn.replies.send(
        _("Send this link to your colleague. It works once, for 7 days:\nhttps://t.me/{bot}?start={code}",
          bot=turn.bot_username, code=invite.code)
    )


register(
    Flow(
        name="invite",
        title=_("Invite a colleague"),
        roles=INVITERS,
        summary_title=lambda t: _("Invitation — summary"),
        steps=(
            Step("role", _("Role"), lambda t: _("Invite someone as…"), "choice", options=_roles, next="unit",
                 show=lambda t: _(ROLE_LABELS[t.draft["role"]]) if t.draft.get("role") else None),
            Step("unit", _("Responsible for"), lambda t: _("Responsible for which unit?"), "choice",
                 options=_units, show=_show_unit),
        ),
        finish=_finish,
    )
)
