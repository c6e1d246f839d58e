"""Onboarding: an invite link → share your phone number → pick a language → the menu.

Where a new user stands is read off their row (inactive, phone or not), so it survives a
restart like every other conversation. Without a valid invite nobody learns anything but
one polite explanation.
"""

from __future__ import annotations

from casework import invites, validation
from casework.errors import ValidationError
from casework.i18n import Text, _, normalize_language
from conversations import engine
from conversations.engine import Turn
from handlers import menu


def no_access_text() -> Text:
    """What anyone the bot does not know reads, whatever they send."""
    return _(
        "This bot is for teachers, village cadres and education officers working on "
        "dropout control (控辍保学). To use it, ask your township or county education "
        "office for an invitation link."
    )


def start_with_code(turn: Turn, code: str, telegram_id: int, name: str) -> None:
    """``/start CODE`` from someone the bot does not know yet."""
    user = invites.redeem(turn.cw, code, telegram_id, name, normalize_language(turn.lang))
    if user is None:
        turn.replies.send(no_access_text())
        return
    turn.user = user
    turn.lang = user.language
    ask_phone(turn)


def ask_phone(turn: Turn) -> None:
    turn.replies.ask_contact(
        _("Welcome! To finish joining, please share your phone number with the button below."),
        _("📱 Share my phone number"),
    )


def resume(turn: Turn) -> None:
    """An invited user who has not finished: ask the step they are on."""
    if not turn.user.phone:
        ask_phone(turn)
    else:
        menu.ask_language(turn)


def contact_shared(turn: Turn, phone: str, own: bool) -> None:
    if not own:
        turn.replies.send(_("Please share your own number with the button, not someone else's."))
        ask_phone(turn)
        return
    try:
        turn.user.phone = validation.phone(phone)
    except ValidationError as err:
        turn.replies.send(err.text)
        ask_phone(turn)
        return
    turn.cw.session.add(turn.user)
    turn.replies.send_removing_keyboard(_("Thank you."))
    menu.ask_language(turn)


def language_chosen(turn: Turn, lang: str) -> None:
    """A tap on 中文 / English: the last onboarding step, or a switch at any time.

    A switch in the middle of a flow asks the same step again, now in the new language
    (the buttons carry codes, so the answers given so far stay valid)."""
    user = turn.user
    if not user.active and not user.phone:  # a stale language button before the phone
        turn.replies.answer()
        ask_phone(turn)
        return
    turn.lang = normalize_language(lang)
    turn.replies.answer()
    turn.replies.mark_chosen(Text("中文" if turn.lang == "zh_Hans" else "English"))
    if not user.active:
        invites.activate(turn.cw, user, user.phone or "", turn.lang)
        turn.replies.set_commands(user.role)
        menu.show_help(turn)
        menu.show_menu(turn, _("You are all set."))
        return
    user.language = turn.lang
    turn.cw.session.add(user)
    turn.replies.set_commands(user.role)
    turn.replies.send(_("Language set to English.") if turn.lang == "en" else _("Language set to Chinese."))
    conv = engine.active_conversation(turn)
    if conv is not None:
        turn.conv, turn.flow = conv, engine.REGISTRY[conv.flow]
        engine.prompt(turn)
