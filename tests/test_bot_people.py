"""``/users`` and ``/invites`` through the real PTB stack: a township officer sees the people
of their township, deactivates a teacher (asked once more), and is told which open cases
the teacher held, with a button to reassign each; from then on the teacher reads one
polite line, whatever they send or tap, and nothing else. Open invitations are listed and
revoked the same way, and a revoked link lets nobody in. Forged taps outside the
officer's area are refused and audited.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from casework import invites, ladder
from casework.clock import FrozenClock
from casework.policy import Policy
from casework.uow import unit_of_work
from demo.county import World
from models.tables import AuditEvent, ConversationState, Invite, User
from tests.test_bot_access import forge_tap, row_counts
from tests.test_bot_onboarding import DEACTIVATED, STRANGER, set_language


def _open_case(engine: Engine, clock: FrozenClock, policy: Policy, world: World) -> int:
    with unit_of_work(engine, clock, policy) as cw:
        pupil = world.students_of_class(world.classes[4])[0]
        case = ladder.report(cw, world.users["teacher5"], ladder.ReportInput(
            student_id=pupil.id, absent_since=cw.today() - timedelta(days=1), reasons=("learning",),
            guardian_contact_checked=True)).case
        return case.id or 0


async def test_an_officer_deactivates_a_teacher_who_then_reads_one_line(  # type: ignore[no-untyped-def]
    harness, world, clock, policy
) -> None:
    u = world.users
    case_id = _open_case(harness.engine, clock, policy, world)
    set_language(harness.engine, u["township_officer1"], "en")
    set_language(harness.engine, u["teacher5"], "en")
    officer = harness.user(u["township_officer1"], language_code="en")
    teacher = harness.user(u["teacher5"], language_code="en")
    await teacher.send("/report")  # an unfinished draft, dropped on deactivation
    assert teacher.buttons()

    await officer.send("/users")
    listing = officer.reply_texts[0]
    assert listing.startswith("People in your area (14):")
    assert f"• {u['teacher5'].display_name} — teacher, 梅林中学 7-1" in listing
    assert u["teacher11"].display_name not in listing  # another township
    assert u["county_officer"].display_name not in listing
    assert len(officer.buttons()) == 14  # one page
    await officer.tap(f"Deactivate {u['teacher5'].display_name}")
    assert officer.reply_texts == [
        f"Deactivate {u['teacher5'].display_name} (teacher)? They will no longer be able to use "
        "the bot, and the invitations they made stop working. Open cases they hold: 1."]
    assert officer.buttons() == ["✅ Yes, deactivate", "Cancel"]
    with Session(harness.engine) as s:
        assert s.get(User, u["teacher5"].id).deactivated_at is None  # type: ignore[union-attr]
    await officer.tap("✅ Yes, deactivate")
    assert officer.reply_texts[-1] == (
        f"{u['teacher5'].display_name} is deactivated: the bot will no longer work for them.\n"
        f"They held 1 open case, which needs reassigning: #{case_id}")
    assert officer.buttons() == [f"Assign case #{case_id}"]
    await officer.tap(f"Assign case #{case_id}")
    assert officer.reply_texts[-1] == f"Assign case #{case_id} to:"
    assert u["teacher5"].display_name not in officer.buttons()  # deactivated: not offered
    with Session(harness.engine) as s:
        row = s.get(User, u["teacher5"].id)
        assert row is not None and row.deactivated_at is not None and not row.active
        assert s.exec(select(ConversationState).where(ConversationState.user_id == row.id)).all() == []
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "user.deactivate")).one()
        assert (audit.actor_id, audit.object_id, audit.detail["open_cases"]) == (
            u["township_officer1"].id, u["teacher5"].id, [case_id])

    before = row_counts(harness.engine, exclude={"audit_event"})
    for act in (
        lambda: teacher.send("/menu"),
        lambda: teacher.send("hello"),
        lambda: teacher.send("/start"),
        lambda: teacher.send("/cases"),
        lambda: teacher.send("/users"),
        lambda: forge_tap(teacher, f"case:{case_id}"),
        lambda: forge_tap(teacher, "menu:report"),
        lambda: forge_tap(teacher, "lang:en"),
        lambda: teacher.share_contact(),
        lambda: teacher.send_photo(),
    ):
        await act()
        assert [(r.text, r.message.reply_markup) for r in teacher.replies] == [(DEACTIVATED, None)]
    assert harness.tg.unanswered_callbacks == []
    assert row_counts(harness.engine, exclude={"audit_event"}) == before


async def test_the_deactivated_line_in_chinese(harness, world) -> None:  # type: ignore[no-untyped-def]
    with Session(harness.engine) as s:
        row = s.get(User, world.users["village_cadre1"].id)
        assert row is not None
        row.active, row.deactivated_at = False, row.created_at
        s.add(row)
        s.commit()
    cadre = harness.user(world.users["village_cadre1"])
    await cadre.send("你好")
    assert cadre.reply_texts == ["您的账号已停用，如有疑问请联系所在乡镇或县教育局。"]


async def test_cancel_changes_nothing_and_forged_taps_outside_the_area_are_refused(  # type: ignore[no-untyped-def]
    harness, world
) -> None:
    u = world.users
    set_language(harness.engine, u["township_officer1"], "en")
    officer = harness.user(u["township_officer1"], language_code="en")
    await officer.send("/users")
    await officer.tap(f"Deactivate {u['village_cadre1'].display_name}")
    await officer.tap("Cancel")
    assert officer.callback_answer is not None and officer.callback_answer.text == "Nothing was changed."
    for target in ("teacher11", "county_officer", "township_officer1"):
        for data in (f"usr:d:{u[target].id}", f"usr:D:{u[target].id}"):
            await forge_tap(officer, data)
            assert officer.reply_texts[-1] == (
                "You can only deactivate people in your own area, at or below your role, and not yourself.")
    with Session(harness.engine) as s:
        assert s.exec(select(User).where(User.deactivated_at.is_not(None))).all() == []  # type: ignore[union-attr]
        refused = s.exec(select(AuditEvent).where(AuditEvent.action == "user.deactivate")).all()
        assert len(refused) == 6 and not any(a.allowed for a in refused)

    set_language(harness.engine, u["teacher5"], "en")
    teacher = harness.user(u["teacher5"], language_code="en")
    for command in ("/users", "/invites"):
        await teacher.send(command)
        assert teacher.reply_texts == [
            "Only school administrators and township or county officers can do that."]
    await teacher.send("/help")
    assert "/users" not in teacher.reply_texts[0] and "/invites" not in teacher.reply_texts[0]
    await officer.send("/help")
    assert "/users — People in my area" in officer.reply_texts[0]

    # the county officer's 25 people (the judicial office and the three bodies' people
    # included) come in pages
    set_language(harness.engine, u["county_officer"], "en")
    county = harness.user(u["county_officer"], language_code="en")
    await county.send("/users")
    assert county.reply_texts[0].startswith("People in your area (25):")
    assert len(county.buttons()) == 16 and county.buttons()[-1] == "Next page ▶"
    await county.tap("Next page ▶")
    assert county.reply_texts[-1].startswith("People in your area (25):")
    assert len(county.buttons()) == 10


async def test_an_officer_lists_and_revokes_an_open_invitation(  # type: ignore[no-untyped-def]
    harness, world, clock, policy
) -> None:
    u = world.users
    with unit_of_work(harness.engine, clock, policy) as cw:
        mine = invites.create(cw, u["township_officer1"], role="village_cadre", scope_kind="village",
                              scope_id=world.villages[0].id, display_name="刘新")
        elsewhere = invites.create(cw, None, role="village_cadre", scope_kind="village",
                                   scope_id=world.villages[2].id)
        code, mine_id, elsewhere_id = mine.code, mine.id, elsewhere.id
    set_language(harness.engine, u["township_officer1"], "en")
    officer = harness.user(u["township_officer1"], language_code="en")
    await officer.send("/invites")
    assert officer.reply_texts == [
        "Open invitations in your area (1):\n"
        f"#{mine_id} village cadre 刘新, 上坪村; made by {u['township_officer1'].display_name}, "
        "valid until Nov 30"]
    await officer.tap(f"Revoke #{mine_id}")
    assert officer.reply_texts == [f"Revoke invitation #{mine_id} (village cadre)? Its link will stop working."]
    await officer.tap("✅ Yes, revoke")
    assert officer.reply_texts[-1] == f"Invitation #{mine_id} is revoked: its link no longer works."
    await officer.send("/invites")
    assert officer.reply_texts == ["There are no open invitations in your area."]
    await forge_tap(officer, f"inv:R:{elsewhere_id}")
    assert officer.reply_texts[-1] == (
        "You can only revoke invitations into your own area, at or below your role.")
    with Session(harness.engine) as s:
        assert s.get(Invite, mine_id).revoked_at is not None  # type: ignore[union-attr]
        assert s.get(Invite, elsewhere_id).revoked_at is None  # type: ignore[union-attr]

    newcomer = harness.user(first_name="Liu", language_code="en")
    await newcomer.start(code)
    assert newcomer.reply_texts == [STRANGER]
