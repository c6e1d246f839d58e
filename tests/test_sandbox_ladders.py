"""Each county's ladder, from the report to the top, driven through the sandbox's HTTP API
only (issue #11): the sandbox started on a chosen date (as SANDBOX_START does), personas
typing and tapping in their chats, the clock moved with the clock bar, and who was told
what on which date read from the case's timeline.

- datian crosses 中秋/国庆 2026 (10-01…07 off, 09-20 and 10-10 worked);
- jidong runs into 2027 (no holiday data: weekdays count, the operator is warned), and
  shows the month mark (no step before it, whatever a visit says) and the 专人 the school
  administrator names, who then owns the case;
- lipu shows the school issuing its 劝返复学通知书, then the township and the 市教育局;
- qiaocheng's 区司法部门 sends the legal documents, only after the township's order;
- tongnan tops at the 区扶贫工作领导小组 (no notice, no court step).

No level is skipped: a case whose level's paper is not on file waits there, and its issuer
is asked again. Runs on SQLite or TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import Runtime, boot
from bot.settings import Settings
from casework.personal import Cipher
from models import types as model_types
from sandbox.database import prepare
from tests.conftest import local
from tests.sandboxdriver import Sandbox, serve


@pytest.fixture
def restore_cipher() -> Iterator[None]:
    previous = model_types._cipher
    yield
    if previous is not None:
        model_types.install_cipher(previous)


def _runtime(db_url: str, tmp_path: Path, name: str) -> Runtime:
    return boot(Settings(database_url=db_url, encryption_key=Cipher.generate_key(),
                         dev_key_file=tmp_path / "unused-key", policy=name))


def run_sandbox(db_url: str, tmp_path: Path, name: str, start: datetime, drive: Any) -> Any:
    runtime = _runtime(db_url, tmp_path, name)
    try:
        assert prepare(runtime, start) is True
        return asyncio.run(serve(runtime, start, drive))
    finally:
        runtime.engine.dispose()


def told(timeline: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(local date, who: a body or a role, kind) of every message about the case."""
    out = []
    for m in timeline["told"]:
        who = m["to"]["body"] or m["to"]["role"]
        out.append((m["queued_at"][:10], who, m["kind"]))
    return out


