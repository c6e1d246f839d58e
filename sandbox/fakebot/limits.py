"""Telegram's rate windows: the sends counted per second (overall and per chat), and, when
``enforce_limits`` is on, a 429 with ``retry_after`` past :attr:`Limits.per_chat_limit`
messages a second to one chat or :attr:`Limits.global_limit` overall."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sandbox.fakebot.protocol import TelegramApiError
from sandbox.fakebot.state import TelegramState


@dataclass
class RateStats:
    """Counts of message sends per one-second window (always counted) and of 429 answers."""

    sends_per_window: dict[int, int] = field(default_factory=dict)
    chat_sends_per_window: dict[tuple[int, int], int] = field(default_factory=dict)
    sends: int = 0
    too_many_requests: int = 0  # every 429 answered (enforced or injected)
    enforced_429s: int = 0  # 429s caused by enforce_limits
    chat_429s: int = 0  # of those, for a second message to one chat within its second
    global_429s: int = 0  # of those, for a message past the global limit (any chat)

    @property
    def max_sends_per_window(self) -> int:
        return max(self.sends_per_window.values(), default=0)

    @property
    def max_chat_sends_per_window(self) -> int:
        return max(self.chat_sends_per_window.values(), default=0)

    def reset(self) -> None:
        self.sends_per_window.clear()
        self.chat_sends_per_window.clear()
        self.sends = self.too_many_requests = self.enforced_429s = 0
        self.chat_429s = self.global_429s = 0


class Limits(TelegramState):
    """The statistics of the bot's sends, and flood-limit enforcement."""

    enforce_limits: bool
    stats: RateStats

    per_chat_limit: int = 1
    global_limit: int = 30

    def _enforce_flood_limits(self, chat_id: int | None) -> None:
        now = self.now()
        window = math.floor(now)
        retry_after = max(1, math.ceil(window + 1 - now))
        over_global = self.stats.sends_per_window.get(window, 0) >= self.global_limit
        over_chat = (
            chat_id is not None
            and self.stats.chat_sends_per_window.get((chat_id, window), 0) >= self.per_chat_limit
        )
        if over_global or over_chat:
            self.stats.enforced_429s += 1
            if over_chat:
                self.stats.chat_429s += 1
            else:
                self.stats.global_429s += 1
            raise TelegramApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def _count_send(self, chat_id: int | None) -> None:
        window = math.floor(self.now())
        self.stats.sends += 1
        self.stats.sends_per_window[window] = self.stats.sends_per_window.get(window, 0) + 1
        if chat_id is not None:
            key = (chat_id, window)
            self.stats.chat_sends_per_window[key] = self.stats.chat_sends_per_window.get(key, 0) + 1
