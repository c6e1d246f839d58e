"""The list written back (the file the county sends up): the province's own columns in
their order, the ID number restored, then the disposition, its evidence count, who
verified and who reviewed it. A child the list named twice carries the first row's
answer. Only the county (or the operator) exports a round; every export is audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from casework.context import Casework
from casework.errors import AccessDenied, NotFound
from casework.i18n import N_, _
from casework.verification.categories import DETAILS, DISPOSITIONS
from models.tables import User, VerificationEntry, VerificationRound

EXPORT_ROLES = frozenset({"county_officer", "admin"})
CHUNK = 2000
EXTRA_COLUMNS = (N_("Disposition"), N_("Detail"), N_("Evidence files"), N_("Verified by"),
                 N_("Reviewed by"), N_("Review"), N_("Case"), N_("Note"))
STATUS = {"open": N_("not yet verified"), "proposed": N_("waiting for review"),
          "approved": N_("approved")}


@dataclass(frozen=True)
class ExportJob:
    round: VerificationRound
    headers: list[str]


def prepare(cw: Casework, actor: User | None, round_id: int, lang: str) -> ExportJob:
    rnd = cw.session.get(VerificationRound, round_id)
    if actor is not None and (not actor.active or actor.role not in EXPORT_ROLES or (
            actor.role == "county_officer" and (rnd is None or rnd.county_id != actor.scope_id))):
        raise AccessDenied(_("Only the county officer can export a verification round."),
                           actor_id=actor.id, action="verification.export",
                           object_type="verification_round", object_id=round_id)
    if rnd is None:
        raise NotFound(_("There is no verification round #{id}.", id=round_id))
    extra = [_(c).render(lang) for c in EXTRA_COLUMNS]
    return ExportJob(rnd, [*rnd.headers, *extra])


def rows(cw: Casework, actor: User | None, job: ExportJob, lang: str) -> Iterator[list[str | int]]:
    """The rows in the list's order, read chunk by chunk; audited once, as an export."""
    rnd = job.round
    names: dict[int, str] = {}

    def who(user_id: int | None) -> str:
        if user_id is None:
            return ""
        if user_id not in names:
            user = cw.session.get(User, user_id)
            names[user_id] = user.display_name if user else "?"
        return names[user_id]

    last, count = 0, 0
    # what a later row naming the same child repeats: only the answer, not the whole row
    answers: dict[int, tuple[int, list[str | int]]] = {}
    while True:
        chunk = cw.session.exec(
            select(VerificationEntry).where(VerificationEntry.round_id == rnd.id,
                                            col(VerificationEntry.row_number) > last)
            .order_by(col(VerificationEntry.row_number)).limit(CHUNK)).all()
        if not chunk:
            break
        for entry in chunk:
            last = entry.row_number
            count += 1
            cells = list(entry.cells) + [""] * max(0, len(rnd.headers) - len(entry.cells))
            if rnd.id_column is not None and rnd.id_column < len(cells):
                cells[rnd.id_column] = entry.id_raw or ""
            if entry.duplicate_of is not None and entry.duplicate_of in answers:
                first_row, answer = answers[entry.duplicate_of]
                note = _("Named twice: see row {row}.", row=first_row).render(lang)
                yield [*cells, *answer[:-1], note]
                continue
            answer = _answer(entry, who, lang)
            answers[entry.id or 0] = (entry.row_number, answer)
            yield [*cells, *answer]
        for entry in chunk:  # read in chunks: the rows already written are not kept
            cw.session.expunge(entry)
    cw.audit(actor, "verification.export", "verification_round", rnd.id, rows=count)


def _answer(entry: VerificationEntry, who: Any, lang: str) -> list[str | int]:
    """The columns after the province's: disposition, detail, evidence count (a number, for
    the county to add up), verifier, reviewer, review, case, note."""
    disposition = DISPOSITIONS.get(entry.disposition or "")
    detail = DETAILS.get(entry.disposition or "", {}).get(entry.detail or "")
    status = STATUS.get(entry.status)
    return [
        _(disposition).render(lang) if disposition else "",
        _(detail).render(lang) if detail else "",
        sum(1 for e in entry.evidence if e.get("kind") in ("photo", "document")),
        who(entry.proposed_by),
        who(entry.decided_by),
        _(status).render(lang) if status else "",
        f"#{entry.case_id}" if entry.case_id else "",
        entry.note or "",
    ]
