"""Every policy profile starts (issue #11): the sandbox and ``baoxue demo seed`` under each
of the five profiles, on a fresh database.

The demo county is seeded along the chosen profile's own ladder (``demo.county.seed_demo``):
a notice only where the profile has that level, rounds recorded where a level counts them,
escalations to the profile's next level. For each profile:

- in process, through the sandbox's own start-up path: ``sandbox.database.prepare`` seeds
  and marks the fresh database, then ``sandbox.server``'s app is served on a free loopback
  port with its clock started where the county was seeded (SANDBOX_START); the bot comes
  up against its stand-in, the page and the personas answer, the read-only timeline of the
  case at the top of the ladder is served (state, events, deadlines, who was told what and
  when), and a "+1 day" runs the scheduler's tick on the seeded cases; SIGTERM's handler
  stops it;
- the demo cases sit at the levels the profile has, and only those (the spread is a
  literal per profile, seeded as of a fixed instant);
- every case's events follow the profile's ladder: the levels a case went through are the
  profile's levels in order with none skipped, every escalation lands on the profile's next
  level, a notice is issued only where the profile has the notice level; every visit and
  deadline row is on one of the profile's levels; every proposal carries the evidence the
  profile names for its outcome and was decided by the reviewer it names;
- ``baoxue demo seed`` (typer's runner, POLICY set) seeds the same way;
- and tongnan — the profile whose ladder has no 限期复学通知书 — through the real
  ``baoxue sandbox`` command in a subprocess with POLICY=tongnan.

Runs on SQLite or TEST_DATABASE_URL (the subprocess on its own SQLite file).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.runtime import Runtime, boot
from bot.settings import Settings, get_settings
from casework import states
from casework.personal import Cipher, configure_encryption
from casework.policy import Policy, load_named
from models import db
from models import types as model_types
from models.tables import AppMeta, Case, CaseEvent, Deadline, OutboxMessage, Proposal, User, Visit
from sandbox import server as sandbox_server
from sandbox.database import MARKER_KEY, prepare
from tests.conftest import invoke, local

ROOT = Path(__file__).resolve().parent.parent
BAOXUE = ROOT / ".venv" / "bin" / "baoxue"
PROFILES = ("datian", "qiaocheng", "tongnan", "jidong", "lipu")
SEEDED_AT = local(2026, 11, 23, 9, 0)  # a Monday in the autumn term
TOP_CASE = 10  # the case the county officer moves up by hand: at the top in every profile

# where the twelve demo cases stand when seeded as of SEEDED_AT: the open ones by level,
# the one brought back and closed through the review, the one that came back on a visit
SPREAD: dict[str, dict[str, int]] = {
    # 1 working day to the school step; the notice case and the climbing one are at the
    # county and the top (the notice's 7 days are over), the rest at the township
    "datian": {"school_persuasion": 2, "township_persuasion": 6, "county_escalation": 1,
               "judicial": 1, "returned": 1, "closed": 1},
    # the township's 1-2 家访 take 10 working days: five cases wait at the notice level for
    # the 责令限期改正 (never past it without), the climbing one is at the top
    "qiaocheng": {"school_persuasion": 2, "township_persuasion": 1, "deadline_notice": 5,
                  "county_escalation": 1, "judicial": 1, "returned": 1, "closed": 1},
    # no notice level and no court step: the notice case finishes its three joint rounds and
    # goes to the 区扶贫工作领导小组 (county_escalation, the top), as does the climbing one
    "tongnan": {"school_persuasion": 2, "township_persuasion": 6, "county_escalation": 2,
                "returned": 1, "closed": 1},
    # the month mark: a visit does not end the suspected level, so three cases are still
    # there; the others were moved up by hand
    "jidong": {"suspected": 3, "township_persuasion": 5, "county_escalation": 1,
               "judicial": 1, "returned": 1, "closed": 1},
    # no township level: after the school's three rounds the cases go to the notice level and
    # wait there for the school's 劝返复学通知书; the noticed one went on to the township and
    # the 市教育局
    "lipu": {"school_persuasion": 2, "deadline_notice": 6, "county_escalation": 1,
             "judicial": 1, "returned": 1, "closed": 1},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spread(session: Session) -> dict[str, int]:
    """Open cases by level; the others by state."""
    found: Counter[str] = Counter()
    for case in session.exec(select(Case)).all():
        found[case.level if case.state in states.ACTIVE or case.state == states.PAUSED
              else case.state] += 1
    return dict(found)


def assert_follows_the_ladder(session: Session, policy: Policy, *, as_seeded: bool = True) -> None:
    """Every case, event, visit, deadline and proposal agrees with ``policy``'s ladder
    (``as_seeded``: and nothing was sent since, the seed's history all marked sent)."""
    levels = policy.states
    cases = session.exec(select(Case).order_by(col(Case.id))).all()
    assert len(cases) == 12
    for case in cases:
        assert case.level in levels, (case.id, case.level)
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))
        ).all()
        assert events[0].kind == "reported" and events[0].to_state == levels[0]
        went: list[str] = [levels[0]]
        for event in events:
            for state in (event.from_state, event.to_state):
                assert state is None or state in levels or state not in states.ACTIVE, \
                    (case.id, event.kind, state)
            if event.kind == "escalated":
                assert event.from_state is not None
                nxt = policy.next_level(event.from_state)  # type: ignore[arg-type]
                assert nxt is not None and event.to_state == nxt.state, (case.id, event)
            if event.kind == "notice_issued":
                assert policy.has_level("deadline_notice") and event.to_state == "deadline_notice"
            if event.to_state in levels and event.to_state != went[-1]:
                went.append(event.to_state)
        # up the profile's own levels in order, none skipped
        assert went == list(levels[: len(went)]), (case.id, went)
        for visit in session.exec(select(Visit).where(Visit.case_id == case.id)).all():
            assert visit.level in levels, (case.id, visit.level)
        for row in session.exec(select(Deadline).where(Deadline.case_id == case.id)).all():
            assert row.payload.get("level", levels[0]) in levels, (case.id, row.kind, row.payload)
        if case.notice_issued_at is not None:
            assert policy.has_level("deadline_notice")
    assert not policy.has_level("deadline_notice") or any(
        c.notice_issued_at is not None for c in cases
    ), "the profile has a notice level: one demo case was issued the notice"
    if not policy.has_level("deadline_notice"):
        assert all(c.notice_issued_at is None for c in cases)
    # one closed out through the review, one with a pending proposal, one paused
    proposals = session.exec(select(Proposal).order_by(col(Proposal.id))).all()
    assert sorted((p.outcome, p.status) for p in proposals) == [
        ("home_teaching", "pending"), ("retained", "approved")
    ]
    for proposal in proposals:
        named = policy.outcomes.rule(proposal.outcome).evidence
        assert [e["evidence_kind"] for e in proposal.evidence] == list(named)
        if proposal.status == "approved":
            decider = session.get(User, proposal.decided_by)
            proposer = session.get(User, proposal.proposed_by)
            assert decider is not None and proposer is not None
            assert decider.role == policy.outcomes.reviewer_role(proposal.outcome, proposer.role)
    assert session.exec(select(CaseEvent).where(CaseEvent.kind == "paused")).first() is not None
    # what the three invented weeks told people is history: nothing waits to be sent
    assert not as_seeded or session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).first() is None


