"""Who reads a family's ID and phone numbers in full in the chat (DESIGN §5).

The chat masks them (``350425********1234``, ``139****6864``) for everyone except:

- the people the case's current step makes responsible for contacting the family: a role
  the policy's level lists as ``responsible`` (for a paused case, the level it left), and
  the person the case is assigned to. A teacher who must call the guardian today cannot
  call ``139****6864``;
- the person who typed the numbers, on the "请核对" summary of their own form, so a typo
  can be caught before it is saved.

Every full disclosure is an audit event (``personal.disclose``), naming what was shown
and where.
"""

from __future__ import annotations

from casework import states
from casework.context import Casework
from casework.disclosure import Disclosure
from casework.errors import PolicyError
from casework.scope import can_see_case
from models.tables import Case, User


def responsible_for_contact(cw: Casework, user: User, case: Case) -> bool:
    """Whether ``user``'s work on ``case`` now is to reach the family."""
    if case.state in states.FINAL | {states.CLOSED}:
        return False  # nobody contacts the family of a closed case
    if not user.active or not can_see_case(cw.session, user, case):
        return False
    if case.assigned_to_id is not None and case.assigned_to_id == user.id:
        return True
    try:
        level = cw.policy.level(case.level)  # type: ignore[arg-type]
    except PolicyError:  # a level this policy does not have (a case moved by hand): masked
        return False
    return user.role in level.responsible


def for_case(cw: Casework, user: User, case: Case, *, where: str) -> Disclosure:
    """How ``user`` reads ``case``'s numbers in the chat; a full disclosure is audited."""
    if not responsible_for_contact(cw, user, case):
        return Disclosure.masked()
    cw.audit(user, "personal.disclose", "case", case.id, shown="full", where=where)
    return Disclosure.full()


def typed_back(cw: Casework, user: User, field: str, *, where: str) -> None:
    """The user's own typed ``field`` shown back to them in full on their summary: audited."""
    cw.audit(user, "personal.disclose", "draft", None, shown=field, where=where)
