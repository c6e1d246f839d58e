"""The console's review queue: each proposal waiting for this reader, with what a reviewer
weighs beside it (the proposer, the reason, the evidence, the case's visits, what approving
does). The queue itself is ``cases.review_queue`` (scope and the who-may-decide rule);
the decision is ``outcomes.decide_outcome``, as in the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from casework import cases, codes
from casework.context import Casework
from casework.i18n import Text
from casework.ladder import visits_of
from casework.notices import case_title
from casework.outcomes import approval_preview
from models.tables import Case, Proposal, User, Visit


@dataclass(frozen=True)
class ReviewItem:
    proposal: Proposal
    case: Case
    title: Text
    outcome: Text
    proposer: User | None
    visits: list[Visit]
    approving: Text


def review_items(cw: Casework, actor: User) -> list[ReviewItem]:
    queue = cases.review_queue(cw, actor)
    items = [
        ReviewItem(p, c, case_title(cw, c), codes.label("outcome", p.outcome),
                   cw.session.get(User, p.proposed_by), visits_of(cw, c), approval_preview(cw, c, p))
        for p, c in queue
    ]
    cw.audit_list(actor, "case.list", "case", [c.id for _p, c in queue], view="console_reviews")
    return items