def assert_timeline_of_the_top_case(timeline: dict[str, Any], policy: Policy) -> None:
    """The sandbox's read-only timeline of the case the county officer moved up by hand:
    its state, its events up the profile's ladder, its deadlines, who was told what."""
    case = timeline["case"]
    top = policy.states[-1]
    assert (case["id"], case["state"], case["level"]) == (TOP_CASE, top, top)
    assert case["ladder"] == list(policy.states)
    events = timeline["events"]
    assert events[0]["kind"] == "reported" and events[0]["by"]["role"] == "teacher"
    assert events[-1]["kind"] == "escalated" and events[-1]["to"] == top
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    ups = [e for e in events if e["kind"] == "escalated"]
    # by hand: the school administrator, the county officer; by a passed deadline: no one
    assert {e["by"]["role"] if e["by"] else None for e in ups} <= {
        "school_admin", "county_officer", None
    }
    assert any(e["by"] and e["by"]["role"] == "county_officer" for e in ups)
    assert {d["level"] for d in timeline["deadlines"]} <= set(policy.states) | {None}
    assert any(d["kind"] == "step" for d in timeline["deadlines"])
    told = timeline["told"]
    assert told and all(m["to"]["role"] and m["text"] and "{" not in m["text"] for m in told)
    assert {m["to"]["role"] for m in told} >= {"county_officer"}  # the top level's alert
    assert all(m["status"] == "sent" for m in told)  # seeded history


@pytest.fixture
def restore_cipher() -> Iterator[None]:
    previous = model_types._cipher
    yield
    if previous is not None:
        model_types.install_cipher(previous)


def _runtime(db_url: str, tmp_path: Path, name: str) -> Runtime:
    return boot(Settings(database_url=db_url, encryption_key=Cipher.generate_key(),
                         dev_key_file=tmp_path / "unused-key", policy=name))


async def _serve_a_while(runtime: Runtime, port: int, start: datetime) -> dict[str, Any]:
    """The sandbox app served as ``baoxue sandbox`` serves it (its clock started at
    ``start``, as SANDBOX_START does), until SIGTERM's handler."""
    app = sandbox_server.create_app(runtime, host="127.0.0.1", port=port, start=start)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = sandbox_server._Server(config, app.state.sandbox)  # noqa: SLF001 - its own server
    serving = asyncio.create_task(server.serve())
    seen: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(600):
                assert not serving.done(), "the sandbox stopped while starting"
                try:
                    health = (await client.get("/healthz")).json()
                    if health == {"status": "ok", "bot": "running"}:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the sandbox bot never ran")
            seen["page"] = (await client.get("/")).status_code
            seen["personas"] = (await client.get("/sandbox/api/personas")).json()["personas"]
            seen["clock"] = datetime.fromisoformat((await client.get("/sandbox/api/clock")).json()["now"])
            top = await client.get(f"/sandbox/api/cases/{TOP_CASE}/timeline", params={"lang": "en"})
            seen["timeline"] = top.json()
            seen["no_case"] = (await client.get("/sandbox/api/cases/999/timeline")).status_code
            # the scheduler's tick on the seeded cases, under this profile
            moved = await client.post("/sandbox/api/clock", data={"step": "day"})
            seen["moved"] = moved.status_code
            seen["moved_to"] = datetime.fromisoformat(moved.json()["now"])
    finally:
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(serving, 30)
    return seen


