"""The tables. One module so a reader sees the whole data model at once.

Field names follow the forms of the seed documents (000 附件表1–6, 002 登记表); the
comment on each group names the form. Datetimes are naive UTC (see ``casework.clock``);
dates are local calendar dates in the policy's time zone. Codes (states, roles, reasons)
are stored as short language-neutral strings; their labels live in ``casework.codes``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.types import EncryptedText


def _json(nullable: bool = False) -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=nullable))


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _encrypted(lookup_hash: str | None = None) -> Any:
    # info names the column holding this value's lookup hash, which a key rotation redoes
    info = {"lookup_hash": lookup_hash} if lookup_hash else {}
    return Field(default=None, sa_column=Column(EncryptedText, nullable=True, info=info))


# --- administrative units and schools -------------------------------------------------


class County(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60)
    code: str = Field(max_length=12, unique=True)


class Township(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="county.id", index=True)
    name: str = Field(max_length=60)


class Village(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    name: str = Field(max_length=60)


class School(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    township_id: int = Field(foreign_key="township.id", index=True)
    name: str = Field(max_length=80)
    stage: str = Field(default="nine_year", max_length=16)  # primary | junior | nine_year


class SchoolClass(SQLModel, table=True):
    __tablename__ = "school_class"
    __table_args__ = (UniqueConstraint("school_id", "school_year", "grade", "section"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id", index=True)
    grade: int  # 1–9: 一年级 … 九年级 (初三)
    section: int  # 班
    school_year: str = Field(max_length=9)  # "2026-2027"


# --- students and guardians (表1, 表3, 表4, 登记表) -------------------------------------


class Student(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, index=True)
    gender: str = Field(max_length=8)  # male | female
    birth_date: date
    ethnicity: str | None = Field(default=None, max_length=20)  # 民族
    id_number: str | None = _encrypted("id_number_hash")  # 居民身份证号码
    id_number_hash: str | None = Field(default=None, max_length=64, unique=True)
    student_number: str | None = _encrypted("student_number_hash")  # 全国学籍号
    student_number_hash: str | None = Field(default=None, max_length=64, unique=True)
    health: str | None = Field(default=None, max_length=100)  # 健康情况
    key_groups: list[str] = _json()  # 对象类别: codes of casework.codes.KEY_GROUPS
    hukou_address: str | None = Field(default=None, max_length=200)  # 户籍所在地
    register_address: str | None = Field(default=None, max_length=200)  # 学籍所在地
    current_address: str | None = Field(default=None, max_length=200)  # 现居住地
    village_id: int | None = Field(default=None, foreign_key="village.id", index=True)
    class_id: int | None = Field(default=None, foreign_key="school_class.id", index=True)
    # False for a child who never enrolled (表1/表2: 未入学适龄儿童少年)
    enrolled: bool = True
    created_at: datetime
    updated_at: datetime


class Guardian(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("student_id", "ordinal"),)

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="student.id", index=True)
    ordinal: int  # 监护人1 / 监护人2
    name: str = Field(max_length=40)
    relation: str = Field(max_length=20)  # 与被核查人关系
    phone: str | None = _encrypted()


# --- people who use the bot ----------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, nullable=True)
    )
    display_name: str = Field(max_length=60)
    phone: str | None = _encrypted()
    role: str = Field(max_length=20, index=True)
    # county | township | village | school | classes | all; teachers' classes are in TeacherClass
    scope_kind: str = Field(max_length=10)
    scope_id: int | None = None
    # the body this person acts for (casework.policy.Body: 县人民政府, 市教育局, 区扶贫工作领导
    # 小组), or None for the role's own office; the policy says which steps are a body's
    body: str | None = Field(default=None, max_length=20)
    language: str = Field(default="zh_Hans", max_length=8)
    active: bool = True
    # set when onboarding finished; an inactive user with it set was switched off
    onboarded_at: datetime | None = None
    # the bot cannot reach them (403: they blocked it); reminders stop, the supervisor is told
    unreachable: bool = False
    created_at: datetime
    # deactivated (casework.people.deactivate): they left; the bot only says so, for good
    deactivated_at: datetime | None = None


class TeacherClass(SQLModel, table=True):
    __tablename__ = "teacher_class"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    class_id: int = Field(foreign_key="school_class.id", primary_key=True, index=True)


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    role: str = Field(max_length=20)
    scope_kind: str = Field(max_length=10)
    scope_id: int | None = None
    class_ids: list[int] = _json()
    display_name: str | None = Field(default=None, max_length=60)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime
    expires_at: datetime
    used_by: int | None = Field(default=None, foreign_key="app_user.id")
    used_at: datetime | None = None
    revoked_at: datetime | None = None  # withdrawn before use (casework.invites.revoke)


# --- cases and what happens to them ---------------------------------------------------


class Case(SQLModel, table=True):
    __tablename__ = "dropout_case"

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="student.id", index=True)
    state: str = Field(max_length=24, index=True)
    # teacher_report | door_to_door | roll_call | attendance_streak
    source: str = Field(max_length=20)
    reasons: list[str] = _json()  # 辍学原因 codes
    reason_note: str | None = Field(default=None, max_length=500)
    whereabouts: str | None = Field(default=None, max_length=200)  # 去向
    absent_since: date | None = None  # 旷课日期
    policy: str = Field(max_length=32)
    # the ladder level the case stands on; while paused or in an outcome state it keeps the
    # level it left, so resuming and re-opening know where to go back to
    level: str = Field(max_length=24)
    level_entered_at: datetime
    current_round: int = 0  # persuasion visits recorded at this level
    # the units both lines of responsibility (双线) see the case through
    county_id: int = Field(foreign_key="county.id", index=True)
    school_id: int | None = Field(default=None, foreign_key="school.id", index=True)
    class_id: int | None = Field(default=None, foreign_key="school_class.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="village.id", index=True)
    reported_by: int | None = Field(default=None, foreign_key="app_user.id")
    school_responsible_id: int | None = Field(default=None, foreign_key="app_user.id")
    village_responsible_id: int | None = Field(default=None, foreign_key="app_user.id")
    assigned_to_id: int | None = Field(default=None, foreign_key="app_user.id")
    outcome: str | None = Field(default=None, max_length=20)
    outcome_note: str | None = Field(default=None, max_length=500)
    outcome_until: date | None = None  # end of a deferral
    paused_from: str | None = Field(default=None, max_length=24)
    pause_reason: str | None = Field(default=None, max_length=500)
    resume_on: date | None = None
    notice_issued_at: datetime | None = None  # 限期复学通知书
    notice_due_on: date | None = None
    returned_on: date | None = None
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1


class CaseEvent(SQLModel, table=True):
    """Append-only history of a case: who, when, from, to, why, evidence."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dropout_case.id", index=True)
    at: datetime
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")  # None: the scheduler
    kind: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=24)
    to_state: str | None = Field(default=None, max_length=24)
    note: str | None = Field(default=None, max_length=1000)
    evidence: list[dict[str, Any]] = _json()
    data: dict[str, Any] = _json_dict()


