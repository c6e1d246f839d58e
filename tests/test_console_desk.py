"""The console's desk pages: People (an invitation made with its link and QR code, revoked;
a colleague deactivated), Exports (the ledger made in the background with its progress,
then downloaded; the monthly report), the language switch, and the overview and review
queue refreshing themselves in Chromium when a new escalation or proposal arrives.
"""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from casework import outcomes
from models.tables import Invite, User
from tests.casedriver import Run
from tests.consolekit import (
    Server,
    audits,
    csrf_of,
    free_port,
    link_from_bot,
    make_app,
    photo_in_telegram,
)
from tests.test_console_browser import browse
from tests.test_console_pages import cases_in_three_places, session_for
from tests.test_sandbox import _chromium_or_skip


async def test_an_officer_invites_with_a_link_and_qr_then_revokes(harness, world, engine) -> None:  # type: ignore[no-untyped-def]
    app = make_app(harness)
    village = world.villages[1]  # 溪口村, 梅林镇
    async with session_for(harness, app, world.users["township_officer"]) as http:
        page = (await http.get("/console/people")).text
        assert world.users["teacher5"].display_name in page
        assert world.users["teacher11"].display_name not in page  # 石桥乡
        assert f'value="village:{village.id}"' in page
        assert f'value="village:{world.villages[2].id}"' not in page  # another township's village
        made = await http.post("/console/people/invite", data={
            "csrf": csrf_of(page), "role": "village_cadre", "unit": f"village:{village.id}", "name": "新村干部"})
        assert made.status_code == 200
        with Session(engine) as s:
            invite = s.exec(select(Invite).where(Invite.display_name == "新村干部")).one()
        link = f"https://t.me/baoxue_test_bot?start={invite.code}"
        assert f'data-testid="invite-link">{link}</a>' in made.text
        assert re.search(r'data-testid="invite-qr"><svg[^>]*>.*<path', made.text, re.S)
        # a village of the other township is refused (and audited by casework)
        refused = await http.post("/console/people/invite", data={
            "csrf": csrf_of(page), "role": "village_cadre", "unit": f"village:{world.villages[2].id}"})
        assert refused.status_code == 400
        assert '<p class="error" data-testid="error">只能邀请本辖区内与您同级或下级的人员。</p>' in refused.text
        gone = await http.post(f"/console/invites/{invite.id}/revoke", data={"csrf": csrf_of(page)})
        assert gone.status_code == 303
    with Session(engine) as s:
        assert s.get(Invite, invite.id).revoked_at is not None  # type: ignore[union-attr]
    assert len(audits(engine, "invite.create", allowed=False)) == 1
    assert len(audits(engine, "invite.revoke")) == 1


async def test_an_officer_deactivates_a_teacher_from_the_people_page(harness, world, engine) -> None:  # type: ignore[no-untyped-def]
    app = make_app(harness)
    teacher = world.users["teacher5"]
    async with session_for(harness, app, world.users["township_officer"]) as http:
        page = (await http.get("/console/people")).text
        assert f'/console/people/{teacher.id}/deactivate' in page
        done = await http.post(f"/console/people/{teacher.id}/deactivate", data={"csrf": csrf_of(page)})
        assert done.status_code == 303
        # the county officer is above them: no button, and a forged POST is refused
        county = world.users["county_officer"]
        assert f'/console/people/{county.id}/deactivate' not in page
        refused = await http.post(f"/console/people/{county.id}/deactivate", data={"csrf": csrf_of(page)})
        assert refused.status_code in (400, 403)
    with Session(engine) as s:
        assert s.get(User, teacher.id).deactivated_at is not None  # type: ignore[union-attr]
        assert s.get(User, county.id).deactivated_at is None  # type: ignore[union-attr]


