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
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers.ptb import BotApplication

log = logging.getLogger(__name__)


def register(application: BotApplication) -> None:
    from handlers import commands as c
    from handlers import people
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
    application.add_error_handler(on_error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    query = update.callback_query
    if query is not None:
        try:  # else the tapped button keeps spinning on the user's screen
            await query.answer()
        except Exception:  # noqa: BLE001 - reporting must not raise again
            log.warning("could not answer the tap after an error", exc_info=True)
    if update.effective_chat is not None:
        from casework.i18n import _

        try:
            await context.bot.send_message(
                update.effective_chat.id,
                _("Sorry, something went wrong on our side. Nothing was lost; please try again, "
                  "or send /menu.").render(_language(update, context)),
            )
        except Exception:  # noqa: BLE001 - reporting must not raise again
            log.exception("could not tell the user about the error")


def _language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language the user chose in the bot, as the turn would have spoken; the Telegram
    app's language for a stranger, in a group (nothing is read about anyone shown there),
    or when the database cannot be read (it may be what failed)."""
    from telegram.constants import ChatType

    from casework.i18n import normalize_language

    tg_user = update.effective_user
    fallback = normalize_language(tg_user.language_code if tg_user else None)
    chat = update.effective_chat
    if tg_user is None or chat is None or chat.type != ChatType.PRIVATE:
        return fallback
    try:
        from sqlalchemy import select
        from sqlalchemy.orm import Session
        from sqlmodel import col

        from models.tables import User

        services = context.application.bot_data["services"]
        with Session(services.engine) as session:
            chosen = session.execute(
                select(col(User.language)).where(col(User.telegram_id) == tg_user.id)
            ).scalar_one_or_none()
    except Exception:  # noqa: BLE001 - reporting must not raise again
        log.warning("could not read the user's language for the apology", exc_info=True)
        return fallback
    return normalize_language(chosen) if chosen else fallback
