"""The outbox sender: the only thing that pushes messages the user did not just ask for.

Each pending row is rendered in the recipient's language at send time and marked sent
right after Telegram accepts it. A crash between the two can repeat that one message
(at most one per row). Pacing under Telegram's limits, retries with backoff and the
dead-letter list are the scheduler issue's work; this sender already honours a 429's
retry_after for the row that got it and marks a user who blocked the bot unreachable.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot.services import Services
from casework.clock import to_db
from casework.outbox import text_from_json
from models.tables import OutboxMessage, User

log = logging.getLogger(__name__)


def render(message: OutboxMessage, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
    payload = message.payload
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


async def drain(bot: Any, services: Services, limit: int = 200) -> int:
    """Send what is due, oldest first; returns how many were sent."""
    sent = 0
    now = to_db(services.clock.now())
    with Session(services.engine, expire_on_commit=False) as session:
        pending = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", col(OutboxMessage.not_before) <= now)
            .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
            .limit(limit)
        ).all()
        for message in pending:
            user = session.get(User, message.recipient_id)
            if user is None or user.telegram_id is None or user.unreachable:
                message.status = "failed"
                message.last_error = "recipient cannot be reached"
                session.add(message)
                session.commit()
                continue
            text, markup = render(message, user.language)
            try:
                await bot.send_message(user.telegram_id, text, reply_markup=markup)
            except RetryAfter as err:
                delay = err.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                message.not_before = now + timedelta(seconds=seconds)
                message.attempts += 1
                session.add(message)
                session.commit()
                continue
            except Forbidden as err:
                message.status = "failed"
                message.last_error = str(err)[:500]
                user.unreachable = True
                session.add_all([message, user])
                session.commit()
                continue
            except TelegramError as err:
                message.attempts += 1
                message.last_error = str(err)[:500]
                message.not_before = now + timedelta(seconds=30 * message.attempts)
                session.add(message)
                session.commit()
                continue
            message.status = "sent"
            message.sent_at = now
            message.attempts += 1
            session.add(message)
            session.commit()
            sent += 1
    return sent
