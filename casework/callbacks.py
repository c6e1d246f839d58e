"""Callback data: what a button carries, one small frozen dataclass per kind.

Each kind has ``encode() -> str`` (what goes into the button, at most 64 bytes: Telegram's
limit, checked over every kind with its largest values by ``tests/test_callbacks.py``) and
a ``decode(str)`` classmethod that returns the kind or None. ``decode`` (module level)
picks the kind by the data's prefix; ``handlers.buttons`` dispatches on the type it gets.
Casework builds the buttons of outbox messages, so the codec lives here, and the
Telegram adapter imports it.

Callback data is never trusted: it arrives from the client and can be forged. ``decode``
refuses anything that is not exactly the shape of its kind: the wrong number of fields,
an id that is not ASCII digits or is outside the id column's range
(``validation.parse_id``), a flag or a menu item not among its own few values, a date
that is no date. The codec checks shape only; what the data names (does this case exist,
may this user act on it, is this form or state one we have) is checked where it is used,
in ``casework``, as for anything a person types.

The wire format of every kind is the one the bot used before this module formalized it
(same prefix, same fields in the same order): buttons already sent, in chats and in
outbox rows not yet delivered, keep working. Change a format only by decoding the old one
too.

    menu:<item>                         Menu             lang:<code>          Language
    case:<case>                         OpenCase         visit:<case>         RecordVisit
    ack:<case>                          Acknowledge      assign:<case>[:<user>]  Assign
    rv:<proposal>                       ReviewEvidence   apr:<proposal>[:y]   Approve
    rej:<proposal>                      Reject           att:<case>:1|0       Attending
    act:<case>:<action>                 CaseAction       trf:ok|no:<request>  TransferAnswer
    hnd:ok|no:<handover>                HandoverAnswer
    actok:<case>:<action>               ConfirmCaseAction
    atd:<class>:<yyyymmdd>:a|s|e|ay|sy  AttendanceAnswer
    rc:<class>:<term start yyyymmdd>:a|s|e|ay|sy RollCallAnswer
    usr:p:<offset>  usr:d|D:<user>  usr:x       UsersPage, DeactivateUser, UsersCancel
    inv:p:<offset>  inv:r|R:<invite>  inv:x     InvitesPage, RevokeInvite, InvitesCancel
    xp:<state>:<period>:<unit>:<view>   ExportMenu       doc:<case>:<form>    FormFile
    rpt:m|q|y:<period code>             ReportWorkbook
    ru:<page>  rr:<register child>  rl:children|suspected|dropout   Unschooled, ReportChild, RegisterLedger
    rst:<register child>[:<status>]     RegisterStatus
    mrg:<keep>:<drop>[:y]               MergeStudents
    vf:n|d|q|r|a|x|y|o|e:<id>           VerifyTap        vfv:<entry>:<village> VerifyAssign
    s|<conversation>[.<key>]|<step>|<choice>    ConversationTap
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar, Self

from casework.errors import ValidationError
from casework.i18n import LANGUAGES
from casework.periods import Period, parse_period
from casework.validation import parse_id

MAX_BYTES = 64  # Telegram's limit on callback data

# a code word: an action, a form, a case state (ASCII, so the byte count is the length)
_WORD = re.compile(r"[a-z][a-z0-9_]{0,31}")
_STEP = re.compile(r"[A-Za-z0-9_]{1,32}")
_KEY = re.compile(r"[0-9a-f]{1,16}")
_YMD = re.compile(r"[0-9]{8}")
_PERIOD = {"m": re.compile(r"[0-9]{4}-[0-9]{2}"), "q": re.compile(r"[0-9]{4}Q[1-4]"), "y": re.compile(r"[0-9]{4}")}
_PERIOD_KINDS = {"month": "m", "quarter": "q", "year": "y"}


class Callback:
    """A kind of callback data: ``PREFIX`` is its first field."""

    PREFIX: ClassVar[str]

    def encode(self) -> str:
        raise NotImplementedError

    @classmethod
    def decode(cls, data: str) -> Self | None:
        raise NotImplementedError


def _fields(data: str, prefix: str, *arity: int) -> list[str] | None:
    """The fields after ``prefix:`` if there are as many as one of ``arity``, else None."""
    head, sep, rest = data.partition(":")
    if head != prefix:
        return None
    fields = rest.split(":") if sep else []
    return fields if len(fields) in arity else None


def _is_word(text: str) -> bool:
    return _WORD.fullmatch(text) is not None


def _offset(text: str) -> int | None:
    """A page offset: 0, or a positive number in the id range."""
    return 0 if text == "0" else parse_id(text)


def _period(letter: str, code: str) -> Period | None:
    """``m`` 2026-11, ``q`` 2026Q4 or ``y`` 2026 as a period, or None."""
    pattern = _PERIOD.get(letter)
    if pattern is None or pattern.fullmatch(code) is None:
        return None
    try:
        period = parse_period(code, today=date(2000, 1, 1))
    except (ValidationError, OverflowError):  # 2026-13; 9999-12 ends past the calendar
        return None
    return period if _PERIOD_KINDS.get(period.kind) == letter else None


def _ymd(day: date) -> str:
    # not strftime's %Y: it writes the year 1 as "1", not "0001"
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _parse_ymd(text: str) -> date | None:
    if _YMD.fullmatch(text) is None:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


# --- the main menu and the language --------------------------------------------------------

MENU_ITEMS = ("report", "visit", "invite", "resume", "cases", "language", "review", "stats", "export")


@dataclass(frozen=True)
class Menu(Callback):
    PREFIX: ClassVar[str] = "menu"
    item: str

    def encode(self) -> str:
        return f"menu:{self.item}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1)
        return cls(f[0]) if f and f[0] in MENU_ITEMS else None


@dataclass(frozen=True)
class Language(Callback):
    PREFIX: ClassVar[str] = "lang"
    code: str

    def encode(self) -> str:
        return f"lang:{self.code}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1)
        return cls(f[0]) if f and f[0] in LANGUAGES else None


# --- a case and its proposals ----------------------------------------------------------------


@dataclass(frozen=True)
class _OneId(Callback):
    """``<prefix>:<id>``."""

    id: int

    def encode(self) -> str:
        return f"{self.PREFIX}:{self.id}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1)
        row = parse_id(f[0]) if f else None
        return cls(row) if row is not None else None


@dataclass(frozen=True)
class OpenCase(_OneId):
    PREFIX: ClassVar[str] = "case"


@dataclass(frozen=True)
class RecordVisit(_OneId):
    PREFIX: ClassVar[str] = "visit"


@dataclass(frozen=True)
class Acknowledge(_OneId):
    PREFIX: ClassVar[str] = "ack"


@dataclass(frozen=True)
class ReviewEvidence(_OneId):
    """A proposal's evidence, to review it."""

    PREFIX: ClassVar[str] = "rv"


