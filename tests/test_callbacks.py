"""Tests for casework.callbacks: every kind of callback data round-trips, fits Telegram's
64 bytes with its largest values, keeps the wire format buttons already sent carry, and
refuses malformed data."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest

import conversations.flows  # noqa: F401  (registers every flow)
import conversations.flows.roster  # noqa: F401
from casework import actions, codes, forms, states
from casework import callbacks as cb
from casework.i18n import LANGUAGES
from casework.labels import ROLE_LABELS
from casework.periods import Period, month_of, quarter_of, year_of
from casework.validation import MAX_ID
from conversations import engine
from conversations.flows.attendance import WHY

# --- a random instance of every kind -----------------------------------------------------------


def _id(rng: random.Random) -> int:
    return rng.choice((1, MAX_ID, rng.randint(1, 99), rng.randint(1, MAX_ID)))


def _day(rng: random.Random) -> date:
    return rng.choice((date(1, 1, 1), date(9999, 12, 31), date(2026, 11, 23) + timedelta(rng.randint(-3000, 3000))))


def _word(rng: random.Random) -> str:
    return rng.choice((*actions.OFFERED, *forms.FORMS, *states.ALL_STATES, "all", "open", "closed", "a", "z9_"))


def _month(rng: random.Random) -> date:
    # a period code has a four-digit year; December 9999 ends past the calendar
    return date(rng.randint(1000, 9998), rng.randint(1, 12), 1)


def _period(rng: random.Random) -> str:
    day = _month(rng)
    return rng.choice(("-", "m" + month_of(day).code, "q" + quarter_of(day).code, "y" + year_of(day).code))


def _choice(rng: random.Random) -> str:
    """What a conversation's button may carry after the step: anything, "|" included."""
    alphabet = "ab09_!=.|:-*é字 "
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))


MAKERS: dict[type[cb.Callback], Callable[[random.Random], cb.Callback]] = {
    cb.Menu: lambda r: cb.Menu(r.choice(cb.MENU_ITEMS)),
    cb.Language: lambda r: cb.Language(r.choice(LANGUAGES)),
    cb.OpenCase: lambda r: cb.OpenCase(_id(r)),
    cb.RecordVisit: lambda r: cb.RecordVisit(_id(r)),
    cb.Acknowledge: lambda r: cb.Acknowledge(_id(r)),
    cb.Assign: lambda r: cb.Assign(_id(r), r.choice((None, _id(r)))),
    cb.ReviewEvidence: lambda r: cb.ReviewEvidence(_id(r)),
    cb.Approve: lambda r: cb.Approve(_id(r), r.random() < 0.5),
    cb.Reject: lambda r: cb.Reject(_id(r)),
    cb.Attending: lambda r: cb.Attending(_id(r), r.random() < 0.5),
    cb.ChildBack: lambda r: cb.ChildBack(_id(r), r.random() < 0.5),
    cb.RecordDelivery: lambda r: cb.RecordDelivery(_id(r)),
    cb.CaseAction: lambda r: cb.CaseAction(_id(r), _word(r)),
    cb.ConfirmCaseAction: lambda r: cb.ConfirmCaseAction(_id(r), _word(r)),
    cb.TransferAnswer: lambda r: cb.TransferAnswer(_id(r), r.random() < 0.5),
    cb.HandoverAnswer: lambda r: cb.HandoverAnswer(_id(r), r.random() < 0.5),
    cb.AttendanceAnswer: lambda r: cb.AttendanceAnswer(_id(r), _day(r), r.random() < 0.5),
    cb.RollCallAnswer: lambda r: cb.RollCallAnswer(_id(r), _day(r), r.random() < 0.5),
    cb.UsersPage: lambda r: cb.UsersPage(r.choice((0, _id(r)))),
    cb.DeactivateUser: lambda r: cb.DeactivateUser(_id(r), r.random() < 0.5),
    cb.UsersCancel: lambda r: cb.UsersCancel(),
    cb.InvitesPage: lambda r: cb.InvitesPage(r.choice((0, _id(r)))),
    cb.RevokeInvite: lambda r: cb.RevokeInvite(_id(r), r.random() < 0.5),
    cb.InvitesCancel: lambda r: cb.InvitesCancel(),
    cb.ExportMenu: lambda r: cb.ExportMenu(
        _word(r), _period(r), r.choice(("-", r.choice(cb.UNIT_LETTERS) + str(_id(r)))), r.choice(cb.EXPORT_VIEWS)),
    cb.FormFile: lambda r: cb.FormFile(_id(r), _word(r)),
    cb.ReportWorkbook: lambda r: cb.ReportWorkbook(
        r.choice((month_of, quarter_of, year_of))(_month(r))),
    cb.VerifyTap: lambda r: cb.VerifyTap(r.choice(sorted(cb.VERIFY_ACTIONS)), _id(r)),
    cb.VerifyAssign: lambda r: cb.VerifyAssign(_id(r), _id(r)),
    cb.ConversationTap: lambda r: cb.ConversationTap(
        _id(r), r.choice(("", f"{r.getrandbits(16):04x}")), r.choice(("stu", "sum", "meth2", "gphone")), _choice(r)),
    cb.Unschooled: lambda r: cb.Unschooled(_id(r)),
    cb.ReportChild: lambda r: cb.ReportChild(_id(r)),
    cb.RegisterStatus: lambda r: cb.RegisterStatus(_id(r), r.choice((None, *cb.REGISTER_STATUSES))),
    cb.RegisterLedger: lambda r: cb.RegisterLedger(r.choice(("children", "suspected", "dropout"))),
    cb.MergeStudents: lambda r: _merge(_id(r), r.random() < 0.5),
}


