"""The gettext catalogs are complete, current, consistent and compile.

The source is extracted afresh with the options of the Makefile's ``extract`` target
(its ``BABEL_EXTRACT`` variable, so the two cannot drift apart) and compared with the
committed ``locales/messages.pot`` and the zh_Hans and en catalogs. The fix for most
failures is ``make update-catalogs``, then translating what it added.
"""

from __future__ import annotations

import re
import shlex
import shutil
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from casework import i18n
from casework.labels import duration_text

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / "messages.pot"
LANGUAGES = ("zh_Hans", "en")
STALE = "The catalogs are out of date: run make update-catalogs (and translate what it adds)"
CJK = re.compile(r"[\u3400-\u9fff]")

Key = tuple[str | None, str | tuple[str, ...]]


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


def pybabel(*args: str) -> subprocess.CompletedProcess[str]:
    """``pybabel ARGS`` run from the repository root with this interpreter's Babel."""
    code = "import sys; from babel.messages.frontend import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def makefile_extract_args() -> list[str]:
    """The arguments of ``pybabel`` in ``make extract`` (the BABEL_EXTRACT variable)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(r"^BABEL_EXTRACT\s*:?=(.*)$", makefile, re.MULTILINE)
    assert found, "the Makefile has no BABEL_EXTRACT variable (the options of `make extract`)"
    args = shlex.split(found.group(1))
    assert args[:1] == ["extract"], args
    return args


def entries(catalog: Catalog) -> Iterator[Message]:
    return (m for m in catalog if m.id)


def key(message: Message) -> Key:
    return (message.context, message.id)


def show(k: Key) -> str:
    context, msgid = k
    return repr(msgid) + (f" (context {context!r})" if context else "")


def translated(message: Message, num_plurals: int) -> bool:
    if message.pluralizable:
        forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        return len(forms) >= num_plurals and all(forms[:num_plurals])
    return bool(message.string)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a str.format template (``{{`` and ``}}`` are literal)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def pairs(message: Message, num_plurals: int) -> list[tuple[str, str]]:
    """(source, translation) pairs: each plural form against the msgid it stands for."""
    if not message.pluralizable:
        return [(str(message.id), str(message.string))]
    singular, plural = message.id[0], message.id[1]
    forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    # with one form (Chinese) that form serves every n, so it follows the plural msgid
    return [
        (singular if i == 0 and num_plurals > 1 else plural, form) for i, form in enumerate(forms)
    ]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The msgids the source has now, extracted like ``make extract`` does."""
    out = tmp_path_factory.mktemp("extract") / "messages.pot"
    proc = pybabel(*makefile_extract_args(), "-o", str(out), ".")
    assert proc.returncode == 0, proc.stderr
    catalog = read(out)
    assert any(entries(catalog)), "the extraction found no msgids at all"
    return catalog


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    missing = [rel(po_path(lang)) for lang in LANGUAGES if not po_path(lang).exists()]
    assert not missing, f"{', '.join(missing)} missing: run make update-catalogs"
    return {lang: read(po_path(lang), lang) for lang in LANGUAGES}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_msgid_is_translated(fresh: Catalog, catalogs: dict[str, Catalog], lang: str) -> None:
    catalog = catalogs[lang]
    assert not catalog.fuzzy, (
        f"{rel(po_path(lang))}: the header is marked fuzzy, so pybabel compile skips the catalog"
    )
    problems = []
    for message in entries(fresh):
        have = catalog.get(message.id, context=message.context)
        if have is None or have.pluralizable != message.pluralizable:
            problems.append(f"missing:      {show(key(message))}")
        elif have.fuzzy:
            problems.append(f"fuzzy:        {show(key(message))}")
        elif not translated(have, catalog.num_plurals):
            problems.append(f"untranslated: {show(key(message))}")
    assert not problems, (
        f"{rel(po_path(lang))}: {len(problems)} msgid(s) of the source have no finished "
        f"translation (run make update-catalogs, then translate them):\n" + "\n".join(problems)
    )


