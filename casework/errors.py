"""Typed errors of the domain. Each carries a message a user can read, in any language.

A caller catches :class:`CaseworkError`, shows ``err.text.render(lang)`` and knows that
nothing was written (the unit of work rolls back; see ``casework.uow``).
"""

from __future__ import annotations

from typing import Any

from casework.i18n import Text


class CaseworkError(Exception):
    """Base: something the user asked for cannot be done as asked."""

    code = "error"

    def __init__(self, text: Text, **detail: Any) -> None:
        super().__init__(str(text))
        self.text = text
        self.detail = detail

    def render(self, lang: str | None = None) -> str:
        return self.text.render(lang)


class ValidationError(CaseworkError):
    """An input value is not acceptable; ``field`` names it."""

    code = "invalid"

    def __init__(self, field: str, text: Text, **detail: Any) -> None:
        super().__init__(text, field=field, **detail)
        self.field = field


class AccessDenied(CaseworkError):
    """The actor's role or scope does not cover this object. Always audited."""

    code = "denied"


class NotFound(CaseworkError):
    code = "not_found"


class IllegalTransition(CaseworkError):
    """The case's state does not allow this action now."""

    code = "illegal_transition"


class Conflict(CaseworkError):
    """Someone else changed the object first (optimistic version check)."""

    code = "conflict"


class PolicyError(CaseworkError):
    """A policy file is wrong; the message names the key and the problem."""

    code = "policy"
