"""A reply that fails after its turn committed is not lost.

The turn's work is committed before its reply goes out. When the direct send of the next
question fails because the Bot API cannot be reached or answers 5xx (or 429), the messages
not yet sent are queued in the outbox, urgent, in the user's language, and the outbox
sender delivers them exactly once: the user answers the question from that message and the
flow goes on. A 400 (the message itself is wrong) is not queued: sending it again cannot help.
"""

from __future__ import annotations

from typing import Any

import pytest

from casework import urgent
from models.tables import OutboxMessage
from tests.botkit import deliver_outbox, open_case, rows, speaking

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")

HOW = "How did you persuade?"
FAMILY = "What is the family's situation?"


def new_messages(user: Any) -> list[str]:
    """What the bot sent (not edited) since the user's last action."""
    return [e.text for e in user.replies if not e.edited]


async def start_visit(harness: Any, world: Any) -> Any:
    case_id = open_case(harness, world, student_index=1)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/visit")
    await teacher.tap(f"#{case_id} ")
    assert teacher.last.startswith(HOW)
    await teacher.tap("🏠 Home visit, today")
    return teacher


@pytest.mark.parametrize("code", [502, 500])
async def test_a_next_question_that_failed_with_a_5xx_arrives_once_through_the_outbox(
    harness: Any, world: Any, code: int
) -> None:
    teacher = await start_visit(harness, world)
    question = teacher.last
    harness.tg.inject("sendMessage", teacher.chat_id, error_code=code)
    await teacher.send("父母在外打工，奶奶照看")
    assert new_messages(teacher) == []  # the direct send failed: nothing arrived yet
    queued = rows(harness, OutboxMessage, OutboxMessage.kind == urgent.KIND)
    assert [(r.status, r.urgent) for r in queued] == [("pending", True)]

    assert await deliver_outbox(harness) == 1
    assert await deliver_outbox(harness) == 0  # once
    arrived = new_messages(teacher)
    assert len(arrived) == 1 and arrived[0] != question
    assert "Sorry" not in arrived[0]  # no apology: nothing went wrong for the user
    # the question came with its buttons, and answering it carries the flow on
    buttons = teacher.buttons()
    assert buttons and "Hesitant" in buttons
    await teacher.tap("Hesitant")
    assert teacher.last != arrived[0]
    assert [r.status for r in rows(harness, OutboxMessage, OutboxMessage.kind == urgent.KIND)] == ["sent"]


async def test_a_reply_refused_with_a_400_is_not_queued(harness: Any, world: Any) -> None:
    teacher = await start_visit(harness, world)
    harness.tg.inject("sendMessage", teacher.chat_id, error_code=400,
                      description="Bad Request: can't parse entities")
    await teacher.send("父母在外打工，奶奶照看")
    assert rows(harness, OutboxMessage, OutboxMessage.kind == urgent.KIND) == []
    # reported to the error handler as before (the operator is told; the user hears sorry)
    assert [type(e).__name__ for e in harness.errors] == ["BadRequest"]
    harness.errors.clear()


async def test_urgent_replies_go_before_older_rows_of_other_people(harness: Any, world: Any) -> None:
    from sqlmodel import Session

    from casework.i18n import Text
    from casework.outbox import enqueue

    teacher = await start_visit(harness, world)
    other = world.users["school_admin"]
    speaking(harness, other, "en")
    with Session(harness.engine) as s:
        enqueue(s, other, Text("Thank you."), kind="prompt", now=harness.services.clock.now())
        s.commit()
    harness.tg.inject("sendMessage", teacher.chat_id, error_code=502)
    await teacher.send("父母在外打工，奶奶照看")
    calls_before = len(harness.tg.calls)
    older = [r.id for r in rows(harness, OutboxMessage, OutboxMessage.status == "pending")
             if r.kind != urgent.KIND]
    assert older  # the notices of the case opened, and the one above
    await deliver_outbox(harness)
    sent = [c for c in list(harness.tg.calls)[calls_before:]
            if c.method == "sendMessage" and c.status == 200]
    assert len(sent) == len(older) + 1
    assert int(sent[0].params["chat_id"]) == teacher.chat_id  # the reply first


