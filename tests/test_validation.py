"""Tests for casework.validation: every accepted form and every reason for a refusal."""

from __future__ import annotations

from datetime import date

import pytest

from casework import validation as v
from casework.errors import ValidationError

TODAY = date(2026, 11, 21)

_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def make_id(region: str = "350425", birth: str = "20150101", sequence: str = "996") -> str:
    """An invented resident ID number with a correct ISO 7064 MOD 11-2 check digit.

    The sequence codes 996-999 are the ones set aside for centenarians, so with a child's
    birth date these numbers are not anyone's.
    """
    body = region + birth + sequence
    check = (12 - sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


ID = make_id()  # 350425201501019966
ID_X = make_id(birth="20150301", sequence="996")  # ends in X


def with_wrong_check_digit(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def refusal(excinfo: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    return excinfo.value.field, excinfo.value.render("en")


def test_make_id_helper_agrees_with_known_check_digits() -> None:
    assert ID == "350425201501019966"
    assert ID_X == "35042520150301996X"


# --- resident_id -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (ID, ID),
        (ID_X, ID_X),
        (ID_X.lower(), ID_X),
        ("350425 20150301 996x", ID_X),
        ("  350425201501019966\n", ID),
        ("３５０４２５２０１５０１０１９９６６", ID),  # full-width digits from an input method
        (make_id(region="110101"), make_id(region="110101")),
    ],
)
def test_resident_id_accepts_and_normalizes(typed: str, expected: str) -> None:
    assert v.resident_id(typed) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Please enter the ID number."),
        ("   ", "Please enter the ID number."),
        (ID[:17], "An ID number has 18 characters; this one has 17."),
        (ID[:15], "An ID number has 18 characters; this one has 15."),
        (ID + "1", "An ID number has 18 characters; this one has 19."),
        (ID[:17] + "A", "An ID number is 17 digits followed by a digit or X."),
        ("X" + ID[1:], "An ID number is 17 digits followed by a digit or X."),
        (with_wrong_check_digit(ID), "The ID number's check digit is wrong."),
        (with_wrong_check_digit(ID_X), "The ID number's check digit is wrong."),
        (make_id(birth="20150230"), "The birth date inside the ID number is not a real date."),
        (make_id(birth="20151301"), "The birth date inside the ID number is not a real date."),
        (
            make_id(region="999999"),
            "The first six digits of the ID number are not a region code in use at that birth date.",
        ),
        (
            # Chongwen District, Beijing: merged away in 2010, so no child born in 2015 has it.
            make_id(region="110103"),
            "The first six digits of the ID number are not a region code in use at that birth date.",
        ),
    ],
)
def test_resident_id_refusals(typed: str, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.resident_id(typed)
    assert refusal(err) == ("id_number", reason)


def test_resident_id_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.resident_id("123", field="guardian_id_number")
    assert err.value.field == "guardian_id_number"


# --- birth date in the ID ----------------------------------------------------------------


def test_birth_date_from_resident_id() -> None:
    assert v.birth_date_from_resident_id(ID) == date(2015, 1, 1)
    assert v.birth_date_from_resident_id(ID_X.lower()) == date(2015, 3, 1)


def test_birth_date_from_resident_id_refuses_an_invalid_number() -> None:
    with pytest.raises(ValidationError) as err:
        v.birth_date_from_resident_id(with_wrong_check_digit(ID))
    assert refusal(err) == ("id_number", "The ID number's check digit is wrong.")


def test_check_birth_date_matches_id_accepts_the_same_date() -> None:
    v.check_birth_date_matches_id(date(2015, 1, 1), ID)
    v.check_birth_date_matches_id(date(2015, 3, 1), ID_X.lower())


def test_check_birth_date_matches_id_refuses_another_date() -> None:
    with pytest.raises(ValidationError) as err:
        v.check_birth_date_matches_id(date(2015, 1, 2), ID)
    assert refusal(err) == (
        "birth_date",
        "The birth date Jan 2, 2015 does not match the ID number, which says Jan 1, 2015.",
    )


def test_check_birth_date_matches_id_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.check_birth_date_matches_id(date(2015, 1, 2), ID, field="dob")
    assert err.value.field == "dob"


# --- student_number ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("G" + ID, "G" + ID),
        ("g" + ID_X.lower(), "G" + ID_X),
        ("G 350425 20150101 9966", "G" + ID),
        ("J12345678901234567A", "J12345678901234567A"),
        ("l1234567890abcdefgh", "L1234567890ABCDEFGH"),
        ("Ｌ１２３４５６７８９０ＡＢＣＤＥＦＧＨ", "L1234567890ABCDEFGH"),
    ],
)
def test_student_number_accepts_and_normalizes(typed: str, expected: str) -> None:
    assert v.student_number(typed) == expected


