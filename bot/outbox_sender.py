"""The outbox sender: the only thing that pushes messages the user did not just ask for.

Casework writes outbox rows in the same transaction as the change that implies them; this
module delivers them, rendered in the recipient's language at send time.

What it guarantees, and why:

- **Order.** Each recipient's messages go out oldest first, one at a time. A message that
  waits for a retry holds back the ones queued after it for the same person, so a reminder
  never overtakes the alert it refers to.
- **Pace, under Telegram's limits.** At most one message per second to a chat, 20 a minute
  to a group chat, and a global rate (``Limits.per_second``, default 25, refused above 30)
  in any one-second span. A message counts against the rate from the moment it starts
  until one second after Telegram's answer, so wherever in between Telegram counted it,
  none of Telegram's one-second windows sees more than the limit, even with several
  requests in flight.
- **429 Too Many Requests.** The chat that got it waits ``retry_after`` (its row's
  ``not_before`` moves and the chat is held) while the other chats keep going. When several
  chats get one within a second the bot as a whole is over the limit, and everyone waits.
  (PTB's AIORateLimiter pauses everything on any 429.)
- **403 Forbidden** (the user blocked the bot). The user is flagged unreachable, their
  pending messages fail (reminders stop; ``casework.notices`` queues no new ones) and their
  supervisor (:func:`casework.people.supervisor_of`) is told through the outbox, in the
  supervisor's language.
- **Other errors** are retried with exponential backoff (``attempts``, ``not_before``); after
  ``RetryPolicy.max_attempts`` the row is dead-lettered (status ``dead``) for an operator:
  ``baoxue outbox list --failed`` and ``baoxue outbox retry``. A 400 Bad Request (the
  message itself is wrong) and a message that cannot be rendered are dead at once: sending
  them again cannot help.
- **Sent, answer unreadable.** Telegram answered HTTP 2xx (it took the message) but PTB
  could not read the answer (not JSON, a ``result`` that is not a message): the row is
  sent, with a warning; a retry would deliver it twice. Only a request with no 2xx answer
  (a connection error, a 5xx, a 4xx) counts as not sent. The HTTP status is seen through
  an ``AnswerAware`` request (``bot.telegram_request``), which ``bot.app`` builds the bot with.
- **Nothing lost, at most one repeated.** Each row is marked sent in its own short
  transaction right after Telegram accepts it (a photo with a long text is several
  Telegram messages; each part is recorded the same way). A crash between Telegram's answer
  and that commit makes the restarted sender send that one message again: the bound is one
  repeat per row, for the few rows in flight at the crash (``Limits.max_in_flight``), and
  no message is ever lost.

Any number of processes may run :func:`run_forever` on one database (each ``baoxue
sender``, the sender of ``baoxue run``), all sending at once: before each message a sender
claims the row, the chat's turn and a token of the shared rate in one transaction
(:mod:`bot.outbox_claims`), so each row goes out once, in its chat's order, at one message a
second per chat (20 a minute to a group) and ``OUTBOX_RATE`` for all senders together, and a
429's ``retry_after`` holds the chat (or, from several chats at once, everyone) for every
sender. A sender that dies holding a claim keeps the row and its chat for the claim's
lease (60 s); then another sender takes it, which may repeat that one message (the crash
bound above). Rows marked ``urgent`` (a turn's reply whose direct send failed,
``handlers.turns``) are looked for every second and go before the others.
Time is injected (:class:`Timer`): production sleeps for real;
tests use :class:`ClockTimer`, whose sleeping moves the ``FrozenClock`` that the fake Bot API
also reads, so pacing is checked without waiting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import heapq
import logging
import math
import random
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot import outbox_claims, telegram_request
from bot.services import Services
from casework import invites
from casework.clock import Clock, FrozenClock, from_db, to_db
from casework.i18n import _
from casework.labels import person_role
from casework.outbox import enqueue, text_from_json
from casework.people import supervisor_of
from casework.uow import unit_of_work
from casework.urgent import KIND as REPLY_KIND
from documents.attachments import render_attachment
from models.tables import OutboxChat, OutboxMessage, User

log = logging.getLogger(__name__)

_T = TypeVar("_T")
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
MAX_GLOBAL_RATE = 30  # Telegram: about 30 messages per second for a bot, all chats together
CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
UNREACHABLE_KIND = "recipient_unreachable"


# --- configuration ----------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Telegram's broadcast limits, as this sender keeps them."""

    per_second: float = 25.0  # all chats together; headroom under Telegram's 30
    chat_interval: float = 1.0  # seconds between two messages to one chat
    group_per_minute: int = 20
    max_in_flight: int = 8  # requests awaiting Telegram's answer at once (latency hiding)

    def __post_init__(self) -> None:
        if not 0 < self.per_second <= MAX_GLOBAL_RATE:
            raise ValueError(
                f"outbox rate {self.per_second}/s refused: Telegram allows a bot at most "
                f"{MAX_GLOBAL_RATE} messages per second"
            )
        if self.chat_interval < 1.0:
            raise ValueError("Telegram allows at most one message per second to a chat")
        if not 0 < self.group_per_minute <= 20:
            raise ValueError("Telegram allows at most 20 messages per minute to a group")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for errors that may pass (network, 5xx), then the dead letters."""

    max_attempts: int = 6
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, failures: int) -> timedelta:
        """Wait after the ``failures``-th failed attempt: base, 2×base, 4×base, … ≤ cap."""
        delay: timedelta = self.base * (2 ** max(0, failures - 1))
        return min(self.cap, delay)


# --- time ---------------------------------------------------------------------------------


class Timer(Protocol):
    """The sender's sense of time for pacing, in seconds."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealTimer:
    """Monotonic time and real sleeping: the bot process."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ClockTimer:
    """Time that passes only when the sender waits: sleeping moves the frozen clock.

    Tests share that clock with the fake Bot API, so the fake's one-second windows see the
    pacing exactly as Telegram would, with no real waiting.
    """

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:  # whole microseconds (a datetime's), rounded up so time always moves
            self.clock.advance(timedelta(microseconds=math.ceil(seconds * 1e6)))
        await asyncio.sleep(0)  # let requests in flight make progress


def timer_for(clock: Clock) -> Timer:
    """A frozen clock (tests) gets virtual time; anything else sleeps for real."""
    return ClockTimer(clock) if isinstance(clock, FrozenClock) else RealTimer()


# --- pacing -------------------------------------------------------------------------------


class Pacer:
    """When the next message may start, under :class:`Limits` (times in Timer seconds).

    A message occupies its slot from :meth:`begin` until one second after :meth:`end` (the
    answer): Telegram counted it somewhere in between, so a new message is allowed only
    while fewer than the limit are in flight or answered within the last second.
    """

    def __init__(self, limits: Limits, *, even_spacing: bool = True) -> None:
        self.limits = limits
        # Spacing its own starts, the sender also caps them at its rate. When the shared
        # bucket (bot.outbox_claims) spaces the starts at the rate instead, this cap only
        # keeps Telegram's own limit: at the configured rate it would count each message's
        # wait for its slot and its round trip against the rate, and fall short of it.
        self._cap = max(1, math.floor(limits.per_second if even_spacing else MAX_GLOBAL_RATE))
        self._spacing = 1.0 / limits.per_second  # spread a burst evenly over the second
        self._answered: deque[float] = deque()  # answer times of the last second, in order
        self._busy: dict[int, int] = {}  # chat -> requests in flight
        self._in_flight = 0
        self._next_start = -math.inf  # the even spacing's next slot
        # off when the shared bucket (bot.outbox_claims) gives the start times instead
        self._even_spacing = even_spacing
        self._chat_free: dict[int, float] = {}  # chat -> earliest next start
        self._group_answers: dict[int, deque[float]] = {}
        self._all_held_until = -math.inf

    def chat_ready(self, chat: int, now: float) -> float:
        """Earliest start for ``chat`` by its own limits (one a second, 20 a minute for groups)."""
        at = max(now, self._chat_free.get(chat, -math.inf))
        answers = self._group_answers.get(chat)
        if answers is not None:
            while answers and answers[0] <= now - 60:
                answers.popleft()
            if len(answers) >= self.limits.group_per_minute:
                at = max(at, answers[-self.limits.group_per_minute] + 60)
        return at

    def free_at(self, chat: int, now: float) -> float:
        """Earliest start for a message to ``chat``; ``inf`` while only an answer still in
        flight can free the slot."""
        if self._busy.get(chat):
            return math.inf
        at = max(self.chat_ready(chat, now), self._all_held_until, self._next_start)
        while self._answered and self._answered[0] <= now - 1.0:
            self._answered.popleft()
        excess = self._in_flight + len(self._answered) - self._cap + 1
        if excess > 0:
            if excess > len(self._answered):
                return math.inf
            at = max(at, self._answered[excess - 1] + 1.0)
        return at

    def begin(self, chat: int, now: float) -> None:
        self._busy[chat] = self._busy.get(chat, 0) + 1
        self._in_flight += 1
        # slots on a grid, so waking a little late does not slow the whole rate down
        if self._even_spacing:
            self._next_start = max(self._next_start, now - self._spacing) + self._spacing

    def end(self, chat: int, now: float, *, reached_telegram: bool = True) -> None:
        """The answer came (or nothing was sent, ``reached_telegram=False``)."""
        left = self._busy.get(chat, 1) - 1
        if left:
            self._busy[chat] = left
        else:
            self._busy.pop(chat, None)
        self._in_flight -= 1
        if not reached_telegram:
            return
        self._answered.append(now)
        self.hold(chat, now + self.limits.chat_interval)
        if chat < 0:  # groups and channels have negative ids
            self._group_answers.setdefault(chat, deque()).append(now)

    def hold(self, chat: int, until: float) -> None:
        self._chat_free[chat] = max(self._chat_free.get(chat, -math.inf), until)

    def hold_all(self, until: float) -> None:
        self._all_held_until = max(self._all_held_until, until)

    def forget_before(self, now: float) -> None:
        """Drop per-chat entries that no longer restrict anything (bounded memory)."""
        for chat in [c for c, t in self._chat_free.items() if t <= now]:
            del self._chat_free[chat]
        for chat in [c for c, a in self._group_answers.items() if not a or a[-1] <= now - 60]:
            del self._group_answers[chat]


# --- rendering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One Telegram message of an outbox row: a photo (with caption), a text, or a file
    (``attachment``: a spec rendered only when this part is sent, see :meth:`OutboxSender._attach`)."""

    text: str
    photo: bytes | None = None
    markup: ReplyMarkup | None = None
    html: bool = False
    attachment: dict[str, Any] | None = None
    document: tuple[str, bytes] | None = None  # (file name, bytes), once rendered
    file: tuple[str, str] | None = None  # ("photo" or "document", a Telegram file id)


