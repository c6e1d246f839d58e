"""The bot's identity and settings: ``getMe``, ``logOut`` / ``close``, the command menus
per scope and language (with Telegram's scope resolution for what a client shows), the menu
button, the bot's names and descriptions, and ``getChat`` / ``getChatMember``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sandbox.fakebot.protocol import JSON, Params, _bad_request, _json_copy
from sandbox.fakebot.state import TelegramState

_COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


class BotSettings(TelegramState):
    """The bot's identity, commands, menu button, names and descriptions; chat info."""

    bot_names: dict[str, str]
    bot_descriptions: dict[str, str]
    bot_short_descriptions: dict[str, str]
    logged_out: bool
    _commands: dict[tuple[str, str], tuple[JSON, list[JSON]]]
    _menu_buttons: dict[int | None, JSON]

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        """Commands set for exactly this scope and language, as ``(command, description)``."""
        entry = self._commands.get((_scope_key(scope), language_code or ""))
        return [(c["command"], c["description"]) for c in entry[1]] if entry else []

    def visible_commands(
        self, chat_id: int, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """The command menu a client shows in ``chat_id`` (Telegram's scope resolution)."""
        chat = self.chats.get(chat_id)
        if language_code is None:
            user = self.users.get(chat_id)
            language_code = (user.language_code or "") if user else ""
        lang = language_code.split("-")[0]
        scopes: list[JSON] = [{"type": "chat", "chat_id": chat_id}]
        if chat is None or chat.type == "private":
            scopes.append({"type": "all_private_chats"})
        else:
            scopes.append({"type": "all_group_chats"})
        scopes.append({"type": "default"})
        for scope in scopes:
            for code in (lang, ""):
                entry = self._commands.get((_scope_key(scope), code))
                if entry is not None:
                    return [(c["command"], c["description"]) for c in entry[1]]
        return []

    def menu_button(self, chat_id: int | None = None) -> JSON:
        return _json_copy(
            self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "default"}
        )

    # ---------------------------------------------------------------- API: the bot

    def _api_get_me(self, _: Params) -> JSON:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_log_out(self, _: Params) -> bool:
        self.logged_out = True
        return True

    def _api_close(self, _: Params) -> bool:
        return True

    # ---------------------------------------------------------------- API: commands, menu, chats

    def _command_key(self, p: Params) -> tuple[str, str, JSON]:
        scope = p.get_json("scope")
        if scope is not None and (
            not isinstance(scope, Mapping) or scope.get("type") not in _COMMAND_SCOPES
        ):
            raise _bad_request("can't parse BotCommandScope JSON object")
        if isinstance(scope, Mapping) and scope.get("type") in (
            "chat",
            "chat_administrators",
            "chat_member",
        ):
            chat_id = self._chat_id_of(Params({"chat_id": scope.get("chat_id")}))
            if chat_id is None or chat_id not in self.chats:
                raise _bad_request("chat not found")
        language = p.get_str("language_code", "") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        scope_dict = dict(scope) if isinstance(scope, Mapping) else {"type": "default"}
        return _scope_key(scope_dict), language, scope_dict

    def _api_set_my_commands(self, p: Params) -> bool:
        commands = p.get_json("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        cleaned: list[JSON] = []
        for entry in commands:
            if not isinstance(entry, Mapping):
                raise _bad_request("can't parse BotCommand JSON object")
            command = str(entry.get("command", "")).lstrip("/")
            description = str(entry.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key, language, scope = self._command_key(p)
        if cleaned:
            self._commands[(key, language)] = (scope, cleaned)
        else:
            self._commands.pop((key, language), None)
        return True

    def _api_get_my_commands(self, p: Params) -> list[JSON]:
        key, language, _ = self._command_key(p)
        entry = self._commands.get((key, language))
        return _json_copy(entry[1]) if entry else []

    def _api_delete_my_commands(self, p: Params) -> bool:
        key, language, _ = self._command_key(p)
        self._commands.pop((key, language), None)
        return True

    def _api_set_chat_menu_button(self, p: Params) -> bool:
        chat_id = None
        if p.has("chat_id"):
            chat_id = self._target_chat(p).id
        button = p.get_json("menu_button") or {"type": "default"}
        if not isinstance(button, Mapping) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad_request("can't parse MenuButton JSON object")
        self._menu_buttons[chat_id] = dict(button)
        return True

    def _api_get_chat_menu_button(self, p: Params) -> JSON:
        chat_id = self._target_chat(p).id if p.has("chat_id") else None
        return self.menu_button(chat_id)

    def _api_get_chat(self, p: Params) -> JSON:
        chat = self._target_chat(p)
        info = chat.to_dict()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": True,
                    "limited_gifts": True,
                    "unique_gifts": True,
                    "premium_subscription": True,
                    "gifts_from_channels": True,
                },
            }
        )
        if chat.pinned_message_id and chat.pinned_message_id in chat.messages:
            info["pinned_message"] = self.message_json(chat.messages[chat.pinned_message_id])
        return info

    def _api_get_chat_member(self, p: Params) -> JSON:
        chat = self._target_chat(p)
        user_id = p.get_int("user_id")
        if user_id == self.bot.id:
            return {"user": self.bot.to_dict(), "status": "member"}
        user = self.users.get(user_id) if user_id is not None else None
        if user is None:
            raise _bad_request("user not found")
        if chat.type == "private" and chat.id != user.id:
            raise _bad_request("user not found")
        return {"user": user.to_dict(), "status": "member"}

    def _set_bot_text(self, p: Params, store: dict[str, str], field_name: str) -> bool:
        language = p.get_str("language_code", "") or ""
        value = p.get_str(field_name) or ""
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    def _get_bot_text(self, p: Params, store: dict[str, str]) -> str:
        language = p.get_str("language_code", "") or ""
        return store.get(language, store.get("", ""))


def _scope_key(scope: Mapping[str, Any] | None) -> str:
    scope = scope or {"type": "default"}
    normalized: JSON = {"type": scope.get("type", "default")}
    for key in ("chat_id", "user_id"):
        if key in scope:
            value = scope[key]
            try:
                normalized[key] = int(value)
            except (TypeError, ValueError):
                normalized[key] = str(value)
    return json.dumps(normalized, sort_keys=True)
