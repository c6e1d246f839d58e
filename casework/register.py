"""The register of every school-age child (适龄儿童台账): children 6–15 by village and
household (户), each with a status.

The county officer imports a household-register extract (户籍, XLSX/CSV: 姓名, 性别,
出生日期, 身份证号, 乡镇, 村, 户号, 户主姓名, 户籍地址, 就读情况 — header names matched
loosely, as a roster's are). Every row is checked as the bot checks typed input; a file
with any bad row imports nothing and lists the bad rows (all or nothing), and a child
outside 6–15 is left out and counted. ID numbers are encrypted and hashed as a Student's.

A student of ours is the register child with the same ID hash (or the one linked
explicitly): a child with a class of ours is at school, whatever the extract said. A
child with no school of ours, no open case and no status that accounts for them (外地就读,
缓学, 送教上门, 超龄, 死亡/迁出) is *unschooled*: the village cadre is told and gets a
button to report the child (:func:`unschooled`, :func:`notify_unschooled`).

Who sees a register child is the one scope rule (``casework.scope``) on the
administrative line: the child's village, its township, its county.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Integer, func, literal
from sqlmodel import col, select

from casework import outbox, states, validation
from casework.callbacks import Unschooled
from casework.context import Casework
from casework.errors import AccessDenied, Conflict, NotFound, ValidationError
from casework.i18n import N_, Text, _
from casework.labels import date_text, join, n_
from casework.roster_import import FIELD_LABELS, _text, match_headers, parse_birth_date
from casework.scope import Units, visible
from models.tables import (
    Case,
    School,
    SchoolClass,
    Student,
    Township,
    User,
    Village,
)
from models.tables import RegisterChild as Child
from models.types import cipher

IMPORT_ROLES = frozenset({"county_officer", "admin"})
MIN_AGE, MAX_AGE = 6, 15
MAX_ROWS = 50_000
MAX_LISTED = 20  # unschooled children listed in one chat message

# the eight statuses of the 2024 notice's register (the Chinese term beside each)
STATUSES: dict[str, str] = {
    "local_school": N_("At the local school"),  # 在本校就读
    "county_school": N_("At another school in the county"),  # 在本县他校
    "elsewhere": N_("At school elsewhere"),  # 外地就读
    "not_enrolled": N_("Not enrolled"),  # 未入学
    "deferred": N_("Deferred"),  # 缓学
    "home_teaching": N_("Home teaching"),  # 送教上门
    "over_age": N_("Over age"),  # 超龄
    "gone": N_("Deceased or moved away"),  # 死亡/迁出
}
UNKNOWN = N_("Not yet checked")  # 待核实: no status known
# statuses that account for a child without a school of ours
ACCOUNTED = frozenset({"elsewhere", "deferred", "home_teaching", "over_age", "gone"})
# how an extract writes them
_STATUS_WORDS: dict[str, str] = {
    "在本校就读": "local_school", "本校就读": "local_school", "本校": "local_school",
    "在本县他校": "county_school", "本县他校": "county_school", "他校": "county_school",
    "县内他校": "county_school",
    "外地就读": "elsewhere", "外地": "elsewhere", "县外就读": "elsewhere", "省外就读": "elsewhere",
    "未入学": "not_enrolled", "失学": "not_enrolled",
    "缓学": "deferred", "休学": "deferred",
    "送教上门": "home_teaching",
    "超龄": "over_age",
    "死亡": "gone", "迁出": "gone", "死亡/迁出": "gone", "死亡迁出": "gone",
}

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "儿童姓名", "学生姓名", "name", "childname", "fullname"),
    "gender": ("性别", "gender", "sex"),
    "birth_date": ("出生日期", "出生年月", "出生年月日", "生日", "birthdate", "dateofbirth", "dob"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "居民身份证号码", "证件号码", "身份证",
                  "idnumber", "idno", "id", "residentid", "idcard"),
    "township": ("乡镇", "乡镇街道", "乡镇名称", "所属乡镇", "township", "town"),
    "village": ("村", "村社区", "所在村", "所属村", "村居", "村委会", "居委会", "village"),
    "household": ("户号", "户编号", "户籍编号", "household", "householdno", "householdnumber"),
    "household_head": ("户主", "户主姓名", "householdhead", "head"),
    "address": ("户籍地址", "户籍所在地", "住址", "家庭住址", "地址", "address", "hukouaddress"),
    "status": ("就读情况", "就学情况", "就读状态", "状态", "在校情况", "status"),
}
REQUIRED = ("name", "id_number", "village")
FIELD_NAMES: dict[str, str] = {
    **FIELD_LABELS,
    "township": N_("township"),
    "household": N_("household number"),
    "household_head": N_("head of household"),
    "status": N_("status"),
}
_GENDERS = {"男": "male", "女": "female", "male": "male", "female": "female", "m": "male", "f": "female"}


def status_label(code: str | None) -> Text:
    return _(STATUSES[code]) if code in STATUSES else _(UNKNOWN)


def parse_status(raw: str) -> str | None:
    """A status as an extract writes it (a code, a Chinese term, an English label)."""
    text = raw.strip().replace(" ", "")
    if text in STATUSES:
        return text
    if text in _STATUS_WORDS:
        return _STATUS_WORDS[text]
    lowered = raw.strip().lower()
    return next((code for code, label in STATUSES.items() if label.lower() == lowered), None)


def check_importer(actor: User | None, county_id: int) -> None:
    if actor is None or (actor.role == "admin" and actor.scope_kind == "all"):
        return
    if not (actor.active and actor.role in IMPORT_ROLES and actor.scope_kind == "county"
            and actor.scope_id == county_id):
        raise AccessDenied(
            _("Only the county officer can import the register of school-age children."),
            actor_id=actor.id, action="register.import", object_type="county", object_id=county_id,
        )


# --- the import -----------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    action: str  # add | update | unchanged | skip | error
    name: str = ""
    errors: list[Text] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    child_id: int | None = None


@dataclass
class Plan:
    county_id: int
    rows: list[Row]
    ignored: tuple[str, ...] = ()

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.action == "error"]

    @property
    def importable(self) -> bool:
        """All or nothing: a file with a bad row imports nothing."""
        return not self.errors and any(r.action in ("add", "update") for r in self.rows)

    def fingerprint(self) -> list[Any]:
        return [[r.number, r.action, r.child_id] for r in self.rows]


class _Villages:
    """The county's villages by name (with and without 村/社区), and by township."""

    def __init__(self, cw: Casework, county_id: int) -> None:
        rows = cw.session.exec(
            select(Village, Township).join(Township, col(Township.id) == Village.township_id)
            .where(Township.county_id == county_id)
        ).all()
        self.by_name: dict[str, set[int]] = {}
        self.by_township: dict[tuple[str, str], int] = {}
        for village, township in rows:
            for vname in _names(village.name):
                self.by_name.setdefault(vname, set()).add(village.id or 0)
                for tname in _names(township.name):
                    self.by_township[(tname, vname)] = village.id or 0

    def find(self, village: str, township: str) -> tuple[int | None, bool]:
        """(village id, ambiguous)."""
        if township:
            return self.by_township.get((_short(township), _short(village))), False
        found = self.by_name.get(_short(village), set())
        return (next(iter(found)) if len(found) == 1 else None), len(found) > 1


