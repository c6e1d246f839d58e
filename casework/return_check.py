""""Is the child back?": one question, asked on a date the family or a notice set.

Two dates come from outside the school's own work: the day a family promised the child
would be back (a visit's promise, ``promise`` rows) and the last day the notice to return
to school (限期复学通知书) gives the guardian (``return_check`` rows, made when the notice
is issued). On each, the people the case's current level makes responsible are asked the
same question, with two buttons:

- **yes**: the return is recorded (``ladder.mark_returned``: retention check-ins follow);
- **no**: the answer is recorded as a case event and the ladder goes on as it stands: the
  next deadline is not moved, and when it passes the case moves up as usual.

The question is the guardian's or the family's date, never worded as the officer's own
deadline; nothing happens to the case if nobody answers (the ladder's own rows act).
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from sqlmodel import col, select

from casework import bodies, deadlines, ladder, notices, states
from casework.callbacks import ChildBack, OpenCase
from casework.clock import from_db, to_db
from casework.context import Casework
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, day_text, n_
from casework.notices import case_title
from casework.outbox import text_to_json
from models.tables import Case, CaseEvent, Deadline, User

Why = Literal["promise", "notice"]
KIND = "return_check"  # the guardian's deadline under the notice (promises have their own kind)


def ask(cw: Casework, case: Case, why: Why, day: date) -> list[User]:
    """Ask the responsible of the case's level whether the child is back; one message each
    (a second row for the same case, reason and day asks nobody twice)."""
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    users = [u for u in bodies.responsible(cw, case, level) if not u.unreachable]
    title = case_title(cw, case)
    text: Text
    if why == "promise":
        text = _("The family promised {title} would be back at school by today ({date}). Is the child back?",
                 title=title, date=day_text(day))
    else:
        text = _("Today ({date}) is the last day the notice to return to school gives the guardian of {title}. "
                 "Is the child back at school?", title=title, date=day_text(day))
    buttons = [
        [_button(_("✅ Yes, back at school"), ChildBack(case.id or 0, back=True).encode()),
         _button(_("❌ No, not back"), ChildBack(case.id or 0, back=False).encode())],
        [_button(_("Open case"), OpenCase(case.id or 0).encode())],
    ]
    merge = notices.Merge(
        text,
        [_button(Text("✅ #{id}", {"id": case.id}), ChildBack(case.id or 0, back=True).encode()),
         _button(Text("❌ #{id}", {"id": case.id}), ChildBack(case.id or 0, back=False).encode())],
        lambda n: n_("Is the child back? ✅ back at school, ❌ not back.",
                     "Are these {n} children back? ✅ back at school, ❌ not back.", n),
    )
    return notices.send_merged(cw, users, case, "return_check", text, buttons=buttons, merge=merge,
                               dedupe=f"back:{why}:{case.id}:{day.isoformat()}")


def _button(label: Text, data: str) -> dict[str, object]:
    return {"text": text_to_json(label), "data": data}


def on_promise(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """A ``promise`` row: the day the family promised has come."""
    assert case is not None
    # a promise made on a visit during a deferral whose persuasion goes on is asked too
    if case.state not in states.visit_states(cw.policy.deferral.persuasion):
        return "stale"
    told = ask(cw, case, "promise", cw.calendars.local_date(from_db(deadline.due_at)))
    return f"promise check to {len(told)}"


def on_notice_due(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """A ``return_check`` row: the guardian's last day under the notice has come."""
    assert case is not None
    if case.state != "deadline_notice":
        return "stale"
    told = ask(cw, case, "notice", date.fromisoformat(str(deadline.payload["due_on"])))
    return f"return check to {len(told)}"


def answer(cw: Casework, actor: User, case_id: int, back: bool) -> Text:
    """The answer to the question: yes records the return, no notes it and the ladder goes
    on. Returns what the person who answered reads."""
    case = ladder.load_case(cw, actor, case_id, "mark_returned" if back else "record_visit")
    if case.state in (states.RETURNED, states.RETENTION):
        # someone else answered first (the question went to each responsible person)
        return _("Case #{id}: the return is already recorded.", id=case.id)
    if back:
        return ladder.mark_returned(cw, actor, case_id).message
    ladder.check_visitable(cw, case)
    today = cw.calendars.at_local(cw.today(), time(0, 0))
    if cw.session.exec(select(CaseEvent.id).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "not_back",
            col(CaseEvent.at) >= to_db(today))).first() is None:  # a second tap records nothing more
        ladder.record_event(cw, case, actor, "not_back", from_state=case.state)
        cw.audit(actor, "case.not_back", "case", case.id)
    due = deadlines.next_due(cw, case)
    state = _(STATE_LABELS[case.state])
    if due is not None and case.state == states.DEFERRED:
        # the deferral goes on, and so does its persuasion: nothing climbs the ladder
        message = _("Noted: the child of case #{id} is not back. The deferral goes on; the next visit is due "
                    "by {date}.", id=case.id, date=day_text(cw.calendars.local_date(from_db(due))))
    elif due is None:
        message = _("Noted: the child of case #{id} is not back. The case stays at {state}.",
                    id=case.id, state=state)
    else:
        message = _("Noted: the child of case #{id} is not back. The case stays at {state}; "
                    "if the child is still not back by {date}, it goes on up the ladder.",
                    id=case.id, state=state, date=day_text(cw.calendars.local_date(from_db(due))))
    return message