@dataclass(frozen=True)
class Reject(_OneId):
    """A proposal rejected: the reason is asked next."""

    PREFIX: ClassVar[str] = "rej"


@dataclass(frozen=True)
class Assign(Callback):
    """Without ``user_id``: whom to assign the case to? With it: assign."""

    PREFIX: ClassVar[str] = "assign"
    case_id: int
    user_id: int | None = None

    def encode(self) -> str:
        return f"assign:{self.case_id}" + (f":{self.user_id}" if self.user_id is not None else "")

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1, 2)
        case_id = parse_id(f[0]) if f else None
        if f is None or case_id is None:
            return None
        if len(f) == 1:
            return cls(case_id)
        user_id = parse_id(f[1])
        return cls(case_id, user_id) if user_id is not None else None


@dataclass(frozen=True)
class Approve(Callback):
    """Unconfirmed: what approving does, asked once more; confirmed (``:y``): approve."""

    PREFIX: ClassVar[str] = "apr"
    proposal_id: int
    confirmed: bool = False

    def encode(self) -> str:
        return f"apr:{self.proposal_id}" + (":y" if self.confirmed else "")

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1, 2)
        proposal_id = parse_id(f[0]) if f else None
        if f is None or proposal_id is None or (len(f) == 2 and f[1] != "y"):
            return None
        return cls(proposal_id, len(f) == 2)


