"""Report a suspected dropout (表4 for a teacher, 表1 for a village cadre).

    stu ─┬─ (a student in scope) ─ since ─ why ─ where ─ grp ─ gchk ─┬─ note ─ photo ─ [summary]
         │                                                            │   Confirm → ladder.report
         └─ ➕ new ─ nname ─ ngen ─ nbirth ─ nid ─ eth ─ hukou ─ addr ─┤
                     gname ─ grel ─ gphone ─ [dup] ─ why ─ grp ─────────┘
    ([dup]: children on record that may be the same child; picking one joins the path above at since)

``dup`` is asked only when children in the person's scope may be the new one (the same ID
number; the same name and birth date in the county; the same guardian phone:
``casework.duplicates``): they pick one, or confirm a new child. A child picked from the
register's list of unschooled children (``/unschooled``) starts at ``since``.

A cadre's roster starts with "➕ A child who never enrolled" on every page (表1: the
children found door to door). Such a child opens an enrolment case (组织入学, 表2): the
flow asks what 表1/表2 hold (民族, 户籍地址, 现住址) and not "since when absent", where
the child is (at the address just given) or whether the guardian was reached (their
details were just given). A student who already has an open case is refused when
picked, not after the whole form.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import col, select

from casework import codes, contact, duplicates, ladder, roster, states, transfers, validation
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import join
from conversations.engine import HISTORY, Flow, Option, Step, Turn, register
from conversations.flows.fields import (
    ALL_ROLES,
    code_options,
    draft_date,
    draft_sealed,
    mapping_options,
    recent_days,
    show_attached,
    show_code,
    show_codes,
    show_date,
    show_mapping,
    store_date,
    store_sealed,
)
from conversations.formatting import class_label
from models.tables import Case, Student

REPORTERS = ALL_ROLES
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
HAN = "汉族"  # the ethnicity as the ID card and 表1 write it, whatever the reader's language
SAME_ADDRESS = "same"
GENERAL = "general"

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
    return [Option(str(s.id), _student_label(turn, s)) for s in roster.roster(turn.cw, turn.user)]


def _new_child(turn: Turn) -> Option | None:
    """A cadre registers children found door to door: offered above every page of the roster."""
    if turn.user.scope_kind != "village":
        return None
    return Option(NEW_CHILD, _("➕ A child who never enrolled"))


def _store_student(turn: Turn, value: str) -> None:
    if value != NEW_CHILD:
        student = turn.cw.session.get(Student, int(value))
        open_case = turn.cw.session.exec(
            select(Case.id).where(
                Case.student_id == int(value),
                col(Case.state).not_in(list(states.FINAL | {states.CLOSED})),
            )
        ).first()
        if student is not None and open_case is not None:
            raise ValidationError(
                "student",
                _("{name} already has an open case, #{id}; send /case {id} to see it. "
                  "Pick another student, or Cancel.", name=student.name, id=open_case),
            )
    turn.draft["stu"] = value


def _audit_students(turn: Turn, codes: Sequence[str]) -> None:
    if turn.conv is not None and turn.conv.draft.get("_found") is not None:
        return  # a search's results: audited by the search
    roster.audit_shown(turn.cw, turn.user, codes)


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
    # a child on record who never enrolled (door to door, or from the register) is an
    # enrolment case: no "since when absent", no whereabouts
    return "why" if student is not None and not student.enrolled else "since"


def _new(turn: Turn) -> bool:
    """A child who never enrolled: typed in now, or on record as never enrolled."""
    if turn.draft.get("stu") == NEW_CHILD:
        return True
    student = _student(turn)
    return student is not None and not student.enrolled


def _parse_ethnicity(turn: Turn, text: str) -> str:
    return HAN if text == "han" else validation.free_text(text, field="ethnicity", max_len=20)


def _parse_address(field: str) -> Any:
    def parse(turn: Turn, text: str) -> str:
        if text == SAME_ADDRESS and turn.draft.get("hukou"):
            return str(turn.draft["hukou"])
        return validation.free_text(text, field=field, max_len=200)

    return parse


def _why_prompt(turn: Turn) -> Text:
    if _new(turn):
        return _("Why has the child not enrolled? Choose all that apply, then Done.")
    return _("Why? Choose all that apply, then Done.")


def _parse_since(turn: Turn, text: str) -> date:
    return validation.parse_date(text, today=turn.cw.today(), field="date", max_past_days=400)


def _parse_birth(turn: Turn, text: str) -> date:
    born = validation.parse_date(text, today=turn.cw.today(), field="birth_date")
    return validation.birth_date(born, today=turn.cw.today())


def _parse_id(turn: Turn, text: str) -> str:
    number = validation.resident_id(text)
    born = draft_date(turn, "nbirth")
    if born is not None:
        validation.check_birth_date_matches_id(born, number)
    return number


def _parse_where(turn: Turn, text: str) -> str:
    if text in WHEREABOUTS:
        return WHEREABOUTS[text].render(turn.lang)
    return validation.free_text(text, field="whereabouts", max_len=200)


def _keep_groups(turn: Turn) -> Option | None:
    """One tap to keep the groups on record; once the selection changes, Done takes it."""
    student = _student(turn)
    current = turn.draft.get("grp") or []
    if _new(turn) and not current:
        # 表2's 对象类别 ends with 一般: most children found door to door are in no key group
        return Option(GENERAL, _("✓ {group}", group=codes.label("key_group", GENERAL)))
    if student is None or not current or sorted(current) != sorted(student.key_groups):
        return None
    # the code stays short: the engine keeps the selection as it stands
    return Option("keep", _("Keep: {groups}", groups=join(codes.label("key_group", c) for c in current)))


def _begin(turn: Turn, args: dict[str, object]) -> None:
    """A child picked before the flow (the register's "report" button): the student step is
    answered (and checked, as a tap on it would be)."""
    student = args.get("student")
    if student is None:
        return
    _store_student(turn, str(student))
    turn.draft["_visited"] = ["stu"]
    turn.draft[HISTORY] = ["stu"]
    assert turn.conv is not None
    turn.conv.step = _after_student(turn)


def _matches(turn: Turn) -> list[duplicates.Match]:
    d = turn.draft
    return turn.once("dup", lambda: duplicates.registration_matches(
        turn.cw, turn.user, name=d.get("nname") or "", birth_date=date.fromisoformat(d["nbirth"]),
        id_number=draft_sealed(turn, "nid"), phone=draft_sealed(turn, "gphone"),
        village_id=turn.user.scope_id or 0))


def _after_contact(turn: Turn) -> str:
    return "dup" if turn.user.scope_kind == "village" and _matches(turn) else "why"


MATCH_REASONS = {
    "id": _("same ID number"),
    "name_birth": _("same name and date of birth"),
    "phone": _("same guardian phone"),
}


def _match_options(turn: Turn) -> list[Option]:
    options = [Option(str(m.student.id), _("{child} — {why}", child=_student_label(turn, m.student),
                                           why=join(MATCH_REASONS[w] for w in m.why)))
               for m in _matches(turn)]
    return [*options, Option(NEW_CHILD, _("➕ None of these: a new child"))]


def _after_match(turn: Turn) -> str:
    if _new(turn):
        return "why"
    student = _student(turn)
    if student is not None and "grp" not in turn.draft:
        turn.draft["grp"] = list(student.key_groups)
    return "since"


def _store_match(turn: Turn, value: str) -> None:
    # the child on record (refused if it has an open case), or the new child after all
    _store_student(turn, value)
    turn.draft["dup"] = value


def _show_match(turn: Turn) -> Text:
    picked = turn.draft.get("dup")
    if picked in (None, NEW_CHILD):
        return _("A new child")
    student = turn.cw.session.get(Student, int(picked))
    return _student_label(turn, student) if student is not None else Text("—")


def _store_groups(turn: Turn, value: list[str]) -> None:
    # the one-tap default of a new child arrives as the (empty) selection: 一般
    turn.draft["grp"] = list(value) or ([GENERAL] if _new(turn) else [])


def _typed_back(name: str) -> Any:
    """The number the user typed, in full on their own summary (so a typo can be seen before
    Confirm), each showing audited (casework.contact)."""

    def show(turn: Turn) -> str | None:
        value = draft_sealed(turn, name)
        key = f"report.disclosed.{name}"
        if value and key not in turn.memo:  # once a turn, however often the summary asks
            turn.memo[key] = True
            contact.typed_back(turn.cw, turn.user, "id_number" if name == "nid" else "guardian_phone",
                               where="report_summary")
        return value

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
            guardian_phone=draft_sealed(turn, "gphone"),
            id_number=draft_sealed(turn, "nid"),
            ethnicity=d.get("eth") or None,
            hukou_address=d.get("hukou") or None,
            current_address=d.get("addr") or None,
        )
        asked = transfers.registration_match(turn.cw, turn.user, new_child.id_number, new_child.village_id)
        if asked is not None:
            # a child registered outside the cadre's scope: asked for, not taken, not described
            turn.replies.send(_(
                "This child needs confirmation from another unit: it has been asked to accept the "
                "child into your village. You will be told when it answers; then report the child."))
            return
    check = d.get("gchk")
    out = ladder.report(
        turn.cw,
        turn.user,
        ladder.ReportInput(
            student_id=None if new_child else int(d["stu"]),
            new_child=new_child,
            source="door_to_door" if turn.user.role == "village_cadre" else "teacher_report",
            absent_since=draft_date(turn, "since"),
            reasons=tuple(d.get("why") or ()),
            whereabouts=d.get("where"),
            key_groups=tuple(d["grp"]) if d.get("grp") is not None else None,
            guardian_contact_checked=check == "reached",
            note=d.get("note") or None,
            evidence=tuple(d.get("photo") or ()),
        ),
    )
    turn.replies.send(out.message)
    if out.notified:
        turn.replies.send(_("Told: {names}.", names=join(u.display_name for u in out.notified)))


REPORT = register(
    Flow(
        name="report",
        title=_("Report a suspected dropout"),
        roles=REPORTERS,
        summary_title=lambda turn: _("Register a child who never enrolled — summary") if _new(turn)
        else _("Report a suspected dropout — summary"),
        steps=(
            Step("stu", _("Student"), lambda t: _("Which student? Pick from the list, or type part of the name."),
                 "choice", options=_students, search=_search, default=_new_child, store=_store_student,
                 audit_shown=_audit_students,
                 next=_after_student, show=_show_student, editable=False),
            Step("nname", _("Name"), lambda t: _("The child's full name?"), "text",
                 parse=lambda t, v: validation.person_name(v), next="ngen"),
            Step("ngen", _("Gender"), lambda t: _("Gender?"), "choice", options=code_options("gender"),
                 next="nbirth", show=show_code("gender", "ngen")),
            Step("nbirth", _("Date of birth"), lambda t: _("Date of birth? (e.g. 2013-05-06)"), "date",
                 parse=_parse_birth, store=store_date("nbirth"), show=show_date("nbirth"), next="nid"),
            Step("nid", _("ID number"), lambda t: _("Resident ID number? (Skip if the child has none)"), "text",
                 parse=_parse_id, skippable=True, next="eth", store=store_sealed("nid"),
                 show=_typed_back("nid")),
            Step("eth", _("Ethnicity"), lambda t: _("Ethnicity (民族)? Tap or type."), "text",
                 options=lambda t: [Option("han", _("Han (汉族)"))], parse=_parse_ethnicity, next="hukou"),
            Step("hukou", _("Household registration address"),
                 lambda t: _("Household registration address (户籍地址)?"), "text",
                 parse=_parse_address("hukou_address"), next="addr"),
            Step("addr", _("Current address"), lambda t: _("Where does the child live now (现住址)? Tap or type."),
                 "text", options=lambda t: [Option(SAME_ADDRESS, _("Same as the household registration address"))],
                 parse=_parse_address("current_address"), next="gname"),
            Step("gname", _("Guardian"), lambda t: _("The guardian's name?"), "text",
                 parse=lambda t, v: validation.person_name(v, field="guardian_name"), next="grel"),
            Step("grel", _("Relation"), lambda t: _("The guardian is the child's…"), "choice",
                 options=mapping_options(RELATIONS), next="gphone", show=show_mapping(RELATIONS, "grel")),
            Step("gphone", _("Guardian's phone"), lambda t: _("The guardian's phone number?"), "text",
                 parse=lambda t, v: validation.phone(v), skippable=True, next=_after_contact,
                 store=store_sealed("gphone"), show=_typed_back("gphone")),
            Step("dup", _("Possible match"),
                 lambda t: _("These children on record may be the same child. Pick the one it is, "
                             "or confirm a new child."),
                 "choice", options=_match_options, store=_store_match,
                 next=_after_match, show=_show_match,
                 editable=False),
            Step("since", _("Absent since"), lambda t: _("Since when has the child been absent? (e.g. 11-21)"),
                 "date", options=recent_days, parse=_parse_since, store=store_date("since"),
                 show=show_date("since"), next="why"),
            Step("why", _("Reasons"), _why_prompt, "multi",
                 options=code_options("reason"), next=lambda t: "grp" if _new(t) else "where",
                 show=show_codes("reason", "why")),
            Step("where", _("Whereabouts"), lambda t: _("Where is the child now? Choose or type."), "text",
                 options=mapping_options(WHEREABOUTS), parse=_parse_where, next="grp"),
            Step("grp", _("Key groups"), lambda t: _("Key groups (对象类别)? Choose all that apply, then Done."),
                 "multi", options=code_options("key_group"), default=_keep_groups, store=_store_groups,
                 next=lambda t: "note" if _new(t) else "gchk",
                 show=show_codes("key_group", "grp")),
            Step("gchk", _("Guardian contact"), lambda t: _("Have you reached the guardian?"), "choice",
                 options=mapping_options(CONTACT_CHECK), next="note", show=show_mapping(CONTACT_CHECK, "gchk")),
            Step("note", _("Note"), lambda t: _("Anything else to note? Type it, or Skip."), "text",
                 parse=lambda t, v: validation.free_text(v, field="note"), skippable=True, next="photo"),
            Step("photo", _("Photo"), lambda t: _("A photo if you have one (optional), or Skip."), "media",
                 skippable=True, next=None, show=show_attached("photo")),
        ),
        finish=_finish,
        begin=_begin,
        personal_data=True,
    )
)
