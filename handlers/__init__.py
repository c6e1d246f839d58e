"""All handlers, registered in one visible place, in explicit groups.

PTB runs, for each update, the first matching handler of every group in order of the group
number; a handler that raises ``ApplicationHandlerStop`` ends it there.

- group -2, the guard: a forged update (a private chat that is not its sender's) is refused
  before anything else sees it (``handlers.updates``);
- group -1, privacy: groups and channels get a pointer to a private chat and nothing else
  (no personal data outside private chats);
- group 0, the bot itself: commands, taps, new messages, and edits of old messages (never
  taken as answers). Every callback is one line into ``handlers.turns.run_turn``: one unit
  of work per update, opened there and nowhere else. Taps are routed by ``handlers.buttons``
  alone, whatever module draws the buttons.

One error handler (``handlers.errors``) reports every exception, to the log and the
operators' chat, and tells the user something went wrong instead of leaving them in silence.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers.ptb import BotApplication

GUARD, PRIVACY, BOT = -2, -1, 0


def register(application: BotApplication) -> None:
    from handlers import commands as c
    from handlers import console, errors, people
    from handlers.updates import refuse_forged

    # --- the guard ----------------------------------------------------------------------------
    application.add_handler(TypeHandler(Update, refuse_forged), group=GUARD)

    # --- privacy: nothing but a pointer outside private chats ------------------------------------
    application.add_handler(MessageHandler(~filters.ChatType.PRIVATE, c.group_pointer), group=PRIVACY)

    # --- the bot: commands ------------------------------------------------------------------------
    # new messages only: a filter given to a handler replaces PTB's default, and an edit of
    # an old message must never be read as the answer to the question on screen now
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    for name, callback in (
        # everyone, at any step
        ("start", c.start),
        ("help", c.help_command),
        ("menu", c.menu_command),
        ("language", c.language_command),
        ("cancel", c.cancel_command),
        # casework
        ("report", c.report_command),  # report a child (the periodic report is /stats)
        ("visit", c.visit_command),
        ("cases", c.cases_command),
        ("case", c.case_command),
        ("review", c.review_command),
        ("transfers", c.transfers_command),
        # the register of school-age children and duplicates (handlers.child_register)
        ("register", c.register_command),
        ("unschooled", c.unschooled_command),
        ("duplicates", c.duplicates_command),
        ("verify", c.verify_command),  # verification rounds (handlers.verification)
        # people
        ("invite", c.invite_command),
        ("users", people.users_command),
        ("invites", people.invites_command),
        # files (handlers.exports)
        ("export", c.export_command),
        ("forms", c.forms_command),
        ("stats", c.stats_command),
        ("import", c.import_command),
        # the officers' console (web/): a one-time sign-in link
        ("console", console.console_command),
    ):
        application.add_handler(CommandHandler(name, callback, private), group=BOT)

    # --- the bot: taps, messages (a roster file among them), edits --------------------------------
    application.add_handler(CallbackQueryHandler(c.button), group=BOT)
    application.add_handler(MessageHandler(private, c.message), group=BOT)
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, c.edited), group=BOT
    )

    # --- errors -------------------------------------------------------------------------------------
    application.add_error_handler(errors.on_error)