class Visit(SQLModel, table=True):
    """One persuasion attempt: the columns of 表3 (township) and 表4 (school)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dropout_case.id", index=True)
    level: str = Field(max_length=24)
    round: int  # 第一次 … 第五次 at this level
    visit_date: date  # 劝返时间
    method: str = Field(max_length=16)  # phone | home_visit | joint_visit
    participants: list[str] = _json()  # 劝返工作教师 / 记录人 and companions
    family_situation: str | None = Field(default=None, max_length=1000)  # 家庭情况
    guardian_attitude: str | None = Field(default=None, max_length=24)  # 家长态度 code
    guardian_attitude_note: str | None = Field(default=None, max_length=500)
    student_attitude: str | None = Field(default=None, max_length=24)  # 学生态度 code
    student_attitude_note: str | None = Field(default=None, max_length=500)
    measures: str | None = Field(default=None, max_length=1000)  # 劝返工作方法及措施
    # returned | promised | refused | unreachable | other (劝返效果 / 动员结果)
    result: str = Field(max_length=16)
    promised_return_on: date | None = None
    evidence: list[dict[str, Any]] = _json()  # photo / voice / document file ids, location
    latitude: float | None = None
    longitude: float | None = None
    next_step: str | None = Field(default=None, max_length=500)
    recorded_by: int = Field(foreign_key="app_user.id")
    recorded_at: datetime


class Proposal(SQLModel, table=True):
    """A proposed closing outcome (销号 after a return, home teaching, deferral, transfer,
    deceased, …) with its evidence, and the review by a second person (never the proposer)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dropout_case.id", index=True)
    outcome: str = Field(max_length=20)
    status: str = Field(default="pending", max_length=10)  # pending | approved | rejected | withdrawn
    proposed_by: int = Field(foreign_key="app_user.id")
    proposed_at: datetime
    reason: str | None = Field(default=None, max_length=1000)
    evidence: list[dict[str, Any]] = _json()
    until_on: date | None = None  # deferral end date
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = None
    decision_note: str | None = Field(default=None, max_length=1000)