@dataclass(frozen=True)
class _IdYesNo(Callback):
    """``<prefix>:<id>:1|0``: a subclass's two fields, an id and a yes/no, in that order."""

    def encode(self) -> str:
        row, yes = _two(self)
        return f"{self.PREFIX}:{row}:{1 if yes else 0}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        row = parse_id(f[0]) if f else None
        if f is None or row is None or f[1] not in ("1", "0"):
            return None
        return cls(row, f[1] == "1")  # type: ignore[call-arg]


@dataclass(frozen=True)
class _OkNo(Callback):
    """``<prefix>:ok|no:<id>``: a subclass's two fields, an id and an accept, in that order."""

    def encode(self) -> str:
        row, accept = _two(self)
        return f"{self.PREFIX}:{'ok' if accept else 'no'}:{row}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        row = parse_id(f[1]) if f else None
        if f is None or row is None or f[0] not in ("ok", "no"):
            return None
        return cls(row, f[0] == "ok")  # type: ignore[call-arg]


def _two(tap: Callback) -> tuple[Any, Any]:
    first, second = (getattr(tap, f.name) for f in fields(tap))  # type: ignore[arg-type]
    return first, second


@dataclass(frozen=True)
class Attending(_IdYesNo):
    """The answer to "is the child back at school?"."""

    PREFIX: ClassVar[str] = "att"
    case_id: int
    attending: bool


@dataclass(frozen=True)
class ChildBack(_IdYesNo):
    """The answer to "is the child back?" on a date a promise or a notice set
    (``casework.return_check``): yes records the return, no lets the ladder go on."""

    PREFIX: ClassVar[str] = "back"
    case_id: int
    back: bool


@dataclass(frozen=True)
class RecordDelivery(Callback):
    """Record that the notice reached the guardian (送达回执: date and photo)."""

    PREFIX: ClassVar[str] = "dlv"
    case_id: int

    def encode(self) -> str:
        return f"dlv:{self.case_id}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1)
        case_id = parse_id(f[0]) if f else None
        return None if f is None or case_id is None else cls(case_id)


@dataclass(frozen=True)
class _CaseWord(Callback):
    """``<prefix>:<case>:<word>``."""

    case_id: int
    word: str

    def encode(self) -> str:
        return f"{self.PREFIX}:{self.case_id}:{self.word}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        case_id = parse_id(f[0]) if f else None
        if f is None or case_id is None or not _is_word(f[1]):
            return None
        return cls(case_id, f[1])


@dataclass(frozen=True)
class CaseAction(_CaseWord):
    """One of a case's actions (``casework.actions.OFFERED``: checked where it is done)."""

    PREFIX: ClassVar[str] = "act"

    @property
    def action(self) -> str:
        return self.word


@dataclass(frozen=True)
class ConfirmCaseAction(_CaseWord):
    """The second tap of an irreversible action (``casework.actions.CONFIRMED``), after
    its preview; checked again where it is done."""

    PREFIX: ClassVar[str] = "actok"

    @property
    def action(self) -> str:
        return self.word


@dataclass(frozen=True)
class TransferAnswer(_OkNo):
    """The child's unit accepts or rejects a transfer request (``casework.transfers``)."""

    PREFIX: ClassVar[str] = "trf"
    request_id: int
    accept: bool


@dataclass(frozen=True)
class HandoverAnswer(_OkNo):
    """The receiving county accepts or rejects a case handed over (``casework.handover``)."""

    PREFIX: ClassVar[str] = "hnd"
    handover_id: int
    accept: bool


# --- attendance ---------------------------------------------------------------------------------

ALL_PRESENT, SOME_ABSENT = "a", "s"
# the stages of an answer: a first answer; "change the answer" (shows what would change);
# the change confirmed (only then may an answered day be overwritten)
FIRST, CHANGE, CONFIRMED = "", "e", "y"


