"""What fuzzing the bot found (issue #10 §8), each reproduced as the user meets it.

- Numbers: '²', '¹', '①' pass ``str.isdigit`` and crash ``int()``; a case number past the
  id column's range is a ``DataError`` on PostgreSQL and an overflow on SQLite. Typed or
  in forged button data, each is "no such case" or "no longer in use", never an apology.
- Echoes: a reply that quotes 4,096 characters of user text is longer than Telegram takes.
- After a committed turn, a failing edit or command menu does not cost the other replies.
- The apology after a real error answers the tapped button and speaks the user's language.

The ``harness`` fixture fails a test whose update raised (the error handler was called).
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from casework.validation import MAX_ID, case_number, clean_text, parse_id, quote
from handlers import background, exports, limits
from models.tables import User
from tests.botkit import conversation, open_case, rows, speaking
from tests.ledgerkit import make_cases
from tests.test_bot_exports import documents

APOLOGY_EN = "Sorry, something went wrong on our side. Nothing was lost; please try again, or send /menu."
NO_LONGER = "That button is no longer in use."


# --- the one id parser --------------------------------------------------------------------


def test_ids_are_ascii_digits_within_the_column_range() -> None:
    assert [parse_id(t) for t in ("1", "12", "007", str(MAX_ID))] == [1, 12, 7, MAX_ID]
    for text in ("", "0", "-1", "+1", " 1", "1 ", "1.0", "²", "¹", "①", "١٢", "１２", "𝟙",
                 str(MAX_ID + 1), "9223372036854775808", "9" * 4096):
        assert parse_id(text) is None, text
    assert case_number("#12") == 12 and case_number("①") is None and case_number("x") is None


def test_quoted_user_text_is_short_and_on_one_line() -> None:
    assert quote("张三") == "张三"
    assert quote("a\nb\t c") == "a b c"
    long = quote("字" * 4096)
    assert len(long) == 60 and long.endswith("…")
    assert clean_text("王\x00小\x1b明\x7f") == "王小明"
    assert clean_text("第一行\n\t第二行\r\n") == "第一行\n\t第二行\r\n"  # kept: people write these


def test_replies_are_cut_to_telegram_limits() -> None:
    lines = "\n".join(f"第{i}行 " + "很长的一行" * 20 for i in range(200))
    pieces = limits.split(lines)
    assert len(pieces) > 1 and all(limits.units(p) <= 4096 for p in pieces)
    assert "\n".join(pieces) == lines  # cut at line ends: nothing lost, nothing doubled
    one_line = "x" * 10_000
    assert [len(p) for p in limits.split(one_line)] == [4096, 4096, 1808]
    emoji = "😀" * 3000  # two UTF-16 units each
    assert all(limits.units(p) <= 4096 for p in limits.split(emoji))
    assert limits.units(limits.shorten("😀" * 1000, 1024)) <= 1024
    assert limits.shorten("short", 1024) == "short"


# --- number parsing, typed and forged -------------------------------------------------------


async def test_superscript_and_circled_digits_are_not_case_numbers(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    for text in ("/case ²", "/case ¹", "/case ①"):
        await teacher.send(text)
        assert teacher.reply_texts == ["Which case? For example: /case 12"], text
    await teacher.send("/forms ①")
    assert teacher.reply_texts == ["Which case? For example: /forms 12"]
    await teacher.send("/visit ²")  # no case named: the visit asks which case
    assert APOLOGY_EN not in teacher.reply_texts


@pytest.mark.parametrize("number", ["2147483648", "9223372036854775808", "0"])
async def test_a_case_number_out_of_range_is_no_such_case(harness, world, number) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send(f"/case {number}")
    assert teacher.reply_texts == [f"There is no case #{number}."]
    await teacher.send(f"/forms #{number}")
    assert teacher.reply_texts == [f"There is no case #{number}."]


FORGED = [
    "case:²", "case:2147483648", "case:9223372036854775808", "visit:①", "ack:¹", "ack:2147483648",
    "apr:²", "rej:①", "rej:2147483648", "att:²:1", "att:2147483648:1", "act:①:escalate",
    "act:9223372036854775808:escalate", "assign:²", "atd:²:20261123:a", "atd:2147483648:20261123:s",
    "rc:①:20260901:a", "doc:²:notice", "doc:2147483648:notice",
    # a month or quarter that ends past the calendar's last day (OverflowError, not ValueError)
    "rpt:m:9999-12", "rpt:q:9999Q4", "xp:open:m9999-12:-:", "xp:open:q9999Q4:-:go",
]


async def test_forged_button_data_with_odd_numbers_is_refused_quietly(harness, world) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(harness, world)
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/menu")
    for data in [*FORGED, f"assign:{case_id}:²", f"assign:{case_id}:2147483648"]:
        await officer.tap_data(data)
        answer = officer.callback_answer
        assert answer is not None, data  # the tap does not spin
        assert APOLOGY_EN not in officer.reply_texts, data
        assert answer.text in (NO_LONGER, None) or "not responsible" in answer.text or "no case" in answer.text, (
            data, answer.text)


async def test_forged_case_choice_in_the_visit_flow_is_not_offered(harness, world) -> None:  # type: ignore[no-untyped-def]
    open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/visit")
    conv = conversation(harness, world.users["teacher"])
    assert conv is not None and conv.step == "case"
    real = next(data for row in teacher.keyboard_message().buttons() for _label, data in row
                if data and data.split("|")[2] == "case" and data.split("|")[3][:1].isdigit())
    head = real.rsplit("|", 1)[0]
    for code in ("²", "①", "2147483648", "9223372036854775808", "!p²", "!p99999999999999999999"):
        await teacher.tap_data(f"{head}|{code}")
        assert teacher.callback_answer is not None and teacher.callback_answer.text == (
            "That choice is no longer offered."), code
    forged_conv = real.replace(real.split("|")[1], "²." + real.split("|")[1].split(".")[1])
    await teacher.tap_data(forged_conv)
    assert teacher.callback_answer is not None
    assert teacher.callback_answer.text == "That question is finished; see the latest message."


# --- echoes of user text ----------------------------------------------------------------------


async def test_a_search_of_4096_characters_is_answered(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    await teacher.send("字" * 4096)
    texts = teacher.reply_texts
    assert texts and texts[0].startswith("Nothing matches “字字字") and "…”" in texts[0]
    assert all(len(t) <= 4096 for t in texts)


# --- after the commit ----------------------------------------------------------------------


async def test_an_edit_that_fails_after_the_commit_costs_no_reply(harness, world) -> None:  # type: ignore[no-untyped-def]
    open_case(harness, world)
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/visit")
    harness.tg.inject("editMessageText", error_code=400, description="Bad Request: message to edit not found")
    await teacher.tap("#")  # the case, by the "#<id> …" label
    conv = conversation(harness, world.users["teacher"])
    assert conv is not None and conv.step != "case"  # the answer was committed
    assert teacher.reply_texts and APOLOGY_EN not in teacher.reply_texts
    assert teacher.reply_texts[-1].startswith("How did you persuade?")
    assert teacher.callback_answer is not None


async def test_a_refused_command_menu_costs_no_reply(harness, world) -> None:  # type: ignore[no-untyped-def]
    teacher = speaking(harness, world.users["teacher"], "zh_Hans")
    await teacher.send("/language")
    harness.tg.inject("setMyCommands", error_code=400, description="Bad Request: BOT_COMMANDS_TOO_MUCH")
    await teacher.tap("English")
    assert teacher.reply_texts[-1] == "Language set to English."
    assert rows(harness, User, User.id == world.users["teacher"].id)[0].language == "en"
    assert teacher.callback_answer is not None


# --- the error handler ------------------------------------------------------------------------


async def test_the_apology_answers_the_tap_in_the_language_the_user_chose(harness, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from handlers import buttons

    def broken(turn, data):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in a handler")

    speaking(harness, world.users["teacher"], "en")
    # chose English in the bot; the Telegram app is in Chinese
    teacher = harness.user(world.users["teacher"], language_code="zh-hans")
    await teacher.send("/menu")
    monkeypatch.setattr(buttons, "route", broken)
    await teacher.tap_data("menu:cases")
    assert teacher.callback_answer is not None  # no spinning button
    assert teacher.reply_texts == [APOLOGY_EN]
    assert [type(e) for e in harness.errors] == [RuntimeError]
    harness.errors.clear()  # the one error this test caused on purpose


@pytest.fixture
def made(harness, world):  # type: ignore[no-untyped-def]
    with Session(harness.engine, expire_on_commit=False) as s:
        return make_cases(s, harness.services.clock, harness.services.policy, world)


async def test_an_export_menu_that_cannot_be_edited_comes_anew(harness, world, made) -> None:  # type: ignore[no-untyped-def]
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/export")
    harness.tg.inject("editMessageText", error_code=400, description="Bad Request: message to edit not found")
    await officer.tap("State ▸")
    assert not officer.replies[0].edited  # a new message, with the state filters
    assert officer.buttons()[:3] == ["All cases", "Open cases", "Closed cases"]
    assert officer.callback_answer is not None


async def test_an_export_whose_progress_line_is_gone_still_sends_the_workbook(harness, world, made, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(exports, "PROGRESS_MIN_INTERVAL", 0)
    monkeypatch.setattr(exports, "LEDGER_CHUNK", 1)
    officer = speaking(harness, world.users["township_officer"], "en")
    await officer.send("/export")
    await officer.tap("📥 Make the workbook")
    harness.tg.inject("editMessageText", error_code=400, times=None,
                      description="Bad Request: message to edit not found")
    await background.wait()
    (name, _data), = documents(harness, officer)
    assert name.endswith(".xlsx")


async def test_a_case_with_a_long_history_is_shown_in_pieces(harness, world) -> None:  # type: ignore[no-untyped-def]
    from casework import ladder
    from tests.botkit import act

    case_id = open_case(harness, world)
    teacher_row = world.users["teacher"]
    for _ in range(160):  # a year of weekly calls, each a line of the timeline
        act(harness, lambda cw: ladder.record_visit(
            cw, teacher_row, case_id,
            ladder.VisitInput(visit_date=cw.today(), method="phone", result="refused")))
    teacher = speaking(harness, teacher_row, "en")
    await teacher.send(f"/case {case_id}")
    texts = teacher.reply_texts
    assert len(texts) > 1 and all(len(t) <= 4096 for t in texts)
    assert texts[0].startswith(f"#{case_id} ") and "Timeline:" in texts[0]
    assert sum(t.count("visit recorded") for t in texts) == 160
    assert teacher.buttons()  # the actions, under the last piece
    assert teacher.keyboard_message() is teacher.last_message


# --- control characters ------------------------------------------------------------------------


async def test_control_characters_are_dropped_from_what_users_write(harness, world) -> None:  # type: ignore[no-untyped-def]
    """NUL is refused by PostgreSQL in any text or JSON value: a search for it raised."""
    pupil = world.students_of_class(world.classes[4])[0]
    teacher = speaking(harness, world.users["teacher"], "en")
    await teacher.send("/report")
    await teacher.send("\x00")
    assert teacher.reply_texts[0].startswith("I can't use that here.\n")
    await teacher.send(pupil.name[0] + "\x00" + pupil.name[1:])  # found, without the NUL
    assert APOLOGY_EN not in teacher.reply_texts and "Nothing matches" not in teacher.reply_texts[0]
    await teacher.send("/start \x00\x1f")
    await teacher.send("/case \x00")
    assert teacher.reply_texts == ["Which case? For example: /case 12"]
