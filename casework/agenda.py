"""Each person's agenda: at the policy's times (``times.agenda``), one message per slot with
the day's and the overdue work, each case a line and a button; only what must be acted on at
once comes on its own (an escalation to acknowledge, a review waiting, "is the child back?").

Why: with 150 open cases one school admin got 660 separate messages in six days (a message
per reminder, per level entered, per case moved up), paced at one a second per chat; a real
person mutes such a bot, and then misses the alert that matters.

How it runs:

- ``casework.notices`` writes the messages of ``outbox.HELD_KINDS`` as usual, but *held*
  (outbox status ``held``): the sender does not send them. A held row keeps its own text.
  Not held all the same: a message about work due before the next slot
  (:func:`casework.agenda_slots.waits_past`:
  a reminder on the evening or the holiday its deadline falls on, a reminder in hours), as
  the profile's deadline must not pass while its reminder waits.
- :func:`plan_agenda`, a planner, creates one caseless ``agenda`` row per slot on each
  statutory working day (key ``agenda:<local date>:<HH:MM>``); the handler fans out.
- :func:`handle_agenda`: for each person with held rows, and at the day's first slot for
  each person responsible for an overdue case (the digests' rule, ``casework.digest``), one
  message: a line per case (a held row's text, else the digests' overdue line), one line
  per case however many rows it had (the last visit's reminder and the step's on the same
  day are one line), each with a button that opens the case and its actions. The held rows
  become ``folded``. Nothing to say, no message.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from casework import bodies, deadlines, digest, states
from casework.agenda_slots import next_slot, waits_past
from casework.callbacks import OpenCase
from casework.clock import from_db, to_db
from casework.context import Casework
from casework.i18n import Text, _
from casework.labels import day_text, n_
from casework.outbox import FOLDED, HELD, HELD_KINDS, enqueue, text_from_json, text_to_json
from casework.personal import mask_name
from models.tables import Case, Deadline, OutboxMessage, Student, User

log = logging.getLogger(__name__)

KIND = "agenda"
# a slot missed by more than this (the bot was down) is not sent late: the next one is near
MAX_LATE = timedelta(hours=3)
# cases named in one agenda, a line and a button each (a phone's screen; Telegram's limits)
LISTED = 15
# which held row speaks for a case when it has several: the most pressing first
_RANK = {"overdue": 0, "reminder": 1, "home_teaching": 2, "level_entered": 3, "moved_up": 3, "returned": 3}
__all__ = ["FOLDED", "HELD", "HELD_KINDS", "KIND", "handle_agenda", "next_slot", "plan_agenda", "waits_past"]


# --- the calendar ---------------------------------------------------------------------------


def _slots(cw: Casework) -> list[tuple[str, datetime]]:
    """The slots to plan now: today's and the next working day's (keys and instants)."""
    cal, today = cw.calendars, cw.today()
    days = [today] if cal.is_working_day(today) else []
    days.append(cal.next_working_day(today))
    found = []
    for day in days:
        for at in cw.policy.times.agenda:
            due = cal.at_local(day, at)
            if due > cw.now() - MAX_LATE:
                found.append((f"{KIND}:{day.isoformat()}:{at.strftime('%H:%M')}", due))
    return found


def plan_agenda(cw: Casework) -> None:
    """Planner: one ``agenda`` row per slot (idempotent on its key)."""
    slots = _slots(cw)
    if not slots:
        return
    planned = set(cw.session.exec(
        select(Deadline.dedupe_key).where(col(Deadline.dedupe_key).in_([k for k, _due in slots]))
    ).all())
    for key, due in slots:
        if key not in planned:
            first = cw.policy.times.agenda[0].strftime("%H:%M")
            deadlines.plan_job(cw, KIND, due, key=key, first=key.endswith(first))


# --- the message ----------------------------------------------------------------------------


def _overdue_by_person(cw: Casework, end: datetime) -> tuple[dict[int, list[int]], dict[int, datetime]]:
    """Overdue case ids (the digests' rule) per person the case's level makes responsible,
    and each overdue case's earliest passed deadline."""
    active = {cid: state for cid, state in cw.session.exec(
        select(Case.id, Case.state).where(col(Case.state).in_(list(states.ACTIVE)))).all() if cid}
    if not active:
        return {}, {}
    on_ladder = select(Case.id).where(col(Case.state).in_(list(states.ACTIVE)))
    overdue = digest.overdue_among(cw, on_ladder, active, end)
    mine: dict[int, list[int]] = defaultdict(list)
    for case_id, _due in sorted(overdue.items(), key=lambda item: (item[1], item[0])):
        case = cw.session.get(Case, case_id)
        if case is None or case.level is None or not cw.policy.has_level(case.level):  # type: ignore[arg-type]
            continue  # a level another profile had: the digests still count it
        level = cw.policy.level(case.level)  # type: ignore[arg-type]
        for user in bodies.responsible(cw, case, level):
            mine[user.id or 0].append(case_id)
    return mine, overdue


def handle_agenda(cw: Casework, deadline: Deadline, case: Case | None) -> str:
    """Handler of a due ``agenda`` row: one message per person with work."""
    now = cw.now()
    if now - from_db(deadline.due_at) > MAX_LATE:
        return "too late"
    held = list(cw.session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.status == HELD, col(OutboxMessage.not_before) <= to_db(now))
        .order_by(col(OutboxMessage.recipient_id), col(OutboxMessage.id))
    ).all())
    rows_of: dict[int, list[OutboxMessage]] = defaultdict(list)
    for row in held:
        rows_of[row.recipient_id].append(row)
    overdue_of, overdue = _overdue_by_person(cw, now) if deadline.payload.get("first") else ({}, {})
    sent = 0
    for user_id in sorted(set(rows_of) | set(overdue_of)):
        user = cw.session.get(User, user_id)
        rows = rows_of.get(user_id, [])
        for row in rows:
            row.status = FOLDED
            cw.session.add(row)
        if user is None or not user.active or user.unreachable or user.telegram_id is None:
            continue
        if _send_agenda(cw, user, rows, {cid: overdue[cid] for cid in overdue_of.get(user_id, [])}, now):
            sent += 1
    return f"agenda to {sent}"