async def test_a_form_whose_send_failed_with_a_502_arrives_once_through_the_outbox(
    harness: Any, world: Any
) -> None:
    from sqlmodel import Session

    from tests.ledgerkit import make_cases
    from tests.test_bot_exports import documents

    with Session(harness.engine, expire_on_commit=False) as s:
        made = make_cases(s, harness.services.clock, harness.services.policy, world)
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send(f"/forms {made.meilin_township}")
    harness.tg.inject("sendDocument", officer.chat_id, error_code=502)
    await officer.tap("Written report to the township (表5)")
    assert documents(harness, officer) == []  # the Word file failed, the PDF waits behind it
    queued = rows(harness, OutboxMessage, OutboxMessage.kind == urgent.KIND)
    assert [(r.status, r.urgent) for r in queued] == [("pending", True), ("pending", True)]

    await deliver_outbox(harness)  # (the notices of the cases made above go too)
    assert await deliver_outbox(harness) == 0  # once
    assert [r.status for r in rows(harness, OutboxMessage, OutboxMessage.kind == urgent.KIND)] == ["sent"] * 2
    # after the older notices to the same person (their order kept), in their own order
    (docx_name, docx), (pdf_name, pdf) = documents(harness, officer)[-2:]
    assert docx_name.startswith("表5_疑似辍学学生报告单_") and docx_name.endswith(".docx")
    assert docx.startswith(b"PK") and pdf_name.endswith(".pdf") and pdf.startswith(b"%PDF")
    captions = [m.content for m in harness.tg.bot_messages(officer.chat_id) if m.media.get("document")]
    # the Word file's caption names the case; the PDF under it has none (no caption said twice)
    assert f"#{made.meilin_township}" in captions[-2] and captions[-1] == ""


async def test_a_form_too_large_to_queue_is_refused_in_words(
    harness: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file over the outbox's cap is not stored in a row: the officer reads, once, that it
    could not be sent and is to be asked for again (the forms themselves are a few KB, so
    the cap is lowered here to one under the Word file's size)."""
    from sqlmodel import Session

    from tests.ledgerkit import make_cases
    from tests.test_bot_exports import documents

    with Session(harness.engine, expire_on_commit=False) as s:
        made = make_cases(s, harness.services.clock, harness.services.policy, world)
    officer = speaking(harness, world.users["township_officer"], "zh-hans")
    await officer.send(f"/forms {made.meilin_township}")
    monkeypatch.setattr(urgent, "MAX_QUEUED_DOCUMENT", 1000)
    harness.tg.inject("sendDocument", officer.chat_id, error_code=502)
    await officer.tap("表5")
    queued = rows(harness, OutboxMessage, OutboxMessage.kind == urgent.KIND)
    assert len(queued) == 2 and all("literal_document" not in r.payload for r in queued)
    assert all(len(str(r.payload)) < 2000 for r in queued)  # no file in the rows

    await deliver_outbox(harness)
    assert await deliver_outbox(harness) == 0  # once
    # (a notice to the officer carries the form's PDF as an attachment: not this reply)
    assert not any(name.endswith(".docx") for name, _data in documents(harness, officer))
    last = harness.tg.bot_messages(officer.chat_id)[-2:]
    assert [m.media.get("document") for m in last] == [None, None]
    said = [m.content for m in last]
    assert said[0].startswith("疑似辍学学生报告单（表5）——个案#") and f"#{made.meilin_township}" in said[0]
    assert ".docx”暂时未能发送，且文件过大，无法稍后补发。请重新获取。" in said[0]
    assert ".pdf”暂时未能发送，且文件过大，无法稍后补发。请重新获取。" in said[1]


async def test_a_newcomers_phone_prompt_that_failed_with_a_502_arrives_once_with_its_keyboard(
    harness: Any, world: Any
) -> None:
    from tests.test_bot_onboarding import make_invite

    code = make_invite(harness.engine, harness.services.clock, harness.services.policy, world)
    newcomer = harness.user(first_name="Li", last_name="Ming", language_code="zh-hans")
    harness.tg.inject("sendMessage", newcomer.chat_id, error_code=502)
    await newcomer.start(code)
    assert newcomer.reply_texts == []
    assert await deliver_outbox(harness) == 1
    assert await deliver_outbox(harness) == 0  # once
    # the prompt came with its reply keyboard, and sharing the number carries the joining on
    assert newcomer.reply_texts == ["欢迎！请点击下方按钮分享您的手机号码，完成加入。"]
    assert newcomer.keyboard_rows() == [["📱 分享我的手机号码"]]
    assert newcomer.state.reply_keyboard(newcomer.chat_id)["keyboard"][0][0]["request_contact"]
    await newcomer.share_contact()
    assert newcomer.keyboard() == []  # the phone keyboard is gone
    assert newcomer.last_message.buttons() == [[("中文", "lang:zh_Hans"), ("English", "lang:en")]]
