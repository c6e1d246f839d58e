"""Which actions a user may take on a case now: the transition table, the role table and
scope, in one answer the adapters turn into buttons (so no handler repeats the rules)."""

from __future__ import annotations

from casework import states
from casework.context import Casework
from casework.scope import can_see_case
from models.tables import Case, User

# the order buttons appear in
OFFERED = (
    "record_visit",
    "mark_returned",
    "propose_outcome",
    "issue_deadline_notice",
    "escalate",
    "pause",
    "resume",
    "reopen",
    "close_out",
)


def allowed_actions(cw: Casework, actor: User, case: Case) -> list[str]:
    if not can_see_case(cw.session, actor, case):
        return []
    allowed = []
    for action in OFFERED:
        transition = states.TRANSITIONS[action]
        if case.state not in transition.sources or actor.role not in states.ACTION_ROLES[action]:
            continue
        if action == "escalate" and cw.policy.next_level(case.level) is None:  # type: ignore[arg-type]
            continue
        if action == "issue_deadline_notice" and (
            not cw.policy.has_level("deadline_notice")
            or (case.state == "deadline_notice" and case.notice_issued_at is not None)
        ):
            continue
        if action == "close_out" and case.state == states.RETURNED:
            continue
        allowed.append(action)
    return allowed
