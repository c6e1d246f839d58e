"""Report a suspected dropout (表4 for a teacher, 表1 for a village cadre).

    stu ─┬─ (a student in scope) ───────────────────────────────┐
         └─ new ─ nname ─ ngen ─ nbirth ─ nid ─ gname ─ grel ─ gphone
                                                               │
    since ─ why ─ where ─ grp ─ gchk ─ note ─ photo ─ [summary] ─ Confirm → ladder.report
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from casework import codes, ladder, roster, validation
from casework.i18n import Text, _
from casework.personal import mask_id, mask_phone
from conversations.engine import Flow, Option, Step, Turn, register
from conversations.formatting import class_label, fmt_date
from models.tables import Student

REPORTERS = frozenset(
    {"teacher", "school_admin", "village_cadre", "township_officer", "county_officer", "admin"}
)
NEW_CHILD = "new"

WHEREABOUTS = {
    "home": _("At home"),
    "work": _("Working away from home"),
    "parents": _("With parents elsewhere"),
    "unknown": _("Unknown"),
}
RELATIONS = {
    "father": _("Father"),
    "mother": _("Mother"),
    "grandfather": _("Grandfather"),
    "grandmother": _("Grandmother"),
    "other": _("Other relative"),
}
CONTACT_CHECK = {
    "reached": _("Reached the guardian"),
    "unreachable": _("Could not reach the guardian"),
    "not_tried": _("Not yet tried"),
}


def _student_label(turn: Turn, student: Student) -> Text:
    klass = roster.class_of(turn.cw, student)
    if klass is None:
        return Text("{name}", {"name": student.name})
    return _("{name} · {klass}", name=student.name, klass=class_label(klass.grade, klass.section))


def _students(turn: Turn) -> list[Option]:
    options = [Option(str(s.id), _student_label(turn, s)) for s in roster.roster(turn.cw, turn.user)]
    if turn.user.scope_kind == "village":  # a cadre registers children found door to door
        options.insert(0, Option(NEW_CHILD, _("➕ A child who never enrolled")))
    return options


def _search(turn: Turn, text: str) -> list[Option]:
    return [Option(str(s.id), _student_label(turn, s)) for s in roster.search(turn.cw, turn.user, text)]


def _student(turn: Turn) -> Student | None:
    sid = turn.draft.get("stu")
    if sid in (None, NEW_CHILD):
        return None
    return turn.cw.session.get(Student, int(sid))


def _show_student(turn: Turn) -> str | Text:
    student = _student(turn)
    if student is not None:
        return _student_label(turn, student)
    return _("New child: {name}", name=turn.draft.get("nname") or "—")


def _after_student(turn: Turn) -> str:
    if turn.draft.get("stu") == NEW_CHILD:
        return "nname"
    student = _student(turn)
    if student is not None and "grp" not in turn.draft:
        turn.draft["grp"] = list(student.key_groups)
    return "since"


def _parse_past_date(turn: Turn, text: str) -> date:
    return validation.parse_date(text, today=turn.cw.today(), field="date", max_past_days=400)


def _parse_birth(turn: Turn, text: str) -> date:
    born = validation.parse_date(text, today=turn.cw.today(), field="birth_date")
    return validation.birth_date(born, today=turn.cw.today())


def _parse_id(turn: Turn, text: str) -> str:
    number = validation.resident_id(text)
    born = turn.draft.get("nbirth")
    if born:
        validation.check_birth_date_matches_id(date.fromisoformat(born), number)
    return number


def _store_date(name: str) -> Any:
    def store(turn: Turn, value: date | None) -> None:
        turn.draft[name] = value.isoformat() if value else None

    return store


def _show_date(name: str) -> Any:
    def show(turn: Turn) -> str:
        raw = turn.draft.get(name)
        return fmt_date(date.fromisoformat(raw), turn.lang) if raw else "—"

    return show


def _date_options(turn: Turn) -> list[Option]:
    today = turn.cw.today()
    return [
        Option(today.isoformat(), _("Today")),
        Option((today - timedelta(days=1)).isoformat(), _("Yesterday")),
    ]


def _codes_shown(kind: str, name: str) -> Any:
    def show(turn: Turn) -> str:
        chosen = turn.draft.get(name) or []
        return "、".join(codes.label(kind, c).render(turn.lang) for c in chosen) or "—"

    return show


def _mapping_options(mapping: dict[str, Text]) -> Any:
    return lambda turn: [Option(code, label) for code, label in mapping.items()]


def _code_list_options(kind: str) -> Any:
    return lambda turn: [Option(code, codes.label(kind, code)) for code in codes.CODE_LISTS[kind]]


def _parse_where(turn: Turn, text: str) -> str:
    if text in WHEREABOUTS:
        return WHEREABOUTS[text].render(turn.lang)
    return validation.free_text(text, field="whereabouts", max_len=200)


def _keep_groups(turn: Turn) -> Option | None:
    current = turn.draft.get("grp") or []
    if not current:
        return None
    labels = "、".join(codes.label("key_group", c).render(turn.lang) for c in current)
    return Option(",".join(current), _("Keep: {groups}", groups=labels))


def _mapping_show(mapping: dict[str, Text], name: str) -> Any:
    def show(turn: Turn) -> Text | None:
        value = turn.draft.get(name)
        return mapping.get(value) if value else None

    return show


def _finish(turn: Turn) -> None:
    d = turn.draft
    new_child = None
    if d.get("stu") == NEW_CHILD:
        new_child = ladder.NewChild(
            name=d["nname"],
            gender=d["ngen"],
            birth_date=date.fromisoformat(d["nbirth"]),
            village_id=turn.user.scope_id or 0,
            guardian_name=d["gname"],
            guardian_relation=d["grel"],
            guardian_phone=d.get("gphone"),
            id_number=d.get("nid"),
        )
    notes = [d.get("note") or ""]
    check = d.get("gchk")
    out = ladder.report(
        turn.cw,
        turn.user,
        ladder.ReportInput(
            student_id=None if new_child else int(d["stu"]),
            new_child=new_child,
            source="door_to_door" if turn.user.role == "village_cadre" else "teacher_report",
            absent_since=date.fromisoformat(d["since"]) if d.get("since") else None,
            reasons=tuple(d.get("why") or ()),
            whereabouts=d.get("where"),
            key_groups=tuple(d["grp"]) if d.get("grp") is not None else None,
            guardian_contact_checked=check == "reached",
            note="\n".join(n for n in notes if n) or None,
            evidence=tuple(d.get("photo") or ()),
        ),
    )
    turn.replies.send(out.message)
    if out.notified:
        turn.replies.send(_("Told: {names}.", names="、".join(u.display_name for u in out.notified)))


REPORT = register(
    Flow(
        name="report",
        title=_("Report a suspected dropout"),
        roles=REPORTERS,
        summary_title=lambda turn: _("Report a suspected dropout — summary"),
        steps=(
            Step("stu", _("Student"), lambda t: _("Which student? Pick from the list, or type part of the name."),
                 "choice", options=_students, search=_search, next=_after_student, show=_show_student,
                 editable=False),
            Step("nname", _("Name"), lambda t: _("The child's full name?"), "text",
                 parse=lambda t, v: validation.person_name(v), next="ngen"),
            Step("ngen", _("Gender"), lambda t: _("Gender?"), "choice", options=_code_list_options("gender"),
                 next="nbirth", show=lambda t: codes.label("gender", t.draft.get("ngen") or "")),
            Step("nbirth", _("Date of birth"), lambda t: _("Date of birth? (e.g. 2013-05-06)"), "date",
                 parse=_parse_birth, store=_store_date("nbirth"), show=_show_date("nbirth"), next="nid"),
            Step("nid", _("ID number"), lambda t: _("Resident ID number? (Skip if the child has none)"), "text",
                 parse=_parse_id, skippable=True, next="gname",
                 show=lambda t: mask_id(t.draft.get("nid"))),
            Step("gname", _("Guardian"), lambda t: _("The guardian's name?"), "text",
                 parse=lambda t, v: validation.person_name(v, field="guardian_name"), next="grel"),
            Step("grel", _("Relation"), lambda t: _("The guardian is the child's…"), "choice",
                 options=_mapping_options(RELATIONS), next="gphone", show=_mapping_show(RELATIONS, "grel")),
            Step("gphone", _("Guardian's phone"), lambda t: _("The guardian's phone number?"), "text",
                 parse=lambda t, v: validation.phone(v), skippable=True, next="since",
                 show=lambda t: mask_phone(t.draft.get("gphone"))),
            Step("since", _("Absent since"), lambda t: _("Since when has the child been absent? (e.g. 11-21)"),
                 "date", options=_date_options, parse=_parse_past_date, store=_store_date("since"),
                 show=_show_date("since"), next="why"),
            Step("why", _("Reasons"), lambda t: _("Why? Choose all that apply, then Done."), "multi",
                 options=_code_list_options("reason"), next="where", show=_codes_shown("reason", "why")),
            Step("where", _("Whereabouts"), lambda t: _("Where is the child now? Choose or type."), "text",
                 options=_mapping_options(WHEREABOUTS), parse=_parse_where, next="grp"),
            Step("grp", _("Key groups"), lambda t: _("Key groups (对象类别)? Choose all that apply, then Done."),
                 "multi", options=_code_list_options("key_group"), default=_keep_groups, next="gchk",
                 show=_codes_shown("key_group", "grp")),
            Step("gchk", _("Guardian contact"), lambda t: _("Have you reached the guardian?"), "choice",
                 options=_mapping_options(CONTACT_CHECK), next="note", show=_mapping_show(CONTACT_CHECK, "gchk")),
            Step("note", _("Note"), lambda t: _("Anything else to note? Type it, or Skip."), "text",
                 parse=lambda t, v: validation.free_text(v, field="note"), skippable=True, next="photo"),
            Step("photo", _("Photo"), lambda t: _("A photo if you have one (optional), or Skip."), "media",
                 skippable=True, next=None,
                 show=lambda t: _("{n} attached", n=len(t.draft.get("photo") or [])) if t.draft.get("photo") else None),
        ),
        finish=_finish,
    )
)