def test_catalogs_are_current(fresh: Catalog, catalogs: dict[str, Catalog]) -> None:
    """No obsolete entry and no msgid the source no longer has, in the template or a catalog."""
    wanted = {key(m) for m in entries(fresh)}
    template = read(TEMPLATE)
    problems = []
    not_extracted = wanted - {key(m) for m in entries(template)}
    problems += [f"{rel(TEMPLATE)}: not extracted yet: {show(k)}" for k in sorted(not_extracted, key=str)]
    files = [(rel(TEMPLATE), template)] + [(rel(po_path(lang)), catalogs[lang]) for lang in LANGUAGES]
    for name, catalog in files:
        problems += [f"{name}: obsolete entry (#~): {show(key(m))}" for m in catalog.obsolete.values()]
        gone = {key(m) for m in entries(catalog)} - wanted
        problems += [f"{name}: no longer in the source: {show(k)}" for k in sorted(gone, key=str)]
    assert not problems, STALE + ":\n" + "\n".join(problems)


def test_chinese_catalog_has_no_english_left_in(catalogs: dict[str, Catalog]) -> None:
    """A zh_Hans entry whose text has English words and no Chinese at all is an English
    placeholder, not a translation (the compile statistics count it as translated)."""
    catalog = catalogs["zh_Hans"]
    problems = []
    for message in entries(catalog):
        for _source, translation in pairs(message, catalog.num_plurals):
            words = re.sub(r"\{[^}]*\}", "", translation or "")
            if re.search(r"[A-Za-z]{3,}", words) and not CJK.search(words):
                problems.append(repr(translation))
    assert not problems, (
        f"{rel(po_path('zh_Hans'))}: {len(problems)} entries still read in English:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders(catalogs: dict[str, Catalog], lang: str) -> None:
    catalog = catalogs[lang]
    problems = []
    for message in entries(catalog):
        for source, translation in pairs(message, catalog.num_plurals):
            if not translation:
                continue  # reported by test_every_msgid_is_translated
            try:
                want, got = placeholders(source), placeholders(translation)
            except ValueError as err:  # an unmatched brace: str.format would fail too
                problems.append(f"{source!r} → {translation!r}: {err}")
                continue
            if want != got:
                detail = []
                if want - got:
                    detail.append(f"lost {sorted(want - got)}")
                if got - want:
                    detail.append(f"unknown {sorted(got - want)}")
                problems.append(f"{source!r} → {translation!r}: {', '.join(detail)}")
    assert not problems, (
        f"{rel(po_path(lang))}: translations must keep exactly the {{placeholders}} of their "
        f"msgid:\n" + "\n".join(problems)
    )


def test_compiled_catalogs_render(
    tmp_path: Path, catalogs: dict[str, Catalog], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pybabel compile`` accepts the catalogs, and the .mo files translate at runtime."""
    for lang in LANGUAGES:
        target = tmp_path / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(po_path(lang), target / "messages.po")
    proc = pybabel("compile", "-d", str(tmp_path), "-D", i18n.DOMAIN, "--statistics")
    assert proc.returncode == 0, proc.stderr
    for lang in LANGUAGES:
        assert (tmp_path / lang / "LC_MESSAGES" / "messages.mo").exists(), proc.stderr

    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        zh = i18n.Text("Cancel").render("zh_Hans")
        en = i18n.Text("Cancel").render("en")
        assert CJK.search(zh) and zh != "Cancel", zh
        assert en == catalogs["en"].get("Cancel").string and not CJK.search(en), en
        assert i18n.Text("Cancel").render(None) == zh  # Chinese is the default language
        assert i18n.Text("Cancel").render("zh-CN") == zh
        # plural forms: one Chinese form, two English ones
        assert duration_text(1, "working_days").render("en") == "1 working day"
        assert duration_text(3, "working_days").render("en") == "3 working days"
        three = duration_text(3, "working_days").render("zh_Hans")
        assert "3" in three and CJK.search(three) and "working" not in three, three
    finally:
        i18n.translations.cache_clear()