def render(payload: dict[str, Any], lang: str) -> tuple[str, ReplyMarkup | None]:
    """The row's text and buttons in ``lang`` (a turn's reply, ``literal``, was rendered in
    the user's language when the turn ran: ``casework.urgent``)."""
    if "literal" in payload:
        keyboard = payload.get("literal_keyboard")
        if keyboard is not None:  # a reply keyboard or its removal, as the Bot API reads it
            return str(payload["literal"]), _keyboard(keyboard)
        literal = [[InlineKeyboardButton(b["text"], callback_data=b["data"]) for b in row]
                   for row in payload.get("literal_buttons", [])]
        return str(payload["literal"]), (InlineKeyboardMarkup(literal) if literal else None)
    lines = [text_from_json(payload["text"]).render(lang)]
    lines += [f"• {text_from_json(line).render(lang)}" for line in payload.get("lines", [])]
    rows = [
        [
            InlineKeyboardButton(text_from_json(b["text"]).render(lang), callback_data=b["data"])
            for b in row
        ]
        for row in payload.get("buttons", [])
    ]
    return "\n".join(lines), (InlineKeyboardMarkup(rows) if rows else None)


def _keyboard(data: dict[str, Any]) -> ReplyMarkup:
    if "keyboard" in data:
        return ReplyKeyboardMarkup.de_json(data, None)
    if "remove_keyboard" in data:
        return ReplyKeyboardRemove.de_json(data, None)
    return InlineKeyboardMarkup.de_json(data, None)


