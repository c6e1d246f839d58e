"""The concrete type of PTB's ``Application`` this bot builds, written once for annotations.

PTB's ``Application`` is generic in six types (the bot, the callback context, the three
data stores and the job queue); the bot uses PTB's defaults for all of them.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from telegram.ext import Application, ContextTypes, ExtBot, JobQueue

BotApplication: TypeAlias = Application[
    ExtBot[None],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[ContextTypes.DEFAULT_TYPE],
]
