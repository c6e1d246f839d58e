"""Translatable text for the domain, without Telegram.

Strings a user reads are marked with ``_()`` (or ``N_()`` where only the msgid is kept);
``_()`` returns a :class:`Text` that remembers its parameters and is rendered in the
reader's language later (``text.render("en")``), because the domain does not know who
will read an error or an outbox message. Catalogs live in ``locales/`` (zh_Hans first,
English second) and are compiled by ``make locales``.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import locales

LOCALES_DIR = Path(locales.__file__).resolve().parent
DOMAIN = "messages"
DEFAULT_LANGUAGE = "zh_Hans"
LANGUAGES = ("zh_Hans", "en")


def normalize_language(lang: str | None) -> str:
    """Map what Telegram or a user gives ("zh-hans", "zh-CN", "en-US") onto our catalogs."""
    if not lang:
        return DEFAULT_LANGUAGE
    low = lang.replace("-", "_").lower()
    if low.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


@lru_cache(maxsize=8)
def translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation(
        DOMAIN, localedir=str(LOCALES_DIR), languages=[normalize_language(lang)], fallback=True
    )


def gettext_for(lang: str | None, msgid: str) -> str:
    return translations(normalize_language(lang)).gettext(msgid)


def pgettext_for(lang: str | None, context: str, msgid: str) -> str:
    return translations(normalize_language(lang)).pgettext(context, msgid)


def ngettext_for(lang: str | None, singular: str, plural: str, n: int) -> str:
    return translations(normalize_language(lang)).ngettext(singular, plural, n)


@dataclass(frozen=True)
class Text:
    """A msgid with its parameters; rendered in a language on demand.

    Parameters that are themselves :class:`Text` are rendered in the same language.
    """

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        rendered = {
            k: (v.render(lang) if isinstance(v, Text) else v) for k, v in self.params.items()
        }
        template = gettext_for(lang, self.msgid)
        return template.format(**rendered) if rendered else template

    def __str__(self) -> str:
        return self.render(DEFAULT_LANGUAGE)


def _(msgid: str, **params: Any) -> Text:
    """Mark a user-facing string; ``{name}`` placeholders are filled from ``params``."""
    return Text(msgid, params)


def N_(msgid: str) -> str:
    """Mark a msgid for extraction without translating it now (code-list labels)."""
    return msgid


@dataclass(frozen=True)
class ContextText(Text):
    """A :class:`Text` whose msgid is looked up within a context (gettext's ``msgctxt``):
    the same English word may need another Chinese term on a form ("School" is 就读学校
    in the ledger's column, 学校 elsewhere)."""

    context: str = ""

    def render(self, lang: str | None = None) -> str:
        rendered = {
            k: (v.render(lang) if isinstance(v, Text) else v) for k, v in self.params.items()
        }
        template = pgettext_for(lang, self.context, self.msgid)
        return template.format(**rendered) if rendered else template


def p_(context: str, msgid: str, **params: Any) -> ContextText:
    """Mark a user-facing string with its context (extraction keyword ``p_:1c,2``)."""
    return ContextText(msgid, params, context=context)
