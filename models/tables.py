"""The tables. One module so a reader sees the whole data model at once.

Field names follow the forms of the seed documents (000 附件表1–6, 002 登记表); the
comment on each group names the form. Datetimes are naive UTC (see ``casework.clock``);
dates are local calendar dates in the policy's time zone. Codes (states, roles, reasons)
are stored as short language-neutral strings; their labels live in ``casework.codes``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    text,
)
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
    # a county's cases by state: the console's overview and case list
    __table_args__ = (Index("ix_dropout_case_county_state", "county_id", "state"),)

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


class HomeTeachingSession(SQLModel, table=True):
    """One 送教上门 session (seed 002 二(三): weekly, at least 2 class hours each): when, how
    long, who taught and what."""

    __tablename__ = "home_teaching_session"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dropout_case.id", index=True)
    session_date: date
    class_hours: int  # 学时
    teacher: str = Field(max_length=60)
    content: str = Field(max_length=1000)
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
        # each case's open working deadlines by due time: the console's next-due and overdue
        # columns read them without touching the table (an index-only scan, already grouped)
        Index(
            "ix_deadline_open_work",
            "case_id",
            "due_at",
            postgresql_where=text("status = 'open' AND kind IN ('step', 'round')"),
            sqlite_where=text("status = 'open' AND kind IN ('step', 'round')"),
        ),
        # the same deadlines in due order: the case list sorted by next deadline walks them
        # and stops at its page (``casework.case_list.first_deadline``)
        Index(
            "ix_deadline_open_work_due",
            "due_at",
            "case_id",
            postgresql_where=text("status = 'open' AND kind IN ('step', 'round')"),
            sqlite_where=text("status = 'open' AND kind IN ('step', 'round')"),
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
        # the messages waiting for their recipient's next agenda (casework.agenda)
        Index(
            "ix_outbox_held",
            "recipient_id",
            "id",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(foreign_key="app_user.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id")
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = _json_dict()  # {"text": <Text as JSON>, "buttons": [...]}
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(120), unique=True))
    status: str = Field(default="pending", max_length=10)  # pending | sent | failed | dead | held | folded
    attempts: int = 0
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    # a turn's reply whose direct send failed (handlers.turns): sent before other rows
    urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                         server_default=false()))
    # the sender delivering it now, until when (bot.outbox_claims); an expired claim is free
    claimed_by: str | None = Field(default=None, max_length=120)
    claim_until: datetime | None = None


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


class OutboxChat(SQLModel, table=True):
    """When the next message to a chat may start, shared by every outbox sender: one a
    second (from Telegram's answer to the last one), 20 a minute to a group (``recent``:
    the answer times of the last minute), or later after a 429's retry_after."""

    __tablename__ = "outbox_chat"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    next_at: datetime
    recent: list[float] = _json()


class OutboxBucket(SQLModel, table=True):
    """The rate of all outbox senders together (``OUTBOX_RATE``), one row: a token bucket
    kept as its theoretical arrival time (GCRA), and a hold for everyone after 429s from
    several chats at once."""

    __tablename__ = "outbox_bucket"

    name: str = Field(primary_key=True, max_length=40)
    tat: datetime
    held_until: datetime


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


class Handover(SQLModel, table=True):
    """A case offered to another county because the child moved there (随迁): handed over,
    never closed, until the receiving county accepts (``casework.handover``).

    ``direction``: ``internal`` (both counties in this deployment: the case moves on
    acceptance), ``outgoing`` (exported to a file for another deployment; the case stays open
    here until its answer is recorded), ``incoming`` (imported from such a file: ``payload``
    holds it, and the child and the case are created here only on acceptance).
    """

    __tablename__ = "handover"

    id: int | None = Field(default=None, primary_key=True)
    direction: str = Field(max_length=10)  # internal | outgoing | incoming
    status: str = Field(default="pending", max_length=10)  # pending | accepted | rejected
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id", index=True)
    from_county_id: int | None = Field(default=None, foreign_key="county.id")
    to_county_id: int | None = Field(default=None, foreign_key="county.id", index=True)
    # the other deployment's county, as its file or the exporting operator names it
    other_county: str | None = Field(default=None, max_length=60)
    new_address: str = Field(max_length=200)  # 现居住地 in the receiving county
    requested_by: int | None = Field(default=None, foreign_key="app_user.id")  # None: the CLI
    requested_at: datetime
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = None
    decision_note: str | None = Field(default=None, max_length=500)
    payload: dict[str, Any] = _json_dict()  # incoming: the file as imported


# --- the officers' console (web/) -------------------------------------------------------


class ConsoleLink(SQLModel, table=True):
    """A one-time sign-in link the bot gave a user (``/console``): only its hash is kept,
    it is bound to that user, valid for minutes, and spent by its first use."""

    __tablename__ = "console_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries the session's random id (signed), the
    database its hash, so logging out or deactivating the user ends it at once."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


