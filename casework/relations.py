"""A guardian's relation to the child (与学生关系): codes, labels, and the words rosters use.

The report flow stores these codes; rosters from the student register write words
("父亲", "爷爷", "外婆", "Father"), read here onto the same codes. A word we do not know
is kept as written, so nothing a school typed is lost.
"""

from __future__ import annotations

import unicodedata

from casework.i18n import N_, gettext_for

RELATIONS: dict[str, str] = {
    "father": N_("Father"),
    "mother": N_("Mother"),
    "grandfather": N_("Grandfather"),
    "grandmother": N_("Grandmother"),
    "other": N_("Other relative"),
}

_WORDS: dict[str, str] = {
    "父亲": "father",
    "父": "father",
    "爸爸": "father",
    "father": "father",
    "dad": "father",
    "母亲": "mother",
    "母": "mother",
    "妈妈": "mother",
    "mother": "mother",
    "mum": "mother",
    "mom": "mother",
    "祖父": "grandfather",
    "爷爷": "grandfather",
    "外祖父": "grandfather",
    "外公": "grandfather",
    "grandfather": "grandfather",
    "grandpa": "grandfather",
    "祖母": "grandmother",
    "奶奶": "grandmother",
    "外祖母": "grandmother",
    "外婆": "grandmother",
    "grandmother": "grandmother",
    "grandma": "grandmother",
    "其他": "other",
    "其他亲属": "other",
    "other": "other",
}


def relation_code(word: str) -> str:
    """The code for a relation as a roster writes it; an unknown word is kept as is."""
    clean = " ".join(unicodedata.normalize("NFKC", word).split())
    return _WORDS.get(clean.lower(), clean)


def relation_label(value: str | None, lang: str | None) -> str:
    """The relation in ``lang``; a word kept as written is shown as written."""
    if not value:
        return ""
    msgid = RELATIONS.get(value)
    return gettext_for(lang, msgid) if msgid is not None else value
