"""Cases spread over both townships and the ladder, made through ``casework.ladder`` as a
few weeks of work would have (for the ledger, forms and report tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from casework import ladder
from casework.clock import FrozenClock
from casework.context import Casework
from casework.policy import Policy
from demo.county import World
from models.tables import Student
from tests.casedriver import close_out


@dataclass
class Made:
    meilin_township: int  # 梅林中学 7-1 pupil, up to the township with a township visit
    meilin_school: int  # 梅林中学 7-1 pupil, school persuasion, two visits
    meilin_back: int  # 梅林中学 7-1 pupil, back at school and closed out
    shiqiao: int  # 石桥九年制学校 pupil, suspected (the other township)

    def student(self, session: Session, case_id: int) -> Student:
        from models.tables import Case

        case = session.get(Case, case_id)
        assert case is not None
        student = session.get(Student, case.student_id)
        assert student is not None
        return student


def visit(cw: Casework, actor: Any, case_id: int, **kw: Any) -> None:
    data: dict[str, Any] = dict(
        visit_date=cw.today(), method="home_visit", result="refused",
        family_situation="父母外出务工，与祖父母同住", guardian_attitude="hesitant",
        student_attitude="opposed", student_attitude_note="说不想读书", measures="讲解义务教育法，承诺资助",
    )
    data.update(kw)
    ladder.record_visit(cw, actor, case_id, ladder.VisitInput(**data))


def make_cases(session: Session, clock: FrozenClock, policy: Policy, world: World) -> Made:
    """Four cases, reported a week before ``clock`` and moved along day by day."""
    end = clock.now()
    clock.set(end - timedelta(days=7))
    cw = Casework(session, clock, policy)
    u = world.users
    meilin = world.students_of_class(world.classes[4])  # 梅林中学 七年级1班
    shiqiao = world.students_of_class(world.classes[-1])  # 石桥九年制学校 七年级1班

    def report(actor: Any, student: Student, reasons: tuple[str, ...]) -> int:
        out = ladder.report(cw, actor, ladder.ReportInput(
            student_id=student.id, reasons=reasons, whereabouts="在家",
            absent_since=cw.today() - timedelta(days=1)))
        return int(out.case.id or 0)

    a = report(u["teacher"], meilin[1], ("learning",))
    b = report(u["teacher"], meilin[2], ("work", "poverty"))
    c = report(u["teacher"], meilin[3], ("illness",))
    d = report(u["school_admin3"], shiqiao[0], ("learning",))
    clock.advance(timedelta(days=1))
    visit(cw, u["teacher"], a, participants=("班主任", "校长"))
    visit(cw, u["teacher"], b, method="phone", result="promised",
          promised_return_on=cw.today() + timedelta(days=10))
    visit(cw, u["teacher"], c, result="returned")
    clock.advance(timedelta(days=1))
    visit(cw, u["teacher"], b, participants=("班主任",))
    ladder.escalate(cw, u["school_admin"], a)  # → township persuasion (datian: 表5)
    ladder.acknowledge(cw, u["township_officer"], a)
    clock.advance(timedelta(days=1))
    visit(cw, u["village_cadre"], a, method="joint_visit", participants=("村干部", "王主任"))
    ladder.confirm_attending(cw, u["teacher"], c, True)
    close_out(cw, u["school_admin"], c, [u["township_officer"]])
    session.commit()
    clock.set(end)
    return Made(meilin_township=a, meilin_school=b, meilin_back=c, shiqiao=d)


def day(d: date) -> str:
    return d.isoformat()
