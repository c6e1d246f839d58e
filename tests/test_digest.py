"""Digests: the numbers come from the reader's scope only, the calendar is the policy's,
and the scheduler sends one message per officer, in their language, chart attached.

The demo county (``demo.county``) has two townships: 梅林镇 (梅林中心小学, 梅林中学; classes
0–9) and 石桥乡 (石桥九年制学校; classes 10–11). Cases are made through the ladder, each
action in its own unit of work, on the injected clock (``tests.casedriver``); the datian
policy sends the township digest at 18:00 on working days and the county one on Monday
at 08:30 (Asia/Shanghai). November 2026 has no holidays; 2026-10-01…07 is National Day
and Saturday 2026-10-10 a make-up working day (调休).
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from casework import digest, kinds, ladder, scheduler
from casework.clock import FrozenClock
from casework.i18n import Text, _
from casework.outbox import text_from_json
from casework.policy import Policy
from casework.uow import unit_of_work
from demo.county import World
from documents import digest_chart
from models.tables import Deadline, OutboxMessage, User
from tests.casedriver import Run, local, shown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CJK = re.compile(r"[\u3400-\u9fff]")
MEILIN_SCHOOLS = ("梅林中心小学", "梅林中学")
SHIQIAO_NAMES = ("石桥", "竹园村", "下坪村")


@pytest.fixture
def run(engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> Run:
    return Run(engine, clock, policy, world)


@pytest.fixture
def no_renderer() -> Iterator[None]:
    """No chart renderer installed (whatever an earlier test or the bot installed)."""
    previous = digest.set_chart_renderer(None)
    yield
    digest.set_chart_renderer(previous)


@pytest.fixture
def fake_renderer() -> Iterator[list[digest.Chart]]:
    """A renderer that records what it was asked to draw and returns b"PNG:<lang>"."""
    drawn: list[digest.Chart] = []

    def render(chart: digest.Chart) -> bytes:
        drawn.append(chart)
        return b"PNG:" + chart.lang.encode()

    previous = digest.set_chart_renderer(render)
    yield drawn
    digest.set_chart_renderer(previous)


def open_case(run: Run, class_index: int, pupil: int = 0) -> int:
    """Report the ``pupil``-th child of class ``class_index``, as their class teacher."""
    student = run.world.students_of_class(run.world.classes[class_index])[pupil]
    teacher = run.user(f"teacher{class_index + 1}")
    report = ladder.ReportInput(student_id=student.id, reasons=("learning",))
    return run.do(ladder.report, teacher, report).case.id or 0


def data_for(run: Run, who: str, start: datetime, end: datetime) -> digest.DigestData:
    with unit_of_work(run.engine, run.clock, run.policy) as cw:
        return digest.digest_data(cw, run.user(who), start, end)


def rendered(run: Run, who: str, scope: digest.Scope, data: digest.DigestData, lang: str) -> str:
    with unit_of_work(run.engine, run.clock, run.policy) as cw:
        heading, lines = digest.digest_text(cw, run.user(who), scope, data, with_chart=True)
    return "\n".join(t.render(lang) for t in [heading, *lines])


def day_counts(data: digest.DigestData, *days: date) -> list[tuple[int, int]]:
    by_day = {p.day: (p.open, p.out_of_school) for p in data.per_day}
    return [by_day[d] for d in days]


# --------------------------------------------------------------------------- the numbers


def test_a_township_digest_counts_only_the_townships_cases(run: Run) -> None:
    run.start(2026, 11, 20, 10, 0)  # Friday
    a = open_case(run, 4)  # 梅林中学, before the period
    run.at(2026, 11, 23, 10, 0)  # Monday
    open_case(run, 5)  # 梅林中学
    open_case(run, 10)  # 石桥九年制学校
    open_case(run, 11)  # 石桥九年制学校
    run.at(2026, 11, 23, 11, 0)
    run.do(ladder.mark_returned, run.user("school_admin2"), a)

    # Monday's daily digest covers everything since Friday's, 18:00 to 18:00
    start, end = local(2026, 11, 20, 18, 0), local(2026, 11, 23, 18, 0)
    meilin = data_for(run, "township_officer1", start, end)
    assert (meilin.new, meilin.returned, meilin.closed, meilin.escalated) == (1, 1, 0, 0)
    assert (meilin.open, meilin.out_of_school, meilin.overdue) == (2, 1, 0)
    assert meilin.by_state == (("suspected", 1), ("returned", 1))
    assert [(u.name, u.cases) for u in meilin.by_school] == [("梅林中学", 2)]
    assert sum(u.cases for u in meilin.by_village) == 2
    # the chart: eight weeks of days ending with the period's last day
    assert len(meilin.per_day) == 56
    assert meilin.per_day[-1].day == date(2026, 11, 23)
    assert meilin.per_day[0].day == date(2026, 9, 29)
    assert day_counts(meilin, date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 22)) == [
        (0, 0), (1, 1), (1, 1)
    ]
    assert day_counts(meilin, date(2026, 11, 23)) == [(2, 1)]  # a returned, still open

    shiqiao = data_for(run, "township_officer2", start, end)
    assert (shiqiao.new, shiqiao.returned, shiqiao.open, shiqiao.out_of_school) == (2, 0, 2, 2)
    assert shiqiao.by_state == (("suspected", 2),)
    assert [(u.name, u.cases) for u in shiqiao.by_school] == [("石桥九年制学校", 2)]
    assert day_counts(shiqiao, date(2026, 11, 22), date(2026, 11, 23)) == [(0, 0), (2, 2)]

    # the text names nothing outside the reader's township, in either language
    for lang in ("zh_Hans", "en"):
        text = rendered(run, "township_officer1", "township", meilin, lang)
        assert not any(name in text for name in SHIQIAO_NAMES), text
        assert "梅林中学" in text
    english = rendered(run, "township_officer1", "township", meilin, "en")
    assert english.splitlines()[:3] == [
        "Daily digest, 梅林镇, Nov 20 18:00 to Nov 23 18:00",
        "In this period: 1 new, 1 returned to school, 0 closed, 0 moved up the ladder.",
        "Overdue now: 0 (a step or visit deadline has passed).",
    ]
    assert "By state: suspected dropout 1; returned to school 1" in english
    chinese = rendered(run, "township_officer1", "township", meilin, "zh_Hans")
    assert CJK.search(chinese.splitlines()[1]) and "returned" not in chinese


def test_the_weekly_county_digest_covers_both_townships(run: Run) -> None:
    run.start(2026, 11, 10, 10, 0)  # a case returned and closed out during the week
    x = open_case(run, 4, 1)
    run.at(2026, 11, 12, 10, 0)
    run.do(ladder.mark_returned, run.user("school_admin2"), x)
    run.at(2026, 11, 17, 9, 0)
    run.do(ladder.confirm_attending, run.user("teacher5"), x, True)
    open_case(run, 5, 1)  # 梅林: left suspected; its step passes unanswered
    z = open_case(run, 10, 1)  # 石桥: the school sends it up to the township
    run.at(2026, 11, 18, 10, 0)
    run.close_out(x, "school_admin2")
    run.do(ladder.escalate, run.user("school_admin3"), z)  # suspected → school: the start
    run.do(ladder.escalate, run.user("school_admin3"), z)  # school → township: moved up
    run.at(2026, 11, 23, 9, 0)  # after the period: neither counted nor drawn
    open_case(run, 11, 1)

    start, end = local(2026, 11, 16, 8, 30), local(2026, 11, 23, 8, 30)
    county = data_for(run, "county_officer", start, end)
    assert (county.new, county.returned, county.closed, county.escalated) == (2, 0, 1, 1)
    assert county.overdue == 1  # y's step (Wed 17:30) has passed; z's round is not due yet
    assert (county.open, county.out_of_school) == (2, 2)
    assert county.by_state == (("suspected", 1), ("township_persuasion", 1))
    assert sorted((u.name, u.cases) for u in county.by_school) == [
        ("梅林中学", 1), ("石桥九年制学校", 1)
    ]
    assert day_counts(
        county, date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 12), date(2026, 11, 17),
        date(2026, 11, 18), date(2026, 11, 23),
    ) == [(0, 0), (1, 1), (1, 0), (3, 2), (2, 2), (2, 2)]

    # the same week through the township's eyes: only its own cases
    meilin = data_for(run, "township_officer1", start, end)
    assert (meilin.new, meilin.closed, meilin.escalated, meilin.overdue) == (1, 1, 0, 1)
    assert meilin.by_state == (("suspected", 1),)
    assert [u.name for u in meilin.by_school] == ["梅林中学"]

    english = rendered(run, "county_officer", "county", county, "en")
    assert english.startswith("Weekly digest, 青松县, Nov 16 08:30 to Nov 23 08:30\n")
    assert "1 closed, 1 moved up the ladder" in english


def test_overdue_counts_unanswered_step_and_round_deadlines_in_scope(run: Run) -> None:
    run.start(2026, 11, 23, 9, 0)
    case = open_case(run, 4, 2)
    run.do(ladder.escalate, run.user("school_admin2"), case)
    run.do(ladder.escalate, run.user("school_admin2"), case)  # township: round 1 due 11-30 17:30

    def overdue(who: str) -> int:
        return data_for(run, who, run.clock.now() - timedelta(days=1), run.clock.now()).overdue

    run.at(2026, 11, 30, 17, 0)
    assert overdue("township_officer1") == 0
    run.at(2026, 11, 30, 18, 0)  # past due, the scheduler has not run yet: an open row
    assert (overdue("township_officer1"), overdue("county_officer")) == (1, 1)
    assert overdue("township_officer2") == 0  # not their township
    assert "round: overdue notice to 2" in run.tick(2026, 11, 30, 18, 1)
    # the scheduler marked the round done when it told the cadres: still unanswered
    assert overdue("township_officer1") == 1
    run.visit("township_officer1", case, "joint_visit", "refused")  # the round is done
    assert overdue("township_officer1") == 0
    assert run.deadlines(case)[-1] == "round township_persuasion #2 2026-12-07 17:30 open"


def test_cases_closed_before_the_window_are_left_out_and_an_empty_digest_says_so(
    run: Run,
) -> None:
    run.start(2026, 9, 1, 10, 0)
    old = open_case(run, 4)
    run.at(2026, 9, 2, 10, 0)
    run.do(ladder.mark_returned, run.user("school_admin2"), old)
    run.at(2026, 9, 10, 10, 0)
    run.do(ladder.confirm_attending, run.user("teacher5"), old, True)
    run.close_out(old, "school_admin2")

    data = data_for(run, "township_officer1", local(2026, 11, 22, 18, 0), local(2026, 11, 23, 18, 0))
    assert (data.new, data.returned, data.closed, data.open) == (0, 0, 0, 0)
    assert all(p.open == 0 for p in data.per_day)
    assert rendered(run, "township_officer1", "township", data, "en").splitlines()[-1] == (
        "Open cases: none."
    )


def test_long_unit_lists_are_cut_to_the_busiest_with_a_remainder() -> None:
    units = [digest.UnitCount(i, f"村{i}", 10 - i) for i in range(8)]
    text = digest._unit_items(units, Text(digest.NO_VILLAGE)).render("en")
    assert text == "村0 10; 村1 9; 村2 8; 村3 7; 村4 6; 村5 5; 2 more: 7"
    none = digest._unit_items([digest.UnitCount(None, "", 2)], Text(digest.NOT_ENROLLED))
    assert none.render("en") == "not enrolled 2"
    assert CJK.search(none.render("zh_Hans"))


# --------------------------------------------------------------------------- the chart


def _chart(lang: str) -> digest.Chart:
    points = tuple(
        digest.DayCount(date(2026, 9, 29) + timedelta(days=i), 3 + i // 6, 2 + i // 9)
        for i in range(56)
    )
    return digest.Chart(points, _("Open cases, last {weeks} weeks", weeks=8), lang)


def _decoded(png: bytes) -> tuple[int, ...]:
    from matplotlib import image

    return tuple(image.imread(io.BytesIO(png)).shape)


@pytest.mark.parametrize("lang", ["en", "zh_Hans"])
def test_the_chart_is_a_phone_sized_png_without_missing_glyphs(
    lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest_chart, "cjk_font", lambda: None)  # a fresh server
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font" would fail here
        png = digest_chart.render(_chart(lang))
    assert png.startswith(PNG_SIGNATURE)
    assert _decoded(png) == (450, 800, 4)


def test_without_a_cjk_font_the_chart_carries_no_chinese_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib.text import Text as MplText

    def texts(lang: str) -> list[str]:
        fig = digest_chart.build_figure(_chart(lang))
        fig.draw_without_rendering()  # tick labels exist only once laid out
        return [t.get_text() for t in fig.findobj(MplText) if t.get_text()]

    title_zh = _("Open cases, last {weeks} weeks", weeks=8).render("zh_Hans")
    assert CJK.search(title_zh), "the catalog translates the chart title"
    monkeypatch.setattr(digest_chart, "cjk_font", lambda: None)
    assert not any(CJK.search(t) for t in texts("zh_Hans"))
    assert "10-05" in texts("zh_Hans")  # dates and counts stay
    assert "Open cases, last 8 weeks" in texts("en")
    # with a Chinese font the title is drawn in it (not laid out here: this machine has none)
    monkeypatch.setattr(digest_chart, "cjk_font", lambda: "Noto Sans CJK SC")
    fig = digest_chart.build_figure(_chart("zh_Hans"))
    titles = [t for t in fig.findobj(MplText) if t.get_text() == title_zh]
    assert [t.get_family() for t in titles] == [["Noto Sans CJK SC"]]


# --------------------------------------------------------------------------- the calendar


def _digest_rows(engine: Engine, world: World) -> list[str]:
    names = {world.users[k].id: k for k in ("township_officer1", "township_officer2", "county_officer")}
    with Session(engine) as s:
        rows = s.exec(
            select(Deadline).where(Deadline.kind == "digest").order_by(col(Deadline.id))
        ).all()
        return sorted(
            f"{names[d.recipient_id]} {shown(d.due_at)} since "
            f"{shown(datetime.fromisoformat(d.payload['since']))} {d.dedupe_key}"
            for d in rows
        )


def _plan(run: Run) -> None:
    with unit_of_work(run.engine, run.clock, run.policy) as cw:
        digest.plan_digests(cw)


def test_the_planner_makes_one_row_per_officer_and_day_at_the_policy_times(
    run: Run, world: World
) -> None:
    t1, t2, c = (world.users[k].id for k in ("township_officer1", "township_officer2", "county_officer"))
    run.start(2026, 11, 23, 9, 0)  # Monday; the county digest was due half an hour ago
    _plan(run)
    _plan(run)  # every tick plans: nothing twice
    assert _digest_rows(run.engine, world) == sorted([
        f"township_officer1 2026-11-23 18:00 since 2026-11-20 18:00 digest:township:{t1}:2026-11-23",
        f"township_officer2 2026-11-23 18:00 since 2026-11-20 18:00 digest:township:{t2}:2026-11-23",
        f"county_officer 2026-11-23 08:30 since 2026-11-16 08:30 digest:county:{c}:2026-11-23",
        f"county_officer 2026-11-30 08:30 since 2026-11-23 08:30 digest:county:{c}:2026-11-30",
    ])
    run.at(2026, 11, 23, 19, 0)
    _plan(run)
    assert [r for r in _digest_rows(run.engine, world) if "11-24" in r] == [
        f"township_officer1 2026-11-24 18:00 since 2026-11-23 18:00 digest:township:{t1}:2026-11-24",
        f"township_officer2 2026-11-24 18:00 since 2026-11-23 18:00 digest:township:{t2}:2026-11-24",
    ]
    assert len(_digest_rows(run.engine, world)) == 6


def test_daily_digests_skip_holidays_and_fall_on_make_up_working_days(
    run: Run, world: World
) -> None:
    with Session(run.engine) as s:  # one township officer is enough here
        for key in ("township_officer2", "county_officer"):
            user = s.get(User, world.users[key].id)
            assert user is not None
            user.unreachable = True  # blocked the bot: no digest is planned for them
            s.add(user)
        s.commit()
    run.start(2026, 9, 30, 19, 0)  # Wednesday before National Day, after the digest
    _plan(run)
    assert [r.split(" digest:")[0] for r in _digest_rows(run.engine, world)] == [
        "township_officer1 2026-09-30 18:00 since 2026-09-29 18:00",  # an hour late: still sent
        "township_officer1 2026-10-08 18:00 since 2026-09-30 18:00",  # the holiday in one
    ]
    run.at(2026, 10, 9, 19, 0)
    _plan(run)
    assert "township_officer1 2026-10-10 18:00 since 2026-10-09 18:00" in [
        r.split(" digest:")[0] for r in _digest_rows(run.engine, world)
    ]  # Saturday 10-10 is a working day (调休)


def test_a_digest_too_late_to_be_news_is_dropped(
    run: Run, world: World, no_renderer: None
) -> None:
    run.start(2026, 11, 23, 17, 0)
    _plan(run)  # Monday 18:00 for the townships; the county's of 08:30 is already due
    run.at(2026, 11, 24, 1, 0)  # the bot was down from 17:00 to 01:00
    tick = scheduler.tick(run.engine, run.clock, run.policy, planners=[])
    # the daily one is 7 h late (more than 6): dropped; the weekly one 16.5 h (under 24): sent
    assert sorted(str(a) for a in tick.acted) == [
        "digest: digest queued", "digest: too late", "digest: too late"
    ]
    assert [m.recipient_id for m in _digests(run.engine)] == [world.users["county_officer"].id]


def test_the_planner_and_handler_are_registered_with_the_scheduler() -> None:
    assert digest.plan_digests in kinds.PLANNERS
    assert kinds.KINDS["digest"].handler is digest.handle_digest
    assert kinds.KINDS["digest"].caseless


# --------------------------------------------------------------------------- the messages


def _digests(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(col(OutboxMessage.id))
            ).all()
        )


def _text(message: OutboxMessage, lang: str) -> str:
    payload = message.payload
    lines = [text_from_json(payload["text"]).render(lang)]
    return "\n".join(lines + [text_from_json(t).render(lang) for t in payload.get("lines", [])])


def _set_language(engine: Engine, user: User, lang: str) -> None:
    with Session(engine) as s:
        row = s.get(User, user.id)
        assert row is not None
        row.language = lang
        s.add(row)
        s.commit()


def test_the_tick_sends_each_officer_one_digest_in_their_language(
    run: Run, world: World, fake_renderer: list[digest.Chart]
) -> None:
    _set_language(run.engine, world.users["township_officer2"], "en")
    run.start(2026, 11, 23, 9, 0)
    open_case(run, 10)  # 石桥
    names = {world.users[k].id: k for k in ("township_officer1", "township_officer2", "county_officer")}

    first = scheduler.tick(run.engine, run.clock, run.policy, planners=[digest.plan_digests])
    assert [str(a) for a in first.acted] == ["digest: digest queued with chart"]  # Monday 08:30
    run.at(2026, 11, 23, 18, 0)
    second = scheduler.tick(run.engine, run.clock, run.policy, planners=[digest.plan_digests])
    assert [str(a) for a in second.acted] == ["digest: digest queued with chart"] * 2
    again = scheduler.tick(run.engine, run.clock, run.policy, planners=[digest.plan_digests])
    assert again.acted == []

    messages = _digests(run.engine)
    assert Counter(names[m.recipient_id] for m in messages) == {
        "county_officer": 1, "township_officer1": 1, "township_officer2": 1
    }
    by_name = {names[m.recipient_id]: m for m in messages}
    # the chart was drawn for each reader in their language and travels as base64
    assert sorted(c.lang for c in fake_renderer) == ["en", "zh_Hans", "zh_Hans"]
    assert base64.b64decode(by_name["township_officer2"].payload["photo_b64"]) == b"PNG:en"
    assert base64.b64decode(by_name["township_officer1"].payload["photo_b64"]) == b"PNG:zh_Hans"

    english = _text(by_name["township_officer2"], "en")
    assert english.startswith("Daily digest, 石桥乡, Nov 20 18:00 to Nov 23 18:00\n")
    assert "In this period: 1 new," in english
    assert "Chart: open cases per day over the last 8 weeks" in english
    chinese = _text(by_name["township_officer1"], "zh_Hans")
    assert CJK.search(chinese) and "Daily digest" not in chinese
    assert "石桥" not in chinese
    # a photo caption holds 1024 characters
    assert all(len(_text(m, lang)) < 1024 for m in messages for lang in ("en", "zh_Hans"))


def test_with_the_real_renderer_the_payload_carries_a_png(run: Run, world: World) -> None:
    previous = digest.set_chart_renderer(digest_chart.render)
    try:
        run.start(2026, 11, 23, 9, 0)
        scheduler.tick(run.engine, run.clock, run.policy, planners=[digest.plan_digests])
    finally:
        digest.set_chart_renderer(previous)
    (message,) = _digests(run.engine)
    png = base64.b64decode(message.payload["photo_b64"])
    assert png.startswith(PNG_SIGNATURE) and _decoded(png) == (450, 800, 4)
    # the sender sends it as one photo, the digest's text as its caption
    from bot.outbox_sender import render_parts

    (part,) = render_parts(message.payload, "en")
    assert part.photo == png
    assert part.text.startswith("Weekly digest, 青松县, Nov 16 08:30 to Nov 23 08:30\n")


def test_without_a_renderer_or_when_it_fails_the_digest_goes_as_text(
    run: Run, world: World, no_renderer: None
) -> None:
    run.start(2026, 11, 23, 9, 0)
    tick = scheduler.tick(run.engine, run.clock, run.policy, planners=[digest.plan_digests])
    assert [str(a) for a in tick.acted] == ["digest: digest queued"]
    (message,) = _digests(run.engine)
    assert "photo_b64" not in message.payload
    assert "Chart:" not in _text(message, "en")

    def broken(chart: digest.Chart) -> bytes:
        raise RuntimeError("no fonts today")

    digest.set_chart_renderer(broken)
    run.at(2026, 11, 23, 18, 0)
    tick = scheduler.tick(run.engine, run.clock, run.policy, planners=[digest.plan_digests])
    assert [str(a) for a in tick.acted] == ["digest: digest queued"] * 2 and not tick.errors
    assert len(_digests(run.engine)) == 3


def test_an_officer_switched_off_after_planning_gets_nothing(
    run: Run, world: World, no_renderer: None
) -> None:
    run.start(2026, 11, 23, 17, 0)
    _plan(run)
    with Session(run.engine) as s:
        user = s.get(User, world.users["township_officer1"].id)
        assert user is not None
        user.active = False
        s.add(user)
        s.commit()
    run.at(2026, 11, 23, 18, 0)
    tick = scheduler.tick(run.engine, run.clock, run.policy, planners=[])
    assert sorted(str(a) for a in tick.acted) == [
        "digest: digest queued", "digest: digest queued", "digest: recipient gone"
    ]
    assert sorted(m.recipient_id or 0 for m in _digests(run.engine)) == sorted(
        world.users[k].id or 0 for k in ("township_officer2", "county_officer")
    )
