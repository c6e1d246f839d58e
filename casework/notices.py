"""Who is told what, as outbox messages, when a case changes or a deadline comes due.

Messages go to people whose scope covers the case, in private chats only; they carry the
child's name (the people told are responsible for the child) but never ID or phone
numbers. Buttons carry short language-neutral callback data (``casework.callbacks``):
acknowledge, assign, open the case, record a visit, review the evidence, attending or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select

from casework import bodies, codes
from casework.agenda_slots import waits_past
from casework.callbacks import (
    Acknowledge,
    Assign,
    Attending,
    CaseAction,
    OpenCase,
    RecordDelivery,
    RecordVisit,
    ReviewEvidence,
)
from casework.clock import from_db
from casework.context import Casework
from casework.i18n import Text, _
from casework.labels import STATE_LABELS, DayText, day_text, grade_text, n_, role_text
from casework.outbox import HELD, enqueue, held, text_to_json
from casework.policy import Document, Level
from casework.scope import users_for_case
from models.tables import (
    Case,
    Deadline,
    OutboxMessage,
    Proposal,
    School,
    SchoolClass,
    Student,
    User,
    Village,
    Visit,
)


def _button(label: Text, data: str) -> dict[str, object]:
    return {"text": text_to_json(label), "data": data}


# Built once (a visit titles its case on four of its ten steps)
_TITLE_ROWS = (
    select(  # type: ignore[call-overload]
        col(Case.student_id), col(Student.name).label("student_name"),
        col(Case.class_id), col(SchoolClass.grade), col(SchoolClass.section),
        col(Case.school_id), col(School.name).label("school_name"),
        col(Case.village_id), col(Village.name).label("village_name"),
    )
    .select_from(Case)
    .outerjoin(Student, col(Student.id) == col(Case.student_id))
    .outerjoin(SchoolClass, col(SchoolClass.id) == col(Case.class_id))
    .outerjoin(School, col(School.id) == col(Case.school_id))
    .outerjoin(Village, col(Village.id) == col(Case.village_id))
    .where(col(Case.id).in_(bindparam("ids", expanding=True)))
)


def case_title(cw: Casework, case: Case) -> Text:
    """"#12 王小明 (Grade 7 Class 2, 青松中学)" — who the message is about."""
    return case_titles(cw, [case])[case.id or 0]


def case_titles(cw: Casework, cases: Iterable[Case]) -> dict[int, Text]:
    """The titles of cases, by case id: the names of their students, classes, schools and
    villages in one query however many cases there are (a title is shown on most steps of
    a visit). Only the columns a title shows are read (a student row carries encrypted
    numbers that would be decrypted)."""
    cases = list(cases)
    if any(c.id is None for c in cases):
        cw.session.flush()  # a case added in this turn gets its id (and its row to join)
    wanted = sorted({c.id for c in cases if c.id is not None})
    students: dict[int, Any] = {}
    classes: dict[int, Any] = {}
    schools: dict[int, Any] = {}
    villages: dict[int, Any] = {}
    if wanted:
        # keyed by the referenced rows' ids, not the case's: a case changed in this turn
        # (flushed before the query) is titled as it now stands
        for row in cw.session.exec(_TITLE_ROWS, params={"ids": wanted}).all():
            students[row.student_id] = (row.student_id, row.student_name)
            if row.class_id is not None:
                classes[row.class_id] = (row.class_id, row.grade, row.section)
            if row.school_id is not None:
                schools[row.school_id] = (row.school_id, row.school_name)
            if row.village_id is not None:
                villages[row.village_id] = (row.village_id, row.village_name)
    titles: dict[int, Text] = {}
    for case in cases:
        student = students.get(case.student_id)
        where: Text
        if case.class_id is not None:
            klass = classes.get(case.class_id)
            school = schools.get(case.school_id or 0)
            where = _(
                "Grade {grade} Class {section}, {school}",
                grade=grade_text(klass[1] if klass else None),
                section=klass[2] if klass else "?",
                school=school[1] if school else "",
            )
        else:
            village = villages.get(case.village_id or 0)
            where = _("not enrolled, {village}", village=village[1] if village else "")
        titles[case.id or 0] = _("#{id} {name} ({where})", id=case.id,
                                 name=student[1] if student else "?", where=where)
    return titles


def history_lines(cw: Casework, case: Case) -> list[Text]:
    """Every visit, one line each: what an escalation alert carries."""
    visits = cw.session.exec(
        select(Visit).where(Visit.case_id == case.id).order_by(col(Visit.recorded_at))
    ).all()
    return [
        _(
            "{date} {level} round {round}: {method}, {result}",
            date=day_text(v.visit_date),
            level=_(STATE_LABELS[v.level]),
            round=v.round,
            method=codes.label("visit_method", v.method),
            result=codes.label("visit_result", v.result),
        )
        for v in visits
    ]


def _send(
    cw: Casework,
    users: Iterable[User],
    case: Case,
    kind: str,
    text: Text,
    *,
    lines: list[Text] | None = None,
    buttons: list[list[dict[str, object]]] | None = None,
    dedupe: str | None = None,
    attachments: list[dict[str, object]] | None = None,
    merge: Merge | None = None,
    due: datetime | None = None,
) -> list[User]:
    """Queue ``text`` to each of ``users`` (once each). With ``merge``, a message of the same
    kind already queued to that person at this very instant (the scheduler's run acting on
    several cases at once) takes this case as one more line and buttons row instead. A kind
    the agenda holds is sent at once all the same when the work it names is ``due`` before
    the next agenda slot (casework.agenda_slots.waits_past)."""
    told: list[User] = []
    hold = held(kind, cw.policy.times.agenda) and not waits_past(cw, due)
    for user in users:
        if user.unreachable or user in told:
            continue
        if merge is not None and _merged(cw, user, kind, case, merge, attachments):
            told.append(user)
            continue
        key = f"{dedupe}:{user.id}" if dedupe else None
        if key is not None and cw.session.exec(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
        ).first() is not None:
            continue  # already told (one reminder per case and day)
        msg = enqueue(
            cw.session,
            user,
            text,
            kind=kind,
            now=cw.now(),
            case_id=case.id,
            buttons=buttons,  # type: ignore[arg-type]
            dedupe_key=key,
        )
        if hold:
            msg.status = HELD  # waits for the person's next agenda (casework.agenda)
        if lines:
            msg.payload = {**msg.payload, "lines": [text_to_json(t) for t in lines]}
        if attachments:
            # files rendered for each reader when sent (documents.attachments)
            msg.payload = {**msg.payload, "attachments": attachments}
        if merge is not None:
            msg.payload = {**msg.payload, "merge": {"id": case.id, "line": text_to_json(merge.line),
                                                    "row": merge.row}}
        told.append(user)
    return told


def level_entered(cw: Casework, case: Case, level: Level, actor: User | None = None) -> list[User]:
    users = bodies.people(cw, case, level.notify)
    if not users and case.school_id is None:
        # a child who never enrolled (表1) has no school to tell: the township answers for it
        users = users_for_case(cw.session, case, ["township_officer"])
    # whoever moved the case here knows (their reply says so): no alert to themselves
    users = [u for u in users if actor is None or u.id != actor.id]
    title = case_title(cw, case)
    state = _(STATE_LABELS[level.state])
    namers: list[User] = []
    if level.names_persuader is not None:
        # one message to each namer: the month mark and the question, with the button
        namers = _send(
            cw,
            bodies.people(cw, case, [level.names_persuader]),
            case,
            "name_persuader",
            _(
                "Case {title} is now at {state}: please name the person (专人) who will "
                "persuade the family; they will then own the case.",
                title=title,
                state=state,
            ),
            lines=history_lines(cw, case),
            buttons=[
                [_button(_("👤 Name the person…"), Assign(case.id or 0).encode())],
                [_button(_("Open case"), OpenCase(case.id or 0).encode())],
            ],
        )
        users = [u for u in users if u not in namers]
    if level.requires_ack:
        buttons = [
            [_button(_("Acknowledge"), Acknowledge(case.id or 0).encode()), _button(_("Assign to…"), Assign(case.id or 0).encode())],
            [_button(_("Open case"), OpenCase(case.id or 0).encode())],
        ]
        # the township's alert carries the school's written report (表5) as a file; the
        # notice is sent when it is issued (casework.notice_delivery), not before
        spec = _report_attachment(case, level)
        return namers + _send(
            cw,
            users,
            case,
            "escalation_alert",
            _("Escalation: case {title} is now at {state}. Please acknowledge.", title=title, state=state),
            lines=history_lines(cw, case),
            buttons=buttons,
            attachments=[spec] if spec else None,
            merge=_alert_merge(cw, case, state),
        )
    return namers + _send(
        cw,
        users,
        case,
        "level_entered",
        _("Case {title} is now at {state}.", title=title, state=state),
        buttons=[[_button(_("Open case"), OpenCase(case.id or 0).encode())]],
    )


MERGED = 30  # cases in one merged message, a row of buttons each (Telegram takes 100 buttons)


@dataclass(frozen=True)
class Merge:
    """How a message becomes one line of a merged one: its ``line``, its buttons ``row``, and
    the merged message's heading for ``n`` cases."""

    line: Text
    row: list[dict[str, object]]
    heading: Callable[[int], Text]