class ExportJob(SQLModel, table=True):
    """A file the console makes in the background (the ledger): its progress and, when
    done, the file itself, in the database, so any web worker shows the progress and
    serves the file (``casework.export_jobs``; kept a day, then deleted)."""

    __tablename__ = "export_job"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, unique=True)  # random, in the job's URL
    user_id: int = Field(foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=16)  # ledger
    status: str = Field(default="running", max_length=8)  # running | done | failed
    pct: int = 0
    rows: int = 0
    name: str = Field(default="", max_length=200)  # the file's name
    error: str | None = Field(default=None, max_length=300)  # in the owner's language
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime
    updated_at: datetime  # the last progress: a job silent for long lost its worker
    finished_at: datetime | None = None


# --- the register of every school-age child (适龄儿童台账) --------------------------------


class RegisterChild(SQLModel, table=True):
    """A child of school age (6–15) living in the county, by village and household (户):
    imported from a household-register extract (户籍) or entered door to door (表1). The
    2024 notice's 适龄儿童台账 is this table; ``casework.register`` keeps it.

    A student of ours links to it by ID hash (no column needed); ``student_id`` links a
    child explicitly (one without an ID number, or a merge)."""

    __tablename__ = "register_child"

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="county.id", index=True)
    village_id: int = Field(foreign_key="village.id", index=True)
    household: str | None = Field(default=None, max_length=40)  # 户号
    household_head: str | None = Field(default=None, max_length=40)  # 户主姓名
    name: str = Field(max_length=40, index=True)
    gender: str = Field(max_length=8)
    birth_date: date
    id_number: str | None = _encrypted("id_number_hash")
    id_number_hash: str | None = Field(default=None, max_length=64, unique=True)
    address: str | None = Field(default=None, max_length=200)  # 户籍地址
    # codes of casework.register.STATUSES; None: not yet known (待核实)
    status: str | None = Field(default=None, max_length=16)
    status_note: str | None = Field(default=None, max_length=200)
    student_id: int | None = Field(default=None, foreign_key="student.id", index=True)
    source: str = Field(default="import", max_length=16)  # import | door_to_door
    created_at: datetime
    updated_at: datetime


# --- verification rounds (核查): lists pushed down from above --------------------------------


class VerificationRound(SQLModel, table=True):
    """A list of suspected out-of-school children to verify by a date (核查), as the
    province sent it (``source`` import) or drawn from our own cases for the quarterly
    re-check (``source`` sample)."""

    __tablename__ = "verification_round"

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="county.id", index=True)
    name: str = Field(max_length=80)
    due_on: date
    source: str = Field(default="import", max_length=10)  # import | sample
    file_name: str | None = Field(default=None, max_length=200)
    # the province's column headers in their order, and which one holds the ID number
    # (its cells are kept encrypted in the entries, never in ``cells``)
    headers: list[str] = _json()
    id_column: int | None = None
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime


class VerificationEntry(SQLModel, table=True):
    """One child of a round: the province's row, what we matched it to, the unit that
    verifies it, and its disposition with evidence and the township's review."""

    __tablename__ = "verification_entry"
    __table_args__ = (UniqueConstraint("round_id", "row_number"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="verification_round.id", index=True)
    row_number: int
    cells: list[str] = _json()  # the row as sent, the ID cell blanked (it is ``id_raw``)
    name: str = Field(max_length=40)
    gender: str | None = Field(default=None, max_length=8)
    birth_date: date | None = None
    id_raw: str | None = _encrypted()  # the ID number as the list wrote it, valid or not
    id_number_hash: str | None = Field(default=None, max_length=64, index=True)  # a valid one
    id_status: str = Field(default="valid", max_length=8)  # valid | invalid | missing
    hukou_address: str | None = Field(default=None, max_length=200)
    batch: str | None = Field(default=None, max_length=60)  # 来源/批次
    # id: our student by ID; candidate: same name and birth date, to confirm; none;
    # duplicate: the list names this child twice (see duplicate_of)
    match: str = Field(default="none", max_length=10)
    student_id: int | None = Field(default=None, foreign_key="student.id", index=True)
    candidate_id: int | None = Field(default=None, foreign_key="student.id")
    duplicate_of: int | None = Field(default=None, foreign_key="verification_entry.id")
    # the unit that verifies it: a class (and its school), a school, a village, else the
    # township (to assign) or the county
    county_id: int = Field(foreign_key="county.id", index=True)
    township_id: int | None = Field(default=None, foreign_key="township.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="village.id", index=True)
    school_id: int | None = Field(default=None, foreign_key="school.id", index=True)
    class_id: int | None = Field(default=None, foreign_key="school_class.id", index=True)
    # open | proposed | approved | duplicate (a rejected disposition is open again)
    status: str = Field(default="open", max_length=10, index=True)
    disposition: str | None = Field(default=None, max_length=16)
    detail: str | None = Field(default=None, max_length=24)
    note: str | None = Field(default=None, max_length=500)
    evidence: list[dict[str, Any]] = _json()
    proposed_by: int | None = Field(default=None, foreign_key="app_user.id")
    proposed_at: datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = None
    decision_note: str | None = Field(default=None, max_length=500)
    case_id: int | None = Field(default=None, foreign_key="dropout_case.id")
