"""Importing this package registers every flow with the engine."""

from conversations.flows import attendance, enrol, home_teaching, invite, outcomes, report, visit  # noqa: F401