def _merged(cw: Casework, user: User, kind: str, case: Case, merge: Merge,
            attachments: list[dict[str, object]] | None) -> bool:
    """Add ``case`` to the message of ``kind`` queued to ``user`` at this instant, if there
    is one (and it has room); True if it did."""
    cw.session.flush()
    row = cw.session.exec(
        select(OutboxMessage).where(
            OutboxMessage.recipient_id == user.id, OutboxMessage.kind == kind,
            OutboxMessage.status == "pending", OutboxMessage.created_at == cw.now_db(),
        ).order_by(col(OutboxMessage.id).desc())
    ).first()
    if row is None or row.case_id == case.id or "merge" not in row.payload:
        return False
    payload = dict(row.payload)
    cases: list[dict[str, Any]] = list(payload.get("cases") or [payload["merge"]])
    if len(cases) >= MERGED or any(c.get("id") == case.id for c in cases):
        return False
    cases.append({"id": case.id, "line": text_to_json(merge.line), "row": merge.row})
    payload["cases"] = cases
    payload["text"] = text_to_json(merge.heading(len(cases)))
    payload["lines"] = [c["line"] for c in cases]
    payload["buttons"] = [c["row"] for c in cases]
    if attachments:
        payload["attachments"] = [*payload.get("attachments", []), *attachments]
    row.payload = payload
    cw.session.add(row)
    return True


