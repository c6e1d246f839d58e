"""The teacher's side of the daily attendance and of the term-start roll call (报到).

    prompt ─┬─ ✅ All present ─────────────────────────────────────────→ recorded (no flow)
            └─ 📝 Some absent ─ abs ─ why (once per pupil picked) ─ [summary] ─ Confirm
    roll call ─┬─ ✅ Everyone has reported ──────────────────────────────→ recorded (no flow)
               └─ 📝 Some have not ─ miss ─ [summary] ─ Confirm

The buttons of the prompts (``atd:…`` / ``rc:…``) are answered in ``handlers.attendance``;
these two flows take over when somebody is away. Started from a confirmed "Change the
answer" (``change`` in the draft), their Confirm may replace an answer already recorded;
otherwise the domain refuses to overwrite one. Two pupils away, one on sick leave, is
7 taps and nothing typed: Some absent, the two names, Done, Sick leave, Unexcused,
Confirm. The roster is the class's, 8 names a page; typing part of a name narrows it.
What the answer set off (a case opened, a visit to make) comes back in the same reply,
with its buttons.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from casework import attendance, callbacks
from casework.attendance import prompts, roll_call
from casework.i18n import Text, _
from casework.labels import join
from conversations.engine import Flow, Option, Step, Turn, register
from conversations.formatting import fmt_date
from conversations.replies import Button
from models.tables import SchoolClass, Student

ANSWERERS = frozenset({"teacher", "school_admin", "admin"})
# the three answers for one absent pupil: code after the pupil's id in the option code
WHY: dict[str, tuple[str, str | None, Text]] = {
    "sick": (attendance.EXCUSED, "sick", _("🤒 Sick leave (excused)")),
    "leave": (attendance.EXCUSED, "leave", _("📄 Approved leave (excused)")),
    "u": (attendance.UNEXCUSED, None, _("❌ Unexcused")),
}


def send_recorded(turn: Turn, out: attendance.Recorded) -> None:
    """The answer's reply: what was recorded, then what it set off, in one message."""
    lines = [turn.t(out.message), *(turn.t(f.text) for f in out.followups)]
    buttons: dict[str, Button] = {}
    for followup in out.followups:
        for label, data in followup.buttons:
            buttons.setdefault(data, Button(label, data))
    # what to do first ("Record a visit"), "Open case" last; each button once
    ordered = sorted(buttons.values(), key=lambda b: isinstance(callbacks.decode(b.data), callbacks.OpenCase))
    rows = [ordered[i : i + 2] for i in range(0, len(ordered), 2)]
    turn.replies.send_text("\n".join(lines), rows or None)


# --- shared: the class and its roster ---------------------------------------------------------


def _class(turn: Turn) -> SchoolClass:
    klass = turn.cw.session.get(SchoolClass, int(turn.draft["class"]))
    assert klass is not None
    return klass


def _pupils(turn: Turn) -> list[Student]:
    return attendance.roster(turn.cw, _class(turn))


def _roster_options(turn: Turn) -> list[Option]:
    return [Option(str(s.id), Text(s.name)) for s in _pupils(turn)]


def _roster_search(turn: Turn, text: str) -> list[Option]:
    needle = text.strip()
    return [o for o in _roster_options(turn) if needle and needle in o.label.msgid]


def _names(turn: Turn, ids: list[str]) -> dict[str, str]:
    by_id = {str(s.id): s.name for s in _pupils(turn)}
    return {i: by_id.get(i, "?") for i in ids}


# --- the daily attendance: who is away, and why ---------------------------------------------------


def _day(turn: Turn) -> date:
    return date.fromisoformat(turn.draft["day"])


def _begin_attendance(turn: Turn, args: dict[str, Any]) -> None:
    # checked again here: the flow may be resumed from an old button
    klass = prompts.check_answerable(turn.cw, turn.user, int(args["class_id"]),
                                        date.fromisoformat(args["day"]))
    turn.draft["class"] = klass.id
    turn.draft["day"] = args["day"]
    # started from "Change the answer" confirmed: the summary's Confirm may overwrite
    turn.draft["change"] = bool(args.get("change"))


def _abs_prompt(turn: Turn) -> Text:
    return _("Who is absent, {klass}, {date}? Tap each name, then Done.",
             klass=attendance.class_text(turn.cw, _class(turn)),
             date=fmt_date(_day(turn), turn.lang))


def _pending(turn: Turn) -> list[str]:
    """The pupils picked whose reason is still to be asked, in the order they were picked."""
    reasons = turn.draft.get("reasons") or {}
    return [sid for sid in turn.draft.get("abs") or [] if sid not in reasons]


def _after(turn: Turn) -> str | None:
    return "why" if _pending(turn) else None


