"""The demo county: an invented county to try the bot with, and the world the tests use.

Everything here is invented: 青松县 does not exist, the names are drawn from common
surnames and given-name characters by a seeded random generator, and the ID numbers use
an invented area code with a correct check digit. No real person from the seed
documents appears.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from casework import deadlines, ladder, outcomes, papers, states
from casework.clock import FrozenClock
from casework.context import Casework
from casework.outbox import HELD
from casework.policy import Level, Policy
from models.tables import (
    Case,
    County,
    Guardian,
    OutboxMessage,
    School,
    SchoolClass,
    Student,
    TeacherClass,
    Township,
    User,
    Village,
)
from models.types import cipher

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "子梓浩宇轩然欣怡佳琪雨涵思诗晨一博文嘉俊杰明亮婷雪悦瑶睿泽鑫磊宁安晴芳伟强丽敏静娜玉兰桂英秀华建国志红军平波辉刚勇毅峰涛超斌林森松柏岩溪川"
INVENTED_AREA = "430521"  # a real county code (not a seed county); the numbers are invented
GUARDIAN_RELATIONS = ("father", "mother", "grandfather", "grandmother")


def id_check_digit(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def invented_id_number(birth: date, serial: int, female: bool) -> str:
    seq = (serial % 500) * 2 + (0 if female else 1)  # odd = male, even = female
    body = f"{INVENTED_AREA}{birth:%Y%m%d}{seq:03d}"
    return body + id_check_digit(body)


@dataclass
class World:
    """Handles to what was seeded, so tests can name people and places."""

    county: County
    townships: list[Township] = field(default_factory=list)
    villages: list[Village] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    classes: list[SchoolClass] = field(default_factory=list)
    students: list[Student] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)

    def students_of_class(self, klass: SchoolClass) -> list[Student]:
        return [s for s in self.students if s.class_id == klass.id]


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def _user(
    session: Session,
    now_db: datetime,
    key: str,
    name: str,
    role: str,
    scope_kind: str,
    scope_id: int | None,
    telegram_id: int,
    phone: str,
    world: World,
) -> User:
    user = User(
        telegram_id=telegram_id,
        display_name=name,
        phone=phone,
        role=role,
        scope_kind=scope_kind,
        scope_id=scope_id,
        created_at=now_db,
        onboarded_at=now_db,
    )
    session.add(user)
    session.flush()
    world.users[key] = user
    return user


def seed_world(
    session: Session, today: date, *, students_per_class: int = 33, seed: int = 7
) -> World:
    """Units, schools, classes, students and one user of each kind (several teachers)."""
    rng = random.Random(seed)
    now_db = datetime(today.year, today.month, today.day, tzinfo=UTC)
    school_year = f"{today.year if today.month >= 8 else today.year - 1}-" + str(
        (today.year if today.month >= 8 else today.year - 1) + 1
    )
    county = County(name="青松县", code="QS")
    session.add(county)
    session.flush()
    world = World(county=county)
    for tname in ("梅林镇", "石桥乡"):
        township = Township(county_id=county.id or 0, name=tname)
        session.add(township)
        world.townships.append(township)
    session.flush()
    meilin, shiqiao = world.townships
    for vname, township in (("上坪村", meilin), ("溪口村", meilin), ("竹园村", shiqiao), ("下坪村", shiqiao)):
        village = Village(township_id=township.id or 0, name=vname)
        session.add(village)
        world.villages.append(village)
    layout = (
        ("梅林中心小学", meilin, "primary", [(5, 1), (5, 2), (6, 1), (6, 2)]),
        ("梅林中学", meilin, "junior", [(7, 1), (7, 2), (8, 1), (8, 2), (9, 1), (9, 2)]),
        ("石桥九年制学校", shiqiao, "nine_year", [(6, 1), (7, 1)]),
    )
    for sname, township, stage, grades in layout:
        school = School(township_id=township.id or 0, name=sname, stage=stage)
        session.add(school)
        session.flush()
        world.schools.append(school)
        for grade, section in grades:
            klass = SchoolClass(
                school_id=school.id or 0, grade=grade, section=section, school_year=school_year
            )
            session.add(klass)
            world.classes.append(klass)
    session.flush()

    serial = 0
    for klass in world.classes:
        school = next(s for s in world.schools if s.id == klass.school_id)
        villages = [v for v in world.villages if v.township_id == school.township_id]
        for _ in range(students_per_class):
            serial += 1
            female = rng.random() < 0.5
            age = klass.grade + 6
            birth = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
            if birth > today.replace(year=today.year - age):
                birth = birth.replace(year=birth.year - 1) if klass.grade < 9 else birth
            id_number = invented_id_number(birth, serial, female)
            village = rng.choice(villages)
            student = Student(
                name=_name(rng),
                gender="female" if female else "male",
                birth_date=birth,
                ethnicity="汉族" if rng.random() < 0.9 else "畲族",
                id_number=id_number,
                id_number_hash=cipher().lookup_hash(id_number),
                student_number="G" + id_number,
                student_number_hash=cipher().lookup_hash("G" + id_number),
                health="健康",
                key_groups=rng.choice(
                    [["general"]] * 6 + [["left_behind"], ["dibao"], ["monitored"], ["poverty_registered"]]
                ),
                hukou_address=f"青松县{village.name}{rng.randint(1, 99)}号",
                current_address=f"青松县{village.name}{rng.randint(1, 99)}号",
                register_address=f"青松县{school.name}",
                village_id=village.id,
                class_id=klass.id,
                created_at=now_db,
                updated_at=now_db,
            )
            session.add(student)
            world.students.append(student)
    session.flush()
    for student in world.students:
        surname = student.name[0]
        session.add(
            Guardian(
                student_id=student.id or 0,
                ordinal=1,
                name=surname + rng.choice(GIVEN) + rng.choice(GIVEN),
                relation=rng.choice(GUARDIAN_RELATIONS),
                phone=f"139{rng.randint(0, 99999999):08d}",
            )
        )

    tid = 910_000_000
    for i, klass in enumerate(world.classes, start=1):
        teacher = _user(
            session, now_db, f"teacher{i}", f"{_name(rng)}老师", "teacher", "classes", None,
            tid + i, f"137{i:08d}", world,
        )
        session.add(TeacherClass(user_id=teacher.id or 0, class_id=klass.id or 0))
    world.users["teacher"] = world.users["teacher5"]  # 梅林中学 七年级1班
    for i, school in enumerate(world.schools, start=1):
        _user(session, now_db, f"school_admin{i}", f"{_name(rng)}校长", "school_admin", "school",
              school.id, tid + 100 + i, f"136{i:08d}", world)
    world.users["school_admin"] = world.users["school_admin2"]  # 梅林中学
    for i, village in enumerate(world.villages, start=1):
        _user(session, now_db, f"village_cadre{i}", f"{_name(rng)}（{village.name}）", "village_cadre",
              "village", village.id, tid + 200 + i, f"135{i:08d}", world)
    world.users["village_cadre"] = world.users["village_cadre1"]
    for i, township in enumerate(world.townships, start=1):
        _user(session, now_db, f"township_officer{i}", f"{_name(rng)}（{township.name}）",
              "township_officer", "township", township.id, tid + 300 + i, f"134{i:08d}", world)
    world.users["township_officer"] = world.users["township_officer1"]
    _user(session, now_db, "county_officer", f"{_name(rng)}（县教育局）", "county_officer", "county",
          county.id, tid + 400, "13300000001", world)
    _user(session, now_db, "admin", "系统管理员", "admin", "all", None, tid + 500, "13300000002", world)
    # the judicial office and the bodies the seeds name (casework.bodies), one person each,
    # with a role and the county's scope; a profile that names none of them leaves them idle
    _user(session, now_db, "judicial_officer", f"{_name(rng)}（县司法局）", "judicial_officer",
          "county", county.id, tid + 600, "13300000003", world)
    for i, (body, office) in enumerate(DEMO_BODIES.items(), start=1):
        _user(session, now_db, body, f"{_name(rng)}（{office}）", "county_officer", "county",
              county.id, tid + 600 + i, f"1330000001{i}", world).body = body
    session.flush()
    return world


# the bodies of casework.policy.Body, by the office their demo person sits in
DEMO_BODIES = {
    "county_government": "县人民政府",
    "city_bureau": "市教育局",
    "poverty_group": "区扶贫工作领导小组",
}


def seed_demo(session: Session, clock: FrozenClock, policy: Policy) -> World:
    """The demo county with a dozen cases spread over the ladder, made through the ladder
    itself (so every case has its events, visits and deadlines) on a clock that walks
    from three weeks ago to ``clock``'s time.

    The walk follows ``policy``'s own levels (see :class:`_Walk`): a county whose ladder
    has no deadline notice gets none, rounds are recorded where a level counts them, and
    each step is taken by the role the level names. Under datian it is the walk the tests
    were written against, step for step.
    """
    end = clock.now()
    walker = FrozenClock(end - timedelta(days=21))
    cw = Casework(session, walker, policy)
    world = seed_world(session, cw.today() + timedelta(days=21))
    u = world.users
    rng = random.Random(11)
    pool = [s for s in world.students if s.class_id == world.classes[4].id]  # 七年级1班
    pool += [s for s in world.students if s.class_id == world.classes[5].id]
    picks = rng.sample(pool, 12)
    walk = _Walk(cw, world, picks)

    ids = [walk.report(i, r) for i, r in enumerate(
        [("learning",), ("work",), ("poverty",), ("illness",), ("learning", "family_change"),
         ("migration",), ("learning",), ("work",), ("marriage",), ("poverty",), ("disability",),
         ("other",)]
    )]
    walker.advance(timedelta(days=1))
    # the class teacher's first persuasion starts the school's step on all but the first
    for cid in ids[1:]:
        walk.visit(walk.person("teacher", cid), cid)
    # eight go past the school, one level up whatever the county's next level is
    for cid in ids[4:]:
        walk.leave_school(cid)
    # six of them are taken up there: the alert acknowledged, a first round recorded
    for cid in ids[6:]:
        walk.take_up(cid)
    walker.advance(timedelta(days=2))
    ladder.mark_returned(cw, u["school_admin"], ids[2])
    walk.visit(walk.visitor(ids[7]), ids[7], result="returned")
    noticed = walk.deadline_notice(ids[8])
    walk.climb(ids[9])
    ladder.pause(cw, u["school_admin"], ids[3], reason="住院治疗", resume_on=cw.today() + timedelta(days=14))
    outcomes.propose_outcome(cw, u["school_admin"], ids[10], "home_teaching", reason="重度残疾，无法到校",
                           evidence=demo_evidence(cw, "home_teaching"))
    walker.advance(timedelta(days=10))
    if not noticed:
        # a county with no notice step: the rest of this level's rounds, then one level up
        # (tongnan: three joint rounds, then the district's 扶贫工作领导小组)
        walk.step_up(ids[8], walk.lead(ids[8]))
    ladder.confirm_attending(cw, walk.person("teacher", ids[2]), ids[2], True)
    # 销号 takes two people: the school proposes with the evidence, the reviewer the
    # policy names for it decides
    closing = outcomes.close_out(cw, u["school_admin"], ids[2], note="连续在校两周",
                               evidence=demo_evidence(cw, "retained"))
    assert closing.proposal is not None and closing.proposal.id is not None
    reviewer = policy.outcomes.reviewer_role("retained", u["school_admin"].role)
    outcomes.decide_outcome(cw, walk.person(reviewer, ids[2]), closing.proposal.id, approve=True)
    # catch the ladder up to now, so the bot's first tick has no backlog to burst through;
    # what that would have told people is history, not news
    walker.set(end)
    deadlines.run_due(cw)
    session.flush()
    # (held ones too: news that would wait for an agenda is history as well)
    for message in session.exec(select(OutboxMessage).where(col(OutboxMessage.status).in_(["pending", HELD]))).all():
        message.status = "sent"
        message.last_error = "demo history (seeded)"
        session.add(message)
    session.flush()
    return world


# the roles that lead a level's work (and may move a case up by hand), before those who help
_LEADS = ("school_admin", "township_officer", "county_officer")


class _Walk:
    """The demo's people acting on its cases along the policy's own ladder.

    Who acts is read from the level: the class teacher records the rounds of a level that
    names them, otherwise its lead does (the first responsible role that leads: a school
    administrator or an officer rather than a village cadre); the first role the level
    alerts acknowledges the alert; the notice is issued by the role the level names where
    that role may issue it.
    """

    def __init__(self, cw: Casework, world: World, picks: list[Student]) -> None:
        self.cw = cw
        self.world = world
        self.picks = picks
        self.student_of: dict[int, Student] = {}

    # --- who

    def teacher_of(self, student: Student) -> User:
        u = self.world.users
        return u["teacher5"] if student.class_id == self.world.classes[4].id else u["teacher6"]

    def person(self, role: str, case_id: int) -> User:
        """The demo user holding ``role`` for this case's child (their teacher, their
        village's cadre, their school and township)."""
        u = self.world.users
        student = self.student_of[case_id]
        if role == "teacher":
            return self.teacher_of(student)
        if role == "village_cadre":
            index = next(i for i, v in enumerate(self.world.villages, start=1) if v.id == student.village_id)
            return u[f"village_cadre{index}"]
        return u[role]  # 梅林中学's administrator, 梅林镇's officer, the county's

    def level(self, case_id: int) -> Level:
        case = self.cw.session.get(Case, case_id)
        assert case is not None
        return self.cw.policy.level(case.level)  # type: ignore[arg-type]

    def lead(self, case_id: int) -> User:
        responsible = self.level(case_id).responsible
        role = next((r for r in responsible if r in _LEADS), responsible[0])
        return self.person(role, case_id)

    def visitor(self, case_id: int) -> User:
        """Who records a round: the class teacher where the level names them, else the lead."""
        if "teacher" in self.level(case_id).responsible:
            return self.person("teacher", case_id)
        return self.lead(case_id)

    # --- what

    def report(self, i: int, reasons: tuple[str, ...]) -> int:
        student = self.picks[i]
        out = ladder.report(
            self.cw,
            self.teacher_of(student),
            ladder.ReportInput(student_id=student.id, absent_since=self.cw.today() - timedelta(days=1),
                               reasons=reasons, whereabouts="在家", guardian_contact_checked=True),
        )
        case_id = out.case.id or 0
        self.student_of[case_id] = student
        return case_id

    def visit(self, actor: User, case_id: int, result: str = "refused") -> ladder.Outcome:
        # a school persuades at home; an officer goes with the school and the village (表3)
        method = "home_visit" if actor.role in ("teacher", "school_admin") else "joint_visit"
        data = ladder.VisitInput(visit_date=self.cw.today(), method=method, result=result)
        if result != "returned":
            data = ladder.VisitInput(
                visit_date=self.cw.today(), method=method, result=result,
                family_situation="家中务农，父母外出", guardian_attitude="hesitant",
                student_attitude="opposed", measures="讲解义务教育法，承诺资助",
            )
        return ladder.record_visit(self.cw, actor, case_id, data)

    def step_up(self, case_id: int, by: User) -> None:
        """One level up the way the level is left: its rounds recorded where it counts
        them (the last one moves the case), else ``by`` moves it up."""
        case = self.cw.session.get(Case, case_id)
        assert case is not None
        start = case.level
        rounds = self.level(case_id).rounds
        if rounds is None:
            self.papers_for(case_id)
            ladder.escalate(self.cw, by, case_id)
            return
        for _ in range(rounds):
            if case.level != start or case.state not in states.ACTIVE:
                break
            self.visit(self.visitor(case_id), case_id)

    def leave_school(self, case_id: int) -> None:
        self.step_up(case_id, self.world.users["school_admin"])

    def take_up(self, case_id: int) -> None:
        """The level above the school takes the case: its alert acknowledged by the first
        role alerted, and a first round recorded by the level's lead."""
        level = self.level(case_id)
        if level.requires_ack and level.notify:
            ladder.acknowledge(self.cw, self.person(level.notify[0], case_id), case_id)
        self.visit(self.visitor(case_id), case_id)

    def deadline_notice(self, case_id: int) -> bool:
        """The guardian is given the notice with a deadline, by the role the level names
        where that role may issue it (else the township); False where the county has no
        such step or the case cannot take it now."""
        policy = self.cw.policy
        case = self.cw.session.get(Case, case_id)
        assert case is not None
        if not policy.has_level("deadline_notice"):
            return False
        # a case still below the level the notice is issued from is first moved up to it
        # (jidong's month mark and the school's named person come before the notice)
        order = policy.states
        for _ in range(len(order)):
            nxt = policy.next_level(case.level)  # type: ignore[arg-type]
            if nxt is None or order.index(nxt.state) >= order.index("deadline_notice"):
                break
            self.step_up(case_id, self.lead(case_id))
        if case.state not in states.TRANSITIONS["issue_deadline_notice"].sources:
            return False
        issuer = self.person(policy.level("deadline_notice").responsible[0], case_id)
        if not papers.may_issue_notice(self.cw, issuer, case):
            return False
        ladder.issue_deadline_notice(self.cw, issuer, case_id)
        return True

    def papers_for(self, case_id: int) -> None:
        """Whatever must be on file before the case climbs, issued by who the ladder names
        (the notice by its issuer, a level's paper by the level's lead)."""
        case = self.cw.session.get(Case, case_id)
        assert case is not None
        nxt = self.cw.policy.next_level(case.level)  # type: ignore[arg-type]
        if nxt is None:
            return
        for document in papers.missing_documents(self.cw, case, nxt.state):
            if document.kind == "deadline_notice":
                self.deadline_notice(case_id)
            else:
                ladder.issue_document(self.cw, self.lead(case_id), case_id)

    def climb(self, case_id: int) -> None:
        """The county officer moves the case up by hand to the top, each paper the ladder
        needs issued on the way by who the ladder names, so that one case shows the whole
        ladder by the end of the walk."""
        for _ in range(len(self.cw.policy.ladder)):
            case = self.cw.session.get(Case, case_id)
            assert case is not None
            if self.cw.policy.next_level(case.level) is None:  # type: ignore[arg-type]
                return
            self.papers_for(case_id)
            ladder.escalate(self.cw, self.world.users["county_officer"], case_id)


