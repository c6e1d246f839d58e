"""The console's verification page over HTTP: the county officer sees each round's progress
by unit and downloads the list written back (the bot's export, audited); a township officer
sees their township's children only, masked, and cannot export; a village cadre has no
console at all."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

from openpyxl import load_workbook
from sqlmodel import Session, col, select

from casework.i18n import gettext_for
from casework.personal import mask_name
from casework.verification import importing, work
from demo.verification_list import Child, suspect_list
from models.tables import VerificationEntry
from tests.casedriver import Run
from tests.consolekit import audits, client, link_from_bot, make_app, signed_in

DUE = date(2026, 12, 18)
PHOTO = {"kind": "photo", "file_id": "p1", "width": 1000, "height": 800}


def a_round(run: Run, world: Any) -> int:
    """A list of 70 children: four of 梅林中学's pupils, the rest invented, in 梅林镇 and
    石桥乡; one pupil's disposition proposed by the teacher."""
    pupils = [world.students[i] for i in (16, 17, 18, 19)]
    ours = [Child(s.name, s.gender, s.birth_date, s.id_number, s.hukou_address or "") for s in pupils]
    headers, rows = suspect_list(ours, ["上坪村", "溪口村", "竹园村", "下坪村"], ["梅林镇", "石桥乡"],
                                 size=70, today=run.clock.now().date(), duplicates=2, bad_id_share=0)
    made = run.do(importing.import_round, world.users["county_officer"], name="秋季核查", due_on=DUE,
                  headers=headers, rows=rows)
    with Session(run.engine) as s:
        first = s.exec(select(VerificationEntry).where(VerificationEntry.student_id == pupils[0].id)).one()
    run.do(work.propose, world.users["teacher"], first.id, "local_school",
           proof=[{**PHOTO, "evidence_kind": "enrolment_confirmation"}])
    return made.round.id or 0


def open_entries(engine: Any, township_id: int | None = None) -> set[int]:
    with Session(engine) as s:
        query = select(VerificationEntry.id).where(col(VerificationEntry.status).in_(("open", "proposed")))
        if township_id is not None:
            query = query.where(VerificationEntry.township_id == township_id)
        return {i for i in s.exec(query).all() if i is not None}


async def all_pages(http: Any) -> tuple[str, set[int]]:
    """The first page's HTML and the children listed on every page."""
    first = (await http.get("/console/verification")).text
    html, seen, page = first, set(), 1
    while True:
        seen |= {int(i) for i in re.findall(r'data-testid="child" data-entry="(\d+)"', html)}
        if 'data-testid="next-page"' not in html:
            return first, seen
        page += 1
        res = await http.get(f"/console/verification?page={page}")
        assert res.status_code == 200
        html = res.text


async def test_the_county_officer_sees_progress_and_downloads_the_list(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    round_id = a_round(run, world)
    app = make_app(harness)
    async with client(app) as http:
        await signed_in(http, await link_from_bot(harness.user(world.users["county_officer"])))
        await http.get("/console/lang?to=en&next=/console/overview")
        overview = (await http.get("/console/overview")).text
        assert 'href="/console/verification" data-testid="nav-verification"' in overview
        first, seen = await all_pages(http)
        assert "秋季核查" in first and "1 of 68 verified, 0 approved." in first
        units = re.findall(r'<tr data-testid="unit"><td>(.*?)</td><td class="num">(\d+)</td>'
                           r'<td class="num">(\d+)</td>', first)
        assert sum(int(n) for _u, n, _v in units) == 68 and ("梅林中学", "4", "1") in units
        assert "Page 1 of 2" in first
        assert seen == open_entries(engine) and len(seen) == 68  # the two named twice are left out
        name = world.students[17].name
        assert name not in first and mask_name(name) in first  # names masked
        assert "waiting for review" in first and "not yet verified" in first

        res = await http.get(f"/console/verification/{round_id}/export")
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(res.content)).active
    got = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(got) == 71 and got[0][7:9] == ["Disposition", "Detail"]
    assert got[1][2] == world.students[16].id_number and got[1][7] is not None
    done = audits(engine, "verification.export", allowed=True)
    assert len(done) == 1 and done[0].object_id == round_id


async def test_a_township_officer_sees_their_townships_children_only(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    round_id = a_round(run, world)
    officer = world.users["township_officer"]
    app = make_app(harness)
    async with client(app) as http:
        await signed_in(http, await link_from_bot(harness.user(officer)))
        first, seen = await all_pages(http)
        assert seen == open_entries(engine, officer.scope_id)
        assert 0 < len(seen) < len(open_entries(engine))
        assert 'data-testid="export"' not in first
        # Chinese first: the officer's language, no English words left
        assert "核查批次" in first and "尚未核查" in first and "not yet verified" not in first
        refused = await http.get(f"/console/verification/{round_id}/export")
        assert refused.status_code == 403
        assert gettext_for("zh_Hans", "Only the county officer can export a verification round.") in refused.text
    assert len(audits(engine, "verification.export", allowed=False)) == 1
    assert not audits(engine, "verification.export", allowed=True)


async def test_a_village_cadre_cannot_open_the_page(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    a_round(run, world)
    app = make_app(harness)
    chat = harness.user(world.users["village_cadre"])
    await chat.send("/console")
    assert "/console/login" not in chat.reply_texts[-1]  # the bot gives a cadre no link
    assert audits(engine, "console.link", allowed=False)
    async with client(app) as http:
        res = await http.get("/console/verification")
    assert res.status_code == 401 and 'data-testid="child"' not in res.text