def send_merged(cw: Casework, users: Iterable[User], case: Case, kind: str, text: Text, *,
                buttons: list[list[dict[str, object]]], merge: Merge, dedupe: str | None = None) -> list[User]:
    """A message that several cases at once make one of (see :class:`Merge`)."""
    return _send(cw, users, case, kind, text, buttons=buttons, merge=merge, dedupe=dedupe)


def _alert_merge(cw: Casework, case: Case, state: Text) -> Merge:
    return Merge(
        _("{title} is now at {state}.", title=case_title(cw, case), state=state),
        [_button(Text("✅ #{id}", {"id": case.id}), Acknowledge(case.id or 0).encode()),
         _button(Text("#{id}", {"id": case.id}), OpenCase(case.id or 0).encode())],
        lambda n: n_("Escalation: {n} case needs you. Please acknowledge it.",
                     "Escalations: {n} cases need you. Please acknowledge each.", n),
    )


def _report_attachment(case: Case, level: Level) -> dict[str, object] | None:
    if level.state == "deadline_notice":
        return None  # the notice goes out when it is issued (notice_to_issuer), not before
    return attachment_for_level(case, level.state)


def attachment_for_level(case: Case, level_state: str, fmt: str = "pdf") -> dict[str, object] | None:
    """The form an alert about ``case`` entering ``level_state`` carries, as an outbox
    attachment spec (``documents.attachments``): the school's 表5 written report when
    an enrolled child's case comes to the township, the notice when it reaches
    ``deadline_notice``; ``None`` for other levels."""
    if level_state == "township_persuasion" and case.school_id is not None:
        return {"type": "form", "form": "report", "case_id": case.id, "format": fmt}
    if level_state == "deadline_notice":
        return {"type": "form", "form": "notice", "case_id": case.id, "format": fmt}
    return None


