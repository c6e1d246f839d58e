"""The per-child forms as files: ``casework.forms`` data → a template → DOCX or PDF.

The forms are official Chinese documents filed with Chinese offices, so they are always
in Chinese whatever the reader's chat language (the bot's captions are translated).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from casework import codes, forms
from casework.context import Casework
from casework.disclosure import Disclosure
from casework.forms import CaseForm, DeferralInfo, EventInfo, VisitInfo
from casework.i18n import _, gettext_for
from casework.labels import DOCUMENT_LABELS, STATE_LABELS, grade_text
from casework.relations import relation_label
from documents.layout import Document, layout
from documents.render_docx import render_docx
from documents.render_pdf import render_pdf
from models.tables import User

ZH = "zh_Hans"
FORMATS = ("docx", "pdf")
MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
# 对象类别 as the seed forms print them, with a tick in the boxes that apply
FORM_KEY_GROUPS = (
    ("poverty_registered", "建档立卡"),
    ("dibao", "低保"),
    ("disabled", "残疾"),
    ("orphan", "孤儿"),
    ("unsupported", "事实无人抚养儿童"),
    ("general", "一般"),
)
# 动员结果 as the forms print it (附件2/3's 说明: 缓学、送教上门、辍学、返校 / 入学 等), from
# the case's outcome; a case still being persuaded has none yet, left blank to fill by hand
FORM_RESULTS = {
    "returned": "返校",
    "retained": "返校",
    "home_teaching": "送教上门",
    "deferred": "缓学",
    "suspended": "休学",
    "dropped_out": "辍学",
    "transferred": "转学",
    "deceased": "死亡",
    "moved_abroad": "出国（境）",
    "over_age": "超龄",
    "other": "其他",
}
BACK_STATES = ("returned", "retention", "closed")
SCHOOL_ROLES = ("teacher", "school_admin")
METHOD_PHRASES = {
    "phone": "电话联系家长",
    "home_visit": "入户家访",
    "joint_visit": "联合入户劝返",
}


def template_for(data: CaseForm) -> str:
    if data.form == "township_record":
        return "t3_township_record" if data.child.enrolled else "t2_enrolment_record"
    if data.form == "notice":
        assert data.notice is not None
        return "notice_school" if data.notice.issuer == "school" else "notice_township"
    return {
        "register": "register",
        "school_record": "t4_school_record",
        "report": "t5_report",
        "deferral": "t6_deferral",
    }[data.form]


def _zh(kind: str, code: str | None) -> str:
    return codes.label(kind, code).render(ZH) if code else ""


def cn_date(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


def _boxes(options: Sequence[tuple[str, str]], chosen: set[str]) -> str:
    return " ".join(f"{label}({'√' if code in chosen else '　'})" for code, label in options)


def _visit_values(n: int, v: VisitInfo) -> dict[str, Any]:
    method = _zh("visit_method", v.method)
    who = "、".join(v.participants)
    ga = _zh("attitude", v.guardian_attitude)
    sa = _zh("student_attitude", v.student_attitude)
    ga_full = "；".join(x for x in (ga, v.guardian_attitude_note or "") if x)
    sa_full = "；".join(x for x in (sa, v.student_attitude_note or "") if x)
    result = _zh("visit_result", v.result)
    if v.result == "promised" and v.promised_return_on:
        result += f"（承诺{v.promised_return_on.month}月{v.promised_return_on.day}日返校）"
    parts = [f"{method}（{who}）" if who else method]
    if v.family_situation:
        parts.append(f"家庭情况：{v.family_situation}")
    if ga_full:
        parts.append(f"家长态度：{ga_full}")
    if sa_full:
        parts.append(f"学生态度：{sa_full}")
    if v.measures:
        parts.append(f"措施：{v.measures}")
    parts.append(f"结果：{result}")
    if v.next_step:
        parts.append(f"下一步：{v.next_step}")
    phrase = METHOD_PHRASES.get(v.method, method)
    narrative = f"{cn_date(v.visit_date)}，{who or v.recorded_by}{phrase}"
    if v.family_situation:
        narrative += f"，了解到{v.family_situation}"
    if v.measures:
        narrative += f"；{v.measures}"
    narrative += f"。家长态度：{ga_full or '—'}；学生态度：{sa_full or '—'}。结果：{result}。"
    return {
        "date": cn_date(v.visit_date),
        "date_md": f"{v.visit_date.month}月{v.visit_date.day}日",
        "method": method,
        "method_boxes": _boxes((("phone", "电话"), ("home_visit", "家访"), ("joint_visit", "联合劝返")), {v.method}),
        "participants": who,
        "family": v.family_situation or "",
        "guardian_attitude": ga_full,
        "student_attitude": sa_full,
        "measures": v.measures or "",
        "result": result,
        "record": "；".join(parts),
        "recorder": v.recorded_by,
        "narrative": narrative,
    }


def values_for(data: CaseForm) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The template's ``{placeholders}`` and repeated lists, all in Chinese."""
    child = data.child
    g1 = child.guardians[0] if child.guardians else None
    g2 = child.guardians[1] if len(child.guardians) > 1 else None
    reasons = "、".join(_zh("reason", r) for r in data.reasons)
    if data.reason_note:
        reasons = f"{reasons}（{data.reason_note}）" if reasons else data.reason_note
    groups = set(child.key_groups)
    boxes = _boxes(FORM_KEY_GROUPS, groups)
    others = [_zh("key_group", g) for g in child.key_groups if g not in dict(FORM_KEY_GROUPS)]
    if others:
        boxes += f" 其他：{'、'.join(others)}"
    visits = [_visit_values(n, v) for n, v in enumerate(data.visits, start=1)]
    last = data.all_visits[-1] if data.all_visits else None
    back = data.state in BACK_STATES
    result = form_result(data)
    grade_class = f"{grade_text(child.grade).render(ZH)}年级（{child.section}）班" if child.grade else ""
    values: dict[str, Any] = {
        "county": child.county,
        "township": child.township,
        "township_heading": township_heading(child.township),
        "village": child.village,
        "school": child.school,
        "grade": child.grade or "",
        "section": child.section or "",
        "grade_class": grade_class,
        "school_and_class": f"{child.school}{grade_class}" if child.school else "",
        "name": child.name,
        "gender": _zh("gender", child.gender),
        "birth_date": cn_date(child.birth_date),
        "birth_month": f"{child.birth_date.year}年{child.birth_date.month}月",
        "age": child.age,
        "ethnicity": child.ethnicity or "",
        "health": child.health or "",
        "id_number": child.id_number or "",
        "student_number": child.student_number or "",
        "guardian": g1.name if g1 else "",
        "guardian_relation": relation_label(g1.relation, ZH) if g1 else "",
        "phone": (g1.phone or "") if g1 else "",
        "guardian2": g2.name if g2 else "",
        "guardian2_relation": relation_label(g2.relation, ZH) if g2 else "",
        "phone2": (g2.phone or "") if g2 else "",
        "address": child.current_address or child.hukou_address or "",
        "hukou": child.hukou_address or "",
        "register": child.register_address or "",
        "current": child.current_address or "",
        "key_group_boxes": boxes,
        "reasons": reasons,
        "family": next((v.family_situation for v in reversed(data.all_visits) if v.family_situation), ""),
        "whereabouts": data.whereabouts or "",
        "absent_since": cn_date(data.absent_since),
        "result": result,
        "persuaded": "是" if data.all_visits else "否",
        "visit_count": len(data.all_visits),
        "visit_times": times(len(data.all_visits)),
        "school_times": times(sum(1 for v in data.all_visits if v.level in forms.SCHOOL_LEVELS)),
        "last_result": _zh("visit_result", last.result) if last else "",
        "not_back": "" if back else not_back(data, reasons),
        "persuading_unit": child.school if data.level in forms.SCHOOL_LEVELS else f"{child.township}人民政府",
        "persuaders": "、".join(data.persuaders),
        "persuader_phone": data.persuader_phone or "",
        "deferral_approved": "是" if data.state == "deferred" and data.outcome in forms.DEFERRAL_OUTCOMES else "否",
        "state": gettext_for(ZH, STATE_LABELS.get(data.state, data.state)),
        "returned_on": cn_date(data.returned_on),
        "unit": child.school or f"{child.township}人民政府",
        "school_contact": data.school_contact,
        "school_contact_phone": data.school_contact_phone or "",
        "made_on": cn_date(data.made_on),
        "report_date": cn_date(data.township_reached_on or data.made_on),
        "notice_number": f"{data.made_on.year}-{data.case_id:05d}",
    }
    if data.notice is not None:
        values.update(
            issuer_name=data.notice.issuer_name,
            issued_on=cn_date(data.notice.issued_on),
            due_on=cn_date(data.notice.due_on) or "　　年　　月　　日",
        )
        if data.notice.issued_on:
            values["notice_number"] = f"{data.notice.issued_on.year}-{data.case_id:05d}"
    if data.deferral is not None:
        d = data.deferral
        decision = ""
        if d.status in ("approved", "rejected"):
            verdict = "同意" if d.status == "approved" else "不同意"
            decision = f"{verdict}。{d.decision_note or ''}　{d.decided_by or ''}　{cn_date(d.decided_on)}"
        values.update(
            deferral_boxes=_boxes((("deferred", "缓学"), ("suspended", "休学")), {d.outcome}),
            deferral_period=(
                f"自{cn_date(d.proposed_on)}至{cn_date(d.until_on)}" if d.until_on else ""
            ),
            deferral_reason=d.reason or "",
            proposed_on=cn_date(d.proposed_on),
            decision=decision,
            school_opinion=school_opinion(d, child.school),
        )
    record = [{**v, "date_key": (info.visit_date, 0)} for v, info in zip(visits, data.visits, strict=True)]
    record += [{"narrative": _event_narrative(e, child.township), "date_key": (e.delivered_on or e.on, 1)}
               for e in data.events]
    record.sort(key=lambda item: item["date_key"])
    for n, item in enumerate(record, start=1):
        item["n"] = n
    return values, {"visits": visits, "record": record}


