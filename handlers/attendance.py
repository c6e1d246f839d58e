"""The buttons of the attendance prompts (routed from ``handlers.buttons``; the data is
``casework.callbacks.AttendanceAnswer`` / ``RollCallAnswer``):

- ``atd:<class>:<yyyymmdd>:a`` All present — recorded at once, thanks;
- ``atd:<class>:<yyyymmdd>:s`` Some absent — the ``attendance`` flow asks who and why;
- ``rc:<class>:<term start yyyymmdd>:a`` Everyone has reported — recorded at once;
- ``rc:<class>:<term start yyyymmdd>:s`` Some have not — the ``rollcall`` flow asks who.

Nothing in the data is trusted: ``casework.attendance`` checks that the class is one the
user takes attendance for (a refusal is audited) and that the day can still be answered.
Malformed data is refused by the codec, and ``buttons.route`` says the button is no longer
in use.
"""

from __future__ import annotations

from casework.attendance import prompts, roll_call
from casework.callbacks import AttendanceAnswer, RollCallAnswer
from casework.i18n import _
from conversations import engine
from conversations.flows.attendance import send_recorded


def tap_attendance(turn: engine.Turn, tap: AttendanceAnswer) -> None:
    class_id, day = tap.class_id, tap.day
    if tap.all_present:
        out = prompts.record_attendance(turn.cw, turn.user, class_id, day)
        turn.replies.answer()
        turn.replies.mark_chosen(_("✅ All present"))
        send_recorded(turn, out)
        return
    # refused here, before any question, if the class or the day is not the user's to answer;
    # the prompt keeps its buttons, so a cancelled list can be started again from it
    prompts.check_answerable(turn.cw, turn.user, class_id, day)
    turn.replies.answer()
    engine.start(turn, "attendance", class_id=class_id, day=day.isoformat())


def tap_roll_call(turn: engine.Turn, tap: RollCallAnswer) -> None:
    class_id, term_start = tap.class_id, tap.day
    if tap.all_present:
        out = roll_call.record_roll_call(turn.cw, turn.user, class_id, term_start)
        turn.replies.answer()
        turn.replies.mark_chosen(_("✅ Everyone has reported"))
        send_recorded(turn, out)
        return
    roll_call.open_roll_call(turn.cw, turn.user, class_id, term_start)
    turn.replies.answer()
    engine.start(turn, "rollcall", class_id=class_id, term_start=term_start.isoformat())
