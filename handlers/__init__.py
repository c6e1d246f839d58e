"""All handlers, registered in one visible place, in explicit groups.

Group -2 refuses a forged update (a private chat that is not its sender's) before anything
else sees it (``handlers.updates``). Group -1 keeps groups and channels out (no personal
data outside private chats); group 0 is the bot itself: commands, taps, new messages, and
edits of old messages (never taken as answers). One error handler reports every exception
and tells the user something went wrong instead of leaving them in silence.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

log = logging.getLogger(__name__)


def register(application: Application) -> None:  # type: ignore[type-arg]
    from handlers import commands as c
    from handlers import errors, people
    from handlers.updates import refuse_forged

    application.add_handler(TypeHandler(Update, refuse_forged), group=-2)
    application.add_handler(MessageHandler(~filters.ChatType.PRIVATE, c.group_pointer), group=-1)
    from handlers import exports  # ledger, forms, reports, rosters: ahead of /report and documents

    exports.register(application)
    # new messages only: a filter given to a handler replaces PTB's default, and an edit of
    # an old message must never be read as the answer to the question on screen now
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    for name, callback in (
        ("start", c.start),
        ("help", c.help_command),
        ("menu", c.menu_command),
        ("language", c.language_command),
        ("cancel", c.cancel_command),
        ("report", c.report_command),
        ("visit", c.visit_command),
        ("cases", c.cases_command),
        ("case", c.case_command),
        ("invite", c.invite_command),
        ("users", people.users_command),
        ("invites", people.invites_command),
        ("review", c.review_command),
    ):
        application.add_handler(CommandHandler(name, callback, private))
    application.add_handler(CallbackQueryHandler(c.button))
    application.add_handler(MessageHandler(private, c.message))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, c.edited)
    )
    application.add_error_handler(errors.on_error)
