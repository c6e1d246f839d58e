"""Validation of everything a person types in, shared by the bot, the CLI and imports.

Every function is pure: it returns the cleaned, normalized value or raises
:class:`~casework.errors.ValidationError` naming the field and a reason the person can act
on. Input from Chinese input methods often carries full-width digits and punctuation
("１３８", "２０２６／１１／２１"), so number-like values are NFKC-normalized first.
Nothing here reads the clock: callers pass ``today`` in the policy's time zone.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from casework.errors import NotFound, ValidationError
from casework.i18n import _
from casework.labels import date_text

MIN_SCHOOL_AGE = 5
MAX_SCHOOL_AGE = 17
MAX_NAME_LENGTH = 40

_RESIDENT_ID = re.compile(r"\d{17}[\dX]")
_STUDENT_NUMBER_TAIL = re.compile(r"[0-9A-Z]{18}")

# Mainland mobile numbers, with the country code written in any of its usual forms.
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
# Area codes are 010 (Beijing), 02x (the large cities) or 0 + three digits; fixing the
# length this way is what makes "059112345678" unambiguous without a separator.
_LANDLINE = re.compile(
    r"(?P<area>0(?:10|2\d|[3-9]\d{2}))-?(?P<local>\d{7,8})(?:(?:-|转)(?P<ext>\d{1,6}))?"
)
_PHONE_CHARS = re.compile(r"[0-9()+\-转]+")
_BRACKETED_AREA = re.compile(r"^\((0\d{2,3})\)-?")

_DATE_FORMS = (
    re.compile(r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?"),
    re.compile(r"(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"),
    re.compile(r"(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?"),
)
_DAYS_BACK = {"今天": 0, "today": 0, "昨天": 1, "yesterday": 1}

# Han ideographs: Extension A, the main block, compatibility ideographs, and planes 2-3,
# which Unicode reserves for ideographs (rare characters in names live there).
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
# Separators in names: middle dots of minority names (as typed by different input
# methods), space, hyphen and the straight and typographic apostrophes.
_NAME_SEPARATORS = frozenset("·• -'’")


def _compact(value: str) -> str:
    """Full-width to ASCII, no whitespace at all, upper case: the form IDs are kept in."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def resident_id(value: str, *, field: str = "id_number") -> str:
    """Check an 18-character resident ID number and return it in upper case without spaces.

    The check digit, the birth date and the region code are checked by ``stdnum.cn.ric``
    one step at a time, so that the person is told which part is wrong.
    """
    number = _compact(value)
    if not number:
        raise ValidationError(field, _("Please enter the ID number."))
    if len(number) != 18:
        raise ValidationError(
            field,
            _("An ID number has 18 characters; this one has {length}.", length=len(number)),
        )
    if not _RESIDENT_ID.fullmatch(number):
        raise ValidationError(field, _("An ID number is 17 digits followed by a digit or X."))
    if number[-1] != ric.calc_check_digit(number):
        raise ValidationError(field, _("The ID number's check digit is wrong."))
    try:
        ric.get_birth_date(number)
    except InvalidComponent:
        raise ValidationError(
            field, _("The birth date inside the ID number is not a real date.")
        ) from None
    try:
        ric.get_birth_place(number)
    except (InvalidComponent, KeyError):  # stdnum raises KeyError for an unknown prefecture
        raise ValidationError(
            field,
            _(
                "The first six digits of the ID number are not a region code "
                "in use at that birth date."
            ),
        ) from None
    return number


def birth_date_from_resident_id(id_number: str) -> date:
    """The birth date written in a resident ID number (validated first)."""
    return ric.get_birth_date(resident_id(id_number))


def gender_from_resident_id(id_number: str) -> str:
    """The gender a validated resident ID number gives: its 17th digit, odd for male and
    even for female (GB 11643)."""
    return "male" if int(id_number[16]) % 2 else "female"


def check_birth_date_matches_id(birth: date, id_number: str, *, field: str = "birth_date") -> None:
    """Refuse a birth date that contradicts the ID number: one of the two is mistyped."""
    in_id = birth_date_from_resident_id(id_number)
    if birth != in_id:
        raise ValidationError(
            field,
            _(
                "The birth date {date} does not match the ID number, which says {id_date}.",
                date=date_text(birth),
                id_date=date_text(in_id),
            ),
        )