def township_heading(name: str) -> str:
    """表2/表3's "＿＿乡（镇）" filled: a name that says what it is stands alone (梅林镇),
    any other takes the form's own label (梅林乡（镇）)."""
    if not name:
        return "　　　　乡（镇）"
    return name if name.endswith(("乡", "镇", "街道")) else f"{name}乡（镇）"


def times(n: int) -> str:
    """"1次" after 动员劝返 in a notice: the record's count, never "多次" after one visit."""
    return f"{n}次" if n else ""


def form_result(data: CaseForm) -> str:
    if data.outcome in FORM_RESULTS:
        value = FORM_RESULTS[data.outcome]
    elif data.state in BACK_STATES:
        value = "返校"
    else:
        return ""
    if value == "返校" and not data.child.enrolled:
        return "入学"  # 表2: the child was organised into school
    return value


def not_back(data: CaseForm, reasons: str) -> str:
    """未复学原因: what the family said on the last visit, or else the reported reasons."""
    last = data.all_visits[-1] if data.all_visits else None
    said = [x for x in ((last.student_attitude_note, last.guardian_attitude_note) if last else ()) if x]
    return "；".join(said) or reasons


def school_opinion(d: DeferralInfo, school: str) -> str:
    """学校意见: the school proposed the deferral, so its opinion is the proposal."""
    blank = "　　　　　　　　　　（盖章）　　　　年　　月　　日"
    if d.proposer_role not in SCHOOL_ROLES or not school:
        return blank
    kind = "缓学" if d.outcome == "deferred" else "休学"
    return f"同意{kind}，由{d.proposed_by}提出。　{school}（盖章）　{cn_date(d.proposed_on)}"


