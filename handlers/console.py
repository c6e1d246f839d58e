"""``/console``: a one-time sign-in link to the officers' console (``web/``), for the roles
that work at a desk. The link is made by ``casework.console_access`` (hashed, bound to the
user, valid for minutes, single use); a role without the console is refused and audited.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from casework import console_access
from casework.i18n import _
from conversations.engine import Turn
from handlers.turns import run_turn


async def console_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    console_url = context.bot_data["services"].console_url

    def fn(turn: Turn) -> None:
        if not console_url:
            turn.replies.send(_("The console is not set up on this server (the operator sets "
                                "CONSOLE_URL)."))
            return
        token = console_access.issue_link(turn.cw, turn.user)
        turn.replies.send(_(
            "Your sign-in link to the console. It works once, for {minutes} minutes, and only "
            "for you: do not forward it.\n{link}",
            minutes=int(console_access.LINK_TTL.total_seconds() // 60),
            link=console_access.link_url(console_url, turn.user.id or 0, token),
        ))

    await run_turn(update, context, fn)
