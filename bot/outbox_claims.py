"""What every outbox sender shares through the database, so any number of them can send at
once and Telegram still sees one well-paced bot.

Before a message goes out, one short transaction (:func:`claim`) takes three things, or none:

1. **the row**: it must be pending, due, its recipient's oldest pending row (so each chat's
   messages keep their order) and not claimed by another sender (a claim expires after
   ``lease``, so a crashed sender's row is taken over); the claim names the sender;
2. **the chat's turn** (``outbox_chat``): its next-allowed time must have come (one message a
   second, from Telegram's answer to the last one; 20 a minute to a group; a 429's
   ``retry_after``). While the message is in flight the chat is held for ``lease``;
3. **a start time** from the one shared bucket (``outbox_bucket``, GCRA: starts ``1/rate``
   apart for all senders together), unless everyone is held after 429s. The slot may lie
   up to ``horizon`` ahead: the sender waits for it, so senders queue for slots instead of
   racing for the same one.

If any is missing, nothing is taken and the answer says when to ask again. After
Telegram's answer :func:`release` frees the row's claim and sets the chat's next-allowed
time (a 429 moves it by ``retry_after``; several chats at once hold the bucket, i.e. every
sender). Locks are taken in one order (row, chat, bucket), so two senders never deadlock;
on PostgreSQL the chat and bucket rows are read ``FOR UPDATE``, on SQLite the write
transaction (``BEGIN IMMEDIATE``) serializes claims anyway.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from casework.clock import from_db, to_db
from models.tables import OutboxBucket, OutboxChat, OutboxMessage

BUCKET = "global"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GROUP_WINDOW = 60.0

_ROWS = OutboxMessage.__table__  # type: ignore[attr-defined]
_CHATS = OutboxChat.__table__  # type: ignore[attr-defined]
_BUCKETS = OutboxBucket.__table__  # type: ignore[attr-defined]


def holder_name() -> str:
    """Who this sender is, in the rows it claims: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Pace:
    """The shared limits: ``rate`` messages a second in all, ``chat_interval`` between two
    to one chat, ``group_per_minute`` to a group; a claim lasts ``lease``."""

    rate: float
    chat_interval: float = 1.0
    group_per_minute: int = 20
    lease: timedelta = timedelta(seconds=60)
    horizon: timedelta = timedelta(seconds=0.5)


@dataclass(frozen=True)
class Claim:
    """``taken``: send at ``start_at``. Otherwise ask again at ``retry_at``, or never
    (None: the row is gone, sent, not due, not its recipient's oldest, or another sender's)."""

    taken: bool
    retry_at: datetime | None = None
    start_at: datetime | None = None


def _locked(conn: Connection, table: Any, key: Any, **new: Any) -> Any:
    """The row ``key`` of ``table``, locked for this transaction; made with ``new`` first if
    missing (another sender making it at the same moment is fine)."""
    row = conn.execute(select(table).where(key).with_for_update()).first()
    if row is not None:
        return row
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(**new))
    except IntegrityError:
        pass
    return conn.execute(select(table).where(key).with_for_update()).one()


def _chat(conn: Connection, chat: int) -> Any:
    return _locked(conn, _CHATS, _CHATS.c.chat_id == chat, chat_id=chat, next_at=to_db(EPOCH),
                   recent=[])


def _bucket(conn: Connection) -> Any:
    return _locked(conn, _BUCKETS, _BUCKETS.c.name == BUCKET, name=BUCKET, tat=to_db(EPOCH),
                   held_until=to_db(EPOCH))


