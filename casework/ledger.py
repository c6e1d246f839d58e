"""The ledger (台账): which cases an export holds, what each row says, and who may have it.

One row per case with the columns of seed 002's 辍学学生登记表 (and the ladder's own
dates), grouped by state; a summary counts cases by state, reason, key group, village and
school. Who may export is a role rule (school admins, township and county officers, the
operator), what they get is their scope only (``casework.scope``), and how much of the
personal numbers they get in full is ``casework.disclosure``. Every export is audited.

Rendering is not done here (``documents.ledger_xlsx`` writes the workbook); this
module yields plain values (str, int, date, None) in column order. It reads in chunks
of ``CHUNK`` cases, each in its own short transaction (keyset on the case id), so a
100,000-case export neither holds SQLite's write lock nor a PostgreSQL snapshot for long.

Column headers are the official form's terms, so they live here as a bilingual table
(Chinese from the seed form, English beside it) rather than in the gettext catalog. The
workbook's other words (sheet names, the summary's titles) go through gettext in the
contexts "ledger" and "ledger sheet" (their Chinese differs from the same English word
elsewhere), and so do the code labels inside the cells (states, reasons…).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, Integer, String, Text, bindparam, cast, or_, true, type_coerce
from sqlalchemy import select as core_select
from sqlmodel import col, func, select

from casework import codes, states
from casework.clock import to_db
from casework.context import Casework
from casework.deadlines import WORK_KINDS
from casework.disclosure import Disclosure
from casework.errors import AccessDenied, ValidationError
from casework.i18n import N_, ContextText, _, gettext_for, normalize_language, p_
from casework.labels import CLAUSE_SEPARATOR, STATE_LABELS, grade_text
from casework.periods import Period
from casework.relations import relation_label
from casework.scope import cases_within, unit_within, visible_cases
from casework.validation import age_on
from models.tables import (
    Case,
    County,
    Deadline,
    Guardian,
    School,
    SchoolClass,
    Student,
    Township,
    User,
    Village,
    Visit,
)
from models.types import cipher

EXPORT_ROLES = frozenset({"school_admin", "township_officer", "county_officer", "admin"})
CHUNK = 250  # cases per read: each 1,000 held at once cost about 5 MiB (rows, ciphertext)

Value = str | int | date | None


@dataclass(frozen=True)
class Column:
    key: str
    zh: str  # the term of the seed form (002 登记表, 000 表3/表4)
    en: str
    kind: str  # seq | text | long | date | int
    width: float

    def label(self, lang: str | None) -> str:
        return self.en if normalize_language(lang) == "en" else self.zh


COLUMNS: tuple[Column, ...] = (
    Column("no", "序号", "No.", "seq", 6),
    Column("case", "个案编号", "Case no.", "int", 8),
    Column("state", "当前状态", "State", "text", 16),
    Column("name", "姓名", "Name", "text", 10),
    Column("id_number", "居民身份证号码", "ID number", "text", 21),
    Column("birth_date", "出生日期", "Date of birth", "date", 11),
    Column("gender", "性别", "Gender", "text", 6),
    Column("age", "年龄", "Age", "int", 5),
    Column("ethnicity", "民族", "Ethnicity", "text", 7),
    Column("health", "健康情况", "Health", "text", 9),
    Column("student_number", "全国学籍号", "Student number", "text", 22),
    Column("school", "就读学校", "School", "text", 16),
    Column("class", "年级班级", "Grade and class", "text", 12),
    Column("township", "乡镇（街道）", "Township", "text", 10),
    Column("village", "村（社区）", "Village", "text", 10),
    Column("guardian1", "监护人1", "Guardian 1", "text", 9),
    Column("relation1", "与学生关系", "Relation", "text", 8),
    Column("phone1", "联系电话", "Phone", "text", 14),
    Column("guardian2", "监护人2", "Guardian 2", "text", 9),
    Column("relation2", "与学生关系", "Relation", "text", 8),
    Column("phone2", "联系电话", "Phone", "text", 14),
    Column("hukou", "户籍所在地", "Registered residence (hukou)", "text", 22),
    Column("register", "学籍所在地", "School registration", "text", 18),
    Column("current", "现居住地", "Current residence", "text", 22),
    Column("key_groups", "对象类别", "Key groups", "text", 14),
    Column("reasons", "辍学原因", "Reasons", "text", 18),
    Column("reason_note", "原因说明", "Reason details", "long", 20),
    Column("family", "家庭情况简述", "Family situation", "long", 24),
    Column("whereabouts", "去向", "Whereabouts", "text", 12),
    Column("absent_since", "旷课日期", "Absent since", "date", 11),
    Column("reported_on", "报告日期", "Reported on", "date", 11),
    Column("source", "发现途径", "Source", "text", 12),
    Column("persuaded", "是否已开展劝返工作", "Persuasion started", "text", 8),
    Column("visits", "劝返次数", "Persuasion visits", "int", 7),
    Column("last_visit", "最近劝返日期", "Last visit", "date", 11),
    Column("last_result", "劝返结果", "Latest result", "text", 12),
    Column("not_back", "未复学原因", "Why not back", "long", 20),
    Column("unit", "劝返单位", "Persuading unit", "text", 14),
    Column("responsible", "劝返责任人", "Responsible person", "text", 12),
    Column("responsible_phone", "责任人电话", "Responsible's phone", "text", 14),
    Column(
        "deferral",
        "是否经核实同意、准许先办理延缓入学或休学手续",
        "Deferral or suspension approved",
        "text",
        10,
    ),
    Column("round", "本级劝返轮次", "Round at this level", "int", 7),
    Column("next_due", "下一期限", "Next deadline", "date", 11),
    Column("notice_issued", "通知书下达日期", "Notice issued", "date", 11),
    Column("notice_due", "限期复学日期", "Return deadline", "date", 11),
    Column("returned_on", "返校日期", "Returned on", "date", 11),
    Column("outcome", "处置结果", "Outcome", "text", 12),
    Column("closed_on", "销号日期", "Closed out on", "date", 11),
    Column("history", "劝返过程详细记录", "Persuasion record", "long", 60),
)
# what ``iter_rows`` yields: every column but the sheet's own sequence number
ROW_COLUMNS = COLUMNS[1:]

# sheet names: short enough for Excel's 31-character limit, in both languages
SHEET_NAMES: dict[str, ContextText] = {
    "summary": p_("ledger sheet", "Summary"),
    "enrolment": p_("ledger sheet", "Organising enrolment"),
    "suspected": p_("ledger sheet", "Suspected"),
    "school_persuasion": p_("ledger sheet", "School persuasion"),
    "township_persuasion": p_("ledger sheet", "Township persuasion"),
    "deadline_notice": p_("ledger sheet", "Deadline notice"),
    "county_escalation": p_("ledger sheet", "County escalation"),
    "judicial": p_("ledger sheet", "Judicial"),
    "returned": p_("ledger sheet", "Returned"),
    "retention": p_("ledger sheet", "Retention"),
    "closed": p_("ledger sheet", "Closed out"),
    "home_teaching": p_("ledger sheet", "Home teaching"),
    "deferred": p_("ledger sheet", "Deferred"),
    "transferred": p_("ledger sheet", "Transferred"),
    "closed_other": p_("ledger sheet", "Closed (other)"),
    "paused": p_("ledger sheet", "Paused"),
}

# the other fixed words of the workbook
WORDS: dict[str, ContextText] = {
    "title": p_("ledger", "Dropout-control ledger"),
    "scope": p_("ledger", "Scope"),
    "filters": p_("ledger", "Filters"),
    "exported": p_("ledger", "Exported"),
    "disclosure": p_("ledger", "Personal data"),
    "full": p_("ledger", "shown in full"),
    "masked": p_("ledger", "masked"),
    "ids": p_("ledger", "ID numbers in full, phones masked"),
    "phones": p_("ledger", "phones in full, ID numbers masked"),
    "total": p_("ledger", "Total"),
    "count": p_("ledger", "Cases"),
    "by_state": p_("ledger", "By state"),
    "by_reason": p_("ledger", "By reason (a case with several counts in each)"),
    "by_key_group": p_("ledger", "By key group"),
    "by_township": p_("ledger", "By township"),
    "by_village": p_("ledger", "By village"),
    "by_school": p_("ledger", "By school"),
    "none": p_("ledger", "not recorded"),
    "not_enrolled": p_("ledger", "not enrolled"),
    "yes": p_("ledger", "Yes"),
    "no": p_("ledger", "No"),
    "all_states": p_("ledger", "all cases"),
    "open": p_("ledger", "open cases"),
    "closed": p_("ledger", "closed cases"),
    "active": p_("ledger", "cases on the ladder"),
    "summary_sheet": p_("ledger", "About this file"),
    "state": p_("ledger", "State"),
    "period": p_("ledger", "Period"),
    "unit": p_("ledger", "Unit"),
    "class": p_("ledger", "Grade {grade} Class {section}"),
}


def word(key: str, lang: str | None) -> str:
    return WORDS[key].render(lang)


def sheet_name(key: str, lang: str | None) -> str:
    return SHEET_NAMES[key].render(lang)


OPEN_STATES = tuple(s for s in states.ALL_STATES if s not in states.FINAL | {states.CLOSED})
CLOSED_STATES = tuple(s for s in states.ALL_STATES if s in states.FINAL | {states.CLOSED})
STATE_GROUPS: dict[str, tuple[str, ...]] = {
    "all": states.ALL_STATES,
    "open": OPEN_STATES,
    "closed": CLOSED_STATES,
    # on the ladder or paused on it: the 疑似辍学 and 辍学 ledgers (casework.register_ledgers)
    "active": (*states.LADDER, states.PAUSED),
}


# --- what is asked for ----------------------------------------------------------------------


UNIT_KINDS = {"c": "county", "t": "township", "v": "village", "s": "school"}


@dataclass(frozen=True)
class Unit:
    """A county, township, village or school the export is narrowed to."""

    kind: str
    id: int

    @property
    def code(self) -> str:
        """"t2": what callback data and file names carry."""
        return self.kind[0] + str(self.id)

    @classmethod
    def parse(cls, code: str) -> Unit:
        kind = UNIT_KINDS.get(code[:1])
        if kind is None or not code[1:].isdigit():
            raise ValidationError("unit", _("“{code}” is not a known choice.", code=code))
        return cls(kind, int(code[1:]))


@dataclass(frozen=True)
class LedgerFilter:
    """State (a state code, or the groups all / open / closed), period and unit."""

    state: str = "all"
    period: Period | None = None
    unit: Unit | None = None
    # only cases standing on these ladder levels (a paused case keeps its level)
    levels: tuple[str, ...] = ()

    def states(self) -> tuple[str, ...]:
        return STATE_GROUPS.get(self.state) or (self.state,)

    def check(self) -> None:
        if self.state not in STATE_GROUPS and self.state not in STATE_LABELS:
            raise ValidationError("state", _("“{code}” is not a known choice.", code=self.state))


def unit_in_scope(cw: Casework, actor: User, unit: Unit) -> bool:
    """Whether ``unit`` lies inside the actor's scope (a unit outside it is refused)."""
    return unit_within(cw.session, actor, unit.kind, unit.id)


