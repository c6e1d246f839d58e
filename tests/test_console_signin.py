"""Signing in to the console from the bot, and every way a link or a form is refused.

An officer sends /console and gets a one-time link; the link opens a session (a signed,
HttpOnly, SameSite=Strict cookie). A link used twice, an expired link, a link of another
user, a POST without the CSRF token and a case of another township typed in the URL are
each refused, and each refusal is in the audit log.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from casework import console_access
from models.tables import ConsoleLink, ConsoleSession
from tests.casedriver import Run
from tests.consolekit import audits, client, follow, link_from_bot, make_app, path_of, signed_in


async def test_an_officer_signs_in_from_the_bots_link_and_out_again(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = harness.user(world.users["township_officer"])
    app = make_app(harness)
    link = await link_from_bot(officer)
    assert officer.reply_texts == [f"您的工作台登录链接，仅限本人使用一次，5分钟内有效，请勿转发：\n{link}"]
    token = link.rsplit("t=", 1)[1]
    with Session(harness.engine) as s:
        stored = s.exec(select(ConsoleLink)).one()
        assert stored.user_id == world.users["township_officer"].id
        assert stored.token_hash == console_access.token_hash(token) and token not in stored.token_hash
    async with client(app) as preview:  # Telegram fetching the link for a preview
        for _ in range(2):
            assert (await preview.get(path_of(link))).status_code == 200
        assert "set-cookie" not in (await preview.get(path_of(link))).headers
    async with client(app) as http:
        res = await signed_in(http, link)
        assert res.headers["location"] == "/console/overview"
        cookie = res.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert "Max-Age=28800" in cookie
        page = await http.get("/console/overview")
        assert page.status_code == 200
        assert "总览" in page.text and world.users["township_officer"].display_name in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        out = await http.post("/console/logout", data={"csrf": csrf})
        assert out.status_code == 200
        again = await http.get("/console/overview")
        assert again.status_code == 401  # the session was ended on the server, not only forgotten
    assert [a.actor_id for a in audits(harness.engine, "console.sign_in")] == [world.users["township_officer"].id]
    assert len(audits(harness.engine, "console.sign_out")) == 1


async def test_a_teacher_gets_no_link_and_the_refusal_is_audited(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = harness.user(world.users["teacher"])
    make_app(harness)
    await teacher.send("/console")
    assert teacher.reply_texts == ["工作台仅供学校管理员和各级干部使用。"]
    assert audits(harness.engine, "console.link", allowed=False)[0].actor_id == world.users["teacher"].id


async def test_a_link_used_twice_is_refused_and_audited(harness, world) -> None:  # type: ignore[no-untyped-def]
    officer = harness.user(world.users["township_officer"])
    app = make_app(harness)
    link = await link_from_bot(officer)
    async with client(app) as http:
        await signed_in(http, link)
    async with client(app) as other:  # another browser, the same link
        res = await follow(other, link)
        assert res.status_code == 403 and "/console" in res.text
        assert (await other.get("/console/overview")).status_code == 401
    refused = audits(harness.engine, "console.sign_in", allowed=False)
    assert [(a.actor_id, a.detail["reason"]) for a in refused] == [(world.users["township_officer"].id, "used")]


async def test_an_expired_link_is_refused_and_audited(harness, world, clock) -> None:  # type: ignore[no-untyped-def]
    officer = harness.user(world.users["township_officer"])
    app = make_app(harness)
    link = await link_from_bot(officer)
    clock.advance(console_access.LINK_TTL + timedelta(seconds=1))
    async with client(app) as http:
        res = await follow(http, link)
        assert res.status_code == 403
        assert (await http.get("/console/overview")).status_code == 401
    refused = audits(harness.engine, "console.sign_in", allowed=False)
    assert [a.detail["reason"] for a in refused] == ["expired"]
    with Session(harness.engine) as s:
        assert s.exec(select(ConsoleSession)).all() == []


async def test_a_link_of_another_user_is_refused_and_audited(harness, world) -> None:  # type: ignore[no-untyped-def]
    u = world.users
    officer = harness.user(u["township_officer"])
    county = harness.user(u["county_officer"])
    app = make_app(harness)
    officers_link = await link_from_bot(officer)
    county_link = await link_from_bot(county)
    async with client(app) as http:
        # the officer's token under the county officer's id: refused, and the link survives
        forged = officers_link.replace(f"u={u['township_officer'].id}", f"u={u['county_officer'].id}")
        assert (await follow(http, forged)).status_code == 403
        # signed in as the county officer, the township officer's link is refused too
        await signed_in(http, county_link)
        assert (await follow(http, officers_link)).status_code == 403
        page = await http.get("/console/overview")
        assert u["county_officer"].display_name in page.text
    refused = audits(harness.engine, "console.sign_in", allowed=False)
    assert [a.detail["reason"] for a in refused] == ["another_user", "another_user"]
    assert refused[1].actor_id == u["county_officer"].id


async def test_a_post_without_the_csrf_token_is_refused_and_audited(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    case_id = run.report()
    run.do(lambda cw: __import__("casework.ladder", fromlist=["x"]).escalate(cw, world.users["school_admin"], case_id))
    officer = harness.user(world.users["township_officer"])
    app = make_app(harness)
    link = await link_from_bot(officer)
    async with client(app) as http:
        await signed_in(http, link)
        before = run.snapshot(case_id)
        for data in ({}, {"csrf": "0" * 64}):
            res = await http.post(f"/console/cases/{case_id}/act/pause",
                                  data={**data, "reason": "住院", "resume_on": "2026-12-20"})
            assert res.status_code == 403
        assert run.snapshot(case_id) == before
    refused = audits(harness.engine, "console.csrf", allowed=False)
    assert [(a.actor_id, a.detail["path"]) for a in refused] == [
        (world.users["township_officer"].id, f"/console/cases/{case_id}/act/pause")] * 2
