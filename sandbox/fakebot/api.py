"""The fake Telegram itself (:class:`FakeTelegram`): the state and its concerns put together,
the dispatch of one Bot API call (faults checked, the call recorded, sends counted), and
the methods that send, edit and delete messages."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.fakebot.clients import Clients
from sandbox.fakebot.faults import Faults, Garble, Injection
from sandbox.fakebot.files import StoredFile
from sandbox.fakebot.formatting import EntityParseError, _normalize_url, format_text
from sandbox.fakebot.limits import RateStats
from sandbox.fakebot.model import (
    ApiCall,
    CallbackAnswer,
    ChatEvent,
    FakeChat,
    FakeUser,
    StoredMessage,
)
from sandbox.fakebot.protocol import (
    _SEND_METHODS,
    JSON,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    Params,
    TelegramApiError,
    UploadedFile,
    _bad_request,
    _Result,
)
from sandbox.fakebot.settings import BotSettings
from sandbox.fakebot.updates import _Webhook

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class FakeTelegram(Clients, Faults, BotSettings):
    """Server-side state of a fake Telegram, plus the user-side actions of its clients.

    Args:
        bot_id, bot_username, bot_first_name: the bot's identity (``getMe``).
        token: the bot token the API accepts; default ``f"{bot_id}:<derived>"``.
        now: time source for message dates, callback answers and flood windows.
        enforce_limits: answer 429 when the bot sends more than :attr:`per_chat_limit`
            messages per second to one chat or :attr:`global_limit` per second overall.
    """

    def __init__(
        self,
        *,
        bot_id: int = 7_000_000_001,
        bot_username: str = "baoxue_test_bot",
        bot_first_name: str = "Baoxue Test Bot",
        token: str | None = None,
        now: Callable[[], float] = time.time,
        enforce_limits: bool = False,
    ) -> None:
        self.now = now
        self.bot = FakeUser(
            id=bot_id, first_name=bot_first_name, username=bot_username, is_bot=True
        )
        digest = hashlib.sha256(f"fake-telegram:{bot_id}".encode()).hexdigest()
        self.token = token or f"{bot_id}:AA{digest[:33]}"
        self.enforce_limits = enforce_limits
        self.stats = RateStats()
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackAnswer] = {}
        self.chat_actions: list[tuple[int, str, int]] = []  # (chat_id, action, date)
        self.calls: deque[ApiCall] = deque(maxlen=10_000)
        self.update_log: list[JSON] = []  # every update ever created, in order
        self.webhook = _Webhook()
        self.bot_names: dict[str, str] = {}
        self.bot_descriptions: dict[str, str] = {}
        self.bot_short_descriptions: dict[str, str] = {}
        self.logged_out = False
        self._files_by_path: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], tuple[JSON, list[JSON]]] = {}
        self._menu_buttons: dict[int | None, JSON] = {}
        self._blocked: set[int] = set()
        self._injections: list[Injection] = []
        self._garbles: list[Garble] = []
        self._pending: list[JSON] = []
        self._allowed_updates: list[str] | None = None
        self._next_update_id = 1
        self._last_fetched_update_id = 0
        self._next_user_id = 100_000_001
        self._next_file = 1
        self._next_callback = 1
        self._next_media_group = 1
        self._seq = 0
        self._events: list[ChatEvent] = []
        # told of every event as it happens (a test reads each message in the language its
        # reader had at that moment)
        self.observers: list[Callable[[ChatEvent], None]] = []
        self._waiters: set[asyncio.Future[None]] = set()
        self._poll_generation = 0
        self._last_activity = time.monotonic()
        self._methods: dict[str, tuple[str, Callable[[Params], Any]]] = {}
        for name, handler in self._method_table().items():
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- API dispatch

    async def handle(
        self,
        method: str,
        values: Mapping[str, Any] | None = None,
        files: Mapping[str, UploadedFile] | None = None,
        *,
        via: str = "http",
    ) -> tuple[int, JSON | bytes]:
        """Execute one Bot API call; returns ``(http_status, json_payload)`` (the raw body
        instead when the answer was garbled: :meth:`garble_answer`). ``via`` is recorded
        with the call (:meth:`apply_webhook_response` says "webhook response")."""
        params = Params(values or {}, files)
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        if name != "getUpdates":
            self._last_activity = time.monotonic()
        status, payload = 200, {}
        try:
            if entry is None:
                raise TelegramApiError(404, "Not Found")
            self._check_faults(name, params)
            result = entry[1](params)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, _Result):
                payload = {"ok": True, "result": result.value, "description": result.description}
            else:
                payload = {"ok": True, "result": result}
            if name in _SEND_METHODS:
                self._count_send(self._chat_id_of(params))
        except TelegramApiError as err:
            status, payload = err.error_code, err.to_json()
            if status == 429:
                self.stats.too_many_requests += 1
        self.calls.append(
            ApiCall(
                method=name,
                params=params.redacted(),
                status=status,
                description=payload.get("description"),
                at=self.now(),
                via=via,
            )
        )
        if name != "getUpdates":
            self._last_activity = time.monotonic()
        garbled = self._garbled(name, params) if status == 200 else None
        return status, (payload if garbled is None else garbled)

    async def apply_webhook_response(
        self, status: int, body: bytes, content_type: str | None
    ) -> JSON | bytes | None:
        """What Telegram does with the bot's answer to a webhook POST ("making requests
        when getting updates"): a 200 whose body is a JSON object naming a ``method`` is
        that Bot API call, made with the object's other fields; its outcome reaches no one
        (returned here for tests). Anything else in a response is ignored (None)."""
        if status != 200 or not body:
            return None
        if not (content_type or "").lower().startswith("application/json"):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("method"), str):
            return None
        params = {k: v for k, v in data.items() if k != "method"}
        return (await self.handle(data["method"], params, via="webhook response"))[1]

    def _method_table(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "getMe": self._api_get_me,
            "logOut": self._api_log_out,
            "close": self._api_close,
            "getUpdates": self._api_get_updates,
            "setWebhook": self._api_set_webhook,
            "deleteWebhook": self._api_delete_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "sendMessage": self._api_send_message,
            "editMessageText": self._api_edit_message_text,
            "editMessageCaption": self._api_edit_message_caption,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "deleteMessage": self._api_delete_message,
            "answerCallbackQuery": self._api_answer_callback_query,
            "sendPhoto": lambda p: self._api_send_media(p, "photo"),
            "sendDocument": lambda p: self._api_send_media(p, "document"),
            "sendAudio": lambda p: self._api_send_media(p, "audio"),
            "sendVideo": lambda p: self._api_send_media(p, "video"),
            "sendVoice": lambda p: self._api_send_media(p, "voice"),
            "sendAnimation": lambda p: self._api_send_media(p, "animation"),
            "sendSticker": lambda p: self._api_send_media(p, "sticker"),
            "sendVideoNote": lambda p: self._api_send_media(p, "video_note"),
            "sendMediaGroup": self._api_send_media_group,
            "sendLocation": self._api_send_location,
            "sendContact": self._api_send_contact,
            "sendChatAction": self._api_send_chat_action,
            "getFile": self._api_get_file,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "setChatMenuButton": self._api_set_chat_menu_button,
            "getChatMenuButton": self._api_get_chat_menu_button,
            "getChat": self._api_get_chat,
            "getChatMember": self._api_get_chat_member,
            "pinChatMessage": self._api_pin_chat_message,
            "unpinChatMessage": self._api_unpin_chat_message,
            "setMyName": lambda p: self._set_bot_text(p, self.bot_names, "name"),
            "getMyName": lambda p: {"name": self._get_bot_text(p, self.bot_names)},
            "setMyDescription": lambda p: self._set_bot_text(
                p, self.bot_descriptions, "description"
            ),
            "getMyDescription": lambda p: {
                "description": self._get_bot_text(p, self.bot_descriptions)
            },
            "setMyShortDescription": lambda p: self._set_bot_text(
                p, self.bot_short_descriptions, "short_description"
            ),
            "getMyShortDescription": lambda p: {
                "short_description": self._get_bot_text(p, self.bot_short_descriptions)
            },
        }

    # ---------------------------------------------------------------- API: helpers

    def _formatted(
        self, p: Params, field_name: str, entities_field: str, *, limit: int, caption: bool
    ) -> tuple[str | None, list[JSON], str | None, str | None]:
        """Returns (text, entities, parse_mode, raw_text)."""
        raw = p.get_str(field_name)
        if raw is None:
            return None, [], None, None
        parse_mode = p.get_str("parse_mode") or None
        explicit = p.get_json(entities_field, "entities")
        if explicit is not None and not (
            isinstance(explicit, list)
            and all(
                isinstance(e, Mapping) and {"type", "offset", "length"} <= set(e) for e in explicit
            )
        ):
            raise _bad_request("can't parse entities JSON object")
        try:
            text, entities = format_text(raw, parse_mode, explicit)
        except EntityParseError as err:
            raise _bad_request(f"can't parse entities: {err}") from None
        except ValueError:
            raise _bad_request(f"unsupported parse_mode {parse_mode}") from None
        if len(text) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        self._mention_users(entities)
        return text, entities, parse_mode, raw

    def _mention_users(self, entities: list[JSON]) -> None:
        for entity in entities:
            url = entity.get("url", "")
            match = (
                re.fullmatch(r"tg://user\?id=(\d+)", url) if entity["type"] == "text_link" else None
            )
            if match and int(match.group(1)) in self.users:
                entity["type"] = "text_mention"
                entity["user"] = self.users[int(match.group(1))].to_dict()
                del entity["url"]

    def _reply_markup(self, p: Params, *, inline_only: bool = False) -> JSON | None:
        markup = p.get_json("reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, Mapping):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        markup = dict(markup)
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request('field "inline_keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    _validate_inline_button(button)
            return markup
        if inline_only:
            raise _bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad_request('field "keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, Mapping) else button
                    if not isinstance(text, str) or not text:
                        raise _bad_request("keyboard button text is empty")
            placeholder = markup.get("input_field_placeholder")
            if placeholder is not None and len(str(placeholder)) > 64:
                raise _bad_request("input field placeholder is too long")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise _bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, p: Params, chat: FakeChat) -> StoredMessage | None:
        params = p.get_json("reply_parameters")
        message_id = p.get_int("reply_to_message_id")
        allow_missing = p.get_bool("allow_sending_without_reply")
        if isinstance(params, Mapping):
            message_id = int(params.get("message_id", 0)) or None
            allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise _bad_request("message to be replied not found")
        return target

    def _send(
        self,
        p: Params,
        chat: FakeChat,
        *,
        text: str | None = None,
        entities: list[JSON] | None = None,
        caption: str | None = None,
        caption_entities: list[JSON] | None = None,
        parse_mode: str | None = None,
        raw_text: str | None = None,
        media: JSON | None = None,
        media_group_id: str | None = None,
        with_markup: bool = True,
    ) -> StoredMessage:
        markup = self._reply_markup(p) if with_markup else None
        reply_to = self._reply_target(p, chat)
        return self._new_message(
            chat,
            from_bot=True,
            sender=self.bot.to_dict(),
            text=text,
            entities=entities,
            caption=caption or None,
            caption_entities=caption_entities,
            parse_mode=parse_mode,
            raw_text=raw_text,
            reply_markup=markup,
            media=media,
            reply_to=reply_to,
            media_group_id=media_group_id,
        )

    def _editable(self, p: Params) -> StoredMessage:
        if p.has("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return msg

    # ---------------------------------------------------------------- API: messages

    def _api_send_message(self, p: Params) -> JSON:
        text, entities, parse_mode, raw = self._formatted(
            p, "text", "entities", limit=MAX_TEXT_LENGTH, caption=False
        )
        if not text:
            raise _bad_request("message text is empty")
        chat = self._target_chat(p)
        msg = self._send(p, chat, text=text, entities=entities, parse_mode=parse_mode, raw_text=raw)
        return self.message_json(msg)

    def _api_edit_message_text(self, p: Params) -> JSON:
        text, entities, parse_mode, raw = self._formatted(
            p, "text", "entities", limit=MAX_TEXT_LENGTH, caption=False
        )
        if not text:
            raise _bad_request("message text is empty")
        msg = self._editable(p)
        if msg.text is None:
            raise _bad_request("there is no text in the message to edit")
        markup = self._reply_markup(p, inline_only=True)
        if text == msg.text and entities == msg.entities and markup == msg.inline_markup:
            raise _not_modified()
        msg.parse_mode, msg.raw_text = parse_mode, raw
        self._apply_edit(msg, text=text, entities=entities, reply_markup=markup)
        return self.message_json(msg)

    def _api_edit_message_caption(self, p: Params) -> JSON:
        caption, entities, parse_mode, raw = self._formatted(
            p, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, caption=True
        )
        msg = self._editable(p)
        if msg.text is not None:
            raise _bad_request("there is no caption in the message to edit")
        caption = caption or ""
        markup = self._reply_markup(p, inline_only=True)
        if (
            caption == (msg.caption or "")
            and entities == msg.caption_entities
            and markup == msg.inline_markup
        ):
            raise _not_modified()
        msg.parse_mode, msg.raw_text = parse_mode, raw
        self._apply_edit(msg, caption=caption, caption_entities=entities, reply_markup=markup)
        return self.message_json(msg)

    def _api_edit_message_reply_markup(self, p: Params) -> JSON:
        msg = self._editable(p)
        markup = self._reply_markup(p, inline_only=True)
        if markup == msg.inline_markup:
            raise _not_modified()
        self._apply_edit(msg, reply_markup=markup)
        return self.message_json(msg)

    def _api_delete_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        msg = chat.messages.get(message_id) if message_id is not None else None
        if msg is None or msg.deleted:
            raise _bad_request("message to delete not found")
        if chat.type != "private" and not msg.from_bot:
            raise _bad_request("message can't be deleted")
        msg.deleted = True
        self._record("deleted", msg)
        return True

    def _api_answer_callback_query(self, p: Params) -> bool:
        query = self.callback_queries.get(p.get_str("callback_query_id") or "")
        if query is None or query.answered:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.text = text
        query.show_alert = p.get_bool("show_alert")
        query.url = p.get_str("url")
        query.cache_time = p.get_int("cache_time")
        self._notify()
        return True

    def _api_send_media(self, p: Params, kind: str) -> JSON:
        caption, entities, parse_mode, raw = self._formatted(
            p, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, caption=True
        )
        chat = self._target_chat(p)
        stored = self._input_file(p, kind, kind)
        media = self._media_for(kind, stored, p)
        msg = self._send(
            p,
            chat,
            caption=caption,
            caption_entities=entities,
            parse_mode=parse_mode,
            raw_text=raw,
            media=media,
        )
        return self.message_json(msg)

    def _api_send_media_group(self, p: Params) -> list[JSON]:
        items = p.get_json("media")
        if not isinstance(items, list) or not 2 <= len(items) <= 10:
            raise _bad_request("media group must contain 2-10 items")
        chat = self._target_chat(p)
        group_id = str(13_000_000_000_000_000 + self._next_media_group)
        self._next_media_group += 1
        prepared: list[tuple[str, StoredFile, str | None, list[JSON], str | None, str | None]] = []
        for item in items:
            if not isinstance(item, Mapping) or item.get("type") not in (
                "photo",
                "video",
                "document",
                "audio",
            ):
                raise _bad_request("unsupported media type in the media group")
            kind = str(item["type"])
            sub = Params(
                {
                    "media": item.get("media"),
                    "caption": item.get("caption"),
                    "parse_mode": item.get("parse_mode"),
                    "caption_entities": item.get("caption_entities"),
                },
                p.files,
            )
            caption, entities, parse_mode, raw = self._formatted(
                sub, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, caption=True
            )
            prepared.append(
                (kind, self._input_file(sub, "media", kind), caption, entities, parse_mode, raw)
            )
        results: list[JSON] = []
        for kind, stored, caption, entities, parse_mode, raw in prepared:
            msg = self._send(
                p,
                chat,
                caption=caption,
                caption_entities=entities,
                parse_mode=parse_mode,
                raw_text=raw,
                media=self._media_for(kind, stored, Params({})),
                media_group_id=group_id,
                with_markup=False,
            )
            results.append(self.message_json(msg))
        return results

    def _api_send_location(self, p: Params) -> JSON:
        latitude = p.get_float("latitude")
        longitude = p.get_float("longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise _bad_request("wrong latitude specified")
        if longitude is None or not -180 <= longitude <= 180:
            raise _bad_request("wrong longitude specified")
        chat = self._target_chat(p)
        location: JSON = {"latitude": latitude, "longitude": longitude}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            value = p.get_float(key)
            if value is not None:
                location[key] = value
        msg = self._send(p, chat, media={"location": location})
        return self.message_json(msg)

    def _api_send_contact(self, p: Params) -> JSON:
        phone = p.get_str("phone_number")
        first_name = p.get_str("first_name")
        if not phone or not first_name:
            raise _bad_request("phone_number and first_name must be non-empty")
        chat = self._target_chat(p)
        contact: JSON = {"phone_number": phone, "first_name": first_name}
        if p.has("last_name"):
            contact["last_name"] = p.get_str("last_name")
        msg = self._send(p, chat, media={"contact": contact})
        return self.message_json(msg)

    def _api_send_chat_action(self, p: Params) -> bool:
        action = p.get_str("action") or ""
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        chat = self._target_chat(p)
        self.chat_actions.append((chat.id, action, self._date()))
        return True

    def _api_pin_chat_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.get_int("message_id")
        if message_id is None or message_id not in chat.messages:
            raise _bad_request("message to pin not found")
        chat.pinned_message_id = message_id
        return True

    def _api_unpin_chat_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        chat.pinned_message_id = None
        return True


def _not_modified() -> TelegramApiError:
    return _bad_request(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, Mapping) or not isinstance(button.get("text"), str):
        raise _bad_request("can't parse inline keyboard button: Text must be a String")
    actions = [
        key
        for key in (
            "callback_data",
            "url",
            "web_app",
            "login_url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "copy_text",
            "callback_game",
            "pay",
        )
        if key in button
    ]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if (
            not isinstance(data, str)
            or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise _bad_request("BUTTON_DATA_INVALID")
    if "url" in button and _normalize_url(str(button["url"])) is None:
        raise _bad_request(
            f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
        )