def student_number(
    value: str, *, id_number: str | None = None, field: str = "student_number"
) -> str:
    """Check a national student number (全国学籍号) and return it in upper case.

    "G" numbers are the letter G and the student's resident ID number, so the ID part is
    fully checked and, when the student's ID number is known, must be that number. "J" and
    "L" numbers are issued to students without an ID number; only their format is known.
    """
    number = _compact(value)
    if not number:
        raise ValidationError(field, _("Please enter the student number."))
    if number[0] not in "GJL":
        raise ValidationError(field, _("A student number starts with G, J or L."))
    if len(number) != 19:
        raise ValidationError(
            field,
            _(
                "A student number has 19 characters (a letter and 18 more); this one has {length}.",
                length=len(number),
            ),
        )
    tail = number[1:]
    if number[0] != "G":
        if not _STUDENT_NUMBER_TAIL.fullmatch(tail):
            raise ValidationError(
                field, _("After J or L, a student number has only digits and letters.")
            )
        return number
    try:
        resident_id(tail, field=field)
    except ValidationError as err:
        raise ValidationError(
            field, _("The ID number inside the student number is wrong: {reason}", reason=err.text)
        ) from None
    if id_number is not None and tail != _compact(id_number):
        raise ValidationError(
            field, _("The student number does not match the student's ID number.")
        )
    return number


def phone(value: str, *, field: str = "phone") -> str:
    """Normalize a mainland phone number: mobiles to 11 digits, landlines to "0591-12345678".

    A landline extension is kept as a third part ("0591-12345678-801"); "转" is accepted as
    its separator because that is how it is usually written.
    """
    text = "".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        raise ValidationError(field, _("Please enter a phone number."))
    if not _PHONE_CHARS.fullmatch(text):
        raise ValidationError(
            field, _("A phone number can contain only digits, spaces, dashes and brackets.")
        )
    bare = re.sub(r"[()\-]", "", text)
    mobile = _MOBILE.fullmatch(bare)
    if mobile:
        return mobile.group(1)
    landline = _LANDLINE.fullmatch(_BRACKETED_AREA.sub(r"\1-", text))
    if landline:
        normalized = f"{landline['area']}-{landline['local']}"
        return f"{normalized}-{landline['ext']}" if landline["ext"] else normalized
    if bare.startswith("0") and not bare.startswith("0086"):
        raise ValidationError(
            field,
            _(
                "A landline number is the area code (010, 02x or four digits starting with 0) "
                "and 7 or 8 digits, like 0591-12345678."
            ),
        )
    if bare.isdigit() and 7 <= len(bare) <= 8:
        raise ValidationError(
            field, _("Please add the area code to the landline number, like 0591-12345678.")
        )
    if bare.startswith(("+", "0086", "86", "1")):
        raise ValidationError(field, _("A mobile number has 11 digits and starts with 13 to 19."))
    raise ValidationError(
        field,
        _("This is neither a mobile number (11 digits) nor a landline number with its area code."),
    )


def parse_date(
    value: str,
    *,
    today: date,
    field: str = "date",
    allow_future: bool = False,
    max_past_days: int | None = None,
) -> date:
    """Read a date the way people type it in a chat, relative to ``today``.

    A month and day without a year mean the latest such date not after today ("12-30" on
    2027-01-02 is 2026-12-30), or the next one from today on when future dates are
    allowed, because that is what a person means when reporting or planning.
    """
    text = "".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        raise ValidationError(field, _("Please enter a date."))
    days_back = _DAYS_BACK.get(text.lower())
    if days_back is not None:
        result = today - timedelta(days=days_back)
    else:
        result = _date_from_text(text, today=today, field=field, allow_future=allow_future)
    if result > today and not allow_future:
        raise ValidationError(
            field, _("The date {date} is in the future.", date=date_text(result))
        )
    if max_past_days is not None and (today - result).days > max_past_days:
        raise ValidationError(
            field,
            _(
                "The date {date} is too far back; at most {days} days ago is allowed.",
                date=date_text(result),
                days=max_past_days,
            ),
        )
    return result


def _date_from_text(text: str, *, today: date, field: str, allow_future: bool) -> date:
    match = next((m for form in _DATE_FORMS if (m := form.fullmatch(text))), None)
    if match is None:
        raise ValidationError(field, _("Please write the date like 2026-11-21, 11-21 or 11月21日."))
    year_written = match.groupdict().get("y")
    month, day = int(match["m"]), int(match["d"])
    try:
        # Without a year, 2000 stands in: a leap year, so every month-day that exists at all.
        written = date(int(year_written) if year_written else 2000, month, day)
    except ValueError:
        raise ValidationError(field, _("There is no such date as {value}.", value=text)) from None
    if year_written:
        return written
    # Walk from this year towards the side that is allowed; 29 February may need a few years.
    step = 1 if allow_future else -1
    year = today.year
    while True:
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and (candidate >= today if allow_future else candidate <= today):
            return candidate
        year += step


# a promise further off than this is almost always a misread date ("11-21" typed on 11-23
# reads as next year's 11-21), and a deadline that far away would stall the ladder
PROMISE_HORIZON_DAYS = 60


