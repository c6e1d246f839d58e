"""Roster import: a school's student register (XLSX/CSV export) into our students.

What a school sends is whatever its register system exported: column names vary
("姓名" / "学生姓名" / "Name", "身份证号" / "居民身份证号码"…), a title row may come first,
dates come as dates, numbers or text. This module

1. matches the header row loosely, in Chinese and English (:func:`match_headers`);
2. checks every row as the bot checks typed input (``casework.validation``: ID check
   digit, birth date against the ID, gender against the ID, phone, name) plus the
   roster's own rules: the class must exist at the school, an ID or student number may
   appear once in the file, and a student registered at another school is not taken
   over (:func:`plan`). A child is matched only within the importer's scope: a match
   outside it is a ``transfer`` row, shown only as "needs confirmation from another
   unit" and sent on Confirm as a transfer request the other unit accepts or rejects
   (``casework.transfers``), never moved nor revealed;
3. imports on confirmation in the caller's one transaction (:func:`apply`): every row
   that was valid in the preview, or nothing — if anything differs from the preview when
   it is applied (someone registered one of the children meanwhile), it refuses and the
   unit of work rolls everything back.

Reading the file (openpyxl, csv) is ``documents.tabular``'s; this module sees a
header list and rows of cell values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from casework import transfers, validation
from casework.context import Casework
from casework.errors import AccessDenied, Conflict, ValidationError
from casework.i18n import N_, Text, _
from casework.labels import date_text, join
from casework.relations import relation_code
from casework.scope import can_see_student, unit_within
from models.tables import Guardian, School, SchoolClass, Student, User, Village
from models.types import cipher

IMPORT_ROLES = frozenset({"school_admin", "township_officer", "county_officer", "admin"})
MAX_ROWS = 5000

# field → the header names schools' exports use (compared after normalization)
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "学生姓名", "学生", "name", "studentname", "fullname", "pupil"),
    "gender": ("性别", "gender", "sex"),
    "birth_date": ("出生日期", "出生年月", "出生年月日", "生日", "birthdate", "dateofbirth", "dob",
                   "birthday"),
    "id_number": ("身份证号", "身份证号码", "居民身份证号码", "身份证件号", "证件号码", "身份证",
                  "idnumber", "idno", "id", "residentid", "residentidnumber", "idcard"),
    "student_number": ("学籍号", "全国学籍号", "学籍号码", "学籍编号", "studentnumber",
                       "studentno", "studentid", "nationalstudentnumber"),
    "grade": ("年级", "grade", "year"),
    "class": ("班级", "班", "班号", "class", "section", "classno"),
    "guardian": ("监护人", "监护人姓名", "监护人1", "家长", "家长姓名", "父母姓名", "guardian",
                 "guardianname", "guardian1", "parent", "parentname"),
    "relation": ("关系", "与学生关系", "监护人关系", "与被核查人关系", "relation", "relationship",
                 "guardianrelation"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "家长电话", "家长手机", "监护人电话",
              "监护人联系电话", "phone", "mobile", "telephone", "tel", "phonenumber", "contact",
              "guardianphone"),
    "address": ("家庭住址", "家庭详细住址", "住址", "现居住地", "现住址", "居住地址", "地址",
                "address", "homeaddress", "currentaddress"),
    "hukou": ("户籍所在地", "户籍地址", "户籍地", "户口所在地", "hukou", "registeredresidence"),
    "ethnicity": ("民族", "ethnicity", "nationality"),
    "health": ("健康情况", "健康状况", "health"),
    "village": ("村", "所在村", "村社区", "所属村", "村居", "village"),
}
REQUIRED = ("name", "gender", "class")

FIELD_LABELS: dict[str, str] = {
    "name": N_("name"),
    "gender": N_("gender"),
    "birth_date": N_("date of birth"),
    "id_number": N_("ID number"),
    "student_number": N_("student number"),
    "grade": N_("grade"),
    "class": N_("class"),
    "guardian": N_("guardian"),
    "relation": N_("relation"),
    "phone": N_("phone"),
    "address": N_("address"),
    "hukou": N_("registered residence"),
    "ethnicity": N_("ethnicity"),
    "health": N_("health"),
    "village": N_("village"),
    "class_id": N_("class"),
    "village_id": N_("village"),
}

_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_NOISE = re.compile(r"[\s*＊:：_\-/.·•、,，]+")


def normalize_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value or "")).lower()
    return _NOISE.sub("", _BRACKETS.sub("", text))


@dataclass(frozen=True)
class HeaderMatch:
    columns: dict[str, int]  # field → column index
    ignored: tuple[str, ...]  # headers that matched nothing (or a field already taken)
    missing: tuple[str, ...]  # required fields without a column


def match_headers(
    headers: Sequence[Any],
    aliases: dict[str, tuple[str, ...]] | None = None,
    required: Sequence[str] = REQUIRED,
) -> HeaderMatch:
    """Map header cells to fields: exact alias first, then the longest alias a header
    contains ("监护人联系电话" → phone); the first column wins a field named twice.
    ``aliases`` and ``required``: another file's columns (the household register's)."""
    exact = {alias: f for f, names in (aliases or ALIASES).items() for alias in names}
    by_length = sorted(exact.items(), key=lambda item: -len(item[0]))
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for i, raw in enumerate(headers):
        key = normalize_header(raw)
        if not key:
            continue
        found = exact.get(key)
        if found is None:
            found = next((f for alias, f in by_length if len(alias) > 1 and alias in key), None)
        if found is None or found in columns:
            ignored.append(str(raw).strip())
            continue
        columns[found] = i
    missing = tuple(f for f in required if f not in columns)
    return HeaderMatch(columns, tuple(ignored), missing)


def find_header_row(rows: Sequence[Sequence[Any]], look: int = 10) -> int | None:
    """The index of the header row among the first ``look``: the one naming the most fields
    (a register export often starts with a title row such as "梅林中学学生花名册")."""
    best, best_count = None, 1
    for i, row in enumerate(rows[:look]):
        match = match_headers(row)
        if len(match.columns) > best_count:
            best, best_count = i, len(match.columns)
    return best


# --- rows ---------------------------------------------------------------------------------


@dataclass
class RowPlan:
    number: int  # the row number in the file (as a spreadsheet shows it)
    action: str  # add | update | unchanged | transfer | error
    name: str = ""
    errors: list[Text] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    student_id: int | None = None
    changes: tuple[str, ...] = ()


@dataclass
class Plan:
    school_id: int
    school: str
    rows: list[RowPlan]
    header: HeaderMatch

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def valid(self) -> list[RowPlan]:
        return [r for r in self.rows if r.action in ("add", "update")]

    @property
    def actionable(self) -> list[RowPlan]:
        """Rows Confirm does something with (transfer rows become requests)."""
        return [r for r in self.rows if r.action in ("add", "update", "transfer")]

    @property
    def errors(self) -> list[RowPlan]:
        return [r for r in self.rows if r.action == "error"]

    def fingerprint(self) -> list[Any]:
        """What was previewed, to compare with what would be applied."""
        return [[r.number, r.action, r.student_id] for r in self.rows]


_GRADE_WORDS = {
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "初一": 7, "初二": 8, "初三": 9, "七年": 7, "八年": 8, "九年": 9,
}
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
              "十": 10}


def _number(text: str) -> int | None:
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text in _GRADE_WORDS:
        return _GRADE_WORDS[text]
    if text and all(ch in _CN_DIGITS for ch in text):
        if text.startswith("十"):
            return 10 + (_CN_DIGITS[text[1]] if len(text) > 1 else 0)
        if len(text) == 2 and text[1] == "十":
            return _CN_DIGITS[text[0]] * 10
        if len(text) == 3 and text[1] == "十":
            return _CN_DIGITS[text[0]] * 10 + _CN_DIGITS[text[2]]
        if len(text) == 1:
            return _CN_DIGITS[text]
    return None


_GRADE_IN = re.compile(r"^(?:grade)?(初[一二三]|[一二三四五六七八九]|\d{1,2})(?:年级|年)?")
_CLASS_IN = re.compile(r"(?:\(|（)?(\d{1,2}|[一二三四五六七八九十]{1,3})(?:\)|）)?(?:班)?$")


def parse_grade(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if 1 <= int(value) <= 9 else None
    text = unicodedata.normalize("NFKC", str(value)).replace(" ", "").lower()
    text = text.removeprefix("grade")
    m = _GRADE_IN.match(text)
    if not m:
        return None
    grade = _number(m.group(1))
    return grade if grade is not None and 1 <= grade <= 9 else None


def parse_class(value: Any, grade: int | None) -> tuple[int | None, int | None]:
    """(grade, section) from a class cell: "1", "1班", "(1)班", "七年级1班", "7(1)", "7-1"."""
    if value is None or value == "":
        return grade, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return grade, int(value)
    text = unicodedata.normalize("NFKC", str(value)).replace(" ", "").lower()
    text = text.removeprefix("class")
    combined = re.fullmatch(r"(\d{1,2})[-.](\d{1,2})", text)
    if combined:
        return int(combined.group(1)), int(combined.group(2))
    m = _GRADE_IN.match(text)
    rest = text
    if m and m.end() < len(text) and (m.group(0).endswith(("年级", "年")) or text[m.end()] in "(（"):
        grade = _number(m.group(1)) or grade
        rest = text[m.end():]
    section_match = _CLASS_IN.search(rest)
    if not section_match:
        return grade, None
    return grade, _number(section_match.group(1))


_GENDERS = {"男": "male", "女": "female", "male": "male", "female": "female", "m": "male",
            "f": "female", "男性": "male", "女性": "female", "boy": "male", "girl": "female"}


def _text(value: Any) -> str:
    """A cell as text, whitespace tidied (characters kept as written: names must match
    the household register; the validators normalize what they check)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return " ".join(str(value).split())