def notice_to_issuer(cw: Casework, case: Case, issuer: User) -> list[User]:
    """The notice to return to school, as a file, to whoever just issued it, with the
    button that records its delivery to the guardian (``casework.notice_delivery``)."""
    level = cw.policy.level("deadline_notice") if cw.policy.has_level("deadline_notice") else None
    document: Text = level.document.title() if level is not None and level.document else _(
        "The notice to return to school")
    return _send(
        cw, [issuer], case, "notice_document",
        _("{document} for case {title} is attached. Print it, hand it to the guardian, and record "
          "the delivery (送达回执: the date and a photo of the signed receipt).",
          document=document, title=case_title(cw, case)),
        buttons=[[_button(_("📬 Record the delivery"), RecordDelivery(case.id or 0).encode())],
                 [_button(_("Open case"), OpenCase(case.id or 0).encode())]],
        attachments=[{"type": "form", "form": "notice", "case_id": case.id, "format": "pdf"}],
    )


def village_told(
    cw: Casework, case: Case, level: Level, alerted: list[int | None], actor: User | None
) -> list[User]:
    """The village cadre persuades with the township from now on: told the day the township
    step starts on their case, with its first visit's date, not at its first reminder."""
    cadres = [u for u in users_for_case(cw.session, case, ["village_cadre"])
              if u.id not in alerted and (actor is None or u.id != actor.id)]
    if not cadres:
        return []
    cw.session.flush()
    first = min((from_db(d.due_at) for d in cw.session.exec(
        select(Deadline).where(Deadline.case_id == case.id, Deadline.status == "open",
                               col(Deadline.kind).in_(["round", "step"]))).all()), default=None)
    text = (
        _("The township has taken up case {title} ({state}); you persuade the family with the township. "
          "First visit due by {date}.", title=case_title(cw, case), state=_(STATE_LABELS[level.state]),
          date=_day(cw, first))
        if first is not None
        else _("The township has taken up case {title} ({state}); you persuade the family with the township.",
               title=case_title(cw, case), state=_(STATE_LABELS[level.state]))
    )
    return _send(
        cw, cadres, case, "township_started", text,
        buttons=[[_button(_("Record a visit"), RecordVisit(case.id or 0).encode()),
                  _button(_("Open case"), OpenCase(case.id or 0).encode())]],
        dedupe=f"twp:{case.id}:{case.version}",
    )


def _day(cw: Casework, when: Any) -> DayText:
    """A deadline's day as the chat writes dates (12月14日 / Dec 14)."""
    return day_text(from_db(when).astimezone(cw.policy.tz).date())


def document_issued(cw: Casework, case: Case, document: Document, actor: User) -> list[User]:
    """A level's paper is on file: its level's parties are told (not the issuer)."""
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    users = [u for u in bodies.people(cw, case, level.notify) if u.id != actor.id]
    return _send(
        cw,
        users,
        case,
        "document_issued",
        _("{document} issued for case {title} by {name}.", document=document.title(),
          title=case_title(cw, case), name=actor.display_name),
        buttons=[[_button(_("Open case"), OpenCase(case.id or 0).encode())]],
    )


def held_for_document(cw: Casework, case: Case, document: Document, users: list[User]) -> list[User]:
    """The level's time is up but its paper is not on file: the case waits, and its issuers
    are asked again (no ladder skips a level silently)."""
    return _send(
        cw,
        users,
        case,
        "held",
        _(
            "Case {title}: the time at {state} is up, but {document} is not on file, so the "
            "case cannot go up. Please issue it.",
            title=case_title(cw, case),
            state=_(STATE_LABELS[case.state]),
            document=document.title(),
        ),
        buttons=[[_button(_("Open case"), OpenCase(case.id or 0).encode())]],
    )


def moved_up(cw: Casework, case: Case, from_state: str, users: list[User]) -> list[User]:
    return _send(
        cw,
        users,
        case,
        "moved_up",
        _(
            "Case {title} moved up from {old} to {new}.",
            title=case_title(cw, case),
            old=_(STATE_LABELS[from_state]),
            new=_(STATE_LABELS[case.state]),
        ),
    )


