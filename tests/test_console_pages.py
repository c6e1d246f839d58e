"""The console's pages over HTTP, as each role sees them: scope on every page (a case of
another township typed in the URL is refused and audited; a school admin sees their
school's cases only), personal numbers masked unless shown on purpose (and audited), the
case actions and the review decision run through the same casework as the bot.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from sqlmodel import Session, select

from casework import ladder, outcomes
from models.tables import Case, Guardian, OutboxMessage, Proposal, Student
from tests.botkit import deliver_outbox
from tests.casedriver import Run
from tests.consolekit import (
    audits,
    client,
    csrf_of,
    link_from_bot,
    make_app,
    photo_in_telegram,
    signed_in,
)

PAGES = ("/console/overview", "/console/cases", "/console/cases?state=all", "/console/ladder",
         "/console/reviews", "/console/people", "/console/exports")


def pupil_of(world: Any, school_index: int) -> Student:
    school = world.schools[school_index]
    klass = next(k for k in world.classes if k.school_id == school.id)
    return world.students_of_class(klass)[0]


def cases_in_three_places(harness: Any, run: Run, world: Any) -> dict[str, int]:
    """A: 梅林中学 (梅林镇), at the township with an open alert, a visit with a photo, overdue.
    B: 石桥九年制学校 (石桥乡). C: 梅林中心小学 (梅林镇, another school)."""
    u = world.users
    a = run.report()
    run.do(ladder.escalate, u["school_admin"], a)
    run.do(ladder.escalate, u["school_admin"], a)
    photo = photo_in_telegram(harness)
    voice = harness.tg._store_file(b"OggS-voice-note", kind="voice", mime_type="audio/ogg")  # noqa: SLF001
    run.visit("village_cadre", a, "home_visit", "refused", participants=("村主任",),
              family_situation="父母外出务工，随祖母生活", measures="讲解义务教育法",
              evidence=(photo, {"kind": "voice", "file_id": voice.file_id, "duration": 7},
                        {"kind": "location", "lat": 26.12345, "lon": 117.54321}),
              latitude=26.12345, longitude=117.54321)
    b = run.do(ladder.report, u["county_officer"], ladder.ReportInput(
        student_id=pupil_of(world, 2).id, reasons=("learning",))).case.id or 0
    c = run.do(ladder.report, u["county_officer"], ladder.ReportInput(
        student_id=pupil_of(world, 0).id, reasons=("family_change",))).case.id or 0
    return {"a": a, "b": b, "c": c, "photo": photo["file_id"], "voice": voice.file_id}


@contextlib.asynccontextmanager
async def session_for(harness: Any, app: Any, user: Any) -> AsyncIterator[Any]:
    """A browser signed in as ``user`` from the link the bot gave them."""
    async with client(app) as http:
        await signed_in(http, await link_from_bot(harness.user(user)))
        yield http


async def test_a_case_of_another_township_typed_in_the_url_is_refused_and_audited(
    harness, world, engine, clock, policy,  # type: ignore[no-untyped-def]
) -> None:
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    app = make_app(harness)
    officer = world.users["township_officer"]
    async with session_for(harness, app, officer) as http:
        listed = (await http.get("/console/cases")).text
        assert f'data-case="{ids["a"]}"' in listed and f'data-case="{ids["c"]}"' in listed
        assert f'data-case="{ids["b"]}"' not in listed
        for path in (f"/console/cases/{ids['b']}", f"/console/cases/{ids['b']}/confirm/pause",
                     f"/console/cases/{ids['b']}/documents/register.docx"):
            res = await http.get(path)
            assert res.status_code == 403, path
            assert "您不负责此个案，无法查看或修改。" in res.text
        page = await http.get(f"/console/cases/{ids['b']}")
        csrf = csrf_of(page.text)
        res = await http.post(f"/console/cases/{ids['b']}/act/pause",
                              data={"csrf": csrf, "reason": "住院治疗", "resume_on": "2026-12-20"})
        assert res.status_code == 403
        assert (await http.get(f"/console/cases/{ids['b']}/files/{ids['photo']}")).status_code == 403
        # a unit of another township in the filter narrows nothing open to them
        other = world.schools[2].id
        assert f'data-case="{ids["b"]}"' not in (await http.get(f"/console/cases?unit=school:{other}")).text
    with Session(engine) as s:
        assert s.get(Case, ids["b"]).state == "suspected"  # type: ignore[union-attr]
    refused = [a for a in audits(engine, "view", allowed=False) + audits(engine, "pause", allowed=False)]
    assert {a.object_id for a in refused} == {ids["b"]} and {a.actor_id for a in refused} == {officer.id}
    assert len(refused) >= 4


async def test_a_school_admin_sees_only_their_schools_cases(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    app = make_app(harness)
    async with session_for(harness, app, world.users["school_admin"]) as http:
        listed = (await http.get("/console/cases?state=all")).text
        shown = {int(x) for x in re.findall(r'data-case="(\d+)"', listed)}
        assert shown == {ids["a"]}
        overview = (await http.get("/console/overview")).text
        assert "梅林中学" in overview and "梅林中心小学" not in overview and "石桥" not in overview
        assert (await http.get(f"/console/cases/{ids['c']}")).status_code == 403


async def test_no_page_shows_a_full_id_or_phone_until_shown_on_purpose(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    with Session(engine) as s:
        case = s.get(Case, ids["a"])
        student = s.get(Student, case.student_id)  # type: ignore[union-attr]
        phone = s.exec(select(Guardian.phone).where(Guardian.student_id == student.id)).one()  # type: ignore[union-attr]
        numbers = [s_.id_number for s_ in s.exec(select(Student)).all()]
        phones = list(s.exec(select(Guardian.phone)).all())
    app = make_app(harness)
    for key in ("township_officer", "county_officer", "school_admin"):
        async with session_for(harness, app, world.users[key]) as http:
            for path in (*PAGES, f"/console/cases/{ids['a']}", f"/console/cases/{ids['a']}/confirm/assign"):
                html = (await http.get(path)).text
                leaked = [n for n in numbers + phones if n and n in html]
                assert leaked == [], (key, path, leaked)
    async with session_for(harness, app, world.users["county_officer"]) as http:
        page = await http.get(f"/console/cases/{ids['a']}")
        assert student.id_number[:6] + "********" in page.text  # type: ignore[union-attr, index]
        shown = await http.post(f"/console/cases/{ids['a']}/disclose", data={"csrf": csrf_of(page.text)})
        assert student.id_number in shown.text and phone in shown.text  # type: ignore[operator]
    async with session_for(harness, app, world.users["township_officer"]) as http:
        page = await http.get(f"/console/cases/{ids['a']}")
        shown = await http.post(f"/console/cases/{ids['a']}/disclose", data={"csrf": csrf_of(page.text)})
        # the township persuades families: the phone in full, the ID number still masked
        assert phone in shown.text and student.id_number not in shown.text  # type: ignore[operator]
    disclosed = audits(engine, "case.disclose")
    assert [(a.actor_id, a.object_id, a.detail["disclosure"]) for a in disclosed] == [
        (world.users["county_officer"].id, ids["a"], "full"),
        (world.users["township_officer"].id, ids["a"], "phones"),
    ]


async def test_the_township_officer_acknowledges_and_assigns_through_the_ladder(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    u = world.users
    app = make_app(harness)
    async with session_for(harness, app, u["township_officer"]) as http:
        page = (await http.get(f"/console/cases/{ids['a']}")).text
        assert 'data-action="acknowledge"' in page and 'data-action="assign"' in page
        assert "父母外出务工，随祖母生活" in page and "26.12345, 117.54321" in page
        assert f"/console/cases/{ids['a']}/files/{ids['photo']}" in page
        img = await http.get(f"/console/cases/{ids['a']}/files/{ids['photo']}")
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        assert img.content.startswith(b"\x89PNG")
        # the voice note plays in the page; the documents download as Word and PDF
        assert f'<audio controls preload="none" src="/console/cases/{ids["a"]}/files/{ids["voice"]}"' in page
        voice = await http.get(f"/console/cases/{ids['a']}/files/{ids['voice']}")
        assert voice.status_code == 200 and voice.headers["content-type"] == "audio/ogg"
        # a file that is no evidence of this case is not fetched, whatever its id
        stray = photo_in_telegram(harness)["file_id"]
        assert (await http.get(f"/console/cases/{ids['a']}/files/{stray}")).status_code == 404
        docx = await http.get(f"/console/cases/{ids['a']}/documents/township_record.docx")
        assert docx.status_code == 200 and docx.content[:2] == b"PK"
        assert "attachment;" in docx.headers["content-disposition"]
        confirm = (await http.get(f"/console/cases/{ids['a']}/confirm/acknowledge")).text
        done = await http.post(f"/console/cases/{ids['a']}/act/acknowledge", data={"csrf": csrf_of(confirm)})
        assert done.status_code == 303 and done.headers["location"].endswith("?done=acknowledge")
        page = (await http.get(done.headers["location"])).text
        assert "已确认收到预警。" in page and 'data-action="acknowledge"' not in page
        confirm = (await http.get(f"/console/cases/{ids['a']}/confirm/assign")).text
        cadre = u["village_cadre"]
        assert f'<option value="{cadre.id}">' in confirm
        done = await http.post(f"/console/cases/{ids['a']}/act/assign",
                               data={"csrf": csrf_of(confirm), "assignee": str(cadre.id)})
        assert done.status_code == 303
    assert run.events(ids["a"])[-2:] == [
        "township_officer: acknowledged township_persuasion → township_persuasion",
        "township_officer: assigned township_persuasion → township_persuasion",
    ]
    with Session(engine) as s:
        assert s.get(Case, ids["a"]).assigned_to_id == cadre.id  # type: ignore[union-attr]
        told = s.exec(select(OutboxMessage).where(OutboxMessage.recipient_id == cadre.id,
                                                  OutboxMessage.kind == "assigned")).all()
        assert len(told) == 1


async def test_a_county_officer_rejects_a_proposal_with_a_reason_and_the_proposer_hears(harness, world, engine, clock, policy) -> None:  # type: ignore[no-untyped-def]
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    u = world.users
    proof = {**photo_in_telegram(harness, (200, 80, 60)), "evidence_kind": "enrolment_confirmation"}
    run.do(outcomes.propose_outcome, u["township_officer"], ids["a"], "transferred",
           reason="已在外省就读", evidence=(proof,))
    app = make_app(harness)
    proposer = harness.user(u["township_officer"])
    async with session_for(harness, app, u["county_officer"]) as http:
        queue = (await http.get("/console/reviews")).text
        assert queue.count('data-testid="review"') == 1 and "已在外省就读" in queue
        assert f"/console/cases/{ids['a']}/files/{proof['file_id']}" in queue
        proposal_id = run.do(lambda cw: cw.session.exec(select(Proposal.id)).one())
        empty = await http.post(f"/console/reviews/{proposal_id}",
                                data={"csrf": csrf_of(queue), "decision": "reject", "note": ""})
        assert empty.status_code == 400
        assert '<p class="error" data-testid="error">请填写驳回理由。</p>' in empty.text
        done = await http.post(f"/console/reviews/{proposal_id}",
                               data={"csrf": csrf_of(queue), "decision": "reject",
                                     "note": "转学证明不清晰，请补充学籍系统截图"})
        assert done.status_code == 303
        after = (await http.get(done.headers["location"])).text
        assert 'data-testid="empty"' in after and "机器人会通知申请人" in after
    with Session(engine) as s:
        p = s.exec(select(Proposal)).one()
        assert (p.status, p.decided_by, p.decision_note) == ("rejected", u["county_officer"].id,
                                                             "转学证明不清晰，请补充学籍系统截图")
    assert await deliver_outbox(harness) >= 1
    heard = [t for t in proposer.reply_texts if "转学证明不清晰" in t]
    assert len(heard) == 1, proposer.reply_texts


async def test_a_search_by_full_id_number_finds_the_child_and_never_puts_the_number_in_a_url(
    harness, world, engine, clock, policy,  # type: ignore[no-untyped-def]
) -> None:
    run = Run(engine, clock, policy, world)
    ids = cases_in_three_places(harness, run, world)
    with Session(engine) as s:
        student = s.get(Student, s.get(Case, ids["a"]).student_id)  # type: ignore[union-attr]
        number, name = student.id_number, student.name  # type: ignore[union-attr]
    app = make_app(harness)
    async with session_for(harness, app, world.users["township_officer"]) as http:
        page = (await http.get("/console/cases")).text
        spaced = " ".join((number[:6], number[6:14], number[14:]))  # type: ignore[index]
        found = await http.post("/console/cases/search", data={"csrf": csrf_of(page), "q": spaced})
        assert found.status_code == 303
        where = found.headers["location"]
        assert number not in where and number[-4:] not in where and "idh=" in where  # type: ignore[operator]
        listed = (await http.get(where)).text
        assert re.findall(r'data-case="(\d+)"', listed) == [str(ids["a"])]
        by_name = await http.post("/console/cases/search", data={"csrf": csrf_of(page), "q": name[1:]})
        assert "idh=" not in by_name.headers["location"]
        assert str(ids["a"]) in re.findall(r'data-case="(\d+)"', (await http.get(by_name.headers["location"])).text)
    # the other township's officer searching the same number finds nothing
    async with session_for(harness, app, world.users["township_officer2"]) as http:
        page = (await http.get("/console/cases")).text
        found = await http.post("/console/cases/search", data={"csrf": csrf_of(page), "q": number})
        assert re.findall(r'data-case="(\d+)"', (await http.get(found.headers["location"])).text) == []


def test_the_list_pages_sorts_and_keeps_its_filters_in_the_url(cw, world, clock) -> None:  # type: ignore[no-untyped-def]
    from casework import case_list

    u = world.users
    made = [ladder.report(cw, u["teacher"], ladder.ReportInput(student_id=s.id, reasons=("learning",))).case.id
            for s in world.students_of_class(world.classes[4])]
    f = case_list.CaseFilter.parse({"sort": "-id", "page": "2", "reason": "learning", "state": "nonsense",
                                    "unit": "school:x", "due": "soon"})
    assert (f.state, f.unit, f.due, f.reason, f.page) == ("open", None, None, "learning", 2)
    assert case_list.CaseFilter.parse(dict(
        __import__("urllib.parse", fromlist=["x"]).parse_qsl(f.query_string()))) == f
    page = case_list.list_page(cw, u["school_admin"], f, size=3)
    assert (page.total, page.page, page.pages) == (4, 2, 2)
    assert [r.case.id for r in page.rows] == sorted(made)[:1]  # newest first: the oldest is last
    first = case_list.list_page(cw, u["school_admin"], case_list.CaseFilter(sort="id"), size=3)
    assert [r.case.id for r in first.rows] == sorted(made)[:3]
    none = case_list.list_page(cw, u["school_admin"], case_list.CaseFilter(reason="marriage"))
    assert none.total == 0


def test_the_list_by_next_deadline_pages_as_a_sort_of_every_case_would(cw, world, clock) -> None:  # type: ignore[no-untyped-def]
    """The list reads its page from the cases' first deadlines in due order, then the cases
    with none: every page of every sort equals the page of the whole list sorted at once
    (ties on the due time, cases without an open deadline, a case with two, filters)."""
    from datetime import timedelta

    from sqlalchemy import update
    from sqlmodel import col

    from casework import case_list, deadlines
    from casework.clock import from_db
    from models.tables import Case, Deadline

    u = world.users
    made = [ladder.report(cw, u["teacher"], ladder.ReportInput(student_id=s.id, reasons=("learning",))).case.id
            for s in world.students_of_class(world.classes[4])]
    made += [ladder.report(cw, u["county_officer"], ladder.ReportInput(
        student_id=pupil_of(world, i).id, reasons=("family_change",))).case.id for i in (0, 2)]
    open_work = [Deadline.status == "open", col(Deadline.kind).in_(deadlines.WORK_KINDS)]
    work = cw.session.exec(select(Deadline).where(*open_work).order_by(col(Deadline.id))).all()
    assert len({d.case_id for d in work}) == len(made)
    now = clock.now()
    # two cases due at the same moment (overdue), one with none open, one with a second, earlier
    cw.session.execute(update(Deadline).where(col(Deadline.case_id).in_(made[:2]), *open_work)
                       .values(due_at=now - timedelta(days=1)))
    cw.session.execute(update(Deadline).where(col(Deadline.case_id) == made[2], *open_work)
                       .values(status="done"))
    extra = next(d for d in work if d.case_id == made[3])
    cw.session.add(Deadline(case_id=made[3], kind=extra.kind, due_at=now + timedelta(hours=1),
                            created_at=now, status="open", payload=dict(extra.payload)))
    cw.session.flush()

    def expected(f: case_list.CaseFilter) -> list[tuple[int, object]]:
        cases = cw.session.exec(select(Case)).all()
        dues: dict[int, object] = {}
        for d in cw.session.exec(select(Deadline).where(*open_work)).all():
            due = from_db(d.due_at)
            dues[d.case_id] = min(due, dues.get(d.case_id, due))  # type: ignore[type-var]
        found = [(c.id, dues.get(c.id)) for c in cases if c.id in made and (
            f.state == "all" or c.state in case_list.OPEN_STATES)
            and (not f.reason or f.reason in c.reasons)
            and (f.due != "overdue" or (dues.get(c.id) is not None and dues[c.id] < now))]  # type: ignore[operator]
        with_due = sorted((x for x in found if x[1] is not None), key=lambda x: (x[1], x[0]))
        if f.sort == "-due":
            with_due = sorted(with_due, key=lambda x: x[0])
            with_due = sorted(with_due, key=lambda x: x[1], reverse=True)  # type: ignore[arg-type,return-value]
        if f.sort in ("id", "-id"):
            return sorted(found, key=lambda x: x[0], reverse=f.sort == "-id")
        return with_due + sorted((x for x in found if x[1] is None), key=lambda x: x[0])

    for params in ({}, {"sort": "-due"}, {"sort": "-id"}, {"reason": "learning"}, {"due": "overdue"},
                   {"state": "all", "sort": "id"}):
        f = case_list.CaseFilter.parse(params)
        want = expected(f)
        got: list[tuple[int, object]] = []
        for n in range(1, len(want) // 2 + 2):
            page = case_list.list_page(cw, u["county_officer"], case_list.CaseFilter.parse(
                {**params, "page": str(n)}), size=2)
            assert page.total == len(want), params
            if n <= page.pages:
                got += [(r.case.id, r.next_due) for r in page.rows]
        assert got == want, params