def parse_birth_date(value: Any, *, today: date) -> tuple[date, bool]:
    """The date and whether it had a day (出生年月 columns often give only year and month)."""
    if isinstance(value, datetime):
        return value.date(), True
    if isinstance(value, date):
        return value, True
    text = unicodedata.normalize("NFKC", _text(value))
    compact = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if compact:
        text = f"{compact.group(1)}-{compact.group(2)}-{compact.group(3)}"
    month_only = re.fullmatch(r"(\d{4})(?:[-/.年])(\d{1,2})月?", text)
    if month_only:
        day = validation.parse_date(f"{month_only.group(1)}-{month_only.group(2)}-1",
                                    today=today, field="birth_date")
        return day, False
    return validation.parse_date(text, today=today, field="birth_date"), True


def _cell(row: Sequence[Any], columns: dict[str, int], name: str) -> Any:
    i = columns.get(name)
    return row[i] if i is not None and i < len(row) else None


class _School:
    """What rows are checked against: the school's classes (this school year) and the
    villages of its township, loaded once."""

    def __init__(self, cw: Casework, school: School) -> None:
        classes = cw.session.exec(
            select(SchoolClass).where(SchoolClass.school_id == school.id)
        ).all()
        self.year = max((k.school_year for k in classes), default="")
        self.classes = {(k.grade, k.section): k.id for k in classes if k.school_year == self.year}
        self.villages: dict[str, int] = {}
        for v in cw.session.exec(select(Village).where(Village.township_id == school.township_id)).all():
            self.villages[v.name] = v.id or 0
            self.villages.setdefault(v.name.removesuffix("村").removesuffix("社区"), v.id or 0)
        self.class_ids = set(self.classes.values())


