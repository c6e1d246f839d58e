"""The ``baoxue`` command line, run as an operator would (typer's CliRunner on cli.main.app).

With DATABASE_URL and ENCRYPTION_KEY in the environment: ``db upgrade`` creates the
schema, ``demo seed`` makes the invented county with its dozen cases through the ladder
itself, ``cases list`` shows them with their states (and filters by state),
``policy check`` prints a profile's ladder in words and refuses a broken file naming the
key, and production mode refuses to start without an encryption key.

The database is a fresh SQLite file, or, when TEST_DATABASE_URL is set, the test
PostgreSQL database (emptied first), so the commands run on both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import get_settings
from casework.policy import POLICY_DIR
from tests.conftest import TEST_DATABASE_URL, invoke

ROW = re.compile(r"^\s*(?P<id>\d+)\s+(?P<student>\S+)\s+(?P<state>.+?)\s+(?P<round>\d+)\s+"
                 r"(?P<due>\d{4}-\d\d-\d\d \d\d:\d\d|—)\s+(?P<place>.+)$")

# what demo.county.seed_demo makes of its twelve cases (see the walk in seed_demo)
DEMO_STATES = {
    # the seed catches the ladder up to now: deadlines that passed during the three
    # invented weeks have moved these cases up (1, 2, 9, 10) or resumed them (4)
    1: ("school persuasion", 0),
    2: ("township persuasion", 0),
    3: ("closed", 1),
    4: ("school persuasion", 1),
    5: ("township persuasion", 0),
    6: ("township persuasion", 0),
    7: ("township persuasion", 1),
    8: ("returned to school", 2),
    9: ("county escalation", 0),
    10: ("judicial enforcement", 0),
    11: ("township persuasion", 1),
    12: ("township persuasion", 1),
}


def rows(output: str) -> dict[int, tuple[str, int]]:
    """``cases list`` output → {case id: (state, round)}; the header line is skipped."""
    found = {}
    for line in output.splitlines()[1:]:
        m = ROW.match(line)
        assert m is not None, f"unexpected line: {line!r}"
        found[int(m["id"])] = (m["state"], int(m["round"]))
    return found


def test_upgrade_seed_and_list_the_demo_cases(env: pytest.MonkeyPatch) -> None:
    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "is up to date" in upgraded.output

    seeded = invoke("demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert seeded.stdout.strip() == (
        "seeded 青松县: 2 townships, 4 villages, 3 schools, 12 classes, 396 students, "
        "31 user handles"
    )
    again = invoke("demo", "seed")
    assert again.exit_code == 0
    assert "already has data; nothing seeded" in again.stdout

    listed = invoke("cases", "list", "--lang", "en")
    assert listed.exit_code == 0, listed.output
    header = listed.stdout.splitlines()[0].split()
    assert header[:4] == ["#", "student", "state", "rnd"]
    assert rows(listed.stdout) == DEMO_STATES
    # open cases show their next deadline; closed, returned and judicial (the top) none
    dues = {int(m["id"]): m["due"] for m in map(ROW.match, listed.stdout.splitlines()[1:]) if m}
    assert {i for i, due in dues.items() if due == "—"} == {3, 8, 10}

    returned = invoke("cases", "list", "--state", "returned", "--lang", "en")
    assert returned.exit_code == 0
    assert rows(returned.stdout) == {8: ("returned to school", 2)}
    township = invoke("cases", "list", "--state", "township_persuasion", "--lang", "en")
    assert sorted(rows(township.stdout)) == [2, 5, 6, 7, 11, 12]
    assert invoke("cases", "list", "--state", "home_teaching").stdout.strip() == "no cases"

    bogus = invoke("cases", "list", "--state", "dropped")
    assert bogus.exit_code == 2
    assert "unknown state 'dropped'" in bogus.stderr


def test_policy_check_prints_the_ladder(env: pytest.MonkeyPatch) -> None:
    result = invoke("policy", "check", "datian", "--lang", "en")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Policy datian: Datian County dropout control (seed 000)"
    ladder = [line for line in lines if re.match(r"^\d\. ", line)]
    assert [line.split(" — ")[0] for line in ladder] == [
        "1. Suspected dropout",
        "2. School persuasion",
        "3. Township persuasion",
        "4. Return-to-school notice with a deadline",
        "5. County escalation",
        "6. Judicial enforcement",
    ]
    assert ladder[1] == (
        "2. School persuasion — responsible: teacher, school administrator; notify on entry: "
        "school administrator; deadline: 3 working days; then → township persuasion"
    )
    assert "at most 5 rounds; next round within 5 working days" in ladder[2]
    assert ladder[5].endswith("the last level")
    # 销号: every closing outcome with its evidence and its reviewer (issue #10 §3)
    closing = [line for line in lines if line.startswith("Closing as ")]
    assert closing == [
        "Closing as “Back and staying at school (close out)” needs: Photo of the child in class; "
        "reviewed by the township (a township officer's proposal by the county); never by the proposer",
        "Closing as “Home teaching” needs: Hospital diagnosis or disability certificate; "
        "reviewed by the township (a township officer's proposal by the county); never by the proposer",
        "Closing as “Deferred enrolment” needs: Guardian's written application, Hospital diagnosis or "
        "disability certificate; reviewed by the township (a township officer's proposal by the "
        "county); never by the proposer",
        "Closing as “Transferred” needs: Receiving school's enrolment confirmation (student register); "
        "reviewed by the township (a township officer's proposal by the county); never by the proposer",
        "Closing as “Deceased” needs: Police station or community certificate; "
        "reviewed by the township (a township officer's proposal by the county); never by the proposer",
        "Closing as “Moved abroad” needs: Police station or community certificate; "
        "reviewed by the township (a township officer's proposal by the county); never by the proposer",
        "Closing as “Over compulsory-school age” needs: Household register or ID card page showing the "
        "birth date; reviewed by the township (a township officer's proposal by the county); never by "
        "the proposer",
        "Closing as “Other” needs: Written statement of the facts, signed; "
        "reviewed by the township (a township officer's proposal by the county); never by the proposer",
        # 表3's result 辍学, reviewed above the township that records it
        "Closing as “Dropped out” needs: Written statement of the facts, signed; "
        "reviewed by a county officer or above; never by the proposer",
    ]
    tongnan = invoke("policy", "check", "tongnan", "--lang", "en").stdout.splitlines()
    assert ("Closing as “Deferred enrolment” needs: Guardian's written application, Written statement "
            "of the facts, signed; reviewed by the district poverty-alleviation leading group; never by "
            "the proposer") in tongnan
    # the operator is warned about the year the holiday data does not cover
    assert lines[-1].startswith("! ") and "2027" in lines[-1]


def test_policy_check_warns_in_the_chosen_language(env: pytest.MonkeyPatch) -> None:
    result = invoke("policy", "check", "datian", "--lang", "en")
    assert result.stdout.splitlines()[-1].startswith("! No statutory holiday data for 2027")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('deadline = { amount = 25, unit = "working_days" }',
         'deadline = { amount = 25, unit = "weeks" }',
         "ladder[2].deadline.unit: must be one of"),
        ("rounds = 5", "rounds = 0", "ladder[2].rounds: must be at least 1, not 0"),
        ("deferral_min_joint_rounds = 0", "deferal_min_joint_rounds = 0",
         "outcomes.deferal_min_joint_rounds: unknown key (did you mean deferral_min_joint_rounds?)"),
        ('evidence = ["enrolment_confirmation"]', 'evidence = ["a_letter"]',
         "outcomes.transferred.evidence[0]: must be one of"),
        ('evidence = ["enrolment_confirmation"]', "evidence = []",
         "outcomes.transferred.evidence: must have at least 1 item(s)"),
        ("deadline_time = 17:30:00", "deadline_time = 17:30",
         "times.deadline_time: TOML syntax error"),
    ],
    ids=["bad unit", "zero rounds", "misspelt key", "unknown evidence", "no evidence",
         "time without seconds"],
)
def test_policy_check_names_the_broken_key(
    env: pytest.MonkeyPatch, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = (POLICY_DIR / "datian.toml").read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")

    result = invoke("policy", "check", str(broken), "--lang", "en")
    assert result.exit_code == 1
    assert result.stdout == ""  # no ladder printed for a file that does not load
    assert str(broken) in result.stderr
    assert expected in result.stderr


def test_production_refuses_to_start_without_an_encryption_key(
    env: pytest.MonkeyPatch, database_url: str
) -> None:
    env.delenv("ENCRYPTION_KEY")
    env.setenv("BAOXUE_ENV", "production")
    # with a token, so that `run` has only the key to refuse on (without one it names both)
    env.setenv("BOT_TOKEN", "123456:AAinvented-token-for-the-test")
    get_settings.cache_clear()
    for command in (("run",), ("db", "upgrade"), ("demo", "seed"), ("cases", "list")):
        result = invoke(*command)
        assert result.exit_code == 2, command
        assert result.stderr.strip() == (
            "ENCRYPTION_KEY is not set. In production the bot refuses to store ID and phone "
            "numbers without it. Generate one with: baoxue key generate"
        )
    if not TEST_DATABASE_URL:  # nothing was created either
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
    assert not Path(".baoxue-dev-key").exists()


def test_development_without_a_key_generates_one_and_warns(
    env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env.delenv("ENCRYPTION_KEY")
    get_settings.cache_clear()
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    key_file = Path(".baoxue-dev-key")
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    assert any("DEVELOPMENT ENCRYPTION KEY" in r.getMessage() for r in caplog.records)
    # the same key is used on the next start
    key = key_file.read_text()
    assert invoke("db", "upgrade").exit_code == 0
    assert key_file.read_text() == key
