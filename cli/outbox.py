"""``baoxue outbox``: look at the outbox and replay dead letters.

A message that failed ``RetryPolicy.max_attempts`` times (network, Telegram 5xx) or that
Telegram refused (400) lands in the dead-letter state ``dead`` and stays there until an
operator has looked at it::

    baoxue outbox list              # counts per status and the queue, oldest first
    baoxue outbox list --failed     # dead letters and messages to unreachable people
    baoxue outbox retry 12 15       # replay these (dead, or failed once the person is back)
    baoxue outbox retry --all       # replay every dead letter

Replayed rows go back to the queue with their attempts reset; the bot's sender delivers
them in order with everything else.
"""

from __future__ import annotations

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from casework.clock import SystemClock, from_db
from cli.common import boot_or_exit
from models.tables import OutboxMessage, User

outbox_app = typer.Typer(help="The outbox: messages the bot pushes, and dead letters.",
                         no_args_is_help=True)

STATUSES = ("pending", "sent", "failed", "dead")
IDS_ARGUMENT = typer.Argument(None, help="Row ids to replay.")


def _engine() -> Engine:
    engine: Engine = boot_or_exit().engine
    return engine


@outbox_app.command("list")
def outbox_list(
    failed: bool = typer.Option(False, "--failed", help="Dead letters and failed messages only."),
    limit: int = typer.Option(50, help="At most this many rows."),
) -> None:
    """Counts per status, then the queue (or, with --failed, what did not go out)."""
    engine = _engine()
    with Session(engine) as session:
        counts = dict(
            session.exec(
                select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
            ).all()
        )
        typer.echo("  ".join(f"{s}: {counts.get(s, 0)}" for s in STATUSES))
        wanted = ["dead", "failed"] if failed else ["pending"]
        rows = session.exec(
            select(OutboxMessage, User)
            .join(User, col(User.id) == col(OutboxMessage.recipient_id), isouter=True)
            .where(col(OutboxMessage.status).in_(wanted))
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
        if not rows:
            typer.echo("nothing " + ("failed" if failed else "waiting"))
            return
        typer.echo(f"{'id':>6}  {'status':<7} {'try':>3}  {'not before (UTC)':<16}  "
                   f"{'kind':<22} recipient / last error")
        for row, user in rows:
            who = f"#{row.recipient_id} {user.display_name} ({user.role})" if user else f"#{row.recipient_id} ?"
            if user is not None and user.unreachable:
                who += " [unreachable]"
            when = from_db(row.not_before).strftime("%Y-%m-%d %H:%M")
            typer.echo(f"{row.id:>6}  {row.status:<7} {row.attempts:>3}  {when:<16}  "
                       f"{row.kind[:22]:<22} {who}")
            if row.last_error:
                typer.echo(f"{'':>8}{row.last_error[:160]}")


@outbox_app.command("retry")
def outbox_retry(
    ids: list[int] | None = IDS_ARGUMENT,
    all_: bool = typer.Option(False, "--all", help="Replay every dead letter."),
) -> None:
    """Put dead letters back in the queue (failed rows too, by id, once the person is reachable)."""
    from bot.outbox_sender import replay

    if bool(ids) == all_:
        typer.echo("name the rows to replay (outbox retry ID…) or pass --all", err=True)
        raise typer.Exit(2)
    engine = _engine()
    with Session(engine) as session:
        done = replay(session, None if all_ else ids, now=SystemClock().now(),
                      include_failed=not all_)
        session.commit()
    if done:
        typer.echo(f"replayed {len(done)}: {', '.join(map(str, done))}")
    else:
        typer.echo("nothing replayed")
    missed = sorted(set(ids or ()) - set(done))
    if missed:
        typer.echo(f"not replayed (no such row, not dead, or the recipient is still unreachable): "
                   f"{', '.join(map(str, missed))}", err=True)
        raise typer.Exit(1)