@dataclass(frozen=True)
class _ClassDay(Callback):
    """``<prefix>:<class>:<yyyymmdd>:a|s|e|ay|sy``: an answer (``a``/``s``), the request to
    change an answered day (``e``), or a change confirmed (``ay``/``sy``)."""

    class_id: int
    day: date
    all_present: bool
    stage: str = FIRST

    def encode(self) -> str:
        if self.stage == CHANGE:
            code = CHANGE
        else:
            code = (ALL_PRESENT if self.all_present else SOME_ABSENT) + self.stage
        return f"{self.PREFIX}:{self.class_id}:{_ymd(self.day)}:{code}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 3)
        class_id = parse_id(f[0]) if f else None
        day = _parse_ymd(f[1]) if f else None
        if f is None or class_id is None or day is None:
            return None
        if f[2] == CHANGE:
            return cls(class_id, day, False, CHANGE)
        answer, stage = f[2][:1], f[2][1:]
        if answer not in (ALL_PRESENT, SOME_ABSENT) or stage not in (FIRST, CONFIRMED):
            return None
        return cls(class_id, day, answer == ALL_PRESENT, stage)


@dataclass(frozen=True)
class AttendanceAnswer(_ClassDay):
    """The daily prompt's answer: everyone present, or some absent (asked who next)."""

    PREFIX: ClassVar[str] = "atd"


@dataclass(frozen=True)
class RollCallAnswer(_ClassDay):
    """The term-start roll call's answer; ``day`` is the term's first day."""

    PREFIX: ClassVar[str] = "rc"


# --- /users and /invites ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page(Callback):
    """``<prefix>:p:<offset>``: a page of a list."""

    offset: int = 0

    def encode(self) -> str:
        return f"{self.PREFIX}:p:{self.offset}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        offset = _offset(f[1]) if f and f[0] == "p" else None
        return cls(offset) if offset is not None else None


@dataclass(frozen=True)
class _Cancel(Callback):
    """``<prefix>:x``: the "are you sure?" answered no."""

    def encode(self) -> str:
        return f"{self.PREFIX}:x"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1)
        return cls() if f == ["x"] else None


@dataclass(frozen=True)
class _Confirmable(Callback):
    """``<prefix>:<ask>:<id>`` asks; ``<prefix>:<ASK>:<id>`` (upper case) does it."""

    ASK: ClassVar[str]
    id: int
    confirmed: bool = False

    def encode(self) -> str:
        return f"{self.PREFIX}:{self.ASK.upper() if self.confirmed else self.ASK}:{self.id}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        row = parse_id(f[1]) if f else None
        if f is None or row is None or f[0] not in (cls.ASK, cls.ASK.upper()):
            return None
        return cls(row, f[0] != cls.ASK)


@dataclass(frozen=True)
class UsersPage(_Page):
    PREFIX: ClassVar[str] = "usr"


@dataclass(frozen=True)
class DeactivateUser(_Confirmable):
    PREFIX: ClassVar[str] = "usr"
    ASK: ClassVar[str] = "d"


@dataclass(frozen=True)
class UsersCancel(_Cancel):
    PREFIX: ClassVar[str] = "usr"


@dataclass(frozen=True)
class InvitesPage(_Page):
    PREFIX: ClassVar[str] = "inv"


@dataclass(frozen=True)
class RevokeInvite(_Confirmable):
    PREFIX: ClassVar[str] = "inv"
    ASK: ClassVar[str] = "r"


@dataclass(frozen=True)
class InvitesCancel(_Cancel):
    PREFIX: ClassVar[str] = "inv"


# --- files: the ledger export menu, a case's forms, the periodic report ---------------------------

EXPORT_VIEWS = ("", "s", "p", "u", "go")
UNIT_LETTERS = ("c", "t", "v", "s")


