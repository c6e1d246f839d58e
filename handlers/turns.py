"""One unit of work per update: open a session, find who is writing and in which
language, run the turn, commit (all of it in a worker thread, off the event loop), and
only then, back on the loop, send what the turn wants said.

Refusals from the domain roll the turn back; an access refusal is still written to the
audit log. Nothing here knows a business rule.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from casework import invites, people, urgent
from casework.context import Casework
from casework.errors import AccessDenied, CaseworkError
from casework.i18n import Text, _, normalize_language
from casework.uow import record_denial
from conversations import engine
from conversations.replies import Action, Button, Replies
from handlers import background, limits, onboarding, tap_answers, updates
from models.tables import User

log = logging.getLogger(__name__)

TurnFn = Callable[[engine.Turn], None]


def _services(context: ContextTypes.DEFAULT_TYPE) -> Any:
    return context.application.bot_data["services"]


# the phone number is read (and decrypted) only where a turn needs it: onboarding. Built
# once, as every update runs it.
_USER_BY_TELEGRAM_ID = (
    select(User)
    .options(defer(User.phone))  # type: ignore[arg-type]  # SQLModel types a column as its value
    .where(col(User.telegram_id) == bindparam("telegram_id"))
)


def load_user(session: Session, telegram_id: int) -> User | None:
    return session.exec(_USER_BY_TELEGRAM_ID, params={"telegram_id": telegram_id}).first()


async def run_turn(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    fn: TurnFn,
    *,
    require_user: bool = True,
    allow_inactive: bool = False,
) -> None:
    """Run ``fn`` in one transaction for the user behind ``update``, then reply.

    The unit of work (load the user, run the turn, commit) runs in one of the services'
    worker threads: a slow turn (a big query, a lock wait, a document being rendered)
    holds its thread, never the event loop, so everyone else's updates and the replies go
    on meanwhile. Only plain values cross over: the update is read here, the replies are
    sent from here after the commit."""
    services = _services(context)
    tg_user = update.effective_user
    if tg_user is None:
        return
    work = functools.partial(
        turn_work, services, tg_user.id, normalize_language(tg_user.language_code), fn,
        require_user=require_user, allow_inactive=allow_inactive, bot_username=context.bot.username,
        update_id=update.update_id if updates.dedupes(context) else None,
    )
    # the context is copied as asyncio.to_thread does, so context variables reach the turn
    done = await asyncio.get_running_loop().run_in_executor(
        services.workers(), contextvars.copy_context().run, work
    )
    if done is None:
        return  # a redelivery: done (or being done) by another turn, which answers
    replies, lang = done
    await deliver(update, context, replies, lang)


def turn_work(
    services: Any,
    telegram_id: int,
    lang: str,
    fn: TurnFn,
    *,
    require_user: bool,
    allow_inactive: bool,
    bot_username: str,
    update_id: int | None = None,
) -> tuple[Replies, str] | None:
    """A turn's transaction, in a worker thread: its session is opened, used and closed
    in that thread. Returns what to say and in which language; None for a redelivery that
    another turn claimed (``update_id`` is recorded with the work in webhook mode)."""
    replies = Replies()
    with Session(services.engine, expire_on_commit=False) as session:

        def claimed() -> bool:
            # webhook mode: the update's id is written with the turn's work (updates.claim)
            return update_id is None or updates.claim(session, update_id, services.clock.now())

        cw = Casework(session, services.clock, services.policy)
        user = load_user(session, telegram_id)
        if user is not None:
            lang = user.language
            if user.active and people.back_in_reach(cw, user):
                session.commit()  # on its own: kept even if the turn below is refused
        if not claimed():
            return None  # a redelivery: done (or being done) by another turn, which answers
        # a deactivated user reads one line on every path, /start and old buttons included:
        # no flow, no button (resuming their onboarding would switch them back on)
        if user is not None and invites.is_deactivated(user):
            replies.send(deactivated_text())
            session.commit()  # only the processed-update row
        elif require_user and user is None:
            replies.send(onboarding.no_access_text())
            session.commit()  # only the processed-update row
        else:
            turn = engine.Turn(cw, user, lang, replies, bot_username=bot_username,  # type: ignore[arg-type]
                               draft_days=services.conversation_ttl_days)
            if user is not None and not user.active and not allow_inactive:
                fn = onboarding.resume
            try:
                fn(turn)
                engine.write(turn)
                session.commit()
            except engine.FlowRefused as refused:
                session.rollback()
                if not claimed():
                    return None
                _after_refusal(cw, refused.error)
                replies.actions = [a for a in replies.actions if a.kind == "answer"]
                _reprompt_summary(turn, refused.error.text)
                session.commit()
            except CaseworkError as err:
                session.rollback()
                if not claimed():
                    return None
                _after_refusal(cw, err)
                session.commit()
                replies.actions = [a for a in replies.actions if a.kind == "answer"]
                replies.send(err.text)
            lang = turn.lang
    return replies, lang


def _after_refusal(cw: Casework, err: CaseworkError) -> None:
    if isinstance(err, AccessDenied):
        record_denial(cw, err)


def _reprompt_summary(turn: engine.Turn, note: Text) -> None:
    conv = engine.active_conversation(turn)
    if conv is None:
        turn.replies.send(note)
        return
    turn.conv, turn.flow = conv, engine.REGISTRY[conv.flow]
    engine.prompt(turn, note)


def deactivated_text() -> Text:
    return _("Your account has been deactivated. If you have questions, please contact your "
             "township or county education office.")


def _markup(
    action: Action, lang: str
) -> ReplyKeyboardRemove | ReplyKeyboardMarkup | InlineKeyboardMarkup | None:
    if action.remove_keyboard:
        return ReplyKeyboardRemove()
    if action.reply_keyboard:
        return ReplyKeyboardMarkup(
            [
                [
                    KeyboardButton(
                        b["text"].render(lang) if isinstance(b["text"], Text) else b["text"],
                        request_contact=b.get("request_contact"),
                        request_location=b.get("request_location"),
                    )
                    for b in row
                ]
                for row in action.reply_keyboard
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if action.buttons:
        return inline(action.buttons, lang)
    return None


def inline(rows: list[list[Button]], lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label.render(lang), callback_data=b.data) for b in row] for row in rows]
    )


def _text(value: str | Text | None, lang: str) -> str:
    if value is None:
        return ""
    return value.render(lang) if isinstance(value, Text) else value


_EDITS = ("edit_keyboard", "mark_chosen", "edit_message")  # of the tapped message, which exists already


async def deliver(
    update: Update, context: ContextTypes.DEFAULT_TYPE, replies: Replies, lang: str
) -> None:
    """Send the turn's replies. Three independent chains run at once, so a tap costs the
    user one round trip to Telegram instead of three: the answer to the tapped button
    (exactly once, with the turn's first answer; by webhook, in the webhook's response:
    ``handlers.tap_answers``), the edits of the tapped message in order,
    and the new messages in order. Then the turn's jobs start (``handlers.background``).

    The turn is committed already: a cosmetic call that fails (the answer to a tap that
    expired, an edit of a message that is gone, a command menu Telegram refuses) is logged
    and the other replies still go out; only a message that could not be sent is an error."""
    query = update.callback_query
    chains = []
    if query is not None:
        first = next((a for a in replies.actions if a.kind == "answer"), None)
        chains.append(_cosmetic(
            "answer the tap",
            tap_answers.answer(query, limits.shorten(_text(first.text, lang), limits.MAX_ANSWER)
                               or None, show_alert=first.alert)
            if first is not None else tap_answers.answer(query),
        ))
        if query.message is not None:
            chains.append(_edit_tapped(query, [a for a in replies.actions if a.kind in _EDITS], lang))
    others = [a for a in replies.actions if a.kind not in ("answer", "job") and a.kind not in _EDITS]
    chains.append(_send_or_queue(context, update, others, lang))
    for result in await asyncio.gather(*chains, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result  # the first failure, reported by the error handler
    for action in replies.actions:
        if action.kind == "job" and action.job is not None:
            background.start(action.job, update, context)


async def _edit_tapped(query: CallbackQuery, actions: list[Action], lang: str) -> None:
    for action in actions:
        if action.kind == "edit_keyboard":
            await _cosmetic("edit the tapped keyboard",
                            _quietly(query.edit_message_reply_markup(inline(action.buttons or [], lang))))
        elif action.kind == "edit_message":
            await _edit_or_send(query, _text(action.text, lang), inline(action.buttons or [], lang))
        else:  # mark_chosen
            old = getattr(query.message, "text", None) or ""
            chosen = "\n→ " + _text(action.text, lang)
            old = limits.shorten(old, limits.MAX_TEXT - limits.units(chosen))
            await _cosmetic("mark the tapped choice",
                            _quietly(query.edit_message_text(f"{old}{chosen}", reply_markup=None)))


async def _edit_or_send(query: Any, text: str, markup: InlineKeyboardMarkup) -> None:
    """A menu moving to another view; if its message is gone (or can no longer be edited),
    the view comes as a new message."""
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as err:
        if "not modified" in str(err).lower():
            return
        log.warning("menu not edited (%s); sent anew", err)
        await query.get_bot().send_message(query.message.chat.id, text, reply_markup=markup)


async def _send_or_queue(
    context: ContextTypes.DEFAULT_TYPE, update: Update, actions: list[Action], lang: str
) -> None:
    """Send the turn's new messages; if the Bot API cannot be reached or answers 5xx or 429,
    what was not sent goes through the outbox (``casework.urgent``): the turn is committed,
    so the user's next question must not be lost, and the outbox sends it once."""
    sent: list[tuple[Action, int]] = []  # (action, pieces of it sent)
    try:
        await _send_in_order(context.bot, update.effective_chat, actions, lang, sent)
    except (NetworkError, RetryAfter) as err:
        if isinstance(err, BadRequest) or update.effective_user is None:
            raise  # the message itself is wrong: sending it later cannot help
        if not await _queue_unsent(context, update.effective_user.id, actions, sent, lang):
            raise
        log.warning("reply not sent (%s: %s); queued in the outbox", type(err).__name__, err)