def _short(name: str) -> str:
    name = name.strip()
    for suffix in ("村委会", "居委会", "社区", "村", "街道", "乡", "镇"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _names(name: str) -> tuple[str, ...]:
    return (name, _short(name))


def plan(
    cw: Casework,
    actor: User | None,
    county_id: int,
    headers: Sequence[Any],
    rows: Sequence[tuple[int, Sequence[Any]]],
) -> Plan:
    """Check every row and decide what it would do; writes nothing."""
    check_importer(actor, county_id)
    header = match_headers(headers, ALIASES, REQUIRED)
    if header.missing:
        raise ValidationError("file", _(
            "The extract has no column for: {fields}. The first row must name the columns "
            "(for example 姓名, 性别, 出生日期, 身份证号, 乡镇, 村, 户号, 户主姓名, 户籍地址).",
            fields=join(_(FIELD_NAMES[f]) for f in header.missing)))
    if len(rows) > MAX_ROWS:
        raise ValidationError("file", _("An extract can have at most {max} rows; split the file.",
                                        max=MAX_ROWS))
    villages = _Villages(cw, county_id)
    today = cw.today()
    seen: dict[str, int] = {}
    # every child on record by hash, read once: a county's extract has tens of thousands of rows
    # every child on record by hash: another county's as its county, this county's whole (an
    # unchanged re-import compares them all), each read once
    known: dict[str, Child | int] = {h: county for county, h in cw.session.exec(
        select(Child.county_id, Child.id_number_hash).where(Child.county_id != county_id)).all() if h}
    for child in cw.session.exec(select(Child).where(Child.county_id == county_id)).all():
        if child.id_number_hash:
            known[child.id_number_hash] = child
    planned = [
        _plan_row(cw, county_id, villages, header.columns, number, cells, today, seen, known)
        for number, cells in rows
        if any(_text(c) for c in cells)
    ]
    return Plan(county_id, planned, header.ignored)


def _plan_row(cw: Casework, county_id: int, villages: _Villages, columns: dict[str, int],
              number: int, cells: Sequence[Any], today: date, seen: dict[str, int],
              known: dict[str, Child | int]) -> Row:
    out = Row(number, "error")

    def cell(name: str) -> str:
        i = columns.get(name)
        return _text(cells[i]) if i is not None and i < len(cells) else ""

    def fail(name: str, reason: Text) -> None:
        out.errors.append(_("{field}: {reason}", field=_(FIELD_NAMES[name]), reason=reason))

    def check(name: str, fn: Any) -> Any:
        try:
            return fn()
        except ValidationError as err:
            fail(name, err.text)
            return None

    values: dict[str, Any] = {}
    out.name = cell("name")
    values["name"] = check("name", lambda: validation.person_name(out.name))
    id_number = check("id_number", lambda: validation.resident_id(cell("id_number"))) \
        if cell("id_number") else None
    if not cell("id_number"):
        fail("id_number", _("the household register gives every child an ID number"))
    values["id_number"] = id_number
    birth: date | None = None
    if id_number is not None:
        birth = validation.birth_date_from_resident_id(id_number)
        raw_birth = columns.get("birth_date")
        if raw_birth is not None and raw_birth < len(cells) and _text(cells[raw_birth]):
            parsed = check("birth_date", lambda: parse_birth_date(cells[raw_birth], today=today))
            if parsed is not None and (parsed[0].year, parsed[0].month) != (birth.year, birth.month):
                fail("birth_date", _("{date} does not match the ID number, which says {id_date}.",
                                     date=date_text(parsed[0]), id_date=date_text(birth)))
    values["birth_date"] = birth
    gender_raw = cell("gender").lower()
    gender = _GENDERS.get(gender_raw) if gender_raw else None
    if gender_raw and gender is None:
        fail("gender", _("write 男 or 女 (male or female)"))
    if id_number is not None:
        in_id = validation.gender_from_resident_id(id_number)
        if gender is not None and gender != in_id:
            fail("gender", _("the ID number says the other gender"))
        gender = gender or in_id
    values["gender"] = gender
    village_id, ambiguous = villages.find(cell("village"), cell("township"))
    if village_id is None:
        fail("village", _("“{value}” is not a village of the county", value=cell("village") or "—")
             if not ambiguous else
             _("several villages are called “{value}”: add a 乡镇 column", value=cell("village")))
    values["village_id"] = village_id
    status_raw = cell("status")
    values["status"] = parse_status(status_raw) if status_raw else None
    if status_raw and values["status"] is None:
        fail("status", _("“{value}” is not a status of the register", value=status_raw))
    for name, limit in (("household", 40), ("household_head", 40), ("address", 200)):
        text = cell(name)
        if len(text) > limit:
            fail(name, _("at most {max} characters", max=limit))
        values[name] = text or None
    if values["household_head"]:
        check("household_head", lambda: validation.person_name(values["household_head"],
                                                                 field="guardian"))
    existing: Child | None = None
    if id_number is not None:
        if id_number in seen:
            fail("id_number", _("the same as row {row}", row=seen[id_number]))
        else:
            seen[id_number] = number
        # under either key while a key rotation is part-way (casework.keys)
        match = next((known[h] for h in cipher().lookup_hashes(id_number) if h in known), None)
        if isinstance(match, int):  # another county's
            fail("id_number", _("this child is in another county's register"))
        else:
            existing = match
    out.values = values
    if out.errors:
        return out
    assert birth is not None
    age = validation.age_on(birth, today)
    if not MIN_AGE <= age <= MAX_AGE:
        out.action = "skip"  # not of school age: not an error, not imported
        return out
    if existing is None:
        out.action = "add"
        return out
    out.child_id = existing.id
    changed = any(
        values.get(key) is not None and getattr(existing, key) != values[key]
        for key in ("name", "gender", "village_id", "household", "household_head", "address", "status")
    )
    out.action = "update" if changed else "unchanged"
    return out


def apply(cw: Casework, actor: User | None, county_id: int, headers: Sequence[Any],
          rows: Sequence[tuple[int, Sequence[Any]]], previewed: list[Any]) -> Plan:
    """Import every row in the caller's transaction, or nothing (a bad row, or anything
    different from the preview the person confirmed)."""
    result = plan(cw, actor, county_id, headers, rows)
    if result.fingerprint() != previewed:
        raise Conflict(_("The extract no longer checks out as previewed (someone changed the "
                         "register meanwhile). Nothing was imported; please send the file again."))
    if not result.importable:
        raise ValidationError("file", _("Nothing was imported: correct the rows with errors and "
                                        "send the file again."))
    now = cw.now_db()
    for row in result.rows:
        v = row.values
        if row.action == "add":
            child = Child(county_id=county_id, village_id=v["village_id"], household=v["household"],
                          household_head=v["household_head"], name=v["name"], gender=v["gender"],
                          birth_date=v["birth_date"], id_number=v["id_number"],
                          id_number_hash=cipher().lookup_hash(v["id_number"]),
                          address=v["address"], status=v["status"], source="import",
                          created_at=now, updated_at=now)
        elif row.action == "update":
            found = cw.session.get(Child, row.child_id)
            assert found is not None
            child = found
            for key in ("name", "gender", "village_id", "household", "household_head", "address",
                        "status"):
                if v.get(key) is not None:
                    setattr(child, key, v[key])
            child.updated_at = now
        else:
            continue
        cw.session.add(child)
    cw.session.flush()
    cw.audit(actor, "register.import", "county", county_id, added=result.count("add"),
             updated=result.count("update"), unchanged=result.count("unchanged"),
             skipped=result.count("skip"), via="bot" if actor is not None else "cli")
    notify_unschooled(cw, county_id)
    return result


# --- the link to our students, and the children with no school ----------------------------


def linked_student() -> Any:
    """A SQL expression on ``RegisterChild``: the id of the student who is this child (the
    explicit link, else the student with the same ID hash)."""
    by_hash = (select(Student.id).where(col(Student.id_number_hash) == col(Child.id_number_hash))
               .limit(1).scalar_subquery())
    return func.coalesce(col(Child.student_id), by_hash)


def visible_children(actor: User) -> Any:
    """The one scope rule on the administrative line: the child's village and county."""
    none = literal(None, Integer)
    return visible(actor, Units(col(Child.county_id), none, none, col(Child.village_id)))


@dataclass(frozen=True)
class Entry:
    """One child as the register shows it."""

    child: Child
    student: Student | None
    school: School | None
    klass: SchoolClass | None
    case_id: int | None  # the open case, if any
    status: str | None  # the effective status (a class of ours wins over the extract)

    @property
    def unschooled(self) -> bool:
        return self.klass is None and self.case_id is None and self.status not in ACCOUNTED


OPEN = [s for s in states.ALL_STATES if s not in states.FINAL | {states.CLOSED}]


def entries(cw: Casework, actor: User | None, *, village_id: int | None = None,
            county_id: int | None = None) -> list[Entry]:
    """The register children an actor sees (``None``: the operator, every county), with
    their student, school and open case, by village, household and name."""
    query = select(Child, linked_student())
    if actor is not None:
        query = query.where(visible_children(actor))
    if village_id is not None:
        query = query.where(Child.village_id == village_id)
    if county_id is not None:
        query = query.where(Child.county_id == county_id)
    rows = cw.session.exec(query.order_by(col(Child.village_id), col(Child.household),
                                          col(Child.name), col(Child.id))).all()
    student_ids = [sid for _c, sid in rows if sid is not None]
    students = {s.id: s for s in cw.session.exec(
        select(Student).where(col(Student.id).in_(student_ids))).all()} if student_ids else {}
    classes = {k.id: k for k in cw.session.exec(select(SchoolClass).where(
        col(SchoolClass.id).in_([s.class_id for s in students.values() if s.class_id])))}
    schools = {s.id: s for s in cw.session.exec(select(School)).all()}
    villages = {v.id: v for v in cw.session.exec(select(Village)).all()}
    cases: dict[int, int] = {}
    if student_ids:
        for case_id, sid in cw.session.exec(select(Case.id, Case.student_id).where(
                col(Case.student_id).in_(student_ids), col(Case.state).in_(OPEN))).all():
            cases.setdefault(sid, case_id or 0)
    out: list[Entry] = []
    for child, sid in rows:
        student = students.get(sid) if sid is not None else None
        klass = classes.get(student.class_id) if student is not None and student.class_id else None
        school = schools.get(klass.school_id) if klass is not None else None
        status = child.status
        if school is not None:
            village = villages.get(child.village_id)
            home = village.township_id if village is not None else None
            status = "local_school" if school.township_id == home else "county_school"
        out.append(Entry(child, student, school, klass,
                         cases.get(sid) if sid is not None else None, status))
    return out


def unschooled(cw: Casework, actor: User, *, village_id: int | None = None) -> list[Entry]:
    """The children in the actor's scope with no school of ours, no open case and no
    status that accounts for them; audited as a list view."""
    found = [e for e in entries(cw, actor, village_id=village_id) if e.unschooled]
    cw.audit_list(actor, "register.unschooled", "register_child", [e.child.id for e in found])
    return found


def notify_unschooled(cw: Casework, county_id: int) -> int:
    """Tell each village cadre how many unschooled children their village has, with a
    button to the list. Returns the number of messages queued."""
    counts: dict[int, int] = {}
    for entry in entries(cw, None, county_id=county_id):
        if entry.unschooled:
            counts[entry.child.village_id] = counts.get(entry.child.village_id, 0) + 1
    if not counts:
        return 0
    cadres = cw.session.exec(select(User).where(
        User.role == "village_cadre", col(User.active).is_(True), User.scope_kind == "village",
        col(User.scope_id).in_(list(counts)))).all()
    stamp = cw.today().isoformat()
    sent = 0
    for cadre in cadres:
        if cadre.unreachable or cadre.scope_id is None:
            continue
        n = counts[cadre.scope_id]
        text = n_("{n} school-age child of your village has no school and no case in the register. "
                  "Please find the child and report them.",
                  "{n} school-age children of your village have no school and no case in the "
                  "register. Please find each one and report them.", n)
        buttons = [[{"text": outbox.text_to_json(_("📋 See the list")),
                     "data": Unschooled(1).encode()}]]
        outbox.enqueue(cw.session, cadre, text, kind="register_unschooled", now=cw.now(),
                       buttons=buttons,  # type: ignore[arg-type]  # a label is a Text as JSON
                       dedupe_key=f"reg:{cadre.id}:{stamp}:{n}")
        sent += 1
    return sent


def set_status(cw: Casework, actor: User, child_id: int, status: str) -> Child:
    """The status the village (or an officer above it) found door to door; audited with
    the one it replaces. A child at a school of ours shows that school whatever is set."""
    if status not in STATUSES:
        raise ValidationError("status", _("“{value}” is not a status of the register", value=status))
    if not actor.active or actor.role not in ("village_cadre", "township_officer", "county_officer", "admin"):
        raise AccessDenied(_("Only the village cadre and the township and county officers record a "
                             "child's status."), actor_id=actor.id, action="register.status",
                           object_type="register_child", object_id=child_id)
    child = child_in_scope(cw, actor, child_id)
    before = child.status
    child.status = status
    child.updated_at = cw.now_db()
    cw.session.add(child)
    cw.audit(actor, "register.status", "register_child", child.id, before=before, after=status)
    return child


def child_in_scope(cw: Casework, actor: User, child_id: int) -> Child:
    child = cw.session.exec(select(Child).where(Child.id == child_id, visible_children(actor))).first()
    if child is None:
        if cw.session.get(Child, child_id) is not None:  # a forged button: refused and audited
            raise AccessDenied(_("There is no such child in your area's register."), actor_id=actor.id,
                               action="register.view", object_type="register_child", object_id=child_id)
        raise NotFound(_("There is no such child in your area's register."))
    return child


def student_for(cw: Casework, actor: User, child_id: int) -> Student:
    """The student a register child is (created, never enrolled, when there is none yet),
    to report them door to door. Only the village cadre of the child's village."""
    if actor.role != "village_cadre" or not actor.active:
        raise AccessDenied(_("Only the village cadre reports a child found door to door."),
                           actor_id=actor.id, action="register.report",
                           object_type="register_child", object_id=child_id)
    child = child_in_scope(cw, actor, child_id)
    sid = cw.session.exec(select(linked_student()).where(Child.id == child.id)).one()
    if sid is not None:
        student = cw.session.get(Student, sid)
        assert student is not None
        return student
    now = cw.now_db()
    student = Student(name=child.name, gender=child.gender, birth_date=child.birth_date,
                      id_number=child.id_number, id_number_hash=child.id_number_hash,
                      hukou_address=child.address, village_id=child.village_id, key_groups=[],
                      enrolled=False, created_at=now, updated_at=now)
    cw.session.add(student)
    cw.session.flush()
    child.student_id = student.id
    child.updated_at = now
    cw.session.add(child)
    cw.audit(actor, "register.student", "student", student.id, register_child=child.id)
    return student