def _merge(keep: int, confirmed: bool) -> cb.MergeStudents:
    return cb.MergeStudents(keep, keep - 1 if keep > 1 else 2, confirmed)


def test_every_kind_is_registered_and_tested() -> None:
    assert set(MAKERS) == set(cb.KINDS)
    assert len(set(cb.KINDS)) == len(cb.KINDS)


@pytest.mark.parametrize("kind", cb.KINDS, ids=lambda k: k.__name__)
def test_decode_of_encode_is_the_same_tap(kind: type[cb.Callback]) -> None:
    rng = random.Random(kind.__name__)
    for _ in range(300):
        tap = MAKERS[kind](rng)
        data = tap.encode()
        assert kind.decode(data) == tap, data
        assert cb.decode(data) == tap, data  # the registry finds the kind by its prefix
        assert data.isascii() or kind is cb.ConversationTap, data


# --- Telegram's 64 bytes, with every kind's largest values ----------------------------------------


def _longest(words: object) -> str:
    return max((str(w) for w in words), key=lambda w: len(w.encode()))  # type: ignore[attr-defined]


def _largest() -> list[cb.Callback]:
    last_day = date(9999, 12, 31)
    steps = [s.name for flow in engine.REGISTRY.values() for s in flow.steps] + [engine.SUMMARY]
    option_codes = [
        f"{MAX_ID}.{_longest(WHY)}",  # an absent pupil's reason (attendance flow)
        str(MAX_ID),  # a row id: a student, a class, a school
        last_day.isoformat(),  # a date offered
        *(code for kind in codes.CODE_LISTS.values() for code in kind),
        *ROLE_LABELS,
        "!cancel", "!p9999",  # the engine takes page numbers of at most four digits
        "e" + _longest(steps),
    ]
    choice = _longest([*option_codes, *("=" + c for c in option_codes)])
    key = "f" * 4  # secrets.token_hex(2), conversations.engine.start
    return [
        cb.Menu(_longest(cb.MENU_ITEMS)),
        cb.Language(_longest(LANGUAGES)),
        cb.OpenCase(MAX_ID), cb.RecordVisit(MAX_ID), cb.Acknowledge(MAX_ID), cb.ReviewEvidence(MAX_ID),
        cb.Reject(MAX_ID),
        cb.Assign(MAX_ID, MAX_ID),
        cb.Approve(MAX_ID, confirmed=True),
        cb.Attending(MAX_ID, attending=True),
        cb.ChildBack(MAX_ID, back=True), cb.RecordDelivery(MAX_ID),
        cb.CaseAction(MAX_ID, _longest(actions.OFFERED)),
        cb.ConfirmCaseAction(MAX_ID, _longest(actions.CONFIRMED)),
        cb.TransferAnswer(MAX_ID, accept=True),
        cb.HandoverAnswer(MAX_ID, accept=True),
        cb.AttendanceAnswer(MAX_ID, last_day, all_present=False),
        cb.RollCallAnswer(MAX_ID, last_day, all_present=False),
        cb.UsersPage(MAX_ID), cb.DeactivateUser(MAX_ID, confirmed=True), cb.UsersCancel(),
        cb.InvitesPage(MAX_ID), cb.RevokeInvite(MAX_ID, confirmed=True), cb.InvitesCancel(),
        cb.ExportMenu(_longest([*states.ALL_STATES, "all", "open", "closed"]),
                      _longest(["m9998-12", "q9998Q4", "y9998"]), f"c{MAX_ID}", _longest(cb.EXPORT_VIEWS)),
        cb.FormFile(MAX_ID, _longest(forms.FORMS)),
        cb.ReportWorkbook(_longest_period()),
        cb.VerifyTap("n", MAX_ID), cb.VerifyAssign(MAX_ID, MAX_ID),
        cb.ConversationTap(MAX_ID, key, _longest(steps), choice),
        cb.Unschooled(MAX_ID), cb.ReportChild(MAX_ID), cb.RegisterLedger("suspected"),
        cb.RegisterStatus(MAX_ID, _longest(cb.REGISTER_STATUSES)),
        cb.MergeStudents(MAX_ID, MAX_ID - 1, confirmed=True),
    ]