async def _queue_unsent(context: ContextTypes.DEFAULT_TYPE, telegram_id: int,
                        actions: list[Action], sent: list[tuple[Action, int]], lang: str) -> bool:
    """Queue the messages of ``actions`` not in ``sent`` (files and reply keyboards too,
    each as it would have been sent); False if the user is unknown."""
    done = dict((id(a), n) for a, n in sent)
    parts: list[urgent.ReplyPart] = []
    for action in actions:
        if action.kind == "set_commands" or (action.kind != "send" and done.get(id(action))):
            continue  # sent; or the command menu: cosmetic, set again on /start or /language
        markup = _markup(action, lang)
        # a reply keyboard (or its removal) goes as the Bot API reads it; inline buttons as
        # (label, data) rows
        keyboard = (markup.to_dict() if markup is not None
                    and (action.remove_keyboard or action.reply_keyboard) else None)
        if action.kind == "file" and action.file is not None:
            caption = limits.shorten(_text(action.text, lang), limits.MAX_CAPTION)
            parts.append(urgent.ReplyPart(caption, keyboard=keyboard, file=action.file,
                                          buttons=_button_rows(action, lang)))
            continue
        if action.kind == "document" and action.document is not None:
            caption = limits.shorten(_text(action.text, lang), limits.MAX_CAPTION)
            parts.append(urgent.ReplyPart(caption, document=action.document))
            continue
        if action.kind != "send":
            continue
        pieces = limits.split(_text(action.text, lang))
        for i, piece in enumerate(pieces):
            if i >= done.get(id(action), 0):
                last = i == len(pieces) - 1
                parts.append(urgent.ReplyPart(piece, action.html,
                                              _button_rows(action, lang) if last else [],
                                              keyboard=keyboard if last else None))
    services = _services(context)

    def work() -> int:
        with Session(services.engine) as session:
            queued = urgent.queue_reply(session, telegram_id, parts, services.clock.now())
            session.commit()
            return queued

    queued = await asyncio.get_running_loop().run_in_executor(services.workers(), work)
    return queued == len(parts)