def steps(timeline: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    """(local date, event kind, to-state, who) of the case's events."""
    return [
        (e["at"][:10], e["kind"], e["to"], (e["by"] or {}).get("body") or (e["by"] or {}).get("role"))
        for e in timeline["events"]
    ]


def print_table(name: str, timeline: dict[str, Any]) -> None:
    """For the issue's note: step | date | who was told."""
    print(f"\n== {name}")
    for row in steps(timeline):
        print("event", *row)
    for row in told(timeline):
        print("told ", *row)


# ---------------------------------------------------------------------------- the drives
# Each is what the personas do, in order; the clock bar moves between their actions.


async def datian(sb: Sandbox) -> dict[str, Any]:
    """From Thu 2026-09-24, across 中秋 (09-25) and 国庆 (10-01…07; 10-10 worked)."""
    case = await sb.report("teacher5", "9-23")
    await sb.clock_to(local(2026, 10, 8, 18, 0))  # the school's 3 working days, then the township
    await sb.tap_data("township_officer1", f"ack:{case}")
    await sb.clock_to(local(2026, 10, 9, 9, 0))
    # after its first round the township issues the 限期复学通知书 from its own level
    reply = await sb.case_action("township_officer1", case, "issue_deadline_notice")
    assert "《限期复学通知书》已下达" in reply, reply
    await sb.clock_to(local(2026, 10, 16, 18, 0))  # the guardian's 7 days
    await sb.tap_data("county_officer", f"ack:{case}")
    await sb.clock_to(local(2026, 10, 31, 9, 0))  # the bureau's 10 working days
    return await sb.timeline(case)


async def qiaocheng(sb: Sandbox) -> dict[str, Any]:
    case = await sb.report("teacher5", "11-1")
    await sb.clock_to(local(2026, 11, 6, 18, 0))
    await sb.tap_data("township_officer1", f"ack:{case}")
    # the township's 1-2 家访 take their 10 working days; the order is not issued yet, so the
    # case waits at the notice level, and the township is asked again
    await sb.clock_to(local(2026, 11, 23, 18, 0))
    reply = await sb.case_action("township_officer1", case, "issue_deadline_notice")
    assert "《责令限期改正通知书》已下达" in reply, reply
    await sb.clock_to(local(2026, 12, 1, 18, 0))  # overdue: the 区司法部门's step
    reply = await sb.case_action("judicial_officer", case, "issue_document")
    assert "司法文书" in reply, reply
    await sb.clock_to(local(2026, 12, 16, 9, 0))
    return await sb.timeline(case)


async def tongnan(sb: Sandbox) -> dict[str, Any]:
    case = await sb.report("teacher5", "11-20")
    await sb.clock_to(local(2026, 11, 27, 18, 0))
    await sb.tap_data("township_officer1", f"ack:{case}")
    await sb.clock_to(local(2026, 12, 19, 9, 0))
    await sb.tap_data("poverty_group", f"ack:{case}")
    return await sb.timeline(case)


async def jidong(sb: Sandbox) -> dict[str, Any]:
    """Into 2027; away since Thu 12-03, reported on the 7th school day."""
    case = await sb.report("teacher5", "12-3")
    await sb.clock_to(local(2027, 1, 1, 18, 0))  # the month mark
    # the school administrator names the 专人: the class teacher
    await sb.tap_data("school_admin2", f"assign:{case}")
    teacher = sb.personas["teacher5"]["name"]
    message_id, data = await sb.button("school_admin2", lambda d, t: d.startswith(f"assign:{case}:") and t == teacher)
    await sb.tap("school_admin2", message_id, data)
    await sb.clock_to(local(2027, 1, 15, 18, 0))  # the 专人's 10 working days
    await sb.tap_data("township_officer1", f"ack:{case}")
    # the county government orders the correction (责令限期改正) from the township's level
    await sb.clock_to(local(2027, 1, 18, 9, 0))
    reply = await sb.case_action("county_government", case, "issue_deadline_notice")
    assert "《责令限期改正通知书》已下达" in reply, reply
    await sb.clock_to(local(2027, 1, 25, 18, 0))  # the guardian's 7 days
    await sb.tap_data("county_officer", f"ack:{case}")
    reply = await sb.case_action("county_officer", case, "issue_document")
    assert "教育行政处罚决定书" in reply, reply
    await sb.clock_to(local(2027, 2, 16, 9, 0))  # 15 working days, then the court
    return await sb.timeline(case)


async def lipu(sb: Sandbox) -> dict[str, Any]:
    case = await sb.report("teacher5", "11-20")
    await sb.clock_to(local(2026, 11, 27, 9, 0))
    # after its persuasion the SCHOOL issues its 劝返复学通知书
    reply = await sb.case_action("school_admin2", case, "issue_deadline_notice")
    assert "《劝返复学通知书》已下达" in reply, reply
    await sb.clock_to(local(2026, 12, 4, 18, 0))  # one week: the township and the 市教育局
    await sb.tap_data("city_bureau", f"ack:{case}")
    await sb.clock_to(local(2026, 12, 26, 9, 0))
    return await sb.timeline(case)


DRIVES = {"datian": (datian, local(2026, 9, 24, 8, 0)),
          "qiaocheng": (qiaocheng, local(2026, 11, 2, 8, 0)),
          "tongnan": (tongnan, local(2026, 11, 23, 8, 0)),
          "jidong": (jidong, local(2026, 12, 14, 8, 0)),
          "lipu": (lipu, local(2026, 11, 23, 8, 0))}


# ---------------------------------------------------------------------------- the tests


def _run(name: str, db_url: str, tmp_path: Path) -> dict[str, Any]:
    drive, start = DRIVES[name]
    timeline: dict[str, Any] = run_sandbox(db_url, tmp_path, name, start, drive)
    print_table(name, timeline)
    return timeline


def escalations(timeline: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(d, to, who) for d, kind, to, who in steps(timeline)
            if kind in ("escalated", "notice_issued", "document_issued", "assigned")]


def alerts(timeline: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Who was told of a level reached or asked to act (not the reminders)."""
    return [t for t in told(timeline) if t[2] in (
        "escalation_alert", "level_entered", "name_persuader", "document_issued", "held",
        "assigned")]


def test_datian_through_the_sandbox_across_mid_autumn_and_national_day(
    db_url: str, tmp_path: Path, restore_cipher: None
) -> None:
    timeline = _run("datian", db_url, tmp_path)
    assert timeline["case"]["state"] == "judicial"
    assert steps(timeline)[0] == ("2026-09-24", "reported", "suspected", "teacher")
    # 1 working day from Thu 09-24: Fri 09-25 is 中秋, so Mon 09-28; 3 working days from
    # there: 09-29, 09-30, then 国庆 10-01…07, 10-08
    assert escalations(timeline) == [
        ("2026-09-28", "school_persuasion", None),
        ("2026-10-08", "township_persuasion", None),
        ("2026-10-09", "deadline_notice", "township_officer"),  # 《限期复学通知书》
        ("2026-10-16", "county_escalation", None),  # the guardian's 7 calendar days
        # 10 working days from Fri 10-16: 19–23, 26–30 Oct
        ("2026-10-30", "judicial", None),
    ]
    assert alerts(timeline) == [
        ("2026-09-24", "school_admin", "level_entered"),
        ("2026-09-28", "school_admin", "level_entered"),
        ("2026-10-08", "township_officer", "escalation_alert"),  # the 表5 report
        ("2026-10-09", "school_admin", "escalation_alert"),
        ("2026-10-16", "county_officer", "escalation_alert"),
        ("2026-10-30", "county_officer", "escalation_alert"),
    ]
    # nobody was reminded or alerted on a day off
    off = {f"2026-10-0{d}" for d in range(1, 8)} | {"2026-09-25", "2026-09-26", "2026-09-27"}
    assert not [t for t in told(timeline) if t[0] in off]


def test_tongnan_through_the_sandbox_to_the_poverty_alleviation_group(
    db_url: str, tmp_path: Path, restore_cipher: None
) -> None:
    timeline = _run("tongnan", db_url, tmp_path)
    # the top of tongnan's ladder: the township's report to the 区扶贫工作领导小组
    assert timeline["case"]["ladder"][-1] == "county_escalation"
    assert timeline["case"]["state"] == "county_escalation"
    assert escalations(timeline) == [
        ("2026-11-24", "school_persuasion", None),  # 即辍即劝: 1 working day
        ("2026-11-27", "township_persuasion", None),  # 3 working days
        # 15 working days of joint persuasion: 30 Nov–4 Dec, 7–11, 14–18 Dec
        ("2026-12-18", "county_escalation", None),
    ]
    assert alerts(timeline) == [
        ("2026-11-23", "school_admin", "level_entered"),
        ("2026-11-24", "school_admin", "level_entered"),
        ("2026-11-27", "township_officer", "escalation_alert"),
        ("2026-12-18", "township_officer", "escalation_alert"),
        ("2026-12-18", "poverty_group", "escalation_alert"),
    ]
    # the joint round nobody recorded: the three who persuade together are told it is overdue
    assert [t for t in told(timeline) if t[2] == "overdue"] == [
        ("2026-12-04", "village_cadre", "overdue"),
        ("2026-12-04", "township_officer", "overdue"),
        ("2026-12-04", "school_admin", "overdue"),
    ]
    assert steps(timeline)[-1] == ("2026-12-19", "acknowledged", "county_escalation", "poverty_group")
    # no 限期复学通知书 and no court step, ever
    assert not [e for e in steps(timeline) if e[2] in ("deadline_notice", "judicial")]


def test_lipu_through_the_sandbox_the_school_issues_its_notice(
    db_url: str, tmp_path: Path, restore_cipher: None
) -> None:
    timeline = _run("lipu", db_url, tmp_path)
    assert timeline["case"]["state"] == "judicial"
    assert escalations(timeline) == [
        ("2026-11-24", "school_persuasion", None),
        # 四(一) the SCHOOL issues the 《劝返复学通知书》 (from its own persuasion)
        ("2026-11-27", "deadline_notice", "school_admin"),
        # the guardian's week (Fri 11-27 → Fri 12-04): the township AND the 市教育局
        ("2026-12-04", "county_escalation", None),
        # 15 working days: 7–11, 14–18, 21–25 Dec; the 市教育局 leads, the judicial office told
        ("2026-12-25", "judicial", None),
    ]
    assert timeline["case"]["notice_due_on"] == "2026-12-04"
    assert alerts(timeline) == [
        ("2026-11-23", "school_admin", "level_entered"),
        ("2026-11-24", "school_admin", "level_entered"),
        ("2026-12-04", "township_officer", "escalation_alert"),
        ("2026-12-04", "city_bureau", "escalation_alert"),
        ("2026-12-25", "city_bureau", "escalation_alert"),
        ("2026-12-25", "judicial_officer", "escalation_alert"),
    ]
    # the city bureau took the alert: it did not climb, and never to the system administrator
    assert ("2026-12-04", "acknowledged", "county_escalation", "city_bureau") in steps(timeline)
    assert not [t for t in told(timeline) if t[1] in ("admin", "county_officer")]


def test_qiaocheng_through_the_sandbox_the_judicial_office_sends_the_documents(
    db_url: str, tmp_path: Path, restore_cipher: None
) -> None:
    timeline = _run("qiaocheng", db_url, tmp_path)
    assert timeline["case"]["state"] == "judicial"
    assert escalations(timeline) == [
        ("2026-11-03", "school_persuasion", None),
        ("2026-11-06", "township_persuasion", None),  # the written report: township and bureau
        # the township's 1-2 家访 in 10 working days (9–13, 16–20 Nov)
        ("2026-11-20", "deadline_notice", None),
        # the township orders the correction (责令限期改正) on Mon 11-23, the 7 days run from then
        ("2026-11-23", "deadline_notice", "township_officer"),
        ("2026-11-30", "county_escalation", None),
        # the 区司法部门 — not the bureau's officer — sends the legal documents
        ("2026-12-01", "county_escalation", "judicial_officer"),
        # 10 working days from Mon 11-30: 1–4, 7–11, 14 Dec
        ("2026-12-14", "judicial", None),
    ]
    assert timeline["case"]["notice_due_on"] == "2026-11-30"
    assert alerts(timeline) == [
        ("2026-11-02", "school_admin", "level_entered"),
        ("2026-11-03", "school_admin", "level_entered"),
        ("2026-11-06", "township_officer", "escalation_alert"),
        ("2026-11-06", "county_officer", "escalation_alert"),
        ("2026-11-20", "township_officer", "escalation_alert"),
        ("2026-11-20", "school_admin", "escalation_alert"),
        # not acknowledged within a working day: up qiaocheng's own chain, to the bureau
        ("2026-11-23", "county_officer", "escalation_alert"),
        ("2026-11-30", "judicial_officer", "escalation_alert"),
        ("2026-11-30", "county_officer", "escalation_alert"),
        ("2026-12-01", "county_officer", "document_issued"),
        ("2026-12-14", "judicial_officer", "escalation_alert"),
        ("2026-12-14", "county_officer", "escalation_alert"),
    ]
    # the second 家访 nobody recorded (due Fri 11-13)
    assert [t for t in told(timeline) if t[2] == "overdue"] == [
        ("2026-11-13", "village_cadre", "overdue"),
        ("2026-11-13", "township_officer", "overdue"),
    ]


def test_jidong_through_the_sandbox_month_mark_and_the_named_person_into_2027(
    db_url: str, tmp_path: Path, restore_cipher: None
) -> None:
    timeline = _run("jidong", db_url, tmp_path)
    assert timeline["case"]["state"] == "judicial"
    assert steps(timeline)[0] == ("2026-12-14", "reported", "suspected", "teacher")
    assert escalations(timeline) == [
        # the month mark: the 22nd school day away from Thu 12-03 (2027 has no holiday data:
        # Fri 01-01 counts as a weekday), and nothing before it
        ("2027-01-01", "school_persuasion", None),
        # the school administrator names the 专人 (the class teacher), who owns the case
        ("2027-01-01", "school_persuasion", "school_admin"),
        # 10 working days: 4–8, 11–15 Jan; the county bureau is told (向县教育局上报)
        ("2027-01-15", "township_persuasion", None),
        # the county government orders the correction (责令限期改正)
        ("2027-01-18", "deadline_notice", "county_government"),
        ("2027-01-25", "county_escalation", None),  # the guardian's 7 days
        # the bureau's 教育行政处罚决定 on file before any court step
        ("2027-01-25", "county_escalation", "county_officer"),
        # 15 working days: 26–29 Jan, 1–5, 8–12, 15 Feb — then the court
        ("2027-02-15", "judicial", None),
    ]
    assert alerts(timeline) == [
        ("2026-12-14", "school_admin", "level_entered"),
        ("2027-01-01", "school_admin", "name_persuader"),
        ("2027-01-01", "teacher", "assigned"),
        ("2027-01-15", "township_officer", "escalation_alert"),
        ("2027-01-15", "county_officer", "escalation_alert"),
        ("2027-01-18", "township_officer", "escalation_alert"),
        ("2027-01-25", "county_officer", "escalation_alert"),
        ("2027-02-15", "county_officer", "escalation_alert"),
        ("2027-02-15", "judicial_officer", "escalation_alert"),
    ]
    # before the month mark nobody above the school heard of the case
    early = [t for t in told(timeline) if t[0] < "2027-01-01"]
    assert {who for _d, who, _k in early} <= {"school_admin", "teacher"}
    # the 专人's step: its reminders went to the named person alone
    assert [t for t in told(timeline) if t[2] == "reminder" and "2027-01-02" <= t[0] <= "2027-01-15"] == [
        ("2027-01-14", "teacher", "reminder"),
        ("2027-01-15", "teacher", "reminder"),
    ]
