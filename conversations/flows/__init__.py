"""Importing this package registers every flow with the engine."""

from conversations.flows import (  # noqa: F401
    attendance,
    delivery,
    enrol,
    handover,
    home_teaching,
    invite,
    outcomes,
    register_import,
    report,
    verification,
    visit,
)
