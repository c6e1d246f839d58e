"""Importing this package registers every flow with the engine."""

from conversations.flows import attendance, invite, outcomes, register_import, report, visit  # noqa: F401
