"""No duplicate confirmation messages (issue #12): one tap, one confirmation.

The harness reads every action of every test for the same thing said twice in its answer
(tests.repeat_check: two messages, an edited message and a new one, or the tap's toast and
a message). Here the taps that confirmed twice — the alert's 确认收到 and 指派, approving an
outcome — each yield exactly one message, and no toast repeating it.
"""

from __future__ import annotations

from casework import ladder
from tests.botkit import act, deliver_outbox, open_case, speaking


def _answered(chat) -> str | None:  # type: ignore[no-untyped-def]
    answer = chat.callback_answer
    assert answer is not None, "the tap was answered"
    return answer.text  # type: ignore[no-any-return]


async def test_the_alerts_acknowledge_and_assign_confirm_once(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    admin = world.users["school_admin"]
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))
    act(harness, lambda cw: ladder.escalate(cw, admin, case_id))  # the township is alerted
    officer = speaking(harness, world.users["township_officer"], "zh_Hans")
    await deliver_outbox(harness)
    (alert,) = [m for m in harness.tg.bot_messages(officer.chat_id) if m.content.startswith("上报提醒")]

    await officer.tap("确认收到", message=alert)
    assert [e.text for e in officer.replies if not e.edited] == [f"已确认收到个案#{case_id}的提醒。"]
    assert not _answered(officer)

    await officer.tap("指派给…", message=alert)
    assert officer.reply_texts == [f"将个案#{case_id}指派给："]
    cadre = world.users["village_cadre"]
    await officer.tap(cadre.display_name)
    said = [e.text for e in officer.replies if not e.edited]
    assert len(said) == 1 and cadre.display_name in said[0], said
    assert not _answered(officer)