def _longest_period() -> Period:
    periods = [month_of(date(9998, 12, 1)), quarter_of(date(9998, 12, 1)), year_of(date(9998, 1, 1))]
    return max(periods, key=lambda p: len(cb.ReportWorkbook(p).encode()))


def test_every_kind_fits_in_64_bytes_with_its_largest_values() -> None:
    largest = _largest()
    assert {type(tap) for tap in largest} == set(cb.KINDS)
    for tap in largest:
        data = tap.encode()
        assert len(data.encode()) <= cb.MAX_BYTES, (data, len(data.encode()))
        assert cb.decode(data) == tap, data


# --- the wire format of buttons already sent ------------------------------------------------------


WIRE = [
    ("menu:report", cb.Menu("report")),
    ("lang:zh_Hans", cb.Language("zh_Hans")),
    ("case:12", cb.OpenCase(12)),
    ("visit:12", cb.RecordVisit(12)),
    ("ack:12", cb.Acknowledge(12)),
    ("assign:12", cb.Assign(12)),
    ("assign:12:7", cb.Assign(12, 7)),
    ("rv:3", cb.ReviewEvidence(3)),
    ("apr:3", cb.Approve(3)),
    ("apr:3:y", cb.Approve(3, confirmed=True)),
    ("rej:3", cb.Reject(3)),
    ("att:12:1", cb.Attending(12, attending=True)),
    ("att:12:0", cb.Attending(12, attending=False)),
    ("back:12:1", cb.ChildBack(12, back=True)),
    ("back:12:0", cb.ChildBack(12, back=False)),
    ("dlv:12", cb.RecordDelivery(12)),
    ("act:12:record_visit", cb.CaseAction(12, "record_visit")),
    ("actok:12:escalate", cb.ConfirmCaseAction(12, "escalate")),
    ("trf:ok:5", cb.TransferAnswer(5, accept=True)),
    ("trf:no:5", cb.TransferAnswer(5, accept=False)),
    ("hnd:ok:7", cb.HandoverAnswer(7, accept=True)),
    ("hnd:no:7", cb.HandoverAnswer(7, accept=False)),
    ("atd:4:20261123:a", cb.AttendanceAnswer(4, date(2026, 11, 23), all_present=True)),
    ("atd:4:20261123:s", cb.AttendanceAnswer(4, date(2026, 11, 23), all_present=False)),
    ("rc:4:20260901:a", cb.RollCallAnswer(4, date(2026, 9, 1), all_present=True)),
    ("usr:p:15", cb.UsersPage(15)),
    ("usr:d:8", cb.DeactivateUser(8)),
    ("usr:D:8", cb.DeactivateUser(8, confirmed=True)),
    ("usr:x", cb.UsersCancel()),
    ("inv:p:30", cb.InvitesPage(30)),
    ("inv:r:2", cb.RevokeInvite(2)),
    ("inv:R:2", cb.RevokeInvite(2, confirmed=True)),
    ("inv:x", cb.InvitesCancel()),
    ("xp:open:-:-:", cb.ExportMenu()),
    ("xp:all:q2026Q4:t2:go", cb.ExportMenu("all", "q2026Q4", "t2", "go")),
    ("doc:12:notice", cb.FormFile(12, "notice")),
    ("rpt:m:2026-11", cb.ReportWorkbook(month_of(date(2026, 11, 1)))),
    ("rpt:q:2026Q4", cb.ReportWorkbook(quarter_of(date(2026, 10, 1)))),
    ("rpt:y:2026", cb.ReportWorkbook(year_of(date(2026, 1, 1)))),
    ("vf:n:3", cb.VerifyTap("n", 3)),
    ("vf:a:12", cb.VerifyTap("a", 12)),
    ("vfv:12:4", cb.VerifyAssign(12, 4)),
    ("s|9.0a1f|stu|41", cb.ConversationTap(9, "0a1f", "stu", "41")),
    ("s|9|sum|!ok", cb.ConversationTap(9, "", "sum", "!ok")),
    ("ru:1", cb.Unschooled(1)),
    ("rr:7", cb.ReportChild(7)),
    ("rl:children", cb.RegisterLedger("children")),
    ("rst:7", cb.RegisterStatus(7)),
    ("rst:7:elsewhere", cb.RegisterStatus(7, "elsewhere")),
    ("mrg:3:4", cb.MergeStudents(3, 4)),
    ("mrg:3:4:y", cb.MergeStudents(3, 4, confirmed=True)),
]