def unit_name(cw: Casework, unit: Unit) -> str:
    model: Any = {"county": County, "township": Township, "village": Village, "school": School}[
        unit.kind
    ]
    row = cw.session.get(model, unit.id)
    return str(row.name) if row is not None else unit.code


def scope_name(cw: Casework, actor: User | None) -> str:
    if actor is None or (actor.role == "admin" and actor.scope_kind == "all"):
        return "*"
    if actor.scope_kind in ("county", "township", "village", "school") and actor.scope_id:
        return unit_name(cw, Unit(actor.scope_kind, actor.scope_id))
    return actor.display_name


def units_in_scope(cw: Casework, actor: User) -> list[tuple[Unit, str]]:
    """The units an actor may narrow an export to: the ones inside their scope, one level
    down (a county officer's townships, a township officer's schools and villages)."""
    kind, sid = actor.scope_kind, actor.scope_id
    found: list[tuple[Unit, str]] = []
    if kind == "all":
        for c in cw.session.exec(select(County).order_by(col(County.id))).all():
            found.append((Unit("county", c.id or 0), c.name))
    if kind in ("county", "all"):
        query = select(Township).order_by(col(Township.id))
        if kind == "county":
            query = query.where(Township.county_id == sid)
        for t in cw.session.exec(query).all():
            found.append((Unit("township", t.id or 0), t.name))
    if kind == "township":
        for s in cw.session.exec(
            select(School).where(School.township_id == sid).order_by(col(School.id))
        ).all():
            found.append((Unit("school", s.id or 0), s.name))
        for v in cw.session.exec(
            select(Village).where(Village.township_id == sid).order_by(col(Village.id))
        ).all():
            found.append((Unit("village", v.id or 0), v.name))
    return found


