"""``/verify``: verification rounds (核查) in the bot.

- ``/verify``: the rounds with children for this user, how many are left and a button to
  start; for the county officer also each round's progress per unit and its export;
- ``/verify new``: a list imported (``vimport``: name, due date, the file), read by a job
  like a roster; ``/verify sample``: the quarterly re-check drawn (``vsample``);
- the buttons (``VerifyTap``): ``n`` the next child of a round (its disposition asked in
  the ``vdisp`` flow), ``y``/``o`` a candidate match confirmed or denied, ``q``/``r`` the
  dispositions waiting for review and one of them with its evidence, ``a`` approve, ``x``
  send back with a reason (``vreject``), ``e`` the round's list written back (XLSX).

Every rule is casework's (``casework.verification``); this module only draws and routes.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import date
from io import BytesIO
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from casework import codes
from casework.callbacks import VerifyAssign, VerifyTap
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import join, n_
from casework.verification import export, importing, progress, work
from casework.verification.categories import label
from casework.verification.importing import due_text
from conversations import engine
from conversations.flows import verification as flows
from conversations.replies import Button
from documents import tabular
from documents.verification_xlsx import list_limits, write_xlsx
from handlers.turns import run_turn
from models.tables import User, VerificationRound

MAX_LISTED = 20


def verify(turn: engine.Turn, args: list[str]) -> None:
    """``/verify`` (``new``, ``sample``): the rounds, or a new one."""
    word = args[0].lower() if args else ""
    if word in ("new", "import", "新建", "导入"):
        engine.start(turn, "vimport")
        return
    if word in ("sample", "recheck", "复核", "抽查"):
        engine.start(turn, "vsample")
        return
    rounds = work.my_rounds(turn.cw, turn.user)
    if not rounds:
        turn.replies.send(_("No verification list is waiting for you."))
    for mine in rounds:
        rnd = mine.round
        text = n_("“{round}”, due {due}: {n} child left to verify of {total}.",
                  "“{round}”, due {due}: {n} children left to verify of {total}.", mine.open,
                  round=rnd.name, due=due_text(rnd.due_on), total=mine.total)
        rows: list[list[Button]] = []
        if mine.open:
            rows.append([Button(_("▶ Start verifying"), VerifyTap("n", rnd.id or 0).encode())])
        if turn.user.role in export.EXPORT_ROLES:
            lines = [turn.t(text), *(turn.t(t) for t in progress.progress_lines(
                progress.progress(turn.cw, turn.user, round_id=rnd.id)))]
            rows.append([Button(_("📥 Export the list"), VerifyTap("e", rnd.id or 0).encode())])
            turn.replies.send_text("\n".join(lines), rows)
        else:
            turn.replies.send(text, rows)
    if turn.user.role in importing.IMPORT_ROLES:
        turn.replies.send(_("/verify new imports a list from above; /verify sample draws the quarterly re-check."))


def show_next(turn: engine.Turn, round_id: int) -> None:
    entry, left = work.next_open(turn.cw, turn.user, round_id)
    if entry is None:
        turn.replies.send(_("Every child of this list in your care is verified. Thank you."))
        return
    rnd = work.round_of(turn.cw, entry)
    head = n_("{n} child left, due {due}.", "{n} children left, due {due}.", left, due=due_text(rnd.due_on))
    if entry.match == "candidate":
        lines = [head, *work.describe(turn.cw, entry)]
        turn.replies.send(join(lines, "\n"), [[
            Button(_("✅ Same child"), VerifyTap("y", entry.id or 0).encode()),
            Button(_("❌ Not our pupil"), VerifyTap("o", entry.id or 0).encode())]])
        return
    villages = work.assignable_villages(turn.cw, turn.user, entry)
    if villages:  # no unit was found for the child: verify it yourself, or pass it to a village
        buttons = [Button(_("➡ {village}", village=v.name), VerifyAssign(entry.id or 0, v.id or 0).encode())
                   for v in villages[:12]]
        turn.replies.send(_("{head} No village or school was found for this child: pass it to a village, "
                            "or verify it yourself below.", head=head),
                          [buttons[i : i + 3] for i in range(0, len(buttons), 3)])
    else:
        turn.replies.send(head)
    engine.start(turn, "vdisp", entry=entry.id)


def tap_assign(turn: engine.Turn, t: VerifyAssign) -> None:
    said = work.assign(turn.cw, turn.user, t.entry_id, t.village_id)
    turn.replies.answer()
    turn.replies.mark_chosen(said)
    turn.replies.send(said, flows.next_button(_round_id(turn, t.entry_id)))


def waiting(turn: engine.Turn) -> bool:
    return bool(work.review_queue(turn.cw, turn.user))


def review_lines(turn: engine.Turn) -> None:
    """The dispositions waiting for this reviewer, per round (appended to /review)."""
    queue = work.review_queue(turn.cw, turn.user)
    if not queue:
        return
    per_round: dict[int, int] = {}
    for entry in queue:
        per_round[entry.round_id] = per_round.get(entry.round_id, 0) + 1
    rows = []
    for round_id, n in per_round.items():
        rnd = turn.cw.session.get(VerificationRound, round_id)
        rows.append([Button(_("🔎 {round}: {n}", round=rnd.name if rnd else "?", n=n),
                            VerifyTap("q", round_id).encode())])
    turn.replies.send(n_("{n} verification waits for your review.", "{n} verifications wait for your review.",
                         len(queue)), rows)


def _queue(turn: engine.Turn, round_id: int) -> None:
    queue = [e for e in work.review_queue(turn.cw, turn.user) if e.round_id == round_id]
    if not queue:
        turn.replies.send(_("Nothing is waiting for your review."))
        return
    turn.cw.audit_list(turn.user, "verification.review_list", "verification_round",
                       [e.id for e in queue], object_id=round_id)
    lines = [turn.t(_("Waiting for your review, oldest first:"))]
    rows = []
    for entry in queue[:MAX_LISTED]:
        lines.append(turn.t(_("{name}: {disposition}", name=entry.name,
                              disposition=label(entry.disposition, entry.detail))))
        rows.append([Button(_("🔎 {name}", name=entry.name), VerifyTap("r", entry.id or 0).encode())])
    if len(queue) > MAX_LISTED:
        lines.append(turn.t(_("…and {n} more.", n=len(queue) - MAX_LISTED)))
    turn.replies.send_text("\n".join(lines), rows)


def _review(turn: engine.Turn, entry_id: int) -> None:
    entry = work.load_review(turn.cw, turn.user, entry_id)
    turn.cw.audit(turn.user, "verification.review", "verification_entry", entry.id)
    proposer = turn.cw.session.get(User, entry.proposed_by) if entry.proposed_by else None
    files = [item for item in entry.evidence if item.get("kind") in ("photo", "document")]
    required = work.evidence_kinds(turn.cw, entry.disposition or "")
    lines = [
        *work.describe(turn.cw, entry),
        _("Finding: {disposition}", disposition=label(entry.disposition, entry.detail)),
        _("Verified by {name}", name=proposer.display_name if proposer else "—"),
        _("Note: {note}", note=entry.note or "—"),
    ]
    if entry.case_id:
        lines.append(_("Case #{id} is open on the ladder.", id=entry.case_id))
    if required:
        lines.append(_("Evidence required: {kinds}", kinds=join(codes.label("evidence_kind", k) for k in required)))
    lines.append(_("{n} file(s) follow.", n=len(files)))
    turn.replies.send(join(lines, "\n"))
    for item in files:
        caption = codes.label("evidence_kind", item.get("evidence_kind", "")) if item.get("evidence_kind") \
            else Text("{name}", {"name": str(item.get("name") or "")})
        turn.replies.send_file(str(item["kind"]), str(item["file_id"]), caption)
    turn.replies.send(_("Approve or send back the verification of {name}?", name=entry.name), [[
        Button(_("Approve"), VerifyTap("a", entry.id or 0).encode()),
        Button(_("Send back"), VerifyTap("x", entry.id or 0).encode())]])


def _approve(turn: engine.Turn, entry_id: int) -> None:
    entry = work.load_review(turn.cw, turn.user, entry_id)
    said = work.decide(turn.cw, turn.user, entry_id, approve=True)
    turn.replies.mark_chosen(_("Approve"))
    rest = [e for e in work.review_queue(turn.cw, turn.user) if e.round_id == entry.round_id and e.id != entry_id]
    rows = [[Button(_("🔎 Next: {name}", name=rest[0].name), VerifyTap("r", rest[0].id or 0).encode())]] if rest else []
    turn.replies.send(said, rows)


def _export(turn: engine.Turn, round_id: int) -> None:
    job = export.prepare(turn.cw, turn.user, round_id, turn.lang)
    out = BytesIO()
    count = write_xlsx(job.headers, export.rows(turn.cw, turn.user, job, turn.lang), out, title=job.round.name)
    name = f"{job.round.name}_{turn.cw.today().isoformat()}.xlsx".replace(" ", "_")
    turn.replies.send_document(name, out.getvalue(), _(
        "“{round}”: {n} children with their dispositions. Keep it safe: it holds children's personal data.",
        round=job.round.name, n=count))


def tap(turn: engine.Turn, t: VerifyTap) -> None:
    turn.replies.answer()
    if t.action == "n":
        show_next(turn, t.id)
    elif t.action == "d":
        entry = work.load_entry(turn.cw, turn.user, t.id, "verification.dispose")
        engine.start(turn, "vdisp", entry=entry.id)
    elif t.action in ("y", "o"):
        said = work.resolve_candidate(turn.cw, turn.user, t.id, same=t.action == "y")
        turn.replies.mark_chosen(_("✅ Same child") if t.action == "y" else _("❌ Not our pupil"))
        turn.replies.send(said)
        if t.action == "y":
            engine.start(turn, "vdisp", entry=t.id)
        else:
            turn.replies.send(_("On to the next child."), flows.next_button(_round_id(turn, t.id)))
    elif t.action == "q":
        _queue(turn, t.id)
    elif t.action == "r":
        _review(turn, t.id)
    elif t.action == "a":
        _approve(turn, t.id)
    elif t.action == "x":
        work.load_review(turn.cw, turn.user, t.id)  # refused (and audited) before any flow
        engine.start(turn, "vreject", entry=t.id)
    elif t.action == "e":
        _export(turn, t.id)


def _round_id(turn: engine.Turn, entry_id: int) -> int:
    from models.tables import VerificationEntry

    entry = turn.cw.session.get(VerificationEntry, entry_id)
    return entry.round_id if entry else 0


# --- the list read and imported, after the vimport flow's Confirm --------------------------------


def _import_job(file_id: str, filename: str, name: str, due_on: date) -> Any:
    return functools.partial(_read_and_import, file_id, filename, name, due_on)


async def _read_and_import(file_id: str, filename: str, name: str, due_on: date, update: Update,
                           context: ContextTypes.DEFAULT_TYPE) -> None:
    from handlers.exports import PARSE, PARSE_POOL

    telegram_file = await context.bot.get_file(file_id)
    data = bytes(await telegram_file.download_as_bytearray())
    refusal: Text | None = None
    sheet: tabular.Sheet | None = None
    try:
        sheet = await asyncio.get_running_loop().run_in_executor(
            PARSE_POOL, PARSE, filename, data, list_limits(context.application.bot_data["services"].upload_limits))
    except ValidationError as err:
        refusal = err.text

    def turn_fn(turn: engine.Turn) -> None:
        if sheet is None:
            turn.replies.send(refusal or _("This file could not be read as a list (XLSX or CSV)."))
            return
        out = importing.import_round(turn.cw, turn.user, name=name, due_on=due_on, headers=sheet.headers,
                                     rows=sheet.rows, file_name=filename)
        turn.replies.send(out.summary())

    await run_turn(update, context, turn_fn)


flows.import_job = _import_job
