"""Verification rounds (核查): one child's disposition, a rejected one's reason, and the
county officer's two ways to start a round (a list imported, a quarterly sample drawn).

    vdisp:    disp ─┬─ (elsewhere, hukou, illness) det ──────────────────────────────┐
                    ├─ (dropout) rsn ─ [gen: a child new to us, no gender on the list] ┼─ note ─ ev0 ─
                    └────────────────────────────────────────────────────────────────┘
              (ev1 ─ ev2: one per evidence kind the profile names) ─ [summary] → verification.work.propose
    vreject:  why ─ [summary] → verification.work.decide(approve=False)
    vimport:  name ─ due ─ file ─ [summary] → the file read and imported by a job (handlers)
    vsample:  size ─ name ─ due ─ [summary] → verification.sample.draw_sample
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from casework import codes, evidence, validation
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import join
from casework.policy import MAX_EVIDENCE_KINDS
from casework.verification import sample, work
from casework.verification.categories import DETAILS, DISPOSITIONS, DROPOUT
from casework.verification.importing import IMPORT_ROLES, due_text
from conversations.engine import Flow, Option, Step, Turn, end, register
from conversations.flows.fields import code_options, draft_date, show_code, show_date, store_date
from conversations.replies import Button
from models.tables import VerificationEntry

VERIFY_ROLES = work.VERIFY_ROLES


def _entry(turn: Turn) -> VerificationEntry:
    return work.load_entry(turn.cw, turn.user, int(turn.draft["entry"]))


# --- one child's disposition -------------------------------------------------------------------


def _begin_disp(turn: Turn, args: dict[str, Any]) -> None:
    entry = work.load_entry(turn.cw, turn.user, int(args["entry"]), "verification.dispose")
    if entry.status != "open" or entry.match == "candidate":
        turn.replies.send(_("{name} was already verified.", name=entry.name) if entry.status != "open"
                          else _("Say first whether {name} is the pupil we matched.", name=entry.name))
        end(turn)
        return
    turn.draft["entry"] = entry.id
    turn.draft["round"] = entry.round_id


def _disp_prompt(turn: Turn) -> Text:
    entry = _entry(turn)
    return join([*work.describe(turn.cw, entry), _("What did you find?")], "\n")


def _disp_options(turn: Turn) -> list[Option]:
    return [Option(code, _(label)) for code, label in DISPOSITIONS.items()]


def _show_disp(turn: Turn) -> Text | None:
    code = str(turn.draft.get("disp") or "")
    return _(DISPOSITIONS[code]) if code in DISPOSITIONS else None


def _det_options(turn: Turn) -> list[Option]:
    return [Option(code, _(label)) for code, label in DETAILS.get(turn.draft.get("disp") or "", {}).items()]


def _show_det(turn: Turn) -> Text | None:
    label = DETAILS.get(turn.draft.get("disp") or "", {}).get(turn.draft.get("det") or "")
    return _(label) if label else None


def _kinds(turn: Turn) -> list[str]:
    disp = turn.draft.get("disp")
    return work.evidence_kinds(turn.cw, disp) if disp else []


def _after_disp(turn: Turn) -> str:
    disp = turn.draft.get("disp") or ""
    return "det" if disp in DETAILS else "rsn" if disp == DROPOUT else "note"


def _after_reason(turn: Turn) -> str:
    # a child we have no record of, whom the list gives no gender: the verifier found the child
    return "gen" if work.needs_gender(_entry(turn)) else "note"


def _after_note(turn: Turn) -> str | None:
    return "ev0" if _kinds(turn) else None


def _after_evidence(index: int) -> Callable[[Turn], str | None]:
    return lambda turn: f"ev{index + 1}" if index + 1 < len(_kinds(turn)) else None


def _evidence_prompt(index: int) -> Callable[[Turn], Text]:
    def prompt(turn: Turn) -> Text:
        kinds = _kinds(turn)
        kind = codes.label("evidence_kind", kinds[index]) if index < len(kinds) else Text("—")
        return _("Send the {kind} ({n} of {total}): a clear photo or a document, then Done.",
                 kind=kind, n=index + 1, total=len(kinds))

    return prompt


def _accept_evidence(index: int) -> Callable[[Turn, dict[str, Any]], dict[str, Any]]:
    def accept(turn: Turn, item: dict[str, Any]) -> dict[str, Any]:
        evidence.check_item(item)
        kinds = _kinds(turn)
        return {**item, "evidence_kind": kinds[index]} if index < len(kinds) else item

    return accept


def _show_evidence(index: int) -> Callable[[Turn], Text | None]:
    def show(turn: Turn) -> Text | None:
        items = turn.draft.get(f"ev{index}") or []
        if not items:
            return None
        return _("{kind}: {n} attached", kind=codes.label("evidence_kind", items[0].get("evidence_kind", "")),
                 n=len(items))

    return show


def _note(turn: Turn, text: str) -> str:
    return evidence.meaningful(validation.free_text(text, field="note", max_len=500), field="note")


def next_button(round_id: int) -> list[list[Button]]:
    from casework.callbacks import VerifyTap

    return [[Button(_("▶ Next child"), VerifyTap("n", round_id).encode())]]


def _finish_disp(turn: Turn) -> None:
    d = turn.draft
    proof = [item for i in range(len(_kinds(turn))) for item in d.get(f"ev{i}") or []]
    said = work.propose(turn.cw, turn.user, int(d["entry"]), d["disp"], detail=d.get("det"),
                        note=d.get("note"), proof=proof, reasons=[d["rsn"]] if d.get("rsn") else [],
                        gender=d.get("gen") if d["disp"] == DROPOUT else None)
    turn.replies.send(said, next_button(int(d["round"])))


register(
    Flow(
        name="vdisp",
        title=_("Verify a child"),
        roles=VERIFY_ROLES,
        begin=_begin_disp,
        summary_title=lambda t: _("Verification of {name}", name=_entry(t).name),
        personal_data=False,
        steps=(
            # not editable on the summary: another category needs other evidence
            Step("disp", _("Finding"), _disp_prompt, "choice", options=_disp_options, next=_after_disp,
                 show=_show_disp, editable=False),
            Step("det", _("Detail"), lambda t: _("Which case exactly?"), "choice", options=_det_options,
                 next="note", show=_show_det),
            Step("rsn", _("Reason"), lambda t: _("Why is the child out of school?"), "choice",
                 options=lambda t: [Option(c, codes.label("reason", c)) for c in codes.REASONS],
                 next=_after_reason, show=show_code("reason", "rsn")),
            Step("gen", _("Gender"), lambda t: _("Gender?"), "choice", options=code_options("gender"),
                 next="note", show=show_code("gender", "gen")),
            Step("note", _("Note"), lambda t: _("Anything the reviewer should know? (or Skip)"), "text",
                 parse=_note, next=_after_note, skippable=True),
            *(
                Step(f"ev{i}", _("Evidence"), _evidence_prompt(i), "media", next=_after_evidence(i),
                     show=_show_evidence(i), accept_media=_accept_evidence(i))
                for i in range(MAX_EVIDENCE_KINDS)
            ),
        ),
        finish=_finish_disp,
    )
)


# --- a disposition sent back -------------------------------------------------------------------


def _begin_reject(turn: Turn, args: dict[str, Any]) -> None:
    entry = work.load_review(turn.cw, turn.user, int(args["entry"]))
    turn.draft["entry"] = entry.id


def _finish_reject(turn: Turn) -> None:
    said = work.decide(turn.cw, turn.user, int(turn.draft["entry"]), approve=False, note=turn.draft.get("why"))
    turn.replies.send(said)


register(
    Flow(
        name="vreject",
        title=_("Send a verification back"),
        roles=work.REVIEW_ROLES,
        begin=_begin_reject,
        summary_title=lambda t: _("Send back the verification of {name}", name=_entry(t).name),
        steps=(
            Step("why", _("Reason"), lambda t: _("Why do you send it back? The verifier will read this."),
                 "text", parse=_note),
        ),
        finish=_finish_reject,
    )
)


# --- a round started: a list imported, a sample drawn ----------------------------------------------


def _due(turn: Turn, text: str) -> date:
    when = validation.parse_date(text, today=turn.cw.today(), field="due_on", allow_future=True)
    if when <= turn.cw.today():
        raise ValidationError("due_on", _("Give a date after today."))
    return when


def _round_name(turn: Turn, text: str) -> str:
    return validation.free_text(text, field="name", max_len=80)


# the job that reads and imports the list once confirmed: installed by the Telegram adapter
# (it downloads the file), so this flow knows nothing of Telegram
ImportJob = Callable[[str, str, str, date], Any]
import_job: ImportJob | None = None


def _accept_file(turn: Turn, item: dict[str, Any]) -> dict[str, Any]:
    name = str(item.get("name") or "").lower()
    if item.get("kind") != "document" or not name.endswith((".xlsx", ".csv")):
        raise ValidationError("file", _("Send the list as an XLSX or CSV file."))
    return item


def _show_file(turn: Turn) -> Text | None:
    items = turn.draft.get("file") or []
    return Text("{name}", {"name": items[-1].get("name") or "—"}) if items else None


def _finish_import(turn: Turn) -> None:
    item = (turn.draft.get("file") or [])[-1]
    due = draft_date(turn, "due")
    assert import_job is not None and due is not None
    turn.replies.send(_("Reading the list…"))
    turn.replies.start_job(import_job(str(item["file_id"]), str(item.get("name") or "list"),
                                      turn.draft["name"], due))


register(
    Flow(
        name="vimport",
        title=_("Import a verification list"),
        roles=IMPORT_ROLES,
        personal_data=True,
        summary_title=lambda t: _("New verification round"),
        steps=(
            Step("name", _("Name"), lambda t: _("Name the round (e.g. 2026年秋季第一批):"), "text",
                 parse=_round_name, next="due"),
            Step("due", _("Due"), lambda t: _("By what date must it be sent back? (e.g. 2026-12-31)"), "date",
                 parse=_due, store=store_date("due"), show=show_date("due"), next="file"),
            Step("file", _("List"), lambda t: _("Send the list as the province sent it (XLSX or CSV), then Done."),
                 "media", accept_media=_accept_file, show=_show_file),
        ),
        finish=_finish_import,
    )
)


def _size(turn: Turn, text: str) -> int:
    raw = text.strip()
    if not raw.isdigit() or not 1 <= int(raw) <= sample.MAX_SAMPLE:
        raise ValidationError("size", _("The sample must have between 1 and {max} cases.", max=sample.MAX_SAMPLE))
    return int(raw)


def _finish_sample(turn: Turn) -> None:
    due = draft_date(turn, "due")
    assert due is not None
    out = sample.draw_sample(turn.cw, turn.user, size=int(turn.draft["size"]), name=turn.draft["name"],
                             due_on=due)
    turn.replies.send(_("Re-check “{name}” drawn: {n} cases, due {due}; the units are told.",
                        name=out.round.name, n=out.rows, due=due_text(due)))


register(
    Flow(
        name="vsample",
        title=_("Draw a re-check sample"),
        roles=IMPORT_ROLES,
        summary_title=lambda t: _("Quarterly re-check"),
        steps=(
            Step("size", _("Size"),
                 lambda t: _("How many suspected, confirmed and closed dropout cases should be re-checked?"),
                 "text", parse=_size, next="name"),
            Step("name", _("Name"), lambda t: _("Name the round (e.g. 2026年第四季度复核):"), "text",
                 parse=_round_name, next="due"),
            Step("due", _("Due"), lambda t: _("By what date must it be sent back? (e.g. 2026-12-31)"), "date",
                 parse=_due, store=store_date("due"), show=show_date("due")),
        ),
        finish=_finish_sample,
    )
)
