"""The papers a ladder needs on file, and who may issue the notice.

A level may name a paper its responsible issue (``casework.policy.Document``: the
限期复学通知书 / 劝返复学通知书 / 责令限期改正, an 教育行政处罚决定, the 司法文书). No ladder
skips a level silently: a case climbs past a level only with that level's paper on file.
Below the ladder and the action table (both ask here), above the policy and the people.
"""

from __future__ import annotations

from sqlmodel import col, select

from casework import bodies, states
from casework.context import Casework
from casework.policy import Document
from models.tables import Case, CaseEvent, User

__all__ = ["documents_on_file", "may_issue_notice", "missing_documents"]


def documents_on_file(cw: Casework, case: Case) -> set[str]:
    """The kinds of paper issued on this case since it was opened (the notice, a penalty
    decision, the legal documents)."""
    kinds = {
        str(e.data.get("document"))
        for e in cw.session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case.id,
                col(CaseEvent.kind).in_(["notice_issued", "document_issued"]),
            )
        ).all()
    }
    if case.notice_issued_at is not None:
        kinds.add("deadline_notice")
    return kinds


def missing_documents(cw: Casework, case: Case, state: str) -> list[Document]:
    """What must be issued before the case may enter ``state`` and is not (no ladder skips
    a level silently: a legal step needs the notice, or the county's equivalent, on file)."""
    on_file = documents_on_file(cw, case)
    return [d for d in cw.policy.documents_before(state) if d.kind not in on_file]


def may_issue_notice(cw: Casework, actor: User, case: Case) -> bool:
    """The notice is issued by the party the policy's notice level names (datian's township,
    lipu's school, jidong's county government), from the level just below it or on it."""
    if not cw.policy.has_level("deadline_notice"):
        return False
    level = cw.policy.level("deadline_notice")
    below = cw.policy.next_level(case.level)  # type: ignore[arg-type]
    where = case.state == "deadline_notice" or (
        case.state in states.ACTIVE and below is not None and below.state == "deadline_notice"
    )
    return where and (bodies.acts_for(cw.policy, actor, level.responsible) or actor.role == "admin")
