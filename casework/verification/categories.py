"""The dispositions of a suspect list (核查结果), as the national lists categorize them.

Codes are stored and carried in buttons; labels are gettext msgids (English; Chinese in
the catalog, in the words of the lists). Three categories have sub-categories, one of
which must be chosen. The evidence each disposition needs is the profile's
(``[verification]``, ``casework.policy.Verification``).
"""

from __future__ import annotations

from collections.abc import Mapping

from casework.i18n import N_, Text, _

DISPOSITIONS: Mapping[str, str] = {
    "local_school": N_("At school here (registered)"),  # 在本地就读（已注册学籍）
    "elsewhere": N_("At school elsewhere"),  # 外地就读
    "hukou": N_("Household-register cause"),  # 户籍原因
    "over_age": N_("Over age, left school"),  # 已超龄离校
    "abroad": N_("Gone abroad"),  # 出国（境）
    "illness": N_("Illness or disability"),  # 因病因残
    "unreachable": N_("Away with parents, unreachable"),  # 随父母外出无法联系
    "dropout": N_("Confirmed out of school"),  # 确属失学辍学
}

DETAILS: Mapping[str, Mapping[str, str]] = {
    "elsewhere": {
        "in_registered": N_("In the province, registered"),  # 省内，有学籍
        "in_unregistered": N_("In the province, not registered"),  # 省内，无学籍
        "out_registered": N_("Outside the province, registered"),  # 省外，有学籍
        "out_unregistered": N_("Outside the province, not registered"),  # 省外，无学籍
    },
    "hukou": {
        "deceased": N_("Deceased"),  # 死亡
        "empty": N_("Household registered, nobody living there"),  # 空挂户
        "double": N_("Registered twice"),  # 双重户籍
        "wrong_identity": N_("Wrong ID number or name"),  # 身份证号或姓名错误
        "not_found": N_("No such person"),  # 查无此人
    },
    "illness": {
        "home_teaching": N_("Home teaching"),  # 送教上门
        "deferred": N_("Deferred enrolment"),  # 缓学
    },
}

DROPOUT = "dropout"


def label(code: str | None, detail: str | None = None) -> Text:
    """The disposition's label, with its sub-category when it has one."""
    if code is None:
        return _("not yet verified")
    main = DISPOSITIONS.get(code)
    head = _(main) if main else Text(code)
    sub = DETAILS.get(code, {}).get(detail or "")
    return _("{disposition}: {detail}", disposition=head, detail=_(sub)) if sub else head
