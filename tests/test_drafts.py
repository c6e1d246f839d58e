"""Drafts hold personal data only sealed, and abandoned drafts do not stay for ever.

An ID number or a guardian's phone typed into the report flow waits for Confirm in
``conversation_state.draft``: read straight from the column (as a database dump or a
backup would show it), neither is there in clear, and the flow still ends with the right
numbers on the student and the guardian.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import text

from bot.demo import invented_id_number
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
    await cadre.send("王大山")
    await cadre.tap("Father")
    await cadre.send("138 0013 8000")
    assert cadre.last.startswith("Since when")

    (draft,) = raw_drafts(harness)
    for secret in (id_number, id_number[6:14], "13800138000", "0013 8000"):
        assert secret not in draft, (secret, draft)
    # the column is the draft (names are not encrypted at rest), the numbers sealed in it
    assert json.loads(draft)["nname"] == "王小明"
    assert set(json.loads(draft)["nid"]) == set(json.loads(draft)["gphone"]) == {"$sealed"}

    await cadre.send("11-18")
    await cadre.tap("Family poverty")
    await cadre.tap("Done")
    await cadre.tap("Unknown")
    await cadre.tap("Left-behind child")
    await cadre.tap("Done")
    await cadre.tap("Reached the guardian")
    await cadre.tap("Skip")
    await cadre.tap("Skip")
    summary = cadre.last.split("\n")
    assert f"• ID number: {id_number[:6]}********{id_number[-4:]}" in summary
    assert "• Guardian's phone: 138****8000" in summary
    (draft,) = raw_drafts(harness)
    assert id_number not in draft and "13800138000" not in draft

    await cadre.tap("✅ Confirm")
    assert cadre.reply_texts[1] == "Case #1 opened for 王小明."
    student = one(harness, Student, Student.name == "王小明")
    assert student.id_number == id_number
    assert one(harness, Guardian, Guardian.student_id == student.id).phone == "13800138000"
    assert raw_drafts(harness) == []