@dataclass(frozen=True)
class ExportMenu(Callback):
    """The ledger export menu, every filter in the data (checked again by ``ledger.prepare``):
    ``state`` a state code or all/open/closed; ``period`` "-" (all time) or m2026-11 /
    q2026Q4 / y2026; ``unit`` "-" (the whole area) or c1 / t2 / v4 / s3; ``view`` "" the
    menu, s / p / u a filter's choices, go the workbook."""

    PREFIX: ClassVar[str] = "xp"
    state: str = "open"
    period: str = "-"
    unit: str = "-"
    view: str = ""

    def encode(self) -> str:
        return f"xp:{self.state}:{self.period}:{self.unit}:{self.view}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 4)
        if f is None:
            return None
        state, period, unit, view = f
        if not _is_word(state) or view not in EXPORT_VIEWS:
            return None
        if period != "-" and _period(period[:1], period[1:]) is None:
            return None
        if unit != "-" and (unit[:1] not in UNIT_LETTERS or parse_id(unit[1:]) is None):
            return None
        return cls(state, period, unit, view)


@dataclass(frozen=True)
class FormFile(_CaseWord):
    """A case's document (``casework.forms.FORMS``: checked where it is made)."""

    PREFIX: ClassVar[str] = "doc"

    @property
    def form(self) -> str:
        return self.word


@dataclass(frozen=True)
class ReportWorkbook(Callback):
    """The periodic report's workbook, for a month, a quarter or a year."""

    PREFIX: ClassVar[str] = "rpt"
    period: Period

    def encode(self) -> str:
        return f"rpt:{_PERIOD_KINDS[self.period.kind]}:{self.period.code}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        period = _period(f[0], f[1]) if f else None
        return cls(period) if period is not None else None


# --- verification rounds (核查) --------------------------------------------------------------------

# n: the next child to verify in a round; d: verify this child; q: a round's dispositions
# waiting for review; r: one disposition to review; a: approve it; x: reject it (a reason is asked); y / o: the candidate match
# confirmed / denied; e: the round's list exported
VERIFY_ACTIONS = frozenset("ndqraxyoe")


@dataclass(frozen=True)
class VerifyTap(Callback):
    """``vf:<action>:<id>``: a round (n, e) or one child of it (the others); what it names is
    checked where it is used (``casework.verification``)."""

    PREFIX: ClassVar[str] = "vf"
    action: str
    id: int

    def encode(self) -> str:
        return f"vf:{self.action}:{self.id}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        row = parse_id(f[1]) if f else None
        if f is None or row is None or f[0] not in VERIFY_ACTIONS or len(f[0]) != 1:
            return None
        return cls(f[0], row)


@dataclass(frozen=True)
class VerifyAssign(Callback):
    """``vfv:<entry>:<village>``: a child no unit could be found for, passed by the township
    officer to one of its villages (checked in ``casework.verification.work.assign``)."""

    PREFIX: ClassVar[str] = "vfv"
    entry_id: int
    village_id: int

    def encode(self) -> str:
        return f"vfv:{self.entry_id}:{self.village_id}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2)
        entry, village = (parse_id(f[0]), parse_id(f[1])) if f else (None, None)
        return cls(entry, village) if entry is not None and village is not None else None


# --- a conversation's buttons ----------------------------------------------------------------------

CONVERSATION_PREFIX = "s"


@dataclass(frozen=True)
class ConversationTap(Callback):
    """A button of a conversation (``conversations.engine``): its id and random key
    (SQLite reuses a deleted row's id: the key tells a finished conversation's button
    from a new one's), the step it belongs to, and the choice. The choice is whatever the
    step offered (an option code, ``!done``, ``=<default>``, ``e<step>``...): the engine
    takes it only if the step offers it now."""

    PREFIX: ClassVar[str] = CONVERSATION_PREFIX
    conversation_id: int
    key: str
    step: str
    choice: str

    def encode(self) -> str:
        ident = f"{self.conversation_id}.{self.key}" if self.key else str(self.conversation_id)
        return f"{CONVERSATION_PREFIX}|{ident}|{self.step}|{self.choice}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        parts = data.split("|", 3)
        if len(parts) != 4 or parts[0] != CONVERSATION_PREFIX:
            return None
        _prefix, ident, step, choice = parts
        number, dot, key = ident.partition(".")
        conversation_id = parse_id(number)
        if conversation_id is None or (dot and _KEY.fullmatch(key) is None) or _STEP.fullmatch(step) is None:
            return None
        return cls(conversation_id, key, step, choice)


