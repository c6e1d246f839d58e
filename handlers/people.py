"""``/users`` and ``/invites``: an officer's view of the people and the open invitations in
their area, with Deactivate and Revoke (each asked once more before it is done).

Who may do what is decided in ``casework.people`` and ``casework.invites``; callback data
(``usr:…``, ``inv:…``, kinds of ``casework.callbacks``) only names a row, and every tap is
checked again there.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from casework import invites, people
from casework.callbacks import (
    Assign,
    DeactivateUser,
    InvitesCancel,
    InvitesPage,
    RevokeInvite,
    UsersCancel,
    UsersPage,
)
from casework.clock import from_db
from casework.errors import AccessDenied
from casework.i18n import _
from casework.labels import person_role, role_text
from conversations.engine import Turn
from conversations.formatting import fmt_short
from conversations.replies import Button
from handlers.turns import run_turn
from models.tables import Invite, User

PAGE = 15
ASSIGN_BUTTONS = 10


def _refuse_non_manager(turn: Turn, action: str) -> bool:
    if turn.user.role in invites.MANAGERS:
        return False
    raise AccessDenied(
        _("Only school administrators and township or county officers can do that."),
        actor_id=turn.user.id, action=action, object_type="user", object_id=None,
    )


# --- /users -----------------------------------------------------------------------------


def list_users(turn: Turn, offset: int = 0) -> None:
    _refuse_non_manager(turn, "user.list")
    found = people.people_in_scope(turn.cw, turn.user)
    turn.cw.audit(turn.user, "user.list", "user", None, count=len(found), offset=offset)
    if not found:
        turn.replies.send(_("There is nobody in your area you can manage yet."))
        return
    page = found[offset : offset + PAGE]
    lines = [turn.t(_("People in your area ({n}):", n=len(found)))]
    rows: list[list[Button]] = []
    for user in page:
        lines.append(_person_line(turn, user))
        rows.append([Button(_("Deactivate {name}", name=user.display_name), DeactivateUser(user.id or 0).encode())])
    if offset + PAGE < len(found):
        rows.append([Button(_("Next page ▶"), UsersPage(offset + PAGE).encode())])
    turn.replies.send_text("\n".join(lines), rows)


def _person_line(turn: Turn, user: User) -> str:
    unit = people.user_unit_label(turn.cw.session, user)
    line = f"• {user.display_name} — {turn.t(role_text(user.role))}" + (f", {unit}" if unit else "")
    if people.status(user) == "pending":
        line += turn.t(_(" (has not finished joining)"))
    return line


def tap_user(turn: Turn, tap: UsersPage | DeactivateUser | UsersCancel) -> None:
    """``usr:p:<offset>`` a page; ``usr:d:<id>`` asks; ``usr:D:<id>`` deactivates; ``usr:x`` no."""
    if isinstance(tap, UsersPage):
        turn.replies.answer()
        list_users(turn, tap.offset)
    elif isinstance(tap, UsersCancel):
        turn.replies.answer(_("Nothing was changed."))
        turn.replies.mark_chosen(_("Cancel"))
    else:
        user_id = tap.id
        _refuse_non_manager(turn, "user.deactivate")
        if not tap.confirmed:
            user = people.deactivation_target(turn.cw, turn.user, user_id)
            held = people.open_cases_held(turn.cw.session, user)
            turn.replies.answer()
            turn.replies.send(
                _("Deactivate {person}? They will no longer be able to use the bot, and "
                  "the invitations they made stop working. Open cases they hold: {n}.",
                  person=person_role(user.display_name, user.role), n=len(held)),
                [[Button(_("✅ Yes, deactivate"), DeactivateUser(user_id, confirmed=True).encode()),
                  Button(_("Cancel"), UsersCancel().encode())]],
            )
            return
        done = people.deactivate(turn.cw, turn.user, user_id)
        turn.replies.answer()
        turn.replies.mark_chosen(_("✅ Yes, deactivate"))
        rows = [[Button(_("Assign case #{id}", id=case.id), Assign(case.id or 0).encode())]
                for case in done.open_cases[:ASSIGN_BUTTONS]]
        turn.replies.send(done.message, rows or None)


# --- /invites ---------------------------------------------------------------------------


def list_invites(turn: Turn, offset: int = 0) -> None:
    _refuse_non_manager(turn, "invite.list")
    found = invites.open_invites(turn.cw, turn.user)
    turn.cw.audit(turn.user, "invite.list", "invite", None, count=len(found), offset=offset)
    if not found:
        turn.replies.send(_("There are no open invitations in your area."))
        return
    lines = [turn.t(_("Open invitations in your area ({n}):", n=len(found)))]
    rows: list[list[Button]] = []
    for invite in found[offset : offset + PAGE]:
        lines.append(_invite_line(turn, invite))
        rows.append([Button(_("Revoke #{id}", id=invite.id), RevokeInvite(invite.id or 0).encode())])
    if offset + PAGE < len(found):
        rows.append([Button(_("Next page ▶"), InvitesPage(offset + PAGE).encode())])
    turn.replies.send_text("\n".join(lines), rows)


def _invite_line(turn: Turn, invite: Invite) -> str:
    unit = people.unit_label(turn.cw.session, invite.scope_kind, invite.scope_id, invite.class_ids)
    maker = turn.cw.session.get(User, invite.created_by) if invite.created_by else None
    until = fmt_short(turn.cw.calendars.local_date(from_db(invite.expires_at)), turn.lang)
    who = invite.display_name or turn.t(_("(no name given)"))
    return turn.t(_("#{id} {role} {who}, {unit}; made by {maker}, valid until {until}",
                    id=invite.id, role=role_text(invite.role), who=who, unit=unit or "—",
                    maker=maker.display_name if maker else turn.t(_("the operator")), until=until))


def tap_invite(turn: Turn, tap: InvitesPage | RevokeInvite | InvitesCancel) -> None:
    """``inv:p:<offset>`` a page; ``inv:r:<id>`` asks; ``inv:R:<id>`` revokes; ``inv:x`` no."""
    if isinstance(tap, InvitesPage):
        turn.replies.answer()
        list_invites(turn, tap.offset)
    elif isinstance(tap, InvitesCancel):
        turn.replies.answer(_("Nothing was changed."))
        turn.replies.mark_chosen(_("Cancel"))
    else:
        invite_id = tap.id
        _refuse_non_manager(turn, "invite.revoke")
        if not tap.confirmed:
            invite = invites.revocable(turn.cw, turn.user, invite_id)
            turn.replies.answer()
            turn.replies.send(
                _("Revoke invitation #{id} ({role})? Its link will stop working.",
                  id=invite_id, role=role_text(invite.role)),
                [[Button(_("✅ Yes, revoke"), RevokeInvite(invite_id, confirmed=True).encode()),
                  Button(_("Cancel"), InvitesCancel().encode())]],
            )
            return
        invites.revoke(turn.cw, turn.user, invite_id)
        turn.replies.answer()
        turn.replies.mark_chosen(_("✅ Yes, revoke"))
        turn.replies.send(_("Invitation #{id} is revoked: its link no longer works.", id=invite_id))


async def users_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_turn(update, context, list_users)


async def invites_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_turn(update, context, list_invites)
