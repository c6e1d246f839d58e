"""Invitations: the only way in. Single-use, expiring, and never wider than the scope
of the officer who made them."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlmodel import select

from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from casework.i18n import _
from casework.scope import ROLE_SCOPE, ROLES
from casework.states import ROLE_RANK
from models.tables import County, Invite, School, SchoolClass, Township, User, Village

INVITE_TTL = timedelta(days=7)


def _unit_in_scope(cw: Casework, actor: User | None, scope_kind: str, scope_id: int | None,
                   class_ids: list[int]) -> bool:
    """Is the unit the invite is for inside the inviter's scope? (None: the CLI operator)"""
    if actor is None or (actor.role == "admin" and actor.scope_kind == "all"):
        return True
    s = cw.session

    def township_of(kind: str, unit_id: int | None) -> int | None:
        if unit_id is None:
            return None
        if kind == "township":
            return unit_id
        if kind == "village":
            v = s.get(Village, unit_id)
            return v.township_id if v else None
        if kind == "school":
            sc = s.get(School, unit_id)
            return sc.township_id if sc else None
        return None

    if scope_kind == "classes":
        schools = {k.school_id for k in (s.get(SchoolClass, c) for c in class_ids) if k}
        if len(schools) != 1:
            return False
        scope_kind, scope_id = "school", schools.pop()
    if actor.scope_kind == "county":
        if scope_kind == "county":
            return scope_id == actor.scope_id
        township = s.get(Township, township_of(scope_kind, scope_id) or 0)
        return township is not None and township.county_id == actor.scope_id
    if actor.scope_kind == "township":
        return township_of(scope_kind, scope_id) == actor.scope_id
    if actor.scope_kind == "school":
        return scope_kind == "school" and scope_id == actor.scope_id
    return False


def _unit_exists(cw: Casework, scope_kind: str, scope_id: int | None, class_ids: list[int]) -> bool:
    """The unit an invite names must exist (the CLI operator types ids by hand)."""
    if scope_kind == "all":
        return scope_id is None
    if scope_kind == "classes":
        return bool(class_ids) and all(cw.session.get(SchoolClass, c) is not None for c in class_ids)
    if scope_id is None:
        return False
    s = cw.session
    if scope_kind == "county":
        return s.get(County, scope_id) is not None
    if scope_kind == "township":
        return s.get(Township, scope_id) is not None
    if scope_kind == "village":
        return s.get(Village, scope_id) is not None
    if scope_kind == "school":
        return s.get(School, scope_id) is not None
    return False


def create(
    cw: Casework,
    actor: User | None,
    *,
    role: str,
    scope_kind: str,
    scope_id: int | None,
    class_ids: list[int] | None = None,
    display_name: str | None = None,
) -> Invite:
    if role not in ROLES:
        raise ValidationError("role", _("“{code}” is not a known choice.", code=role))
    if ROLE_SCOPE[role] != scope_kind:
        raise ValidationError("scope", _("That role answers for a different kind of unit."))
    if role == "teacher" and not class_ids:
        raise ValidationError("scope", _("A teacher's invitation needs at least one class."))
    if not _unit_exists(cw, scope_kind, scope_id, class_ids or []):
        raise ValidationError("scope", _("There is no such unit."))
    if actor is not None and (
        actor.role not in ("township_officer", "county_officer", "admin")
        or ROLE_RANK[role] > ROLE_RANK[actor.role]
        or not _unit_in_scope(cw, actor, scope_kind, scope_id, class_ids or [])
    ):
        raise AccessDenied(
            _("You can only invite people into your own area, at or below your role."),
            actor_id=actor.id, action="invite.create", object_type=scope_kind, object_id=scope_id,
        )
    now = cw.now_db()
    invite = Invite(
        code=secrets.token_urlsafe(12),
        role=role,
        scope_kind=scope_kind,
        scope_id=scope_id,
        class_ids=list(class_ids or []),
        display_name=display_name,
        created_by=actor.id if actor else None,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    cw.session.add(invite)
    cw.session.flush()
    cw.audit(actor, "invite.create", "invite", invite.id, role=role, scope_kind=scope_kind)
    return invite


def redeem(cw: Casework, code: str, telegram_id: int, name: str, language: str) -> User | None:
    """Turn a valid invite into a (not yet active) user; None if the code is no good."""
    # locked: two people opening the same link at once cannot both get in
    invite = cw.session.exec(select(Invite).where(Invite.code == code).with_for_update()).first()
    if invite is None or invite.used_at is not None or from_db(invite.expires_at) <= cw.now():
        cw.audit(None, "invite.refused", "invite", invite.id if invite else None,
                 allowed=False, telegram_id=telegram_id)
        return None
    from models.tables import TeacherClass

    user = User(
        telegram_id=telegram_id,
        display_name=(invite.display_name or name)[:60],
        role=invite.role,
        scope_kind=invite.scope_kind,
        scope_id=invite.scope_id,
        language=language,
        active=False,
        created_at=cw.now_db(),
    )
    cw.session.add(user)
    cw.session.flush()
    for class_id in invite.class_ids:
        cw.session.add(TeacherClass(user_id=user.id or 0, class_id=class_id))
    invite.used_by = user.id
    invite.used_at = cw.now_db()
    cw.session.add(invite)
    cw.audit(user, "invite.redeem", "invite", invite.id)
    return user


def activate(cw: Casework, user: User, phone: str, language: str) -> None:
    user.phone = phone
    user.language = language
    user.active = True
    user.onboarded_at = cw.now_db()
    cw.session.add(user)
    cw.audit(user, "user.activate", "user", user.id)
