"""The fake Telegram Bot API server (see :mod:`sandbox.fakebot.api`)."""

from sandbox.fakebot.api import *  # noqa: F403  (the split into modules follows)
from sandbox.fakebot.api import __all__, _png, keyboard_rows  # noqa: F401