def _button_rows(action: Action, lang: str) -> list[list[tuple[str, str]]]:
    if action.remove_keyboard or action.reply_keyboard:
        return []  # _markup sends the reply keyboard, not these
    return [[(b.label.render(lang), b.data) for b in row] for row in action.buttons or []]


async def _send_in_order(bot: Bot, chat: Chat | None, actions: list[Action], lang: str,
                         sent: list[tuple[Action, int]] | None = None) -> None:
    """Send ``actions`` in order; ``sent`` notes how many pieces of each went out."""
    if chat is None:
        return
    sent = [] if sent is None else sent
    for action in actions:
        if action.kind == "send":
            # too long for one message: in pieces, the buttons under the last one
            pieces = limits.split(_text(action.text, lang))
            sent.append((action, 0))
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                await bot.send_message(
                    chat.id, piece, reply_markup=_markup(action, lang) if last else None,
                    parse_mode=ParseMode.HTML if action.html else None,
                )
                sent[-1] = (action, i + 1)
            continue
        sent.append((action, 0))
        if action.kind == "set_commands":
            from handlers.menu import commands_for

            await _cosmetic("set the command menu", bot.set_my_commands(
                [BotCommand(name, text.render(lang)) for name, text in commands_for(str(action.text))],
                scope=BotCommandScopeChat(chat.id),
            ))
        elif action.kind == "file" and action.file is not None:
            kind, file_id = action.file
            send = bot.send_photo if kind == "photo" else bot.send_document
            caption = limits.shorten(_text(action.text, lang), limits.MAX_CAPTION)
            await send(chat.id, file_id, caption=caption or None, reply_markup=_markup(action, lang))
        elif action.kind == "document" and action.document is not None:
            name, data = action.document
            caption = limits.shorten(_text(action.text, lang), limits.MAX_CAPTION)
            await bot.send_document(chat.id, data, filename=name, caption=caption or None)
        sent[-1] = (action, 1)


async def _cosmetic(what: str, call: Awaitable[Any]) -> None:
    """A call whose failure costs the user nothing they need: logged, not raised."""
    try:
        await call
    except TelegramError as err:
        log.warning("after the turn, could not %s: %s", what, err)


async def _quietly(call: Awaitable[Any]) -> None:
    # an edit that changes nothing (a double tap) is not an error worth a message
    try:
        await call
    except BadRequest as err:
        if "not modified" not in str(err).lower():
            raise