# --- the register of school-age children and duplicates (casework.register, .duplicates) ----


@dataclass(frozen=True)
class Unschooled(_OneId):
    """The unschooled children of one's area, a page of them (``id``: the page, from 1)."""

    PREFIX: ClassVar[str] = "ru"


@dataclass(frozen=True)
class ReportChild(_OneId):
    """A register child reported door to door: the report flow for them."""

    PREFIX: ClassVar[str] = "rr"


# the register's statuses (casework.register.STATUSES), repeated: this module imports no domain
REGISTER_STATUSES = ("local_school", "county_school", "elsewhere", "not_enrolled", "deferred",
                     "home_teaching", "over_age", "gone")


@dataclass(frozen=True)
class RegisterStatus(Callback):
    """A register child's status: without ``status``, the choices; with it, set it."""

    PREFIX: ClassVar[str] = "rst"
    child_id: int
    status: str | None = None

    def encode(self) -> str:
        return f"rst:{self.child_id}" + (f":{self.status}" if self.status else "")

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1, 2)
        child_id = parse_id(f[0]) if f else None
        if f is None or child_id is None or (len(f) == 2 and f[1] not in REGISTER_STATUSES):
            return None
        return cls(child_id, f[1] if len(f) == 2 else None)


_LEDGERS = ("children", "suspected", "dropout")


@dataclass(frozen=True)
class RegisterLedger(Callback):
    """One of the three ledgers of the 2024 notice as a workbook."""

    PREFIX: ClassVar[str] = "rl"
    kind: str

    def encode(self) -> str:
        return f"rl:{self.kind}"

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 1)
        return cls(f[0]) if f is not None and f[0] in _LEDGERS else None


@dataclass(frozen=True)
class MergeStudents(Callback):
    """Merge ``drop`` into ``keep``: unconfirmed, what it does is asked once more."""

    PREFIX: ClassVar[str] = "mrg"
    keep: int
    drop: int
    confirmed: bool = False

    def encode(self) -> str:
        return f"mrg:{self.keep}:{self.drop}" + (":y" if self.confirmed else "")

    @classmethod
    def decode(cls, data: str) -> Self | None:
        f = _fields(data, cls.PREFIX, 2, 3)
        if f is None or (len(f) == 3 and f[2] != "y"):
            return None
        keep, drop = parse_id(f[0]), parse_id(f[1])
        if keep is None or drop is None or keep == drop:
            return None
        return cls(keep, drop, len(f) == 3)


# --- the registry --------------------------------------------------------------------------------

KINDS: tuple[type[Callback], ...] = (
    Menu, Language, OpenCase, RecordVisit, Acknowledge, Assign, ReviewEvidence, Approve, Reject,
    Attending, ChildBack, RecordDelivery, CaseAction, ConfirmCaseAction, TransferAnswer, HandoverAnswer,
    AttendanceAnswer, RollCallAnswer,
    UsersPage, DeactivateUser, UsersCancel, InvitesPage, RevokeInvite, InvitesCancel,
    ExportMenu, FormFile, ReportWorkbook,
    Unschooled, ReportChild, RegisterStatus, RegisterLedger, MergeStudents,
    VerifyTap, VerifyAssign,
    ConversationTap,
)
BY_PREFIX: dict[str, tuple[type[Callback], ...]] = {}
for _kind in KINDS:
    BY_PREFIX[_kind.PREFIX] = (*BY_PREFIX.get(_kind.PREFIX, ()), _kind)


def decode(data: str) -> Callback | None:
    """The kind ``data`` is, decoded; None for anything malformed or unknown."""
    head = CONVERSATION_PREFIX if data.startswith(CONVERSATION_PREFIX + "|") else data.partition(":")[0]
    for kind in BY_PREFIX.get(head, ()):
        found = kind.decode(data)
        if found is not None:
            return found
    return None