# --- the job ---------------------------------------------------------------------------------


@dataclass
class LedgerJob:
    """An export that was checked and counted; what the writer and the audit need."""

    actor_id: int | None
    filter: LedgerFilter
    disclosure: Disclosure
    lang: str
    today: date
    exported_at: datetime  # local time of the policy's zone
    scope: str
    counts: dict[str, int]  # by state, lifecycle order, only states with cases
    unit_label: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def states(self) -> list[str]:
        return list(self.counts)

    def filter_text(self) -> str:
        parts = []
        f = self.filter
        if f.state in STATE_GROUPS:
            parts.append(word({"all": "all_states", "open": "open", "closed": "closed",
                               "active": "active"}[f.state], self.lang))
        else:
            parts.append(_(STATE_LABELS[f.state]).render(self.lang))
        if f.period is not None:
            parts.append(f.period.label().render(self.lang))
        if f.unit is not None:
            parts.append(self.unit_label)
        return gettext_for(self.lang, CLAUSE_SEPARATOR).join(parts)


def _check_exporter(actor: User) -> None:
    if not actor.active or actor.role not in EXPORT_ROLES:
        raise AccessDenied(
            _("Ledger exports are for school administrators and township and county officers."),
            actor_id=actor.id,
            action="ledger.export",
            object_type="ledger",
            object_id=None,
        )


