"""Importing a suspect list as a round: check every row, match it to our records, assign it.

The list comes as the province sends it (XLSX/CSV: 姓名, 身份证号, 性别, 出生日期, 户籍地址,
来源/批次); the header is matched loosely (``roster_import.normalize_header``). The import
is all or nothing: a row that names nobody (no name, or neither a birth date nor an ID
number to tell the child by) is listed and nothing is imported. A wrong or missing ID
number is *not* a bad row: a third of a real list has one, and the child is matched by
name and birth date instead.

Matching is set-based, one query per batch of rows (:data:`BATCH`): every valid ID
number of the batch looked up by its keyed hash at once, then the remaining rows by
name and birth date at once. A match by ID is ours; a match by name and birth date is
only a *candidate*, shown to the unit to confirm, never merged. The same child named
twice in the list (same ID, or same name, birth date and address without a valid ID) is
a duplicate of the first row: not worked twice, and exported with the first's answer.

Each child goes to the unit that must verify it: the class (and school) of a matched
pupil, else the village of a matched child, else the village the register of school-age
children (适龄儿童台账, by the household register) puts the child with that ID number in,
else the village the 户籍 address names (among the county's villages), else the township
it names (whose officer assigns it), else the county.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, literal
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from casework import deadlines, validation
from casework.context import Casework
from casework.errors import AccessDenied, ValidationError
from casework.i18n import N_, Text, _
from casework.labels import date_text, join, n_
from casework.outbox import enqueue
from casework.roster_import import normalize_header, parse_birth_date
from casework.scope import STUDENT_UNITS, Units, seeing
from models.tables import (
    County,
    RegisterChild,
    School,
    SchoolClass,
    Student,
    Township,
    User,
    VerificationEntry,
    VerificationRound,
    Village,
)
from models.types import cipher

IMPORT_ROLES = frozenset({"county_officer", "admin"})
MAX_ROWS = 50_000
BATCH = 500  # rows matched per query (well under every database's bound-parameter limit)
LISTED_ERRORS = 20  # bad rows named in the refusal; the rest are counted
REMINDER_KIND = "verification_due"

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "学生姓名", "儿童姓名", "name", "fullname"),
    "id_number": ("身份证号", "身份证号码", "居民身份证号码", "身份证件号", "证件号码", "身份证",
                  "idnumber", "idno", "id", "residentid"),
    "gender": ("性别", "gender", "sex"),
    "birth_date": ("出生日期", "出生年月", "出生年月日", "生日", "birthdate", "dateofbirth", "dob"),
    "hukou": ("户籍地址", "户籍所在地", "户籍地", "户口所在地", "户籍", "hukou", "hukouaddress",
              "registeredresidence", "address"),
    "batch": ("来源批次", "来源", "批次", "数据来源", "比对批次", "source", "batch"),
}
FIELD_LABELS: dict[str, str] = {
    "name": N_("name"),
    "id_number": N_("ID number"),
    "gender": N_("gender"),
    "birth_date": N_("date of birth"),
    "hukou": N_("registered residence"),
    "batch": N_("source or batch"),
}
_GENDERS = {"男": "male", "女": "female", "male": "male", "female": "female", "m": "male", "f": "female"}


# --- the header and the rows ----------------------------------------------------------------


def match_headers(headers: Sequence[Any]) -> dict[str, int]:
    """Field → column: an exact alias first, else the longest alias the header contains;
    the first column wins a field named twice."""
    exact = {alias: f for f, aliases in ALIASES.items() for alias in aliases}
    by_length = sorted(exact.items(), key=lambda item: -len(item[0]))
    columns: dict[str, int] = {}
    for i, raw in enumerate(headers):
        key = normalize_header(raw)
        if not key:
            continue
        found = exact.get(key) or next((f for a, f in by_length if len(a) > 1 and a in key), None)
        if found is not None and found not in columns:
            columns[found] = i
    return columns


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return " ".join(str(value).split())


@dataclass
class Row:
    """One checked row of the list."""

    number: int
    cells: list[str]
    name: str = ""
    gender: str | None = None
    birth_date: date | None = None
    id_raw: str | None = None
    id_number: str | None = None  # valid and normalized
    hukou: str | None = None
    batch: str | None = None
    errors: list[Text] = field(default_factory=list)

    @property
    def id_status(self) -> str:
        return "valid" if self.id_number else ("invalid" if self.id_raw else "missing")


def check_rows(headers: Sequence[Any], rows: Sequence[tuple[int, Sequence[Any]]], *,
               today: date) -> tuple[dict[str, int], list[Row]]:
    """Every row checked (no database): the columns found and the rows, each with its errors."""
    columns = match_headers(headers)
    if "name" not in columns or ("id_number" not in columns and "birth_date" not in columns):
        raise ValidationError("file", _(
            "The list has no column for the name, or for neither the ID number nor the date of "
            "birth. The first row must name the columns (for example 姓名, 身份证号, 性别, "
            "出生日期, 户籍地址, 来源)."))
    if len(rows) > MAX_ROWS:
        raise ValidationError("file", _("A list can have at most {max} rows; split the file.", max=MAX_ROWS))
    out: list[Row] = []
    for number, raw in rows:
        cells = [_text(c) for c in raw]
        if not any(cells):
            continue
        out.append(_check_row(number, cells, columns, today))
    if not out:
        raise ValidationError("file", _("The list has no rows."))
    return columns, out


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    i = columns.get(name)
    return cells[i] if i is not None and i < len(cells) else ""


def _check_row(number: int, cells: list[str], columns: dict[str, int], today: date) -> Row:
    row = Row(number=number, cells=cells)

    def wrong(name: str, reason: Text) -> None:
        row.errors.append(_("{field}: {reason}", field=_(FIELD_LABELS[name]), reason=reason))

    row.name = _cell(cells, columns, "name")
    if not row.name:
        wrong("name", _("missing"))
    elif len(row.name) > 40:
        wrong("name", _("at most {max} characters", max=40))
    gender = _cell(cells, columns, "gender").lower()
    if gender:
        row.gender = _GENDERS.get(gender)
        if row.gender is None:
            wrong("gender", _("write 男 or 女 (male or female)"))
    id_raw = unicodedata.normalize("NFKC", _cell(cells, columns, "id_number")).replace(" ", "")
    row.id_raw = id_raw or None
    if id_raw:
        try:
            row.id_number = validation.resident_id(id_raw)
        except ValidationError:
            row.id_number = None  # matched by name and birth date instead
    birth_raw = _cell(cells, columns, "birth_date")
    if birth_raw:
        try:
            row.birth_date = parse_birth_date(birth_raw, today=today)[0]
        except ValidationError as err:
            wrong("birth_date", err.text)
    if row.birth_date is None and row.id_number:
        row.birth_date = validation.birth_date_from_resident_id(row.id_number)
    if not gender and row.id_number:
        row.gender = validation.gender_from_resident_id(row.id_number)
    if row.birth_date is None and not row.id_number and not row.errors:
        wrong("birth_date", _("give the date of birth or a valid ID number"))
    for name, limit in (("hukou", 200), ("batch", 60)):
        value = _cell(cells, columns, name)
        if len(value) > limit:
            wrong(name, _("at most {max} characters", max=limit))
        setattr(row, name, value or None)
    return row


def refusal(bad: Sequence[Row]) -> ValidationError:
    """All or nothing: the bad rows listed (the first :data:`LISTED_ERRORS`), nothing imported."""
    lines = [_("Row {row}: {errors}", row=r.number, errors=join(r.errors)) for r in bad[:LISTED_ERRORS]]
    if len(bad) > LISTED_ERRORS:
        lines.append(_("…and {n} more.", n=len(bad) - LISTED_ERRORS))
    return ValidationError("file", _(
        "Nothing was imported: {n} rows cannot be used. Correct them and send the list again.\n{rows}",
        n=len(bad), rows=join(lines, "\n")))


# --- matching and assignment ------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    student_id: int
    class_id: int | None
    village_id: int | None


class _Places:
    """The county's classes, schools, villages and townships, loaded once per import."""

    def __init__(self, cw: Casework, county_id: int) -> None:
        s = cw.session
        townships = s.exec(select(Township).where(Township.county_id == county_id)).all()
        self.townships = {t.id or 0: t.name for t in townships}
        villages = s.exec(select(Village).where(col(Village.township_id).in_(list(self.townships)))).all()
        self.village_township = {v.id or 0: v.township_id for v in villages}
        self.villages = sorted(((v.name, v.id or 0, v.township_id) for v in villages), key=lambda x: -len(x[0]))
        schools = s.exec(select(School).where(col(School.township_id).in_(list(self.townships)))).all()
        self.school_township = {x.id or 0: x.township_id for x in schools}
        classes = s.exec(select(SchoolClass).where(col(SchoolClass.school_id).in_(list(self.school_township)))).all()
        self.class_school = {k.id or 0: k.school_id for k in classes}

    def by_address(self, address: str | None) -> dict[str, int | None]:
        if not address:
            return {}
        found = [(vid, tid) for name, vid, tid in self.villages if name in address]
        if len(found) > 1:  # the same village name in two townships: the address names one
            found = [(vid, tid) for vid, tid in found if self.townships.get(tid, "\0") in address]
        if len(found) == 1:
            return {"village_id": found[0][0], "township_id": found[0][1]}
        towns = [tid for tid, name in self.townships.items() if name in address]
        return {"township_id": towns[0]} if len(towns) == 1 else {}

    def of_student(self, found: _Found) -> dict[str, int | None]:
        if found.class_id is not None and found.class_id in self.class_school:
            school = self.class_school[found.class_id]
            return {"class_id": found.class_id, "school_id": school,
                    "township_id": self.school_township.get(school)}
        if found.village_id is not None and found.village_id in self.village_township:
            return {"village_id": found.village_id, "township_id": self.village_township[found.village_id]}
        return {}