def _send_agenda(cw: Casework, user: User, rows: list[OutboxMessage], overdue: dict[int, datetime],
                 now: datetime) -> bool:
    # one line per case: its most pressing held row; then its overdue line if it had none
    best: dict[int | None, OutboxMessage] = {}
    general: list[OutboxMessage] = []
    for row in rows:
        if row.case_id is None:
            general.append(row)
            continue
        kept = best.get(row.case_id)
        # work to do before news; of two alike, the later (rows come oldest first)
        if kept is None or _RANK.get(row.kind, 9) <= _RANK.get(kept.kind, 9):
            best[row.case_id] = row
    case_ids = [*best, *(cid for cid in overdue if cid not in best)]
    if not case_ids and not general:
        return False
    listed = [cid for cid in case_ids if cid is not None][:LISTED]
    cases = {c.id or 0: c for c in cw.session.exec(select(Case).where(col(Case.id).in_(listed))).all()}
    names = dict(cw.session.exec(select(Student.id, Student.name).where(
        col(Student.id).in_([c.student_id for c in cases.values()]))).all())
    overdue_named = {c.case_id: c for c in digest.name_overdue(
        cw, cases, {cid: due for cid, due in overdue.items() if cid in cases and cid not in best}, now,
        limit=LISTED)}
    lines: list[Text] = [text_from_json(row.payload["text"]) for row in general]
    buttons: list[list[dict[str, Any]]] = []
    for cid in listed:
        case = cases.get(cid)
        if case is None:
            continue
        held_row = best.get(cid)
        if held_row is not None:
            lines.append(text_from_json(held_row.payload["text"]))
        else:
            named = overdue_named.get(cid)
            if named is None:
                continue
            lines.append(digest.overdue_line(named))
        label = Text("#{id} {name}", {"id": cid, "name": mask_name(names.get(case.student_id)) or "?"})
        buttons.append([{"text": text_to_json(label), "data": OpenCase(cid).encode()}])
    more = len([c for c in case_ids if c is not None]) - len(listed)
    if more > 0:
        lines.append(_("…and {n} more: see /cases.", n=more))
    local = now.astimezone(cw.policy.tz)
    heading = n_("Your work for {date} ({time}): {n} case.", "Your work for {date} ({time}): {n} cases.",
                 len(listed) + max(more, 0), date=day_text(local.date()),
                 time=local.strftime("%H:%M"))
    message = enqueue(cw.session, user, heading, kind=KIND, now=now, buttons=buttons)
    message.payload = {**message.payload, "lines": [text_to_json(t) for t in lines]}
    return True
