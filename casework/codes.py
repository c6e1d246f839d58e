"""Code lists with Chinese and English labels (English msgids; Chinese in the catalog).

Codes are short, language-neutral and stored in the database and in callback data;
labels are looked up at display time. The Chinese term each code stands for is in the
comment, as the seed documents write it.
"""

from __future__ import annotations

from collections.abc import Mapping

from casework.i18n import N_, Text, _

# 辍学原因 / 未入学原因 / 旷课原因
REASONS: Mapping[str, str] = {
    "poverty": N_("Family poverty"),  # 因贫
    "disability": N_("Disability"),  # 因残
    "illness": N_("Illness"),  # 因病
    "learning": N_("Learning difficulty / weariness of study"),  # 学习困难/厌学
    "work": N_("Left to work"),  # 外出打工
    "marriage": N_("Early marriage or childbirth"),  # 早婚早育
    "religion": N_("Religious reasons"),  # 信教
    "family_change": N_("Family upheaval"),  # 家庭变故
    "migration": N_("Moved with migrant parents"),  # 随迁流动
    "other": N_("Other"),  # 其他
}

# 对象类别 / 重点监测群体
KEY_GROUPS: Mapping[str, str] = {
    "poverty_registered": N_("Registered poor / lifted out of poverty"),  # 脱贫户/建档立卡
    "monitored": N_("Monitored household"),  # 监测户
    "dibao": N_("Minimum living allowance"),  # 低保
    "tekun": N_("Extreme-poverty support"),  # 特困供养
    "disabled": N_("Disabled"),  # 残疾
    "orphan": N_("Orphan"),  # 孤儿
    "unsupported": N_("De facto unsupported child"),  # 事实无人抚养
    "left_behind": N_("Left-behind child"),  # 留守
    "migrant": N_("Migrant child"),  # 随迁
    "prisoner_child": N_("Child of a prisoner"),  # 服刑人员未成年子女
    "general": N_("General"),  # 一般
}

# 动员结果 / 劝返结果 (what a case ends in)
OUTCOMES: Mapping[str, str] = {
    "returned": N_("Returned to school"),  # 返校
    "home_teaching": N_("Home teaching"),  # 送教上门
    "deferred": N_("Deferred enrolment"),  # 缓学
    "suspended": N_("Suspension of schooling"),  # 休学
    "transferred": N_("Transferred"),  # 转学
    "dropped_out": N_("Dropped out"),  # 辍学
    "deceased": N_("Deceased"),  # 死亡
    "moved_abroad": N_("Moved abroad"),  # 出国（境）
    "over_age": N_("Over compulsory-school age"),  # 超龄
    "exempted": N_("Exempted from enrolment"),  # 免予入学
    "retained": N_("Back and staying at school (close out)"),  # 返校巩固，销号
    "other": N_("Other"),  # 其他
}

# 销号佐证材料: the kinds of evidence a closing outcome needs (the policy names them)
EVIDENCE_KINDS: Mapping[str, str] = {
    "class_photo": N_("Photo of the child in class"),  # 在校上课照片
    "enrolment_confirmation": N_("Receiving school's enrolment confirmation (student register)"),  # 接收学校学籍证明
    "household_certificate": N_("Police station or community certificate"),  # 派出所或社区证明
    "birth_record": N_("Household register or ID card page showing the birth date"),  # 户口簿/身份证
    "medical_certificate": N_("Hospital diagnosis or disability certificate"),  # 医院诊断证明/残疾证
    "guardian_application": N_("Guardian's written application"),  # 监护人书面申请
    "assessment": N_("Expert committee assessment or home-teaching plan"),  # 专家委员会评估/送教方案
    "written_statement": N_("Written statement of the facts, signed"),  # 书面情况说明
}

# 劝返方式
VISIT_METHODS: Mapping[str, str] = {
    "phone": N_("Phone call"),  # 电话
    "home_visit": N_("Home visit"),  # 家访
    "joint_visit": N_("Joint visit"),  # 联合劝返
}

# 家长态度 / 学生态度
ATTITUDES: Mapping[str, str] = {
    "supportive": N_("Supportive"),  # 支持返校
    "hesitant": N_("Hesitant"),  # 犹豫
    "opposed": N_("Opposed"),  # 反对
    "unreachable": N_("Could not be reached"),  # 联系不上
}

# the student's 态度, in the same codes as the guardian's (表3/表4 have one column each), in
# words that fit a child: a child is willing or not, a guardian supports or opposes
STUDENT_ATTITUDES: Mapping[str, str] = {
    "supportive": N_("Willing to return"),  # 愿意返校
    "hesitant": N_("Hesitant"),  # 犹豫
    "opposed": N_("Unwilling to return"),  # 不愿返校
    "unreachable": N_("Did not see the child"),  # 未见到学生本人
}

# 劝返效果
VISIT_RESULTS: Mapping[str, str] = {
    "returned": N_("Returned"),  # 已返校
    "promised": N_("Promised to return"),  # 承诺返校
    "refused": N_("Refused"),  # 拒绝
    "unreachable": N_("Unreachable"),  # 联系不上
    "other": N_("Other"),  # 其他
}

# how a case came to us
SOURCES: Mapping[str, str] = {
    "teacher_report": N_("Teacher report"),  # 教师报告
    "door_to_door": N_("Door-to-door survey"),  # 入户摸排
    "roll_call": N_("Term-start roll call"),  # 开学报到核查
    "attendance_streak": N_("Attendance streak"),  # 连续缺勤
    "verification": N_("Verification list"),  # 核查名单
}

GENDERS: Mapping[str, str] = {"male": N_("Male"), "female": N_("Female")}  # 男 / 女

CODE_LISTS: Mapping[str, Mapping[str, str]] = {
    "reason": REASONS,
    "key_group": KEY_GROUPS,
    "outcome": OUTCOMES,
    "evidence_kind": EVIDENCE_KINDS,
    "visit_method": VISIT_METHODS,
    "attitude": ATTITUDES,
    "student_attitude": STUDENT_ATTITUDES,
    "visit_result": VISIT_RESULTS,
    "source": SOURCES,
    "gender": GENDERS,
}


def label(kind: str, code: str) -> Text:
    """The translatable label of a code; an unknown code shows as itself."""
    msgid = CODE_LISTS[kind].get(code)
    return _(msgid) if msgid is not None else Text(code)


def require(kind: str, code: str, *, field: str) -> str:
    """Refuse a code that is not in its list (callback data is not trusted)."""
    from casework.errors import ValidationError

    if code not in CODE_LISTS[kind]:
        raise ValidationError(field, _("“{code}” is not a known choice.", code=code))
    return code
