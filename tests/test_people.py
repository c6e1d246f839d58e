"""People who leave (``casework.people``) and invitations withdrawn (``casework.invites``):
who may deactivate whom (only within their area by the unit rule of ``casework.scope``,
never themselves, never a higher role), what deactivating does (drafts dropped, their
open invitations revoked, the open cases they held listed, audited), and which open
invitations an officer sees and may revoke.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from casework import invites, ladder, people
from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from casework.uow import record_denial
from cli.main import app
from demo.county import World
from models.tables import AuditEvent, ConversationState, Invite, User

# (actor, target, may deactivate) in the demo county: 梅林 (township_officer1) has schools
# 1–2 (teachers 1–10, school_admin1–2) and villages 1–2; 石桥 (township_officer2) school 3
# (teachers 11–12, school_admin3) and villages 3–4.
RULES = [
    ("township_officer1", "teacher5", True),
    ("township_officer1", "teacher1", True),
    ("township_officer1", "school_admin2", True),
    ("township_officer1", "village_cadre1", True),
    ("township_officer1", "teacher11", False),  # another township
    ("township_officer1", "village_cadre3", False),
    ("township_officer1", "township_officer2", False),
    ("township_officer1", "township_officer1", False),  # never oneself
    ("township_officer1", "county_officer", False),  # never a higher role
    ("township_officer1", "admin", False),
    ("school_admin2", "teacher5", True),
    ("school_admin2", "teacher10", True),
    ("school_admin2", "teacher1", False),  # another school
    ("school_admin2", "village_cadre1", False),  # not a school's person
    ("school_admin2", "school_admin1", False),
    ("school_admin2", "township_officer1", False),
    ("county_officer", "township_officer2", True),
    ("county_officer", "teacher12", True),
    ("county_officer", "county_officer", False),
    ("county_officer", "admin", False),
    ("admin", "county_officer", True),
    ("admin", "admin", False),
    ("teacher5", "teacher6", False),  # teachers manage nobody
    ("village_cadre1", "village_cadre1", False),
]


@pytest.mark.parametrize(("actor", "target", "allowed"), RULES)
def test_who_may_deactivate_whom(cw: Casework, world: World, actor: str, target: str, allowed: bool) -> None:
    who, whom = world.users[actor], world.users[target]
    assert people.may_deactivate(cw.session, who, whom) is allowed
    assert (whom in people.people_in_scope(cw, who)) is allowed
    if allowed:
        done = people.deactivate(cw, who, whom.id or 0)
        assert done.user.deactivated_at is not None and not done.user.active
        assert people.status(whom) == "deactivated"
    else:
        with pytest.raises(AccessDenied) as refused:
            people.deactivate(cw, who, whom.id or 0)
        cw.session.rollback()
        record_denial(cw, refused.value)
        cw.session.commit()
        denial = cw.session.exec(select(AuditEvent).where(AuditEvent.action == "user.deactivate")).one()
        assert (denial.actor_id, denial.object_id, denial.allowed) == (who.id, whom.id, False)
        assert cw.session.get(User, whom.id).deactivated_at is None  # type: ignore[union-attr]


def test_the_people_a_township_officer_manages(cw: Casework, world: World) -> None:
    u = world.users
    found = {p.id for p in people.people_in_scope(cw, u["township_officer1"])}
    expected = {u[f"teacher{i}"].id for i in range(1, 11)} | {u["school_admin1"].id, u["school_admin2"].id,
                                                             u["village_cadre1"].id, u["village_cadre2"].id}
    assert found == expected
    assert len(people.people_in_scope(cw, None)) == len({x.id for x in u.values()})  # the operator: all


def test_deactivating_lists_open_cases_revokes_invites_drops_drafts_and_is_audited(
    cw: Casework, world: World
) -> None:
    u = world.users
    teacher, officer = u["teacher5"], u["township_officer1"]
    pupils = world.students_of_class(world.classes[4])
    opened = [ladder.report(cw, teacher, ladder.ReportInput(
        student_id=s.id, absent_since=cw.today() - timedelta(days=1), reasons=("learning",),
        guardian_contact_checked=True)).case.id for s in pupils[:2]]
    other = ladder.report(cw, u["school_admin2"], ladder.ReportInput(
        student_id=pupils[2].id, absent_since=cw.today() - timedelta(days=1), reasons=("work",),
        guardian_contact_checked=True)).case
    ladder.assign(cw, officer, other.id or 0, teacher.id or 0)
    cw.session.add(ConversationState(user_id=teacher.id or 0, flow="report", step="reasons",
                                     draft={"student_id": pupils[3].id}, updated_at=cw.now_db()))
    made = invites.create(cw, officer, role="village_cadre", scope_kind="village",
                          scope_id=world.villages[0].id)
    cw.session.commit()

    done = people.deactivate(cw, officer, teacher.id or 0)
    cw.session.commit()
    assert [c.id for c in done.open_cases] == sorted([*opened, other.id])
    assert done.message.render("en") == (
        f"{teacher.display_name} is deactivated: the bot will no longer work for them.\n"
        f"They held 3 open cases, which need reassigning: #{opened[0]}, #{opened[1]}, #{other.id}")
    assert cw.session.exec(select(ConversationState).where(ConversationState.user_id == teacher.id)).all() == []
    audit = cw.session.exec(select(AuditEvent).where(AuditEvent.action == "user.deactivate")).one()
    assert (audit.actor_id, audit.object_id, audit.allowed) == (officer.id, teacher.id, True)
    assert audit.detail["open_cases"] == [c.id for c in done.open_cases]
    # the officer's invitation is not the teacher's: it still works
    assert invites.is_open(cw, made)
    with pytest.raises(ValidationError):
        people.deactivate(cw, officer, teacher.id or 0)  # already deactivated

    # an officer who leaves: the invitations they made stop working
    done = people.deactivate(cw, u["county_officer"], officer.id or 0)
    cw.session.commit()
    assert done.invites_revoked == 1
    assert "Their unused invitations were revoked." in done.message.render("en")
    assert cw.session.get(Invite, made.id).revoked_at is not None  # type: ignore[union-attr]
    assert invites.redeem(cw, made.code, 555_000_001, "Newcomer", "zh_Hans") is None


def test_an_invitation_by_someone_deactivated_does_not_work_even_unrevoked(cw: Casework, world: World) -> None:
    officer = world.users["township_officer1"]
    made = invites.create(cw, officer, role="village_cadre", scope_kind="village",
                          scope_id=world.villages[0].id)
    # switched off without the revocation step (as before deactivation was recorded)
    officer.active = False
    cw.session.add(officer)
    cw.session.commit()
    assert not invites.is_open(cw, made)
    assert invites.open_invites(cw, None) == []
    assert invites.redeem(cw, made.code, 555_000_002, "Newcomer", "zh_Hans") is None


def test_open_invitations_an_officer_sees_and_may_revoke(cw: Casework, world: World) -> None:
    u = world.users
    meilin_cadre = invites.create(cw, None, role="village_cadre", scope_kind="village",
                                  scope_id=world.villages[0].id)
    meilin_teacher = invites.create(cw, u["township_officer1"], role="teacher", scope_kind="classes",
                                    scope_id=None, class_ids=[world.classes[4].id or 0])
    shiqiao_cadre = invites.create(cw, None, role="village_cadre", scope_kind="village",
                                   scope_id=world.villages[2].id)
    county = invites.create(cw, None, role="county_officer", scope_kind="county",
                            scope_id=world.county.id)
    used = invites.create(cw, None, role="village_cadre", scope_kind="village",
                          scope_id=world.villages[1].id)
    assert invites.redeem(cw, used.code, 555_000_003, "Used", "zh_Hans") is not None
    cw.session.commit()

    def ids(actor: User | None) -> list[int | None]:
        return [i.id for i in invites.open_invites(cw, actor)]

    assert ids(None) == [meilin_cadre.id, meilin_teacher.id, shiqiao_cadre.id, county.id]
    assert ids(u["township_officer1"]) == [meilin_cadre.id, meilin_teacher.id]
    assert ids(u["school_admin2"]) == [meilin_teacher.id]
    assert ids(u["county_officer"]) == [meilin_cadre.id, meilin_teacher.id, shiqiao_cadre.id, county.id]
    assert ids(u["teacher5"]) == []

    with pytest.raises(AccessDenied):
        invites.revoke(cw, u["township_officer1"], shiqiao_cadre.id or 0)
    cw.session.rollback()
    with pytest.raises(AccessDenied):
        invites.revoke(cw, u["township_officer1"], county.id or 0)  # above their role
    cw.session.rollback()
    with pytest.raises(ValidationError):
        invites.revoke(cw, None, used.id or 0)
    cw.session.rollback()
    invites.revoke(cw, u["school_admin2"], meilin_teacher.id or 0)
    cw.session.commit()
    assert ids(None) == [meilin_cadre.id, shiqiao_cadre.id, county.id]
    assert invites.redeem(cw, meilin_teacher.code, 555_000_004, "Late", "zh_Hans") is None
    audit = cw.session.exec(select(AuditEvent).where(AuditEvent.action == "invite.revoke")).one()
    assert (audit.actor_id, audit.object_id, audit.detail["via"]) == (u["school_admin2"].id, meilin_teacher.id, "bot")


# --- at the command line ---------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_user_and_invite_commands() -> None:
    import os

    from sqlmodel import Session

    from models import db
    from tests.conftest import invoke

    assert invoke("demo", "seed").exit_code == 0
    listed = invoke("user", "list", "--lang", "en")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["#", "status", "role", "unit", "name"]
    # 23 people, the judicial office and the three bodies' people (casework.bodies)
    assert len(lines) == 1 + 27
    teacher = next(line for line in lines[1:] if "梅林中学 7-1" in line)
    teacher_id = int(teacher.split()[0])
    assert teacher.split()[1:3] == ["active", "teacher"]
    assert "137" not in listed.stdout  # no phone numbers

    made = invoke("invite", "create", "--role", "village_cadre", "--scope", "village:1", "--name", "刘新",
                  "--bot", "baoxue_test_bot")
    assert made.exit_code == 0, made.output
    invites_listed = invoke("invite", "list", "--lang", "en")
    assert invites_listed.exit_code == 0
    (row,) = invites_listed.stdout.splitlines()[1:]
    assert row.split()[:4] == ["1", "village", "cadre", "上坪村"] and row.endswith("刘新")
    revoked = invoke("invite", "revoke", "1")
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert invoke("invite", "list").stdout.strip() == "no open invitations"
    again = invoke("invite", "revoke", "1", "--lang", "en")
    assert again.exit_code == 1 and "already been used, revoked or has expired" in again.stderr
    assert invoke("invite", "revoke", "99", "--lang", "en").exit_code == 1

    declined = CliRunner().invoke(app, ["user", "deactivate", str(teacher_id)], input="n\n")
    assert declined.exit_code == 1  # aborted
    done = invoke("user", "deactivate", str(teacher_id), "--yes", "--lang", "en")
    assert done.exit_code == 0, done.output
    assert "is deactivated: the bot will no longer work for them." in done.stdout
    assert "open case" in done.stdout
    assert len(invoke("user", "list").stdout.splitlines()) == 1 + 26
    everyone = invoke("user", "list", "--all").stdout
    assert f"{teacher_id:>4}  deactivated" in everyone
    twice = invoke("user", "deactivate", str(teacher_id), "--yes", "--lang", "en")
    assert twice.exit_code == 1 and "already deactivated" in twice.stderr

    engine = db.make_engine(os.environ["DATABASE_URL"])
    try:
        with Session(engine) as s:
            actions = [(a.action, a.actor_id, a.detail.get("via")) for a in s.exec(
                select(AuditEvent).where(AuditEvent.action.in_(  # type: ignore[attr-defined]
                    ["user.deactivate", "invite.revoke"])).order_by(AuditEvent.id))]
        assert actions == [("invite.revoke", None, "cli"), ("user.deactivate", None, "cli")]
    finally:
        engine.dispose()
