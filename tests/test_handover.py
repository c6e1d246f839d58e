"""A child who moved to another county is handed over, not closed: the receiving county's
officer accepts or rejects in the bot; the case stays open until accepted, then moves with
its history; both sides told, all audited. Across deployments, by an export file imported
on the other side (``baoxue handover``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from casework import handover, ladder
from casework.clock import FrozenClock
from casework.errors import AccessDenied, IllegalTransition
from casework.outbox import text_from_json
from casework.scope import can_see_case
from demo.county import World
from models.tables import (
    AuditEvent,
    Case,
    CaseEvent,
    County,
    Deadline,
    Handover,
    OutboxMessage,
    Student,
    Township,
    User,
    Village,
)
from tests.botkit import act, deliver_outbox, one, open_case, rows, speaking, to_township

NEW_ADDRESS = "松溪县岭下乡东坑村12号"


@pytest.fixture
def songxi(session: Session, world: World) -> User:
    """A second invented county, 松溪县, with one township, one village and its county officer."""
    county = County(name="松溪县", code="SX")
    session.add(county)
    session.flush()
    township = Township(county_id=county.id or 0, name="岭下乡")
    session.add(township)
    session.flush()
    session.add(Village(township_id=township.id or 0, name="东坑村"))
    now = world.users["county_officer"].created_at
    officer = User(telegram_id=920_000_001, display_name="周明（松溪县教育局）", role="county_officer",
                   scope_kind="county", scope_id=county.id, created_at=now, onboarded_at=now)
    session.add(officer)
    session.commit()
    return officer


def _events(harness: Any, case_id: int) -> list[str]:
    return [e.kind for e in rows(harness, CaseEvent, CaseEvent.case_id == case_id)]


async def test_the_receiving_county_accepts_and_the_case_moves_with_its_history(
    harness: Any, world: World, songxi: User
) -> None:
    u = world.users
    requester = speaking(harness, u["township_officer"], "en")  # 梅林镇
    receiver = speaking(harness, songxi, "en")
    case_id = open_case(harness, world)
    to_township(harness, world, case_id, visits=1)
    student = one(harness, Student, Student.id == one(harness, Case, Case.id == case_id).student_id)
    history_before = _events(harness, case_id)

    offered = act(harness, lambda cw: handover.offer(cw, u["township_officer"], case_id,
                                                     songxi.scope_id, NEW_ADDRESS))
    # offered, not moved: still 青松县's, still on the ladder, its clock running
    case = one(harness, Case, Case.id == case_id)
    assert (case.county_id, case.state) == (world.county.id, "township_persuasion")
    with pytest.raises(IllegalTransition):  # one offer at a time
        act(harness, lambda cw: handover.offer(cw, u["county_officer"], case_id, songxi.scope_id, "别处"))

    await deliver_outbox(harness)
    assert receiver.last == (f"Hand-over from 青松县: case #{case_id}, {student.name}, moved to {NEW_ADDRESS}. "
                             "Accept to take the case and its history; until you do, it stays with them.")
    assert receiver.buttons() == ["Accept", "Reject"]
    # /transfers lists it again (the message with the buttons may be long gone); not for the sender
    offer_text = receiver.last
    await receiver.send("/transfers")
    assert receiver.last == offer_text and receiver.buttons() == ["Accept", "Reject"]
    await requester.send("/transfers")
    assert requester.last == "No transfer request is waiting for your answer."
    # the sending county cannot answer its own offer
    with pytest.raises(AccessDenied):
        act(harness, lambda cw: handover.decide(cw, u["county_officer"], offered.id, accept=True))

    await receiver.tap("Accept")
    assert receiver.last == (f"Accepted: case #{case_id} is now your county's, with its history. "
                             "The sending side has been told.")
    case = one(harness, Case, Case.id == case_id)
    assert (case.county_id, case.state, case.assigned_to_id) == (songxi.scope_id, "township_persuasion", songxi.id)
    assert (case.school_id, case.village_id) == (None, None)
    assert one(harness, Student, Student.id == student.id).current_address == NEW_ADDRESS
    # the history came along, and says what happened
    assert _events(harness, case_id) == [*history_before, "handover_offered", "handed_over"]
    moved = rows(harness, CaseEvent, CaseEvent.case_id == case_id)[-1]
    assert moved.data["from_county"] == world.county.id and moved.actor_id == songxi.id
    # the level's deadline starts again in the receiving county
    steps = rows(harness, Deadline, Deadline.case_id == case_id, Deadline.kind == "step",
                 Deadline.status == "open")
    assert len(steps) == 1 and steps[0].payload["level"] == "township_persuasion"
    with Session(harness.engine) as s:
        assert not can_see_case(s, s.get(User, u["township_officer"].id), case)  # type: ignore[arg-type]
        assert can_see_case(s, s.get(User, songxi.id), case)  # type: ignore[arg-type]

    await deliver_outbox(harness)
    assert requester.last == (f"Case #{case_id} ({student.name}) was accepted by 松溪县: it is theirs now, "
                              "with its history.")
    with pytest.raises(IllegalTransition):  # a second answer (a forged tap) moves nothing
        act(harness, lambda cw: handover.decide(cw, songxi, offered.id, accept=False))
    # all audited, the sending county's refused attempt to answer included
    assert [(a.action, a.actor_id, a.allowed)
            for a in rows(harness, AuditEvent, col(AuditEvent.action).like("handover.%"))] == [
        ("handover.offer", u["township_officer"].id, True), ("handover.decide", u["county_officer"].id, False),
        ("handover.accept", songxi.id, True)]


async def test_a_rejected_hand_over_leaves_the_case_open_where_it_was(
    harness: Any, world: World, songxi: User
) -> None:
    u = world.users
    requester = speaking(harness, u["township_officer"], "en")
    receiver = speaking(harness, songxi, "en")
    case_id = open_case(harness, world)
    student_name = one(harness, Student, Student.id == one(harness, Case, Case.id == case_id).student_id).name
    act(harness, lambda cw: handover.offer(cw, u["township_officer"], case_id, songxi.scope_id, NEW_ADDRESS))
    await deliver_outbox(harness)
    await receiver.tap("Reject")
    assert receiver.last == "Rejected: the case stays with the sending county, which has been told."
    case = one(harness, Case, Case.id == case_id)
    assert (case.county_id, case.state) == (world.county.id, "suspected")
    assert one(harness, Handover).status == "rejected"
    assert _events(harness, case_id)[-2:] == ["handover_offered", "handover_rejected"]
    await deliver_outbox(harness)
    assert requester.last == f"松溪县 did not accept case #{case_id} ({student_name}): it stays with you, still open."
    # rejected, it may be offered again (the family may really have moved after all)
    again = act(harness, lambda cw: handover.offer(cw, u["township_officer"], case_id, songxi.scope_id,
                                                   NEW_ADDRESS))
    assert again.status == "pending"


def test_who_may_offer_and_what(cw: Any, world: World, songxi: User) -> None:
    u = world.users
    case_id = ladder.report(cw, u["teacher"], ladder.ReportInput(
        student_id=world.students_of_class(world.classes[4])[1].id, reasons=("learning",))).case.id
    with pytest.raises(AccessDenied):  # a teacher reports; the township hands over
        handover.offer(cw, u["teacher"], case_id, songxi.scope_id or 0, NEW_ADDRESS)
    with pytest.raises(AccessDenied):  # another township's officer cannot even see it
        handover.offer(cw, u["township_officer2"], case_id, songxi.scope_id or 0, NEW_ADDRESS)
    from casework.errors import ValidationError

    with pytest.raises(ValidationError):  # a move within the county is not a hand-over
        handover.offer(cw, u["township_officer"], case_id, world.county.id or 0, NEW_ADDRESS)


async def test_across_deployments_by_an_export_file(
    harness: Any, world: World, songxi: User, cli_env: pytest.MonkeyPatch, tmp_path: Path, db_url: str,
    clock: FrozenClock,
) -> None:
    from bot.settings import get_settings
    from tests.conftest import invoke

    # the sending side: another deployment, its own database (the invented demo county)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    cli_env.setenv("DATABASE_URL", other)
    get_settings.cache_clear()
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("demo", "seed").exit_code == 0
    from models import db

    sender_engine = db.make_engine(other)
    with Session(sender_engine) as s:
        case = s.exec(select(Case).where(Case.state == "township_persuasion").order_by(col(Case.id))).first()
        assert case is not None
        sent_student = s.get(Student, case.student_id)
        assert sent_student is not None
        sent_events = len(s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).all())
    file = tmp_path / "handover.json"
    done = invoke("handover", "export", str(case.id), "--to", "松溪县", "--address", NEW_ADDRESS, "-o", str(file))
    assert done.exit_code == 0, done.output
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    data = json.loads(file.read_text(encoding="utf-8"))
    assert (data["format"], data["version"], data["from"]["county"]) == ("baoxue-handover", 1, "青松县")
    assert data["student"]["id_number"] == sent_student.id_number  # in full: the other side needs it
    assert len(data["events"]) == sent_events + 1  # the export itself is in the history
    with Session(sender_engine) as s:
        assert s.get(Case, case.id).state == "township_persuasion"  # type: ignore[union-attr]

    # the receiving side: this deployment
    cli_env.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "version": 9}), encoding="utf-8")
    refused = invoke("handover", "import", str(bad), "--county", "SX", "--lang", "en")
    assert refused.exit_code == 1 and "version 9; this system reads version 1." in refused.output
    imported = invoke("handover", "import", str(file), "--county", "SX")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip().endswith("offered to 松溪县 (1 officers told)")
    assert rows(harness, Case, Case.county_id == songxi.scope_id) == []  # nothing until accepted

    receiver = speaking(harness, songxi, "en")
    clock.set(datetime.now(UTC) + timedelta(minutes=1))  # the CLI ran on the system's clock
    await deliver_outbox(harness)
    assert receiver.last.startswith(f"Hand-over from 青松县 (another system): {sent_student.name}, born "
                                    f"{sent_student.birth_date.isoformat()}, moved to {NEW_ADDRESS}.")
    await receiver.tap("Accept")
    (made,) = rows(harness, Case, Case.county_id == songxi.scope_id)
    assert receiver.last.startswith(f"Accepted: case #{made.id} is now your county's, with its history.")
    assert (made.state, made.level, made.assigned_to_id) == ("township_persuasion", "township_persuasion", songxi.id)
    assert made.created_at.replace(tzinfo=None) == datetime.fromisoformat(data["case"]["created_at"]).replace(tzinfo=None)
    child = one(harness, Student, Student.id == made.student_id)
    assert (child.name, child.id_number, child.current_address) == (sent_student.name, sent_student.id_number,
                                                                   NEW_ADDRESS)
    kinds = _events(harness, made.id or 0)
    # the sender's events, their visits, and the hand-over itself
    assert kinds[:sent_events + 1] == [e["kind"] for e in data["events"]]
    assert kinds.count("visit_imported") == len(data["visits"]) and kinds[-1] == "handed_over"
    handover_id = data["handover"]

    # back on the sending side: the answer is recorded, and only then is the case closed there
    cli_env.setenv("DATABASE_URL", other)
    get_settings.cache_clear()
    answered = invoke("handover", "answer", str(handover_id), "accepted")
    assert answered.exit_code == 0, answered.output
    with Session(sender_engine) as s:
        closed = s.get(Case, case.id)
        assert closed is not None and closed.state == "transferred" and closed.closed_at is not None
        # the sending county's officers are told
        (told,) = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "handover_decision")).all()
        officer = s.get(User, told.recipient_id)
        assert officer is not None and officer.role == "county_officer"
        assert text_from_json(told.payload["text"]).render("en") == (
            f"Case #{case.id} ({sent_student.name}) was accepted by 松溪县: it is theirs now, with its history.")
        assert s.exec(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)
                      .order_by(col(CaseEvent.id).desc())).first() == "handed_over"
        assert [a.action for a in s.exec(select(AuditEvent).where(col(AuditEvent.action).like("handover.%"))
                                          .order_by(col(AuditEvent.id)))] == ["handover.export", "handover.answer"]
    sender_engine.dispose()
    again = invoke("handover", "answer", str(handover_id), "rejected", "--lang", "en")
    assert again.exit_code == 1 and "already been answered" in again.output


async def test_the_township_officer_offers_the_case_from_its_card(harness: Any, world: World, songxi: User) -> None:
    officer = speaking(harness, world.users["township_officer"], "en")
    receiver = speaking(harness, songxi, "en")
    case_id = open_case(harness, world)
    await officer.send(f"/case {case_id}")
    await officer.tap("🚚 Hand over to another county")
    assert officer.last == "To which county did the child move?"
    assert officer.buttons()[0] == "松溪县"
    await officer.tap("松溪县")
    assert officer.last == "The child's new address there?"
    await officer.send(NEW_ADDRESS)
    assert "• Receiving county: 松溪县" in officer.last and f"• New address: {NEW_ADDRESS}" in officer.last
    await officer.tap("✅ Confirm")
    assert officer.reply_texts[1] == (f"Case #{case_id} is offered to 松溪县. It stays with you, still open, "
                                      "until they accept; you will be told their answer.")
    assert one(harness, Handover).to_county_id == songxi.scope_id
    await officer.send(f"/case {case_id}")  # one offer at a time: no second button
    assert "🚚 Hand over to another county" not in officer.buttons()
    assert officer.last.endswith(f"Nov 23 offered to another county — {world.users['township_officer'].display_name}")
    await deliver_outbox(harness)
    assert receiver.buttons() == ["Accept", "Reject"]
    # a teacher does not hand over: the township does
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {case_id}")
    assert "🚚 Hand over to another county" not in teacher.buttons()


async def test_with_one_county_there_is_no_hand_over_button(harness: Any, world: World) -> None:
    officer = speaking(harness, world.users["township_officer"], "en")
    case_id = open_case(harness, world)
    await officer.send(f"/case {case_id}")
    assert "⏸ Pause" in officer.buttons() and "🚚 Hand over to another county" not in officer.buttons()


def test_an_offer_for_a_case_closed_meanwhile_cannot_be_accepted(cw: Any, world: World, songxi: User) -> None:
    from tests.casedriver import close_out

    u = world.users
    case_id = ladder.report(cw, u["teacher"], ladder.ReportInput(
        student_id=world.students_of_class(world.classes[4])[1].id, reasons=("learning",))).case.id
    offered = handover.offer(cw, u["township_officer"], case_id, songxi.scope_id or 0, NEW_ADDRESS)
    ladder.mark_returned(cw, u["teacher"], case_id)
    ladder.confirm_attending(cw, u["teacher"], case_id, True)
    close_out(cw, u["school_admin"], case_id, [u["township_officer"]])
    with pytest.raises(IllegalTransition):
        handover.decide(cw, songxi, offered.id or 0, accept=True)
    assert cw.session.get(Case, case_id).county_id == world.county.id  # type: ignore[union-attr]


def test_a_file_for_a_child_with_an_open_case_here_is_not_made_a_second_case(
    cw: Any, world: World, songxi: User
) -> None:
    u = world.users
    case_id = ladder.report(cw, u["teacher"], ladder.ReportInput(
        student_id=world.students_of_class(world.classes[4])[1].id, reasons=("learning",))).case.id
    _record, data = handover.export_case(cw, u["county_officer"], case_id, to_county="松溪县",
                                         new_address=NEW_ADDRESS)
    incoming = handover.import_file(cw, json.loads(json.dumps(data)), songxi.scope_id or 0)
    with pytest.raises(IllegalTransition):  # the same child (by ID number) is open here already
        handover.decide(cw, songxi, incoming.id or 0, accept=True)