@pytest.mark.parametrize("name", PROFILES)
def test_the_sandbox_starts_under_each_profile(
    name: str, db_url: str, tmp_path: Path, restore_cipher: None
) -> None:
    policy = load_named(name)
    runtime = _runtime(db_url, tmp_path, name)
    try:
        assert runtime.policy == policy
        assert prepare(runtime, SEEDED_AT) is True  # seeded and marked
        with Session(runtime.engine) as session:
            assert session.get(AppMeta, MARKER_KEY) is not None
            assert spread(session) == SPREAD[name]
            assert set(spread(session)) - {"returned", "closed"} <= set(policy.states)
            assert_follows_the_ladder(session, policy)

        seen = asyncio.run(_serve_a_while(runtime, _free_port(), SEEDED_AT))
        assert seen["page"] == 200
        assert [p["key"] for p in seen["personas"]] == list(sandbox_server.persona_keys(policy))
        # the clock runs on from where the county was seeded (a minute is plenty for start-up)
        assert SEEDED_AT <= seen["clock"] < SEEDED_AT + timedelta(minutes=1)
        assert seen["moved"] == 200
        assert_timeline_of_the_top_case(seen["timeline"], policy)
        assert seen["no_case"] == 404
        assert seen["moved_to"] - seen["clock"] >= timedelta(days=1)
        assert seen["moved_to"] < SEEDED_AT + timedelta(days=1, minutes=1)
        # a second start comes back to its own database: nothing seeded again
        assert prepare(runtime, SEEDED_AT) is False
        with Session(runtime.engine) as session:
            assert len(session.exec(select(Case)).all()) == 12
            for case in session.exec(select(Case)).all():
                assert case.level in policy.states
    finally:
        runtime.engine.dispose()


def _engine_of(url: str) -> Engine:
    return db.make_engine(url)


@pytest.mark.parametrize("name", PROFILES)
def test_demo_seed_works_under_each_profile(
    name: str, env: pytest.MonkeyPatch, database_url: str  # noqa: F811
) -> None:
    env.setenv("POLICY", name)
    get_settings.cache_clear()
    seeded = invoke("demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert seeded.stdout.strip() == (
        "seeded 青松县: 2 townships, 4 villages, 3 schools, 12 classes, 396 students, "
        "31 user handles"
    )
    engine = _engine_of(database_url)
    try:
        with Session(engine) as session:
            assert set(spread(session)) - {"returned", "closed", "retention"} <= set(
                load_named(name).states
            )
            assert_follows_the_ladder(session, load_named(name))
    finally:
        engine.dispose()


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as res:  # noqa: S310 - loopback only
        return res.status, res.read().decode("utf-8")


def test_baoxue_sandbox_starts_under_tongnan(tmp_path: Path, restore_cipher: None) -> None:
    """The command an evaluator ran (``POLICY=tongnan make run`` exited 1): it seeds the
    demo county along tongnan's ladder, which has no 限期复学通知书, and serves the page."""
    port = _free_port()
    database = tmp_path / "sandbox.db"
    log = tmp_path / "run.log"
    environ = {k: v for k, v in os.environ.items()
               if k not in ("BOT_TOKEN", "BAOXUE_ENV", "TEST_DATABASE_URL", "HOST", "SANDBOX_HOST")}
    key = Cipher.generate_key()
    environ.update(DATABASE_URL=f"sqlite:///{database}", ENCRYPTION_KEY=key, PORT=str(port),
               POLICY="tongnan")
    proc = subprocess.Popen([str(BAOXUE), "sandbox"], cwd=tmp_path, env=environ,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"it exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"it never came up:\n{log.read_text()[-3000:]}"
            try:
                status, body = _get(url + "/healthz")
                if status == 200 and json.loads(body)["bot"] == "running":
                    break
            except OSError:
                pass
            time.sleep(0.3)
        status, page = _get(url + "/")
        assert status == 200 and "青松县" in page
        personas = json.loads(_get(url + "/sandbox/api/personas")[1])["personas"]
        assert [p["key"] for p in personas] == list(sandbox_server.persona_keys(load_named("tongnan")))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError("SIGTERM did not stop the sandbox") from None
    output = log.read_text()
    assert proc.returncode == 0, output[-3000:]
    assert "seeded the demo county (青松县) into a new sandbox database" in output
    assert "Traceback" not in output
    configure_encryption(key)  # the demo people's phone numbers are sealed with the sandbox's key
    engine = db.make_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            tongnan = load_named("tongnan")
            assert "deadline_notice" not in tongnan.states
            assert_follows_the_ladder(session, tongnan, as_seeded=False)
    finally:
        engine.dispose()
