"""Play a Telegram user against a real python-telegram-bot ``Application``, without network.

The bot runs the full PTB stack (``ExtBot`` -> ``HTTPXRequest`` -> httpx) but httpx is given an
``httpx.ASGITransport`` whose app is :func:`sandbox.fakebot.create_fake_bot_api`, so every Bot
API call is served in-process by a :class:`sandbox.fakebot.FakeTelegram`.

Builder recipe (what :func:`fake_application_builder` does)::

    import httpx
    from telegram.ext import Application
    from telegram.request import HTTPXRequest
    from sandbox.fakebot import FakeTelegram, create_fake_bot_api

    tg = FakeTelegram()
    api = create_fake_bot_api(tg)                      # ASGI app, accepts tg.token

    def request() -> HTTPXRequest:                    # one per PTB request slot
        return HTTPXRequest(httpx_kwargs={"transport": httpx.ASGITransport(app=api)})

    application = (
        Application.builder()
        .token(tg.token)
        .base_url("http://fake.telegram/bot")          # PTB appends the token
        .base_file_url("http://fake.telegram/file/bot")
        .request(request())
        .get_updates_request(request())
        .updater(None)                                 # drop this line to poll getUpdates
        .build()
    )

(``httpx_kwargs`` override PTB's client defaults, so the transport replaces the network one;
the host name is never resolved.)  Then, in a test::

    async with application:                           # initialize(): getMe via the fake
        alice = ChatUser(tg, application, first_name="Alice")
        await alice.send("/start")                     # Update -> application.process_update
        assert alice.last == "欢迎"
        await alice.tap("开始")                        # inline button by label (or substring)
        print(alice.replies, alice.taps, alice.typed)

By default :class:`ChatUser` hands each update straight to ``application.process_update`` (no
polling, no update queue), so when ``await alice.send(...)`` returns, every blocking handler has
run.  For an application that polls (``Updater``), pass ``deliver=polling_delivery(tg)`` and
``enqueue=True``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot.telegram_request import AnswerAwareRequest
from sandbox.fakebot import (
    TINY_PNG,
    CallbackAnswer,
    ChatEvent,
    FakeTelegram,
    FakeUser,
    StoredMessage,
    create_fake_bot_api,
    keyboard_rows,
)

__all__ = [
    "FAKE_BASE_FILE_URL",
    "FAKE_BASE_URL",
    "ChatUser",
    "Deliver",
    "build_application_kwargs",
    "capture_errors",
    "fake_application_builder",
    "fake_bot_request",
    "polling_delivery",
    "process_update_delivery",
    "webhook_client",
]

FAKE_API_ORIGIN = "http://fake.telegram"
FAKE_BASE_URL = f"{FAKE_API_ORIGIN}/bot"
FAKE_BASE_FILE_URL = f"{FAKE_API_ORIGIN}/file/bot"

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]

DEFAULT_LOCATION = (39.9042, 116.4074)  # Beijing


def fake_bot_request(asgi_app: Any, **request_kwargs: Any) -> HTTPXRequest:
    """A PTB ``HTTPXRequest`` whose httpx client talks to ``asgi_app`` in-process.

    ``request_kwargs`` go to ``HTTPXRequest`` (timeouts etc.; they do not apply in-process).
    """
    httpx_kwargs = dict(request_kwargs.pop("httpx_kwargs", None) or {})
    httpx_kwargs["transport"] = httpx.ASGITransport(app=asgi_app)
    # the bot's own request class, so the outbox sender sees the answers' HTTP status
    return AnswerAwareRequest(httpx_kwargs=httpx_kwargs, **request_kwargs)


def build_application_kwargs(
    state: FakeTelegram, *, token: str | None = None, asgi_app: Any | None = None
) -> dict[str, Any]:
    """``ApplicationBuilder`` method name -> argument, to point a builder at the fake::

    builder = Application.builder()
    for name, value in build_application_kwargs(tg).items():
        builder = getattr(builder, name)(value)
    """
    app = asgi_app if asgi_app is not None else create_fake_bot_api(state, token)
    return {
        "token": token or state.token,
        "base_url": FAKE_BASE_URL,
        "base_file_url": FAKE_BASE_FILE_URL,
        "request": fake_bot_request(app),
        "get_updates_request": fake_bot_request(app),
    }


def fake_application_builder(
    state: FakeTelegram,
    *,
    token: str | None = None,
    asgi_app: Any | None = None,
    updater: bool = False,
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """``Application.builder()`` wired to ``state``; add handlers' needs and ``.build()``.

    ``updater=False`` (default) builds without an ``Updater`` (updates are fed with
    ``process_update``); ``updater=True`` keeps it so ``application.updater.start_polling()``
    long-polls the fake's getUpdates.
    """
    builder = Application.builder()
    for name, value in build_application_kwargs(state, token=token, asgi_app=asgi_app).items():
        builder = getattr(builder, name)(value)
    if not updater:
        builder = builder.updater(None)
    return builder


def process_update_delivery(application: AnyApplication) -> Deliver:
    """Deliver updates by ``await application.process_update(Update.de_json(...))``."""

    async def deliver(update: dict[str, Any]) -> None:
        await application.process_update(Update.de_json(update, application.bot))

    return deliver


def webhook_client(app: Any, state: FakeTelegram, **transport: Any) -> httpx.AsyncClient:
    """An httpx client POSTing to the webhook app ``app`` in-process, as Telegram does:
    the Bot API call the app names in its response (the answer to a tap) is made on
    ``state`` (:meth:`FakeTelegram.apply_webhook_response`). ``transport``: more arguments
    of ``httpx.ASGITransport``."""

    async def as_telegram(response: httpx.Response) -> None:
        await response.aread()
        await state.apply_webhook_response(response.status_code, response.content,
                                           response.headers.get("content-type"))

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, **transport),
                             base_url="http://bot", event_hooks={"response": [as_telegram]})


def polling_delivery(state: FakeTelegram, *, quiet: float = 0.05, timeout: float = 5.0) -> Deliver:
    """For applications that poll: wait until the update was fetched and the bot went quiet.

    "Quiet" means no API call for ``quiet`` seconds -- a handler that computes for longer
    without calling the API will be seen as finished early.
    """

    async def deliver(update: dict[str, Any]) -> None:
        if not await state.wait_fetched(int(update["update_id"]), timeout):
            raise AssertionError(f"update {update['update_id']} was not fetched by getUpdates")
        await state.wait_idle(quiet, timeout)

    return deliver


def capture_errors(application: AnyApplication) -> list[BaseException]:
    """Register an error handler collecting handler exceptions (PTB only logs them otherwise)."""
    errors: list[BaseException] = []

    async def on_error(_: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    application.add_error_handler(on_error)
    return errors


class ChatUser:
    """A person chatting with the bot in a private chat, as seen through their client.

    Actions (``send``, ``tap``, ``send_photo``, ...) create the update a real client would,
    deliver it and return the bot's replies to it.  Readers look at what the user sees.

    Args:
        state: the fake server.
        application: the PTB application (needed for the default delivery).
        user: an existing :class:`FakeUser`; otherwise one is created from ``user_fields``
            (``first_name``, ``last_name``, ``username``, ``language_code``, ``phone_number``).
        deliver: how updates reach the bot (default: ``application.process_update``).
        enqueue: also queue the updates for getUpdates (default: only when ``deliver`` is
            given, since the default delivery already hands them to the bot).
    """

    def __init__(
        self,
        state: FakeTelegram,
        application: AnyApplication | None = None,
        user: FakeUser | None = None,
        *,
        deliver: Deliver | None = None,
        enqueue: bool | None = None,
        **user_fields: Any,
    ) -> None:
        if deliver is None:
            if application is None:
                raise ValueError("pass an application or a deliver coroutine")
            deliver = process_update_delivery(application)
            enqueue = bool(enqueue)
        elif enqueue is None:
            enqueue = True
        self.state = state
        self.application = application
        self.user = user if user is not None else state.add_user(**user_fields)
        self._deliver = deliver
        self._enqueue = enqueue
        self._mark = state.marker()
        self._last_query_id: str | None = None
        self.taps = 0
        self.typed = 0
        self.uploads = 0
        self.updates: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- identity

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def chat_id(self) -> int:
        return self.user.id

    @property
    def phone_number(self) -> str:
        return self.user.phone_number or f"+86138{self.user.id % 100_000_000:08d}"

    # ---------------------------------------------------------------- actions

    async def _act(self, make_update: Callable[[], dict[str, Any]]) -> list[ChatEvent]:
        self._mark = self.state.marker()
        update = make_update()
        self.updates.append(update)
        await self._deliver(update)
        return self.replies

    async def send(self, text: str) -> list[ChatEvent]:
        """Type and send ``text`` (counts as typed)."""
        self.typed += 1
        return await self._act(lambda: self.state.send_text(self.user, text, enqueue=self._enqueue))

    async def start(self, payload: str | None = None) -> list[ChatEvent]:
        """Open the bot (``t.me/bot?start=payload``) and press START (counts as a tap)."""
        self.taps += 1
        return await self._act(lambda: self.state.start(self.user, payload, enqueue=self._enqueue))

    async def tap(
        self, label: str, *, message: StoredMessage | int | None = None
    ) -> list[ChatEvent]:
        """Tap a button by visible text or callback_data (exact, else substring).

        Searches the inline keyboards of bot messages newest first (or only ``message``), then
        the reply keyboard.  Raises ``AssertionError`` listing the available buttons if nothing
        (or more than one button on the same message) matches.
        """
        candidates = self._keyboard_messages(message)
        for msg in candidates:
            button = self._match_inline(msg, label)
            if button is not None:
                return await self._press_inline(msg, button)
        if message is None:
            reply_button = self._match_reply_button(label)
            if reply_button is not None:
                return await self._press_reply_button(reply_button)
        raise AssertionError(self._no_button_message(label, candidates, message))

    async def tap_data(
        self, callback_data: str, *, message: StoredMessage | int | None = None
    ) -> list[ChatEvent]:
        """Send ``callback_data`` as a tap on ``message`` (default: the newest bot message),
        whether or not it carries such a button: what a modified client can do."""
        msg = self._resolve(message) if message is not None else self.state.last_bot_message(
            self.chat_id
        )
        if msg is None:
            raise AssertionError("no bot message to tap on")
        self.taps += 1

        def make() -> dict[str, Any]:
            update = self.state.tap(
                self.user, msg.message_id, callback_data, chat_id=msg.chat_id,
                enqueue=self._enqueue, forged=True,
            )
            self._last_query_id = update["callback_query"]["id"]
            return update

        return await self._act(make)

    async def share_contact(self) -> list[ChatEvent]:
        """Share the user's own phone number, as a request_contact button does."""
        self.taps += 1
        return await self._act(
            lambda: self.state.send_contact(
                self.user,
                self.phone_number,
                self.user.first_name,
                self.user.id,
                last_name=self.user.last_name,
                enqueue=self._enqueue,
            )
        )

    async def send_photo(
        self, data: bytes = TINY_PNG, caption: str | None = None
    ) -> list[ChatEvent]:
        self.uploads += 1
        return await self._act(
            lambda: self.state.send_photo(self.user, data, caption, enqueue=self._enqueue)
        )

    async def send_document(
        self,
        data: bytes,
        filename: str = "document.bin",
        mime: str | None = None,
        caption: str | None = None,
    ) -> list[ChatEvent]:
        self.uploads += 1
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return await self._act(
            lambda: self.state.send_document(
                self.user, data, filename, mime, caption, enqueue=self._enqueue
            )
        )

    async def send_location(
        self, latitude: float = DEFAULT_LOCATION[0], longitude: float = DEFAULT_LOCATION[1]
    ) -> list[ChatEvent]:
        self.uploads += 1
        return await self._act(
            lambda: self.state.send_location(self.user, latitude, longitude, enqueue=self._enqueue)
        )

    async def send_sticker(self, emoji: str = "👍") -> list[ChatEvent]:
        self.uploads += 1
        return await self._act(
            lambda: self.state.send_sticker(self.user, emoji, enqueue=self._enqueue)
        )

    async def send_voice(self, duration: int = 2) -> list[ChatEvent]:
        self.uploads += 1
        return await self._act(
            lambda: self.state.send_voice(self.user, duration=duration, enqueue=self._enqueue)
        )

    async def send_animation(self) -> list[ChatEvent]:
        self.uploads += 1
        return await self._act(lambda: self.state.send_animation(self.user, enqueue=self._enqueue))

    # ---------------------------------------------------------------- readers

    @property
    def replies(self) -> list[ChatEvent]:
        """Bot messages sent or edited since the last user action, in order.

        Each is a :class:`ChatEvent`: ``.text`` (as of that moment), ``.edited``,
        ``.button_labels``, ``.message`` (the live stored message).
        """
        return self.state.events_since(
            self.chat_id, self._mark, from_bot=True, kinds=("sent", "edited")
        )

    @property
    def reply_texts(self) -> list[str]:
        return [event.text for event in self.replies]

    @property
    def deleted(self) -> list[int]:
        """Ids of messages the bot deleted since the last user action."""
        return [
            e.message_id
            for e in self.state.events_since(self.chat_id, self._mark, kinds=("deleted",))
        ]

    @property
    def last_message(self) -> StoredMessage | None:
        """The bot message sent or edited most recently (and not deleted)."""
        for event in reversed(self.state.events_since(self.chat_id, 0, from_bot=True)):
            if event.kind != "deleted" and not event.message.deleted:
                return event.message
        return None

    @property
    def last(self) -> str | None:
        """Current text (or caption) of :attr:`last_message`."""
        msg = self.last_message
        return msg.content if msg is not None else None

    @property
    def messages(self) -> list[StoredMessage]:
        """The whole visible chat, both sides."""
        return self.state.messages(self.chat_id)

    @property
    def callback_answer(self) -> CallbackAnswer | None:
        """The bot's answer to the latest inline tap (``None`` if none or not answered)."""
        if self._last_query_id is None:
            return None
        answer = self.state.callback_answer(self._last_query_id)
        return answer if answer is not None and answer.answered else None

    def keyboard_message(self) -> StoredMessage | None:
        """The newest bot message that has an inline keyboard."""
        found = self._keyboard_messages(None)
        return found[0] if found else None

    def buttons(self, message: StoredMessage | int | None = None) -> list[str]:
        """Inline button labels of ``message`` or of the newest message with a keyboard."""
        return [label for row in self.button_rows(message) for label in row]

    def button_rows(self, message: StoredMessage | int | None = None) -> list[list[str]]:
        msg = self._resolve(message) if message is not None else self.keyboard_message()
        return [[text for text, _ in row] for row in msg.buttons()] if msg else []

    def keyboard(self) -> list[str]:
        """Labels of the reply keyboard the client shows now (empty if none)."""
        return [label for row in self.keyboard_rows() for label in row]

    def keyboard_rows(self) -> list[list[str]]:
        return [
            [button["text"] for button in row]
            for row in keyboard_rows(self.state.reply_keyboard(self.chat_id))
        ]

    # ---------------------------------------------------------------- internals

    def _resolve(self, message: StoredMessage | int) -> StoredMessage:
        if isinstance(message, StoredMessage):
            return message
        return self.state.message(self.chat_id, message)

    def _keyboard_messages(self, message: StoredMessage | int | None) -> list[StoredMessage]:
        if message is not None:
            return [self._resolve(message)]
        return [m for m in reversed(self.state.bot_messages(self.chat_id)) if m.inline_markup]

    @staticmethod
    def _match_inline(msg: StoredMessage, label: str) -> dict[str, Any] | None:
        buttons = msg.inline_buttons()
        exact = [b for b in buttons if b.get("text") == label or b.get("callback_data") == label]
        if exact:
            return exact[0]
        partial = [b for b in buttons if label in str(b.get("text", ""))]
        if len(partial) > 1:
            raise AssertionError(
                f"{label!r} matches several buttons on message {msg.message_id}: "
                f"{[b['text'] for b in partial]}"
            )
        return partial[0] if partial else None

    async def _press_inline(self, msg: StoredMessage, button: dict[str, Any]) -> list[ChatEvent]:
        if "callback_data" not in button:
            kind = next((k for k in button if k != "text"), "?")
            raise AssertionError(
                f"button {button['text']!r} is a {kind} button ({button.get(kind)!r}); "
                "tapping it sends nothing to the bot"
            )
        self.taps += 1

        def make() -> dict[str, Any]:
            update = self.state.tap(
                self.user,
                msg.message_id,
                button["callback_data"],
                chat_id=msg.chat_id,
                enqueue=self._enqueue,
            )
            self._last_query_id = update["callback_query"]["id"]
            return update

        return await self._act(make)

    def _match_reply_button(self, label: str) -> dict[str, Any] | None:
        buttons = [b for row in keyboard_rows(self.state.reply_keyboard(self.chat_id)) for b in row]
        exact = [b for b in buttons if b["text"] == label]
        if exact:
            return exact[0]
        partial = [b for b in buttons if label in b["text"]]
        if len(partial) > 1:
            raise AssertionError(
                f"{label!r} matches several reply keyboard buttons: {[b['text'] for b in partial]}"
            )
        return partial[0] if partial else None

    async def _press_reply_button(self, button: dict[str, Any]) -> list[ChatEvent]:
        if button.get("request_contact"):
            return await self.share_contact()
        self.taps += 1
        if button.get("request_location"):
            lat, lon = DEFAULT_LOCATION
            return await self._act(
                lambda: self.state.send_location(self.user, lat, lon, enqueue=self._enqueue)
            )
        unsupported = {"request_users", "request_chat", "request_poll", "web_app"} & set(button)
        if unsupported:
            raise AssertionError(f"button {button['text']!r} uses unsupported {unsupported}")
        return await self._act(
            lambda: self.state.send_text(self.user, button["text"], enqueue=self._enqueue)
        )

    def _no_button_message(
        self, label: str, candidates: list[StoredMessage], message: StoredMessage | int | None
    ) -> str:
        lines = [f"no button matches {label!r}."]
        shown = candidates if message is not None else candidates[:1]
        for msg in shown:
            lines.append(f"inline buttons on message {msg.message_id}: {msg.buttons()}")
        if not shown:
            lines.append("no bot message has an inline keyboard.")
        if message is None:
            lines.append(f"reply keyboard: {self.keyboard_rows()}")
        lines.append(f"last bot message: {self.last!r}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ChatUser(id={self.user.id}, name={self.user.full_name!r})"
