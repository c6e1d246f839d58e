"""The update queue: updates the users' clients create wait here for ``getUpdates`` (long
polling, offsets, ``allowed_updates``, a newer poll superseding a waiting one with 409) or
are kept while a webhook is set (``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo``)."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.fakebot.protocol import (
    JSON,
    Params,
    TelegramApiError,
    _bad_request,
    _default_description,
    _json_copy,
    _Result,
)
from sandbox.fakebot.state import TelegramState

# Update types delivered when allowed_updates is not specified (or empty).
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None


class Updates(TelegramState):
    """The queue of pending updates, long polling and the webhook settings."""

    update_log: list[JSON]
    webhook: _Webhook
    _pending: list[JSON]
    _allowed_updates: list[str] | None
    _next_update_id: int
    _last_fetched_update_id: int
    _poll_generation: int

    def _push_update(self, body: JSON, *, enqueue: bool) -> JSON:
        update: JSON = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self.update_log.append(update)
        if enqueue:
            self._pending.append(update)
        self._notify()
        return update

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued for getUpdates and not yet confirmed by an offset."""
        return list(self._pending)

    async def wait_fetched(self, update_id: int, timeout: float = 5.0) -> bool:
        """Wait until getUpdates has handed out the update ``update_id``."""
        return await self.wait_until(lambda: self._last_fetched_update_id >= update_id, timeout)

    # ---------------------------------------------------------------- API: updates and webhook

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        else:
            self._pending = self._pending[offset:]

    def _deliverable(self) -> list[JSON]:
        allowed = self._allowed_updates
        kept: list[JSON] = []
        for update in self._pending:
            kind = next(k for k in update if k != "update_id")
            if (kind in allowed) if allowed else (kind not in _DEFAULT_EXCLUDED_UPDATES):
                kept.append(update)
        self._pending = kept  # Telegram drops updates of types the bot does not want
        return kept

    async def _api_get_updates(self, p: Params) -> list[JSON]:
        if self.webhook.url:
            raise TelegramApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset")
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = max(p.get_float("timeout", 0.0) or 0.0, 0.0)
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a waiting getUpdates is now superseded
        if timeout > 0 and not self._deliverable():
            await self.wait_until(
                lambda: generation != self._poll_generation or bool(self._deliverable()), timeout
            )
            if generation != self._poll_generation:
                raise TelegramApiError(409, _default_description(409, None))
        updates = self._deliverable()[:limit]
        if updates:
            self._last_fetched_update_id = max(
                self._last_fetched_update_id, updates[-1]["update_id"]
            )
            self._notify()
        return _json_copy(updates)

    def _api_set_webhook(self, p: Params) -> _Result:
        url = p.get_str("url", "") or ""
        if url and not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        allowed = p.get_json("allowed_updates")
        self.webhook = _Webhook(
            url=url,
            secret_token=p.get_str("secret_token"),
            max_connections=p.get_int("max_connections", 40) or 40,
            allowed_updates=[str(a) for a in allowed] if isinstance(allowed, list) else None,
            ip_address=p.get_str("ip_address"),
        )
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        return _Result(True, "Webhook was set" if url else "Webhook was deleted")

    def _api_delete_webhook(self, p: Params) -> _Result:
        had = bool(self.webhook.url)
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        self.webhook = _Webhook()
        return _Result(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _api_get_webhook_info(self, _: Params) -> JSON:
        info: JSON = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook.url:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
        return info
