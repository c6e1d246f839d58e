"""Helpers for the conversation tests (tests/test_bot_*.py): a seeded user in a language,
cases put on the ladder through ``casework`` (as earlier days of work would have), and
the database read back after the bot answered."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from bot.outbox_sender import drain
from casework import ladder, scheduler
from casework.uow import unit_of_work
from demo.county import World
from models.tables import Case, ConversationState, OutboxMessage, User

M = TypeVar("M", bound=SQLModel)


def speaking(harness: Any, user: User, lang: str) -> Any:
    """The seeded ``user`` as a chat, with ``User.language`` set to ``lang`` in the database."""
    with Session(harness.engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.language = lang
        s.add(row)
        s.commit()
    user.language = lang
    return harness.user(user)


def rows(harness: Any, model: type[M], *where: Any) -> list[M]:
    with Session(harness.engine, expire_on_commit=False) as s:
        query = select(model).where(*where) if where else select(model)
        return list(s.exec(query.order_by(col(model.id))).all())  # type: ignore[attr-defined]


def one(harness: Any, model: type[M], *where: Any) -> M:
    found = rows(harness, model, *where)
    assert len(found) == 1, found
    return found[0]


def conversation(harness: Any, user: User) -> ConversationState | None:
    found = rows(harness, ConversationState, ConversationState.user_id == user.id)
    return found[-1] if found else None


def act(harness: Any, fn: Any) -> Any:
    """Run ``fn(cw)`` in its own unit of work, as the bot or the scheduler would."""
    services = harness.services
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        return fn(cw)


def open_case(harness: Any, world: World, student_index: int = 1, by: str = "teacher") -> int:
    """A case reported earlier for a pupil of 梅林中学 七年级1班 (the teacher's class); pupils
    1–3 live in 上坪村, the village cadre's village, so both lines see their cases."""
    student = world.students_of_class(world.classes[4])[student_index]
    out = act(
        harness,
        lambda cw: ladder.report(
            cw,
            world.users[by],
            ladder.ReportInput(student_id=student.id, reasons=("learning",), whereabouts="在家",
                               absent_since=date(2026, 11, 20)),
        ),
    )
    return int(out.case.id)


def to_township(harness: Any, world: World, case_id: int, visits: int = 0) -> None:
    """The school's persuasion failed: the case is at the township, alert acknowledged,
    with ``visits`` township rounds already recorded by the village cadre."""
    u = world.users
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))
    act(harness, lambda cw: ladder.escalate(cw, u["school_admin"], case_id))
    act(harness, lambda cw: ladder.acknowledge(cw, u["township_officer"], case_id))
    for _ in range(visits):
        act(
            harness,
            lambda cw: ladder.record_visit(
                cw, u["village_cadre"], case_id,
                ladder.VisitInput(visit_date=cw.today(), method="joint_visit", result="refused",
                                  participants=(u["village_cadre"].display_name, "王主任")),
            ),
        )
    with Session(harness.engine) as s:
        case = s.get(Case, case_id)
        assert case is not None and case.state == "township_persuasion", case


async def deliver_outbox(harness: Any) -> int:
    """The outbox sender's run: every pending message goes out through the fake Telegram."""
    return await drain(harness.app.bot, harness.services)


def pending_outbox(harness: Any, recipient: User) -> list[OutboxMessage]:
    return rows(harness, OutboxMessage, OutboxMessage.recipient_id == recipient.id,
                OutboxMessage.status == "pending")


def run_agenda(harness: Any, *, first: bool = False) -> str:
    """The agenda slot comes now (``casework.agenda``): each person's held messages are
    folded into one message each (``first``: the day's first slot, with the overdue work)."""
    from casework import agenda
    from casework.clock import to_db
    from models.tables import Deadline

    def run(cw: Any) -> str:
        row = Deadline(kind=agenda.KIND, due_at=to_db(cw.now()), payload={"first": first}, created_at=cw.now_db())
        return agenda.handle_agenda(cw, row, None)

    return str(act(harness, run))


def tick_at(harness: Any, when: datetime) -> list[str]:
    """The scheduler's tick at ``when`` (planners included), as the bot runs it: what it acted on."""
    services = harness.services
    services.clock.set(when)
    return [str(a) for a in scheduler.tick(services.engine, services.clock, services.policy).acted]


def shanghai_at(day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` in the demo county's time (Asia/Shanghai)."""
    from tests.casedriver import SHANGHAI

    return datetime.combine(day, time(hour, minute), SHANGHAI)
