"""Commands, buttons and messages: each PTB callback is one line into ``run_turn`` and a
small function that decides which flow or view answers. Registered in ``handlers/__init__``.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from casework import callbacks, ladder, validation
from casework.i18n import _, normalize_language
from conversations import engine
from handlers import cases, child_register, exports, menu, onboarding, review, verification
from handlers.turns import run_turn

# --- commands -------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/start`` or ``/start CODE`` (an invite deep link)."""
    code = validation.clean_text(context.args[0]) if context.args else None
    tg = update.effective_user
    assert tg is not None

    def turn_fn(turn: engine.Turn) -> None:
        if turn.user is None:
            if code:
                onboarding.start_with_code(turn, code, tg.id, tg.full_name)
            else:
                turn.replies.send(onboarding.no_access_text())
            return
        if not turn.user.active:
            onboarding.resume(turn)
            return
        _menu(turn, [])

    await run_turn(update, context, turn_fn, require_user=False, allow_inactive=True)


def _command(fn: Any) -> Any:
    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = [validation.clean_text(a) for a in context.args or []]
        await run_turn(update, context, lambda turn: fn(turn, args))

    callback.__name__ = fn.__name__
    return callback


def _with_active(turn: engine.Turn) -> bool:
    conv = engine.active_conversation(turn)
    if conv is None:
        return False
    turn.conv, turn.flow = conv, engine.REGISTRY[conv.flow]
    return True


def _help(turn: engine.Turn, args: list[str]) -> None:
    menu.show_help(turn)
    if _with_active(turn):
        engine.prompt(turn)


def _menu(turn: engine.Turn, args: list[str]) -> None:
    conv = engine.active_conversation(turn)
    unfinished = engine.REGISTRY[conv.flow].title if conv is not None else None
    menu.show_menu(turn, unfinished=unfinished)


def _language(turn: engine.Turn, args: list[str]) -> None:
    menu.ask_language(turn)


def _cancel(turn: engine.Turn, args: list[str]) -> None:
    if engine.cancel(turn):
        turn.replies.send(_("Cancelled. Nothing was saved."))
    else:
        turn.replies.send(_("There is nothing to cancel."))
    menu.show_menu(turn)


def _report(turn: engine.Turn, args: list[str]) -> None:
    engine.start(turn, "report")


def _visit(turn: engine.Turn, args: list[str]) -> None:
    case_id = _case_number(turn, args)
    engine.start(turn, "visit", case_id=case_id)


def _cases(turn: engine.Turn, args: list[str]) -> None:
    cases.list_cases(turn)


def _case(turn: engine.Turn, args: list[str]) -> None:
    case_id = _case_number(turn, args)
    if case_id is None:
        turn.replies.send(_("Which case? For example: /case 12"))
        return
    cases.show_case(turn, case_id)


def _review(turn: engine.Turn, args: list[str]) -> None:
    review.list_queue(turn)


def _invite(turn: engine.Turn, args: list[str]) -> None:
    engine.start(turn, "invite")


def _export(turn: engine.Turn, args: list[str]) -> None:
    """``/export``: the ledger's menu; ``/export 核查``: the verification rounds, each with
    its list to send back up (``handlers.verification``)."""
    if args and args[0].lower() in ("verification", "verify", "核查", "核查名单"):
        verification.verify(turn, [])
    else:
        exports.export(turn, args)


def _case_number(turn: engine.Turn, args: list[str]) -> int | None:
    if not args:
        return None
    return validation.case_number(args[0])


help_command = _command(_help)
menu_command = _command(_menu)
language_command = _command(_language)
cancel_command = _command(_cancel)
report_command = _command(_report)
visit_command = _command(_visit)
cases_command = _command(_cases)
case_command = _command(_case)
invite_command = _command(_invite)
review_command = _command(_review)
# files (handlers.exports)
export_command = _command(_export)
forms_command = _command(exports.case_forms)
stats_command = _command(exports.stats)  # the periodic report; /report reports a child
import_command = _command(exports.import_roster)
transfers_command = _command(exports.transfers_waiting)
# the register of school-age children and duplicates (handlers.child_register)
register_command = _command(child_register.register_command)
unschooled_command = _command(child_register.unschooled_command)
duplicates_command = _command(child_register.duplicates_command)
verify_command = _command(verification.verify)  # verification rounds (核查)


# --- buttons --------------------------------------------------------------------------


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        # the bot puts no buttons in groups; whatever this is, nothing is shown there
        await query.answer(_privacy_pointer(update, context))
        return
    data = query.data or ""
    tap = callbacks.decode(data)
    if isinstance(tap, callbacks.Language):
        lang = tap.code
        await run_turn(update, context, lambda t: onboarding.language_chosen(t, lang),
                       allow_inactive=True)
        return
    await run_turn(update, context, lambda turn: route_button(turn, data))


def route_button(turn: engine.Turn, data: str) -> None:
    """Decide what a tap means. Nothing in ``data`` grants access: the engine checks the
    conversation's owner, and casework checks scope for every case it touches."""
    from handlers import buttons

    buttons.route(turn, data)


# --- messages -------------------------------------------------------------------------


async def message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None
    tg = update.effective_user
    if msg.contact is not None:
        own = tg is not None and msg.contact.user_id == tg.id
        phone = msg.contact.phone_number
        await run_turn(update, context, lambda t: _contact(t, phone, own), allow_inactive=True)
        return
    from handlers import buttons

    def turn_fn(turn: engine.Turn) -> None:
        # a roster file is read by a job of its own; any other message goes to the flow
        if not child_register.takes_extract(turn, msg.document) and not exports.roster_file(turn, msg.document):
            buttons.route_message(turn, msg)

    await run_turn(update, context, turn_fn)


def _contact(turn: engine.Turn, phone: str, own: bool) -> None:
    if turn.user.active:
        note = _("Thank you, but I don't need a contact here.")
        if _with_active(turn):
            engine.prompt(turn, note)
        else:
            turn.replies.send(note)
        return
    onboarding.contact_shared(turn, phone, own)


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edit of a message already sent. It is never taken as an answer (it would land
    on whatever question is on screen now); the user is told how to change an answer."""

    def turn_fn(turn: engine.Turn) -> None:
        note = _("Edits to messages already sent are not picked up. To change an answer, "
                 "use ✏️ on the summary before you confirm.")
        if _with_active(turn):
            engine.prompt(turn, note)
        else:
            turn.replies.send(note)

    await run_turn(update, context, turn_fn)


async def group_pointer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group: no personal data, only a pointer to a private chat."""
    from telegram.ext import ApplicationHandlerStop

    msg = update.effective_message
    if msg is not None and msg.text and msg.text.startswith("/"):
        await msg.reply_text(_privacy_pointer(update, context))
    raise ApplicationHandlerStop


def _privacy_pointer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The only thing said in a group, in the language of the writer's Telegram app (the
    database is not read: nothing about anyone is shown where others can see it)."""
    lang = update.effective_user.language_code if update.effective_user else None
    return _("For privacy I only work in a private chat: open https://t.me/{bot}",
             bot=context.bot.username).render(normalize_language(lang))


__all__ = ["ladder"]
