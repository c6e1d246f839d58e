"""What the command modules share: booting the runtime, or exiting with the reason.

It lives below ``cli.main`` so that the command modules need not import the module that
registers them.
"""

from __future__ import annotations

import logging

import typer

from bot.runtime import Runtime, StartupError, boot
from casework.errors import PolicyError


def boot_or_exit(migrate: bool = False) -> Runtime:
    """The runtime, or exit 2 with the reason (a missing key, a bad policy)."""
    from bot.logs import configure

    configure(logging.WARNING)  # no secret in a log, whatever the logger (bot.logs)
    try:
        return boot(migrate=migrate)
    except (StartupError, PolicyError) as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