def test_student_number_g_must_equal_the_students_id_number() -> None:
    assert v.student_number("G" + ID_X, id_number=ID_X.lower()) == "G" + ID_X
    with pytest.raises(ValidationError) as err:
        v.student_number("G" + ID, id_number=ID_X)
    assert refusal(err) == (
        "student_number",
        "The student number does not match the student's ID number.",
    )


def test_student_number_j_and_l_ignore_the_id_number() -> None:
    assert v.student_number("J" + "1" * 18, id_number=ID) == "J" + "1" * 18


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Please enter the student number."),
        ("X" + ID, "A student number starts with G, J or L."),
        (ID + "1", "A student number starts with G, J or L."),
        (
            "G" + ID[:17],
            "A student number has 19 characters (a letter and 18 more); this one has 18.",
        ),
        (
            "J" + "1" * 19,
            "A student number has 19 characters (a letter and 18 more); this one has 20.",
        ),
        ("J" + "1" * 17 + "-", "After J or L, a student number has only digits and letters."),
        ("L" + "1" * 17 + "张", "After J or L, a student number has only digits and letters."),
        (
            "G" + with_wrong_check_digit(ID),
            "The ID number inside the student number is wrong: "
            "The ID number's check digit is wrong.",
        ),
        (
            "G" + make_id(birth="20150230"),
            "The ID number inside the student number is wrong: "
            "The birth date inside the ID number is not a real date.",
        ),
        (
            "G" + ID[:17] + "A",
            "The ID number inside the student number is wrong: "
            "An ID number is 17 digits followed by a digit or X.",
        ),
    ],
)
def test_student_number_refusals(typed: str, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.student_number(typed)
    assert refusal(err) == ("student_number", reason)


def test_student_number_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.student_number("G" + with_wrong_check_digit(ID), field="xjh")
    assert err.value.field == "xjh"


# --- phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("(+86) 13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("19900000000", "19900000000"),
        ("0591-12345678", "0591-12345678"),
        ("059112345678", "0591-12345678"),
        ("0591 1234 5678", "0591-12345678"),
        ("(0591) 12345678", "0591-12345678"),
        ("（0591）12345678", "0591-12345678"),
        ("(0591)-12345678", "0591-12345678"),
        ("(010)12345678", "010-12345678"),
        ("０５９１－１２３４５６７８", "0591-12345678"),
        ("0591-2345678", "0591-2345678"),
        ("010-12345678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("021 12345678", "021-12345678"),
        ("02912345678", "029-12345678"),
        ("0591-12345678-801", "0591-12345678-801"),
        ("0591-12345678转801", "0591-12345678-801"),
    ],
)
def test_phone_accepts_and_normalizes(typed: str, expected: str) -> None:
    assert v.phone(typed) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Please enter a phone number."),
        ("  ", "Please enter a phone number."),
        (
            "138-0013-800a",
            "A phone number can contain only digits, spaces, dashes and brackets.",
        ),
        ("call me", "A phone number can contain only digits, spaces, dashes and brackets."),
        ("12800138000", "A mobile number has 11 digits and starts with 13 to 19."),
        ("1380013800", "A mobile number has 11 digits and starts with 13 to 19."),
        ("138001380001", "A mobile number has 11 digits and starts with 13 to 19."),
        ("+86 12345", "A mobile number has 11 digits and starts with 13 to 19."),
        (
            "0591-123456",
            "A landline number is the area code (010, 02x or four digits starting with 0) "
            "and 7 or 8 digits, like 0591-12345678.",
        ),
        (
            "0591-123456789",
            "A landline number is the area code (010, 02x or four digits starting with 0) "
            "and 7 or 8 digits, like 0591-12345678.",
        ),
        (
            "0591-12345678-",
            "A landline number is the area code (010, 02x or four digits starting with 0) "
            "and 7 or 8 digits, like 0591-12345678.",
        ),
        ("12345678", "Please add the area code to the landline number, like 0591-12345678."),
        ("2345678", "Please add the area code to the landline number, like 0591-12345678."),
        (
            "0591(12345678)",
            "A landline number is the area code (010, 02x or four digits starting with 0) "
            "and 7 or 8 digits, like 0591-12345678.",
        ),
        (
            "55555",
            "This is neither a mobile number (11 digits) nor a landline number with its area code.",
        ),
        (
            "9999999999999",
            "This is neither a mobile number (11 digits) nor a landline number with its area code.",
        ),
    ],
)
def test_phone_refusals(typed: str, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.phone(typed)
    assert refusal(err) == ("phone", reason)


def test_phone_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.phone("123", field="guardian_phone")
    assert err.value.field == "guardian_phone"


# --- parse_date --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "2026-11-21",
        "2026/11/21",
        "2026.11.21",
        "2026年11月21日",
        "2026年11月21号",
        "2026年11月21",
        " 2026 年 11 月 21 日 ",
        "２０２６／１１／２１",
        "11-21",
        "11/21",
        "11.21",
        "11月21日",
        "11月21号",
        "今天",
        "today",
        "Today",
    ],
)
def test_parse_date_forms_for_today(typed: str) -> None:
    assert v.parse_date(typed, today=TODAY) == TODAY


