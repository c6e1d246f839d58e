"""When the next agenda slot is, and whether a message can wait for it.

Apart from ``casework.agenda`` because ``casework.notices`` asks it for every message it
writes, and the agenda itself reads the notices' work (deadlines, digests): one small module
both import keeps the two free of a cycle.
"""

from __future__ import annotations

from datetime import datetime

from casework.clock import from_db
from casework.context import Casework


def next_slot(cw: Casework, after: datetime) -> datetime | None:
    """The first agenda slot at or after ``after``: today's if one is still ahead and today
    is a working day, else the next working day's first (``None``: the profile has none)."""
    cal, times = cw.calendars, cw.policy.times.agenda
    if not times:
        return None
    day = cal.local_date(after)
    if cal.is_working_day(day):
        ahead = [due for due in (cal.at_local(day, at) for at in times) if due >= after]
        if ahead:
            return min(ahead)
    return cal.at_local(cal.next_working_day(day), min(times))


def waits_past(cw: Casework, due: datetime | None) -> bool:
    """Whether holding a message about work due at ``due`` for the next slot would bring it
    after the work is due: such a message goes at once (a reminder on the evening or the
    holiday its deadline falls on; a profile's reminder in hours)."""
    if due is None:
        return False
    slot = next_slot(cw, cw.now())
    return slot is not None and from_db(due) <= slot
