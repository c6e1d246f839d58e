"""The three ledgers of the 2024 national notice, as views of the same data:

- 适龄儿童台账: every school-age child of the register (``casework.register``), by village
  and household, with the status, school and open case; plus the children registered
  door to door who are not (yet) in the imported register;
- 疑似辍学台账: the cases standing on the school's levels (疑似辍学, 学校劝返);
- 辍学台账: the cases standing on the levels above (乡镇劝返, 限期复学, 县级, 司法).

A paused case stays on the ledger of the level it paused on; a returned or closed case is
on neither. The two case ledgers are the rows of the ledger export (``casework.ledger``:
the same columns, scope and disclosure), narrowed to those levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, or_
from sqlmodel import col, select

from casework import codes, ledger, states
from casework.context import Casework
from casework.disclosure import Disclosure
from casework.errors import AccessDenied, ValidationError
from casework.i18n import ContextText, _, normalize_language, p_
from casework.ledger import Column, Value
from casework.register import Entry, entries, status_label
from casework.scope import visible_students
from models.tables import RegisterChild, School, SchoolClass, Student, Township, User, Village

KINDS = ("children", "suspected", "dropout")
SUSPECTED_LEVELS = ("suspected", "school_persuasion")
DROPOUT_LEVELS = tuple(level for level in states.LADDER if level not in SUSPECTED_LEVELS)
EXPORT_ROLES = ledger.EXPORT_ROLES
CASE_LEVELS = {"suspected": SUSPECTED_LEVELS, "dropout": DROPOUT_LEVELS}


def case_filter(kind: str) -> ledger.LedgerFilter:
    """The cases of the 疑似辍学台账 (``suspected``) or the 辍学台账 (``dropout``): on the
    ladder, or paused on it, at the ledger's levels (the export's, and the re-check's pool)."""
    return ledger.LedgerFilter(state="active", levels=CASE_LEVELS[kind])

TITLES: dict[str, ContextText] = {
    "children": p_("ledger", "Register of school-age children"),  # 适龄儿童台账
    "suspected": p_("ledger", "Ledger of suspected dropouts"),  # 疑似辍学台账
    "dropout": p_("ledger", "Ledger of dropouts"),  # 辍学台账
}

CHILD_COLUMNS: tuple[Column, ...] = (
    Column("no", "序号", "No.", "seq", 6),
    Column("township", "乡镇（街道）", "Township", "text", 10),
    Column("village", "村（社区）", "Village", "text", 10),
    Column("household", "户号", "Household no.", "text", 10),
    Column("head", "户主姓名", "Head of household", "text", 10),
    Column("name", "姓名", "Name", "text", 10),
    Column("gender", "性别", "Gender", "text", 6),
    Column("birth_date", "出生日期", "Date of birth", "date", 11),
    Column("age", "年龄", "Age", "int", 5),
    Column("id_number", "居民身份证号码", "ID number", "text", 21),
    Column("address", "户籍地址", "Registered address", "text", 22),
    Column("status", "就读状态", "Status", "text", 14),
    Column("school", "就读学校", "School", "text", 16),
    Column("class", "年级班级", "Grade and class", "text", 12),
    Column("case", "个案编号", "Case no.", "int", 8),
    Column("check", "需入户核查", "To check door to door", "text", 8),
    Column("source", "来源", "Source", "text", 10),
)
SOURCES: dict[str, ContextText] = {
    "import": p_("ledger", "household register"),  # 户籍导入
    "door_to_door": p_("ledger", "door to door"),  # 入户登记
}


@dataclass
class Job:
    kind: str
    lang: str
    disclosure: Disclosure
    today: date
    exported_at: datetime
    scope: str
    case_job: ledger.LedgerJob | None = None  # the two case ledgers
    rows: int = 0

    @property
    def title(self) -> str:
        return TITLES[self.kind].render(self.lang)


