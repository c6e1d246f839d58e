"""The case lifecycle of DESIGN §3 as a table.

``TRANSITIONS`` says, for each action, from which states it may be taken and where it
leads. ``ladder.py`` consults it before it writes anything, so an action the table does
not allow is refused with :class:`IllegalTransition` and changes nothing. A reader can
check this table against the seed documents without reading any other code.
"""

from __future__ import annotations

from dataclasses import dataclass

# the persuasion ladder, lowest first; a policy uses these levels in this order
LADDER = (
    "suspected",  # 疑似辍学: reported, nobody has persuaded yet
    "school_persuasion",  # 学校劝返 (表4)
    "township_persuasion",  # 乡镇劝返, recorded rounds (表3)
    "deadline_notice",  # 限期复学通知书 / 劝返复学通知书 issued to the guardian
    "county_escalation",  # 县教育局 / 领导小组
    "judicial",  # 司法督促 / 法院
)
# a never-enrolled child's case starts here (组织入学, 附件表2), not on the dropout ladder:
# its visits never move it into the school's persuasion, and it ends in enrolment at a
# named school (``casework.enrolment``) or climbs to the level the profile's [enrolment] names
ENROLMENT = "enrolment"
ACTIVE = frozenset(LADDER) | {ENROLMENT}

RETURNED = "returned"  # 返校: back, first retention check pending
RETENTION = "retention"  # 保学: back and confirmed attending at least once
CLOSED = "closed"  # 销号
HOME_TEACHING = "home_teaching"  # 送教上门
DEFERRED = "deferred"  # 缓学 / 休学
TRANSFERRED = "transferred"  # 转学 (verified)
CLOSED_OTHER = "closed_other"  # 死亡 / 其他, with evidence
PAUSED = "paused"  # clock stopped, with a reason and a resume date

OUTCOME_STATES = frozenset({HOME_TEACHING, DEFERRED, TRANSFERRED, CLOSED_OTHER})
FINAL = frozenset({CLOSED, TRANSFERRED, CLOSED_OTHER})
ALL_STATES = (ENROLMENT, *LADDER, RETURNED, RETENTION, CLOSED, *sorted(OUTCOME_STATES), PAUSED)


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    # None: the target depends on the policy (the next level, the state paused from…)
    target: str | None


_ACTIVE_OR_PAUSED = ACTIVE | {PAUSED}
_PLACED = frozenset({HOME_TEACHING, DEFERRED})
_BACK = frozenset({RETURNED, RETENTION})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        # a visit on a suspected case starts the school's persuasion (表4)
        Transition("start_persuasion", frozenset({"suspected"}), "school_persuasion"),
        # a visit is recorded on any active level; it does not move the case by itself. On
        # a deferred case only where the profile says persuasion goes on ([deferral]
        # persuasion, seed 002 "并继续做好劝返复学工作"; see visit_states)
        Transition("record_visit", ACTIVE | {DEFERRED}, None),
        # to the policy's next level: deadline passed, rounds used up, or by hand
        Transition("escalate", ACTIVE - {"judicial"}, None),
        # the paper a level names (教育行政处罚决定, 司法文书) issued by its responsible
        Transition("issue_document", ACTIVE, None),
        # the notice (限期复学通知书 / 劝返复学通知书 / 责令限期改正) by whom the policy names,
        # from the level below it or on that level
        Transition(
            "issue_deadline_notice",
            frozenset({"school_persuasion", "township_persuasion", "deadline_notice"}),
            "deadline_notice",
        ),
        Transition("mark_returned", _ACTIVE_OR_PAUSED | {HOME_TEACHING, DEFERRED}, RETURNED),
        # a never-enrolled child enrolled at a named school: then followed up as a return is
        # (casework.enrolment checks that the child was never enrolled)
        Transition("enrol", _ACTIVE_OR_PAUSED, RETURNED),
        Transition("confirm_attending", frozenset({RETURNED, RETENTION}), RETENTION),
        # a returned child stopped coming again: the school persuades anew
        Transition("relapse", frozenset({RETURNED, RETENTION}), "school_persuasion"),
        # 销号 and every other closing outcome is proposed with evidence and decided by a
        # second person (outcomes.propose_outcome says which outcome from which state)
        Transition("propose_outcome", _ACTIVE_OR_PAUSED | _PLACED | _BACK, None),
        Transition("decide_outcome", _ACTIVE_OR_PAUSED | _PLACED | _BACK, None),
        Transition("pause", ACTIVE, PAUSED),
        Transition("resume", frozenset({PAUSED}), None),
        # a deferral ended or home teaching stopped without return: persuasion resumes
        Transition("reopen", frozenset({DEFERRED, HOME_TEACHING}), None),
        # proposes 销号 after a return; the case closes when a reviewer approves
        Transition("close_out", _BACK, CLOSED),
        Transition("acknowledge", ACTIVE | {PAUSED}, None),
        # a 送教上门 session (seed 002 二(三)), recorded while the child is taught at home
        Transition("record_home_teaching", frozenset({HOME_TEACHING}), None),
        Transition("assign", _ACTIVE_OR_PAUSED | {HOME_TEACHING, DEFERRED}, None),
        # the child moved to another county (随迁): offered there, the case stays open until
        # that county accepts (casework.handover); it keeps its state when it moves
        Transition("hand_over", _ACTIVE_OR_PAUSED | _PLACED | _BACK, None),
    )
}