async def test_the_ledger_is_made_in_the_background_and_downloaded(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    cases_in_three_places(harness, run, world)
    app = make_app(harness)
    async with session_for(harness, app, world.users["county_officer"]) as http:
        page = (await http.get("/console/exports")).text
        started = await http.post("/console/exports/ledger", data={"csrf": csrf_of(page), "state": "open"})
        assert started.status_code == 303
        job = started.headers["location"]
        for _ in range(200):
            status = (await http.get(job)).text
            if 'data-testid="download"' in status:
                break
            assert 'data-progress="' in status  # still running: the page shows how far
            import asyncio

            await asyncio.sleep(0.05)
        assert "已生成：共3个个案。" in status
        book = await http.get(job + "/file")
        assert book.status_code == 200
        workbook = load_workbook(io.BytesIO(book.content), read_only=True)
        assert len(workbook.sheetnames) >= 2
        report = await http.get("/console/exports/report?kind=month")
        assert report.status_code == 200 and report.content[:2] == b"PK"
    async with session_for(harness, app, world.users["township_officer"]) as other:
        assert (await other.get(job)).status_code == 404  # another officer's export is not theirs
    assert len(audits(engine, "ledger.export")) == 1


async def test_an_export_started_on_one_worker_is_followed_and_downloaded_on_another(  # type: ignore[no-untyped-def]
    harness, world, engine, clock, policy,
) -> None:
    """Two console instances on one database (two ``baoxue web`` workers): the job is a row,
    so the worker that did not start it shows its progress and serves its file; a job whose
    worker stopped reads as failed once it has been silent for long."""
    from datetime import timedelta

    from casework import export_jobs
    from casework.uow import unit_of_work
    from tests.consolekit import client

    run = Run(engine, clock, policy, world)
    cases_in_three_places(harness, run, world)
    first, second = make_app(harness), make_app(harness)
    async with session_for(harness, first, world.users["county_officer"]) as http, client(second) as other:
        other.cookies = http.cookies
        page = (await http.get("/console/exports")).text
        started = await http.post("/console/exports/ledger", data={"csrf": csrf_of(page), "state": "open"})
        assert started.status_code == 303
        job = started.headers["location"]
        for _ in range(200):
            status = (await other.get(job)).text
            if 'data-testid="download"' in status:
                break
            assert 'data-progress="' in status
            import asyncio

            await asyncio.sleep(0.05)
        assert "已生成：共3个个案。" in status
        book = await other.get(job + "/file")
        assert book.status_code == 200
        assert len(load_workbook(io.BytesIO(book.content), read_only=True).sheetnames) >= 2
        listed = (await other.get("/console/exports")).text
        assert job.rsplit("/", 1)[1] in listed
        # a job whose worker died while making it: no news for long, shown as failed
        with unit_of_work(engine, clock, policy) as cw:
            lost = export_jobs.start(cw, world.users["county_officer"], "ledger")
        clock.advance(export_jobs.STALE + timedelta(minutes=1))
        stopped = (await other.get(f"/console/exports/jobs/{lost}")).text
        assert "导出在完成前中断" in stopped and 'data-progress="' not in stopped
        assert (await other.get(f"/console/exports/jobs/{lost}/file")).status_code == 404


async def test_the_language_switch_turns_the_pages_english(harness, world) -> None:  # type: ignore[no-untyped-def]
    app = make_app(harness)
    async with session_for(harness, app, world.users["township_officer"]) as http:
        assert "<h1>总览</h1>" in (await http.get("/console/overview")).text
        switched = await http.get("/console/lang?to=en&next=/console/cases")
        assert switched.status_code == 303 and switched.headers["location"] == "/console/cases"
        page = (await http.get("/console/cases")).text
        assert '<h1>Cases <span class="muted">' in page and 'lang="en"' in page
        assert "个案" not in page.split("<main", 1)[1]
        evil = await http.get("/console/lang?to=en&next=https://example.org/")
        assert evil.headers["location"] == "/console/overview"  # never sent off-site


async def test_the_overview_and_review_queue_refresh_themselves(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    _chromium_or_skip()
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    u = world.users
    port = free_port()
    app = make_app(harness, origin=f"http://127.0.0.1:{port}", refresh_seconds=1)
    link = await link_from_bot(harness.user(u["county_officer"]))
    with Server(app, port):
        pw, browser, page = await browse({"width": 1280, "height": 800})
        try:
            await page.goto(link)
            await page.locator('[data-testid="sign-in"]').click()
            await page.wait_for_url("**/console/overview")
            tile = page.locator('[data-testid="due"] .tile').first.locator("b")
            before = int(await tile.inner_text())
            run.report(student=1)  # a new case, while the page is open
            await page.wait_for_function(
                f"() => document.querySelector('[data-testid=due] .tile b').innerText === '{before + 1}'",
                timeout=10_000)
            await page.goto(page.url.replace("/overview", "/reviews"))
            assert await page.locator('[data-testid="empty"]').count() == 1
            proof = {**photo_in_telegram(harness), "evidence_kind": "enrolment_confirmation"}
            run.do(outcomes.propose_outcome, u["township_officer"], ids["a"], "transferred",
                   reason="已在外省就读", evidence=(proof,))
            await page.locator('[data-testid="review"]').wait_for(timeout=10_000)
        finally:
            await browser.close()
            await pw.stop()


@pytest.mark.parametrize("action", ["pause", "close_out", "resume"])
async def test_a_refused_action_says_why_and_changes_nothing(harness, world, engine, clock, policy, action) -> None:  # type: ignore[no-untyped-def]
    """A pause without its date, an action the console does not take (销号 needs the photo
    from a phone), a resume of a case that is not paused: the page says why, the case is as
    it was."""
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    app = make_app(harness)
    async with session_for(harness, app, world.users["township_officer"]) as http:
        page = (await http.get(f"/console/cases/{ids['a']}")).text
        before = run.snapshot(ids["a"])
        res = await http.post(f"/console/cases/{ids['a']}/act/{action}",
                              data={"csrf": csrf_of(page), "reason": "住院治疗", "resume_on": ""})
        assert res.status_code == 400
        said = re.search(r'<p class="error" data-testid="error">(.*?)</p>', res.text)
        assert said is not None and said.group(1) == {
            "pause": "请填写恢复日期。",
            "close_out": "您目前不能对本个案执行此操作。",
            "resume": f"个案#{ids['a']}当前处于“乡镇劝返”，现在不能进行此操作。",
        }[action]
        assert run.snapshot(ids["a"]) == before


async def test_a_failed_export_reads_as_failed_on_the_exports_list(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    """A job that failed (or whose worker died) is listed as failed, not as "in progress 0%";
    a running one shows how far it is, a finished one that it is ready."""
    from datetime import timedelta

    from casework import export_jobs
    from casework.uow import unit_of_work

    officer = world.users["county_officer"]
    with unit_of_work(engine, clock, policy) as cw:
        lost = export_jobs.start(cw, officer, "ledger")
    clock.advance(export_jobs.STALE + timedelta(minutes=1))
    with unit_of_work(engine, clock, policy) as cw:
        failed = export_jobs.start(cw, officer, "ledger")
        export_jobs.fail(cw, failed, "disk full")
        running = export_jobs.start(cw, officer, "ledger")
        export_jobs.progress(cw, running, 40)
        done = export_jobs.start(cw, officer, "ledger")
        export_jobs.finish(cw, done, "台账.xlsx", 3, b"PK")

    def listed(page: str) -> dict[str, str]:
        items = re.findall(r'<li><a href="/console/exports/jobs/([^"]+)">(.*?)</li>', page)
        return {key: re.sub(r"<[^>]+>", "", rest) for key, rest in items}

    app = make_app(harness)
    async with session_for(harness, app, officer) as http:
        jobs = listed((await http.get("/console/exports")).text)
        assert jobs[failed] == jobs[lost] == "台账 · 导出失败：未完成，请重新导出"
        assert jobs[running] == "台账 · 生成中… 40%"
        assert jobs[done] == "台账.xlsx · 已生成，可下载"
        await http.get("/console/lang?to=en&next=/console/exports")
        jobs = listed((await http.get("/console/exports")).text)
        assert jobs[failed] == jobs[lost] == "The ledger (台账) · Failed: not finished, start it again"
        assert jobs[running] == "The ledger (台账) · In progress… 40%"
        assert jobs[done] == "台账.xlsx · Ready to download"
