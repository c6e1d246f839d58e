"""A never-enrolled child is enrolled at a named school (组织入学, 附件表2 动员结果 入学).

    school ─ klass ─ when ─ [summary] → enrolment.enrol

Started from the case card's 🏫 button. The schools of the child's own township come
first; the class may be left for the school to place.
"""

from __future__ import annotations

from casework import enrolment, validation
from casework.i18n import Text, _
from casework.notices import case_title
from conversations.engine import Flow, Option, Step, Turn, register
from conversations.flows.fields import (
    draft_date,
    parse_past_date,
    recent_days,
    show_date,
    store_date,
)
from conversations.formatting import class_label
from models.tables import Case, School, SchoolClass

ENROLLERS = frozenset({"village_cadre", "school_admin", "township_officer", "county_officer", "admin"})
NOT_PLACED = "none"


def _case(turn: Turn) -> Case:
    assert turn.conv is not None and turn.conv.case_id is not None
    case = turn.cw.session.get(Case, turn.conv.case_id)
    assert case is not None
    return case


def _schools(turn: Turn) -> list[Option]:
    return [Option(str(s.id), Text("{name}", {"name": s.name}))
            for s in turn.once("enrol.schools", lambda: enrolment.schools_for(turn.cw, _case(turn)))]


def _show_school(turn: Turn) -> Text | None:
    school = turn.cw.session.get(School, int(turn.draft["school"])) if turn.draft.get("school") else None
    return Text("{name}", {"name": school.name}) if school else None


def _classes(turn: Turn) -> list[Option]:
    school_id = validation.parse_id(turn.draft.get("school") or "")
    found = enrolment.classes_of(turn.cw, school_id) if school_id is not None else []
    return [Option(str(k.id), class_label(k.grade, k.section)) for k in found]


def _not_placed(turn: Turn) -> Option:
    return Option(NOT_PLACED, _("The school will place the child"))


def _store_class(turn: Turn, value: str) -> None:
    turn.draft["klass"] = None if value == NOT_PLACED else value


def _show_class(turn: Turn) -> Text:
    klass = turn.cw.session.get(SchoolClass, int(turn.draft["klass"])) if turn.draft.get("klass") else None
    return class_label(klass.grade, klass.section) if klass else _("The school will place the child")


def _finish(turn: Turn) -> None:
    d = turn.draft
    when = draft_date(turn, "when")
    assert turn.conv is not None and turn.conv.case_id is not None and when is not None
    out = enrolment.enrol(turn.cw, turn.user, turn.conv.case_id, int(d["school"]),
                          int(d["klass"]) if d.get("klass") else None, when)
    turn.replies.send(out.message)


register(
    Flow(
        name="enrol",
        title=_("Enrolled at a school"),
        roles=ENROLLERS,
        summary_title=lambda t: _("Case {title}: enrolled at a school", title=case_title(t.cw, _case(t))),
        steps=(
            Step("school", _("School"), lambda t: _("At which school is the child enrolled?"), "choice",
                 options=_schools, next="klass", show=_show_school),
            Step("klass", _("Class"), lambda t: _("In which class?"), "choice", options=_classes,
                 default=_not_placed, store=_store_class, show=_show_class, next="when"),
            Step("when", _("Enrolled since"), lambda t: _("Since when does the child attend?"), "date",
                 options=recent_days,
                 parse=lambda t, v: parse_past_date(t, v, field="enrolled_on", max_past_days=60),
                 store=store_date("when"), show=show_date("when")),
        ),
        finish=_finish,
    )
)