def _event_narrative(e: EventInfo, township: str) -> str:
    when = cn_date(e.on)
    notice = gettext_for(ZH, DOCUMENT_LABELS.get(e.notice, e.notice)).strip("《》")
    if e.kind == "notice_issued":
        due = f"，限{cn_date(e.due_on)}前返校" if e.due_on else ""
        return f"{when}，{e.by}下达{notice}{due}。"  # e.by carries its own brackets
    if e.kind == "notice_delivered":
        # 送达回执: the day it was handed over, and who recorded the signed receipt
        return f"{cn_date(e.delivered_on or e.on)}，{notice}送达监护人，送达回执由{e.by}登记。"
    level = gettext_for(ZH, STATE_LABELS.get(e.to_state or "", e.to_state or ""))
    cause = f"由{e.by}上报" if e.by else "劝返期限届满，自动上报"
    return f"{when}，{cause}至{level}。"


def document_for(data: CaseForm) -> Document:
    values, lists = values_for(data)
    return layout(template_for(data), values, lists)


def filename(data: CaseForm, doc: Document, fmt: str) -> str:
    """"表5_疑似辍学学生报告单_王小明_#12.pdf": what the file is, for whom, which case."""
    title = re.sub(r"[\\/:*?\"<>|\s]+", "", doc.title)
    prefix = {"t2_enrolment_record": "表2", "t3_township_record": "表3", "t4_school_record": "表4",
              "t5_report": "表5", "t6_deferral": "表6"}.get(doc.name)
    name = re.sub(r"[\\/:*?\"<>|\s]+", "", data.child.name) or "case"
    stem = f"{prefix}_{title}" if prefix else title
    return f"{stem}_{name}_{data.case_id}.{fmt}"


def render(data: CaseForm, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of the form in ``fmt`` ("docx" or "pdf")."""
    doc = document_for(data)
    content = render_docx(doc) if fmt == "docx" else render_pdf(doc)
    return filename(data, doc, fmt), content


def make(
    cw: Casework, actor: User | None, case_id: int, form: str, fmt: str,
    *, disclosure: Disclosure | None = None,
) -> tuple[str, bytes]:
    """Load (scope-checked, audited) and render one form of one case."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    return render(forms.load(cw, actor, case_id, form, disclosure=disclosure), fmt)


def caption(form: str, case_id: int) -> Any:
    return _("{form} — case #{id}", form=_(forms.FORM_LABELS[form]), id=case_id)
