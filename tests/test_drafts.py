"""Drafts hold personal data only sealed, and abandoned drafts do not stay for ever.

An ID number or a guardian's phone typed into the report flow waits for Confirm in
``conversation_state.draft``: read straight from the column (as a database dump or a
backup would show it), neither is there in clear, and the flow still ends with the right
numbers on the student and the guardian.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import text

from demo.county import invented_id_number
from models.tables import Guardian, Student
from tests.botkit import one, speaking


def raw_drafts(harness) -> list[str]:  # type: ignore[no-untyped-def]
    with harness.engine.connect() as conn:
        return [str(row[0]) for row in conn.execute(text("SELECT CAST(draft AS TEXT) FROM conversation_state"))]


async def test_an_id_number_and_a_phone_wait_in_the_draft_encrypted(harness, world) -> None:  # type: ignore[no-untyped-def]
    cadre = speaking(harness, world.users["village_cadre"], "en")
    id_number = invented_id_number(date(2013, 5, 6), 9, female=False)
    await cadre.send("/report")
    await cadre.tap("➕ A child who never enrolled")
    await cadre.send("王小明")
    await cadre.tap("Male")
    await cadre.send("2013-05-06")
    await cadre.send(id_number)
    await cadre.tap("Han (汉族)")
    await cadre.send("青松县梅林镇上坪村3组12号")
    await cadre.tap("Same as the household registration address")
    await cadre.send("王大山")
    await cadre.tap("Father")
    await cadre.send("138 0013 8000")
    assert cadre.last.startswith("Why has the child not enrolled?")

    (draft,) = raw_drafts(harness)
    for secret in (id_number, id_number[6:14], "13800138000", "0013 8000"):
        assert secret not in draft, (secret, draft)
    # the column is the draft (names are not encrypted at rest), the numbers sealed in it
    assert json.loads(draft)["nname"] == "王小明"
    assert set(json.loads(draft)["nid"]) == set(json.loads(draft)["gphone"]) == {"$sealed"}

    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    await cadre.tap("Skip")
    await cadre.tap("Skip")
    summary = cadre.last.split("\n")
    # shown in full to the cadre who typed them (to catch a typo), sealed in the draft
    assert f"• ID number: {id_number}" in summary
    assert "• Guardian's phone: 13800138000" in summary
    (draft,) = raw_drafts(harness)
    assert id_number not in draft and "13800138000" not in draft

    await cadre.tap("✅ Confirm")
    assert cadre.reply_texts[1] == "Case #1 opened: organising 王小明's enrolment."
    student = one(harness, Student, Student.name == "王小明")
    assert student.id_number == id_number
    assert one(harness, Guardian, Guardian.student_id == student.id).phone == "13800138000"
    assert raw_drafts(harness) == []


# --- abandoned conversations -------------------------------------------------------------


def tick(harness):  # type: ignore[no-untyped-def]
    """The bot's scheduler tick (housekeeping included), on the harness's clock."""
    from bot.scheduler import tick_once

    return tick_once(harness.services)


async def test_starting_a_report_says_how_long_an_unfinished_one_is_kept(harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.services.conversation_ttl_days = 3  # the operator's CONVERSATION_TTL_DAYS
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    assert teacher.reply_texts == [
        "If you leave this unfinished, what you have entered is kept for 3 days and then deleted.",
        "Which student? Pick from the list, or type part of the name.",
    ]
    harness.services.conversation_ttl_days = 1
    cadre = speaking(harness, world.users["village_cadre"], "zh_Hans")
    await cadre.send("/report")
    assert cadre.reply_texts[0] == "如未填完，已填写的内容保留1天，之后自动删除。"
    assert cadre.last == "哪位学生？请从列表中选择，或输入姓名中的几个字。"

    await teacher.send("/visit")  # a visit's draft holds no ID or phone number: no notice
    assert not any("unfinished" in t for t in teacher.reply_texts)


async def test_a_conversation_left_unfinished_is_deleted_after_the_operators_days(
    harness, world, clock  # type: ignore[no-untyped-def]
) -> None:
    from datetime import timedelta

    from models.tables import AuditEvent, ConversationState
    from tests.botkit import conversation, rows

    cadre_user, teacher_user = world.users["village_cadre"], world.users["teacher"]
    cadre = speaking(harness, cadre_user, "en")
    teacher = speaking(harness, teacher_user, "en")
    await cadre.send("/report")
    await cadre.tap("➕ A child who never enrolled")
    await cadre.send("王小明")
    clock.advance(timedelta(days=3))
    await teacher.send("/report")  # started three days later

    clock.advance(timedelta(days=4) - timedelta(minutes=1))  # the cadre's: 7 days less a minute
    assert tick(harness).purged == 0
    assert conversation(harness, cadre_user) is not None

    clock.advance(timedelta(minutes=2))
    assert tick(harness).purged == 1
    assert conversation(harness, cadre_user) is None
    assert conversation(harness, teacher_user) is not None  # touched 4 days ago: kept
    (audit,) = rows(harness, AuditEvent, AuditEvent.action == "conversation.purge")
    assert audit.detail == {"count": 1, "ttl_days": 7}

    # the deleted conversation's buttons answer as no longer in use; nothing breaks
    await cadre.tap("Male")
    assert rows(harness, ConversationState, ConversationState.user_id == cadre_user.id) == []

    clock.advance(timedelta(days=4))
    assert tick(harness).purged == 1
    assert rows(harness, ConversationState) == []


def test_the_days_are_the_operators_setting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from bot.settings import Settings

    monkeypatch.delenv("CONVERSATION_TTL_DAYS", raising=False)
    assert Settings(_env_file=None).conversation_ttl_days == 7  # type: ignore[call-arg]
    monkeypatch.setenv("CONVERSATION_TTL_DAYS", "3")
    assert Settings(_env_file=None).conversation_ttl_days == 3  # type: ignore[call-arg]
    monkeypatch.setenv("CONVERSATION_TTL_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
