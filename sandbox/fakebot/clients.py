"""The users' side: what a real client does when its user types, taps a button, sends a
photo, a document, a location, a contact, a voice message, a sticker or a GIF, or blocks
the bot. Each action creates the update Telegram would and (unless ``enqueue=False``)
queues it for ``getUpdates``."""

from __future__ import annotations

import mimetypes

from sandbox.fakebot.files import _FAKE_MP4, _FAKE_OGG, _FAKE_WEBP, TINY_PNG, Files
from sandbox.fakebot.formatting import format_text
from sandbox.fakebot.model import CallbackAnswer, FakeChat, FakeUser
from sandbox.fakebot.protocol import JSON
from sandbox.fakebot.updates import Updates


class Clients(Updates, Files):
    """User-side actions, each returning the update it created."""

    _next_callback: int

    def block(self, user_id: int, *, enqueue: bool = True) -> JSON:
        """The user blocks the bot: sends to them answer 403; returns the my_chat_member update."""
        self._blocked.add(user_id)
        return self._member_update(user_id, "member", "kicked", enqueue=enqueue)

    def unblock(self, user_id: int, *, enqueue: bool = True) -> JSON:
        """The user unblocks (restarts) the bot; returns the my_chat_member update."""
        self._blocked.discard(user_id)
        return self._member_update(user_id, "kicked", "member", enqueue=enqueue)

    def is_blocked(self, user_id: int) -> bool:
        return user_id in self._blocked

    def _member_update(self, user_id: int, old: str, new: str, *, enqueue: bool) -> JSON:
        user = self.users.get(user_id) or self.add_user(user_id=user_id)
        chat = self.private_chat(user)

        def member(status: str) -> JSON:
            data: JSON = {"user": self.bot.to_dict(), "status": status}
            if status == "kicked":
                data["until_date"] = 0
            return data

        return self._push_update(
            {
                "my_chat_member": {
                    "chat": chat.to_dict(),
                    "from": user.to_dict(),
                    "date": self._date(),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            },
            enqueue=enqueue,
        )

    # ---------------------------------------------------------------- user-side actions

    def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat,
        *,
        text: str | None = None,
        caption: str | None = None,
        media: JSON | None = None,
        reply_to_message_id: int | None = None,
        enqueue: bool,
    ) -> JSON:
        self._register(user)
        if reply_to_message_id is None and chat.force_reply_to is not None:
            reply_to_message_id = chat.force_reply_to  # the client quotes the ForceReply message
        chat.force_reply_to = None
        reply_to = chat.messages.get(reply_to_message_id) if reply_to_message_id else None
        entities: list[JSON] = []
        caption_entities: list[JSON] = []
        if text is not None:
            text, entities = format_text(text)
            if not text:
                raise ValueError("a message must not be empty")
        if caption is not None:
            caption, caption_entities = format_text(caption)
        msg = self._new_message(
            chat,
            from_bot=False,
            sender=user.to_dict(),
            text=text,
            entities=entities,
            caption=caption or None,
            caption_entities=caption_entities,
            media=media or {},
            reply_to=reply_to,
        )
        return self._push_update({"message": self.message_json(msg)}, enqueue=enqueue)

    def send_text(
        self,
        user: FakeUser,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        enqueue: bool = True,
    ) -> JSON:
        """The user types ``text`` in the private chat (``/start CODE`` for deep links)."""
        return self._user_message(
            user,
            self.private_chat(user),
            text=text,
            reply_to_message_id=reply_to_message_id,
            enqueue=enqueue,
        )

    def start(self, user: FakeUser, payload: str | None = None, *, enqueue: bool = True) -> JSON:
        """The user opens ``t.me/<bot>?start=<payload>`` and presses START."""
        return self.send_text(user, f"/start {payload}" if payload else "/start", enqueue=enqueue)

    def send_text_in_group(
        self, user: FakeUser, group_chat_id: int, text: str, *, enqueue: bool = True
    ) -> JSON:
        """The user writes ``text`` in a group the bot is a member of (created if unknown)."""
        return self._user_message(user, self._group(group_chat_id), text=text, enqueue=enqueue)

    def edit_text(
        self, user: FakeUser, message_id: int, text: str, *, enqueue: bool = True
    ) -> JSON:
        """The user edits one of their messages: an ``edited_message`` update."""
        chat = self.private_chat(user)
        msg = chat.messages[message_id]
        if msg.from_bot or msg.text is None:
            raise ValueError("a user can only edit their own text messages")
        new_text, entities = format_text(text)
        self._apply_edit(msg, text=new_text, entities=entities, reply_markup=msg.reply_markup)
        return self._push_update({"edited_message": self.message_json(msg)}, enqueue=enqueue)

    def tap(
        self,
        user: FakeUser,
        message_id: int,
        callback_data: str,
        *,
        chat_id: int | None = None,
        enqueue: bool = True,
        forged: bool = False,
    ) -> JSON:
        """The user taps the inline button with ``callback_data`` on a bot message.

        Raises ``LookupError`` if the message has no such button (a client cannot tap it),
        unless ``forged``: a modified client (or a replayed request) can send any data.
        """
        self._register(user)
        chat = self.chats.get(chat_id if chat_id is not None else user.id)
        msg = chat.messages.get(message_id) if chat else None
        if chat is None or msg is None or msg.deleted:
            raise LookupError(f"message {message_id} not found in chat {chat_id or user.id}")
        if not forged and not any(
            b.get("callback_data") == callback_data for b in msg.inline_buttons()
        ):
            raise LookupError(
                f"message {message_id} has no button with callback_data {callback_data!r}; "
                f"buttons: {msg.buttons()}"
            )
        query_id = str(4_300_000_000_000_000 + self._next_callback)
        self._next_callback += 1
        self.callback_queries[query_id] = CallbackAnswer(
            query_id=query_id,
            user_id=user.id,
            chat_id=chat.id,
            message_id=message_id,
            data=callback_data,
        )
        chat_instance = str((chat.id * 2_654_435_761 + self.bot.id) % 10**19)
        return self._push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "message": self.message_json(msg),
                    "chat_instance": chat_instance,
                    "data": callback_data,
                }
            },
            enqueue=enqueue,
        )

    def send_photo(
        self,
        user: FakeUser,
        data: bytes = TINY_PNG,
        caption: str | None = None,
        *,
        enqueue: bool = True,
    ) -> JSON:
        """The user sends a photo (stored; the update carries a PhotoSize array)."""
        stored = self._store_file(data, kind="photo", mime_type="image/jpeg")
        return self._user_message(
            user,
            self.private_chat(user),
            caption=caption,
            media={"photo": self._photo_sizes(stored)},
            enqueue=enqueue,
        )

    def send_document(
        self,
        user: FakeUser,
        data: bytes,
        filename: str = "document.bin",
        mime: str | None = None,
        caption: str | None = None,
        *,
        enqueue: bool = True,
    ) -> JSON:
        """The user sends a file as a document."""
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._store_file(data, kind="document", file_name=filename, mime_type=mime)
        return self._user_message(
            user,
            self.private_chat(user),
            caption=caption,
            media={"document": self._media_object("document", stored)},
            enqueue=enqueue,
        )

    def send_location(
        self, user: FakeUser, latitude: float, longitude: float, *, enqueue: bool = True
    ) -> JSON:
        """The user shares a location (attachment menu or a request_location button)."""
        return self._user_message(
            user,
            self.private_chat(user),
            media={"location": {"latitude": float(latitude), "longitude": float(longitude)}},
            enqueue=enqueue,
        )

    def send_contact(
        self,
        user: FakeUser,
        phone_number: str,
        first_name: str,
        user_id: int | None = None,
        *,
        last_name: str | None = None,
        enqueue: bool = True,
    ) -> JSON:
        """The user shares a contact (their own, via request_contact, has ``user_id=user.id``)."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return self._user_message(
            user, self.private_chat(user), media={"contact": contact}, enqueue=enqueue
        )

    def send_voice(
        self,
        user: FakeUser,
        data: bytes = _FAKE_OGG,
        duration: int = 2,
        *,
        enqueue: bool = True,
    ) -> JSON:
        """The user records a voice message."""
        stored = self._store_file(data, kind="voice", mime_type="audio/ogg")
        voice = self._media_object("voice", stored, duration=duration)
        return self._user_message(
            user, self.private_chat(user), media={"voice": voice}, enqueue=enqueue
        )

    def send_sticker(self, user: FakeUser, emoji: str = "👍", *, enqueue: bool = True) -> JSON:
        """The user sends a sticker."""
        stored = self._store_file(_FAKE_WEBP, kind="sticker", mime_type="image/webp")
        sticker = self._media_object("sticker", stored, emoji=emoji)
        return self._user_message(
            user, self.private_chat(user), media={"sticker": sticker}, enqueue=enqueue
        )

    def send_animation(
        self, user: FakeUser, data: bytes = _FAKE_MP4, *, enqueue: bool = True
    ) -> JSON:
        """The user sends a GIF (an ``animation`` message also carries ``document``)."""
        stored = self._store_file(
            data, kind="animation", file_name="animation.mp4", mime_type="video/mp4"
        )
        animation = self._media_object("animation", stored)
        document = self._media_object("document", stored)
        return self._user_message(
            user,
            self.private_chat(user),
            media={"animation": animation, "document": document},
            enqueue=enqueue,
        )