def demo_evidence(cw: Casework, outcome: str) -> tuple[dict[str, Any], ...]:
    """One scanned document per kind of evidence the policy names for ``outcome`` (the demo
    has no files; the review lists them by name)."""
    return tuple(
        {"kind": "document", "name": f"{kind}.pdf", "mime_type": "application/pdf", "evidence_kind": kind}
        for kind in outcomes.evidence_kinds(cw, outcome)
    )


def is_seeded(session: Session) -> bool:
    return session.exec(select(County.id)).first() is not None


def demo_user_keys(session: Session) -> dict[str, User]:
    """The demo users under the keys ``seed_world`` gave them (teacher1…, school_admin1…),
    recovered from their roles and creation order."""
    keyed: dict[str, User] = {}
    for role in ("teacher", "school_admin", "village_cadre", "township_officer"):
        users = session.exec(select(User).where(User.role == role).order_by(col(User.id))).all()
        for i, user in enumerate(users, start=1):
            keyed[f"{role}{i}"] = user
    for role in ("county_officer", "judicial_officer", "admin"):
        first = session.exec(
            select(User).where(User.role == role, col(User.body).is_(None)).order_by(col(User.id))
        ).first()
        if first is not None:
            keyed[role] = first
    for body in DEMO_BODIES:
        member = session.exec(select(User).where(User.body == body).order_by(col(User.id))).first()
        if member is not None:
            keyed[body] = member
    return keyed
