"""People: who answers for whom, and people who leave.

The line of supervision above each user is used when someone drops out of reach (they
blocked the bot): the person one level up is told, so the work does not silently stop.
The line follows the units of :mod:`casework.scope`: a teacher's school administrator, a
school administrator's or village cadre's township officer, a township officer's county
officer, and above the county the system operator.

When someone leaves, an officer (or the operator) deactivates them: only people in the
officer's own area (the unit rule of :mod:`casework.scope`), never themselves, never
someone of a higher role. From then on the bot tells them only that their account is
deactivated; the invitations they handed out stop working; the open cases they held are
listed to the officer, who must reassign them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, delete, select

from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from casework.i18n import Text, _
from casework.invites import MANAGERS, is_deactivated
from casework.labels import join, n_
from casework.scope import teacher_class_ids, township_of, user_within
from casework.states import FINAL, ROLE_RANK
from models.tables import (
    Case,
    ConversationState,
    County,
    Deadline,
    Invite,
    School,
    SchoolClass,
    TeacherClass,
    Township,
    User,
    Village,
)

# one rung of the line: the role that answers, the scope kind and unit it answers for
Rung = tuple[str, str, int | None]


def _school_of_teacher(session: Session, user: User) -> int | None:
    if user.scope_kind == "school":
        return user.scope_id
    return session.exec(
        select(SchoolClass.school_id)
        .join(TeacherClass, col(TeacherClass.class_id) == col(SchoolClass.id))
        .where(TeacherClass.user_id == user.id)
        .order_by(col(SchoolClass.id))
    ).first()


def _county_of_township(session: Session, township_id: int | None) -> int | None:
    township = session.get(Township, township_id) if township_id is not None else None
    return township.county_id if township else None


def supervision_line(session: Session, user: User) -> list[Rung]:
    """The rungs above ``user``, nearest first (empty for the system operator)."""
    rungs: list[Rung] = []
    township_id: int | None = None
    if user.role == "teacher":
        school_id = _school_of_teacher(session, user)
        rungs.append(("school_admin", "school", school_id))
        township_id = township_of(session, "school", school_id)
    elif user.role in ("school_admin", "village_cadre"):
        township_id = township_of(session, user.scope_kind, user.scope_id)
    elif user.role == "township_officer":
        township_id = user.scope_id
    if user.role in ("teacher", "school_admin", "village_cadre"):
        rungs.append(("township_officer", "township", township_id))
    if user.role in ("teacher", "school_admin", "village_cadre", "township_officer"):
        rungs.append(("county_officer", "county", _county_of_township(session, township_id)))
    if user.role != "admin":
        rungs.append(("admin", "all", None))
    return rungs


def supervisor_of(session: Session, user: User) -> User | None:
    """The nearest active, reachable person above ``user``, or ``None``.

    A rung with nobody on it (no school administrator has joined yet) or only people the
    bot cannot reach is skipped, so the news still lands with someone who can act.
    """
    for role, kind, unit_id in supervision_line(session, user):
        if kind != "all" and unit_id is None:
            continue
        query = select(User).where(
            User.role == role,
            User.scope_kind == kind,
            col(User.active).is_(True),
            col(User.unreachable).is_(False),
            col(User.telegram_id).is_not(None),
            col(User.id) != user.id,
        )
        if kind != "all":
            query = query.where(User.scope_id == unit_id)
        found = session.exec(query.order_by(col(User.id))).first()
        if found is not None:
            return found
    return None


def by_id(cw: Casework, user_id: int) -> User:
    """A person by id, read in this unit of work: work that outlives its turn (a ledger
    being made) carries the id, not the row. People are deactivated, never deleted."""
    user = cw.session.get(User, user_id)
    assert user is not None, user_id
    return user


def back_in_reach(cw: Casework, user: User) -> bool:
    """A user flagged unreachable (they had blocked the bot) wrote to it: they unblocked it,
    so reminders and alerts go to them again. Messages that failed meanwhile stay failed
    (they are stale; ``baoxue outbox retry`` can replay them)."""
    if not user.unreachable:
        return False
    user.unreachable = False
    cw.session.add(user)
    cw.audit(user, "user.reachable_again", "user", user.id)
    return True


# --- people who leave -----------------------------------------------------------------

NEWLINE = "\n"  # not a msgid: the lines of one message, in any language


def status(user: User) -> str:
    """active | pending (invited, not finished joining) | deactivated"""
    if is_deactivated(user):
        return "deactivated"
    return "active" if user.active else "pending"


def may_deactivate(session: Session, actor: User | None, user: User) -> bool:
    """Within the actor's area, not themselves, not above their role (None: the operator)."""
    if actor is None:
        return True
    return (
        actor.active
        and actor.role in MANAGERS
        and actor.id != user.id
        and ROLE_RANK.get(user.role, 99) <= ROLE_RANK[actor.role]
        and user_within(session, actor, user)
    )


