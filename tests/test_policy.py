"""Policy profiles: the five shipped files load, describe themselves, and broken files
are reported with the key path and the problem in plain words."""

from __future__ import annotations

import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any, get_args

import pydantic
import pytest

from casework import codes
from casework.errors import PolicyError
from casework.i18n import Text
from casework.labels import ROLE_LABELS, STATE_LABELS, UNIT_LABELS, duration_text, join
from casework.policy import (
    BODIES,
    LADDER_ORDER,
    OUTCOME_ORDER,
    POLICY_DIR,
    Duration,
    EvidenceKind,
    LadderState,
    Policy,
    Role,
    Unit,
    available,
    describe,
    load_named,
    load_policy,
    parse_policy,
    resolve,
    validate_policy,
)

PROFILES = ["datian", "jidong", "lipu", "qiaocheng", "tongnan"]
DATIAN_TEXT = (POLICY_DIR / "datian.toml").read_text(encoding="utf-8")


def datian_data() -> dict[str, Any]:
    return tomllib.loads(DATIAN_TEXT)


def broken(tmp_path: Path, text: str) -> PolicyError:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    return err.value


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


# ------------------------------------------------------------------ shipped profiles


def test_available_lists_the_five_profiles() -> None:
    assert available() == PROFILES


@pytest.mark.parametrize("name", PROFILES)
def test_profile_loads_and_is_consistent(name: str) -> None:
    policy = load_named(name)
    assert policy.name == name
    assert policy.times.timezone == "Asia/Shanghai"
    assert str(policy.tz) == "Asia/Shanghai"
    assert policy.first_level.state == "suspected"
    # tongnan's ladder ends at the 区扶贫工作领导小组 (no court step in its seed)
    assert policy.ladder[-1].state == ("county_escalation" if name == "tongnan" else "judicial")
    assert policy.ladder[-1].is_terminal
    assert [t.start for t in policy.calendar.terms] == [
        date(2026, 3, 2),
        date(2026, 9, 1),
        date(2027, 2, 22),
    ]
    assert policy.reminders.lead == [
        Duration(amount=1, unit="working_days"),
        Duration(amount=0, unit="working_days"),
    ]
    # an unacknowledged alert climbs the profile's own chain, never to the system admin
    assert policy.escalation.ack_chain == {
        "datian": ["township_officer", "county_officer"],
        "qiaocheng": ["school_admin", "township_officer", "county_officer"],
        "tongnan": ["township_officer", "county_officer", "poverty_group"],
        "jidong": ["school_admin", "township_officer", "county_officer", "county_government"],
        "lipu": ["school_admin", "township_officer", "city_bureau"],
    }[name]
    assert [d.amount for d in policy.retention.check_after] == [7, 14, 28]
    assert policy.times.deadline_time == time(17, 30)
    assert policy.times.county_digest_weekday == 0
    assert all(level.clause for level in policy.ladder)
    assert all(th.clause for th in policy.absence)


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("lang", ["en", "zh_Hans", None])
def test_describe_mentions_every_level(name: str, lang: str | None) -> None:
    policy = load_named(name)
    lines = describe(policy, lang)
    text = "\n".join(lines).lower()
    for level in policy.ladder:
        assert Text(STATE_LABELS[level.state]).render(lang).lower() in text
    for term in policy.calendar.terms:
        assert term.name in text
    assert len(lines) >= len(policy.ladder) + len(policy.absence) + 8


