"""Policy profiles: the county's dropout-control rules as data (TOML), validated on load.

Deadlines, round counts and who is told differ from county to county (DESIGN §4), so
none of them is written in code. A profile in ``casework/policies/<name>.toml`` says,
clause by clause of its seed document, how the ladder runs; this module turns it into
frozen pydantic models that the state machine and the scheduler read.

A policy file is edited by an operator, not a programmer: every problem is reported as
a :class:`~casework.errors.PolicyError` whose message names the key path
(``ladder[2].deadline.unit``) and says what is wrong in plain words, for TOML syntax
errors (with line and column) as well as for schema and consistency errors.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from casework.codes import EVIDENCE_KINDS, OUTCOMES
from casework.errors import PolicyError
from casework.i18n import Text, _
from casework.labels import (
    ACTION_LABELS,
    CLAUSE_SEPARATOR,
    DOCUMENT_LABELS,
    REPORT_LABELS,
    WEEKDAY_LABELS,
    JoinedText,
    date_text,
    duration_text,
    join,
    label,
    role_text,
    roles_text,
    state_text,
)

__all__ = [
    "LADDER_ORDER",
    "MAX_EVIDENCE_KINDS",
    "OUTCOME_ORDER",
    "POLICY_DIR",
    "AbsenceAction",
    "AbsenceThreshold",
    "CalendarConfig",
    "BODIES",
    "Body",
    "Deferral",
    "Document",
    "DocumentKind",
    "Duration",
    "EnrolmentLevel",
    "Escalation",
    "HomeTeaching",
    "LadderState",
    "Level",
    "EvidenceKind",
    "Outcome",
    "OutcomeRule",
    "Outcomes",
    "Party",
    "Policy",
    "Reminders",
    "REPORT_KINDS",
    "ReportKind",
    "Reports",
    "Retention",
    "Role",
    "RollCall",
    "Term",
    "Times",
    "Unit",
    "available",
    "describe",
    "level_facts",
    "load_named",
    "load_policy",
    "parse_policy",
    "resolve",
    "validate_policy",
]

POLICY_DIR = Path(__file__).resolve().parent / "policies"

Role = Literal[
    "teacher",
    "school_admin",
    "village_cadre",
    "township_officer",
    "county_officer",
    "judicial_officer",
    "admin",
]
# Bodies the seeds name that are not one of the roles (DESIGN §2): a profile maps each it
# uses to a role ([bodies]); a deployment marks the people who act for it (User.body).
Body = Literal["county_government", "city_bureau", "poverty_group"]
BODIES: tuple[Body, ...] = get_args(Body)
# who acts or is told on a level: a role (its people who act for no body) or a body
Party = Role | Body
# the papers a level's responsible issue and that must be on file before the case climbs
# past it (DESIGN: no ladder skips a level silently)
DocumentKind = Literal["deadline_notice", "penalty_decision", "legal_documents"]
DocumentName = Literal[
    "deadline_notice", "return_notice", "correction_order", "penalty_decision", "legal_documents"
]
LadderState = Literal[
    "suspected",
    "school_persuasion",
    "township_persuasion",
    "deadline_notice",
    "county_escalation",
    "judicial",
]
# a never-enrolled child's case (组织入学, 附件表2) stands on this step first; it is not a
# rung of the dropout ladder: the profile's [enrolment] section says where it goes after
ENROLMENT: Literal["enrolment"] = "enrolment"
CaseLevel = LadderState | Literal["enrolment"]
LADDER_ORDER: tuple[LadderState, ...] = (
    "suspected",
    "school_persuasion",
    "township_persuasion",
    "deadline_notice",
    "county_escalation",
    "judicial",
)
Unit = Literal["working_days", "calendar_days", "school_days", "hours"]
AbsenceAction = Literal["report", "home_visit", "assign_persuader"]
# the closing outcomes a policy names evidence and a reviewer for (销号); "suspended"
# (休学) is proposed under the deferral rule
Outcome = Literal[
    "retained",
    "home_teaching",
    "deferred",
    "transferred",
    "deceased",
    "moved_abroad",
    "over_age",
    "other",
    # named by some seeds only: 000 大田 表3 "动员结果……辍学", 003 鸡东 五(一)五 "免予入学"
    "dropped_out",
    "exempted",
]
OUTCOME_ORDER: tuple[Outcome, ...] = get_args(Outcome)
# the bot's propose flow asks for each kind in a step of its own (conversations.flows.outcomes)
MAX_EVIDENCE_KINDS = 3

EvidenceKind = Literal[
    "class_photo",
    "enrolment_confirmation",
    "household_certificate",
    "birth_record",
    "medical_certificate",
    "guardian_application",
    "assessment",
    "written_statement",
]
Reviewer = Literal["township_officer", "county_officer"]
# ranks as casework.states.ROLE_RANK has them (policy does not import the state machine)
_RANK = {
    "teacher": 0,
    "village_cadre": 0,
    "school_admin": 1,
    "township_officer": 2,
    "county_officer": 3,
    "judicial_officer": 3,
    "admin": 4,
}

DAY_UNITS: frozenset[str] = frozenset({"working_days", "calendar_days", "school_days"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


def _rule(text: Text, *sub: str | int) -> PydanticCustomError:
    """A consistency error raised inside a validator.

    ``sub`` is the key path below the model that raised it, so the report can name the
    exact key (pydantic itself only knows the location of the model).
    """
    return PydanticCustomError(
        "policy_rule", "{problem}", {"problem": text.render("en"), "text": text, "sub": sub}
    )


def _duplicates(items: Sequence[str]) -> list[int]:
    seen: set[str] = set()
    dup: list[int] = []
    for i, item in enumerate(items):
        if item in seen:
            dup.append(i)
        seen.add(item)
    return dup


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- pieces


class Duration(_Model):
    """An amount of time in the unit the seed uses (working days for administrative
    deadlines, school days for absences, calendar days for "one week")."""

    amount: int = Field(ge=0)
    unit: Unit

    @property
    def is_day_based(self) -> bool:
        return self.unit in DAY_UNITS

    def text(self) -> Text:
        return duration_text(self.amount, self.unit)


class Term(_Model):
    name: str = Field(min_length=1)
    start: date
    end: date

    @model_validator(mode="after")
    def _end_after_start(self) -> Term:
        if self.end < self.start:
            raise _rule(_("the term ends before it starts"), "end")
        return self

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.start <= d <= self.end


class CalendarConfig(_Model):
    """Term dates and the operator's corrections to the statutory holiday calendar.

    ``extra_workdays``/``extra_holidays`` override chinesecalendar, and are the only
    source of 调休 days for years it has no data for.
    """

    terms: list[Term] = Field(min_length=1)
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        for i in _duplicates([t.name for t in self.terms]):
            raise _rule(_("two terms have the same name"), "terms", i, "name")
        order = sorted(range(len(self.terms)), key=lambda i: self.terms[i].start)
        for prev, cur in zip(order, order[1:], strict=False):
            if self.terms[cur].start <= self.terms[prev].end:
                raise _rule(
                    _("this term overlaps term {other}", other=self.terms[prev].name),
                    "terms",
                    cur,
                    "start",
                )
        holidays = set(self.extra_holidays)
        for i, d in enumerate(self.extra_workdays):
            if d in holidays:
                raise _rule(
                    _(
                        "{date} is listed both as an extra holiday and an extra working day",
                        date=date_text(d),
                    ),
                    "extra_workdays",
                    i,
                )
        return self


class Times(_Model):
    """Local times of day; ``timezone`` is where the county is (deadlines are local)."""

    timezone: str
    deadline_time: time = time(17, 30)
    reminder_time: time = time(8, 0)
    daily_prompt: time
    attendance_cutoff: time
    township_digest: time
    county_digest_weekday: int = Field(ge=0, le=6)
    county_digest: time
    # the slots of each person's agenda (``casework.agenda``): one message per slot with the
    # day's and the overdue work; empty, every reminder goes out on its own
    agenda: list[time] = Field(default_factory=lambda: [time(8, 30), time(16, 0)], max_length=4)

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise _rule(
                _(
                    "{value} is not a known time zone (use a name like Asia/Shanghai)",
                    value=repr(value),
                )
            ) from None
        return value

    @model_validator(mode="after")
    def _cutoff_after_prompt(self) -> Times:
        if self.attendance_cutoff <= self.daily_prompt:
            raise _rule(
                _("the attendance cutoff must be later than the daily prompt"),
                "attendance_cutoff",
            )
        return self

    @field_validator("agenda")
    @classmethod
    def _agenda_ascending(cls, value: list[time]) -> list[time]:
        for i in range(1, len(value)):
            if value[i] <= value[i - 1]:
                raise _rule(_("the agenda times must be in ascending order"), i)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class AbsenceThreshold(_Model):
    """What happens when an unexcused absence streak reaches ``school_days``."""

    school_days: int = Field(ge=1)
    action: AbsenceAction
    notify: list[Role]
    clause: str


class Document(_Model):
    """The paper a level's responsible issue: its kind (what it does on the ladder) and
    its name as the seed names it (``casework.labels.DOCUMENT_LABELS``: 限期复学通知书,
    劝返复学通知书, 责令限期改正通知书, 教育行政处罚决定书, 司法文书)."""

    kind: DocumentKind
    name: DocumentName

    def title(self) -> Text:
        return label(DOCUMENT_LABELS, self.name)


class Level(_Model):
    """One rung of the ladder: who acts, how long they have, who is told on entry.

    ``responsible`` and ``notify`` name roles or the bodies of ``Policy.bodies``.
    ``holds_until_deadline``: the level runs its full time (jidong's month mark), a visit
    does not start the next level. ``counts_from_absence``: its deadline counts from the
    child's first day of absence, not from when the case reached the level. ``names_persuader``: on entry this party is asked to name
    the person (专人) who persuades and then owns the case. ``document``: what the level's
    responsible issue; the case climbs past the level only with it on file.
    """

    state: CaseLevel
    deadline: Duration | None = None
    rounds: Annotated[int, Field(ge=1)] | None = None
    round_interval: Duration | None = None
    responsible: list[Party] = Field(min_length=1)
    notify: list[Party]
    requires_ack: bool = False
    holds_until_deadline: bool = False
    counts_from_absence: bool = False
    names_persuader: Party | None = None
    document: Document | None = None
    clause: str

    @model_validator(mode="after")
    def _consistent(self) -> Level:
        for key in ("responsible", "notify"):
            for i in _duplicates(getattr(self, key)):
                raise _rule(_("this role is listed twice"), key, i)
        if self.round_interval is not None and self.round_interval.amount < 1:
            raise _rule(
                _("the interval between rounds must be at least 1"), "round_interval", "amount"
            )
        return self

    @property
    def is_terminal(self) -> bool:
        """Nothing makes this level expire (the end of the ladder)."""
        return self.deadline is None and self.rounds is None


class EnrolmentLevel(Level):
    """Organising a never-enrolled child's enrolment (组织入学, 附件表2): who acts, how long
    they have, who is told, and the ladder level it goes to when the deadline passes (never
    the school's persuasion: the child has no school)."""

    state: CaseLevel = ENROLMENT
    then: LadderState

    @model_validator(mode="after")
    def _enrolment(self) -> EnrolmentLevel:
        if self.state != ENROLMENT:
            raise _rule(_("the enrolment step's state must be enrolment"), "state")
        if self.then in ("suspected", "school_persuasion"):
            raise _rule(
                _("a child with no school cannot go to {state}", state=self.then), "then"
            )
        if self.deadline is None and self.rounds is None:
            raise _rule(_("nothing makes this level expire: give it a deadline or a rounds count"))
        return self


class Reminders(_Model):
    """Lead times before each deadline; amount 0 means the due day's morning."""

    lead: list[Duration]

    @field_validator("lead")
    @classmethod
    def _unique(cls, value: list[Duration]) -> list[Duration]:
        for i, d in enumerate(value):
            if d in value[:i]:
                raise _rule(_("this lead time is listed twice"), i)
        return value


class Escalation(_Model):
    """An alert nobody acknowledges within ``ack_grace`` climbs ``ack_chain`` (roles or
    bodies); past its top it goes nowhere: the system administrator only if listed."""

    ack_grace: Duration
    ack_chain: list[Party] = Field(min_length=1)

    @field_validator("ack_chain")
    @classmethod
    def _unique(cls, value: list[Party]) -> list[Party]:
        for i in _duplicates(value):
            raise _rule(_("this role is listed twice"), i)
        return value


class Retention(_Model):
    """Check-ins (保学) after a child returns, counted from the return date."""

    check_after: list[Duration]

    @field_validator("check_after")
    @classmethod
    def _ascending(cls, value: list[Duration]) -> list[Duration]:
        for i in range(1, len(value)):
            prev, cur = value[i - 1], value[i]
            if prev.unit == cur.unit and cur.amount <= prev.amount:
                raise _rule(_("check-ins must be in ascending order"), i, "amount")
        return value


class OutcomeRule(_Model):
    """What closing a case this way takes (销号): the evidence and who reviews it.

    ``reviewer`` raises the reviewing level for this outcome; without it the township
    reviews what a school or village proposes and the county what a township proposes.
    The proposer never decides their own proposal.
    """

    evidence: list[EvidenceKind] = Field(min_length=1)
    # a role, or a body the seed names (tongnan's 区扶贫工作领导小组 approves deferral)
    reviewer: str | None = None
    clause: str

    @field_validator("reviewer")
    @classmethod
    def _known_reviewer(cls, value: str | None) -> str | None:
        choices = (*get_args(Reviewer), *BODIES)
        if value is not None and value not in choices:
            raise _rule(
                _("must be one of {choices}, not {value}", choices=", ".join(choices),
                  value=repr(value))
            )
        return value

    @field_validator("evidence")
    @classmethod
    def _unique(cls, value: list[EvidenceKind]) -> list[EvidenceKind]:
        for i in _duplicates(value):
            raise _rule(_("this kind of evidence is listed twice"), i)
        if len(value) > MAX_EVIDENCE_KINDS:
            raise _rule(
                _("at most {n} kinds of evidence per outcome (the bot asks for each in turn)",
                  n=MAX_EVIDENCE_KINDS),
                MAX_EVIDENCE_KINDS,
            )
        return value


class Outcomes(_Model):
    """Every closing outcome's evidence and reviewer, and tongnan's 3-joint-rounds rule."""

    deferral_min_joint_rounds: int = Field(default=0, ge=0)
    retained: OutcomeRule
    home_teaching: OutcomeRule
    deferred: OutcomeRule
    transferred: OutcomeRule
    deceased: OutcomeRule
    moved_abroad: OutcomeRule
    over_age: OutcomeRule
    other: OutcomeRule
    # only where the seed names them
    dropped_out: OutcomeRule | None = None
    exempted: OutcomeRule | None = None

    def rule(self, outcome: str) -> OutcomeRule:
        """The rule for a proposed outcome code (休学 "suspended" follows deferral); a
        KeyError for one this policy does not name."""
        key = "deferred" if outcome == "suspended" else outcome
        if key not in OUTCOME_ORDER:
            raise KeyError(outcome)
        rule: OutcomeRule | None = getattr(self, key)
        if rule is None:
            raise KeyError(outcome)
        return rule

    def named(self) -> tuple[Outcome, ...]:
        """The outcomes this policy names, in order."""
        return tuple(o for o in OUTCOME_ORDER if getattr(self, o) is not None)

    def reviewer_role(self, outcome: str, proposer_role: str) -> str:
        """The lowest role that may decide a proposal: the policy's level for the outcome,
        and never below the level above a township proposer (the county); a county
        officer's proposal goes to another county officer (or the operator)."""
        named = self.rule(outcome).reviewer
        if named in BODIES:
            return named  # the body decides, whoever proposed (never the proposer)
        return review_level(named, proposer_role)


def review_level(named: str | None, proposer_role: str) -> str:
    """The lowest role that may review what ``proposer_role`` proposed: ``named`` (the
    township if None), never below the level above a township proposer (the county)."""
    default = "township_officer" if _RANK[proposer_role] < _RANK["township_officer"] else "county_officer"
    level = named or "township_officer"
    return level if _RANK[level] >= _RANK[default] else default


# 核查 dispositions, the national categories of the suspect lists (see
# casework.verification.categories for their labels and sub-categories)
Disposition = Literal[
    "local_school", "elsewhere", "hukou", "over_age", "abroad", "illness", "unreachable", "dropout",
]
DISPOSITION_ORDER: tuple[Disposition, ...] = get_args(Disposition)
# Seed silent on verification evidence; what a county bureau accepts in practice: the
# register record for a child at school, the receiving school's confirmation for one at
# school elsewhere (issue #14), a 派出所/社区 certificate for 户籍 causes and for leaving
# the country, the ID or household page for over age, a diagnosis for illness or
# disability, a signed statement where nobody can be found. A confirmed dropout needs
# nothing: it opens a case at once, and hiding one is the abuse to prevent.
DEFAULT_VERIFICATION_EVIDENCE: dict[str, list[str]] = {
    "local_school": ["enrolment_confirmation"],
    "elsewhere": ["enrolment_confirmation"],
    "hukou": ["household_certificate"],
    "over_age": ["birth_record"],
    "abroad": ["household_certificate"],
    "illness": ["medical_certificate"],
    "unreachable": ["written_statement"],
    "dropout": [],
}


class Verification(_Model):
    """核查: the evidence each disposition of a suspect list needs, and who reviews them
    (the township by default; never the person who gave the disposition)."""

    evidence: dict[Disposition, list[EvidenceKind]] = Field(
        default_factory=lambda: dict(DEFAULT_VERIFICATION_EVIDENCE)  # type: ignore[arg-type]
    )
    reviewer: Reviewer | None = None

    @field_validator("evidence")
    @classmethod
    def _at_most(cls, value: dict[Disposition, list[EvidenceKind]]) -> dict[Disposition, list[EvidenceKind]]:
        for code, kinds in value.items():
            for i in _duplicates(kinds):
                raise _rule(_("this kind of evidence is listed twice"), code, i)
            if len(kinds) > MAX_EVIDENCE_KINDS:
                raise _rule(
                    _("at most {n} kinds of evidence per outcome (the bot asks for each in turn)",
                      n=MAX_EVIDENCE_KINDS),
                    code,
                )
        return value

    def evidence_for(self, disposition: str) -> list[str]:
        """The kinds a disposition needs: the profile's, else the default."""
        found = self.evidence.get(disposition)  # type: ignore[call-overload]
        if found is None:
            found = DEFAULT_VERIFICATION_EVIDENCE.get(disposition, [])
        return list(found)


class HomeTeaching(_Model):
    """送教上门: one visit every ``every``, at least ``min_class_hours`` each."""

    every: Duration
    min_class_hours: int = Field(ge=0)

    @field_validator("every")
    @classmethod
    def _positive(cls, value: Duration) -> Duration:
        if value.amount < 1:
            raise _rule(_("the interval must be at least 1"), "amount")
        return value


class Promise(_Model):
    """A family's promise that the child will be back by a date (recorded with a visit):
    at most ``max_days`` ahead, it moves the case's next deadline to that date plus
    ``grace``, and on that date the responsible are asked whether the child came back."""

    max_days: int = Field(default=30, ge=1, le=60)
    grace: Duration = Field(default_factory=lambda: Duration(amount=1, unit="working_days"))


class RollCall(_Model):
    """Term-start roll call of pupils who have not reported (开学报到登记)."""

    enabled: bool
    within: Duration


class Deferral(_Model):
    """While an approved deferral (缓学/休学) runs. ``persuasion``: the persuasion goes on
    (seed 002 二(四) "可以准许先办理延缓入学或休学手续，并继续做好劝返复学工作"): a visit is due
    every ``round_interval``, the people responsible on the level the case was deferred
    from are reminded and told when it is overdue as on the ladder, and visits are recorded;
    the deferral's end is checked either way. Off by default: a deferral stops the
    persuasion deadlines, and no visit is recorded on a deferred case."""

    persuasion: bool = False
    round_interval: Duration | None = None
    clause: str = "seed silent"

    @model_validator(mode="after")
    def _interval(self) -> Deferral:
        if self.persuasion and (self.round_interval is None or self.round_interval.amount < 1):
            raise _rule(
                _("persuasion during a deferral needs a round_interval of at least 1"),
                "round_interval",
            )
        return self


ReportKind = Literal["daily", "weekly", "monthly", "quarterly"]
REPORT_KINDS: tuple[ReportKind, ...] = get_args(ReportKind)
# who receives a report the profile turns on without naming its readers: the education
# offices (the township's daily digest, the county's weekly one, the monthly report to
# both, the quarterly one to the county)
DEFAULT_REPORT_RECIPIENTS: dict[str, tuple[Party, ...]] = {
    "daily": ("township_officer",),
    "weekly": ("county_officer",),
    "monthly": ("township_officer", "county_officer"),
    "quarterly": ("county_officer",),
}
# the roles a report is computed for, each in their own scope (casework.reports)
REPORT_READERS: tuple[Role, ...] = ("school_admin", "township_officer", "county_officer")


class Reports(_Model):
    """The reports the seed requires (daily and weekly: the digests; monthly and quarterly:
    the periodic reports) and, in ``to``, who receives each: roles, or bodies of
    ``Policy.bodies`` (lipu's 市教育局), each reading their own scope. A report on without
    an entry in ``to`` goes to the education offices (``DEFAULT_REPORT_RECIPIENTS``)."""

    daily: bool
    weekly: bool
    monthly: bool
    quarterly: bool
    to: dict[ReportKind, list[Party]] = {}
    clause: str = "seed silent"

    @model_validator(mode="after")
    def _named(self) -> Reports:
        for kind, parties in self.to.items():
            if not getattr(self, kind):
                raise _rule(_("the {kind} report is off, so it has nobody to go to", kind=kind), "to", kind)
            if not parties:
                raise _rule(_("name at least one recipient"), "to", kind)
            for i in _duplicates(parties):
                raise _rule(_("this role is listed twice"), "to", kind, i)
        return self

    def recipients(self, kind: str) -> tuple[Party, ...]:
        """Who receives the ``kind`` report ("daily", "weekly", "monthly", "quarterly");
        nobody when the profile has it off."""
        if not getattr(self, kind):
            return ()
        named = self.to.get(kind)  # type: ignore[call-overload]
        return tuple(named) if named else DEFAULT_REPORT_RECIPIENTS[kind]


# --------------------------------------------------------------------------- policy


class Policy(_Model):
    """One county's profile. Frozen: a running deployment never mutates its rules."""

    name: str
    title_zh: str
    title_en: str
    seed: str
    document: str = ""
    # each body the profile names, mapped to the role its people hold
    bodies: dict[Body, Role] = {}
    times: Times
    calendar: CalendarConfig
    absence: list[AbsenceThreshold]
    ladder: list[Level]
    # optional so that a county's own file may leave it out: a never-enrolled child's case
    # then starts on the ladder's first level, as a dropout's would
    enrolment: EnrolmentLevel | None = None
    reminders: Reminders
    escalation: Escalation
    retention: Retention
    outcomes: Outcomes
    home_teaching: HomeTeaching
    roll_call: RollCall
    reports: Reports
    verification: Verification = Field(default_factory=Verification)
    deferral: Deferral = Field(default_factory=Deferral)
    promise: Promise = Field(default_factory=Promise)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise _rule(_("the name must be lower-case letters, digits, '-' or '_' (like datian)"))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        self._check_ladder()
        self._check_enrolment()
        self._check_bodies()
        self._check_absence()
        if self.outcomes.deferral_min_joint_rounds and not self.has_level("township_persuasion"):
            raise _rule(
                _(
                    "joint persuasion rounds are required before deferral, "
                    "but the ladder has no township_persuasion level"
                ),
                "outcomes",
                "deferral_min_joint_rounds",
            )
        return self

    def _check_ladder(self) -> None:
        if not self.ladder:
            raise _rule(_("the ladder is empty; it must start with the suspected level"), "ladder")
        if self.ladder[0].state != "suspected":
            raise _rule(
                _("the ladder must start with suspected, not {state}", state=self.ladder[0].state),
                "ladder",
                0,
                "state",
            )
        seen: dict[str, int] = {}
        for i, level in enumerate(self.ladder):
            if level.state == ENROLMENT:
                raise _rule(_("enrolment is not a ladder level: put it in [enrolment]"), "ladder", i, "state")
            if level.state in seen:
                raise _rule(
                    _(
                        "{state} appears twice (also ladder[{other}])",
                        state=level.state,
                        other=seen[level.state],
                    ),
                    "ladder",
                    i,
                    "state",
                )
            seen[level.state] = i
            if i and LADDER_ORDER.index(level.state) < LADDER_ORDER.index(self.ladder[i - 1].state):
                raise _rule(
                    _(
                        "{state} cannot come after {previous}; levels must follow the order {order}",
                        state=level.state,
                        previous=self.ladder[i - 1].state,
                        order=" → ".join(LADDER_ORDER),
                    ),
                    "ladder",
                    i,
                    "state",
                )
        for i, level in enumerate(self.ladder[:-1]):
            if level.deadline is None and level.rounds is None:
                raise _rule(
                    _(
                        "nothing makes this level expire: give it a deadline or a rounds count "
                        "(only the last level may have neither)"
                    ),
                    "ladder",
                    i,
                )
            if level.deadline is None and level.round_interval is None:
                # Rounds are counted when visits are recorded; with no interval and no
                # deadline a level nobody visits would wait forever.
                raise _rule(
                    _(
                        "a level limited only by rounds needs a round_interval, "
                        "or nothing happens when nobody visits"
                    ),
                    "ladder",
                    i,
                    "round_interval",
                )

    def _check_enrolment(self) -> None:
        if self.enrolment is not None and not self.has_level(self.enrolment.then):
            raise _rule(
                _("the ladder has no {state} level", state=self.enrolment.then), "enrolment", "then"
            )

    def _check_bodies(self) -> None:
        def check(party: str | None, *path: str | int) -> None:
            if party in BODIES and party not in self.bodies:
                raise _rule(
                    _("{body} is not mapped to a role under [bodies]", body=party), *path
                )

        for i, level in enumerate(self.ladder):
            for key in ("responsible", "notify"):
                for j, party in enumerate(getattr(level, key)):
                    check(party, "ladder", i, key, j)
            check(level.names_persuader, "ladder", i, "names_persuader")
        for j, party in enumerate(self.escalation.ack_chain):
            check(party, "escalation", "ack_chain", j)
        for outcome in self.outcomes.named():
            check(self.outcomes.rule(outcome).reviewer, "outcomes", outcome, "reviewer")
        for kind, parties in self.reports.to.items():
            for j, party in enumerate(parties):
                check(party, "reports", "to", kind, j)
                if self.role_of(party) not in REPORT_READERS:
                    raise _rule(
                        _("reports go to a school, a township or a county office, not to {party}",
                          party=party),
                        "reports", "to", kind, j,
                    )
        kinds = [lv.document.kind for lv in self.ladder if lv.document is not None]
        if _duplicates(kinds):
            raise _rule(_("two levels issue the same kind of document"), "ladder")
        notice = self.ladder_index("deadline_notice")
        if notice is not None and self.ladder[notice].document is None:
            raise _rule(
                _("the deadline notice level must name the notice it issues (document)"),
                "ladder",
                notice,
                "document",
            )

    def _check_absence(self) -> None:
        if not self.absence:
            raise _rule(_("at least one absence threshold is needed to open cases"), "absence")
        for i in range(1, len(self.absence)):
            if self.absence[i].school_days <= self.absence[i - 1].school_days:
                raise _rule(
                    _("absence thresholds must be in ascending order of school_days"),
                    "absence",
                    i,
                    "school_days",
                )

    # -- queries the state machine uses

    @property
    def tz(self) -> ZoneInfo:
        return self.times.tz

    @property
    def states(self) -> tuple[LadderState, ...]:
        """The ladder states this policy uses, in order."""
        return tuple(level.state for level in self.ladder if level.state != ENROLMENT)

    @property
    def first_level(self) -> Level:
        return self.ladder[0]

    def ladder_index(self, state: str) -> int | None:
        return next((i for i, lv in enumerate(self.ladder) if lv.state == state), None)

    def documents_before(self, state: str) -> list[Document]:
        """The papers that must be on file before a case enters ``state``: those of every
        level below it (a level the profile has; one it lacks issues nothing)."""
        rank = LADDER_ORDER.index(state)
        return [
            lv.document
            for lv in self.ladder
            if lv.document is not None and LADDER_ORDER.index(lv.state) < rank
        ]

    def role_of(self, party: str) -> str:
        """The role a party's people hold (a body's mapped role, a role itself)."""
        return self.bodies.get(party, party)  # type: ignore[call-overload, no-any-return]

    def has_level(self, state: CaseLevel) -> bool:
        return any(level.state == state for level in self.ladder)

    def level(self, state: CaseLevel) -> Level:
        if state == ENROLMENT and self.enrolment is not None:
            return self.enrolment
        for level in self.ladder:
            if level.state == state:
                return level
        raise PolicyError(
            _("Policy {name} has no ladder level {state}", name=self.name, state=state_text(state)),
            key="ladder",
            state=state,
        )

    def next_level(self, state: CaseLevel) -> Level | None:
        """The next level this policy has after ``state`` in LADDER_ORDER (None at the end).

        ``state`` need not be in this policy's ladder: a case moved by hand to a level
        the county skips still climbs to the right place. After the enrolment step comes
        the level its section names.
        """
        if state == ENROLMENT and self.enrolment is not None:
            return self.level(self.enrolment.then)
        if state not in LADDER_ORDER:
            raise PolicyError(
                _("{state} is not a ladder level", state=state_text(state)),
                key="ladder",
                state=state,
            )
        rank = LADDER_ORDER.index(state)
        for level in self.ladder:
            if LADDER_ORDER.index(level.state) > rank:
                return level
        return None


# --------------------------------------------------------------------------- loading


class Problem(NamedTuple):
    """One thing wrong with a policy file: where (key path) and what (a Text)."""

    path: str
    text: Text


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → X, ``Annotated[X, ...]`` → X, for walking the schema."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _known_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys allowed in the table at ``loc`` (for "did you mean" hints)."""
    current: Any = Policy
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            if typing.get_origin(current) is not list:
                return []
            current = get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return []
            current = field.annotation
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _problem(err: Mapping[str, Any]) -> Problem:
    """Turn one pydantic error into a key path and a plain-words message."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    kind: str = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    text: Text
    if kind == "policy_rule":
        loc = loc + tuple(ctx.get("sub", ()))
        text = ctx["text"]
    elif kind == "missing":
        text = _("required key is missing")
    elif kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc[:-1]), n=1)
        text = (
            _("unknown key (did you mean {suggestion}?)", suggestion=close[0])
            if close
            else _("unknown key (not part of the policy format)")
        )
    elif kind == "literal_error":
        text = _(
            "must be one of {choices}, not {value}", choices=ctx.get("expected", ""), value=shown
        )
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        text = _("must be a whole number, not {value}", value=shown)
    elif kind in ("bool_type", "bool_parsing"):
        text = _("must be true or false, not {value}", value=shown)
    elif kind in ("string_type",):
        text = _("must be text in quotes, not {value}", value=shown)
    elif kind in ("list_type",):
        text = _("must be a list in brackets [...], not {value}", value=shown)
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        text = _("must be a table ({{ ... }} or a [section]), not {value}", value=shown)
    elif kind.startswith("date"):
        text = _("must be a date like 2026-09-01, not {value}", value=shown)
    elif kind.startswith("time"):
        text = _("must be a time of day like 17:30:00, not {value}", value=shown)
    elif kind == "greater_than_equal":
        text = _("must be at least {limit}, not {value}", limit=ctx.get("ge"), value=shown)
    elif kind == "less_than_equal":
        text = _("must be at most {limit}, not {value}", limit=ctx.get("le"), value=shown)
    elif kind == "too_short":
        text = _("must have at least {n} item(s)", n=ctx.get("min_length", 1))
    else:
        text = _("invalid value {value}: {problem}", value=shown, problem=err.get("msg", kind))
    return Problem(_format_loc(loc), text)


def _error(source: str, problems: Sequence[Problem]) -> PolicyError:
    first = problems[0]
    if len(problems) == 1:
        text: Text = _(
            "{source}: {key}: {problem}", source=source, key=first.path, problem=first.text
        )
    else:
        lines: list[Text | str] = [
            _("{source}: {count} problems:", source=source, count=len(problems))
        ]
        lines += [_("  {key}: {problem}", key=p.path, problem=p.text) for p in problems]
        text = JoinedText("\n", items=tuple(lines))
    return PolicyError(text, key=first.path, source=source, problems=list(problems))


def validate_policy(data: Mapping[str, Any], source: str = "<policy>") -> Policy:
    """Validate already-parsed data; every schema problem is listed in one PolicyError."""
    try:
        return Policy.model_validate(data)
    except PydanticValidationError as exc:
        raise _error(source, [_problem(e) for e in exc.errors()]) from None


_TOML_POS = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_END = re.compile(r"^(?P<msg>.*) \(at end of document\)$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")
_BARE_TIME = re.compile(r"=\s*\d{1,2}:\d{2}\s*(#.*)?$")


def _toml_key_at(lines: Sequence[str], lineno: int) -> str | None:
    """Best-effort key path of a line in a TOML text ("ladder[2].deadline")."""
    counts: dict[str, int] = {}
    table: list[str | int] = []
    for raw in lines[: lineno - 1]:
        header = _HEADER.match(raw)
        if header is None:
            continue
        dotted = [p.strip().strip('"') for p in header.group(2).split(".")]
        table = []
        for j, part in enumerate(dotted):
            prefix = ".".join(dotted[: j + 1])
            table.append(part)
            is_last = j == len(dotted) - 1
            if header.group(1) == "[[" and is_last:
                counts[prefix] = counts.get(prefix, 0) + 1
                # a new element resets the numbering of arrays nested in it
                counts = {k: v for k, v in counts.items() if not k.startswith(prefix + ".")}
                table.append(counts[prefix] - 1)
            elif prefix in counts:
                table.append(counts[prefix] - 1)
    if 0 < lineno <= len(lines):
        key = _KEY.match(lines[lineno - 1])
        if key is not None and _HEADER.match(lines[lineno - 1]) is None:
            table = [*table, *key.group(1).split(".")]
    return _format_loc(table) if table else None


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse TOML text and validate it; syntax errors name line, column and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(text, source, str(exc)) from None
    return validate_policy(data, source)


def _syntax_error(text: str, source: str, message: str) -> PolicyError:
    lines = text.splitlines()
    at = _TOML_POS.match(message)
    if at is None:
        end = _TOML_END.match(message)
        problem = end.group("msg") if end else message
        return PolicyError(
            _(
                "{source}: TOML syntax error at the end of the file: {problem}",
                source=source,
                problem=problem,
            ),
            key=None,
            source=source,
        )
    line, column = int(at.group("line")), int(at.group("col"))
    key = _toml_key_at(lines, line)
    hint: Text | str = ""
    if 0 < line <= len(lines) and _BARE_TIME.search(lines[line - 1]):
        hint = _(" (a TOML time needs seconds, like 17:30:00)")
    params: dict[str, Any] = {
        "source": source,
        "line": line,
        "column": column,
        "problem": at.group("msg"),
        "hint": hint,
    }
    if key:
        msg = _(
            "{source}, line {line}, column {column}, at {key}: TOML syntax error: {problem}{hint}",
            key=key,
            **params,
        )
    else:
        msg = _(
            "{source}, line {line}, column {column}: TOML syntax error: {problem}{hint}", **params
        )
    return PolicyError(msg, key=key, source=source, line=line, column=column)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; any problem is a PolicyError naming the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(_("Policy file {path} not found", path=str(p)), key=None) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            _("Cannot read policy file {path}: {problem}", path=str(p), problem=str(exc)),
            key=None,
        ) from None
    return parse_policy(text, source=str(p))


def available() -> list[str]:
    """Names of the shipped profiles (``casework/policies/*.toml``)."""
    return sorted(p.stem for p in POLICY_DIR.glob("*.toml"))


def load_named(name: str) -> Policy:
    """Load a shipped profile by name; the file's ``name`` must agree with its file name."""
    names = available()
    if name not in names:
        raise PolicyError(
            _("Unknown policy {name}; available: {names}", name=repr(name), names=", ".join(names)),
            key=None,
        )
    policy = load_policy(POLICY_DIR / f"{name}.toml")
    if policy.name != name:
        raise PolicyError(
            _(
                "{source}: name: {value} does not match the file name {name}",
                source=f"{name}.toml",
                value=repr(policy.name),
                name=name,
            ),
            key="name",
        )
    return policy


def resolve(name_or_path: str) -> Policy:
    """A path if it ends with .toml or is an existing file, else a shipped profile name."""
    if name_or_path.endswith(".toml") or Path(name_or_path).is_file():
        return load_policy(name_or_path)
    return load_named(name_or_path)


# --------------------------------------------------------------------------- describe


def _hm(t: time) -> str:
    return t.strftime("%H:%M")


def _sentence(s: str) -> str:
    """Upper-case the first letter (English labels are lower-case; no-op for Chinese)."""
    for i, ch in enumerate(s):
        if ch.isalpha():
            return s[:i] + ch.upper() + s[i + 1 :]
    return s


def level_facts(level: Level) -> list[Text]:
    """What a level prescribes, one phrase each: who acts, who is told, the alert, the
    deadline and the rounds (the policy description and the ladder diagram both use it)."""
    parts: list[Text] = [_("responsible: {roles}", roles=roles_text(level.responsible))]
    if level.notify:
        parts.append(_("notify on entry: {roles}", roles=roles_text(level.notify)))
    if level.requires_ack:
        parts.append(_("the alert must be acknowledged"))
    if level.deadline is not None:
        parts.append(_("deadline: {duration}", duration=level.deadline.text()))
    if level.rounds is not None:
        parts.append(_("at most {rounds} rounds", rounds=level.rounds))
    if level.round_interval is not None:
        parts.append(_("next round within {duration}", duration=level.round_interval.text()))
    if level.counts_from_absence:
        parts.append(_("counted from the first day of absence"))
    if level.holds_until_deadline:
        parts.append(_("runs its full time: a visit does not end it"))
    if level.names_persuader is not None:
        parts.append(
            _("{party} names the person who persuades", party=role_text(level.names_persuader))
        )
    if level.document is not None:
        parts.append(_("issues the {document}", document=level.document.title()))
    return parts


def _level_text(policy: Policy, index: int, level: Level) -> Text:
    parts: list[Text | str] = list(level_facts(level))
    needed = policy.documents_before(level.state)
    if needed:
        parts.append(_("only with on file: {documents}", documents=join(d.title() for d in needed)))
    nxt = policy.next_level(level.state)
    if nxt is not None:
        parts.append(_("then → {state}", state=state_text(nxt.state)))
    else:
        parts.append(_("the last level"))
    return _(
        "{index}. {state} — {details}",
        index=index,
        state=state_text(level.state),
        details=JoinedText(CLAUSE_SEPARATOR, items=tuple(parts)),
    )


def _lead_text(lead: Duration) -> Text:
    if lead.amount == 0:
        return _("on the morning of the due day")
    return _("{duration} before", duration=lead.text())


def describe(policy: Policy, lang: str | None = None, *, clauses: bool = False) -> list[str]:
    """The policy in words, one line per item, in ``lang``; ``clauses`` adds the seed quotes.

    Used by ``policy check``, the bot's /policy command and the generated docs, so that
    what the deployment does can be read against the seed clause by clause.
    """
    out: list[tuple[Text, str | None]] = []

    def add(text: Text, clause: str | None = None) -> None:
        out.append((text, clause))

    title = policy.title_en if lang and lang.lower().startswith("en") else policy.title_zh
    add(_("Policy {name}: {title} (seed {seed})", name=policy.name, title=title, seed=policy.seed))
    if policy.document:
        add(_("Source document: {document}", document=policy.document))
    t = policy.times
    add(
        _(
            "Time zone {tz}; day-based deadlines fall due at {deadline}, reminders go out at "
            "{reminder}",
            tz=t.timezone,
            deadline=_hm(t.deadline_time),
            reminder=_hm(t.reminder_time),
        )
    )
    add(
        _(
            "Attendance prompt at {prompt}, attendance cutoff at {cutoff}; township digest daily "
            "at {township}; county digest every {weekday} at {county}",
            prompt=_hm(t.daily_prompt),
            cutoff=_hm(t.attendance_cutoff),
            township=_hm(t.township_digest),
            weekday=Text(WEEKDAY_LABELS[t.county_digest_weekday]),
            county=_hm(t.county_digest),
        )
    )
    for term in policy.calendar.terms:
        add(
            _(
                "Term {name}: {start} to {end}",
                name=term.name,
                start=date_text(term.start),
                end=date_text(term.end),
            )
        )
    if policy.calendar.extra_holidays:
        add(
            _(
                "Extra holidays: {dates}",
                dates=join(date_text(d) for d in policy.calendar.extra_holidays),
            )
        )
    if policy.calendar.extra_workdays:
        add(
            _(
                "Extra working days: {dates}",
                dates=join(date_text(d) for d in policy.calendar.extra_workdays),
            )
        )
    for th in policy.absence:
        notify = _("; notify {roles}", roles=roles_text(th.notify)) if th.notify else ""
        add(
            _(
                "After {days} of unexcused absence: {action}{notify}",
                days=duration_text(th.school_days, "school_days"),
                action=label(ACTION_LABELS, th.action),
                notify=notify,
            ),
            th.clause,
        )
    for i, level in enumerate(policy.ladder, start=1):
        add(_level_text(policy, i, level), level.clause)
    if policy.enrolment is not None:
        parts: list[Text | str] = list(level_facts(policy.enrolment))
        parts.append(_("then → {state}", state=state_text(policy.enrolment.then)))
        add(
            _(
                "A child who never enrolled: {state} — {details}; it ends in enrolment at a named school",
                state=state_text(ENROLMENT),
                details=JoinedText(CLAUSE_SEPARATOR, items=tuple(parts)),
            ),
            policy.enrolment.clause,
        )
    if policy.reminders.lead:
        add(
            _(
                "Reminders before each deadline: {leads}",
                leads=join(_lead_text(d) for d in policy.reminders.lead),
            )
        )
    else:
        add(_("No reminders before deadlines"))
    esc = policy.escalation
    add(
        _(
            "An alert not acknowledged within {grace} goes up the chain: {chain}",
            grace=esc.ack_grace.text(),
            chain=JoinedText(" → ", items=tuple(role_text(r) for r in esc.ack_chain)),
        )
    )
    if policy.retention.check_after:
        add(
            _(
                "Retention check-ins after a child returns: {durations}",
                durations=join(d.text() for d in policy.retention.check_after),
            )
        )
    else:
        add(_("No retention check-ins after a child returns"))
    oc = policy.outcomes
    for outcome in oc.named():
        rule = oc.rule(outcome)
        reviewer = (
            _("reviewed by the {body}", body=role_text(rule.reviewer))
            if rule.reviewer in BODIES
            else _("reviewed by a {role} or above", role=role_text(rule.reviewer))
            if rule.reviewer is not None
            else _("reviewed by the township (a township officer's proposal by the county)")
        )
        add(
            _(
                "Closing as “{outcome}” needs: {evidence}; {reviewer}; never by the proposer",
                outcome=label(OUTCOMES, outcome),
                evidence=join(label(EVIDENCE_KINDS, k) for k in rule.evidence),
                reviewer=reviewer,
            ),
            rule.clause,
        )
    if oc.deferral_min_joint_rounds:
        add(
            _(
                "Deferral only after at least {rounds} joint persuasion rounds",
                rounds=oc.deferral_min_joint_rounds,
            )
        )
    if policy.deferral.persuasion and policy.deferral.round_interval is not None:
        add(
            _(
                "Persuasion goes on during an approved deferral: a visit due every {every}",
                every=policy.deferral.round_interval.text(),
            ),
            policy.deferral.clause,
        )
    ht = policy.home_teaching
    add(
        _(
            "Home teaching: a visit every {every}, at least {hours} class hours each",
            every=ht.every.text(),
            hours=ht.min_class_hours,
        )
    )
    if policy.roll_call.enabled:
        add(
            _(
                "Term-start roll call of pupils not reported within {within} of the term start",
                within=policy.roll_call.within.text(),
            )
        )
    else:
        add(_("No term-start roll call"))
    rep = policy.reports
    kinds = [k for k in ("daily", "weekly", "monthly", "quarterly") if getattr(rep, k)]
    if kinds:
        add(_("Periodic reports: {kinds}", kinds=join(label(REPORT_LABELS, k) for k in kinds)))
        quoted = next((k for k in kinds if k in rep.to), None)  # the seed's words once
        for kind in kinds:
            add(
                _("The {kind} report goes to: {parties}", kind=label(REPORT_LABELS, kind),
                  parties=join(role_text(p) for p in rep.recipients(kind))),
                rep.clause if kind == quoted else None,
            )
    else:
        add(_("No periodic reports"))

    lines: list[str] = []
    for text, clause in out:
        lines.append(_sentence(text.render(lang)))
        if clauses and clause:
            lines.append(f"    「{clause}」")
    return lines
