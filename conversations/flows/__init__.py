"""Importing this package registers every flow with the engine."""

from conversations.flows import attendance, handover, invite, outcomes, report, visit  # noqa: F401