def test_describe_reads_like_the_ladder() -> None:
    lines = describe(load_named("datian"), "en")
    assert (
        "1. Suspected dropout — responsible: teacher; notify on entry: school administrator; "
        "deadline: 1 working day; then → school persuasion"
    ) in lines
    joined = "\n".join(lines)
    assert "at most 5 rounds; next round within 5 working days" in joined
    assert "After 1 school day of unexcused absence" in joined
    assert (
        "Reminders before each deadline: 1 working day before, on the morning of the due day"
        in (joined)
    )
    assert "township officer → county officer" in joined and "system administrator" not in joined
    assert "7 calendar days, 14 calendar days, 28 calendar days" in joined
    assert "Term 2026年秋季学期: Sep 1, 2026 to Jan 22, 2027" in joined
    assert any(
        line.startswith("6. Judicial enforcement") and line.endswith("the last level")
        for line in lines
    )
    with_clauses = describe(load_named("datian"), "en", clauses=True)
    assert any("3个工作日内仍未返校" in line for line in with_clauses)


def test_datian() -> None:
    p = load_named("datian")
    assert p.states == LADDER_ORDER
    assert [(a.school_days, a.action) for a in p.absence] == [(1, "report")]
    assert p.level("suspected").deadline == Duration(amount=1, unit="working_days")
    assert p.level("school_persuasion").deadline == Duration(amount=3, unit="working_days")
    township = p.level("township_persuasion")
    assert township.rounds == 5 and township.requires_ack
    assert township.responsible == ["village_cadre", "township_officer"]
    # every closing outcome names its evidence; datian names no reviewer above the default
    assert p.outcomes.transferred.evidence == ["enrolment_confirmation"]
    assert p.outcomes.deceased.evidence == ["household_certificate"]
    assert p.outcomes.retained.evidence == ["class_photo"]
    assert p.outcomes.deferred.evidence == ["guardian_application", "medical_certificate"]
    assert p.outcomes.reviewer_role("deferred", "teacher") == "township_officer"
    assert p.outcomes.reviewer_role("deferred", "village_cadre") == "township_officer"
    assert p.outcomes.reviewer_role("transferred", "township_officer") == "county_officer"
    assert not p.roll_call.enabled


def test_qiaocheng() -> None:
    p = load_named("qiaocheng")
    assert p.roll_call.enabled
    assert p.roll_call.within == Duration(amount=7, unit="calendar_days")
    assert {"township_officer", "county_officer"} <= set(p.level("township_persuasion").notify)
    assert p.states[-3:] == ("deadline_notice", "county_escalation", "judicial")


def test_tongnan() -> None:
    p = load_named("tongnan")
    assert not p.has_level("deadline_notice")
    assert p.outcomes.deferral_min_joint_rounds == 3
    # 二(四) the district's 扶贫工作领导小组 decides deferral, even on a school's proposal
    assert p.outcomes.reviewer_role("deferred", "school_admin") == "poverty_group"
    assert p.outcomes.reviewer_role("suspended", "teacher") == "poverty_group"
    assert p.bodies == {"poverty_group": "county_officer"}
    # no 限期复学通知书 and no court step: the township's report to the group is the top
    assert p.states[-1] == "county_escalation"
    assert "poverty_group" in p.level("county_escalation").notify
    assert p.outcomes.reviewer_role("transferred", "school_admin") == "township_officer"
    assert p.home_teaching.every == Duration(amount=7, unit="calendar_days")
    assert p.home_teaching.min_class_hours == 2
    assert p.roll_call.enabled
    # 二(四) "并继续做好劝返复学工作": a visit every 10 working days while a deferral runs
    assert p.deferral.persuasion and p.deferral.round_interval == Duration(amount=10, unit="working_days")
    assert "并继续做好劝返复学工作" in p.deferral.clause
    assert not any(load_named(n).deferral.persuasion for n in ("datian", "jidong", "lipu", "qiaocheng"))