def returned(cw: Casework, case: Case, actor: User | None) -> list[User]:
    users = [
        u
        for u in users_for_case(cw.session, case, ["teacher", "school_admin", "village_cadre", "township_officer"])
        if actor is None or u.id != actor.id
    ]
    return _send(
        cw, users, case, "returned", _("Good news: {title} is back at school.", title=case_title(cw, case))
    )


def enrolled(cw: Casework, case: Case, school: str, actor: User | None) -> list[User]:
    """A never-enrolled child is enrolled: both lines are told, the school's now included."""
    users = [
        u
        for u in users_for_case(cw.session, case, ["teacher", "school_admin", "village_cadre", "township_officer"])
        if actor is None or u.id != actor.id
    ]
    return _send(
        cw, users, case, "enrolled",
        _("Good news: {title} is enrolled at {school}.", title=case_title(cw, case), school=school),
    )


def approval_requested(cw: Casework, case: Case, proposal: Proposal) -> list[User]:
    """Tell the reviewers (the policy's level for the outcome, in scope, never the
    proposer); when nobody holds that role here, the next level up is told."""
    from casework import actions, states

    required = actions.required_reviewer(cw, proposal)
    ladder_up = [required] if bodies.is_body(required) else [
        r for r in ("township_officer", "county_officer", "admin")
        if states.ROLE_RANK[r] >= states.ROLE_RANK[required]]
    users: list[User] = []
    for role in ladder_up:
        users = [u for u in bodies.people(cw, case, [role]) if u.id != proposal.proposed_by]
        if users:
            break
    files = sum(1 for item in proposal.evidence if item.get("kind") in ("photo", "document"))
    return _send(
        cw,
        users,
        case,
        "approval_request",
        _(
            "Review requested for case {title}: {outcome}. Reason: {reason}. Evidence: {n} file(s).",
            title=case_title(cw, case),
            outcome=codes.label("outcome", proposal.outcome),
            reason=proposal.reason or "",
            n=files,
        ),
        buttons=[
            [_button(_("🔎 Review the evidence"), ReviewEvidence(proposal.id or 0).encode())],
            [_button(_("Open case"), OpenCase(case.id or 0).encode())],
        ],
    )


def decision(cw: Casework, case: Case, proposal: Proposal, *, approved: bool) -> list[User]:
    proposer = cw.session.get(User, proposal.proposed_by)
    if proposer is None:
        return []
    outcome = codes.label("outcome", proposal.outcome)
    text = (
        _("Your proposal for case {title} ({outcome}) was approved.", title=case_title(cw, case), outcome=outcome)
        if approved
        else _(
            "Your proposal for case {title} ({outcome}) was rejected: {note}",
            title=case_title(cw, case),
            outcome=outcome,
            note=proposal.decision_note or "",
        )
    )
    return _send(cw, [proposer], case, "decision", text)


def assigned(cw: Casework, case: Case, assignee: User) -> list[User]:
    return _send(
        cw,
        [assignee],
        case,
        "assigned",
        _("You have been assigned case {title}.", title=case_title(cw, case)),
        lines=history_lines(cw, case),
        buttons=[[_button(_("Record a visit"), RecordVisit(case.id or 0).encode()), _button(_("Open case"), OpenCase(case.id or 0).encode())]],
    )


def _local_day(cw: Casework, deadline: Deadline) -> Text:
    return day_text(from_db(deadline.due_at).astimezone(cw.policy.tz).date())


def reminder(
    cw: Casework, case: Case, users: list[User], target: Deadline, reminder_row: Deadline
) -> list[User]:
    level = cw.policy.level(case.level)  # type: ignore[arg-type]
    step: Text
    if target.kind == "round" and level.rounds is not None and case.state == level.state:
        step = _("visit {round} of {rounds}", round=target.payload.get("round"), rounds=level.rounds)
    elif target.kind == "round":
        step = _("visit {round}", round=target.payload.get("round"))
    else:
        step = _(STATE_LABELS[case.state])
    if target.kind == "step" and case.state == "deadline_notice" and case.notice_issued_at is not None:
        # the guardian's deadline, not the officer's: said so, with what to do if the child is back
        return _send(
            cw, users, case, "reminder",
            _("The notice to return to school gives the guardian of {title} until {date}. "
              "If the child is back, record it.", title=case_title(cw, case), date=_local_day(cw, target)),
            buttons=[[_button(_("Open case"), OpenCase(case.id or 0).encode())]],
            dedupe=_one_a_day(cw, case, reminder_row),
            due=target.due_at,
        )
    return _send(
        cw,
        users,
        case,
        "reminder",
        _(
            "Reminder: case {title} — {step} is due by {date}.",
            title=case_title(cw, case),
            step=step,
            date=_local_day(cw, target),
        ),
        buttons=[[_button(_("Record a visit"), RecordVisit(case.id or 0).encode())]],
        dedupe=_one_a_day(cw, case, reminder_row),
        due=target.due_at,
    )