def check_school(cw: Casework, actor: User | None, school_id: int) -> School:
    """The school a roster is for; an actor may import only into a school in scope."""
    school = cw.session.get(School, school_id)
    if actor is not None:
        allowed = (
            actor.active and actor.role in IMPORT_ROLES and school is not None
            and unit_within(cw.session, actor, "school", school_id)
        )
        if not allowed:
            raise AccessDenied(
                _("You can import rosters only for a school in your area."),
                actor_id=actor.id,
                action="roster.import",
                object_type="school",
                object_id=school_id,
            )
    if school is None:
        raise ValidationError("school", _("There is no school #{id}.", id=school_id))
    return school


def plan(
    cw: Casework,
    actor: User | None,
    school_id: int,
    headers: Sequence[Any],
    rows: Sequence[tuple[int, Sequence[Any]]],
    *,
    preview: bool = True,
) -> Plan:
    """Check every row and decide what it would do; writes nothing but, for a
    ``preview`` (shown to someone), its audit row naming the existing pupils it matched.

    ``rows`` are (row number in the file, cells). A file without the required columns, or
    with more than ``MAX_ROWS`` rows, is refused as a whole.
    """
    school = check_school(cw, actor, school_id)
    header = match_headers(headers)
    if header.missing:
        raise ValidationError(
            "file",
            _(
                "The roster has no column for: {fields}. The first row must name the columns "
                "(for example 姓名, 性别, 出生日期, 身份证号, 学籍号, 年级, 班级, 监护人, 联系电话).",
                fields=join(_(FIELD_LABELS[f]) for f in header.missing),
            ),
        )
    if len(rows) > MAX_ROWS:
        raise ValidationError(
            "file", _("A roster can have at most {max} rows; split the file.", max=MAX_ROWS)
        )
    context = _School(cw, school)
    today = cw.today()
    seen_ids: dict[str, int] = {}
    seen_numbers: dict[str, int] = {}
    planned: list[RowPlan] = []
    for number, cells in rows:
        if not any(_text(c) for c in cells):
            continue
        planned.append(_plan_row(cw, actor, context, school, header.columns, number, cells, today,
                                 seen_ids, seen_numbers))
    result = Plan(school_id=school_id, school=school.name, rows=planned, header=header)
    if preview:  # a list view of children, audited like a case view (issue #10)
        shown = [r.student_id for r in planned if r.action in ("update", "unchanged")]
        cw.audit_list(actor, "roster.preview", "school", shown, object_id=school_id,
                      rows=len(planned), add=result.count("add"))
    return result


