"""Who a policy's parties are: the people of a role, or of a body the seed names.

A level names who acts and who is told as *parties*: a role (``township_officer``) or a
body (``county_government`` — 县人民政府, ``city_bureau`` — 市教育局, ``poverty_group`` — 区扶贫
工作领导小组). The policy maps each body to a role (``[bodies]``); a deployment marks the
people who act for it (``User.body``), each with that role and a scope. A role's own party
is its people who act for no body, so a county officer seated for the county government
is not also sent the education bureau's alerts. Who sees a case is still the one scope rule
(``casework.scope.users_for_case``); this module only picks among those people.
"""

from __future__ import annotations

from collections.abc import Sequence

from casework.context import Casework
from casework.policy import BODIES, Level, Policy
from casework.scope import users_for_case
from models.tables import Case, User


def is_body(party: str) -> bool:
    return party in BODIES


def fits(policy: Policy, user: User, party: str) -> bool:
    """Does ``user`` act for ``party``?"""
    if is_body(party):
        return user.body == party and user.role == policy.role_of(party)
    return user.role == party and user.body is None


def acts_for(policy: Policy, user: User, parties: Sequence[str]) -> bool:
    return any(fits(policy, user, p) for p in parties)


def people(cw: Casework, case: Case, parties: Sequence[str]) -> list[User]:
    """The active people who act for ``parties`` and see the case, in the parties' order."""
    if not parties:
        return []
    roles = list(dict.fromkeys(cw.policy.role_of(p) for p in parties))
    found = users_for_case(cw.session, case, roles)
    out: list[User] = []
    for party in parties:
        for user in found:
            if user not in out and fits(cw.policy, user, party):
                out.append(user)
    return out


def responsible(cw: Casework, case: Case, level: Level) -> list[User]:
    """Who a level's reminders and overdue notices go to: on a level whose 专人 is named
    (``names_persuader``), the named person once there is one; else the level's parties."""
    if level.names_persuader is not None and case.assigned_to_id is not None:
        named = cw.session.get(User, case.assigned_to_id)
        if named is not None and named.active:
            return [named]
    return people(cw, case, level.responsible)