def _one_a_day(cw: Casework, case: Case, reminder_row: Deadline) -> str:
    """One reminder per case, person and day: the last visit's and the level's deadline
    falling on the same day make one reminder, not two."""
    return f"rem:{case.id}:{cw.calendars.local_date(from_db(reminder_row.due_at)).isoformat()}"


def visit_overdue(cw: Casework, case: Case, users: list[User], deadline: Deadline) -> list[User]:
    return _send(
        cw,
        users,
        case,
        "overdue",
        _(
            "Overdue: visit {round} on case {title} was due {date}.",
            round=deadline.payload.get("round"),
            title=case_title(cw, case),
            date=_local_day(cw, deadline),
        ),
        buttons=[[_button(_("Record a visit"), RecordVisit(case.id or 0).encode())]],
        dedupe=f"due:{deadline.id}",
    )


def unacknowledged(cw: Casework, case: Case, users: list[User], alerted: list[str]) -> list[User]:
    return _send(
        cw,
        users,
        case,
        "escalation_alert",
        _(
            "Not acknowledged in time by the {role}: case {title} ({state}) comes to you.",
            role=role_text(alerted[0]) if alerted else "",
            title=case_title(cw, case),
            state=_(STATE_LABELS[case.state]),
        ),
        lines=history_lines(cw, case),
        buttons=[
            [_button(_("Acknowledge"), Acknowledge(case.id or 0).encode()), _button(_("Assign to…"), Assign(case.id or 0).encode())],
            [_button(_("Open case"), OpenCase(case.id or 0).encode())],
        ],
    )


def retention_check(cw: Casework, case: Case, users: list[User], n: int) -> list[User]:
    return _send(
        cw,
        users,
        case,
        "retention_check",
        _("Check-in {n}: is {title} still attending school?", n=n, title=case_title(cw, case)),
        buttons=[[_button(_("Yes, attending"), Attending(case.id or 0, attending=True).encode()), _button(_("No, absent again"), Attending(case.id or 0, attending=False).encode())]],
        merge=Merge(
            _("Check-in {n}: is {title} still attending school?", n=n, title=case_title(cw, case)),
            [_button(Text("✅ #{id}", {"id": case.id}), Attending(case.id or 0, attending=True).encode()),
             _button(Text("❌ #{id}", {"id": case.id}), Attending(case.id or 0, attending=False).encode())],
            lambda count: n_("Check-in: is this child still attending school? ✅ yes, ❌ absent again.",
                             "Check-ins: are these {n} children still attending school? ✅ yes, ❌ absent again.",
                             count),
        ),
    )


def deferral_ended(cw: Casework, case: Case, users: list[User]) -> list[User]:
    return _send(
        cw,
        users,
        case,
        "deferral_end",
        _("The deferral of case {title} ends today. Has the child come back?", title=case_title(cw, case)),
        buttons=[[_button(_("Open case"), OpenCase(case.id or 0).encode())]],
    )


def home_teaching_due(cw: Casework, case: Case, users: list[User]) -> list[User]:
    return _send(
        cw,
        users,
        case,
        "home_teaching",
        _(
            "This week's home-teaching session for {title} is due (at least {hours} class hours). Please record it.",
            title=case_title(cw, case),
            hours=cw.policy.home_teaching.min_class_hours,
        ),
        buttons=[[_button(_("📚 Record the session"), CaseAction(case.id or 0, "record_home_teaching").encode())],
                 [_button(_("Open case"), OpenCase(case.id or 0).encode())]],
    )