def _plan_row(
    cw: Casework,
    actor: User | None,
    ctx: _School,
    school: School,
    columns: dict[str, int],
    number: int,
    cells: Sequence[Any],
    today: date,
    seen_ids: dict[str, int],
    seen_numbers: dict[str, int],
) -> RowPlan:
    out = RowPlan(number=number, action="error")
    errors = out.errors
    values: dict[str, Any] = {}

    def check(fieldname: str, fn: Any) -> Any:
        try:
            return fn()
        except ValidationError as err:
            errors.append(_("{field}: {reason}", field=_(FIELD_LABELS[fieldname]), reason=err.text))
            return None

    raw_name = _text(_cell(cells, columns, "name"))
    out.name = raw_name
    values["name"] = check("name", lambda: validation.person_name(raw_name))
    gender_raw = _text(_cell(cells, columns, "gender")).lower()
    gender = _GENDERS.get(gender_raw)
    if gender is None:
        errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["gender"]),
                        reason=_("write 男 or 女 (male or female)")))
    values["gender"] = gender
    id_raw = _text(_cell(cells, columns, "id_number"))
    id_number = check("id_number", lambda: validation.resident_id(id_raw)) if id_raw else None
    values["id_number"] = id_number
    birth_raw = _cell(cells, columns, "birth_date")
    birth: date | None = None
    if _text(birth_raw):
        parsed = check("birth_date", lambda: parse_birth_date(birth_raw, today=today))
        birth, has_day = parsed if parsed is not None else (None, False)
        if birth is not None and not has_day and id_number is None:
            errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["birth_date"]),
                            reason=_("give the full date of birth or the ID number")))
        if birth is not None and id_number is not None:
            in_id = validation.birth_date_from_resident_id(id_number)
            if (birth.year, birth.month) != (in_id.year, in_id.month) or (
                has_day and birth != in_id
            ):
                errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["birth_date"]),
                                reason=_("{date} does not match the ID number, which says {id_date}.",
                                         date=date_text(birth), id_date=date_text(in_id))))
            birth = in_id
    elif id_number is not None:
        birth = validation.birth_date_from_resident_id(id_number)
    else:
        errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["birth_date"]),
                        reason=_("give the date of birth or the ID number")))
    if birth is not None:
        check("birth_date", lambda: validation.birth_date(birth, today=today))
    values["birth_date"] = birth
    if id_number is not None and gender is not None and validation.gender_from_resident_id(id_number) != gender:
        errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["gender"]),
                        reason=_("the ID number says the other gender")))
    sn_raw = _text(_cell(cells, columns, "student_number"))
    values["student_number"] = (
        check("student_number", lambda: validation.student_number(sn_raw, id_number=id_number))
        if sn_raw else None
    )
    grade = parse_grade(_cell(cells, columns, "grade"))
    grade, section = parse_class(_cell(cells, columns, "class"), grade)
    class_id = ctx.classes.get((grade, section)) if grade and section else None
    if class_id is None:
        shown = _text(_cell(cells, columns, "class"))
        grade_shown = _text(_cell(cells, columns, "grade"))
        errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["class"]),
                        reason=_("“{value}” is not a class of {school} this school year",
                                 value=" ".join(x for x in (grade_shown, shown) if x) or "—",
                                 school=school.name)))
    values["class_id"] = class_id
    guardian_raw = _text(_cell(cells, columns, "guardian"))
    values["guardian"] = (
        check("guardian", lambda: validation.person_name(guardian_raw, field="guardian"))
        if guardian_raw else None
    )
    relation_raw = _text(_cell(cells, columns, "relation"))
    values["relation"] = relation_code(relation_raw)[:20] if relation_raw else None
    phone_raw = _text(_cell(cells, columns, "phone"))
    values["phone"] = check("phone", lambda: validation.phone(phone_raw)) if phone_raw else None
    if values["phone"] and not values["guardian"]:
        errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["guardian"]),
                        reason=_("a phone number needs the guardian's name")))
    for name, limit in (("address", 200), ("hukou", 200), ("ethnicity", 20), ("health", 100)):
        text = _text(_cell(cells, columns, name))
        if len(text) > limit:
            errors.append(_("{field}: {reason}", field=_(FIELD_LABELS[name]),
                            reason=_("at most {max} characters", max=limit)))
        values[name] = text or None
    village_raw = _text(_cell(cells, columns, "village"))
    values["village_id"] = None
    if village_raw:
        village_id = ctx.villages.get(village_raw) or ctx.villages.get(
            village_raw.removesuffix("村").removesuffix("社区")
        )
        if village_id is None:
            errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["village"]),
                            reason=_("“{value}” is not a village of the school's township",
                                     value=village_raw)))
        values["village_id"] = village_id

    # once per file, and not a student of another school
    existing: Student | None = None
    for key, seen, label, hash_column in (
        (id_number, seen_ids, "id_number", Student.id_number_hash),
        (values["student_number"], seen_numbers, "student_number", Student.student_number_hash),
    ):
        if not key:
            continue
        if key in seen:
            errors.append(_("{field}: {reason}", field=_(FIELD_LABELS[label]),
                            reason=_("the same as row {row}", row=seen[key])))
        else:
            seen[key] = number
        if existing is None:
            existing = cw.session.exec(
                # under either key while a key rotation is part-way (casework.keys)
                select(Student).where(col(hash_column).in_(cipher().lookup_hashes(key)))
            ).first()
    # a child the importer cannot see is neither taken over nor described: the other unit
    # is asked (and the row says only that)
    outside = existing is not None and actor is not None and not can_see_student(
        cw.session, actor, existing)
    if (not outside and existing is not None and existing.class_id is not None
            and existing.class_id not in ctx.class_ids):
        klass = cw.session.get(SchoolClass, existing.class_id)
        if klass is None or klass.school_id != school.id:
            errors.append(_("{field}: {reason}", field=_(FIELD_LABELS["id_number"]),
                            reason=_("this student is registered at another school; "
                                     "the transfer must be recorded first")))
    out.values = values
    if errors:
        return out
    if existing is None:
        out.action = "add"
        return out
    out.student_id = existing.id
    if outside:
        out.action = "transfer"
        return out
    out.changes = _changes(cw, existing, values)
    out.action = "update" if out.changes else "unchanged"
    return out


