"""Chinese that reads like the county's own: no English word left in any Chinese message.

Two checks. Here, every msgstr of the zh_Hans catalog is read for English words outside the
allow-list of proper tokens (``tests.zh_check.PROPER``). At the end of every run, the
conftest reads in Chinese every message the suite looked up, whatever language its test read
(an msgid missing from the catalog, like an ``_('system')`` inside an f-string that extraction
never saw, reads as its English), and every message the bot sent a reader of Chinese is read
when its test ends.
"""

from __future__ import annotations

from babel.messages.pofile import read_po

from casework.i18n import LOCALES_DIR
from tests import zh_check


def test_no_chinese_message_of_the_catalog_holds_english() -> None:
    with open(LOCALES_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    found = []
    for message in catalog:
        if not message.id:
            continue
        for text in message.string if isinstance(message.string, tuple) else (message.string,):
            if zh_check.template_words(text):
                found.append(f"{message.id!r} → {text!r}")
    assert found == []


def test_the_reading_catches_what_issue_12_found() -> None:
    assert zh_check.problems(["已上报 → 县级督办 — system"]) == ["['system']: '已上报 → 县级督办 — system'"]
    assert zh_check.template_words("{day} {what}{detail} — system") == ["system"]
    # proper tokens, commands, files, links and placeholders are not English left behind
    assert zh_check.template_words("请用 /report 上报，或下载 {name}.xlsx（PDF、Word）：https://t.me/{bot}?start={code}") == []
    # a message written wholly in English (a reader who switched language) is not read
    assert zh_check.problems(["Welcome! To finish joining, share your phone number."]) == []
    # a policy file's setting, quoted to the officer who must edit it, is not English prose
    assert zh_check.problems(["请在政策文件中添加（calendar.extra_holidays）"]) == []
    assert zh_check.problems(["请在政策文件中添加 holidays"]) == ["['holidays']: '请在政策文件中添加 holidays'"]


def test_a_grade_and_a_day_keep_their_chinese_through_the_outbox() -> None:
    """An outbox row renders when sent: the grade numeral (七) and the day (12月14日) travel
    as what they are, not as their English msgid."""
    from datetime import date

    from casework.i18n import _
    from casework.labels import day_text, grade_text
    from casework.outbox import text_from_json, text_to_json

    sent = text_from_json(text_to_json(_("due {date}", date=day_text(date(2026, 12, 14)))))
    klass = text_from_json(text_to_json(_("Grade {grade} Class {section}", grade=grade_text(7), section=1)))
    assert klass.render("zh_Hans") == "七年级（1）班" and klass.render("en") == "Grade 7 Class 1"
    assert (sent.render("zh_Hans"), sent.render("en")) == ("12月14日前", "due Dec 14")


def test_the_end_of_run_reading_flags_a_message_the_catalog_lacks_but_not_data() -> None:
    from casework import i18n

    zh = i18n.translations("zh_Hans")
    zh = getattr(zh, "_real", zh)  # the catalog itself: reading it here is not a lookup of the suite's
    # "forgotten": a msgid no extraction saw (as `_('system')` inside an f-string once was)
    seen = {(None, "forgotten"), (None, "Nov 23, 2026"), (None, "丁晴岩 · Grade 7 Class 1"), (None, "Cancel"),
            ("grade", "7")}
    assert zh_check.untranslated(seen, zh) == ["['forgotten']: 'forgotten' → 'forgotten'"]
