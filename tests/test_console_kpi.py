"""The overview's key figures over HTTP: the numbers on the page are what ``casework.figures``
computes for the reader over the last 30 days, and a township officer reads their
township's."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

from casework import figures, ladder
from casework.uow import unit_of_work
from models.tables import Student
from tests.casedriver import Run
from tests.consolekit import client, link_from_bot, make_app, signed_in

KPI_CELLS = ("kpi-quick", "kpi-return", "kpi-deadlines", "kpi-redropout", "kpi-caseload", "kpi-load",
             "kpi-unassigned")


def pupil_of(world: Any, school_index: int) -> Student:
    school = world.schools[school_index]
    klass = next(k for k in world.classes if k.school_id == school.id)
    return world.students_of_class(klass)[0]


def cells(html: str) -> dict[str, str]:
    found = dict(re.findall(r'data-testid="(kpi-[a-z]+)">(.*?)</td>', html, re.S))
    assert set(found) == set(KPI_CELLS), found
    return {k: " ".join(v.split()) for k, v in found.items()}


def expected(fig: figures.Figures) -> dict[str, str]:
    """The cells as the English page words them, from the figures themselves."""
    d, dl, six, c = fig.reporting_delay, fig.deadlines_total(), fig.redropout.again(6), fig.caseload
    return {
        "kpi-quick": f"{d.count('0-3')} of {d.total}",
        "kpi-return": figures.days_text(fig.to_return.median),
        "kpi-deadlines": f"{figures.percent(dl.share)} ({dl.met} of {dl.met + dl.missed})",
        "kpi-redropout": f"{six[0]} of {six[1]}",
        "kpi-caseload": f"{c.cases} cases, {c.workers} people",
        "kpi-load": f"{'—' if c.mean is None else f'{c.mean:.1f}'} / {c.max}",
        "kpi-unassigned": str(c.unassigned),
    }


async def page_of(harness: Any, app: Any, user: Any) -> str:
    async with client(app) as http:
        await signed_in(http, await link_from_bot(harness.user(user)))
        await http.get("/console/lang?to=en&next=/console/overview")
        res = await http.get("/console/overview")
        assert res.status_code == 200
        return res.text


async def test_the_key_figures_are_casework_figures_for_the_readers_scope(  # type: ignore[no-untyped-def]
    harness, world, engine, clock, policy,
) -> None:
    run = Run(engine, clock, policy, world)
    u = world.users
    today = clock.now().date()
    # 梅林镇: A reported 2 days into the absence, C 1 day; 石桥乡: B 10 days
    a = run.report(absent_since=today - timedelta(days=2))
    run.do(ladder.report, u["county_officer"], ladder.ReportInput(
        student_id=pupil_of(world, 2).id, reasons=("learning",), absent_since=today - timedelta(days=10)))
    run.do(ladder.report, u["county_officer"], ladder.ReportInput(
        student_id=pupil_of(world, 0).id, reasons=("family_change",), absent_since=today - timedelta(days=1)))
    run.at(2026, 11, 30, 10, 0)
    run.do(ladder.mark_returned, u["school_admin"], a)  # back after 7 days
    run.at(2026, 11, 30, 11, 0)
    app = make_app(harness)

    county = cells(await page_of(harness, app, u["county_officer"]))
    township = cells(await page_of(harness, app, u["township_officer"]))

    with unit_of_work(engine, clock, policy) as cw:
        end = cw.now()
        for key, shown in (("county_officer", county), ("township_officer", township)):
            assert shown == expected(figures.compute(cw, u[key], end - figures.DIGEST_WINDOW, end)), key
    # and the two scopes differ where the cases do
    assert county["kpi-quick"] == "2 of 3" and township["kpi-quick"] == "2 of 2"
    assert county["kpi-return"] == township["kpi-return"] == "7"
    assert county["kpi-caseload"].startswith("2 cases") and township["kpi-caseload"].startswith("1 cases")


async def test_the_key_figures_in_chinese(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    run.report(absent_since=clock.now().date() - timedelta(days=1))
    run.at(2026, 11, 23, 10, 0)
    app = make_app(harness)
    async with client(app) as http:
        await signed_in(http, await link_from_bot(harness.user(world.users["township_officer"])))
        html = (await http.get("/console/overview")).text
    assert 'data-testid="kpi-quick">1 / 1<' in html
    block = html.split('id="kpi"', 1)[1].split("</section>", 1)[0]
    assert "Reported within" not in block and "近 30 天" in block


def test_the_overview_keeps_its_slow_parts_until_a_case_moves_or_the_day_turns(  # type: ignore[no-untyped-def]
    cw, world, clock, monkeypatch,
) -> None:
    """The weekly series and the figures (a scan of the scope's cases and events) are
    computed once per scope while nothing happens; a new case, a case event, a new day or
    two minutes make them again, so the page reloading every 30 s shows what is true."""
    from casework import overview

    computed: list[int] = []
    compute = figures.compute

    def counting(*args: Any, **kwargs: Any) -> figures.Figures:
        computed.append(1)
        return compute(*args, **kwargs)

    monkeypatch.setattr(figures, "compute", counting)
    u = world.users
    county, township = u["county_officer"], u["township_officer"]
    first = overview.overview(cw, county)
    assert overview.overview(cw, county).series == first.series
    overview.overview(cw, township)
    assert len(computed) == 2  # once per scope, not once per page
    assert overview.overview(cw, township).kpi is not None and len(computed) == 2

    pupil = world.students_of_class(world.classes[4])[0]  # the school admin's school
    case_id = ladder.report(cw, u["teacher"], ladder.ReportInput(
        student_id=pupil.id, reasons=("learning",))).case.id
    clock.advance(timedelta(seconds=1))
    again = overview.overview(cw, county)
    assert len(computed) == 3 and again.series[-1][1] == first.series[-1][1] + 1
    assert again.total.open == first.total.open + 1
    ladder.escalate(cw, u["school_admin"], case_id or 0)  # an event, no new case
    cw.session.commit()  # what a page's unit of work does (the refresh behind reads it)
    overview.overview(cw, county)
    assert len(computed) == 4
    clock.advance(timedelta(minutes=1))
    overview.overview(cw, county)
    assert len(computed) == 4
    # time ran out while nothing happened: the kept figures are served, and made anew behind
    clock.advance(overview.CACHE_TTL)
    assert overview.overview(cw, county).kpi is not None
    cw.session.commit()  # the page's unit of work ends (SQLite: one writer at a time)
    for thread in [t for t in threading.enumerate() if t.name == "overview-refresh"]:
        thread.join(30)
    assert len(computed) == 5
    overview.overview(cw, county)
    assert len(computed) == 5  # the fresh one
    clock.advance(3 * overview.CACHE_TTL)  # long unread: made before the page is shown
    overview.overview(cw, county)
    assert len(computed) == 6
