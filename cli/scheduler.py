"""``baoxue deadlines``: the operator's view of the scheduler's queue.

``baoxue deadlines list`` shows the open rows soonest first; ``--due`` only those the
next tick will act on (a long list there means the scheduler is not running, or is
behind); ``--status failed`` the rows whose handler kept failing and were set aside.
Times are local to the policy's time zone. Open rows of a kind this version has no
handler for (``casework.kinds``) are named on stderr: the scheduler leaves them due.
"""

from __future__ import annotations

import logging

import typer
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from bot.runtime import StartupError, boot
from casework.clock import SystemClock, from_db, to_db
from casework.errors import PolicyError
from casework.kinds import KINDS
from models.tables import Deadline

deadlines_app = typer.Typer(help="Deadlines: what the scheduler acts on.", no_args_is_help=True)

STATUSES = ("open", "done", "cancelled", "failed", "all")


def _late(seconds: float) -> str:
    """How long past due, coarsely: "3d 4h", "2h 5m", "40s"; "" if not yet due."""
    if seconds < 0:
        return ""
    s = int(seconds)
    days, rest = divmod(s, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


@deadlines_app.command("list")
def deadlines_list(
    due: bool = typer.Option(False, "--due", help="Only open rows already due (the next tick's work)."),
    status: str = typer.Option("open", help="open, done, cancelled, failed or all."),
    kind: str | None = typer.Option(None, help="Only rows of this kind (step, reminder, ack…)."),
    limit: int = typer.Option(50, min=1, help="Show at most this many rows."),
) -> None:
    """List deadline rows, soonest first, with how late the due ones are."""
    from bot.logs import configure

    configure(logging.WARNING)
    if status not in STATUSES:
        typer.echo(f"unknown status {status!r}; one of: {', '.join(STATUSES)}", err=True)
        raise typer.Exit(2)
    try:
        rt = boot()
    except (StartupError, PolicyError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    now = SystemClock().now()
    tz = rt.policy.tz
    where: list[ColumnElement[bool]] = []
    if due:
        where += [col(Deadline.status) == "open", col(Deadline.due_at) <= to_db(now)]
    elif status != "all":
        where.append(col(Deadline.status) == status)
    if kind:
        where.append(col(Deadline.kind) == kind)
    with Session(rt.engine) as session:
        total = session.exec(select(func.count()).select_from(Deadline).where(*where)).one()
        rows = session.exec(
            select(Deadline)
            .where(*where)
            .order_by(col(Deadline.due_at), col(Deadline.id))
            .limit(limit)
        ).all()
        open_kinds = session.exec(
            select(Deadline.kind).where(Deadline.status == "open").distinct()
        ).all()
    unknown = sorted(set(open_kinds) - set(KINDS))
    if unknown:
        typer.echo(
            f"ERROR: open rows of kinds this version has no handler for: {', '.join(unknown)}"
            " (the scheduler leaves them due; run the version that knows them)",
            err=True,
        )
    if not rows:
        typer.echo("no deadlines due" if due else "no deadlines")
        return
    typer.echo(
        f"{'#':>7}  {'kind':<14} {'case':>5}  {'due (' + str(tz) + ')':<22} {'late':>7}  "
        f"{'status':<9} {'tries':>5}  result / key"
    )
    for d in rows:
        when = from_db(d.due_at)
        late = _late((now - when).total_seconds()) if d.status == "open" else ""
        note = d.result or d.dedupe_key or ""
        typer.echo(
            f"{d.id:>7}  {d.kind:<14} {d.case_id if d.case_id is not None else '—':>5}  "
            f"{when.astimezone(tz).strftime('%Y-%m-%d %H:%M'):<22} {late:>7}  "
            f"{d.status:<9} {d.attempts:>5}  {note}"
        )
    shown = len(rows)
    typer.echo(f"{total} row(s)" + (f", first {shown} shown" if shown < total else ""))