def people_in_scope(cw: Casework, actor: User | None, *, include_deactivated: bool = False) -> list[User]:
    """The people ``actor`` may manage (themselves excluded), by role rank (highest first)
    and name; for the operator (None) everyone. Phone numbers are not read."""
    query = select(User).options(defer(User.phone)).order_by(col(User.id))  # type: ignore[arg-type]
    if not include_deactivated:
        query = query.where(col(User.deactivated_at).is_(None))
    found = [
        u for u in cw.session.exec(query).all()
        if (include_deactivated or not is_deactivated(u)) and may_deactivate(cw.session, actor, u)
    ]
    return sorted(found, key=lambda u: (-ROLE_RANK.get(u.role, 0), u.display_name, u.id or 0))


def open_cases_held(session: Session, user: User) -> list[Case]:
    """Open cases the user holds: assigned to them, under their responsibility, or with an
    alert or reminder waiting on them."""
    waiting = select(Deadline.case_id).where(
        Deadline.recipient_id == user.id, Deadline.status == "open", col(Deadline.case_id).is_not(None)
    )
    return list(session.exec(
        select(Case).where(
            col(Case.state).not_in(sorted(FINAL)),
            or_(
                col(Case.assigned_to_id) == user.id,
                col(Case.school_responsible_id) == user.id,
                col(Case.village_responsible_id) == user.id,
                col(Case.id).in_(waiting),
            ),
        ).order_by(col(Case.id))
    ).all())


@dataclass
class Deactivated:
    user: User
    open_cases: list[Case] = field(default_factory=list)
    invites_revoked: int = 0

    @property
    def message(self) -> Text:
        lines = [_("{name} is deactivated: the bot will no longer work for them.",
                   name=self.user.display_name)]
        if self.invites_revoked:
            lines.append(_("Their unused invitations were revoked."))
        if self.open_cases:
            numbers = ", ".join(f"#{c.id}" for c in self.open_cases)
            lines.append(n_("They held {n} open case, which needs reassigning: {cases}",
                            "They held {n} open cases, which need reassigning: {cases}",
                            len(self.open_cases), cases=numbers))
        else:
            lines.append(_("They held no open cases."))
        return join(lines, separator=NEWLINE)


def deactivation_target(cw: Casework, actor: User | None, user_id: int) -> User:
    """The user ``actor`` means to deactivate, if they may (checked before asking "sure?")."""
    user = cw.session.get(User, user_id)
    if user is None and actor is None:
        raise ValidationError("user", _("There is no such user."))
    if user is None or not may_deactivate(cw.session, actor, user):
        raise AccessDenied(
            _("You can only deactivate people in your own area, at or below your role, and "
              "not yourself."),
            actor_id=actor.id if actor else None, action="user.deactivate", object_type="user",
            object_id=user_id,
        )
    if is_deactivated(user):
        raise ValidationError("user", _("{name} is already deactivated.", name=user.display_name))
    return user


def deactivate(cw: Casework, actor: User | None, user_id: int) -> Deactivated:
    """Deactivate a user: they keep their history (cases, visits, audit) but can do nothing
    more; their unfinished drafts are dropped, their unused invitations revoked. Returns
    the open cases they held, which the deactivating officer must reassign."""
    user = deactivation_target(cw, actor, user_id)
    now = cw.now_db()
    user.active = False
    user.deactivated_at = now
    cw.session.add(user)
    invites = cw.session.exec(
        select(Invite).where(Invite.created_by == user.id, col(Invite.used_at).is_(None),
                             col(Invite.revoked_at).is_(None), col(Invite.expires_at) > now)
    ).all()
    for invite in invites:
        invite.revoked_at = now
        cw.session.add(invite)
    # their drafts may hold personal data and nobody can finish them now
    cw.session.exec(delete(ConversationState).where(col(ConversationState.user_id) == user.id))
    held = open_cases_held(cw.session, user)
    cw.audit(actor, "user.deactivate", "user", user.id, role=user.role,
             open_cases=[c.id for c in held], invites_revoked=len(invites),
             via="cli" if actor is None else "bot")
    return Deactivated(user, held, len(invites))


def user_unit_label(session: Session, user: User) -> str:
    """The unit a user answers for, by name (see :func:`unit_label`)."""
    class_ids = teacher_class_ids(session, user) if user.scope_kind == "classes" else []
    return unit_label(session, user.scope_kind, user.scope_id, class_ids)


def unit_label(session: Session, kind: str, sid: int | None, class_ids: list[int]) -> str:
    """A unit by name: a county, township, village, school, or a school and classes by
    grade and section ("青松一中 7-1, 7-2"); "" for everything (an administrator)."""
    unit: County | Township | Village | School | None = None
    if kind == "county" and sid is not None:
        unit = session.get(County, sid)
    elif kind == "township" and sid is not None:
        unit = session.get(Township, sid)
    elif kind == "village" and sid is not None:
        unit = session.get(Village, sid)
    elif kind == "school" and sid is not None:
        unit = session.get(School, sid)
    elif kind == "classes":
        classes = [k for k in (session.get(SchoolClass, c) for c in class_ids) if k]
        school = session.get(School, classes[0].school_id) if classes else None
        names = ", ".join(f"{k.grade}-{k.section}" for k in classes)
        return f"{school.name if school else ''} {names}".strip()
    return unit.name if unit is not None else ""