class Deadline(SQLModel, table=True):
    """A due item the scheduler acts on: a step's deadline, a reminder, an ack grace…

    Open deadlines are claimed by due time; the partial index keeps that O(due).
    """

    __table_args__ = (
        Index(
            "ix_deadline_open_due",
            "due_at",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id", index=True)
    kind: str = Field(max_length=24)
    due_at: datetime
    status: str = Field(default="open", max_length=10)  # open | done | cancelled | failed
    recipient_id: int | None = Field(default=None, foreign_key="app_user.id")
    payload: dict[str, Any] = _json_dict()
    created_at: datetime
    acted_by: int | None = Field(default=None, foreign_key="app_user.id")
    acted_at: datetime | None = None
    result: str | None = Field(default=None, max_length=200)
    # a calendar job's identity ("digest:county:3:2026-11-23"): planners insert it
    # idempotently, the unique index keeps one row when two processes plan at once
    dedupe_key: str | None = Field(
        default=None, sa_column=Column(String(120), nullable=True, unique=True, index=True)
    )
    # ticks whose handler raised on this row; after a few it is set aside as "failed"
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class OutboxMessage(SQLModel, table=True):
    """A message the bot will push to someone; rendered in their language when sent."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "not_before",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="app_user.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id")
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = _json_dict()  # {"text": <Text as JSON>, "buttons": [...]}
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(120), unique=True))
    status: str = Field(default="pending", max_length=10)  # pending | sent | failed | dead
    attempts: int = 0
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)


class AuditEvent(SQLModel, table=True):
    """Every view, change, export and refused attempt on personal data or a case."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    action: str = Field(max_length=40)
    object_type: str = Field(max_length=20)
    object_id: int | None = None
    allowed: bool = True
    detail: dict[str, Any] = _json_dict()


class ProcessedUpdate(SQLModel, table=True):
    """A Telegram update already handled in webhook mode, so a redelivery (to this worker or
    another) is dropped. Written in the same transaction as the update's work: a turn that
    fails leaves no row and Telegram's retry is processed. Rows older than a day are pruned
    (``handlers.updates``)."""

    __tablename__ = "processed_update"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = Field(index=True)


class ConversationState(SQLModel, table=True):
    """Where a user stands in a multi-step flow; saved with the domain write it leads to."""

    __tablename__ = "conversation_state"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    draft: dict[str, Any] = _json_dict()
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id")
    version: int = 1
    updated_at: datetime


class KeyRotation(SQLModel, table=True):
    """A re-encryption of every encrypted column under a new key (``baoxue key rotate``).

    Keys are named by their ids (``casework.personal.key_id``), never stored. An unfinished
    row means some values are under the new key and some under the old: every process
    must hold both until it finishes.
    """

    __tablename__ = "key_rotation"

    id: int | None = Field(default=None, primary_key=True)
    new_key_id: str = Field(max_length=16)
    old_key_id: str = Field(max_length=16)
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    values_done: int = 0  # values re-encrypted so far


# --- attendance: the daily report and the term-start roll call (日常报告 / 开学报到) --------


class AttendanceDay(SQLModel, table=True):
    """A class's answer to the daily attendance prompt for one school day.

    A row exists only once someone answered: a day without one is "not known", which an
    absence streak neither counts nor breaks (``casework.attendance``). The last answer of
    the day wins; ``teacher_id`` is who gave it.
    """

    __tablename__ = "attendance_day"
    __table_args__ = (UniqueConstraint("class_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="school_class.id", index=True)
    day: date  # local school day
    teacher_id: int = Field(foreign_key="app_user.id")
    answered_at: datetime
    all_present: bool


class AttendanceMark(SQLModel, table=True):
    """One pupil's attendance on a day the class answered; pupils without a row were present."""

    __tablename__ = "attendance_mark"
    __table_args__ = (UniqueConstraint("student_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="student.id", index=True)
    class_id: int = Field(foreign_key="school_class.id", index=True)
    day: date
    status: str = Field(max_length=10)  # excused | unexcused | present
    reason: str | None = Field(default=None, max_length=16)  # sick | leave (an excused absence)
    recorded_by: int = Field(foreign_key="app_user.id")
    recorded_at: datetime


class RollCall(SQLModel, table=True):
    """A class's term-start roll call (开学报到): who had not reported, closed at the policy's
    ``roll_call.within``; those still missing then are registered as cases."""

    __tablename__ = "roll_call"
    __table_args__ = (UniqueConstraint("class_id", "term_start"),)

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="school_class.id", index=True)
    term_start: date
    closes_at: datetime
    answered_by: int | None = Field(default=None, foreign_key="app_user.id")
    answered_at: datetime | None = None
    closed_at: datetime | None = None


class RollCallEntry(SQLModel, table=True):
    """A pupil who had not reported at the roll call, and what became of it."""

    __tablename__ = "roll_call_entry"
    __table_args__ = (UniqueConstraint("roll_call_id", "student_id"),)

    id: int | None = Field(default=None, primary_key=True)
    roll_call_id: int = Field(foreign_key="roll_call.id", index=True)
    student_id: int = Field(foreign_key="student.id", index=True)
    status: str = Field(default="missing", max_length=12)  # missing | reported | registered
    noted_at: datetime
    reported_on: date | None = None
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id")


class ProcessLease(SQLModel, table=True):
    """A role only one process may play at a time (the outbox sender), held for a while and
    renewed; a holder that stops renewing loses it to the next process that asks."""

    __tablename__ = "process_lease"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=120)
    expires_at: datetime
    acquired_at: datetime


# --- about the database itself ---------------------------------------------------------


class AppMeta(SQLModel, table=True):
    """Facts about the database itself, by key. ``sandbox`` marks a database the sandbox
    created and filled with the invented demo county: the sandbox runs on no other."""

    __tablename__ = "app_meta"

    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    created_at: datetime


class TransferRequest(SQLModel, table=True):
    """A child matched outside the requester's scope (by ID or student number, in a roster
    import or a door-to-door registration): the unit the child belongs to accepts or
    rejects; nothing moves before it accepts."""

    __tablename__ = "transfer_request"

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="student.id", index=True)
    status: str = Field(default="pending", max_length=10)  # pending | accepted | rejected
    source: str = Field(max_length=20)  # roster_import | registration
    requested_by: int = Field(foreign_key="app_user.id")
    requested_at: datetime
    to_school_id: int | None = Field(default=None, foreign_key="school.id")
    to_class_id: int | None = Field(default=None, foreign_key="school_class.id")
    to_village_id: int | None = Field(default=None, foreign_key="village.id")
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = None


class SandboxChatMessage(SQLModel, table=True):
    """A message of the sandbox's stand-in Telegram (the bot's and the personas'), kept so a
    restarted sandbox shows the chats the database's cases refer to: an old alert keeps its
    buttons. Only the sandbox writes it; a production database has no rows here."""

    __tablename__ = "sandbox_chat_message"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    body: dict[str, Any] = _json_dict()  # the stored message's fields (sandbox.chatstore)
