"""Invitations: the only way in. Single-use, expiring, and never wider than the scope
of the officer who made them."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlmodel import col, select

from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from casework.i18n import _
from casework.scope import ROLE_SCOPE, ROLES, unit_within
from casework.states import ROLE_RANK
from models.tables import County, Invite, School, SchoolClass, Township, User, Village

INVITE_TTL = timedelta(days=7)


def _unit_in_scope(cw: Casework, actor: User | None, scope_kind: str, scope_id: int | None,
                   class_ids: list[int]) -> bool:
    """Is the unit the invite is for inside the inviter's scope? (None: the CLI operator)"""
    return unit_within(cw.session, actor, scope_kind, scope_id, class_ids)


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
    if invite is None or not is_open(cw, invite):
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


def is_open(cw: Casework, invite: Invite) -> bool:
    """Can the invite still be used? Not used, not revoked, not expired, and its maker has
    not been deactivated (what a person who left handed out stops working with them)."""
    if invite.used_at is not None or invite.revoked_at is not None:
        return False
    if from_db(invite.expires_at) <= cw.now():
        return False
    if invite.created_by is not None:
        maker = cw.session.get(User, invite.created_by)
        if maker is None or is_deactivated(maker):
            return False
    return True


MANAGERS = frozenset({"school_admin", "township_officer", "county_officer", "admin"})


def _may_manage(cw: Casework, actor: User | None, invite: Invite) -> bool:
    if actor is None:
        return True
    return (
        actor.role in MANAGERS
        and ROLE_RANK.get(invite.role, 99) <= ROLE_RANK[actor.role]
        and unit_within(cw.session, actor, invite.scope_kind, invite.scope_id, invite.class_ids)
    )


def open_invites(cw: Casework, actor: User | None) -> list[Invite]:
    """The invitations still usable that ``actor`` may see and revoke (None: every one):
    for a unit in their scope, for a role not above their own. Oldest first."""
    rows = cw.session.exec(
        select(Invite)
        .where(col(Invite.used_at).is_(None), col(Invite.revoked_at).is_(None),
               col(Invite.expires_at) > cw.now_db())
        .order_by(col(Invite.id))
    ).all()
    return [i for i in rows if is_open(cw, i) and _may_manage(cw, actor, i)]


def revocable(cw: Casework, actor: User | None, invite_id: int) -> Invite:
    """The invitation ``actor`` means to revoke, if they may (checked before "sure?")."""
    invite = cw.session.get(Invite, invite_id)
    if invite is None and actor is None:
        raise ValidationError("invite", _("There is no such invitation."))
    if invite is None or not _may_manage(cw, actor, invite):
        raise AccessDenied(
            _("You can only revoke invitations into your own area, at or below your role."),
            actor_id=actor.id if actor else None, action="invite.revoke", object_type="invite",
            object_id=invite_id,
        )
    if not is_open(cw, invite):
        raise ValidationError("invite", _("That invitation has already been used, revoked or "
                                          "has expired."))
    return invite


def revoke(cw: Casework, actor: User | None, invite_id: int) -> Invite:
    """Withdraw an unused invitation; its link stops working at once."""
    invite = revocable(cw, actor, invite_id)
    invite.revoked_at = cw.now_db()
    cw.session.add(invite)
    cw.audit(actor, "invite.revoke", "invite", invite.id, role=invite.role,
             scope_kind=invite.scope_kind, via="cli" if actor is None else "bot")
    return invite


def is_deactivated(user: User) -> bool:
    """Deactivated (or, before deactivation was recorded, switched off after onboarding)."""
    return user.deactivated_at is not None or (not user.active and user.onboarded_at is not None)


def activate(cw: Casework, user: User, phone: str, language: str) -> None:
    user.phone = phone
    user.language = language
    user.active = True
    user.onboarded_at = cw.now_db()
    cw.session.add(user)
    cw.audit(user, "user.activate", "user", user.id)