def test_jidong() -> None:
    p = load_named("jidong")
    # 7 school days open the case (the teacher visits or calls); the month is the ladder's:
    # the 22nd school day of absence, counted from the first day away, not cut short by a
    # visit; then the school administrator names the 专人
    assert [(a.school_days, a.action) for a in p.absence] == [(7, "home_visit")]
    suspected = p.level("suspected")
    assert suspected.deadline == Duration(amount=21, unit="school_days")
    assert suspected.holds_until_deadline and suspected.counts_from_absence
    assert p.level("school_persuasion").names_persuader == "school_admin"
    notice = p.level("deadline_notice")
    assert notice.responsible == ["county_government"]
    assert notice.document is not None and notice.document.name == "correction_order"
    penalty = p.level("county_escalation").document
    assert penalty is not None and penalty.kind == "penalty_decision"
    assert [d.kind for d in p.documents_before("judicial")] == ["deadline_notice", "penalty_decision"]
    assert p.outcomes.rule("exempted").evidence == ["assessment", "medical_certificate"]
    assert p.reports.quarterly


def test_lipu() -> None:
    p = load_named("lipu")
    assert (p.reports.daily, p.reports.weekly, p.reports.monthly) == (True, True, True)
    # 五(一) "及时上报市教育局和当地乡镇人民政府": each report to the township and the 市教育局
    for kind in ("daily", "weekly"):
        assert p.reports.recipients(kind) == ("township_officer", "city_bureau")
    # 荔浦's 市教育局 is the county bureau: its own county officers get the monthly report too
    assert p.reports.recipients("monthly") == ("township_officer", "city_bureau", "county_officer")
    assert p.reports.recipients("quarterly") == ()
    notice = p.level("deadline_notice")
    assert notice.deadline == Duration(amount=7, unit="calendar_days")
    assert notice.responsible == ["school_admin"]
    assert notice.document is not None and notice.document.name == "return_notice"
    assert p.level("county_escalation").notify == ["township_officer", "city_bureau"]
    assert not p.has_level("township_persuasion")
    assert p.next_level("school_persuasion") == notice


def test_ladder_navigation() -> None:
    p = load_named("tongnan")
    assert p.next_level("suspected") == p.level("school_persuasion")
    assert p.next_level("township_persuasion") == p.level("county_escalation")
    # a level the county skips still climbs to the right place
    assert p.next_level("deadline_notice") == p.level("county_escalation")
    assert p.next_level("county_escalation") is None
    assert p.next_level("judicial") is None
    assert not p.has_level("judicial") and not p.has_level("deadline_notice")
    with pytest.raises(PolicyError) as err:
        p.level("deadline_notice")
    assert "deadline" in err.value.render("en")
    with pytest.raises(PolicyError):
        p.next_level("returned")  # type: ignore[arg-type]


def test_resolve_by_name_and_by_path(tmp_path: Path) -> None:
    assert resolve("lipu").name == "lipu"
    assert resolve(str(POLICY_DIR / "jidong.toml")).name == "jidong"
    copy = tmp_path / "mine"
    copy.write_text(DATIAN_TEXT, encoding="utf-8")
    assert resolve(str(copy)).name == "datian"  # an existing file without .toml
    with pytest.raises(PolicyError):
        resolve("nowhere")
    with pytest.raises(PolicyError):
        resolve(str(tmp_path / "missing.toml"))


def test_policies_are_frozen() -> None:
    p = load_named("datian")
    with pytest.raises(pydantic.ValidationError):
        p.name = "other"  # type: ignore[misc]


def test_literals_and_labels_agree() -> None:
    assert get_args(LadderState) == LADDER_ORDER
    assert set(get_args(Role)) == set(ROLE_LABELS)
    assert set(get_args(Unit)) == set(UNIT_LABELS)
    assert set(LADDER_ORDER) < set(STATE_LABELS)
    lifecycle = {
        "returned",
        "retention",
        "closed",
        "home_teaching",
        "deferred",
        "transferred",
        "closed_other",
        "paused",
    }
    assert lifecycle < set(STATE_LABELS)


def test_plural_and_list_labels() -> None:
    assert duration_text(1, "working_days").render("en") == "1 working day"
    assert duration_text(3, "school_days").render("en") == "3 school days"
    assert join([Text("a"), "b"]).render("en") == "a, b"


# ------------------------------------------------------------------ broken files