@pytest.mark.parametrize("typed", ["昨天", "yesterday", "YESTERDAY", "2026-11-20", "11-20"])
def test_parse_date_forms_for_yesterday(typed: str) -> None:
    assert v.parse_date(typed, today=TODAY) == date(2026, 11, 20)


def test_parse_date_single_digit_month_and_day() -> None:
    assert v.parse_date("2026-1-5", today=TODAY) == date(2026, 1, 5)
    assert v.parse_date("1/5", today=TODAY) == date(2026, 1, 5)
    assert v.parse_date("1月5日", today=TODAY) == date(2026, 1, 5)


@pytest.mark.parametrize(
    ("typed", "today", "expected"),
    [
        ("12-30", date(2027, 1, 2), date(2026, 12, 30)),
        ("11-22", TODAY, date(2025, 11, 22)),
        ("01-01", TODAY, date(2026, 1, 1)),
        ("02-29", date(2027, 1, 2), date(2024, 2, 29)),
    ],
)
def test_parse_date_month_day_takes_the_latest_past_date(
    typed: str, today: date, expected: date
) -> None:
    assert v.parse_date(typed, today=today) == expected


@pytest.mark.parametrize(
    ("typed", "today", "expected"),
    [
        ("11-21", TODAY, TODAY),
        ("11-22", TODAY, date(2026, 11, 22)),
        ("11-20", TODAY, date(2027, 11, 20)),
        ("01-02", date(2026, 12, 30), date(2027, 1, 2)),
        ("02-29", date(2027, 1, 2), date(2028, 2, 29)),
    ],
)
def test_parse_date_month_day_with_future_allowed_takes_the_next_date(
    typed: str, today: date, expected: date
) -> None:
    assert v.parse_date(typed, today=today, allow_future=True) == expected


def test_parse_date_future_date_when_allowed() -> None:
    assert v.parse_date("2027-03-01", today=TODAY, allow_future=True) == date(2027, 3, 1)


def test_parse_date_max_past_days_is_inclusive() -> None:
    assert v.parse_date("2026-10-22", today=TODAY, max_past_days=30) == date(2026, 10, 22)


@pytest.mark.parametrize(
    ("typed", "allow_future", "max_past_days", "reason"),
    [
        ("", False, None, "Please enter a date."),
        ("   ", False, None, "Please enter a date."),
        ("21日", False, None, "Please write the date like 2026-11-21, 11-21 or 11月21日."),
        ("next week", False, None, "Please write the date like 2026-11-21, 11-21 or 11月21日."),
        ("明天", False, None, "Please write the date like 2026-11-21, 11-21 or 11月21日."),
        ("2026-11/21", False, None, "Please write the date like 2026-11-21, 11-21 or 11月21日."),
        ("26-11-21", False, None, "Please write the date like 2026-11-21, 11-21 or 11月21日."),
        ("2026-011-21", False, None, "Please write the date like 2026-11-21, 11-21 or 11月21日."),
        ("02-30", False, None, "There is no such date as 02-30."),
        ("13月1日", False, None, "There is no such date as 13月1日."),
        ("2026-02-29", False, None, "There is no such date as 2026-02-29."),
        ("2026-04-31", True, None, "There is no such date as 2026-04-31."),
        ("2026-11-22", False, None, "The date Nov 22, 2026 is in the future."),
        ("2027年1月1日", False, None, "The date Jan 1, 2027 is in the future."),
        (
            "2026-10-21",
            False,
            30,
            "The date Oct 21, 2026 is too far back; at most 30 days ago is allowed.",
        ),
        (
            "11-22",
            False,
            30,
            "The date Nov 22, 2025 is too far back; at most 30 days ago is allowed.",
        ),
        (
            "yesterday",
            False,
            0,
            "The date Nov 20, 2026 is too far back; at most 0 days ago is allowed.",
        ),
    ],
)
def test_parse_date_refusals(
    typed: str, allow_future: bool, max_past_days: int | None, reason: str
) -> None:
    with pytest.raises(ValidationError) as err:
        v.parse_date(typed, today=TODAY, allow_future=allow_future, max_past_days=max_past_days)
    assert refusal(err) == ("date", reason)


def test_parse_date_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.parse_date("soon", today=TODAY, field="visit_date")
    assert err.value.field == "visit_date"


