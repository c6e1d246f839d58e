"""Periodic reports: the figures of a month for an officer's scope, the workbook read back,
and the schedule — planned as a calendar job, sent by the outbox to the officers in scope
with the workbook as an attachment spec."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from casework import reports
from casework.callbacks import ReportWorkbook
from casework.errors import AccessDenied, ValidationError
from casework.periods import month_of, parse_period, quarter_of
from casework.scheduler import run_planners, tick
from documents import attachments, report_xlsx
from models.tables import Deadline, OutboxMessage
from tests.conftest import local
from tests.ledgerkit import make_cases


@pytest.fixture
def made(session, clock, policy, world):  # type: ignore[no-untyped-def]
    return make_cases(session, clock, policy, world)


def test_the_month_in_a_township(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    data = reports.report_data(cw, world.users["township_officer"], month_of(date(2026, 11, 1)))
    assert (data.open_start, data.new, data.returned, data.closed, data.placed, data.open_end) == (
        0, 3, 1, 1, 0, 2)
    assert data.visits == 5  # 3 + 2 visits, all in November
    assert {c.case_id for c in data.cases} == {made.meilin_township, made.meilin_school, made.meilin_back}
    assert [(u.name, u.new, u.open_end) for u in data.units] == [("梅林中学", 3, 2)]
    assert data.by_reason == {"learning": 1, "work": 1, "poverty": 1, "illness": 1}
    assert data.by_state_end == {"township_persuasion": 1, "school_persuasion": 1, "closed": 1}
    # the county sees both townships, by township
    county = reports.report_data(cw, world.users["county_officer"], month_of(date(2026, 11, 1)))
    assert [(u.name, u.new) for u in county.units] == [("梅林镇", 3), ("石桥乡", 1)]
    # a month before anything happened: nothing
    assert reports.report_data(cw, world.users["county_officer"], month_of(date(2026, 10, 1))).cases == []


def test_the_state_at_the_start_of_a_period_comes_from_the_history(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    # from 11-19 on: reported on 11-16, three were still open (one was back on 11-17)
    period = parse_period("2026-11-19..2026-11-30", today=cw.today())
    data = reports.report_data(cw, world.users["county_officer"], period)
    assert (data.new, data.open_start, data.returned, data.closed, data.open_end) == (0, 3, 0, 1, 3)


@pytest.mark.parametrize("text", ["2026-13", "9999-12", "9999Q4", "0000"])
def test_a_period_past_the_calendar_is_refused_not_raised(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_period(text, today=date(2026, 11, 21))


def test_teachers_get_no_reports(cw, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AccessDenied):
        reports.report_data(cw, world.users["teacher"], month_of(date(2026, 11, 1)))


def test_the_workbook_holds_the_figures_units_and_cases(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    data = reports.report_data(cw, world.users["township_officer"], month_of(date(2026, 11, 1)))
    wb = load_workbook(io.BytesIO(report_xlsx.write_report(data, "zh_Hans")))
    assert wb.sheetnames == ["汇总", "分单位", "个案清单", "考核指标"]  # the last: tests/test_figures.py
    summary = [r for r in wb["汇总"].iter_rows(values_only=True)]
    assert summary[0][0] == "控辍保学月报"
    figures = dict(r[:2] for r in summary[6:13])
    assert figures == {"期初在劝个案": 0, "本期新增": 3, "本期返校": 1, "本期销号": 1,
                       "本期送教/缓学/转学等": 0, "本期劝返次数": 5, "期末在劝个案": 2}
    units = list(wb["分单位"].iter_rows(values_only=True))
    assert units[1] == ("梅林中学", 3, 1, 1, 0, 5, 2)
    cases = list(wb["个案清单"].iter_rows(min_row=2, values_only=True))
    assert [c[0] for c in cases] == [made.meilin_township, made.meilin_school, made.meilin_back]
    assert cases[0][3] == "七年级（1）班"
    assert report_xlsx.filename(data, "zh_Hans") == "控辍保学月报_2026-11.xlsx"


def test_the_month_is_planned_and_sent_to_the_officers_in_scope(engine, clock, policy, world, made) -> None:  # type: ignore[no-untyped-def]
    mine = [reports.plan_reports]
    assert run_planners(engine, clock, policy, mine) == (1, 0)
    assert run_planners(engine, clock, policy, mine) == (0, 0)  # idempotent
    with Session(engine) as s:
        rows = s.exec(select(Deadline).where(Deadline.kind == reports.KIND)).all()
    assert [(r.dedupe_key, r.payload["report"]) for r in rows] == [("report:month:2026-11", "month")]
    # datian runs monthly reports only; on 12-01 at the county digest time it is due
    clock.set(local(2026, 12, 1, 8, 31))
    tick(engine, clock, policy, planners=mine)
    with Session(engine) as s:
        sent = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "periodic_report")).all()
        done = s.exec(select(Deadline).where(Deadline.dedupe_key == "report:month:2026-11")).one()
    assert done.status == "done" and done.result == "report queued for 3"
    officers = {world.users[k].id for k in ("township_officer1", "township_officer2", "county_officer")}
    assert {m.recipient_id for m in sent} == officers
    message = next(m for m in sent if m.recipient_id == world.users["township_officer"].id)
    assert message.payload["attachments"] == [{"type": "periodic_report", "period": "2026-11"}]
    assert message.payload["buttons"][0][0]["data"] == "rpt:m:2026-11"
    assert message.payload["text"]["msgid"] == "Monthly report for {scope}, {period}"


def test_a_quarterly_schedule_when_the_policy_has_one(engine, clock, world, made) -> None:  # type: ignore[no-untyped-def]
    from casework.policy import load_named

    jidong = load_named("jidong")
    assert jidong.reports.quarterly
    run_planners(engine, clock, jidong, [reports.plan_reports])
    with Session(engine) as s:
        keys = set(s.exec(select(Deadline.dedupe_key).where(Deadline.kind == reports.KIND)).all())
    assert keys == {"report:month:2026-11", "report:quarter:2026Q4"}
    assert quarter_of(date(2026, 11, 23)).end == date(2026, 12, 31)


def test_the_attachment_hook_renders_the_recipients_workbook(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    rendered = attachments.render_attachment(
        cw, world.users["township_officer2"], {"type": "periodic_report", "period": "2026-11"})
    assert rendered is not None
    name, data, _caption = rendered
    assert name == "控辍保学月报_2026-11.xlsx"
    cases = list(load_workbook(io.BytesIO(data))["个案清单"].iter_rows(min_row=2, values_only=True))
    assert [c[0] for c in cases] == [made.shiqiao]  # 石桥乡's only
    assert attachments.render_attachment(cw, world.users["teacher"],
                                         {"type": "periodic_report", "period": "2026-11"}) is None
    assert ReportWorkbook.decode("rpt:q:2026Q4") == ReportWorkbook(quarter_of(date(2026, 10, 1)))
    assert month_of(date(2026, 12, 15)).previous() == month_of(date(2026, 11, 1))


def test_a_month_not_over_says_up_to_which_day_it_counts(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = world.users["township_officer"]
    assert cw.today() == date(2026, 11, 23)
    running = reports.report_data(cw, officer, month_of(cw.today()))
    assert running.as_of == date(2026, 11, 23)
    assert reports.headline(running).render("zh_Hans") == "梅林镇控辍保学月报（2026年11月，截至11月23日）"
    summary = list(load_workbook(io.BytesIO(report_xlsx.write_report(running, "zh_Hans")))["汇总"]
                   .iter_rows(values_only=True))
    assert summary[2][:2] == ("时段", "2026-11-01 – 2026-11-23（本期未满，截至 2026-11-23）")
    # a month that is over is the whole month, without 截至
    done = reports.report_data(cw, officer, month_of(date(2026, 10, 1)))
    assert done.as_of is None
    assert reports.headline(done).render("zh_Hans") == "梅林镇控辍保学月报（2026年10月）"
    summary = list(load_workbook(io.BytesIO(report_xlsx.write_report(done, "zh_Hans")))["汇总"]
                   .iter_rows(values_only=True))
    assert summary[2][1] == "2026-10-01 – 2026-10-31"


def test_reasons_are_counted_per_reason_and_say_so(cw, world, made) -> None:  # type: ignore[no-untyped-def]
    data = reports.report_data(cw, world.users["township_officer"], month_of(date(2026, 11, 1)))
    assert sum(data.by_reason.values()) > data.new  # 3 children, 4 reasons: one child has two
    summary = list(load_workbook(io.BytesIO(report_xlsx.write_report(data, "zh_Hans")))["汇总"]
                   .iter_rows(values_only=True))
    assert ("新增个案辍学原因（按原因计，一人多因）", "数量") in [r[:2] for r in summary]
