"""Every kind of deadline row and every calendar-job planner, registered in one place.

Every process imports this module at start-up (``bot.runtime``, which the bot, the CLI
and the sandbox boot through; the scheduler's tick; the tests' conftest), and importing it
hands the table down to ``casework.deadlines`` (:func:`deadlines.install_kinds`), which
checks and dispatches rows by it, so a process knows every kind whatever else it has
imported; a process that forgot it is refused loudly, never silently. Registration used to happen as a side effect of importing
``casework.attendance``, ``casework.digest`` or ``casework.reports``: a process that had
not imported ``casework.reports`` marked the monthly report's row done with "unknown kind"
and the report was never sent.

To add a kind: write its handler next to its domain, add one :class:`Kind` line below
(and its planner to :data:`PLANNERS` if it is a calendar job). ``tests/test_kinds.py``
reads the source for every kind the code can create and fails if one is missing here. A
row of a kind not registered here is refused when created (``deadlines.check_kind``) and,
if one exists anyway (written by a newer version), is never marked done: the tick logs
an error and leaves it due for a process that knows it.
"""

from __future__ import annotations

from collections.abc import Callable

from casework import (
    agenda,
    calendar_notice,
    deadlines,
    digest,
    ladder_timers,
    reports,
    return_check,
)
from casework.attendance import prompts, roll_call
from casework.context import Casework
from casework.deadlines import Kind
from casework.verification import importing as verification_import
from casework.verification import work as verification_work

__all__ = ["KINDS", "PLANNERS", "Kind", "Planner"]

Planner = Callable[[Casework], None]


def _table(*kinds: Kind) -> dict[str, Kind]:
    table: dict[str, Kind] = {}
    for kind in kinds:
        if kind.name in table:
            raise ValueError(f"deadline kind {kind.name!r} registered twice")
        table[kind.name] = kind
    return table


KINDS: dict[str, Kind] = _table(
    # the case ladder (casework.deadlines; step and resume in casework.ladder_timers)
    Kind("step", ladder_timers.on_step),
    Kind("round", deadlines.on_round),
    Kind("reminder", deadlines.on_reminder),
    Kind("ack", deadlines.on_ack),
    Kind("promise", return_check.on_promise),  # "is the child back?" (casework.return_check)
    Kind(return_check.KIND, return_check.on_notice_due),
    Kind("retention", deadlines.on_retention),
    Kind("resume", ladder_timers.on_resume),
    Kind("deferral_end", deadlines.on_deferral_end),
    Kind("home_teaching", deadlines.on_home_teaching),
    # attendance: the daily prompt and the term-start roll call (casework.attendance)
    Kind(prompts.PROMPT, prompts.on_prompt, caseless=True),
    Kind(prompts.CUTOFF, prompts.on_cutoff, caseless=True),
    Kind(roll_call.RC_PROMPT, roll_call.on_roll_call_prompt, caseless=True),
    Kind(roll_call.RC_CUTOFF, roll_call.on_roll_call_cutoff, caseless=True),
    Kind(roll_call.RC_CLOSE, roll_call.on_roll_call_close, caseless=True),
    # the officers' digests and the periodic reports
    Kind(digest.KIND, digest.handle_digest, caseless=True),
    # each person's agenda: the held reminders and news, the overdue work (casework.agenda)
    Kind(agenda.KIND, agenda.handle_agenda, caseless=True),
    # the holiday data runs out: the county officers and admins are told (casework.calendar_notice)
    Kind(calendar_notice.KIND, calendar_notice.handle, caseless=True),
    Kind(reports.KIND, reports.handle_report, caseless=True),
    # a verification round's reminders before its due date (casework.verification)
    Kind(verification_import.REMINDER_KIND, verification_work.on_reminder, caseless=True),
)

# run at the start of every tick, in this order; each creates its upcoming calendar jobs
PLANNERS: tuple[Planner, ...] = (prompts.plan, digest.plan_digests, reports.plan_reports, agenda.plan_agenda,
                                 calendar_notice.plan)

# handed down to casework.deadlines, which checks and dispatches rows by it
deadlines.install_kinds(KINDS)
