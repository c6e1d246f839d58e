"""English left in a Chinese reply: every message (and button) the bot sends a reader whose
language is zh_Hans, as it is sent, is read for English words.

The conftest's harness collects the texts (``observe``) and fails the test that produced an
English word outside :data:`PROPER` (file formats, product names, words a county officer
writes in Latin letters anyway). A word the user typed and the bot echoes is theirs, not
English the bot wrote: the harness skips messages the user's own input came back in only
through :data:`PROPER`'s rule, so keep test input Chinese where it is echoed. A text with no
Chinese character at all is not read (written in English: its reader switched language
during the test); the language picker's own English is allowed (:data:`BILINGUAL`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# tokens a Chinese reader reads as they are
PROPER = frozenset({
    "PDF", "DOCX", "XLSX", "CSV", "Word", "Excel", "WPS", "ID", "OK", "Telegram", "Bot", "API",
    "TOML", "SVG", "PNG", "JPG", "GPS", "UTC", "ISO", "MB", "GBK", "UTF", "xlsx", "docx", "pdf", "csv",
}) | frozenset({
    # what an operator types in a policy file or a command, quoted back to them as written
    "true", "false", "state", "name", "ladder", "suspected", "enrolment", "datian", "Asia",
    "Shanghai", "month", "quarter", "chinesecalendar", "document", "bodies",
})
_SKIP = re.compile(
    r"(?:https?://|t\.me/)\S+"  # links
    r"|/[a-z_]+(?:@\w+)?(?: (?:new|sample|month|quarter))?"  # commands, with their sub-command
    r"|\b[A-Z]+(?:_[A-Z]+)+\b"  # setting names (CONSOLE_URL)
    r"|\b[a-z]+(?:\.[a-z]+)*(?:_[a-z]+)+\b"  # a policy file's settings (calendar.extra_holidays)
    r"|\bbaoxue(?: [a-z_-]+)+"  # an operator's command line, quoted (baoxue policy check)
    r"|\b[\w.-]+\.(?:xlsx|docx|pdf|csv|svg|png|jpg|toml)\b"  # file names
    r"|[\w.+-]+@[\w-]+\.[\w.]+"  # e-mail addresses
    r"|\b[A-Za-z]{2,3}-\d[\w-]*"  # references like QS-2026-…
    r"|\b(?:[A-Z]\d+|\d+[A-Za-z])\w*\b",  # codes mixing letters and digits (G4305…, 3rd)
)
_WORD = re.compile(r"[A-Za-z]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# the language picker speaks both languages on purpose: 选择语言 / Choose your language, English
BILINGUAL = ("选择语言 / Choose your language", "Language / 语言", "语言 / Language",
             "Choose your language", "Language", "English", "中文")


def texts_of(event: Any) -> list[str]:
    """The message's text and its buttons' labels."""
    found = [event.text or ""]
    markup = event.reply_markup or {}
    for row in markup.get("inline_keyboard", []) + markup.get("keyboard", []):
        for button in row:
            found.append(button.get("text", "") if isinstance(button, dict) else str(button))
    return found


def english_words(text: str) -> list[str]:
    """The English words of a Chinese text. A text without a Chinese character is not
    read: it was written in English (a reader who switched language during the test)."""
    for phrase in BILINGUAL:
        text = text.replace(phrase, " ")
    if not _CJK.search(text):
        return []
    return [w for w in _WORD.findall(_SKIP.sub(" ", text)) if w not in PROPER]


# a date as files write it (2026-12-14): a chat writes 12月14日 (casework.labels.day_text)
_ISO_DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")
_FILE_NAME = re.compile(r"[\w.\u4e00-\u9fff-]+\.(?:xlsx|docx|pdf|csv|svg|png|jpg|toml|zip)\b")


# a sentence showing what to type (请按…的格式, …这样的日期) may show the ISO form people type
_SENTENCE = re.compile(r"[^。！？\n]+")
_SYNTAX = ("格式", "这样的日期")


def iso_dates(texts: Iterable[str]) -> list[str]:
    """Each Chinese text with a date written as files write it: outside a file name and a
    sentence that shows the syntax to type."""
    found = []
    for text in texts:
        if not _CJK.search(text):
            continue
        said = (s for s in _SENTENCE.findall(_FILE_NAME.sub(" ", text)) if not any(w in s for w in _SYNTAX))
        if any(_ISO_DATE.search(s) for s in said):
            found.append(repr(text))
    return list(dict.fromkeys(found))


def problems(texts: Iterable[str]) -> list[str]:
    """Each text with English in it, with the words."""
    found = []
    for text in texts:
        words = english_words(text)
        if words:
            found.append(f"{sorted(set(words))}: {text!r}")
    return list(dict.fromkeys(found))


# --- every msgid the suite looked up, read in Chinese ---------------------------------------

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_IDENTIFIER = re.compile(r"\b[a-z]+(?:\.[a-z]+)*(?:_[a-z]+)+\b|\[[a-z_.]+\]")  # round_interval, calendar.extra_holidays, [enrolment]


def template_words(template: str) -> list[str]:
    """English words in a Chinese template (placeholders, commands and setting names aside)."""
    text = _IDENTIFIER.sub(" ", _PLACEHOLDER.sub(" ", _SKIP.sub(" ", template)))
    for phrase in BILINGUAL:
        text = text.replace(phrase, " ")
    return [w for w in _WORD.findall(text) if w not in PROPER]


class Recording:
    """Stands in for a gettext catalog: answers as it does, and notes each msgid asked for
    (in whatever language the test reads), so the session can read them all in Chinese."""

    def __init__(self, real: Any, seen: set[tuple[str | None, str]]) -> None:
        self._real, self._seen = real, seen

    def gettext(self, msgid: str) -> str:
        self._seen.add((None, msgid))
        return str(self._real.gettext(msgid))

    def pgettext(self, context: str, msgid: str) -> str:
        self._seen.add((context, msgid))
        return str(self._real.pgettext(context, msgid))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self._seen.add((None, singular))
        return str(self._real.ngettext(singular, plural, n))


_DATA = re.compile(r"[\u4e00-\u9fff\d{]")


def untranslated(seen: Iterable[tuple[str | None, str]], zh: Any) -> list[str]:
    """Each looked-up msgid whose Chinese still holds English. A msgid the catalog lacks
    reads as itself: flagged when it is words only ("system", an ``_()`` that extraction
    never saw); one with a Chinese character, a digit or a placeholder is data already
    rendered and wrapped (a label, a date), not a message."""
    catalog = getattr(zh, "_catalog", {})
    found = []
    for context, msgid in sorted(seen, key=lambda s: (s[0] or "", s[1])):
        key = f"{context}\x04{msgid}" if context else msgid
        if key not in catalog and _DATA.search(msgid):
            continue
        template = zh.pgettext(context, msgid) if context else zh.gettext(msgid)
        words = template_words(template)
        if words:
            found.append(f"{sorted(set(words))}: {msgid!r} → {template!r}")
    return found