def test_toml_syntax_error_names_line_and_key(tmp_path: Path) -> None:
    text = replace_once(DATIAN_TEXT, "deadline_time = 17:30:00", "deadline_time = 17:30")
    err = broken(tmp_path, text)
    line = text.splitlines().index("deadline_time = 17:30") + 1
    msg = err.render("en")
    assert f"line {line}" in msg and "column" in msg
    assert "times.deadline_time" in msg
    assert "17:30:00" in msg  # the hint
    assert err.detail["key"] == "times.deadline_time"
    assert err.detail["line"] == line


def test_toml_syntax_error_inside_an_array_of_tables(tmp_path: Path) -> None:
    text = replace_once(DATIAN_TEXT, "start = 2026-09-01", "start = 2026-09-")
    err = broken(tmp_path, text)
    assert err.detail["key"] == "calendar.terms[1].start"
    text = replace_once(DATIAN_TEXT, "rounds = 5", "rounds = 5 5")
    assert broken(tmp_path, text).detail["key"] == "ladder[2].rounds"


def test_toml_syntax_error_at_end_of_file(tmp_path: Path) -> None:
    err = broken(tmp_path, DATIAN_TEXT + '\nextra = "unterminated\n')
    assert "TOML syntax error" in err.render("en")


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = replace_once(
        DATIAN_TEXT,
        'deadline = { amount = 3, unit = "working_days" }',
        'deadlien = { amount = 3, unit = "working_days" }',
    )
    err = broken(tmp_path, text)
    msg = err.render("en")
    assert "ladder[1].deadlien" in msg
    assert "unknown key" in msg and "deadline" in msg
    # consistency rules run once the schema errors are fixed, so this is the only problem
    assert [p.path for p in err.detail["problems"]] == ["ladder[1].deadlien"]


def test_wrong_unit_names_the_key(tmp_path: Path) -> None:
    text = replace_once(
        DATIAN_TEXT,
        'deadline = { amount = 3, unit = "working_days" }',
        'deadline = { amount = 3, unit = "workdays" }',
    )
    err = broken(tmp_path, text)
    msg = err.render("en")
    assert err.detail["key"] == "ladder[1].deadline.unit"
    assert "ladder[1].deadline.unit" in msg
    assert "'working_days'" in msg and "'workdays'" in msg


def test_ladder_out_of_order(tmp_path: Path) -> None:
    text = DATIAN_TEXT.replace('state = "school_persuasion"', 'state = "TMP"')
    text = text.replace('state = "township_persuasion"', 'state = "school_persuasion"')
    text = text.replace('state = "TMP"', 'state = "township_persuasion"')
    err = broken(tmp_path, text)
    assert err.detail["key"] == "ladder[2].state"
    assert "cannot come after" in err.render("en")


def test_missing_suspected(tmp_path: Path) -> None:
    head, first, *rest = DATIAN_TEXT.split("\n[[ladder]]\n")
    text = "\n[[ladder]]\n".join([head, *rest])
    err = broken(tmp_path, text)
    assert err.detail["key"] == "ladder[0].state"
    assert "must start with suspected" in err.render("en")


def test_duplicate_state(tmp_path: Path) -> None:
    text = replace_once(DATIAN_TEXT, 'state = "county_escalation"', 'state = "deadline_notice"')
    err = broken(tmp_path, text)
    assert err.detail["key"] == "ladder[4].state"
    assert "twice" in err.render("en")


def test_level_that_never_expires(tmp_path: Path) -> None:
    text = replace_once(DATIAN_TEXT, 'deadline = { amount = 3, unit = "working_days" }\n', "")
    err = broken(tmp_path, text)
    assert err.detail["key"] == "ladder[1]"
    assert "expire" in err.render("en")


