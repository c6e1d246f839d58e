"""Importing this package registers every flow with the engine."""

from conversations.flows import invite, outcomes, report, visit  # noqa: F401