def _why_prompt(turn: Turn) -> Text:
    pending = _pending(turn)
    chosen = turn.draft.get("abs") or []
    sid = pending[0] if pending else ""
    return _("{name} ({n} of {total}): why absent?", name=_names(turn, [sid]).get(sid, "?"),
             n=len(chosen) - len(pending) + 1, total=len(chosen))


def _why_options(turn: Turn) -> list[Option]:
    # the pupil's id is part of each code: a late tap on the previous pupil's buttons is
    # "no longer offered", never taken as the answer for the next pupil
    pending = _pending(turn)
    if not pending:
        return []
    return [Option(f"{pending[0]}.{code}", label) for code, (_s, _r, label) in WHY.items()]


def _store_why(turn: Turn, value: str) -> None:
    sid, _dot, code = value.partition(".")
    turn.draft["reasons"] = {**(turn.draft.get("reasons") or {}), sid: code}


def _undo_why(turn: Turn) -> None:
    """Back to "why absent?": the last reason given is asked again (the step is asked once
    per pupil, so its answer is undone rather than offered to keep)."""
    reasons = dict(turn.draft.get("reasons") or {})
    answered = [sid for sid in turn.draft.get("abs") or [] if sid in reasons]
    if answered:
        reasons.pop(answered[-1])
    turn.draft["reasons"] = reasons


def _show_absent(turn: Turn) -> Text | None:
    chosen: list[str] = turn.draft.get("abs") or []
    if not chosen:
        return None
    names = _names(turn, chosen)
    reasons = turn.draft.get("reasons") or {}
    return join(
        _("{name} ({why})", name=names[sid],
          why=attendance.excuse_text(WHY[reasons[sid]][0], WHY[reasons[sid]][1]))
        if sid in reasons else Text(names[sid])
        for sid in chosen
    )


def _attendance_title(turn: Turn) -> Text:
    return _("Attendance, {klass}, {date}",
             klass=attendance.class_text(turn.cw, _class(turn)),
             date=fmt_date(_day(turn), turn.lang))


def _finish_attendance(turn: Turn) -> None:
    reasons = turn.draft.get("reasons") or {}
    absences = [
        prompts.Absence(int(sid), WHY[reasons[sid]][0], WHY[reasons[sid]][1])
        for sid in turn.draft.get("abs") or []
    ]
    out = prompts.record_attendance(turn.cw, turn.user, int(turn.draft["class"]), _day(turn),
                                    absences, confirmed_change=bool(turn.draft.get("change")))
    send_recorded(turn, out)


ATTENDANCE = register(
    Flow(
        name="attendance",
        title=_("Daily attendance"),
        roles=ANSWERERS,
        begin=_begin_attendance,
        summary_title=_attendance_title,
        steps=(
            Step("abs", _("Absent"), _abs_prompt, "multi", options=_roster_options,
                 search=_roster_search, next=_after, show=_show_absent, editable=False),
            Step("why", _("Reason"), _why_prompt, "choice", options=_why_options,
                 store=_store_why, next=_after, in_summary=False, editable=False, undo=_undo_why),
        ),
        finish=_finish_attendance,
    )
)


# --- the term-start roll call: who has not reported -------------------------------------------------


def _begin_roll_call(turn: Turn, args: dict[str, Any]) -> None:
    klass, _rc = roll_call.open_roll_call(turn.cw, turn.user, int(args["class_id"]),
                                           date.fromisoformat(args["term_start"]))
    turn.draft["class"] = klass.id
    turn.draft["term"] = args["term_start"]
    turn.draft["change"] = bool(args.get("change"))


def _miss_prompt(turn: Turn) -> Text:
    return _("Who has not reported yet, {klass}? Tap each name, then Done.",
             klass=attendance.class_text(turn.cw, _class(turn)))


def _show_missing(turn: Turn) -> Text | None:
    chosen: list[str] = turn.draft.get("miss") or []
    return join(_names(turn, chosen).values()) if chosen else None


def _roll_call_title(turn: Turn) -> Text:
    return _("Term-start roll call, {klass}", klass=attendance.class_text(turn.cw, _class(turn)))


def _finish_roll_call(turn: Turn) -> None:
    out = roll_call.record_roll_call(
        turn.cw, turn.user, int(turn.draft["class"]), date.fromisoformat(turn.draft["term"]),
        [int(sid) for sid in turn.draft.get("miss") or []],
        confirmed_change=bool(turn.draft.get("change")),
    )
    send_recorded(turn, out)


ROLL_CALL = register(
    Flow(
        name="rollcall",
        title=_("Term-start roll call"),
        roles=ANSWERERS,
        begin=_begin_roll_call,
        summary_title=_roll_call_title,
        steps=(
            Step("miss", _("Not reported"), _miss_prompt, "multi", options=_roster_options,
                 search=_roster_search, next=None, show=_show_missing, editable=False),
        ),
        finish=_finish_roll_call,
    )
)
