"""The buttons of the attendance prompts (routed from ``handlers.buttons``; the data is
``casework.callbacks.AttendanceAnswer`` / ``RollCallAnswer``):

- ``atd:<class>:<yyyymmdd>:a`` All present — recorded at once, thanks;
- ``atd:<class>:<yyyymmdd>:s`` Some absent — the ``attendance`` flow asks who and why;
- ``rc:<class>:<term start yyyymmdd>:a`` Everyone has reported — recorded at once;
- ``rc:<class>:<term start yyyymmdd>:s`` Some have not — the ``rollcall`` flow asks who.

An answered prompt is edited to show the answer and offers only ``…:e`` "Change the
answer", which shows what would change and asks to confirm (``…:ay`` / ``…:sy``); a stale
✅/📝 on an answered day gets the same question and overwrites nothing (the domain refuses
an unconfirmed change too).

Nothing in the data is trusted: ``casework.attendance`` checks that the class is one the
user takes attendance for (a refusal is audited) and that the day can still be answered.
Malformed data is refused by the codec, and ``buttons.route`` says the button is no longer
in use.
"""

from __future__ import annotations

from casework.attendance import prompts, roll_call
from casework.callbacks import CHANGE, CONFIRMED, AttendanceAnswer, RollCallAnswer
from casework.i18n import Text, _
from conversations import engine
from conversations.flows.attendance import send_recorded
from conversations.replies import Button

CHANGE_LABEL = _("✏️ Change the answer")


def _show_answered(turn: engine.Turn, text: Text, change: str) -> None:
    """The tapped prompt, edited: the answer recorded, and only "Change the answer"."""
    turn.replies.edit_message(turn.t(text), [[Button(CHANGE_LABEL, change)]])


def _ask_to_change(turn: engine.Turn, preview: Text, would_change: bool,
                   confirm_all: str, redo: str, redo_label: Text) -> None:
    """What is recorded and what a change would do; nothing is overwritten before a tap here."""
    rows = [[Button(_("✅ Confirm: change to all present"), confirm_all)]] if would_change else []
    rows.append([Button(redo_label, redo)])
    turn.replies.edit_message(turn.t(preview), rows)


def tap_attendance(turn: engine.Turn, tap: AttendanceAnswer) -> None:
    class_id, day = tap.class_id, tap.day
    cw = turn.cw
    klass = prompts.check_answerable(cw, turn.user, class_id, day)
    change = AttendanceAnswer(class_id, day, False, CHANGE).encode()
    is_answered = prompts.answered(cw, class_id, day) is not None
    if tap.stage == CHANGE or (tap.stage != CONFIRMED and is_answered):
        # a stale ✅/📝 of an answered day is taken as "change the answer": it asks first
        preview, would_change = prompts.change_preview(cw, turn.user, class_id, day)
        turn.replies.answer()
        _ask_to_change(turn, preview, would_change,
                       AttendanceAnswer(class_id, day, True, CONFIRMED).encode(),
                       AttendanceAnswer(class_id, day, False, CONFIRMED).encode(),
                       _("📝 Change the list of absent pupils"))
        return
    confirmed = tap.stage == CONFIRMED
    if tap.all_present:
        out = prompts.record_attendance(cw, turn.user, class_id, day, confirmed_change=confirmed)
        turn.replies.answer()
        _show_answered(turn, prompts.recorded_text(cw, klass, day), change)
        send_recorded(turn, out)
        return
    # the prompt keeps its buttons until the list is confirmed, so a cancelled list can be
    # started again from it (the domain refuses an answered day's unconfirmed overwrite)
    turn.replies.answer()
    engine.start(turn, "attendance", class_id=class_id, day=day.isoformat(), change=confirmed)


def tap_roll_call(turn: engine.Turn, tap: RollCallAnswer) -> None:
    class_id, term_start = tap.class_id, tap.day
    cw = turn.cw
    change = RollCallAnswer(class_id, term_start, False, CHANGE).encode()
    is_answered = roll_call.roll_call_answered(cw, turn.user, class_id, term_start)
    if tap.stage == CHANGE or (tap.stage != CONFIRMED and is_answered):
        preview, would_change = roll_call.roll_call_preview(cw, turn.user, class_id, term_start)
        turn.replies.answer()
        rows = ([[Button(_("✅ Confirm: everyone has reported"),
                         RollCallAnswer(class_id, term_start, True, CONFIRMED).encode())]]
                if would_change else [])
        rows.append([Button(_("📝 Change the list of pupils not reported"),
                            RollCallAnswer(class_id, term_start, False, CONFIRMED).encode())])
        turn.replies.edit_message(turn.t(preview), rows)
        return
    confirmed = tap.stage == CONFIRMED
    if tap.all_present:
        out = roll_call.record_roll_call(cw, turn.user, class_id, term_start,
                                         confirmed_change=confirmed)
        turn.replies.answer()
        _show_answered(turn, roll_call.roll_call_preview(cw, turn.user, class_id, term_start)[0],
                       change)
        send_recorded(turn, out)
        return
    turn.replies.answer()
    engine.start(turn, "rollcall", class_id=class_id, term_start=term_start.isoformat(),
                 change=confirmed)
