"""The figures the bureau is judged by (casework.figures), on a seeded history whose answers
were counted by hand (the comments show the counting), and on a history the ladder wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from casework import figures
from casework.clock import FrozenClock, to_db
from casework.context import Casework
from casework.errors import AccessDenied
from casework.periods import month_of
from demo.county import World
from models.tables import (
    Case,
    CaseEvent,
    Deadline,
    SchoolClass,
    Student,
    VerificationEntry,
    VerificationRound,
)
from tests.conftest import local
from tests.ledgerkit import make_cases

NOVEMBER = month_of(date(2026, 11, 1))


@dataclass
class History:
    ids: dict[str, int]


def _at(m: int, d: int, h: int = 10, y: int = 2026) -> datetime:
    return local(y, m, d, h, 0)


def _case(session: Session, world: World, student: Student, *, made: datetime,
          absent: date | None, state: str, steps: list[tuple[datetime, str | None, str, str]],
          closed: datetime | None = None, **people: Any) -> int:
    klass = session.get(SchoolClass, student.class_id)
    assert klass is not None
    case = Case(student_id=student.id or 0, state=state, source="teacher_report", reasons=["learning"],
                absent_since=absent, policy="datian", level=state, level_entered_at=to_db(made),
                county_id=world.county.id or 0, school_id=klass.school_id, class_id=klass.id,
                village_id=student.village_id, created_at=to_db(made), updated_at=to_db(made),
                closed_at=to_db(closed) if closed else None, **people)
    session.add(case)
    session.flush()
    for at, frm, to, kind in steps:
        session.add(CaseEvent(case_id=case.id or 0, at=to_db(at), kind=kind, from_state=frm, to_state=to))
    return case.id or 0


def _step(session: Session, case_id: int, level: str, made: datetime, due: datetime, status: str,
          acted: datetime | None = None) -> None:
    session.add(Deadline(case_id=case_id, kind="step", due_at=to_db(due), status=status,
                         payload={"level": level}, created_at=to_db(made),
                         acted_at=to_db(acted) if acted else None))


@pytest.fixture
def history(session: Session, clock: FrozenClock, world: World) -> History:
    """Eight cases around November 2026, read on 2027-06-15 (see the test for the counts)."""
    u = world.users
    meilin = world.students_of_class(world.classes[4])  # 梅林中学 7-1, 梅林镇
    shiqiao = world.students_of_class(world.classes[-1])  # 石桥九年制学校, 石桥乡
    ids: dict[str, int] = {}
    S, SP, TP, DN = "suspected", "school_persuasion", "township_persuasion", "deadline_notice"
    # A: absent 11-02, reported 11-03; back 11-09 from the school's persuasion; stopped again 2027-02-01
    ids["A"] = _case(session, world, meilin[0], made=_at(11, 3), absent=date(2026, 11, 2), state=SP,
                     school_responsible_id=u["teacher"].id, steps=[
                         (_at(11, 3), None, S, "reported"), (_at(11, 3, 11), S, SP, "visit"),
                         (_at(11, 9), SP, "returned", "returned"),
                         (_at(2, 1, y=2027), "returned", SP, "relapsed")])
    _step(session, ids["A"], SP, _at(11, 3, 11), _at(11, 12, 18), "cancelled", _at(11, 9))
    # B: absent 10-20, reported 11-05; the school's deadline ran out (escalated by the
    # scheduler), the township issued the notice in time, back 11-25, closed in December
    ids["B"] = _case(session, world, meilin[1], made=_at(11, 5), absent=date(2026, 10, 20),
                     state="closed", closed=_at(12, 20), steps=[
                         (_at(11, 5), None, S, "reported"), (_at(11, 5, 11), S, SP, "visit"),
                         (_at(11, 10, 18), SP, TP, "escalated"), (_at(11, 18), TP, DN, "notice_issued"),
                         (_at(11, 25), DN, "returned", "returned"),
                         (_at(12, 5), "returned", "retention", "attending"),
                         (_at(12, 20), "retention", "closed", "outcome_decided")])
    _step(session, ids["B"], SP, _at(11, 5, 11), _at(11, 10, 18), "done", _at(11, 10, 18))
    _step(session, ids["B"], TP, _at(11, 10, 18), _at(11, 20, 18), "cancelled", _at(11, 18))
    _step(session, ids["B"], DN, _at(11, 18), _at(11, 27, 18), "cancelled", _at(11, 25))
    # C (石桥): absent 11-10, reported 11-14, paused 11-17 (its deadline neither met nor
    # missed), resumed 11-24 and sent up to the township by hand before the new deadline
    ids["C"] = _case(session, world, shiqiao[0], made=_at(11, 14), absent=date(2026, 11, 10), state=TP,
                     school_responsible_id=u["school_admin3"].id,
                     village_responsible_id=u["village_cadre3"].id,
                     assigned_to_id=u["township_officer2"].id, steps=[
                         (_at(11, 14), None, S, "reported"), (_at(11, 14, 11), S, SP, "visit"),
                         (_at(11, 17), SP, "paused", "paused"), (_at(11, 24), "paused", SP, "resumed"),
                         (_at(11, 26), SP, TP, "escalated")])
    _step(session, ids["C"], SP, _at(11, 14, 11), _at(11, 19, 18), "cancelled", _at(11, 17))
    _step(session, ids["C"], SP, _at(11, 24), _at(11, 27, 18), "cancelled", _at(11, 26))
    _step(session, ids["C"], TP, _at(11, 26), _at(12, 10, 18), "open")
    # D: no absence date, reported 11-20; its deadline of 11-25 passed unanswered (not ticked yet)
    ids["D"] = _case(session, world, meilin[2], made=_at(11, 20), absent=None, state=SP, steps=[
        (_at(11, 20), None, S, "reported"), (_at(11, 20, 11), S, SP, "visit")])
    _step(session, ids["D"], SP, _at(11, 20, 11), _at(11, 25, 18), "open")
    # E: reported in October, at the township since 10-10, back 11-02, closed 11-28; a new
    # case for the same child (F) on 2027-03-10
    ids["E"] = _case(session, world, meilin[3], made=_at(10, 1), absent=date(2026, 9, 28),
                     state="closed", closed=_at(11, 28), steps=[
                         (_at(10, 1), None, S, "reported"), (_at(10, 1, 11), S, SP, "visit"),
                         (_at(10, 10), SP, TP, "escalated"), (_at(11, 2), TP, "returned", "returned"),
                         (_at(11, 10), "returned", "retention", "attending"),
                         (_at(11, 28), "retention", "closed", "outcome_decided")])
    _step(session, ids["E"], SP, _at(10, 1, 11), _at(10, 8, 18), "done", _at(10, 8, 18))
    _step(session, ids["E"], TP, _at(10, 10), _at(11, 5, 18), "cancelled", _at(11, 2))
    ids["F"] = _case(session, world, meilin[3], made=_at(3, 10, y=2027), absent=date(2027, 3, 8),
                     state=SP, school_responsible_id=u["teacher"].id, steps=[
                         (_at(3, 10, y=2027), None, S, "reported"),
                         (_at(3, 10, 11, y=2027), S, SP, "visit")])
    # G (石桥): absent 10-01, reported 11-12, closed for another reason 11-30
    ids["G"] = _case(session, world, shiqiao[1], made=_at(11, 12), absent=date(2026, 10, 1),
                     state="closed_other", closed=_at(11, 30), steps=[
                         (_at(11, 12), None, S, "reported"), (_at(11, 12, 11), S, SP, "visit"),
                         (_at(11, 30), SP, "closed_other", "outcome_decided")])
    # H: closed in September, before the period: counted nowhere
    ids["H"] = _case(session, world, meilin[0], made=_at(9, 1), absent=date(2026, 8, 31),
                     state="closed", closed=_at(9, 20), steps=[
                         (_at(9, 1), None, S, "reported"), (_at(9, 2), S, "returned", "returned"),
                         (_at(9, 20), "returned", "closed", "outcome_decided")])
    session.commit()
    clock.set(local(2027, 6, 15, 9, 0))
    return History(ids)


def _buckets(dist: figures.Distribution) -> dict[str, int]:
    return {code: n for code, n in dist.buckets if n}


def test_every_figure_of_the_county_for_november(cw: Casework, world: World, history: History) -> None:
    fig = figures.for_period(cw, world.users["county_officer"], NOVEMBER)
    # reported in November: A 1 day, C 4, B 16, G 42; D has no absence date
    assert _buckets(fig.reporting_delay) == {"0-3": 1, "4-5": 1, "15-30": 1, "31+": 1}
    assert fig.reporting_delay.unknown == 1 and fig.reporting_delay.median == 10.0
    # first returns in November: A 6 days, B 20, E 32 (reported 10-01, back 11-02)
    assert _buckets(fig.to_return) == {"0-7": 1, "15-30": 1, "31-60": 1}
    assert fig.to_return.median == 20.0
    # closed in November: E 58 days, G 18 (B closed in December)
    assert _buckets(fig.to_close) == {"15-30": 1, "31-60": 1}
    assert fig.to_close.median == 38.0
    # school: A met, C's second met; B (escalated by the scheduler) and D (open past due)
    # missed; C's first withdrawn by the pause. Township: B and E met. Notice: B met.
    assert [(d.level, d.met, d.missed) for d in fig.deadlines] == [
        ("school_persuasion", 2, 2), ("township_persuasion", 2, 0), ("deadline_notice", 1, 0)]
    assert fig.deadlines_total().share == pytest.approx(5 / 7)
    # stood on each level in November: A B C D G reported, E at the township since October;
    # back after the school's persuasion A, after the township's E, after the notice B
    assert [(y.level, y.worked, y.returned) for y in fig.yields] == [
        ("suspected", 5, 0), ("school_persuasion", 5, 1), ("township_persuasion", 3, 1),
        ("deadline_notice", 1, 1)]
    # returns A, B, E: A relapsed 2027-02-01, E's child a new case 2027-03-10; B's 6 months
    # are over (2027-05-25), its 12 months not yet
    assert fig.redropout.returns == 3
    assert fig.redropout.again(6) == (2, 3)
    assert fig.redropout.again(12) == (2, 2)
    # out of school on 2027-06-15: A and F (the teacher), C (three people), D (nobody)
    load = fig.caseload
    assert (load.cases, load.workers, load.unassigned, load.max) == (4, 4, 1, 2)
    assert load.mean == 1.25 and load.median == 1.0
    assert load.top[0] == (world.users["teacher"].display_name, 2)
    assert fig.verification == ()  # no verification round in this history


def test_a_township_officer_counts_only_their_township(cw: Casework, world: World, history: History) -> None:
    fig = figures.for_period(cw, world.users["township_officer1"], NOVEMBER)  # 梅林镇: A B D E F
    assert _buckets(fig.reporting_delay) == {"0-3": 1, "15-30": 1} and fig.reporting_delay.unknown == 1
    assert fig.to_return.total == 3 and _buckets(fig.to_close) == {"31-60": 1}
    assert [(d.level, d.met, d.missed) for d in fig.deadlines] == [
        ("school_persuasion", 1, 2), ("township_persuasion", 2, 0), ("deadline_notice", 1, 0)]
    assert [(y.level, y.worked) for y in fig.yields][:3] == [
        ("suspected", 3), ("school_persuasion", 3), ("township_persuasion", 2)]
    assert (fig.caseload.cases, fig.caseload.workers, fig.caseload.unassigned) == (3, 1, 1)
    # narrowed to the other township, a township officer sees nothing of it
    other = figures.for_period(cw, world.users["township_officer1"], NOVEMBER,
                               township_id=world.townships[1].id)
    assert other.reporting_delay.total + other.reporting_delay.unknown == 0
    assert other.caseload.cases == 0 and other.deadlines == () and other.yields == ()
    # the county narrowed to 石桥乡: C and G
    shiqiao = figures.for_period(cw, world.users["county_officer"], NOVEMBER,
                                 township_id=world.townships[1].id)
    assert _buckets(shiqiao.reporting_delay) == {"4-5": 1, "31+": 1}
    assert shiqiao.scope == "石桥乡" and shiqiao.caseload.workers == 3


def test_teachers_and_cadres_get_no_figures(cw: Casework, world: World) -> None:
    for key in ("teacher", "village_cadre"):
        with pytest.raises(AccessDenied):
            figures.for_period(cw, world.users[key], NOVEMBER)


def test_figures_of_a_history_the_ladder_wrote(session: Session, clock: FrozenClock, policy: Any,
                                               world: World) -> None:
    make_cases(session, clock, policy, world)
    cw = Casework(session, clock, policy)
    fig = figures.for_period(cw, world.users["county_officer"], NOVEMBER)
    # four reported on 11-16, each absent since the day before
    assert _buckets(fig.reporting_delay) == {"0-3": 4}
    # the third came back on 11-17 after the school's visit and was closed out on 11-19
    assert _buckets(fig.to_return) == {"0-7": 1} and fig.to_return.median == 1.0
    assert _buckets(fig.to_close) == {"0-7": 1} and fig.to_close.median == 3.0
    assert [(y.level, y.worked, y.returned) for y in fig.yields] == [
        ("suspected", 4, 0), ("school_persuasion", 3, 1), ("township_persuasion", 1, 0)]
    # out of school: the township case, the school case, the 石桥 case, each with its reporter
    assert (fig.caseload.cases, fig.caseload.unassigned) == (3, 0)


def test_a_month_is_added_as_people_count_it() -> None:
    assert figures.add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert figures.add_months(date(2026, 11, 2), 12) == date(2027, 11, 2)
    assert figures.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)


def test_the_digest_block_and_the_lines_read_in_both_languages(cw: Casework, world: World,
                                                               history: History) -> None:
    fig = figures.for_period(cw, world.users["county_officer"], NOVEMBER)
    # every figure of test_every_figure_of_the_county_for_november, one line each
    assert [t.render("en") for t in figures.digest_lines(fig, full=False)] == [
        "Figures, last 30 days: reported within 3 days 1 of 4; median report → return 20 days; "
        "deadlines met 71%; re-dropout within 6 months 2 of 3.",
        "Caseload: 1.2 cases per person on average, at most 2.",
    ]
    block = [t.render("en") for t in figures.digest_lines(fig, full=True)]
    assert block == [
        "Figures, last 30 days. Absence → report: within 3 days 1 of 4 (0–3 days 1; 4–5 days 1; "
        "6–14 days 0; 15–30 days 1; over 30 days 1; absence date unknown 1).",
        "Median days from the report: to the return 20, to closing 38; deadlines met 71% (5 of 7).",
        "Returned to school after each step (returned of the cases on it): suspected dropout 0 of 5; "
        "school persuasion 1 of 5; township persuasion 1 of 3; return-to-school notice with a "
        "deadline 1 of 1.",
        "Out of school again after a return: within 6 months 2 of 3, within 12 months 2 of 2.",
        "Caseload: 1.2 cases per person on average, at most 2.",
    ]
    assert [t.render("zh_Hans") for t in figures.digest_lines(fig, full=True)] == [
        "近 30 天指标。从开始旷课到上报：3 天内 1 / 4（0–3 天 1；4–5 天 1；6–14 天 0；15–30 天 1；"
        "30 天以上 1；未记录旷课日期 1）。",
        "从上报起的中位天数：至返校 20 天，至销号 38 天；按期完成率 71%（5 / 7）。",
        "各环节劝返成效（返校人数 / 经办人数）：疑似辍学 0 / 5；学校劝返 1 / 5；乡镇劝返 1 / 3；"
        "限期复学通知 1 / 1。",
        "返校后再次辍学：6 个月内 2 / 3，12 个月内 2 / 2。",
        "承办量：人均 1.2 件，最多 2 件。",
    ]
    chinese = "\n".join(t.render("zh_Hans") for t in figures.text_lines(fig, lambda s: s))
    assert "Reporting" not in chinese and "71%" in chinese


def test_the_report_workbook_has_a_sheet_of_the_figures(cw: Casework, world: World,
                                                        history: History) -> None:
    import io

    from openpyxl import load_workbook

    from casework import reports
    from documents import report_xlsx

    data = reports.report_data(cw, world.users["township_officer1"], NOVEMBER)
    wb = load_workbook(io.BytesIO(report_xlsx.write_report(data, "zh_Hans")))
    rows = [r for r in wb["考核指标"].iter_rows(values_only=True) if any(v is not None for v in r)]
    assert rows[0][0] == "控辍保学考核指标" and rows[1][:2] == ("范围", "梅林镇")
    by_label: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        by_label.setdefault(str(r[0]), []).append(r[1:4])
    # 梅林镇 in November (see test_a_township_officer_counts_only_their_township)
    assert by_label["0–3 天"][0][0] == 1 and by_label["15–30 天"][0][0] == 1
    assert by_label["未记录旷课日期"] == [(1, None, None)]
    assert by_label["学校劝返"][0] == (1, 2, pytest.approx(1 / 3))  # deadlines: met, missed, share
    assert by_label["全部环节"] == [(4, 2, pytest.approx(4 / 6))]
    # returns A, B, E are all 梅林's: all three judged at 6 months, A and E out again
    assert by_label["6 个月内"] == [(3, 2, pytest.approx(2 / 3))]
    assert by_label["人均承办个案"] == [(2, None, None)]
    english = load_workbook(io.BytesIO(report_xlsx.write_report(data, "en")))
    assert english.sheetnames[-1] == "Figures"


def test_the_township_digest_ends_with_the_figures_block(engine: Any, clock: FrozenClock, policy: Any,
                                                         world: World, history: History) -> None:
    from casework import digest, scheduler
    from casework.outbox import text_from_json
    from models.tables import OutboxMessage

    clock.set(local(2026, 11, 30, 18, 5))  # Monday: the daily digest of 18:00
    scheduler.tick(engine, clock, policy, planners=[digest.plan_digests])
    with Session(engine) as s:
        (message,) = s.exec(select(OutboxMessage).where(
            OutboxMessage.kind == "digest", OutboxMessage.recipient_id == world.users["township_officer1"].id)).all()
    lines = [text_from_json(t).render("en") for t in message.payload["lines"]]
    # 梅林镇, 10-31 18:00 to 11-30 18:00: reported A (1 day), B (16), D (no date); first
    # returns A 6 days, B 20, E 32; deadlines A met, B school missed, B township and notice
    # met, D missed, E met; no return is six months old yet
    # closed: E (reported 10-01, closed 11-28: 58 days); on each level in the window: A B D
    # reported, E at the township since October; back after the school A, the township E,
    # the notice B
    # the daily digest: the figures' summary, so that it stays one message
    assert lines[-2] == ("Figures, last 30 days: reported within 3 days 1 of 2; median report → "
                         "return 20 days; deadlines met 67%; re-dropout within 6 months 0 of 0.")
    assert lines[-1].startswith("Caseload: ")
    assert "石桥" not in "\n".join(lines)


def test_the_weekly_digest_carries_every_figure(engine: Any, clock: FrozenClock, policy: Any,
                                               world: World, history: History) -> None:
    from casework import digest, scheduler
    from casework.outbox import text_from_json
    from models.tables import OutboxMessage

    clock.set(local(2026, 11, 30, 8, 35))  # Monday: the county officer's weekly digest of 08:30
    scheduler.tick(engine, clock, policy, planners=[digest.plan_digests])
    with Session(engine) as s:
        (message,) = s.exec(select(OutboxMessage).where(
            OutboxMessage.kind == "digest", OutboxMessage.recipient_id == world.users["county_officer"].id)).all()
    lines = [text_from_json(t).render("en") for t in message.payload["lines"]]
    assert [line.split(":")[0] for line in lines[-5:]] == [
        "Figures, last 30 days. Absence → report", "Median days from the report",
        "Returned to school after each step (returned of the cases on it)",
        "Out of school again after a return", "Caseload"]
    assert not any(line.startswith("Figures, last 30 days: reported") for line in lines)


def test_baoxue_report_kpi(cli_env: Any, engine: Any, world: World, history: History,
                           tmp_path: Any) -> None:
    from openpyxl import load_workbook

    from models.tables import AuditEvent
    from tests.conftest import invoke

    everyone = invoke("report", "kpi", "--period", "2026-11", "--lang", "en")
    assert everyone.exit_code == 0, everyone.output
    out = everyone.stdout.splitlines()
    assert out[0] == "Figures for *, 2026-11-01 – 2026-11-30"
    assert "Deadlines met: 5 of 7 (71%)" in out
    assert "  school persuasion: 2 of 4 met (50%)" in out
    assert any(line.startswith("Report → return, 3 cases: median 20 days") for line in out)
    # as the 梅林镇 officer sees them: their township only, whatever the data of the other
    officer = world.users["township_officer1"]
    mine = invoke("report", "kpi", "--period", "2026-11", "--as", str(officer.id), "--lang", "en",
                  "-o", str(tmp_path / "kpi.xlsx"))
    assert mine.exit_code == 0, mine.output
    assert mine.stdout.splitlines()[0] == "Figures for 梅林镇, 2026-11-01 – 2026-11-30"
    assert "Deadlines met: 4 of 6 (67%)" in mine.stdout
    assert load_workbook(tmp_path / "kpi.xlsx").sheetnames == ["Figures"]
    shiqiao = invoke("report", "kpi", "--period", "2026-11", "--township", str(world.townships[1].id),
                     "--lang", "en")
    assert "Figures for 石桥乡" in shiqiao.stdout and "Deadlines met: 1 of 1 (100%)" in shiqiao.stdout
    missing = invoke("report", "kpi", "--township", "99", "--lang", "en")
    assert missing.exit_code == 1 and "There is no township 99." in missing.output
    teacher = invoke("report", "kpi", "--as", str(world.users["teacher"].id), "--lang", "en")
    assert teacher.exit_code == 1
    with Session(engine) as s:
        audited = s.exec(select(AuditEvent).where(AuditEvent.action == "report.kpi")).all()
    assert [(a.actor_id, a.detail["period"]) for a in audited] == [
        (None, "2026-11"), (officer.id, "2026-11"), (None, "2026-11")]


def test_verification_rounds_in_the_figures(session: Session, cw: Casework, world: World) -> None:
    """A round's progress and dispositions, counted by hand: in 梅林镇 an open child, one at
    school here (given, not yet reviewed) and one confirmed out of school (approved), plus
    the list's second naming of that child (left out); in the other township one approved.
    A round that was over before November is not counted."""
    county = world.county.id or 0
    t1, t2 = world.townships[0], world.townships[1]
    v1 = next(v for v in world.villages if v.township_id == t1.id)
    s2 = next(s for s in world.schools if s.township_id == t2.id)
    live = VerificationRound(county_id=county, name="2026年秋季核查", due_on=date(2026, 11, 30),
                             created_at=to_db(_at(11, 2)))
    over = VerificationRound(county_id=county, name="春季核查", due_on=date(2026, 10, 20),
                             created_at=to_db(_at(9, 1)))
    session.add_all([live, over])
    session.flush()

    def entry(rnd: VerificationRound, n: int, status: str, disposition: str | None = None,
              **unit: int | None) -> None:
        session.add(VerificationEntry(round_id=rnd.id or 0, row_number=n, name=f"儿童{n}",
                                      county_id=county, status=status, disposition=disposition,
                                      **unit))

    entry(live, 1, "open", village_id=v1.id)
    entry(live, 2, "proposed", "local_school", village_id=v1.id)
    entry(live, 3, "approved", "dropout", village_id=v1.id)
    entry(live, 4, "duplicate", village_id=v1.id)
    entry(live, 5, "approved", "elsewhere", school_id=s2.id)
    entry(over, 1, "approved", "dropout", village_id=v1.id)
    session.commit()

    whole = figures.for_period(cw, world.users["county_officer"], NOVEMBER).verification
    assert [(v.name, v.total, v.disposed, v.reviewed) for v in whole] == [("2026年秋季核查", 4, 3, 2)]
    assert whole[0].by_disposition == (("dropout", 1), ("elsewhere", 1), ("local_school", 1))
    mine = figures.for_period(cw, world.users["township_officer1"], NOVEMBER).verification
    assert [(v.total, v.disposed, v.reviewed) for v in mine] == [(3, 2, 1)]
    narrowed = figures.for_period(cw, world.users["county_officer"], NOVEMBER,
                                  township_id=t2.id).verification
    assert [(v.total, v.disposed, v.reviewed) for v in narrowed] == [(1, 1, 1)]

    # the same figures in the workbook and the command line's lines, dispositions named
    import io

    from openpyxl import load_workbook

    from casework.i18n import Text
    from documents import figures_xlsx

    fig = figures.for_period(cw, world.users["county_officer"], NOVEMBER)
    book = load_workbook(io.BytesIO(figures_xlsx.write_workbook(fig, "zh_Hans", "2026-11", "2026-12-01")))
    cells = [r[:5] for r in book.active.iter_rows(values_only=True)]
    at = cells.index(("核查批次", None, None, None, None))
    assert cells[at + 1:at + 6] == [
        ("批次名称", "截止日期", "名单人数", "已核查处置", "已复核"),
        ("2026年秋季核查", "2026-11-30", 4, 3, 2),
        ("  确属失学辍学", None, None, 1, None),
        ("  外地就读", None, None, 1, None),
        ("  在本地就读（已注册学籍）", None, None, 1, None)]
    lines = [t.render("en") for t in figures.text_lines(fig, Text)]
    assert lines[-4:] == ["Verification 2026年秋季核查: 3 of 4 given a disposition, 2 reviewed",
                          "  Confirmed out of school: 1", "  At school elsewhere: 1",
                          "  At school here (registered): 1"]
