"""The console's People page: the people and open invitations a manager sees (the same
``people`` and ``invites`` rules as the bot's /users and /invites), the roles they may
invite and the units they may invite into (``scope.unit_within``, the one rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from casework import invites, people
from casework.context import Casework
from casework.scope import ROLE_SCOPE, unit_within
from casework.states import ROLE_RANK
from models.tables import Invite, School, Township, User, Village

# teachers are invited with their classes, from the bot's invite flow
INVITABLE = ("school_admin", "village_cadre", "township_officer", "county_officer")


@dataclass(frozen=True)
class Person:
    user: User
    unit: str
    status: str  # people.status
    may_deactivate: bool


@dataclass(frozen=True)
class OpenInvite:
    invite: Invite
    unit: str


@dataclass
class PeoplePage:
    people: list[Person]
    invites: list[OpenInvite]
    roles: list[str]
    units: list[tuple[str, int, str]]  # (kind, id, name) inside the reader's scope


def people_page(cw: Casework, actor: User) -> PeoplePage:
    found = people.people_in_scope(cw, actor, include_deactivated=True)
    listed = [Person(u, people.user_unit_label(cw.session, u), people.status(u),
                     people.status(u) != "deactivated" and people.may_deactivate(cw.session, actor, u))
              for u in found]
    open_ = [OpenInvite(i, people.unit_label(cw.session, i.scope_kind, i.scope_id, i.class_ids))
             for i in invites.open_invites(cw, actor)]
    cw.audit_list(actor, "user.list", "user", [u.id for u in found], view="console")
    may_invite = actor.role in ("township_officer", "county_officer", "admin")
    roles = [r for r in INVITABLE if may_invite and ROLE_RANK[r] <= ROLE_RANK[actor.role]]
    return PeoplePage(listed, open_, roles, _units(cw, actor) if roles else [])


def _units(cw: Casework, actor: User) -> list[tuple[str, int, str]]:
    wanted = {ROLE_SCOPE[r] for r in INVITABLE}
    out: list[tuple[str, int, str]] = []
    models: tuple[tuple[str, Any], ...] = (("township", Township), ("village", Village), ("school", School))
    for kind, model in models:
        if kind not in wanted:
            continue
        for row in cw.session.exec(select(model).order_by(model.id)).all():
            if unit_within(cw.session, actor, kind, row.id):
                out.append((kind, row.id or 0, row.name))
    return out