def claim(engine: Engine, row_id: int, recipient_id: int, chat: int, *, holder: str,
          now: datetime, pace: Pace) -> Claim:
    """Take the row, the chat's turn and a token in one transaction (see the module)."""
    with engine.begin() as conn:
        head = (select(func.min(_ROWS.c.id))
                .where(_ROWS.c.recipient_id == recipient_id, _ROWS.c.status == "pending")
                .scalar_subquery())
        # SKIP LOCKED: a row another sender is claiming right now is not waited for
        free = (select(_ROWS.c.id)
                .where(_ROWS.c.id == row_id, _ROWS.c.status == "pending",
                       _ROWS.c.not_before <= to_db(now), _ROWS.c.id == head,
                       (_ROWS.c.claim_until.is_(None)) | (_ROWS.c.claim_until <= to_db(now)))
                .with_for_update(skip_locked=True)
                .scalar_subquery())
        took = conn.execute(
            update(_ROWS).where(_ROWS.c.id == free)
            .values(claimed_by=holder, claim_until=to_db(now + pace.lease))
        ).rowcount
        if not took:
            return Claim(False)
        wait = _take_chat(conn, chat, now, pace)
        start: datetime | None = None
        if wait is None:
            wait, start = _take_slot(conn, now, pace)
        if wait is not None:
            conn.rollback()
            return Claim(False, wait)
    return Claim(True, start_at=start)


def _take_chat(conn: Connection, chat: int, now: datetime, pace: Pace) -> datetime | None:
    """Hold ``chat`` for the message in flight; or the time its turn comes."""
    row = _chat(conn, chat)
    at = from_db(row.next_at)
    recent = [t for t in row.recent if t > now.timestamp() - GROUP_WINDOW]
    if chat < 0 and len(recent) >= pace.group_per_minute:  # groups and channels
        at = max(at, datetime.fromtimestamp(recent[-pace.group_per_minute] + GROUP_WINDOW, now.tzinfo))
    if at > now:
        return at
    conn.execute(update(_CHATS).where(_CHATS.c.chat_id == chat)
                 .values(next_at=to_db(now + pace.lease), recent=recent))
    return None


def _take_slot(conn: Connection, now: datetime, pace: Pace) -> tuple[datetime | None, datetime | None]:
    """(None, the start time) from the shared bucket; or (when to ask again, None)."""
    row = _bucket(conn)
    held = from_db(row.held_until)
    if held > now:
        return held, None
    tat = from_db(row.tat)
    if tat > now + pace.horizon:  # starts 1/rate apart, all senders together
        return tat - pace.horizon, None
    # a start a little late (a sender woke after its slot) does not push every later slot
    # back: the grid may lag ``now`` by one slot, so the rate is kept, with at most one
    # start more in any second
    slot = timedelta(seconds=1 / pace.rate)
    start = max(tat, now - slot)
    conn.execute(update(_BUCKETS).where(_BUCKETS.c.name == BUCKET)
                 .values(tat=to_db(start + slot)))
    return None, max(start, now)


def release(engine: Engine, row_id: int, chat: int, *, holder: str, now: datetime, pace: Pace,
            reached: bool, retry_after: float | None = None, hold_all: bool = False) -> None:
    """After Telegram's answer (``reached``) or none: free the row's claim, give the chat
    its next-allowed time; a 429's ``retry_after`` holds the chat (``hold_all``: everyone)."""
    with engine.begin() as conn:
        release_in(conn, row_id, chat, holder=holder, now=now, pace=pace, reached=reached,
                   retry_after=retry_after, hold_all=hold_all)


def release_in(conn: Connection, row_id: int, chat: int, *, holder: str, now: datetime,
               pace: Pace, reached: bool, retry_after: float | None = None,
               hold_all: bool = False) -> None:
    """:func:`release` inside the caller's transaction (the one recording the outcome)."""
    conn.execute(update(_ROWS).where(_ROWS.c.id == row_id, _ROWS.c.claimed_by == holder)
                 .values(claimed_by=None, claim_until=None))
    recent = list(_chat(conn, chat).recent)
    next_at = now + timedelta(seconds=pace.chat_interval) if reached else now
    if reached and chat < 0:
        recent = [t for t in recent if t > now.timestamp() - GROUP_WINDOW] + [now.timestamp()]
    if retry_after is not None:
        next_at = max(next_at, now + timedelta(seconds=retry_after))
    conn.execute(update(_CHATS).where(_CHATS.c.chat_id == chat)
                 .values(next_at=to_db(next_at), recent=recent))
    if hold_all and retry_after is not None:
        _bucket(conn)
        conn.execute(update(_BUCKETS).where(_BUCKETS.c.name == BUCKET)
                     .values(held_until=to_db(now + timedelta(seconds=retry_after))))