def split_text(text: str, first: int, rest: int) -> list[str]:
    """Cut ``text`` at line ends into a chunk of ≤ ``first`` chars, then chunks of ≤ ``rest``.

    A single line too long for a chunk is cut inside the line.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        limit = first if not chunks else rest
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
            limit = rest
        while len(line) > limit:
            chunks.append(line[:limit])
            line = line[limit:]
            limit = rest
        current = line
    if current or not chunks:
        chunks.append(current)
    return chunks


def render_parts(payload: dict[str, Any], lang: str) -> list[Part]:
    """The Telegram messages a row becomes, buttons on the last one.

    With ``photo_b64`` (a digest's chart) the photo goes first, captioned with as much of the
    text as fits in a caption (1024 characters); the rest follows as text messages.
    ``attachments`` (``documents.attachments``) follow the text as files, one part each: the
    buttons stay on the text, which is what the reader answers.
    """
    text, markup = render(payload, lang)
    if "literal_file" in payload:  # a turn's reply: a file Telegram holds, by its id
        spec = payload["literal_file"]
        return [Part(text, markup=markup, file=(str(spec["kind"]), str(spec["id"])))]
    if "literal_document" in payload:  # a turn's reply: a file made for it
        spec = payload["literal_document"]
        return [Part(text, markup=markup, document=(str(spec["name"]), base64.b64decode(spec["b64"])))]
    photo_b64 = payload.get("photo_b64")
    if photo_b64:
        chunks = split_text(text, CAPTION_LIMIT, TEXT_LIMIT)
        parts = [Part(chunks[0], base64.b64decode(photo_b64))]
        parts += [Part(chunk) for chunk in chunks[1:] if chunk]
    else:
        parts = [Part(chunk) for chunk in split_text(text, TEXT_LIMIT, TEXT_LIMIT)]
    last = parts[-1]
    parts[-1] = Part(last.text, last.photo, markup)
    if payload.get("html"):
        parts = [Part(p.text, p.photo, p.markup, html=True) for p in parts]
    parts += [Part("", attachment=dict(spec)) for spec in payload.get("attachments", [])]
    return parts


def retry_after_seconds(err: RetryAfter) -> float:
    """``retry_after`` in seconds; PTB 22 gives an int or a timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        delay = err.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


# --- the sender ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """What one delivery needs, read in a short transaction before sending."""

    part: Part
    index: int
    last: bool


class OutboxSender:
    """Delivers the outbox through ``bot``: :meth:`drain` once, or :meth:`run_forever`.

    Keep one instance for the life of the process so the pacing carries over between runs.
    """

    def __init__(
        self,
        bot: Any,
        services: Services,
        *,
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        timer: Timer | None = None,
        batch: int = 1000,
        refresh_every: float = 1.0,
        idle_poll: float = 1.0,
    ) -> None:
        self.bot = bot
        self.services = services
        if not isinstance(getattr(bot, "request", None), telegram_request.AnswerAware):
            # then a message Telegram accepted but answered unreadably may be sent again
            log.warning("outbox: the bot's request is not AnswerAware; an accepted "
                        "message whose answer cannot be read is treated as not sent")
        self.limits = limits or Limits()
        self.retry = retry or RetryPolicy()
        self.timer = timer or timer_for(services.clock)
        # In real time the start times come from the shared bucket, reserved up to half a
        # second ahead; the pacer keeps in-flight and per-chat limits. On virtual time
        # (ClockTimer: time passes only while the sender sleeps, and two tasks sleeping at
        # once would each move it) the sender spaces its own starts and takes a slot only
        # when it is due.
        virtual = isinstance(self.timer, ClockTimer)
        self.pacer = Pacer(self.limits, even_spacing=virtual)
        # what this sender shares with the others through the database (bot.outbox_claims)
        self.holder = outbox_claims.holder_name()
        # oldest first, but each sender in its own order within blocks of 256 rows (the ids
        # XOR a salt of 8 bits): two senders rarely go for the same row at the same moment
        self._salt = 0 if virtual else random.Random(self.holder).randrange(256)
        self.pace = outbox_claims.Pace(rate=self.limits.per_second,
                                       chat_interval=self.limits.chat_interval,
                                       group_per_minute=self.limits.group_per_minute,
                                       horizon=timedelta(0) if virtual else timedelta(seconds=0.5))
        self.batch = batch
        self.refresh_every = refresh_every
        self.idle_poll = idle_poll
        self.sent = 0  # rows delivered completely, over the sender's life
        self.telegram_messages = 0  # Telegram messages accepted (a row may be several)
        self.rate_limited = 0  # 429 answers received
        self.missed_slots = 0  # slots given up: the sender woke too long after them
        # each recipient's oldest due row, at most one: waiting for its chat to be free
        # (ready_at, rank, row id, recipient id, chat), then ready, urgent rows (rank 0: a
        # turn's reply that could not be sent directly) first, then oldest first
        self._waiting: list[tuple[float, int, int, int, int]] = []
        self._ready: list[tuple[int, int, int, int]] = []
        self._known: set[int] = set()  # recipients in the heap or in flight
        self._dirty = True
        self._next_refill = -math.inf
        self._next_urgent = -math.inf
        self._recent_429s: deque[tuple[float, int]] = deque()

    # ---------------------------------------------------------------- running

    async def drain(self, *, budget: float | None = None) -> int:
        """Send what is due, paced; return how many rows were delivered.

        Without ``budget`` it returns once nothing due is left (a row that becomes due later,
        after a 429 or a backoff, waits for the next run). With ``budget`` seconds it keeps
        going, waiting for rows that come due, until the budget is spent (JobQueue-friendly).
        """
        until = None if budget is None else self.timer.now() + budget
        return await self._run(until=until, stop=None, linger=budget is not None)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; a failed round (database down…) is logged and retried.
        Other senders may run at the same time: see :mod:`bot.outbox_claims`."""
        while not stop.is_set():
            try:
                await self._run(until=None, stop=stop, linger=True)
            except Exception:
                log.exception("outbox sender round failed; retrying")
                self._forget_queue()
                await self._idle(stop, 5.0)

    def _forget_queue(self) -> None:
        self._waiting.clear()
        self._ready.clear()
        self._known.clear()
        self._dirty = True

    async def _idle(self, stop: asyncio.Event | None, seconds: float) -> None:
        if stop is None or isinstance(self.timer, ClockTimer):
            await self.timer.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    async def _run(self, *, until: float | None, stop: asyncio.Event | None, linger: bool) -> int:
        sent_before = self.sent
        tasks: set[asyncio.Task[None]] = set()
        self._dirty = True
        try:
            while stop is None or not stop.is_set():
                now = self.timer.now()
                if until is not None and now >= until:
                    break
                queued = self._ready or self._waiting
                if (self._dirty and not queued) or now >= self._next_refill:
                    self._refill(now)
                if now >= self._next_urgent:
                    self._refill(now, urgent_only=True)
                while self._waiting and self._waiting[0][0] <= now:
                    _at, rank, row_id, recipient_id, chat = heapq.heappop(self._waiting)
                    heapq.heappush(self._ready, (rank, row_id ^ self._salt, recipient_id, chat))
                if self._ready or self._waiting:
                    if self._ready:
                        rank, row_id, recipient_id, chat = self._ready[0]
                        row_id ^= self._salt
                        at = self.pacer.free_at(chat, now)
                    else:
                        at = self._waiting[0][0]
                    if self._ready and at <= now and len(tasks) < self.limits.max_in_flight:
                        heapq.heappop(self._ready)
                        self.pacer.begin(chat, now)
                        task = asyncio.create_task(self._deliver(row_id, recipient_id, chat, rank))
                        tasks.add(task)
                        task.add_done_callback(functools.partial(_finished, tasks))
                        continue
                    if tasks and (math.isinf(at) or len(tasks) >= self.limits.max_in_flight):
                        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                        continue
                    wake = min(at, self._next_refill, self._next_urgent)
                    if until is not None:
                        wake = min(wake, until)
                    await self.timer.sleep(wake - now if math.isfinite(wake) else 0.05)
                    continue
                if tasks:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                if self._dirty:
                    continue  # something finished since the last look: look again
                if not linger:
                    break
                wait = self.idle_poll if until is None else min(self.idle_poll, until - now)
                await self._idle(stop, wait)
                self._dirty = True
        finally:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        return self.sent - sent_before

    def _refill(self, now: float, *, urgent_only: bool = False) -> None:
        """Load each recipient's oldest pending row, if it is due, not claimed by another
        sender and not already queued, ready when its chat is (here and in ``outbox_chat``).

        It scans the whole queue, so with plenty to send it runs ten times less often;
        recipients already queued bring their next row themselves (:meth:`_next_due`).
        Urgent rows (a turn's reply) are looked for every ``refresh_every`` (``urgent_only``).
        """
        self._next_urgent = now + self.refresh_every
        if not urgent_only:
            self._dirty = False
            self.pacer.forget_before(now)
        clock_now = self.services.clock.now()
        due = to_db(clock_now)
        heads = (
            select(func.min(OutboxMessage.id))
            .where(OutboxMessage.status == "pending")
            .group_by(col(OutboxMessage.recipient_id))
        )
        query = (
            sa_select(col(OutboxMessage.id), col(OutboxMessage.recipient_id),
                      col(User.telegram_id), col(OutboxMessage.urgent), col(OutboxChat.next_at))
            .join(User, col(User.id) == col(OutboxMessage.recipient_id), isouter=True)
            .join(OutboxChat, col(OutboxChat.chat_id) == col(User.telegram_id), isouter=True)
            .where(col(OutboxMessage.id).in_(heads), col(OutboxMessage.not_before) <= due,
                   col(OutboxMessage.claim_until).is_(None) | (col(OutboxMessage.claim_until) <= due))
            .order_by(col(OutboxMessage.urgent).desc(), col(OutboxMessage.id))
            # at most one head per known recipient is skipped, so `batch` new ones fit
            .limit(self.batch + len(self._known))
        )
        if urgent_only:
            query = query.where(col(OutboxMessage.urgent))
        with Session(self.services.engine) as session:
            rows = session.execute(query).all()
        for row_id, recipient_id, telegram_id, urgent, next_at in rows:
            if recipient_id in self._known or row_id is None:
                continue
            chat = int(telegram_id) if telegram_id is not None else 0
            self._known.add(recipient_id)
            ready = self.pacer.chat_ready(chat, now)
            if next_at is not None:  # another sender's last message to the chat, or a 429
                ready = max(ready, now + (from_db(next_at) - clock_now).total_seconds())
            heapq.heappush(self._waiting, (ready, 0 if urgent else 1, row_id, recipient_id, chat))
        if not urgent_only:
            stocked = len(self._ready) + len(self._waiting) >= self.batch // 2
            self._next_refill = now + self.refresh_every * (10 if stocked else 1)

    # ---------------------------------------------------------------- one delivery

    async def _deliver(self, row_id: int, recipient_id: int, chat: int, rank: int = 1) -> None:
        answered = False  # the pacer was told Telegram answered (or the request failed)
        requeue = False
        claimed = False  # the row, the chat's turn and a token are this sender's (outbox_claims)
        retry_at: datetime | None = None  # another sender has the chat or the tokens until then
        self._last_retry_after: float | None = None
        self._last_hold_all = False
        try:
            # the database steps of a delivery run in threads: several deliveries in flight
            # overlap their commits, and the loop goes on pacing meanwhile
            got, job, failed = await self._db(self._claim_and_prepare, row_id, recipient_id, chat)
            if not got.taken:
                retry_at = got.retry_at
                return
            claimed = True
            if failed is not None:
                raise failed
            wait = (got.start_at - self.services.clock.now()).total_seconds() if got.start_at else 0
            if wait > 0:  # the slot the shared bucket gave this message is a moment ahead
                await self.timer.sleep(wait)
            if got.start_at is not None and self._missed(got.start_at):
                self.missed_slots += 1
                retry_at = self.services.clock.now()  # a new slot, now: the row goes first
                return
            if job is not None and job.part.attachment is not None:
                # a form is rendered (database reads, a PDF) off the event loop
                job = await asyncio.to_thread(self._attach, row_id, job)
            if job is None:
                return
            if job.part.attachment is not None and job.part.document is None:
                # the file no longer applies (the recipient lost the scope…): nothing to send
                self.pacer.end(chat, self.timer.now(), reached_telegram=False)
                answered = True
                complete = await self._db(self._on_accepted, row_id, job, chat)
                claimed = False
                requeue = not complete
                return
            error: Exception | None = None
            with telegram_request.watching() as statuses:
                try:
                    await self._send(chat, job.part)
                except Exception as err:  # classified below, once the pacer knows
                    error = err
                finally:
                    # the slot is timed from Telegram's answer, not our bookkeeping after it
                    self.pacer.end(chat, self.timer.now())
                    answered = True
            if error is not None and telegram_request.accepted(statuses):
                # sent, answer unreadable: Telegram took the message (HTTP 2xx) and only
                # reading its answer failed; sending it again would deliver it twice
                log.warning("outbox row %s: Telegram accepted the message but its answer "
                            "could not be read (%r); recorded as sent", row_id, error)
                error = None
            if error is None:
                self.telegram_messages += 1
                # recorded with the claim's release, in one commit
                complete = await self._db(self._on_accepted, row_id, job, chat)
                claimed = False
                if complete:
                    self.sent += 1
                requeue = not complete
            elif isinstance(error, RetryAfter):
                self._on_retry_after(row_id, chat, retry_after_seconds(error))
            elif isinstance(error, Forbidden):
                self._on_blocked(row_id, recipient_id, str(error))
            elif isinstance(error, BadRequest):
                self._dead(row_id, f"Telegram refused the message: {error}")
            elif isinstance(error, TelegramError):
                self._on_error(row_id, error)
            else:  # no answer from Telegram: our request could not be made, and would not be
                log.error("outbox row %s could not be sent", row_id, exc_info=error)
                self._dead(row_id, f"cannot send: {error!r}")
        except Exception:
            # recording the outcome failed (the database?): the row stays as it was and is
            # tried again later, which may repeat a message Telegram accepted (the bound)
            log.exception("outbox row %s: a database step failed; the row stays as it was", row_id)
        finally:
            now = self.timer.now()
            if not answered:
                self.pacer.end(chat, now, reached_telegram=False)
            if claimed:  # in a thread, as the claim was: a stalled loop bunches the sends
                await self._db(self._release, row_id, chat, reached=answered)
            following: tuple[int, int] | None = (row_id, rank) if requeue else None
            if retry_at is not None:  # the chat's or the bucket's turn comes then
                following = (row_id, rank)
                now = now + (retry_at - self.services.clock.now()).total_seconds()
            elif following is None:
                following = await self._db(self._next_due, recipient_id)
            if following is not None:  # a backlog moves at its chat's pace, not the refill's
                ready = max(now, self.pacer.chat_ready(chat, now))
                heapq.heappush(self._waiting, (ready, following[1], following[0], recipient_id, chat))
            else:  # not due (a 429, a backoff) or nothing left: a later refill finds it
                self._known.discard(recipient_id)
            self._dirty = True

    def _missed(self, start_at: datetime) -> bool:
        """Whether this sender woke too long after its slot (a stalled loop, a slow commit):
        the slots after it went on to other messages, so sending now would bunch them into
        one second over Telegram's limit. The slot is given up (the row is claimed again)."""
        if isinstance(self.timer, ClockTimer):
            return False  # virtual time: nothing stalls
        # sends each within ``late`` of their slots put at most (1 + late) × rate slots, plus
        # the one the bucket may lag by and one at the window's edge, into any second
        late = max(0.0, (MAX_GLOBAL_RATE - 2) / self.limits.per_second - 1.0)
        return (self.services.clock.now() - start_at).total_seconds() > late

    async def _db(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """A database step of a delivery: in a worker thread, so deliveries in flight overlap
        their commits while the loop paces; inline on virtual time (``ClockTimer``), where
        time must pass only while the sender waits, not while a thread works."""
        if isinstance(self.timer, ClockTimer):
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _release(self, row_id: int, chat: int, *, reached: bool) -> None:
        """Free the claim and give the chat its next turn, for every sender (a 429 included)."""
        try:
            outbox_claims.release(
                self.services.engine, row_id, chat, holder=self.holder,
                now=self.services.clock.now(), pace=self.pace, reached=reached,
                retry_after=self._last_retry_after, hold_all=self._last_hold_all,
            )
        except Exception:  # the claim lapses after its lease; the chat is held until then
            log.exception("outbox row %s: releasing its claim failed", row_id)

    def _next_due(self, recipient_id: int) -> tuple[int, int] | None:
        """The recipient's oldest pending row if it is due now (one indexed lookup): its id
        and rank (0: urgent)."""
        try:
            with Session(self.services.engine) as session:
                head = session.exec(
                    select(OutboxMessage.id, OutboxMessage.not_before, OutboxMessage.urgent)
                    .where(
                        OutboxMessage.recipient_id == recipient_id,
                        OutboxMessage.status == "pending",
                    )
                    .order_by(col(OutboxMessage.id))
                    .limit(1)
                ).first()
        except Exception:
            log.exception("outbox: looking up the next row of user %s failed", recipient_id)
            return None
        if head is None or head[0] is None or from_db(head[1]) > self.services.clock.now():
            return None
        return head[0], 0 if head[2] else 1

    def _claim_and_prepare(
        self, row_id: int, recipient_id: int, chat: int
    ) -> tuple[outbox_claims.Claim, _Job | None, Exception | None]:
        """Claim the row (:func:`bot.outbox_claims.claim`) and, if taken, read what to send:
        one trip to a worker thread, and the claim's time read in it, not before waiting for
        a free thread (a slot reckoned from a stale time is missed before it is waited for)."""
        got = outbox_claims.claim(self.services.engine, row_id, recipient_id, chat,
                                  holder=self.holder, now=self.services.clock.now(), pace=self.pace)
        if not got.taken:
            return got, None, None
        try:
            return got, self._prepare(row_id), None
        except Exception as err:  # raised by the caller, which holds the claim and frees it
            return got, None, err

    def _prepare(self, row_id: int) -> _Job | None:
        """Read the row and its recipient; fail a row nobody can receive."""
        with Session(self.services.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != "pending":
                return None  # an operator or another run changed it meanwhile
            user = session.get(User, row.recipient_id)
            # a turn's reply also goes to someone still joining (its question is how they join)
            joining = row.kind == REPLY_KIND and user is not None and not invites.is_deactivated(user)
            if (user is None or user.telegram_id is None or user.unreachable
                    or not (user.active or joining)):
                row.status = "failed"
                row.last_error = "recipient cannot be reached"
                session.add(row)
                session.commit()
                return None
            try:
                parts = render_parts(row.payload, user.language)
            except Exception as err:  # a payload this code cannot render will not improve
                log.exception("outbox row %s cannot be rendered", row_id)
                row.status = "dead"
                row.last_error = f"cannot render: {err!r}"[:500]
                session.add(row)
                session.commit()
                return None
            index = min(int(row.payload.get("parts_sent", 0)), len(parts) - 1)
            return _Job(parts[index], index, index == len(parts) - 1)

    def _attach(self, row_id: int, job: _Job) -> _Job:
        """Render the file of an attachment part for the row's recipient, in their language
        and with what their role may see (``documents.attachments``, audited as an export)."""
        assert job.part.attachment is not None
        with Session(self.services.engine) as session:
            row = session.get(OutboxMessage, row_id)
            user = session.get(User, row.recipient_id) if row is not None else None
        if user is None:
            return job
        try:
            with unit_of_work(self.services.engine, self.services.clock, self.services.policy) as cw:
                recipient = cw.session.get(User, user.id)
                assert recipient is not None
                rendered = render_attachment(cw, recipient, job.part.attachment)
        except Exception:
            log.exception("outbox row %s: its attachment could not be made; sent without it", row_id)
            rendered = None
        if rendered is None:
            return job
        name, data, caption = rendered
        text = caption.render(user.language) if caption is not None else ""
        part = Part(text, attachment=job.part.attachment, document=(name, data))
        return _Job(part, job.index, job.last)

    async def _send(self, chat: int, part: Part) -> None:
        if part.file is not None:
            kind, file_id = part.file
            send = self.bot.send_photo if kind == "photo" else self.bot.send_document
            await send(chat, file_id, caption=part.text or None, reply_markup=part.markup)
        elif part.document is not None:
            name, data = part.document
            await self.bot.send_document(
                chat, data, filename=name, caption=part.text or None, reply_markup=part.markup
            )
        elif part.photo is not None:
            await self.bot.send_photo(
                chat, part.photo, caption=part.text or None, reply_markup=part.markup
            )
        else:
            await self.bot.send_message(chat, part.text, reply_markup=part.markup,
                                        parse_mode="HTML" if part.html else None)

    def _on_accepted(self, row_id: int, job: _Job, chat: int) -> bool:
        """Record Telegram's acceptance at once, and free the claim and give the chat its
        next turn in the same commit; True when the row is complete. (In a worker thread.)"""
        now = self.services.clock.now()
        with Session(self.services.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if row is not None:
                if job.last:
                    row.status = "sent"
                    row.sent_at = to_db(now)
                    row.attempts += 1
                else:
                    row.payload = {**row.payload, "parts_sent": job.index + 1}
                session.add(row)
                session.flush()
            outbox_claims.release_in(session.connection(), row_id, chat, holder=self.holder,
                                     now=now, pace=self.pace, reached=True)
            session.commit()
        return row is None or job.last

    def _on_retry_after(self, row_id: int, chat: int, seconds: float) -> None:
        """Hold the chat and move the row; several chats at once means hold everyone."""
        self.rate_limited += 1
        now = self.timer.now()
        self.pacer.hold(chat, now + seconds)
        self._recent_429s.append((now, chat))
        while self._recent_429s and self._recent_429s[0][0] < now - 1.0:
            self._recent_429s.popleft()
        self._last_retry_after = seconds
        if len({c for _t, c in self._recent_429s}) >= 3:
            log.warning("429 from several chats at once: holding every chat %.0f s", seconds)
            self.pacer.hold_all(now + seconds)
            self._last_hold_all = True
        with Session(self.services.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if row is not None and row.status == "pending":
                row.not_before = to_db(self.services.clock.now() + timedelta(seconds=seconds))
                row.last_error = f"429: retry after {seconds:g} s"
                session.add(row)
                session.commit()

    def _on_blocked(self, row_id: int, recipient_id: int, error: str) -> None:
        """The user blocked the bot: flag them, stop their messages, tell their supervisor."""
        with Session(self.services.engine) as session:
            user = session.get(User, recipient_id)
            if user is None:
                return
            user.unreachable = True
            session.add(user)
            pending = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.recipient_id == recipient_id, OutboxMessage.status == "pending"
                )
            ).all()
            for row in pending:
                row.status = "failed"
                row.last_error = f"recipient unreachable: {error}"[:500]
                session.add(row)
            supervisor = supervisor_of(session, user)
            if supervisor is not None:
                enqueue(
                    session,
                    supervisor,
                    _(
                        "{person} has blocked the bot, so reminders and alerts to them "
                        "have stopped. Please reach them another way and ask them to open the "
                        "bot again.",
                        person=person_role(user.display_name, user.role),
                    ),
                    kind=UNREACHABLE_KIND,
                    now=self.services.clock.now(),
                    dedupe_key=f"unreachable:{recipient_id}:{row_id}",
                )
            session.commit()
        log.warning(
            "user %s blocked the bot; marked unreachable, %s told",
            recipient_id,
            f"user {supervisor.id}" if supervisor is not None else "nobody (no supervisor)",
        )

    def _on_error(self, row_id: int, err: TelegramError) -> None:
        """Back off exponentially; dead-letter after ``max_attempts``."""
        with Session(self.services.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.last_error = f"{type(err).__name__}: {err}"[:500]
            if row.attempts >= self.retry.max_attempts:
                row.status = "dead"
                log.error("outbox row %s dead after %d attempts: %s", row_id, row.attempts, err)
            else:
                row.not_before = to_db(self.services.clock.now() + self.retry.delay(row.attempts))
            session.add(row)
            session.commit()

    def _dead(self, row_id: int, reason: str) -> None:
        with Session(self.services.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.status = "dead"
            row.last_error = reason[:500]
            session.add(row)
            session.commit()
        log.error("outbox row %s dead: %s", row_id, reason)


def _finished(tasks: set[asyncio.Task[None]], task: asyncio.Task[None]) -> None:
    """Forget a finished delivery; one that broke (its database write failed) is logged."""
    tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("outbox delivery failed", exc_info=task.exception())


# --- entry points -------------------------------------------------------------------------


async def drain(
    bot: Any,
    services: Services,
    *,
    limits: Limits | None = None,
    retry: RetryPolicy | None = None,
    timer: Timer | None = None,
    budget: float | None = None,
) -> int:
    """Send what is due now, paced, with a fresh sender; returns how many rows were sent."""
    sender = OutboxSender(bot, services, limits=limits, retry=retry, timer=timer)
    return await sender.drain(budget=budget)


async def run_forever(
    bot: Any,
    services: Services,
    stop: asyncio.Event,
    *,
    limits: Limits | None = None,
    retry: RetryPolicy | None = None,
    timer: Timer | None = None,
) -> None:
    """The bot process's sender: deliver as rows come due until ``stop`` is set."""
    sender = OutboxSender(bot, services, limits=limits, retry=retry, timer=timer)
    await sender.run_forever(stop)


def replay(
    session: Session, ids: Sequence[int] | None, *, now: datetime, include_failed: bool = False
) -> list[int]:
    """Put dead rows (``ids``, or all of them) back in the queue for another try.

    Failed rows (their recipient was unreachable) are replayed only when named and when the
    recipient is no longer flagged unreachable.
    """
    statuses = ["dead", "failed"] if include_failed else ["dead"]
    query = select(OutboxMessage).where(col(OutboxMessage.status).in_(statuses))
    if ids is not None:
        query = query.where(col(OutboxMessage.id).in_(list(ids)))
    replayed: list[int] = []
    for row in session.exec(query.order_by(col(OutboxMessage.id))).all():
        if row.status == "failed":
            user = session.get(User, row.recipient_id)
            if user is None or user.unreachable:
                continue
        row.status = "pending"
        row.attempts = 0
        row.not_before = to_db(now)
        session.add(row)
        replayed.append(row.id or 0)
    return replayed


class SenderTask:
    """:func:`run_forever` as a background task of the bot process (started in PTB's
    ``post_init``, stopped in ``post_stop``); stopping lets the requests in flight finish and
    be recorded, so a clean shutdown repeats nothing. A background task waits in real time
    whatever the clock (the sandbox moves its clock by hand)."""

    def __init__(
        self,
        bot: Any,
        services: Services,
        *,
        limits: Limits | None = None,
        timer: Timer | None = None,
    ) -> None:
        self.sender = OutboxSender(bot, services, limits=limits, timer=timer or RealTimer())
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.sender.run_forever(self._stop), name="outbox-sender")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