def test_the_wire_format_is_the_one_buttons_already_sent_carry() -> None:
    assert {type(tap) for _data, tap in WIRE} == set(cb.KINDS)
    for data, tap in WIRE:
        assert cb.decode(data) == tap, data
        assert tap.encode() == data


# --- refusals -------------------------------------------------------------------------------------

ODD_NUMBERS = ("0", "-1", "+1", "1.0", " 12", "12 ", "²", "①", "١٢", "１２", "2147483648", "9" * 40, "")

MALFORMED: dict[type[cb.Callback], list[str]] = {
    cb.Menu: ["menu", "menu:", "menu:nowhere", "menu:report:x", "menu:Report"],
    cb.Language: ["lang", "lang:", "lang:fr", "lang:en:x", "lang:zh-hans"],
    cb.OpenCase: ["case", "case:", "case:1:2", *(f"case:{n}" for n in ODD_NUMBERS)],
    cb.RecordVisit: ["visit", "visit:1:2", *(f"visit:{n}" for n in ODD_NUMBERS)],
    cb.Acknowledge: ["ack", "ack:x", "ack:1:2", *(f"ack:{n}" for n in ODD_NUMBERS)],
    cb.Assign: ["assign", "assign:", "assign:1:2:3", "assign:1:", *(f"assign:{n}" for n in ODD_NUMBERS),
                *(f"assign:1:{n}" for n in ODD_NUMBERS)],
    cb.ReviewEvidence: ["rv", "rv:", "rv:1:2", *(f"rv:{n}" for n in ODD_NUMBERS)],
    cb.Approve: ["apr", "apr:", "apr:1:n", "apr:1:Y", "apr:1:y:y", *(f"apr:{n}:y" for n in ODD_NUMBERS)],
    cb.Reject: ["rej", "rej:", "rej:1:2", *(f"rej:{n}" for n in ODD_NUMBERS)],
    cb.Attending: ["att", "att:1", "att:1:2", "att:1:yes", "att:1:1:1", *(f"att:{n}:1" for n in ODD_NUMBERS)],
    cb.ChildBack: ["back", "back:1", "back:1:2", "back:1:yes", "back:1:1:1", *(f"back:{n}:1" for n in ODD_NUMBERS)],
    cb.RecordDelivery: ["dlv", "dlv:", "dlv:1:2", *(f"dlv:{n}" for n in ODD_NUMBERS)],
    cb.CaseAction: ["act", "act:1", "act:1:", "act:1:Escalate", "act:1:esc alate", "act:1:e:e",
                    "act:1:" + "a" * 33, *(f"act:{n}:escalate" for n in ODD_NUMBERS)],
    cb.ConfirmCaseAction: ["actok", "actok:1", "actok:1:", "actok:1:Escalate", "actok:1:e:e",
                           *(f"actok:{n}:escalate" for n in ODD_NUMBERS)],
    cb.TransferAnswer: ["trf", "trf:ok", "trf:yes:1", "trf:1:ok", "trf:ok:1:1", *(f"trf:ok:{n}" for n in ODD_NUMBERS)],
    cb.HandoverAnswer: ["hnd", "hnd:ok", "hnd:yes:1", "hnd:1:ok", "hnd:ok:1:1", *(f"hnd:no:{n}" for n in ODD_NUMBERS)],
    cb.AttendanceAnswer: ["atd", "atd:4:20261123", "atd:4:20261123:x", "atd:4:20261123:a:a", "atd:4:2026-11-23:a",
                          "atd:4:20261131:a", "atd:4:2026112:a", "atd:4:２０２６１１２３:a", "atd:4:٢٠٢٦١١٢٣:a",
                          *(f"atd:{n}:20261123:a" for n in ODD_NUMBERS)],
    cb.RollCallAnswer: ["rc", "rc:4:20260901", "rc:4:20260901:y", "rc:4:20260230:a", "rc:4:٢٠٢٦٠٩٠١:s",
                        *(f"rc:{n}:20260901:a" for n in ODD_NUMBERS)],
    cb.UsersPage: ["usr:p", "usr:p:", "usr:p:1:1", "usr:P:15", *(f"usr:p:{n}" for n in ODD_NUMBERS if n != "0")],
    cb.DeactivateUser: ["usr:d", "usr:d:", "usr:e:1", "usr:d:1:1", *(f"usr:D:{n}" for n in ODD_NUMBERS)],
    cb.UsersCancel: ["usr", "usr:", "usr:X", "usr:x:1", "usr:xx"],
    cb.InvitesPage: ["inv:p", "inv:p:", "inv:P:15", *(f"inv:p:{n}" for n in ODD_NUMBERS if n != "0")],
    cb.RevokeInvite: ["inv:r", "inv:r:", "inv:d:1", "inv:R:1:1", *(f"inv:r:{n}" for n in ODD_NUMBERS)],
    cb.InvitesCancel: ["inv", "inv:", "inv:X", "inv:x:1"],
    cb.ExportMenu: ["xp", "xp:open:-:-", "xp:open:-:-::", "xp:OPEN:-:-:", "xp::-:-:", "xp:open:m2026-11:-:x",
                    "xp:open:2026-11:-:", "xp:open:m２０２６-11:-:", "xp:open:q2026Q5:-:", "xp:open:mlast-month:-:",
                    "xp:open:m2026-13:-:", "xp:open:m9999-12:-:", "xp:open:y0000:-:",
                    "xp:open:-:x2:", "xp:open:-:t:", *(f"xp:open:-:t{n}:" for n in ODD_NUMBERS)],
    cb.FormFile: ["doc", "doc:1", "doc:1:", "doc:1:Notice", "doc:1:notice:x", *(f"doc:{n}:notice" for n in ODD_NUMBERS)],
    cb.ReportWorkbook: ["rpt", "rpt:m", "rpt:m:2026-13", "rpt:m:2026Q4", "rpt:q:2026-11", "rpt:y:2026-11",
                        "rpt:x:2026", "rpt:m:2026-11:x", "rpt:m:9999-12", "rpt:q:9999Q4", "rpt:m:0000-01", "rpt:m:２０２６-11", "rpt:m:last-month", "rpt:month:2026-11"],
    cb.VerifyAssign: ["vfv", "vfv:1", "vfv:1:", "vfv::2", "vfv:1:2:3", "vfv:x:2", *(f"vfv:1:{n}" for n in ODD_NUMBERS)],
    cb.VerifyTap: ["vf", "vf:n", "vf:n:", "vf:z:1", "vf:nn:1", "vf:N:1", "vf:n:1:x", *(f"vf:n:{n}" for n in ODD_NUMBERS)],
    cb.ConversationTap: ["s", "s|", "s|1", "s|1|stu", "s|x|stu|1", "s|1.|stu|1", "s|1.XYZ|stu|1", "s|1.ab|st u|1",
                         "s|1.ab||1", "s:1|stu|1", "S|1|stu|1", *(f"s|{n}.ab12|stu|1" for n in ODD_NUMBERS)],
    cb.Unschooled: ["ru", "ru:", "ru:1:2", *(f"ru:{n}" for n in ODD_NUMBERS)],
    cb.ReportChild: ["rr", "rr:", "rr:1:2", *(f"rr:{n}" for n in ODD_NUMBERS)],
    cb.RegisterStatus: ["rst", "rst:", "rst:1:", "rst:1:away", "rst:1:Elsewhere", "rst:1:elsewhere:x",
                        *(f"rst:{n}:gone" for n in ODD_NUMBERS)],
    cb.RegisterLedger: ["rl", "rl:", "rl:ledger", "rl:Children", "rl:children:x"],
    cb.MergeStudents: ["mrg", "mrg:1", "mrg:1:1", "mrg:1:2:n", "mrg:1:2:y:y", *(f"mrg:{n}:2" for n in ODD_NUMBERS),
                       *(f"mrg:1:{n}:y" for n in ODD_NUMBERS)],
}


def test_malformed_data_of_every_kind_is_refused() -> None:
    assert set(MALFORMED) == set(cb.KINDS)
    for kind, samples in MALFORMED.items():
        for data in samples:
            assert kind.decode(data) is None, (kind.__name__, data)
            assert cb.decode(data) is None, data


@pytest.mark.parametrize("data", ["", "nonsense", ":", "zz:1", "|", "case", "CASE:1", "case:1\x00", "\u202ecase:1"])
def test_data_of_no_kind_is_refused(data: str) -> None:
    assert cb.decode(data) is None


def test_no_kind_decodes_another_kinds_data() -> None:
    for data, tap in WIRE:
        for kind in cb.KINDS:
            if kind is not type(tap):
                assert kind.decode(data) is None, (kind.__name__, data)
