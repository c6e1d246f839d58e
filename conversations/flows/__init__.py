"""Importing this package registers every flow with the engine."""

from conversations.flows import attendance, invite, outcomes, report, verification, visit  # noqa: F401
