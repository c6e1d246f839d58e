"""The one error handler: whatever a handler raises is reported, never swallowed.

To the log, with the whole exception; to the operators' chat (``OPERATOR_CHAT_ID``, if set),
with the exception's type, where it was raised and the update's id, and nothing of the
update itself (no text, no names, no ids of people: an operators' group is not a place for
personal data, and the exception's own message may quote what a user typed). The user
hears an apology in the language they chose, and a tapped button stops spinning.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from casework.i18n import _, normalize_language
from casework.uow import unit_of_work
from handlers import limits, tap_answers
from handlers.turns import load_user

log = logging.getLogger(__name__)

# the last frames are where it went wrong; a report stays one message
REPORT_FRAMES = 12


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update", exc_info=context.error)
    await _report(update, context)
    if not isinstance(update, Update):
        return
    query = update.callback_query
    if query is not None:
        try:  # else the tapped button keeps spinning on the user's screen
            await tap_answers.answer(query)
        except Exception:  # noqa: BLE001 - reporting must not raise again
            log.warning("could not answer the tap after an error", exc_info=True)
    if update.effective_chat is not None:
        try:
            lang = await _language(update, context)
            await context.bot.send_message(
                update.effective_chat.id,
                _("Sorry, something went wrong on our side. Nothing was lost; please try again, "
                  "or send /menu.").render(lang),
            )
        except Exception:  # noqa: BLE001 - reporting must not raise again
            log.exception("could not tell the user about the error")


def report_text(error: BaseException | None, update_id: int | None) -> str:
    """What the operators read: the exception's type and its frames (file, line, function,
    source line), never its message nor anything of the update but its id."""
    kind = type(error).__name__ if error is not None else "error"
    where = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)[-REPORT_FRAMES:])) if (
        error is not None) else ""
    head = f"⚠️ {kind} while handling update {update_id if update_id is not None else '—'}"
    return limits.shorten(f"{head}\n{where}".rstrip(), limits.MAX_TEXT)


async def _report(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = context.application.bot_data.get("services")
    chat_id = getattr(services, "operator_chat_id", None)
    if chat_id is None:
        return
    update_id = update.update_id if isinstance(update, Update) else None
    try:
        await context.bot.send_message(chat_id, report_text(context.error, update_id))
    except Exception:  # noqa: BLE001 - reporting must not raise again
        log.warning("could not report the error to the operators' chat", exc_info=True)


async def _language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The language the user chose in the bot, as the turn would have spoken; the Telegram
    app's language for a stranger, in a group (nothing is read about anyone shown there),
    or when the database cannot be read (it may be what failed). Read in a worker thread."""
    tg_user = update.effective_user
    fallback = normalize_language(tg_user.language_code if tg_user else None)
    chat = update.effective_chat
    if tg_user is None or chat is None or chat.type != ChatType.PRIVATE:
        return fallback
    services = context.application.bot_data["services"]

    def chosen() -> str | None:
        with unit_of_work(services.engine, services.clock, services.policy) as cw:
            user = load_user(cw.session, tg_user.id)
            return user.language if user is not None else None

    try:
        language = await asyncio.get_running_loop().run_in_executor(services.workers(), chosen)
    except Exception:  # noqa: BLE001 - reporting must not raise again
        log.warning("could not read the user's language for the apology", exc_info=True)
        return fallback
    return normalize_language(language) if language else fallback
