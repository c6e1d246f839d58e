"""Signing in to the officers' console without a password: the bot hands a one-time link.

``/console`` in the bot asks :func:`issue_link`: a random token, kept only as its SHA-256,
bound to the user who asked, valid for :data:`LINK_TTL` and spent by its first use.
:func:`open_session` trades it for a session (again a random token kept as its hash),
which every page checks with :func:`session_user`; :func:`end_session` logs out.

Every refusal (a link used twice, expired, another user's, a deactivated user) raises
:class:`AccessDenied`, which the unit of work writes to the audit log after rolling back
(``casework.uow``). Cookies, signatures and CSRF tokens are the web layer's business.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import select

from casework.clock import from_db
from casework.context import Casework
from casework.errors import AccessDenied
from casework.i18n import _
from models.tables import ConsoleLink, ConsoleSession, User

# who may use the console: the people at a desk (school admins, officers, the operator)
CONSOLE_ROLES = frozenset({"school_admin", "township_officer", "county_officer", "admin"})
LINK_TTL = timedelta(minutes=5)
SESSION_TTL = timedelta(hours=8)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refuse(actor_id: int | None, why: str, action: str = "console.sign_in") -> AccessDenied:
    return AccessDenied(
        _("This sign-in link cannot be used. Send /console to the bot for a new one."),
        actor_id=actor_id, action=action, object_type="console", object_id=None, reason=why,
    )


def may_use_console(user: User) -> bool:
    return user.active and user.role in CONSOLE_ROLES


def issue_link(cw: Casework, actor: User) -> str:
    """A new one-time link token for ``actor`` (returned once; only its hash is stored)."""
    if not may_use_console(actor):
        raise AccessDenied(
            _("The console is for school administrators and officers."),
            actor_id=actor.id, action="console.link", object_type="console", object_id=None,
        )
    token = secrets.token_urlsafe(32)
    now = cw.now_db()
    cw.session.add(ConsoleLink(token_hash=token_hash(token), user_id=actor.id or 0,
                               created_at=now, expires_at=now + LINK_TTL))
    cw.audit(actor, "console.link", "console", None)
    return token


@dataclass(frozen=True)
class Opened:
    user: User
    token: str  # the session's token: the cookie carries it (signed)
    expires_in: timedelta


def open_session(cw: Casework, user_id: int, token: str, *, signed_in_as: int | None = None) -> Opened:
    """Spend a link: the link must exist, be unused, unexpired, be ``user_id``'s, and the
    browser must not be signed in as somebody else. Refusals are audited (the unit of work)."""
    link = cw.session.exec(select(ConsoleLink).where(ConsoleLink.token_hash == token_hash(token))).first()
    if link is None:
        raise _refuse(signed_in_as, "unknown")
    if link.user_id != user_id:
        # a link of one user opened with another's id: somebody copied it or forged it
        raise _refuse(signed_in_as, "another_user", "console.sign_in")
    if signed_in_as is not None and signed_in_as != link.user_id:
        raise _refuse(signed_in_as, "another_user")
    if link.used_at is not None:
        raise _refuse(link.user_id, "used")
    if from_db(link.expires_at) <= cw.now():
        raise _refuse(link.user_id, "expired")
    user = cw.session.get(User, link.user_id)
    if user is None or not may_use_console(user):
        raise _refuse(link.user_id, "inactive")
    link.used_at = cw.now_db()
    cw.session.add(link)
    session_token = secrets.token_urlsafe(32)
    now = cw.now_db()
    cw.session.add(ConsoleSession(token_hash=token_hash(session_token), user_id=user.id or 0,
                                  created_at=now, expires_at=now + SESSION_TTL))
    cw.audit(user, "console.sign_in", "console", None)
    return Opened(user, session_token, SESSION_TTL)


def session_user(cw: Casework, token: str) -> User | None:
    """The user of a live session (not ended, not expired, still allowed), or None."""
    row = cw.session.exec(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    ).first()
    if row is None or row.ended_at is not None or from_db(row.expires_at) <= cw.now():
        return None
    user = cw.session.get(User, row.user_id)
    return user if user is not None and may_use_console(user) else None


def end_session(cw: Casework, token: str) -> None:
    row = cw.session.exec(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    ).first()
    if row is not None and row.ended_at is None:
        row.ended_at = cw.now_db()
        cw.session.add(row)
        user = cw.session.get(User, row.user_id)
        cw.audit(user, "console.sign_out", "console", None)


def link_url(console_url: str, user_id: int, token: str) -> str:
    """The sign-in link the bot sends: the console's address, the user, the token."""
    return f"{console_url.rstrip('/')}/login?u={user_id}&t={token}"