def conditions(cw: Casework, actor: User | None, filt: LedgerFilter) -> list[Any]:
    """The SQL conditions on ``Case`` for an export: scope, states, period, unit."""
    where: list[Any] = [visible_cases(actor) if actor is not None else true()]
    wanted = filt.states()
    if len(wanted) < len(states.ALL_STATES):
        where.append(col(Case.state).in_(list(wanted)))
    if filt.period is not None:
        start, end = period_bounds(cw, filt.period)
        # active at some time in the period: opened before it ended, not closed before it began
        where.append(col(Case.created_at) < end)
        where.append(or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= start))
    if filt.unit is not None:
        where.append(cases_within(filt.unit.kind, filt.unit.id))
    if filt.levels:
        where.append(col(Case.level).in_(list(filt.levels)))
    return where


def period_bounds(cw: Casework, period: Period) -> tuple[datetime, datetime]:
    """The period as [start, end) instants in UTC, from local midnight to local midnight."""
    start = to_db(cw.calendars.at_local(period.start, time(0, 0)))
    end = to_db(cw.calendars.at_local(period.end + timedelta(days=1), time(0, 0)))
    return start, end


def prepare(
    cw: Casework,
    actor: User | None,
    filt: LedgerFilter,
    *,
    lang: str,
    disclosure: Disclosure | None = None,
) -> LedgerJob:
    """Check who asks and what for, and count the cases by state.

    ``actor=None`` is the operator at the command line, who sees every county; their
    ``disclosure`` is chosen explicitly (``--full``). A unit outside the actor's scope is
    refused (and audited by the unit of work), never silently emptied.
    """
    filt.check()
    if actor is not None:
        _check_exporter(actor)
        if filt.unit is not None and not unit_in_scope(cw, actor, filt.unit):
            raise AccessDenied(
                _("That unit is outside your area."),
                actor_id=actor.id,
                action="ledger.export",
                object_type=filt.unit.kind,
                object_id=filt.unit.id,
            )
    where = conditions(cw, actor, filt)
    found = dict(
        cw.session.exec(
            select(Case.state, func.count()).where(*where).group_by(col(Case.state))
        ).all()
    )
    counts = {s: found[s] for s in states.ALL_STATES if found.get(s)}
    job = LedgerJob(
        actor_id=actor.id if actor is not None else None,
        filter=filt,
        disclosure=disclosure
        if disclosure is not None
        else (Disclosure.for_role(actor.role) if actor is not None else Disclosure.masked()),
        lang=normalize_language(lang),
        today=cw.today(),
        exported_at=cw.now().astimezone(cw.policy.tz),
        scope=scope_name(cw, actor),
        counts=counts,
    )
    if filt.unit is not None:
        job.unit_label = unit_name(cw, filt.unit)
    return job


def record_export(cw: Casework, actor: User | None, job: LedgerJob, what: str = "ledger") -> None:
    """The audit record of an export: who, what filters, how many rows, what in full."""
    f = job.filter
    cw.audit(
        actor,
        f"{what}.export",
        what,
        None,
        rows=job.total,
        state=f.state,
        period=f.period.code if f.period else "",
        unit=f.unit.code if f.unit else "",
        disclosure=job.disclosure.code,
        via="bot" if actor is not None else "cli",
    )


# --- the rows --------------------------------------------------------------------------------


@dataclass
class Summary:
    """Counts gathered while the rows go by (a case with several reasons counts in each)."""

    by_state: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    by_key_group: Counter[str] = field(default_factory=Counter)
    by_township: Counter[int | None] = field(default_factory=Counter)
    by_village: Counter[int | None] = field(default_factory=Counter)
    by_school: Counter[int | None] = field(default_factory=Counter)
    names: dict[str, dict[int, str]] = field(default_factory=dict)

    def name(self, kind: str, unit_id: int | None, lang: str) -> str:
        if unit_id is None:
            return word("not_enrolled" if kind == "school" else "none", lang)
        return self.names.get(kind, {}).get(unit_id, str(unit_id))


Progress = Callable[[int, int], None]


class _Labels:
    """Every code label of the export's language, rendered once (the row loop only looks up)."""

    def __init__(self, lang: str) -> None:
        def table(kind: str) -> dict[str, str]:
            return {code: codes.label(kind, code).render(lang) for code in codes.CODE_LISTS[kind]}

        self.reason = table("reason")
        self.key_group = table("key_group")
        self.outcome = table("outcome")
        self.method = table("visit_method")
        self.result = table("visit_result")
        self.source = table("source")
        self.gender = table("gender")
        self.state = {s: _(m).render(lang) for s, m in STATE_LABELS.items()}
        self.yes, self.no = word("yes", lang), word("no", lang)
        self.sep = gettext_for(lang, CLAUSE_SEPARATOR)
        self.list_sep = "、" if lang != "en" else ", "
        self.visit_line = gettext_for(lang, VISIT_LINE)
        self.klass = word("class", lang)
        self._lang = lang
        self._relations: dict[str | None, str] = {}

    def relation(self, code: str | None) -> str:
        found = self._relations.get(code)
        if found is None:
            found = self._relations[code] = relation_label(code, self._lang)
        return found