def promised_return(
    when: date, *, visit_day: date, today: date, field: str = "promised_return_on", shown: str | None = None,
    horizon: int = PROMISE_HORIZON_DAYS,
) -> date:
    """The date a family promised the child will be back: not before the visit, and at most
    ``horizon`` days from today (the policy's ``promise.max_days``; ``PROMISE_HORIZON_DAYS``
    at most). ``shown`` is the date as the reader writes it (the chat's own format); ISO
    otherwise."""
    if when < visit_day:
        raise ValidationError(field, _("The promised date is before the visit."))
    if (when - today).days > min(horizon, PROMISE_HORIZON_DAYS):
        raise ValidationError(
            field,
            _("{date} is more than {days} days away. Please check the date.",
              date=shown or date_text(when), days=min(horizon, PROMISE_HORIZON_DAYS)),
        )
    return when


def age_on(birth: date, today: date) -> int:
    """Age in whole years; someone born on 29 February gets a year older on 1 March."""
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - int(before_birthday)


def birth_date(value: date, *, today: date, field: str = "birth_date") -> date:
    """Accept a birth date only for a child of compulsory-school age, give or take a year.

    A wrong age is nearly always a mistyped year, so the reason shows the age it gives.
    """
    if value > today:
        raise ValidationError(
            field, _("The birth date {date} is in the future.", date=date_text(value))
        )
    age = age_on(value, today)
    if not MIN_SCHOOL_AGE <= age <= MAX_SCHOOL_AGE:
        raise ValidationError(
            field,
            _(
                "A child born on {date} is {age} years old; only ages {min_age} to {max_age} "
                "can be recorded.",
                date=date_text(value),
                age=age,
                min_age=MIN_SCHOOL_AGE,
                max_age=MAX_SCHOOL_AGE,
            ),
        )
    return value


def _is_han(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _HAN_RANGES)


def _is_name_letter(char: str) -> bool:
    return _is_han(char) or (char.isalpha() and "LATIN" in unicodedata.name(char, ""))


def person_name(value: str, *, field: str = "name") -> str:
    """Check a person's name and return it with whitespace tidied.

    The characters are otherwise kept exactly as typed (no Unicode normalization), so a
    name still matches the household register character for character.
    """
    if any(unicodedata.category(ch) in ("Cc", "Cf") and not ch.isspace() for ch in value):
        raise ValidationError(field, _("The name contains an invisible control character."))
    name = " ".join(value.split())
    if not name:
        raise ValidationError(field, _("Please enter a name."))
    if any(ch.isdigit() for ch in name):
        raise ValidationError(field, _("A name cannot contain digits."))
    for ch in name:
        if ch not in _NAME_SEPARATORS and not _is_name_letter(ch):
            raise ValidationError(field, _("A name cannot contain “{char}”.", char=ch))
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            field,
            _("A name can be at most {max} characters long.", max=MAX_NAME_LENGTH),
        )
    if all(ch in _NAME_SEPARATORS for ch in name):
        raise ValidationError(field, _("A name needs at least one letter or Chinese character."))
    return name


def free_text(value: str, *, field: str, max_len: int = 1000, required: bool = True) -> str:
    """Check a note or description: trimmed, line breaks unified, no hidden control characters."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        if required:
            raise ValidationError(field, _("This cannot be left empty."))
        return ""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise ValidationError(field, _("The text contains an invisible control character."))
    if len(text) > max_len:
        raise ValidationError(
            field,
            _(
                "This text has {length} characters; at most {max_len} are allowed.",
                length=len(text),
                max_len=max_len,
            ),
        )
    return text


# Row ids are INTEGER columns (PostgreSQL's is 32-bit); a larger number is no row of ours,
# and binding it is an error on PostgreSQL (and an overflow on SQLite past 2**63).
MAX_ID = 2**31 - 1


def parse_id(text: str) -> int | None:
    """A row id typed by a person or carried in callback data, or None.

    ASCII digits only: ``str.isdigit`` also accepts '²', '①' and other digits ``int()``
    refuses, and a number outside the id column's range names no row.
    """
    if not text or len(text) > len(str(MAX_ID)) or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def case_number(text: str) -> int | None:
    """A case number as typed after a command ("12", "#12"): the id, or None when the text
    is no number at all. A number no case can have (0, or past the id column's range) is
    refused as no such case."""
    raw = text.strip().lstrip("#")
    case_id = parse_id(raw)
    if case_id is None and raw.isascii() and raw.isdigit():
        raise NotFound(_("There is no case #{id}.", id=quote(raw, 24)))
    return case_id


# C0 control characters but tab, line feed and carriage return, and DEL: nothing a person
# means to write; PostgreSQL refuses NUL in any text or JSON value
_CONTROL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def clean_text(text: str) -> str:
    """What a person wrote, without control characters (NUL and the like)."""
    return text.translate(_CONTROL)


def quote(text: str, limit: int = 60) -> str:
    """User text to be repeated back in a reply, at most ``limit`` characters: a reply that
    quotes a 4,096-character message whole is longer than Telegram accepts."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
