"""``baoxue user`` and ``baoxue invite list/revoke``: people who leave, invitations withdrawn.

    baoxue user list                 # everyone active or still joining
    baoxue user list --all           # deactivated people too
    baoxue user deactivate 12        # asks first; --yes does not
    baoxue invite list               # the invitations still usable
    baoxue invite revoke 7

The operator stands above every county, so the only rule that applies here is that a
deactivated person stays deactivated. Each change is written to the audit log, marked as
made at the command line; the open cases a deactivated person held are printed, to be
reassigned in the bot.
"""

from __future__ import annotations

import typer

from bot.runtime import Runtime
from casework.clock import SystemClock, from_db
from casework.errors import CaseworkError

user_app = typer.Typer(help="People: list and deactivate.", no_args_is_help=True)

LANG_OPTION = typer.Option("zh_Hans", "--lang", help="zh_Hans or en")


def _boot() -> Runtime:
    from bot.cli import _boot as boot  # late: bot.cli registers this module

    return boot()


@user_app.command("list")
def user_list(
    all_: bool = typer.Option(False, "--all", help="Deactivated people too."),
    lang: str = LANG_OPTION,
) -> None:
    """List the people of the bot: id, status, role, unit, name (no phone numbers)."""
    from casework import people
    from casework.labels import role_text
    from casework.uow import unit_of_work

    rt = _boot()
    with unit_of_work(rt.engine, SystemClock(), rt.policy) as cw:
        found = people.people_in_scope(cw, None, include_deactivated=all_)
        cw.audit(None, "user.list", "user", None, count=len(found), via="cli")
        if not found:
            typer.echo("no users")
            return
        typer.echo(f"{'#':>4}  {'status':<11} {'role':<18} {'unit':<24} name")
        for user in sorted(found, key=lambda u: u.id or 0):
            typer.echo(
                f"{user.id:>4}  {people.status(user):<11} {role_text(user.role).render(lang):<18} "
                f"{people.user_unit_label(cw.session, user) or '—':<24} {user.display_name}"
            )


@user_app.command("deactivate")
def user_deactivate(
    user_id: int = typer.Argument(..., help="The user's id (see: baoxue user list)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask first."),
    lang: str = LANG_OPTION,
) -> None:
    """Deactivate a user: the bot then only tells them their account is deactivated."""
    from casework import people
    from casework.labels import role_text
    from casework.uow import unit_of_work

    rt = _boot()
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy) as cw:
            user = people.deactivation_target(cw, None, user_id)
            if not yes:
                held = people.open_cases_held(cw.session, user)
                typer.confirm(
                    f"Deactivate #{user.id} {user.display_name} ({role_text(user.role).render(lang)}), "
                    f"who holds {len(held)} open case(s)?",
                    abort=True,
                )
            done = people.deactivate(cw, None, user_id)
            typer.echo(done.message.render(lang))
            for case in done.open_cases:
                typer.echo(f"  #{case.id}")
    except CaseworkError as err:
        typer.echo(err.render(lang), err=True)
        raise typer.Exit(1) from err


def invite_list(lang: str = LANG_OPTION) -> None:
    """List the invitations still usable: id, role, unit, who made it, valid until (UTC)."""
    from casework import invites, people
    from casework.labels import role_text
    from casework.uow import unit_of_work
    from models.tables import User

    rt = _boot()
    with unit_of_work(rt.engine, SystemClock(), rt.policy) as cw:
        found = invites.open_invites(cw, None)
        cw.audit(None, "invite.list", "invite", None, count=len(found), via="cli")
        if not found:
            typer.echo("no open invitations")
            return
        typer.echo(f"{'#':>4}  {'role':<18} {'unit':<24} {'made by':<12} {'valid until (UTC)':<17} name")
        for invite in found:
            maker = cw.session.get(User, invite.created_by) if invite.created_by else None
            unit = people.unit_label(cw.session, invite.scope_kind, invite.scope_id, invite.class_ids)
            typer.echo(
                f"{invite.id:>4}  {role_text(invite.role).render(lang):<18} {unit or '—':<24} "
                f"{maker.display_name if maker else '(operator)':<12} "
                f"{from_db(invite.expires_at).strftime('%Y-%m-%d %H:%M'):<17} {invite.display_name or ''}"
            )


def invite_revoke(
    invite_id: int = typer.Argument(..., help="The invitation's id (see: baoxue invite list)."),
    lang: str = LANG_OPTION,
) -> None:
    """Revoke an unused invitation: its link stops working at once."""
    from casework import invites
    from casework.uow import unit_of_work

    rt = _boot()
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy) as cw:
            invites.revoke(cw, None, invite_id)
    except CaseworkError as err:
        typer.echo(err.render(lang), err=True)
        raise typer.Exit(1) from err
    typer.echo(f"invitation #{invite_id} revoked: its link no longer works")