def prepare(cw: Casework, actor: User | None, kind: str, *, lang: str,
            disclosure: Disclosure | None = None) -> Job:
    """Check who asks and for what; ``actor=None`` is the operator (``disclosure`` chosen)."""
    if kind not in KINDS:
        raise ValidationError("kind", _("“{code}” is not a known choice.", code=kind))
    shown = disclosure or (Disclosure.for_role(actor.role) if actor is not None else Disclosure.masked())
    job = Job(kind, normalize_language(lang), shown, cw.today(),
              cw.now().astimezone(cw.policy.tz), ledger.scope_name(cw, actor))
    if kind != "children":
        job.case_job = ledger.prepare(cw, actor, case_filter(kind), lang=lang, disclosure=shown)
    elif actor is not None and (not actor.active or actor.role not in EXPORT_ROLES):
        raise AccessDenied(_("Ledger exports are for school administrators and township and county officers."),
                           actor_id=actor.id, action="register.children.export",
                           object_type="ledger", object_id=None)
    return job


def case_rows(cw: Casework, actor: User | None, job: Job) -> list[list[Value]]:
    """The case ledger's rows (the ledger export's columns), in case order."""
    assert job.case_job is not None
    return [values for _state, values in ledger.iter_rows(cw, actor, job.case_job)]


def child_rows(cw: Casework, actor: User | None, job: Job) -> list[list[Value]]:
    """The register's rows (``CHILD_COLUMNS`` but the sequence number)."""
    lang = job.lang
    townships = {t.id: t.name for t in cw.session.exec(select(Township)).all()}
    villages = {v.id: (v.name, townships.get(v.township_id, "")) for v in cw.session.exec(select(Village)).all()}
    yes = ledger.word("yes", lang)
    rows: list[list[Value]] = []
    for e in entries(cw, actor):
        rows.append(_child_row(e, job, villages, yes))
    # children registered door to door whom the imported register does not hold
    in_register = exists().where(or_(
        col(RegisterChild.student_id) == col(Student.id),
        and_(col(Student.id_number_hash).is_not(None),
             col(RegisterChild.id_number_hash) == col(Student.id_number_hash))))
    query = select(Student).where(col(Student.enrolled).is_(False), col(Student.village_id).is_not(None),
                                  ~in_register)
    if actor is not None:
        query = query.where(visible_students(actor))
    from casework.register import OPEN
    from models.tables import Case

    found = cw.session.exec(query.order_by(col(Student.village_id), col(Student.name))).all()
    open_cases: dict[int, int] = {}  # the open case of each, in one query
    if found:
        for case_id, student_id in cw.session.exec(select(Case.id, Case.student_id).where(
                col(Case.student_id).in_([s.id for s in found]), col(Case.state).in_(OPEN))
                .order_by(col(Case.id))).all():
            open_cases.setdefault(student_id, case_id or 0)
    for s in found:
        case_id = open_cases.get(s.id or 0)
        village, township = villages.get(s.village_id, ("", ""))
        rows.append([township, village, None, None, s.name, codes.label("gender", s.gender).render(lang),
                     s.birth_date, _age(s.birth_date, job.today), job.disclosure.id_number(s.id_number),
                     s.hukou_address, status_label("not_enrolled").render(lang), None, None, case_id,
                     yes if case_id is None else None, SOURCES["door_to_door"].render(lang)])
    job.rows = len(rows)
    return rows


def _child_row(e: Entry, job: Job, villages: dict[Any, tuple[str, str]], yes: str) -> list[Value]:
    lang, c = job.lang, e.child
    village, township = villages.get(c.village_id, ("", ""))
    klass: SchoolClass | None = e.klass
    school: School | None = e.school
    return [
        township, village, c.household, c.household_head, c.name,
        codes.label("gender", c.gender).render(lang), c.birth_date, _age(c.birth_date, job.today),
        job.disclosure.id_number(c.id_number), c.address, status_label(e.status).render(lang),
        school.name if school is not None else None,
        ledger.word("class", lang).format(grade=klass.grade, section=klass.section) if klass else None,
        e.case_id, yes if e.unschooled else None, SOURCES.get(c.source, SOURCES["import"]).render(lang),
    ]


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def record_export(cw: Casework, actor: User | None, job: Job) -> None:
    cw.audit(actor, f"register.{job.kind}.export", "ledger", None, rows=job.rows,
             disclosure=job.disclosure.code, via="bot" if actor is not None else "cli")