# which roles may take each action (scope is checked separately, on every call)
OFFICERS = frozenset({"township_officer", "county_officer", "admin"})
ALL_ROLES = frozenset(
    {
        "teacher",
        "school_admin",
        "village_cadre",
        "township_officer",
        "county_officer",
        "judicial_officer",
        "admin",
    }
)
ACTION_ROLES: dict[str, frozenset[str]] = {
    "report": ALL_ROLES,
    "view": ALL_ROLES,
    "start_persuasion": ALL_ROLES,
    "record_visit": ALL_ROLES,
    "escalate": OFFICERS | {"school_admin"},
    # the notice's issuer is the one the policy's notice level names (lipu: the school;
    # jidong: the county government), checked in ladder.issue_deadline_notice
    "issue_deadline_notice": OFFICERS | {"school_admin"},
    # a level's other paper (教育行政处罚决定, 司法文书), by the level's responsible
    "issue_document": OFFICERS | {"school_admin", "judicial_officer"},
    "mark_returned": ALL_ROLES,
    # the village and the township organise enrolment (seed 000 附件2 乡（镇）用); the school
    # that takes the child may record it too
    "enrol": OFFICERS | {"village_cadre", "school_admin"},
    "confirm_attending": ALL_ROLES,
    "relapse": ALL_ROLES,
    "propose_outcome": ALL_ROLES,
    # narrowed in outcomes.load_review: the policy's reviewing level or above, never the proposer
    "decide_outcome": OFFICERS,
    "pause": OFFICERS | {"school_admin"},
    "resume": OFFICERS | {"school_admin"},
    "reopen": OFFICERS | {"school_admin"},
    "close_out": OFFICERS | {"school_admin"},
    "acknowledge": ALL_ROLES,
    # the school sends the teachers (seed 002 二(三) "辖区学校要……开展送教上门")
    "record_home_teaching": OFFICERS | {"teacher", "school_admin"},
    # 003 鸡东 四 学校责任 "对无故一个月未到校学生及时落实专人做好动员劝返工作": the school
    # names the person who persuades (casework.attendance asks its administrator to)
    "assign": OFFICERS | {"school_admin"},
    "hand_over": frozenset({"township_officer", "county_officer", "admin"}),
}

# who may be handed a case to persuade (``ladder.assign``): the people who go to the family
# and the township officer leading a joint visit; never a county officer or an administrator,
# whose part is oversight
ASSIGNEE_ROLES = ("village_cadre", "teacher", "school_admin", "township_officer")

# officers above an approver may also decide (a county officer can approve for the township)
ROLE_RANK = {
    "teacher": 0,
    "village_cadre": 0,
    "school_admin": 1,
    "township_officer": 2,
    "county_officer": 3,
    "judicial_officer": 3,
    "admin": 4,
}


def visit_states(persuasion_while_deferred: bool) -> frozenset[str]:
    """The states a visit may be recorded in under a profile: the active levels, and a
    deferral where the profile's [deferral] says persuasion goes on during it."""
    return ACTIVE | {DEFERRED} if persuasion_while_deferred else ACTIVE