def test_missing_key_and_bad_timezone_are_both_listed(tmp_path: Path) -> None:
    text = replace_once(DATIAN_TEXT, 'seed = "000"\n', "")
    text = replace_once(text, 'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghia"')
    err = broken(tmp_path, text)
    paths = [p.path for p in err.detail["problems"]]
    assert "seed" in paths and "times.timezone" in paths
    msg = err.render("en")
    assert "2 problems" in msg
    assert "required key is missing" in msg
    assert "not a known time zone" in msg


def test_wrong_types_in_plain_words() -> None:
    data = datian_data()
    data["ladder"][2]["rounds"] = "five"
    data["calendar"]["terms"][0]["start"] = "soon"
    data["reports"]["daily"] = "yes please"
    with pytest.raises(PolicyError) as err:
        validate_policy(data, "test")
    problems = {p.path: p.text.render("en") for p in err.value.detail["problems"]}
    assert "whole number" in problems["ladder[2].rounds"]
    assert "date" in problems["calendar.terms[0].start"]
    assert "true or false" in problems["reports.daily"]


def test_absence_thresholds_must_ascend() -> None:
    data = datian_data()
    data["absence"].append(dict(data["absence"][0]))
    with pytest.raises(PolicyError) as err:
        validate_policy(data)
    assert err.value.detail["key"] == "absence[1].school_days"


def test_calendar_consistency() -> None:
    data = datian_data()
    data["calendar"]["terms"][1]["end"] = date(2026, 8, 1)
    with pytest.raises(PolicyError) as err:
        validate_policy(data)
    assert err.value.detail["key"] == "calendar.terms[1].end"

    data = datian_data()
    data["calendar"]["extra_holidays"] = [date(2027, 1, 1)]
    data["calendar"]["extra_workdays"] = [date(2027, 1, 1)]
    with pytest.raises(PolicyError) as err:
        validate_policy(data)
    assert err.value.detail["key"] == "calendar.extra_workdays[0]"


def test_deferral_rounds_need_a_township_level() -> None:
    data = tomllib.loads((POLICY_DIR / "lipu.toml").read_text(encoding="utf-8"))
    data["outcomes"]["deferral_min_joint_rounds"] = 3
    with pytest.raises(PolicyError) as err:
        validate_policy(data)
    assert err.value.detail["key"] == "outcomes.deferral_min_joint_rounds"


def test_name_must_match_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "other.toml").write_text(DATIAN_TEXT, encoding="utf-8")
    monkeypatch.setattr("casework.policy.POLICY_DIR", tmp_path)
    with pytest.raises(PolicyError) as err:
        load_named("other")
    assert err.value.detail["key"] == "name"
    with pytest.raises(PolicyError):
        load_named("../other")


def test_parse_policy_from_text() -> None:
    assert isinstance(parse_policy(DATIAN_TEXT), Policy)
    with pytest.raises(PolicyError) as err:
        parse_policy("name = ", source="inline")
    assert err.value.render("en").startswith("inline")


# ---------------------------------------------------------------------------- 销号