_STUDENT_FIELDS = {
    "name": "name",
    "gender": "gender",
    "birth_date": "birth_date",
    "student_number": "student_number",
    "class_id": "class_id",
    "address": "current_address",
    "hukou": "hukou_address",
    "ethnicity": "ethnicity",
    "health": "health",
    "village_id": "village_id",
}


def _changes(cw: Casework, student: Student, values: dict[str, Any]) -> tuple[str, ...]:
    changed = [
        key
        for key, attr in _STUDENT_FIELDS.items()
        if values.get(key) is not None and getattr(student, attr) != values[key]
    ]
    guardian = cw.session.exec(
        select(Guardian).where(Guardian.student_id == student.id, Guardian.ordinal == 1)
    ).first()
    for key, attr in (("guardian", "name"), ("relation", "relation"), ("phone", "phone")):
        if values.get(key) is not None and (guardian is None or getattr(guardian, attr) != values[key]):
            changed.append(key)
    return tuple(changed)


def apply(
    cw: Casework,
    actor: User | None,
    school_id: int,
    headers: Sequence[Any],
    rows: Sequence[tuple[int, Sequence[Any]]],
    previewed: list[Any],
) -> Plan:
    """Import every valid row in the caller's transaction, or refuse with nothing written.

    The rows are checked again here; if the outcome differs from ``previewed`` (the
    fingerprint of the preview the person confirmed), :class:`Conflict` is raised and the
    unit of work rolls back.
    """
    result = plan(cw, actor, school_id, headers, rows, preview=False)  # audited as the import
    if result.fingerprint() != previewed:
        raise Conflict(
            _("The roster no longer checks out as previewed (someone changed these students "
              "meanwhile). Nothing was imported; please send the file again.")
        )
    now = cw.now_db()
    added: list[int] = []
    updated: list[int] = []
    requested: list[int] = []
    for row in result.rows:
        if row.action == "transfer":
            # only a person can be asked; the CLI (actor None) sees every child anyway
            assert actor is not None and row.student_id is not None
            child = cw.session.get(Student, row.student_id)
            assert child is not None
            req = transfers.request(cw, actor, child, source="roster_import",
                                    to_class_id=row.values["class_id"],
                                    to_village_id=row.values["village_id"])
            requested.append(req.id or 0)
    for row in result.valid:
        v = row.values
        if row.action == "add":
            student = Student(
                name=v["name"],
                gender=v["gender"],
                birth_date=v["birth_date"],
                ethnicity=v["ethnicity"],
                id_number=v["id_number"],
                id_number_hash=cipher().lookup_hash(v["id_number"]) if v["id_number"] else None,
                student_number=v["student_number"],
                student_number_hash=(
                    cipher().lookup_hash(v["student_number"]) if v["student_number"] else None
                ),
                health=v["health"],
                key_groups=[],
                hukou_address=v["hukou"],
                current_address=v["address"],
                register_address=result.school,
                village_id=v["village_id"],
                class_id=v["class_id"],
                enrolled=True,
                created_at=now,
                updated_at=now,
            )
            cw.session.add(student)
            cw.session.flush()
            added.append(student.id or 0)
        else:
            found = cw.session.get(Student, row.student_id)
            assert found is not None
            student = found
            for key, attr in _STUDENT_FIELDS.items():
                if v.get(key) is not None:
                    setattr(student, attr, v[key])
            if v["student_number"]:
                student.student_number_hash = cipher().lookup_hash(v["student_number"])
            student.enrolled = True
            student.register_address = student.register_address or result.school
            student.updated_at = now
            cw.session.add(student)
            updated.append(student.id or 0)
        if v["guardian"]:
            guardian = cw.session.exec(
                select(Guardian).where(Guardian.student_id == student.id, Guardian.ordinal == 1)
            ).first() or Guardian(student_id=student.id or 0, ordinal=1, name="", relation="")
            guardian.name = v["guardian"]
            guardian.relation = v["relation"] or guardian.relation or "other"
            if v["phone"]:
                guardian.phone = v["phone"]
            cw.session.add(guardian)
    cw.session.flush()
    cw.audit(
        actor,
        "roster.import",
        "school",
        school_id,
        added=result.count("add"),
        updated=result.count("update"),
        unchanged=result.count("unchanged"),
        transfers=result.count("transfer"),
        errors=result.count("error"),
        added_students=added,
        updated_students=updated,
        transfer_requests=requested,
        via="bot" if actor is not None else "cli",
    )
    return result
