"""The console in a real headless Chromium (Debian's, driven by Playwright as the sandbox's
test does), at a desktop's size and at a phone's 390×844:

- a township officer signs in from the link the bot sent, finds the overdue case from the
  overview, opens it, sees the visit and its photo, acknowledges the alert and assigns a
  village cadre;
- a county officer reviews a proposal beside its evidence and rejects it with a reason, and
  the township officer who proposed it reads why in the bot;
- a school administrator sees only their school's cases.

Screenshots go to test-output/console/<width>x<height>/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from casework import outcomes
from models.tables import Case, Deadline, Proposal
from tests.botkit import deliver_outbox
from tests.casedriver import Run
from tests.consolekit import Server, free_port, link_from_bot, make_app, photo_in_telegram
from tests.test_console_pages import cases_in_three_places
from tests.test_sandbox import CHROMIUM, CHROMIUM_FLAGS, _chromium_or_skip

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "console"
VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]
IDS = ["desktop", "phone-390x844"]


def make_overdue(engine: Any, clock: Any, case_id: int) -> None:
    """The case's next working deadline passes (no tick runs: it is overdue, not escalated)."""
    with Session(engine) as s:
        due = s.exec(select(Deadline.due_at).where(
            Deadline.case_id == case_id, Deadline.status == "open",
            col(Deadline.kind).in_(("step", "round"))).order_by(col(Deadline.due_at))).first()
    assert due is not None
    from datetime import UTC, timedelta

    clock.set(due.replace(tzinfo=UTC) + timedelta(hours=2) if due.tzinfo is None else due + timedelta(hours=2))


async def browse(viewport: dict[str, int]) -> Any:
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    page = await browser.new_page(viewport=viewport, locale="zh-CN")
    return pw, browser, page