def test_every_outcome_and_evidence_kind_has_a_label() -> None:
    assert set(get_args(EvidenceKind)) == set(codes.EVIDENCE_KINDS)
    assert set(OUTCOME_ORDER) <= set(codes.OUTCOMES)


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_names_evidence_and_a_clause_for_every_closing_outcome(name: str) -> None:
    outcomes = load_named(name).outcomes
    for outcome in outcomes.named():
        rule = outcomes.rule(outcome)
        assert rule.evidence and rule.clause, (name, outcome)
    # the same proof for the same fact in every county (the examples)
    assert outcomes.retained.evidence == ["class_photo"]
    assert outcomes.transferred.evidence == ["enrolment_confirmation"]
    assert outcomes.deceased.evidence == ["household_certificate"]
    assert outcomes.moved_abroad.evidence == ["household_certificate"]
    assert outcomes.rule("suspended") == outcomes.deferred
    # nobody below the township reviews, and a township proposal always goes to the county
    for outcome in outcomes.named():
        if outcomes.rule(outcome).reviewer in BODIES:  # tongnan's group decides deferral
            continue
        assert outcomes.reviewer_role(outcome, "teacher") in ("township_officer", "county_officer")
        assert outcomes.reviewer_role(outcome, "township_officer") == "county_officer"
        assert outcomes.reviewer_role(outcome, "county_officer") == "county_officer"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda o: o["deferred"].update(reviewer="school_admin"), "outcomes.deferred.reviewer"),
        (lambda o: o["deceased"].update(evidence=["household_certificate"] * 2), "outcomes.deceased.evidence[1]"),
        (lambda o: o.pop("over_age"), "outcomes.over_age"),
        (lambda o: o["other"].update(evidence=["class_photo", "enrolment_confirmation",
                                               "household_certificate", "birth_record"]),
         "outcomes.other.evidence[3]"),
    ],
    ids=["reviewer below the township", "evidence listed twice", "an outcome left out",
         "more kinds of evidence than the bot has steps for"],
)
def test_a_closing_rule_that_would_let_one_person_close_is_refused(change: Any, key: str) -> None:
    data = datian_data()
    change(data["outcomes"])
    with pytest.raises(PolicyError) as err:
        validate_policy(data)
    assert err.value.detail["key"] == key


# ---------------------------------------------------------------------------- bodies, papers


@pytest.mark.parametrize(
    ("change", "key"),
    [
        # a body the seed names must be mapped to the role its people hold
        (lambda d: d["ladder"][3].update(responsible=["county_government"]),
         "ladder[3].responsible[0]"),
        (lambda d: d["escalation"].update(ack_chain=["township_officer", "city_bureau"]),
         "escalation.ack_chain[1]"),
        # the notice level names the notice it issues
        (lambda d: d["ladder"][3].pop("document"), "ladder[3].document"),
        (lambda d: d["outcomes"]["deferred"].update(reviewer="mayor"), "outcomes.deferred.reviewer"),
        # a report goes to a body the profile maps, to an office, and only when it is on
        (lambda d: d["reports"].update(to={"monthly": ["city_bureau"]}), "reports.to.monthly[0]"),
        (lambda d: d["reports"].update(to={"monthly": ["teacher"]}), "reports.to.monthly[0]"),
        (lambda d: d["reports"].update(to={"daily": ["township_officer"]}), "reports.to.daily"),
        # persuasion during a deferral needs its interval
        (lambda d: d.update(deferral={"persuasion": True}), "deferral.round_interval"),
    ],
    ids=["unmapped body acts", "unmapped body in the chain", "notice without its paper",
         "unknown reviewer", "report to an unmapped body", "report to a teacher", "report off",
         "deferral persuasion without interval"],
)
def test_bodies_and_papers_are_checked_on_load(change: Any, key: str) -> None:
    data = datian_data()
    change(data)
    with pytest.raises(PolicyError) as err:
        validate_policy(data)
    assert err.value.detail["key"] == key


def test_a_mapped_body_acts_and_the_papers_gate_the_levels_above() -> None:
    data = datian_data()
    data["bodies"] = {"county_government": "county_officer"}
    data["ladder"][3]["responsible"] = ["county_government"]
    policy = validate_policy(data)
    assert policy.role_of("county_government") == "county_officer"
    assert policy.role_of("township_officer") == "township_officer"
    # nothing is needed on file below the notice; above it, the notice
    assert policy.documents_before("deadline_notice") == []
    assert [d.kind for d in policy.documents_before("county_escalation")] == ["deadline_notice"]
    assert [d.kind for d in policy.documents_before("judicial")] == ["deadline_notice"]
    lines = describe(policy, "en")
    assert any(line.startswith("4. Return-to-school notice with a deadline — responsible: county government;")
               and "issues the Deadline notice to return to school" in line for line in lines)
    assert any(line.startswith("6. Judicial enforcement") and
               "only with on file: Deadline notice to return to school" in line for line in lines)
