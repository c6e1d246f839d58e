"""Tests of the fake Telegram Bot API (sandbox.fakebot) driven through the real PTB stack."""

from __future__ import annotations

import asyncio
import datetime as dtm
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from sandbox.fakebot import TINY_PNG, FakeTelegram, create_fake_bot_api
from sandbox.harness import (
    ChatUser,
    capture_errors,
    fake_application_builder,
    polling_delivery,
)

# PTB builds RetryAfter from an int and warns about its future timedelta type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

REPORT = b"%PDF-1.4 fake report\n" + bytes(range(256))


class Clock:
    """A settable clock for message dates and flood-limit windows."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


# ------------------------------------------------------------------------------ the tiny bot


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    code = context.args[0] if context.args else None
    await update.effective_message.reply_text(f"Welcome, code={code}" if code else "Welcome")


async def menu(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Red", callback_data="color:red"),
                InlineKeyboardButton("Blue", callback_data="color:blue"),
            ],
            [InlineKeyboardButton("Docs", url="https://example.org/docs")],
        ]
    )
    await update.effective_message.reply_text("Pick a colour", reply_markup=keyboard)


async def picked(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    color = query.data.split(":", 1)[1]
    await query.answer(f"Picked {color}")
    await query.edit_message_text(f"You picked <b>{color}</b>", parse_mode=ParseMode.HTML)


async def files(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    chat_id = update.effective_chat.id
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    await context.bot.send_photo(chat_id, TINY_PNG, caption="A photo")
    await context.bot.send_document(chat_id, REPORT, filename="report.pdf", caption="Your report")


async def phone(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share phone", request_contact=True)], ["Skip"]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await update.effective_message.reply_text("Share your phone?", reply_markup=keyboard)


async def got_contact(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.contact is not None
    own = message.contact.user_id == message.from_user.id if message.from_user else False
    await message.reply_text(
        f"Thanks, {message.contact.phone_number} (own={own})", reply_markup=ReplyKeyboardRemove()
    )


async def got_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.photo
    tg_file = await message.photo[-1].get_file()
    data = bytes(await tg_file.download_as_bytearray())
    context.bot_data["photo"] = data
    await message.reply_text(f"Got photo, {len(data)} bytes, caption={message.caption}")


async def got_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    tg_file = await context.bot.get_file(message.document.file_id)
    context.bot_data["document"] = bytes(await tg_file.download_as_bytearray())
    await message.reply_text(f"Got {message.document.file_name} ({message.document.mime_type})")


async def got_location(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.location is not None
    await message.reply_text(f"At {message.location.latitude:.2f},{message.location.longitude:.2f}")


async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    await message.reply_text(f"Echo: {message.text}")


def add_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(CommandHandler("files", files))
    application.add_handler(CommandHandler("phone", phone))
    application.add_handler(CallbackQueryHandler(picked, pattern=r"^color:"))
    application.add_handler(MessageHandler(filters.CONTACT, got_contact))
    application.add_handler(MessageHandler(filters.PHOTO, got_photo))
    application.add_handler(MessageHandler(filters.Document.ALL, got_document))
    application.add_handler(MessageHandler(filters.LOCATION, got_location))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tg(clock: Clock) -> FakeTelegram:
    return FakeTelegram(now=clock)


@pytest.fixture
async def app(tg: FakeTelegram) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = fake_application_builder(tg).build()
    add_handlers(application)
    async with application:  # initialize() calls getMe on the fake
        yield application


@pytest.fixture
async def errors(app: Application[Any, Any, Any, Any, Any, Any]) -> list[BaseException]:
    return capture_errors(app)


@pytest.fixture
def alice(tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]) -> ChatUser:
    return ChatUser(tg, app, first_name="Alice", username="alice_w")


@pytest.fixture
async def raw_api(tg: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_fake_bot_api(tg))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake.telegram") as client:
        yield client


def seconds(retry_after: int | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after


def retry_after_of(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int -> timedelta transition
        warnings.simplefilter("ignore")
        return seconds(exc.retry_after)


# ------------------------------------------------------------------------------ conversations


async def test_get_me_identity(
    app: Application[Any, Any, Any, Any, Any, Any], tg: FakeTelegram
) -> None:
    assert app.bot.username == "baoxue_test_bot"
    assert app.bot.id == tg.bot.id
    assert tg.call_count("getMe") == 1


async def test_echo_and_deep_link(
    alice: ChatUser, tg: FakeTelegram, errors: list[BaseException]
) -> None:
    replies = await alice.start("ABC123")
    assert [r.text for r in replies] == ["Welcome, code=ABC123"]
    assert tg.messages(alice.chat_id)[0].entities == [
        {"type": "bot_command", "offset": 0, "length": 6}
    ]

    await alice.send("hello there")
    assert alice.reply_texts == ["Echo: hello there"]
    assert alice.last == "Echo: hello there"
    reply = alice.last_message
    assert reply is not None and reply.reply_to is None  # PTB quotes only in groups
    assert (alice.taps, alice.typed) == (1, 1)
    assert errors == []


async def test_inline_keyboard_tap_answers_and_edits(
    alice: ChatUser, tg: FakeTelegram, errors: list[BaseException]
) -> None:
    await alice.send("/menu")
    assert alice.buttons() == ["Red", "Blue", "Docs"]
    assert alice.button_rows() == [["Red", "Blue"], ["Docs"]]
    menu_message = alice.keyboard_message()
    assert menu_message is not None

    replies = await alice.tap("Blu")  # substring of the visible label
    assert len(replies) == 1 and replies[0].edited
    assert replies[0].text == "You picked blue"  # HTML rendered to what the user reads
    assert replies[0].message.entities == [{"type": "bold", "offset": 11, "length": 4}]
    assert replies[0].button_labels == []  # editing text without reply_markup drops it
    assert alice.callback_answer is not None
    assert alice.callback_answer.text == "Picked blue"
    assert not alice.callback_answer.show_alert
    assert menu_message.history[0].text == "Pick a colour"
    assert tg.unanswered_callbacks == []
    assert alice.taps == 1 and alice.typed == 1
    assert errors == []


async def test_tap_on_older_message_and_missing_button(alice: ChatUser) -> None:
    await alice.send("/menu")
    first = alice.keyboard_message()
    await alice.send("/menu")
    assert first is not None
    await alice.tap("color:red", message=first)  # by callback_data, on the older message
    assert first.content == "You picked red"
    assert alice.buttons() == ["Red", "Blue", "Docs"]  # the newer menu is untouched

    with pytest.raises(AssertionError, match=r"no button matches 'Green'(.|\n)*Red"):
        await alice.tap("Green")
    with pytest.raises(AssertionError, match="url button"):
        await alice.tap("Docs")


async def test_request_contact_keyboard(alice: ChatUser, errors: list[BaseException]) -> None:
    await alice.send("/phone")
    assert alice.keyboard() == ["Share phone", "Skip"]
    replies = await alice.tap("Share phone")
    assert replies[0].text == f"Thanks, {alice.phone_number} (own=True)"
    assert alice.keyboard() == []  # ReplyKeyboardRemove
    await alice.send("/phone")
    await alice.tap("Skip")  # a plain reply-keyboard button sends its text
    assert alice.last == "Echo: Skip"
    assert alice.taps == 2
    assert errors == []


async def test_user_uploads_are_downloadable_by_the_bot(
    alice: ChatUser, app: Application[Any, Any, Any, Any, Any, Any], errors: list[BaseException]
) -> None:
    await alice.send_photo(TINY_PNG, caption="my cat")
    assert alice.last == f"Got photo, {len(TINY_PNG)} bytes, caption=my cat"
    assert app.bot_data["photo"] == TINY_PNG

    payload = "学籍证明".encode() * 100
    await alice.send_document(payload, "证明.txt")
    assert alice.last == "Got 证明.txt (text/plain)"
    assert app.bot_data["document"] == payload

    await alice.send_location(31.23, 121.47)
    assert alice.last == "At 31.23,121.47"
    assert alice.uploads == 3
    assert errors == []


async def test_bot_sent_files_are_downloadable(
    alice: ChatUser,
    tg: FakeTelegram,
    app: Application[Any, Any, Any, Any, Any, Any],
    raw_api: httpx.AsyncClient,
) -> None:
    replies = await alice.send("/files")
    assert [r.text for r in replies] == ["A photo", "Your report"]
    assert tg.chat_actions[-1][:2] == (alice.chat_id, "upload_document")
    photo, document = (r.message for r in replies)
    assert photo.kind == "photo" and photo.media["photo"][0]["width"] == 2
    assert document.media["document"]["file_name"] == "report.pdf"
    assert document.media["document"]["mime_type"] == "application/pdf"

    tg_file = await app.bot.get_file(document.file_ids()[0])
    assert tg_file.file_path is not None and tg_file.file_path.startswith(
        "http://fake.telegram/file/bot"
    )
    assert bytes(await tg_file.download_as_bytearray()) == REPORT
    stored = tg.file(document.file_ids()[0])
    response = await raw_api.get(f"/file/bot{tg.token}/{stored.file_path}")
    assert response.status_code == 200 and response.content == REPORT
    assert (await raw_api.get(f"/file/botWRONG/{stored.file_path}")).status_code == 401


async def test_group_chat_and_edits_by_the_user(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    bob = tg.add_user("Bob")
    update = tg.send_text_in_group(bob, -4001, "/start@baoxue_test_bot", enqueue=False)
    await app.process_update(Update.de_json(update, app.bot))
    assert tg.chat(-4001).type == "group"
    answer = tg.last_bot_message(-4001)
    assert answer is not None and answer.text == "Welcome"
    assert answer.reply_to is not None and answer.reply_to.sender["id"] == bob.id

    private = tg.send_text(bob, "draft", enqueue=False)
    edited = tg.edit_text(bob, private["message"]["message_id"], "final", enqueue=False)
    parsed = Update.de_json(edited, app.bot)
    assert parsed.edited_message is not None and parsed.edited_message.text == "final"


# ------------------------------------------------------------------------------ errors


async def test_injected_429_raises_retry_after(
    alice: ChatUser, tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    await alice.send("hi")
    injection = tg.inject("sendMessage", alice.chat_id, error_code=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await app.bot.send_message(alice.chat_id, "x")
    assert retry_after_of(caught.value) == 7
    assert injection.hits == 1
    await app.bot.send_message(alice.chat_id, "now it works")  # times=1: consumed
    call = [c for c in tg.calls if c.status == 429][0]
    assert call.description == "Too Many Requests: retry after 7"
    assert tg.stats.too_many_requests == 1


async def test_injected_fault_through_a_handler(
    alice: ChatUser, tg: FakeTelegram, errors: list[BaseException]
) -> None:
    tg.inject("sendMessage", error_code=502)
    await alice.send("hello")
    assert alice.replies == []
    assert len(errors) == 1 and "Bad Gateway" in str(errors[0])


async def test_blocked_user_gives_forbidden(
    alice: ChatUser, tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    await alice.send("hi")
    update = tg.block(alice.id)
    member = Update.de_json(update, app.bot).my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await app.bot.send_message(alice.chat_id, "still there?")
    with pytest.raises(Forbidden):
        await app.bot.send_chat_action(alice.chat_id, ChatAction.TYPING)
    tg.unblock(alice.id)
    await app.bot.send_message(alice.chat_id, "welcome back")


async def test_bad_requests_like_telegram(
    alice: ChatUser, tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    bot = app.bot
    await alice.send("hi")
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(alice.chat_id, "pick", reply_markup=too_long)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="学" * 21)]])  # 63 bytes
    await bot.send_message(alice.chat_id, "pick", reply_markup=fits)

    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(alice.chat_id, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(alice.chat_id, "   ")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(-999, "anyone?")
    stranger = tg.add_user("Stranger")
    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot.send_message(stranger.id, "hello")
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(alice.chat_id, "Version 1.0", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match='(?i)Unsupported start tag "br"'):
        await bot.send_message(alice.chat_id, "a<br/>b", parse_mode=ParseMode.HTML)

    sent = await bot.send_message(
        alice.chat_id, r"*Bold* and 1\.0", parse_mode=ParseMode.MARKDOWN_V2
    )
    assert sent.text == "Bold and 1.0" and sent.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text(
            "Bold and 1.0", alice.chat_id, sent.message_id, entities=sent.entities
        )
    edited = await bot.edit_message_text("Plain now", alice.chat_id, sent.message_id)
    assert isinstance(edited, type(sent)) and edited.edit_date is not None
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", alice.chat_id, 9999)
    assert await bot.delete_message(alice.chat_id, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(alice.chat_id, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await bot.get_file("nope")


# ------------------------------------------------------------------------------ bot settings


async def test_commands_per_scope_and_language(
    alice: ChatUser, tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    bot = app.bot
    await alice.send("hi")
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh")
    await bot.set_my_commands(
        [BotCommand("case", "个案")], scope=BotCommandScopeChat(alice.chat_id), language_code="zh"
    )
    assert tg.commands() == [("start", "Start"), ("help", "Help")]
    assert tg.commands(language_code="zh") == [("start", "开始")]
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start"]
    assert tg.visible_commands(alice.chat_id, "zh-hans") == [("case", "个案")]
    assert tg.visible_commands(alice.chat_id, "en") == [("start", "Start"), ("help", "Help")]
    with pytest.raises(BadRequest, match="(?i)invalid language code"):
        await bot.set_my_commands([BotCommand("start", "x")], language_code="zh-hans")
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])

    await bot.delete_my_commands(language_code="zh")
    assert tg.commands(language_code="zh") == []
    assert await bot.set_chat_menu_button(alice.chat_id, MenuButtonCommands())
    assert tg.menu_button(alice.chat_id) == {"type": "commands"}
    assert isinstance(await bot.get_chat_menu_button(alice.chat_id), MenuButtonCommands)
    chat = await bot.get_chat(alice.chat_id)
    assert chat.first_name == "Alice" and chat.username == "alice_w"


async def test_webhook_info_and_conflict(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    bot = app.bot
    user = tg.add_user("Carol")
    tg.send_text(user, "one")
    tg.send_text(user, "two")
    assert (await bot.get_webhook_info()).pending_update_count == 2
    with pytest.raises(BadRequest, match="(?i)HTTPS URL must be provided"):
        await bot.set_webhook("http://insecure.example/hook")
    assert await bot.set_webhook("https://bot.example/hook", secret_token="s3cret")
    info = await bot.get_webhook_info()
    assert info.url == "https://bot.example/hook" and info.pending_update_count == 2
    with pytest.raises(Conflict, match="(?i)can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert tg.pending_updates == []
    assert await bot.get_updates() == ()


async def test_a_call_named_in_a_webhook_response_is_made_as_telegram_does(
    tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    """A bot may answer a webhook POST with one Bot API call (its ``method`` and fields, as
    JSON): Telegram makes it, and tells no one how it went. Any other response is ignored."""
    user = tg.add_user("Dana")
    tg.private_chat(user)  # Dana opened the bot
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await app.bot.send_message(user.id, "pick", reply_markup=keyboard)
    query_id = tg.tap(user, sent.message_id, "a", enqueue=False)["callback_query"]["id"]
    call = (b'{"method": "answerCallbackQuery", "callback_query_id": "%s", "text": "ok", '
            b'"show_alert": true}' % query_id.encode())
    for status, body, content_type in (
        (500, call, "application/json"), (200, call, "text/plain"), (200, call, None),
        (200, b"", "application/json"), (200, b"[1]", "application/json"),
        (200, b'{"callback_query_id": "1"}', "application/json"), (200, b"{", "application/json"),
    ):
        assert await tg.apply_webhook_response(status, body, content_type) is None
    assert tg.unanswered_callbacks != [] and tg.call_count("answerCallbackQuery") == 0

    made = await tg.apply_webhook_response(200, call, "application/json; charset=utf-8")
    assert made == {"ok": True, "result": True}
    answer = tg.callback_answer(query_id)
    assert answer is not None and (answer.answered, answer.text, answer.show_alert) == (True, "ok", True)
    assert tg.call_count("answerCallbackQuery", via="webhook response") == 1
    assert tg.call_count("answerCallbackQuery", via="http") == 0
    # a call Telegram refuses (a second answer): the error reaches no one but the record
    again = await tg.apply_webhook_response(200, call, "application/json")
    assert isinstance(again, dict) and again["ok"] is False
    assert [c.status for c in tg.calls if c.method == "answerCallbackQuery"] == [200, 400]


# ------------------------------------------------------------------------------ HTTP surface


async def test_http_errors_and_encodings(tg: FakeTelegram, raw_api: httpx.AsyncClient) -> None:
    wrong = await raw_api.post("/bot123:WRONG/getMe")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    unknown = await raw_api.post(f"/bot{tg.token}/sendTelepathy")
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert (await raw_api.get(f"/bot{tg.token}/getme")).json()["result"][
        "username"
    ] == "baoxue_test_bot"

    user = tg.add_user("Dan")
    tg.send_text(user, "hi")
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    as_json = await raw_api.post(
        f"/bot{tg.token}/sendMessage",
        json={"chat_id": user.id, "text": "json", "reply_markup": markup},
    )
    assert as_json.json()["result"]["reply_markup"] == markup
    as_form = await raw_api.post(
        f"/bot{tg.token}/sendMessage",
        data={"chat_id": str(user.id), "text": "form", "reply_markup": '{"remove_keyboard": true}'},
    )
    assert as_form.json()["ok"] is True
    as_query = await raw_api.get(
        f"/bot{tg.token}/sendMessage", params={"chat_id": user.id, "text": "q"}
    )
    assert as_query.json()["result"]["text"] == "q"
    multipart = await raw_api.post(
        f"/bot{tg.token}/sendMediaGroup",
        data={
            "chat_id": str(user.id),
            "media": '[{"type": "photo", "media": "attach://a", "caption": "first"},'
            ' {"type": "document", "media": "attach://b"}]',
        },
        files={"a": ("a.png", TINY_PNG, "image/png"), "b": ("b.txt", b"bee", "text/plain")},
    )
    result = multipart.json()["result"]
    assert [m.get("caption") for m in result] == ["first", None]
    assert result[0]["media_group_id"] == result[1]["media_group_id"]
    bad = await raw_api.post(f"/bot{tg.token}/sendMessage", json={"chat_id": user.id})
    assert bad.status_code == 400
    assert bad.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message text is empty",
    }


# ------------------------------------------------------------------------------ long polling


async def _run_loop_until(done: Callable[[], bool], rounds: int = 500) -> None:
    """Let the event loop run (without its clock moving) until ``done()`` or ``rounds`` turns."""
    for _ in range(rounds):
        if done():
            return
        await asyncio.sleep(0)


async def test_get_updates_long_poll_returns_early(
    tg: FakeTelegram, raw_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a long poll waits on the event loop's clock: the test holds it and moves it
    loop = asyncio.get_running_loop()
    now = [loop.time()]
    monkeypatch.setattr(loop, "time", lambda: now[0])
    url = f"/bot{tg.token}/getUpdates"
    empty = asyncio.create_task(raw_api.post(url, data={"timeout": "0.2"}))
    await _run_loop_until(empty.done)
    now[0] += 0.19
    await _run_loop_until(empty.done)
    assert not empty.done()  # still waiting just before its timeout
    now[0] += 0.02
    await _run_loop_until(empty.done)
    assert empty.done()
    assert empty.result().json() == {"ok": True, "result": []}

    user = tg.add_user("Eve")
    poll = asyncio.create_task(raw_api.post(url, data={"timeout": "5"}))
    await _run_loop_until(poll.done)
    assert not poll.done()  # waiting
    sent = tg.send_text(user, "wake up")
    await _run_loop_until(poll.done)
    assert poll.done()  # at once: the clock has not moved
    result = poll.result().json()["result"]
    assert [u["update_id"] for u in result] == [sent["update_id"]]

    again = await raw_api.post(url, data={"offset": str(sent["update_id"] + 1)})
    assert again.json()["result"] == [] and tg.pending_updates == []


async def test_application_polls_with_updater(tg: FakeTelegram) -> None:
    application = fake_application_builder(tg, updater=True).build()
    add_handlers(application)
    errors = capture_errors(application)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1, poll_interval=0)
        frank = ChatUser(tg, user=tg.add_user("Frank"), deliver=polling_delivery(tg))
        replies = await frank.send("over the wire")
        assert [r.text for r in replies] == ["Echo: over the wire"]
        await frank.send("/menu")
        await frank.tap("Red")
        assert frank.last == "You picked red"
        await application.updater.stop()
        await application.stop()
    assert tg.pending_updates == []  # the final getUpdates confirmed everything
    assert tg.call_count("deleteWebhook") == 1  # PTB's bootstrap
    assert errors == []


# ------------------------------------------------------------------------------ flood limits


async def test_rate_limit_enforcement_counts_windows(
    tg: FakeTelegram, clock: Clock, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    bot = app.bot
    users = [tg.add_user(f"U{i}") for i in range(32)]
    for user in users:
        tg.send_text(user, "hi", enqueue=False)
    tg.enforce_limits = True
    clock.t = 1_700_000_100.25

    await bot.send_message(users[0].id, "first")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(users[0].id, "second in the same second")
    assert retry_after_of(caught.value) == 1
    clock.advance(1.0)
    await bot.send_message(users[0].id, "a second later")

    for user in users[1:30]:
        await bot.send_message(user.id, "broadcast")  # 30 sends in this window
    with pytest.raises(RetryAfter):
        await bot.send_message(users[30].id, "31st in one second")
    clock.advance(1.0)
    await bot.send_message(users[30].id, "next window")

    window = 1_700_000_100
    assert tg.stats.sends_per_window == {window: 1, window + 1: 30, window + 2: 1}
    assert tg.stats.max_sends_per_window == 30
    assert tg.stats.max_chat_sends_per_window == 1
    assert tg.stats.enforced_429s == 2 and tg.stats.too_many_requests == 2
    assert (tg.stats.chat_429s, tg.stats.global_429s) == (1, 1)  # which limit each was


async def test_media_shapes_parse_in_ptb(
    alice: ChatUser, tg: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    bot = app.bot
    parsed = [
        Update.de_json(update, bot).effective_message
        for update in (
            tg.send_voice(alice.user, enqueue=False),
            tg.send_sticker(alice.user, enqueue=False),
            tg.send_animation(alice.user, enqueue=False),
            tg.send_contact(alice.user, "+8613800000000", "Alice", alice.id, enqueue=False),
        )
    ]
    voice, sticker, animation, contact = parsed
    assert voice is not None and voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    assert sticker is not None and sticker.sticker is not None and sticker.sticker.emoji == "👍"
    assert animation is not None and animation.animation is not None and animation.document
    assert contact is not None and contact.contact is not None
    assert contact.contact.user_id == alice.id

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
    photo = await bot.send_photo(alice.chat_id, TINY_PNG, caption="<i>v1</i>", parse_mode="HTML")
    assert photo.caption == "v1" and photo.photo[-1].width == 2
    edited = await bot.edit_message_caption(alice.chat_id, photo.message_id, caption="v2")
    assert not isinstance(edited, bool) and edited.caption == "v2"
    await bot.edit_message_reply_markup(alice.chat_id, photo.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(alice.chat_id, photo.message_id, reply_markup=keyboard)
    stored = tg.message(alice.chat_id, photo.message_id)
    assert stored.buttons() == [[("Again", "again")]]
    assert [v.caption for v in stored.history] == ["v1", "v2"]
    voice_back = await bot.send_voice(alice.chat_id, voice.voice.file_id, duration=3)
    assert voice_back.voice is not None and voice_back.voice.file_id == voice.voice.file_id
    location = await bot.send_location(alice.chat_id, 39.9, 116.4)
    assert location.location is not None and location.location.latitude == 39.9