def _in_county(county_id: int) -> Any:
    return STUDENT_UNITS.county == county_id


def _match_batch(cw: Casework, county_id: int, rows: Sequence[Row]
                 ) -> tuple[dict[int, _Found], dict[int, _Found], dict[int, int]]:
    """(by ID, candidates by name and birth date, the village the register of school-age
    children puts a child in), keyed by row number: three queries at most."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.id_number:
            for h in cipher().lookup_hashes(row.id_number):
                by_hash[h].append(row.number)
    by_id: dict[int, _Found] = {}
    if by_hash:
        found = cw.session.execute(
            sa_select(col(Student.id), col(Student.id_number_hash), col(Student.class_id), col(Student.village_id))
            .where(col(Student.id_number_hash).in_(list(by_hash)), _in_county(county_id))
        ).all()
        for sid, h, klass, village in found:
            for number in by_hash[h]:
                by_id[number] = _Found(sid, klass, village)
    # a child who is not our pupil but is in the register (适龄儿童台账): the village its
    # household register names, which the list's address text may not
    in_register: dict[int, int] = {}
    wanted_hashes = {h: numbers for h, numbers in by_hash.items() if any(n not in by_id for n in numbers)}
    if wanted_hashes:
        for h, village in cw.session.execute(
            sa_select(col(RegisterChild.id_number_hash), col(RegisterChild.village_id))
            .where(col(RegisterChild.id_number_hash).in_(list(wanted_hashes)),
                   col(RegisterChild.county_id) == county_id)
        ).all():
            for number in wanted_hashes[h]:
                if number not in by_id:
                    in_register[number] = village
    rest = [r for r in rows if r.number not in by_id and r.birth_date is not None]
    candidates: dict[int, _Found] = {}
    if rest:
        wanted: dict[tuple[str, date], list[int]] = defaultdict(list)
        for r in rest:
            wanted[(r.name, r.birth_date)].append(r.number)  # type: ignore[index]
        found2 = cw.session.execute(
            sa_select(col(Student.id), col(Student.name), col(Student.birth_date), col(Student.class_id), col(Student.village_id))
            .where(col(Student.name).in_({r.name for r in rest}),
                   col(Student.birth_date).in_({r.birth_date for r in rest}), _in_county(county_id))
            .order_by(col(Student.id))
        ).all()
        for sid, name, birth, klass, village in found2:
            for number in wanted.get((name, birth), []):
                candidates.setdefault(number, _Found(sid, klass, village))
    return by_id, candidates, in_register


# --- the import -------------------------------------------------------------------------------


@dataclass
class Imported:
    round: VerificationRound
    rows: int
    by_id: int
    candidates: int
    unmatched: int
    duplicates: int
    id_problems: int  # missing or invalid ID numbers
    to_school: int
    to_village: int
    to_township: int
    to_county: int

    def summary(self) -> Text:
        return _(
            "Round “{name}” imported: {rows} children, due {due}. Matched by ID {by_id}, "
            "to confirm by name and birth date {candidates}, not in our records {unmatched}, "
            "named twice {duplicates}; missing or wrong ID numbers {bad_ids}. To schools {schools}, "
            "to villages {villages}, to township officers to assign {townships}, to the county {county}.",
            name=self.round.name, rows=self.rows, due=date_text(self.round.due_on), by_id=self.by_id,
            candidates=self.candidates, unmatched=self.unmatched, duplicates=self.duplicates,
            bad_ids=self.id_problems, schools=self.to_school, villages=self.to_village,
            townships=self.to_township, county=self.to_county,
        )


def check_importer(cw: Casework, actor: User | None, county_id: int | None) -> int:
    """The county a round is for: the importer's own (a county officer's), or the one named."""
    if actor is not None:
        if not actor.active or actor.role not in IMPORT_ROLES or (
            actor.role == "county_officer" and county_id not in (None, actor.scope_id)
        ):
            raise AccessDenied(_("Only a county officer can import a verification list."),
                               actor_id=actor.id, action="verification.import",
                               object_type="county", object_id=county_id)
        if actor.role == "county_officer":
            county_id = actor.scope_id
    if county_id is None or cw.session.get(County, county_id) is None:
        raise ValidationError("county", _("Name the county the list is for."))
    return county_id


def import_round(
    cw: Casework,
    actor: User | None,
    *,
    name: str,
    due_on: date,
    headers: Sequence[Any],
    rows: Sequence[tuple[int, Sequence[Any]]],
    county_id: int | None = None,
    file_name: str | None = None,
) -> Imported:
    """Create the round with every row of the list, or refuse with the bad rows listed."""
    county = check_importer(cw, actor, county_id)
    name = validation.free_text(name, field="name", max_len=80)
    if due_on <= cw.today():
        raise ValidationError("due_on", _("Give a date after today."))
    columns, checked = check_rows(headers, rows, today=cw.today())
    bad = [r for r in checked if r.errors]
    if bad:
        raise refusal(bad)
    places = _Places(cw, county)
    now = cw.now_db()
    id_col = columns.get("id_number")
    rnd = VerificationRound(county_id=county, name=name, due_on=due_on, source="import",
                            file_name=file_name, headers=[_text(h) for h in headers],
                            id_column=id_col, created_by=actor.id if actor else None, created_at=now)
    cw.session.add(rnd)
    cw.session.flush()
    result = Imported(rnd, len(checked), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    first_of: dict[Any, VerificationEntry] = {}
    duplicates: list[tuple[int, int]] = []  # (row, the row it repeats)
    table: Any = VerificationEntry.__table__  # type: ignore[attr-defined]
    for start in range(0, len(checked), BATCH):
        batch = checked[start : start + BATCH]
        by_id, candidates, in_register = _match_batch(cw, county, batch)
        values: list[dict[str, Any]] = []
        for row in batch:
            entry = _entry(rnd, row, id_col, county)
            key: Any = ("id", row.id_number) if row.id_number else ("nb", row.name, row.birth_date, row.hukou)
            first = first_of.get(key)
            result.id_problems += row.id_status != "valid"
            if first is not None:
                entry.match, entry.status = "duplicate", "duplicate"
                for unit in ("township_id", "village_id", "school_id", "class_id"):
                    setattr(entry, unit, getattr(first, unit))
                duplicates.append((row.number, first.row_number))
                result.duplicates += 1
            else:
                first_of[key] = entry
                _assign(entry, row, by_id.get(row.number), candidates.get(row.number),
                        in_register.get(row.number), places, result)
            values.append(entry.model_dump(exclude={"id"}))
        # one multi-row INSERT per batch (the ORM would insert row by row: the table refers
        # to itself through duplicate_of)
        cw.session.execute(table.insert(), values)
    if duplicates:
        ids = dict(cw.session.execute(
            sa_select(col(VerificationEntry.row_number), col(VerificationEntry.id)).where(
                col(VerificationEntry.round_id) == rnd.id,
                col(VerificationEntry.row_number).in_({first for _row, first in duplicates}))).all())
        cw.session.execute(
            table.update().where(table.c.round_id == rnd.id, table.c.row_number == bindparam("row"))
            .values(duplicate_of=bindparam("first")),
            [{"row": row, "first": ids[first]} for row, first in duplicates])
    plan_reminders(cw, rnd)
    cw.audit(actor, "verification.import", "verification_round", rnd.id, rows=result.rows,
             by_id=result.by_id, candidates=result.candidates, duplicates=result.duplicates,
             via="bot" if actor is not None else "cli")
    notify_assigned(cw, rnd)
    return result


def _entry(rnd: VerificationRound, row: Row, id_col: int | None, county: int) -> VerificationEntry:
    cells = list(row.cells)
    if id_col is not None and id_col < len(cells):
        cells[id_col] = ""  # kept encrypted in id_raw, never in the clear
    return VerificationEntry(
        round_id=rnd.id or 0, row_number=row.number, cells=cells, name=row.name, gender=row.gender,
        birth_date=row.birth_date, id_raw=row.id_raw,
        id_number_hash=cipher().lookup_hash(row.id_number) if row.id_number else None,
        id_status=row.id_status, hukou_address=row.hukou, batch=row.batch, county_id=county,
    )


def _assign(entry: VerificationEntry, row: Row, by_id: _Found | None, candidate: _Found | None,
            register_village: int | None, places: _Places, result: Imported) -> None:
    units: dict[str, int | None] = {}
    if by_id is not None:
        entry.match, entry.student_id = "id", by_id.student_id
        units = places.of_student(by_id)
        result.by_id += 1
    elif candidate is not None:
        # the unit that knows the candidate confirms or denies it (never merged here)
        entry.match, entry.candidate_id = "candidate", candidate.student_id
        units = places.of_student(candidate)
        result.candidates += 1
    else:
        result.unmatched += 1
    if not units and register_village in places.village_township:
        units = {"village_id": register_village, "township_id": places.village_township[register_village]}
    if not units:
        units = places.by_address(row.hukou)
    for key, value in units.items():
        setattr(entry, key, value)
    if entry.school_id is not None:
        result.to_school += 1
    elif entry.village_id is not None:
        result.to_village += 1
    elif entry.township_id is not None:
        result.to_township += 1
    else:
        result.to_county += 1


def reassign_by_address(cw: Casework, entry: VerificationEntry) -> None:
    """A candidate denied: the child goes where its 户籍 address says, as if unmatched."""
    places = _Places(cw, entry.county_id)
    entry.class_id = entry.school_id = entry.village_id = entry.township_id = None
    for key, value in places.by_address(entry.hukou_address).items():
        setattr(entry, key, value)


# --- who is told ------------------------------------------------------------------------------


def responsible(cw: Casework, county_id: int, township_id: int | None, village_id: int | None,
                school_id: int | None, class_id: int | None) -> list[User]:
    """The people who verify a unit's children: the class teacher (else the school's
    officer), the village cadre (else the township officer), the township officer for a
    child to assign, the county officer for one nobody else can take."""
    units = Units(*(literal(u, Integer) for u in (county_id, school_id, class_id, village_id)))
    if class_id is not None:
        chain = ["teacher", "school_admin"]
    elif school_id is not None:
        chain = ["school_admin"]
    elif village_id is not None:
        chain = ["village_cadre", "township_officer"]
    else:
        chain = []
    for role in chain:
        found = list(cw.session.exec(
            select(User).where(User.role == role, seeing(units)).order_by(col(User.id))).all())
        if found:
            return found
    if township_id is not None:
        found = list(cw.session.exec(select(User).where(
            User.role == "township_officer", User.active, User.scope_kind == "township",
            User.scope_id == township_id).order_by(col(User.id))).all())
        if found:
            return found
    return list(cw.session.exec(select(User).where(
        User.role == "county_officer", User.active, User.scope_kind == "county",
        User.scope_id == county_id).order_by(col(User.id))).all())


def open_counts(cw: Casework, rnd: VerificationRound) -> dict[int, tuple[User, int]]:
    """Each responsible person's children still to verify in the round (one grouped query,
    then the people of each unit)."""
    from sqlalchemy import func

    E = VerificationEntry
    groups = cw.session.execute(
        sa_select(col(E.township_id), col(E.village_id), col(E.school_id), col(E.class_id), func.count())
        .where(col(E.round_id) == rnd.id, col(E.status) == "open")
        .group_by(col(E.township_id), col(E.village_id), col(E.school_id), col(E.class_id))
    ).all()
    counts: dict[int, tuple[User, int]] = {}
    for township, village, school, klass, n in groups:
        for user in responsible(cw, rnd.county_id, township, village, school, klass):
            before = counts.get(user.id or 0)
            counts[user.id or 0] = (user, (before[1] if before else 0) + int(n))
    return counts


def due_text(day: date) -> Text:
    return _("{month}/{day}", month=day.month, day=day.day)


def notify_assigned(cw: Casework, rnd: VerificationRound, *, kind: str = "verification") -> int:
    """Tell each responsible person how many children they have to verify, and by when."""
    from casework.callbacks import VerifyTap

    told = 0
    for user, n in open_counts(cw, rnd).values():
        if not user.active or user.telegram_id is None:
            continue
        text = n_("You have {n} child to verify, due {due} ({round}).",
                  "You have {n} children to verify, due {due} ({round}).", n,
                  due=due_text(rnd.due_on), round=rnd.name)
        from casework.outbox import text_to_json

        button = {"text": text_to_json(_("▶ Start verifying")), "data": VerifyTap("n", rnd.id or 0).encode()}
        enqueue(cw.session, user, text, kind=kind, now=cw.now(), buttons=[[button]])  # type: ignore[list-item]
        told += 1
    return told


def plan_reminders(cw: Casework, rnd: VerificationRound) -> int:
    """Reminder rows before the due date at the policy's lead times (caseless, keyed per round
    and lead, so a round is reminded once per lead time)."""
    made = 0
    due_day = rnd.due_on
    for lead in cw.policy.reminders.lead:
        day = due_day if lead.unit == "hours" else cw.calendars.before(due_day, lead)
        at = cw.calendars.at_local(day, cw.policy.times.reminder_time)
        if at <= cw.now():
            continue
        made += deadlines.plan_job(cw, REMINDER_KIND, at, key=f"verify:{rnd.id}:{lead.amount}{lead.unit}",
                                   round_id=rnd.id)
    return made