async def fits(page: Any, viewport: dict[str, int]) -> None:
    """Nothing is wider than the screen (no sideways scrolling at 390px)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"] + 1, (width, viewport)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=IDS)
async def test_a_township_officer_finds_the_overdue_case_and_acts_on_it(  # type: ignore[no-untyped-def]
    harness, world, engine, clock, policy, viewport
) -> None:
    _chromium_or_skip()
    shots = OUTPUT / f"{viewport['width']}x{viewport['height']}"
    shots.mkdir(parents=True, exist_ok=True)
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    make_overdue(engine, clock, ids["a"])
    port = free_port()
    app = make_app(harness, origin=f"http://127.0.0.1:{port}")
    link = await link_from_bot(harness.user(world.users["township_officer"]))
    cadre = world.users["village_cadre"]
    with Server(app, port):
        pw, browser, page = await browse(viewport)
        try:
            await page.goto(link)
            await page.locator('[data-testid="sign-in"]').click()
            await page.wait_for_url("**/console/overview")
            assert page.url.endswith("/console/overview")
            await page.screenshot(path=str(shots / "1-overview.png"), full_page=True)
            await fits(page, viewport)
            overdue = page.locator('[data-testid="overdue-link"]')
            # A at the township and C (reported a day later at the school) are past their deadlines
            assert (await overdue.locator("b").inner_text()) == "2"
            await overdue.click()
            await page.wait_for_url("**/console/cases?due=overdue")
            rows = page.locator('[data-testid="case-table"] tbody tr')
            assert sorted([await r.get_attribute("data-case") for r in await rows.all()]) == sorted(
                [str(ids["a"]), str(ids["c"])])
            assert await page.locator("tr.overdue").count() == 2
            await page.screenshot(path=str(shots / "2-overdue-cases.png"), full_page=True)
            await fits(page, viewport)
            await page.locator(f'tr[data-case="{ids["a"]}"] a').first.click()
            await page.wait_for_url(f"**/console/cases/{ids['a']}")
            visits = page.locator('[data-testid="visit"]')
            assert await visits.count() == 1
            assert "父母外出务工，随祖母生活" in await visits.first.inner_text()
            photo = page.locator('[data-testid="evidence-photo"]').first
            await photo.scroll_into_view_if_needed()
            await page.wait_for_function(
                "() => { const i = document.querySelector('[data-testid=evidence-photo]');"
                " return i && i.complete && i.naturalWidth === 320; }")
            await page.screenshot(path=str(shots / "3-case.png"), full_page=True)
            await fits(page, viewport)
            await page.locator('[data-action="acknowledge"]').click()
            await page.locator('[data-testid="confirm-button"]').click()
            await page.wait_for_url("**?done=acknowledge")
            assert await page.locator('[data-testid="done"]').inner_text() == "已确认收到预警。"
            assert await page.locator('[data-action="acknowledge"]').count() == 0
            await page.locator('[data-action="assign"]').click()
            await page.locator('[data-testid="assignee"]').select_option(str(cadre.id))
            await page.screenshot(path=str(shots / "4-assign.png"), full_page=True)
            await page.locator('[data-testid="confirm-button"]').click()
            await page.wait_for_url("**?done=assign")
            assert await page.locator('[data-testid="done"]').inner_text() == "个案已指派。"
            await page.screenshot(path=str(shots / "5-assigned.png"), full_page=True)
        finally:
            await browser.close()
            await pw.stop()
    with Session(engine) as s:
        assert s.get(Case, ids["a"]).assigned_to_id == cadre.id  # type: ignore[union-attr]
        acks = s.exec(select(Deadline).where(Deadline.case_id == ids["a"], Deadline.kind == "ack")).all()
        assert [a.result for a in acks if a.acted_by] == ["acknowledged"]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=IDS)
async def test_a_county_officer_rejects_a_proposal_and_the_proposer_hears_it(  # type: ignore[no-untyped-def]
    harness, world, engine, clock, policy, viewport
) -> None:
    _chromium_or_skip()
    shots = OUTPUT / f"{viewport['width']}x{viewport['height']}"
    shots.mkdir(parents=True, exist_ok=True)
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    u = world.users
    proof = {**photo_in_telegram(harness, (200, 80, 60)), "evidence_kind": "enrolment_confirmation"}
    run.do(outcomes.propose_outcome, u["township_officer"], ids["a"], "transferred",
           reason="已在外省就读", evidence=(proof,))
    proposer = harness.user(u["township_officer"])
    port = free_port()
    app = make_app(harness, origin=f"http://127.0.0.1:{port}")
    link = await link_from_bot(harness.user(u["county_officer"]))
    with Server(app, port):
        pw, browser, page = await browse(viewport)
        page.on("dialog", lambda dialog: dialog.accept())  # "Reject this proposal?"
        try:
            await page.goto(link)
            await page.locator('[data-testid="sign-in"]').click()
            await page.wait_for_url("**/console/overview")
            await page.locator('[data-testid="nav-reviews"]').click()
            review = page.locator('[data-testid="review"]')
            assert await review.count() == 1
            assert "已在外省就读" in await review.inner_text()
            await page.wait_for_function(
                "() => { const i = document.querySelector('[data-testid=review] [data-testid=evidence-photo]');"
                " return i && i.complete && i.naturalWidth === 320; }")
            await page.screenshot(path=str(shots / "6-review.png"), full_page=True)
            await fits(page, viewport)
            await review.locator('[data-testid="note"]').fill("转学证明不清晰，请补充学籍系统截图")
            await review.locator('[data-testid="reject"]').click()
            await page.wait_for_url("**/console/reviews?done=rejected")
            assert await page.locator('[data-testid="empty"]').count() == 1
            await page.screenshot(path=str(shots / "7-rejected.png"), full_page=True)
        finally:
            await browser.close()
            await pw.stop()
    with Session(engine) as s:
        assert s.exec(select(Proposal.status)).one() == "rejected"
    await deliver_outbox(harness)
    heard = [t for t in proposer.reply_texts if "转学证明不清晰，请补充学籍系统截图" in t]
    assert len(heard) == 1, proposer.reply_texts


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=IDS)
async def test_a_school_admin_sees_only_their_schools_cases(  # type: ignore[no-untyped-def]
    harness, world, engine, clock, policy, viewport
) -> None:
    _chromium_or_skip()
    shots = OUTPUT / f"{viewport['width']}x{viewport['height']}"
    shots.mkdir(parents=True, exist_ok=True)
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    port = free_port()
    app = make_app(harness, origin=f"http://127.0.0.1:{port}")
    link = await link_from_bot(harness.user(world.users["school_admin"]))
    with Server(app, port):
        pw, browser, page = await browse(viewport)
        try:
            await page.goto(link)
            await page.locator('[data-testid="sign-in"]').click()
            await page.wait_for_url("**/console/overview")
            await page.locator('[data-testid="nav-cases"]').click()
            await page.wait_for_url("**/console/cases")
            shown = [await r.get_attribute("data-case")
                     for r in await page.locator('[data-testid="case-table"] tbody tr').all()]
            assert shown == [str(ids["a"])]
            await page.screenshot(path=str(shots / "8-school-admin-cases.png"), full_page=True)
            await fits(page, viewport)
            response = await page.goto(page.url.replace("/cases", f"/cases/{ids['c']}"))
            assert response is not None and response.status == 403
            await page.screenshot(path=str(shots / "9-school-admin-refused.png"), full_page=True)
            await page.goto(page.url.split("/console/")[0] + "/console/ladder")
            counts = page.locator('[data-testid="ladder-counts"]')
            # the school's one case, at the township's level; the profile's diagram beside it
            assert "乡镇劝返" in await counts.inner_text()
            assert await page.locator(".diagram svg").count() == 1
            await page.screenshot(path=str(shots / "10-ladder.png"), full_page=True)
            await fits(page, viewport)
        finally:
            await browser.close()
            await pw.stop()
