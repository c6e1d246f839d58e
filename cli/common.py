"""What the command modules share: booting the runtime, or exiting with the reason.

It lives below ``cli.main`` so that the command modules need not import the module that
registers them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import typer

from bot.runtime import Runtime, StartupError, boot
from casework.errors import CaseworkError, PolicyError

if TYPE_CHECKING:
    from casework.context import Casework, Operator

J = TypeVar("J")
Progress = Callable[[int, int], None]  # (rows written, rows in all)


def boot_or_exit(migrate: bool = False) -> Runtime:
    """The runtime, or exit 2 with the reason (a missing key, a bad policy)."""
    from bot.logs import configure

    configure(logging.WARNING)  # no secret in a log, whatever the logger (bot.logs)
    try:
        return boot(migrate=migrate)
    except (StartupError, PolicyError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err


def export_file(
    rt: Runtime,
    output: Path,
    *,
    operator: Operator,
    lang: str,
    prepare: Callable[[Casework], J],
    write: Callable[[Casework, J, BinaryIO, Progress], int],
    record: Callable[[Casework, J], None] | None = None,
    done: Callable[[J, int], str],
    label: str = "",
) -> None:
    """A file made at the command line, the one way every export command makes it:
    ``prepare`` what to write (a refusal is raised here, before a file exists), ``write``
    it into ``output`` (created readable by its owner only: children's data) showing a
    progress bar once it reports progress, ``record`` the export in the audit log as made
    by ``operator``, then print ``done(job, count)`` (what was written, and where). All in
    one unit of work: a failure leaves no audit row; a refusal exits 1 with its reason."""
    import contextlib

    from bot.private_files import open_private
    from casework.clock import SystemClock
    from casework.uow import unit_of_work

    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw, \
                contextlib.ExitStack() as bars:
            job = prepare(cw)
            cw.session.rollback()  # the rows are read in short transactions of their own
            bar: list[Any] = []
            shown = [0]

            def progress(count: int, total: int) -> None:
                if not bar:
                    bar.append(bars.enter_context(typer.progressbar(length=max(total, 1), label=label)))
                bar[0].update(count - shown[0])
                shown[0] = count

            with open_private(output) as out:
                count = write(cw, job, out, progress)
            if record is not None:
                record(cw, job)
    except CaseworkError as err:
        typer.echo(err.render(lang), err=True)
        raise typer.Exit(1) from err
    typer.echo(done(job, count))
