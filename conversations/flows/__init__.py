"""Importing this package registers every flow with the engine."""

from conversations.flows import attendance, delivery, invite, outcomes, report, visit  # noqa: F401