# Translators: "1. 2026-11-20 Home visit (Zhang Wei): Refused" — one line of the ledger's
# persuasion record (劝返过程详细记录); zh: "{n}. {date} {method}（{who}）：{result}"
VISIT_LINE = N_("{n}. {date} {method} ({who}): {result}")


def _label_list(values: Sequence[str] | None, table: dict[str, str], sep: str) -> str:
    if not values:
        return ""
    return sep.join(table.get(v, v) for v in values)


def _unit_kind_of_level(cw: Casework, level: str) -> str:
    """Which unit persuades at a level: the policy's first responsible role decides."""
    if not cw.policy.has_level(level):  # type: ignore[arg-type]
        return "school"
    role = cw.policy.level(level).responsible[0]  # type: ignore[arg-type]
    if role in ("teacher", "school_admin"):
        return "school"
    if role in ("village_cadre", "township_officer"):
        return "township"
    return "county"


def iter_rows(
    cw: Casework,
    actor: User | None,
    job: LedgerJob,
    *,
    summary: Summary | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> Iterator[tuple[str, list[Value]]]:
    """Yield ``(state, values)`` per case, in case-number order, values as ``ROW_COLUMNS``.

    Each chunk is read in its own short transaction, on a connection of the session's
    engine held for the export; pass a context whose session holds no pending changes
    (the export's own session).
    """
    session = cw.session
    assert not (session.new or session.dirty or session.deleted), "use a session of its own"
    lang = job.lang
    labels = _Labels(lang)
    disclosure = job.disclosure
    today = job.today
    where = conditions(cw, actor, job.filter)

    # the units, once: a county has at most a few thousand
    townships = {t.id: t.name for t in session.exec(select(Township)).all()}
    counties = {c.id: c.name for c in session.exec(select(County)).all()}
    schools = {s.id: (s.name, s.township_id) for s in session.exec(select(School)).all()}
    villages = {v.id: (v.name, v.township_id) for v in session.exec(select(Village)).all()}
    classes = {
        k.id: labels.klass.format(grade=grade_text(k.grade).render(labels._lang), section=k.section)
        for k in session.exec(select(SchoolClass)).all()
    }
    level_unit = {s: _unit_kind_of_level(cw, s) for s in states.LADDER}
    level_unit[states.ENROLMENT] = "township"  # 组织入学 is the township's (seed 000 附件2)
    people: dict[int, tuple[str, str | None]] = {}
    if summary is not None:
        summary.names = {
            "township": {k: v for k, v in townships.items() if k is not None},
            "village": {k: v[0] for k, v in villages.items() if k is not None},
            "school": {k: v[0] for k, v in schools.items() if k is not None},
        }
    session.rollback()

    # bound lookups the row loop calls a million times
    state_label, gender_label = labels.state.get, labels.gender.get
    source_label, outcome_label = labels.source.get, labels.outcome.get
    yes, no = labels.yes, labels.no
    show_id, show_sn = disclosure.id_number, disclosure.student_number
    lists = _JsonLists()
    reason_text = _LabelledLists(lists, labels.reason, labels.list_sep).get
    group_text = _LabelledLists(lists, labels.key_group, labels.list_sep).get
    local_date = _LocalDates(cw.policy.tz).get
    visit_cells = _VisitCells(labels, lists)
    deferred = states.DEFERRED
    reason_sets: Counter[tuple[str, ...]] = Counter()
    group_sets: Counter[tuple[str, ...]] = Counter()
    by_state: Counter[str] = Counter()
    by_township: Counter[int | None] = Counter()
    by_village: Counter[int | None] = Counter()
    by_school: Counter[int | None] = Counter()
    counting = summary is not None

    # the chunk's statements, built once (each one's cache key is worked out once): the
    # cases after a case number, then what belongs to the cases of the chunk's range
    after = bindparam("after", type_=Integer)
    first = bindparam("first", type_=Integer)
    last = bindparam("last", type_=Integer)
    read_cases = (
        core_select(*_CASE_COLUMNS)
        .join(Student, col(Student.id) == Case.student_id)
        .where(*where, col(Case.id) > after)
        .order_by(col(Case.id))
        .limit(chunk)
    )
    # the chunk's cases again as a subquery, and the range on the row's own case column
    # besides: with it PostgreSQL reads the index for the range instead of the whole table
    in_chunk = select(Case.id).where(*where, col(Case.id) >= first, col(Case.id) <= last)
    read_visits = (
        core_select(*_VISIT_COLUMNS)
        .where(
            col(Visit.case_id) >= first,
            col(Visit.case_id) <= last,
            col(Visit.case_id).in_(in_chunk),
        )
        # ids grow with recording time (record_visit stamps recorded_at = now)
        .order_by(col(Visit.case_id), col(Visit.id))
    )
    read_dues = (
        select(Deadline.case_id, type_coerce(func.min(Deadline.due_at), String))
        .where(
            col(Deadline.case_id) >= first,
            col(Deadline.case_id) <= last,
            col(Deadline.case_id).in_(in_chunk),
            Deadline.status == "open",
            col(Deadline.kind).in_(WORK_KINDS),
        )
        .group_by(col(Deadline.case_id))
    )
    # the chunk's students by their cases: with a chunk this size PostgreSQL looks each one
    # up in the index (a list of ids instead costs more to send than to run)
    read_guardians = (
        core_select(*_GUARDIAN_COLUMNS)
        .where(
            col(Guardian.student_id).in_(
                select(Case.student_id).where(*where, col(Case.id) >= first, col(Case.id) <= last)
            )
        )
        .order_by(col(Guardian.student_id), col(Guardian.ordinal))
    )

    last_id = 0
    done = 0
    total = job.total
    # one connection for the whole export and a short transaction per chunk: no pool
    # checkout per chunk (on PostgreSQL a pre-ping round trip each), no lock in between
    engine = session.get_bind()
    assert isinstance(engine, Engine), "the session must be bound to an engine"
    with engine.connect() as conn:
        while True:
            trans = conn.begin()
            batch = conn.execute(read_cases, {"after": last_id}).all()
            if not batch:
                trans.rollback()
                break
            span = {"first": batch[0][0], "last": batch[-1][0]}
            last_id = batch[-1][0]
            guardian_rows = conn.execute(read_guardians, span).all()
            visits = visit_cells.of(conn.execute(read_visits, span).all())
            dues: dict[int, Any] = dict(conn.execute(read_dues, span).all())
            wanted_people = {
                pid
                for r in batch
                for pid in (r[13], r[14], r[15], r[16])
                if pid is not None and pid not in people
            }
            if wanted_people:
                for uid, uname, uphone in conn.execute(
                    select(User.id, User.display_name, User.phone).where(
                        col(User.id).in_(list(wanted_people))
                    )
                ):
                    people[uid] = (uname, disclosure.phone(uphone))
            trans.rollback()  # read only: the transaction just ends

            # every encrypted value of the chunk in one call (see Cipher.decrypt_many)
            tokens = [t for r in batch for t in (r[28], r[29]) if t]
            tokens += [g[3] for g in guardian_rows if g[3]]
            plain = dict(zip(tokens, _decrypt_all(tokens), strict=True))
            # per student the six guardian cells (two guardians), labelled and disclosed here
            guardians: dict[int, tuple[Value, ...]] = {}
            for sid, gname, relation, phone in guardian_rows:
                cells = guardians.get(sid, ())
                if len(cells) < 6:
                    guardians[sid] = (
                        *cells, gname, labels.relation(relation),
                        disclosure.phone(plain[phone]) if phone else None,
                    )
            del guardian_rows

            for r in batch:
                (
                    case_id, state, source, reasons, reason_note, whereabouts, absent_since, level,
                    current_round, county_id, school_id, class_id, village_id, school_resp,
                    village_resp, assigned_to, reported_by, outcome, notice_issued_at,
                    notice_due_on, returned_on, closed_at, created_at, student_id, name, gender,
                    birth_date, ethnicity, id_token, sn_token, health, key_groups, hukou,
                    register, current,
                ) = r
                school = schools.get(school_id) if school_id is not None else None
                village = villages.get(village_id) if village_id is not None else None
                township_id = village[1] if village else (school[1] if school else None)
                g = guardians.get(student_id, _NO_GUARDIANS)
                if len(g) < 6:
                    g = (*g, None, None, None)
                v = visits.get(case_id, _NO_VISITS)
                unit_kind = level_unit.get(level, "school")
                if unit_kind == "school":
                    unit = school[0] if school else townships.get(township_id, "")
                    responsible_id = assigned_to or school_resp or village_resp or reported_by
                elif unit_kind == "township":
                    unit = townships.get(township_id, "")
                    responsible_id = assigned_to or village_resp or school_resp or reported_by
                else:
                    unit = counties.get(county_id, "")
                    responsible_id = assigned_to or village_resp or school_resp or reported_by
                person = people.get(responsible_id) if responsible_id is not None else None
                due = dues.get(case_id)
                values: list[Value] = [
                    case_id,
                    state_label(state, state),
                    name,
                    show_id(plain[id_token]) if id_token else None,
                    birth_date,
                    gender_label(gender, gender),
                    age_on(birth_date, today) if birth_date else None,
                    ethnicity,
                    health,
                    show_sn(plain[sn_token]) if sn_token else None,
                    school[0] if school else None,
                    classes.get(class_id) if class_id is not None else None,
                    townships.get(township_id) if township_id is not None else None,
                    village[0] if village else None,
                    *g,
                    hukou,
                    register,
                    current,
                    group_text(key_groups),
                    reason_text(reasons),
                    reason_note,
                    v[0],  # the latest visit's family situation
                    whereabouts,
                    absent_since,
                    local_date(created_at),
                    source_label(source, source),
                    yes if v[1] else no,
                    v[1],
                    v[2],
                    v[3],
                    v[4] if state not in _BACK else None,
                    unit,
                    person[0] if person else None,
                    person[1] if person else None,
                    yes if state == deferred and outcome in ("deferred", "suspended") else no,
                    current_round,
                    local_date(due) if due is not None else None,
                    local_date(notice_issued_at) if notice_issued_at is not None else None,
                    notice_due_on,
                    returned_on,
                    outcome_label(outcome, outcome) if outcome else None,
                    local_date(closed_at) if closed_at is not None else None,
                    v[5],
                ]
                if counting:
                    by_state[state] += 1
                    # counted per combination, expanded into codes after the last chunk
                    reason_sets[lists.get(reasons)] += 1
                    group_sets[lists.get(key_groups)] += 1
                    by_township[township_id] += 1
                    by_village[village_id] += 1
                    by_school[school_id] += 1
                yield state, values
            done += len(batch)
            # the chunk is dropped before the next is read: only one is ever held
            del batch, tokens, plain, guardians, visits, dues
            if progress is not None:
                progress(done, max(total, done))
    if summary is not None:
        summary.by_state.update(by_state)
        summary.by_township.update(by_township)
        summary.by_village.update(by_village)
        summary.by_school.update(by_school)
        for combination, n in reason_sets.items():
            for code in combination:
                summary.by_reason[code] += n
        for combination, n in group_sets.items():
            for code in combination:
                summary.by_key_group[code] += n


# what a case without guardians or visits shows in those columns
_NO_GUARDIANS: tuple[Value, ...] = (None, None, None, None, None, None)
_NO_VISITS: tuple[Value, ...] = (None, 0, None, None, None, "")
_CACHE_LIMIT = 1024  # distinct values remembered per cache: few codes, bounded on free text


class _JsonLists:
    """JSON list columns read as text and parsed once per distinct text: a county's cases
    share a few dozen reason and key-group combinations.

    The columns are cast to text in the query, so every driver hands over the same thing
    (psycopg would otherwise parse JSON itself and SQLite would not), and what comes back
    is always a tuple of strings: hashable, countable and joinable whatever was stored.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, ...]] = {}

    def get(self, raw: str | None) -> tuple[str, ...]:
        if raw is None:
            return ()
        found = self._seen.get(raw)
        if found is None:
            found = _as_strings(raw)
            if len(self._seen) < _CACHE_LIMIT:
                self._seen[raw] = found
        return found


def _as_strings(raw: str) -> tuple[str, ...]:
    """A stored JSON list as strings; a JSON null is empty, anything else is shown as stored."""
    try:
        value = json.loads(raw)
    except ValueError:
        return (raw,)
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(
        item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        for item in items
        if item is not None
    )


class _LabelledLists:
    """A JSON list of codes as the joined labels, once per distinct stored text."""

    def __init__(self, lists: _JsonLists, table: dict[str, str], sep: str) -> None:
        self._lists, self._table, self._sep = lists, table, sep
        self._seen: dict[str | None, str] = {}

    def get(self, raw: str | None) -> str:
        found = self._seen.get(raw)
        if found is None:
            found = _label_list(self._lists.get(raw), self._table, self._sep)
            if len(self._seen) < _CACHE_LIMIT:
                self._seen[raw] = found
        return found


class _VisitCells:
    """A chunk's visits as the cells each case shows: the latest visit's family situation,
    the number of visits, the latest date and result, the latest attitude note (shown while
    the child is not back) and the whole record, one line per visit."""

    def __init__(self, labels: _Labels, lists: _JsonLists) -> None:
        self._line = labels.visit_line.format
        self._sep, self._list_sep = labels.sep, labels.list_sep
        self._method, self._result = labels.method.get, labels.result.get
        self._lists = lists

    def of(self, rows: Sequence[Any]) -> dict[int, tuple[Value, ...]]:
        """``rows`` as ``_VISIT_COLUMNS``, ordered by case and then by recording."""
        line, sep, list_sep = self._line, self._sep, self._list_sep
        method_label, result_label, participants = self._method, self._result, self._lists.get
        found: dict[int, tuple[Value, ...]] = {}
        for case_id, visits in groupby(rows, key=itemgetter(0)):
            lines = []
            n = 0
            for v in visits:
                n += 1
                text = line(
                    n=n,
                    date=v[1].isoformat(),
                    method=method_label(v[2], v[2]),
                    who=list_sep.join(participants(v[3])),
                    result=result_label(v[4], v[4]),
                )
                lines.append(f"{text}{sep}{v[5]}" if v[5] else text)
            found[case_id] = (
                v[6], n, v[1], result_label(v[4], v[4]), v[7] or v[8], "\n".join(lines)
            )
        return found


class _LocalDates:
    """UTC instants as local calendar dates.

    Read raw: SQLite gives the stored text ("2026-11-13 01:00:00.000000"), PostgreSQL an
    aware datetime. Real instants are mostly distinct, so nothing is kept per instant;
    per UTC day the zone's offset is looked up once, and on a day with one offset
    throughout (all but the days the clocks change, if they do) a stored text's local
    date is its UTC date, or the day before or after as the offset crosses a midnight.
    """

    def __init__(self, tz: Any) -> None:
        self._tz = tz
        self._days: dict[str, tuple[int, tuple[date, date, date]] | None] = {}

    def get(self, value: Any) -> date:
        if not isinstance(value, str) or not 19 <= len(value) <= 26 or value[19:20] not in ("", "."):
            # a datetime, or text not in the stored form (an offset of its own): as it is
            when = datetime.fromisoformat(value) if isinstance(value, str) else value
            return _local_date(when, self._tz)
        try:
            day = self._days[value[:10]]
        except KeyError:
            day = self._day(value[:10])
        if day is None:
            return _local_date(datetime.fromisoformat(value), self._tz)
        offset, dates = day
        return dates[(int(value[11:13]) * 60 + int(value[14:16]) + offset) // 1440 + 1]

    def _day(self, text: str) -> tuple[int, tuple[date, date, date]] | None:
        """The zone's offset in minutes on a UTC day, with the dates it may give; ``None``
        if the offset changes that day (or is not whole minutes)."""
        utc_day = date.fromisoformat(text)
        start = datetime.combine(utc_day, time(0, 0), UTC)
        first = start.astimezone(self._tz).utcoffset()
        end = (start + timedelta(days=1, microseconds=-1)).astimezone(self._tz).utcoffset()
        found = None
        minute = timedelta(minutes=1)
        if first is not None and first == end and not first % minute:
            one = timedelta(days=1)
            found = (first // minute, (utc_day - one, utc_day, utc_day + one))
        if len(self._days) < _CACHE_LIMIT:
            self._days[text] = found
        return found


def _decrypt_all(tokens: list[str]) -> list[str]:
    c = cipher()
    many = getattr(c, "decrypt_many", None)
    return list(many(tokens)) if many is not None else [c.decrypt(t) for t in tokens]


def _raw(column: Any) -> Any:
    """A column read as stored (ciphertext, a UTC instant), decrypted or converted in bulk here."""
    return type_coerce(column, String).label(column.key)


def _json_text(column: Any) -> Any:
    """A JSON column as its text on every backend (see ``_JsonLists``)."""
    return cast(column, Text).label(column.key)


_CASE_COLUMNS: tuple[Any, ...] = (
    Case.id,
    Case.state,
    Case.source,
    _json_text(Case.reasons),
    Case.reason_note,
    Case.whereabouts,
    Case.absent_since,
    Case.level,
    Case.current_round,
    Case.county_id,
    Case.school_id,
    Case.class_id,
    Case.village_id,
    Case.school_responsible_id,
    Case.village_responsible_id,
    Case.assigned_to_id,
    Case.reported_by,
    Case.outcome,
    _raw(Case.notice_issued_at),
    Case.notice_due_on,
    Case.returned_on,
    _raw(Case.closed_at),
    _raw(Case.created_at),
    Student.id,
    Student.name,
    Student.gender,
    Student.birth_date,
    Student.ethnicity,
    _raw(Student.id_number),
    _raw(Student.student_number),
    Student.health,
    _json_text(Student.key_groups),
    Student.hukou_address,
    Student.register_address,
    Student.current_address,
)
_GUARDIAN_COLUMNS: tuple[Any, ...] = (
    Guardian.student_id,
    Guardian.name,
    Guardian.relation,
    _raw(Guardian.phone),
)
_VISIT_COLUMNS: tuple[Any, ...] = (
    Visit.case_id,
    Visit.visit_date,
    Visit.method,
    _json_text(Visit.participants),
    Visit.result,
    Visit.measures,
    Visit.family_situation,
    Visit.student_attitude_note,
    Visit.guardian_attitude_note,
)
_BACK = frozenset({states.RETURNED, states.RETENTION, states.CLOSED})


def _local_date(when: datetime, tz: Any) -> date:
    return (when.replace(tzinfo=UTC) if when.tzinfo is None else when).astimezone(tz).date()