# --- age_on and birth_date ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(2015, 1, 1), date(2026, 11, 21), 11),
        (date(2015, 11, 21), date(2026, 11, 21), 11),
        (date(2015, 11, 22), date(2026, 11, 21), 10),
        (date(2016, 2, 29), date(2025, 2, 28), 8),
        (date(2016, 2, 29), date(2025, 3, 1), 9),
        (date(2016, 2, 29), date(2024, 2, 29), 8),
        (date(2026, 11, 21), date(2026, 11, 21), 0),
    ],
)
def test_age_on(birth: date, today: date, age: int) -> None:
    assert v.age_on(birth, today) == age


@pytest.mark.parametrize(
    "birth",
    [date(2021, 11, 21), date(2015, 1, 1), date(2009, 11, 22), date(2009, 11, 21)],
)
def test_birth_date_accepts_school_ages(birth: date) -> None:
    assert v.birth_date(birth, today=TODAY) == birth


@pytest.mark.parametrize(
    ("birth", "reason"),
    [
        (
            date(2021, 11, 22),
            "A child born on Nov 22, 2021 is 4 years old; only ages 5 to 17 can be recorded.",
        ),
        (
            date(2008, 11, 21),
            "A child born on Nov 21, 2008 is 18 years old; only ages 5 to 17 can be recorded.",
        ),
        (
            date(1015, 1, 1),
            "A child born on Jan 1, 1015 is 1011 years old; only ages 5 to 17 can be recorded.",
        ),
        (date(2026, 11, 22), "The birth date Nov 22, 2026 is in the future."),
    ],
)
def test_birth_date_refusals(birth: date, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.birth_date(birth, today=TODAY)
    assert refusal(err) == ("birth_date", reason)


def test_birth_date_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.birth_date(date(2000, 1, 1), today=TODAY, field="dob")
    assert err.value.field == "dob"


# --- person_name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜 ", "欧阳娜娜"),
        ("\t张三\n", "张三"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽•买买提"),
        ("𠮷田", "𠮷田"),  # an Extension B character, as rare names need
        ("Mary-Jane  O'Neil", "Mary-Jane O'Neil"),
        ("O’Brien", "O’Brien"),
        ("José Müller", "José Müller"),
        ("Lü Xiaoming", "Lü Xiaoming"),
        ("张\u3000三", "张 三"),
        ("王" * 40, "王" * 40),
    ],
)
def test_person_name_accepts_and_tidies(typed: str, expected: str) -> None:
    assert v.person_name(typed) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Please enter a name."),
        (" \n ", "Please enter a name."),
        ("张三1", "A name cannot contain digits."),
        ("张三３", "A name cannot contain digits."),
        ("张\x00三", "The name contains an invisible control character."),
        ("张三\u200b", "The name contains an invisible control character."),
        ("\u202e张三", "The name contains an invisible control character."),
        ("张三!", "A name cannot contain “!”."),
        ("张三@example", "A name cannot contain “@”."),
        ("Иван", "A name cannot contain “И”."),
        ("王" * 41, "A name can be at most 40 characters long."),
        ("·", "A name needs at least one letter or Chinese character."),
        ("- '", "A name needs at least one letter or Chinese character."),
    ],
)
def test_person_name_refusals(typed: str, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.person_name(typed)
    assert refusal(err) == ("name", reason)


def test_person_name_reports_the_given_field() -> None:
    with pytest.raises(ValidationError) as err:
        v.person_name("", field="guardian_name")
    assert err.value.field == "guardian_name"


# --- free_text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  家访已完成。 ", "家访已完成。"),
        ("line one\n\tline two", "line one\n\tline two"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("family 👨\u200d👩\u200d👧 visited", "family 👨\u200d👩\u200d👧 visited"),
    ],
)
def test_free_text_accepts_and_trims(typed: str, expected: str) -> None:
    assert v.free_text(typed, field="note") == expected


def test_free_text_optional_may_be_empty() -> None:
    assert v.free_text("  \n ", field="note", required=False) == ""


def test_free_text_length_limit_is_inclusive() -> None:
    assert v.free_text("12345", field="note", max_len=5) == "12345"


@pytest.mark.parametrize(
    ("typed", "required", "max_len", "reason"),
    [
        ("", True, 1000, "This cannot be left empty."),
        (" \n\t ", True, 1000, "This cannot be left empty."),
        ("bell\x07", True, 1000, "The text contains an invisible control character."),
        ("a\x00b", False, 1000, "The text contains an invisible control character."),
        ("123456", True, 5, "This text has 6 characters; at most 5 are allowed."),
        ("x" * 1001, True, 1000, "This text has 1001 characters; at most 1000 are allowed."),
    ],
)
def test_free_text_refusals(typed: str, required: bool, max_len: int, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.free_text(typed, field="note", max_len=max_len, required=required)
    assert refusal(err) == ("note", reason)
