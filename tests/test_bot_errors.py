"""The one error handler, through the real PTB stack and the fake Bot API: an exception in
any handler is reported to the operators' chat (``OPERATOR_CHAT_ID``) with its type, where
it was raised and the update's id, and never the update's personal data; the user still
hears the apology in the language they chose."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from handlers import errors
from tests.botkit import speaking

APOLOGY_EN = "Sorry, something went wrong on our side. Nothing was lost; please try again, or send /menu."
SECRET = "王小明 350425201401011234 13812345678"


async def test_a_failing_handler_is_reported_to_the_operators_without_the_users_text(harness, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from handlers import buttons

    operators = harness.tg.add_group("控辍保学 运维")
    harness.services.operator_chat_id = operators.id
    seen: list[int] = []

    async def first(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)

    def failing(turn, msg):  # type: ignore[no-untyped-def]
        # a bug whose message quotes what the user typed and who they are
        raise ValueError(f"could not read {msg.text!r} from {turn.user.display_name}")

    harness.app.add_handler(MessageHandler(filters.ALL, first), group=-3)
    monkeypatch.setattr(buttons, "route_message", failing)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(SECRET)
    assert teacher.reply_texts == [APOLOGY_EN]

    reports = [m.text or "" for m in harness.tg.bot_messages(operators.id)]
    assert len(reports) == 1
    report = reports[0]
    assert report.startswith(f"⚠️ ValueError while handling update {seen[0]}\n")
    assert "tests/test_bot_errors.py" in report and "in failing" in report  # where it was raised
    assert "handlers/turns.py" in report
    for private in ("王小明", "350425", "13812345678", world.users["teacher"].display_name):
        assert private not in report
    assert [type(e) for e in harness.errors] == [ValueError]
    harness.errors.clear()  # the one error this test caused on purpose


async def test_without_an_operator_chat_the_error_goes_to_the_log_only(harness, world, caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from handlers import buttons

    def failing(turn, msg):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(buttons, "route_message", failing)
    teacher = speaking(harness, world.users["teacher"], "en")
    chats_before = set(harness.tg.chats)
    await teacher.send("boom")
    assert teacher.reply_texts == [APOLOGY_EN]
    assert set(harness.tg.chats) == chats_before
    assert any(r.name == errors.log.name and r.exc_info for r in caplog.records)
    harness.errors.clear()


def test_a_report_is_one_message_without_the_exceptions_message() -> None:
    def deep(n: int, name: str) -> None:
        if n == 0:
            raise KeyError(name)
        deep(n - 1, name)

    try:
        deep(200, "张" + "三")
    except KeyError as err:
        text = errors.report_text(err, 42)
    assert text.startswith("⚠️ KeyError while handling update 42\n")
    assert "张三" not in text
    assert len(text) <= 4096 and 0 < text.count("in deep") <= errors.REPORT_FRAMES  # the last frames
