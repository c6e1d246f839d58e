"""Which Telegram updates were already handled (webhook mode), and the update guard.

Telegram redelivers an update when it thinks the first delivery failed (a timeout, a
non-2xx answer), and with several webhook workers the redelivery may reach another
process. The ``processed_update`` table is the one memory all workers share:

- a turn (``handlers.turns.run_turn``) claims its update id in its own transaction,
  before its work; a second claim of the same id waits for the first transaction and
  finds the row (PostgreSQL's unique index, SQLite's write lock), so the update is done
  and answered once. A turn that fails rolls the claim back, so Telegram's retry is
  processed;
- an update no turn handled (a group message, an update kind the bot ignores, a forged
  one) is recorded by the webhook after the handlers ran; one a turn claimed
  (:func:`watching_claims`) has nothing to add, and costs no transaction;
- rows older than a day are pruned every ``PRUNE_EVERY`` updates, by an indexed range,
  whoever handled the update.

Polling mode does not need this (getUpdates hands each update out once) and the sandbox's
fake Telegram numbers its updates from 1 on every start, so only an application served by
the webhook (``DEDUPE_KEY`` in its ``bot_data``) records updates.

The guard: in a private chat the chat is the user, so ``chat.id == from.id``. An update
that says otherwise is forged (someone who knows the webhook secret posting another
user's ``from`` with their own chat); it is refused before any handler, answered
nothing, and audited.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from casework.clock import to_db
from casework.uow import unit_of_work
from models.tables import AuditEvent, ProcessedUpdate, User

log = logging.getLogger(__name__)

DEDUPE_KEY = "dedupe_updates"
KEEP = timedelta(days=1)
PRUNE_EVERY = 256  # update ids are sequential: about one prune per 256 updates

_TABLE = ProcessedUpdate.__table__  # type: ignore[attr-defined]

# the update ids claimed by turns inside a :func:`watching_claims` block (the webhook's:
# an update a turn claimed needs no second write after the handlers)
_claims: ContextVar[set[int] | None] = ContextVar("claimed_updates", default=None)


@contextmanager
def watching_claims() -> Iterator[set[int]]:
    """The update ids :func:`claim` is called for inside the block, in worker threads too
    (a turn's thread runs in a copy of this context, which shares the set)."""
    box: set[int] = set()
    token = _claims.set(box)
    try:
        yield box
    finally:
        _claims.reset(token)


def dedupes(context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether this application records processed updates (served by the webhook)."""
    return bool(context.application.bot_data.get(DEDUPE_KEY))


def _claim_statement(module: Any) -> Any:
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT
    return (
        module.insert(_TABLE)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing()
        .returning(_TABLE.c.update_id)
    )


# built once: every update in webhook mode runs one (building it cost as much as running it)
_CLAIM = {"postgresql": _claim_statement(postgresql), "sqlite": _claim_statement(sqlite)}


def claim(session: Session, update_id: int, now: datetime) -> bool:
    """Record ``update_id`` as processed in the session's transaction; False if it already
    was (by this worker or another). Waits for a concurrent claim of the same id to commit
    or roll back, so exactly one transaction holds the row."""
    box = _claims.get()
    if box is not None:
        box.add(update_id)
    values = {"update_id": update_id, "processed_at": to_db(now)}
    stmt = _CLAIM.get(session.get_bind().dialect.name)
    if stmt is not None:
        return session.execute(stmt, values).first() is not None
    try:  # another backend: a savepoint keeps the transaction usable after the conflict
        with session.begin_nested():
            session.execute(insert(_TABLE).values(**values))
        return True
    except IntegrityError:
        return False


def prune(session: Session, now: datetime) -> None:
    session.execute(delete(_TABLE).where(_TABLE.c.processed_at < to_db(now) - KEEP))


_PROCESSED = select(exists().where(_TABLE.c.update_id == bindparam("update_id")))


def is_processed(services: Any, update_id: int) -> bool:
    """Was ``update_id`` processed already? Asked by the webhook before the handlers of an
    update no turn will claim, so it is one prebuilt statement on a bare connection (no
    session, no domain context)."""
    with services.engine.connect() as conn:
        return bool(conn.execute(_PROCESSED, {"update_id": update_id}).scalar())


def needs_record(update_id: int, claimed: bool) -> bool:
    """Whether :func:`record` has anything to do after the handlers: write the row of an
    update no turn claimed, or prune (every ``PRUNE_EVERY``-th update, whoever claimed it)."""
    return not claimed or update_id % PRUNE_EVERY == 0


def record(services: Any, update_id: int, *, claimed: bool = False) -> None:
    """After the handlers: record an update no turn claimed (a turn's claim is committed
    with its work already), and now and then prune the old rows."""
    if not needs_record(update_id, claimed):
        return
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        if not claimed:
            claim(cw.session, update_id, cw.now())
        if update_id % PRUNE_EVERY == 0:
            prune(cw.session, cw.now())


# --- the guard: a private chat is its user ------------------------------------------------


def forged(update: Update) -> bool:
    chat, user = update.effective_chat, update.effective_user
    return (
        chat is not None and user is not None and chat.type == ChatType.PRIVATE and chat.id != user.id
    )


def _audit_forged(services: Any, update_id: int, chat_id: int, from_id: int) -> None:
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        actor = cw.session.execute(select(col(User.id)).where(col(User.telegram_id) == from_id)).scalar()
        cw.session.add(AuditEvent(
            at=cw.now_db(), actor_id=actor, action="update.forged", object_type="update",
            object_id=None, allowed=False,
            detail={"update_id": update_id, "chat_id": chat_id, "from_id": from_id},
        ))


async def refuse_forged(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every update passes here first: one whose private chat is not its sender is
    audited and stopped (no handler runs, nothing is sent into the forged chat)."""
    if not forged(update):
        return
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    services = context.application.bot_data["services"]
    log.warning("refused update %s: private chat %s is not its sender %s",
                update.update_id, chat.id, user.id)
    await asyncio.to_thread(_audit_forged, services, update.update_id, chat.id, user.id)
    raise ApplicationHandlerStop
