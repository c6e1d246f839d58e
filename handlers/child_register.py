"""The register of school-age children and duplicates, in the bot:

- ``/register`` (the county officer): send the household-register extract; a preview, then
  Confirm (``conversations.flows.register_import``);
- ``/unschooled`` and the button in the cadre's message: the children of their village with
  no school and no case, each with a button to report them (``casework.register``);
- the three ledgers of the 2024 notice, from the ``/export`` menu (``rl:<kind>``), made by a
  job like the ledger;
- ``/duplicates`` (the county officer): possible duplicate records, each pair with buttons
  to merge one into the other, confirmed once more (``casework.duplicates``).

Turn functions, like the rest of ``handlers/``; the taps are routed by ``handlers.buttons``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from telegram import Document, Update
from telegram.ext import ContextTypes

from casework import callbacks, duplicates, people, register, register_ledgers
from casework.errors import ValidationError
from casework.i18n import Text, _
from casework.labels import n_
from casework.personal import mask_id
from casework.uow import unit_of_work
from conversations import engine
from conversations.flows import register_import
from conversations.formatting import fmt_date
from conversations.replies import Button
from documents import register_xlsx, tabular
from handlers.turns import run_turn

PAGE = 8


# --- the import -------------------------------------------------------------------------------


def register_command(turn: engine.Turn, args: list[str]) -> None:
    engine.start(turn, register_import.FLOW)


def takes_extract(turn: engine.Turn, doc: Document | None) -> bool:
    """A spreadsheet sent while ``/register`` waits for it: read by a job, True."""
    if doc is None or not tabular.is_roster_name(doc.file_name) or register_import.conversation(turn) is None:
        return False
    if doc.file_size and doc.file_size > tabular.MAX_BYTES:
        turn.replies.send(_("The file is too large (at most 10 MB)."))
        return True
    turn.replies.start_job(functools.partial(_read_and_preview, doc))
    return True


async def _read_and_preview(doc: Document, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    from handlers import exports

    data = bytes(await (await doc.get_file()).download_as_bytearray())
    filename = doc.file_name or "register"
    refusal: Text | None = None
    sheet: tabular.Sheet | None = None
    try:
        sheet = await asyncio.get_running_loop().run_in_executor(
            exports.PARSE_POOL, exports.PARSE, filename, data,
            context.application.bot_data["services"].upload_limits)
    except ValidationError as err:
        refusal = err.text

    def turn_fn(turn: engine.Turn) -> None:
        if sheet is None:
            turn.replies.send(refusal or _("This file could not be read (XLSX or CSV)."))
            return
        register_import.received(turn, filename, sheet.headers, sheet.rows)

    await run_turn(update, context, turn_fn)


# --- the children with no school and no case --------------------------------------------------


def unschooled_command(turn: engine.Turn, args: list[str]) -> None:
    _unschooled_page(turn, 1)


def tap_unschooled(turn: engine.Turn, tap: callbacks.Unschooled) -> None:
    turn.replies.answer()
    _unschooled_page(turn, tap.id)


def _unschooled_page(turn: engine.Turn, page: int) -> None:
    found = register.unschooled(turn.cw, turn.user)
    if not found:
        turn.replies.send(_("Every school-age child of your area in the register is at school, "
                            "accounted for, or has a case."))
        return
    start = (page - 1) * PAGE
    shown = found[start:start + PAGE]
    lines = [turn.t(n_("{n} school-age child has no school and no case. Find the child; report "
                       "them if out of school.",
                       "{n} school-age children have no school and no case. Find each one; "
                       "report those out of school.", len(found)))]
    rows: list[list[Button]] = []
    for e in shown:
        c = e.child
        lines.append(turn.t(_("• {name}, born {date}, household {household} ({head}): {status}",
                              name=c.name, date=fmt_date(c.birth_date, turn.lang),
                              household=c.household or "—", head=c.household_head or "—",
                              status=register.status_label(e.status))))
        buttons = [Button(_("✏️ Status of {name}", name=c.name), callbacks.RegisterStatus(c.id or 0).encode())]
        if turn.user.role == "village_cadre":
            buttons.insert(0, Button(_("📝 Report {name}", name=c.name), callbacks.ReportChild(c.id or 0).encode()))
        rows.append(buttons)
    if start + PAGE < len(found):
        rows.append([Button(_("More ▸"), callbacks.Unschooled(page + 1).encode())])
    turn.replies.send_text("\n".join(lines), rows)


def tap_report_child(turn: engine.Turn, tap: callbacks.ReportChild) -> None:
    """Report a register child: the report flow with the child picked (a student record is
    made for a child we had none for)."""
    student = register.student_for(turn.cw, turn.user, tap.id)
    turn.replies.answer()
    engine.start(turn, "report", student=str(student.id))


def tap_status(turn: engine.Turn, tap: callbacks.RegisterStatus) -> None:
    """The status found door to door: the choices, then the status set."""
    if tap.status is None:
        child = register.child_in_scope(turn.cw, turn.user, tap.child_id)
        turn.replies.answer()
        options = [Button(register.status_label(code), callbacks.RegisterStatus(tap.child_id, code).encode())
                   for code in register.STATUSES]
        turn.replies.send(_("What did you find about {name}? A child out of school is reported, not "
                            "given a status.", name=child.name),
                          [options[i:i + 2] for i in range(0, len(options), 2)])
        return
    child = register.set_status(turn.cw, turn.user, tap.child_id, tap.status)
    message = _("Status of {name}: {status}.", name=child.name, status=register.status_label(child.status))
    turn.replies.answer()  # the message says it: no toast saying it too
    turn.replies.send(message)


# --- the three ledgers ------------------------------------------------------------------------


def tap_ledger(turn: engine.Turn, tap: callbacks.RegisterLedger) -> None:
    register_ledgers.prepare(turn.cw, turn.user, tap.kind, lang=turn.lang)  # refused here, if at all
    turn.replies.answer(_("Preparing the ledger…"))
    turn.replies.start_job(functools.partial(_ledger_job, turn.user.id or 0, tap.kind, turn.lang))


def _build(services: Any, user_id: int, kind: str, lang: str) -> tuple[str, bytes, int]:
    """In a worker thread: the workbook in a session of its own, then the audit record."""
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        actor = people.by_id(cw, user_id)
        job = register_ledgers.prepare(cw, actor, kind, lang=lang)
        cw.session.rollback()
        data = register_xlsx.export(cw, actor, job)
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        register_ledgers.record_export(cw, people.by_id(cw, user_id), job)
    return register_xlsx.filename(job), data, job.rows


async def _ledger_job(user_id: int, kind: str, lang: str, update: Update,
                      context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_chat is None:
        return
    services = context.application.bot_data["services"]
    name, data, rows = await asyncio.to_thread(_build, services, user_id, kind, lang)
    await context.bot.send_document(
        update.effective_chat.id, data, filename=name, write_timeout=300, read_timeout=60,
        caption=_("{title}: {n} rows. Keep it safe: it holds children's personal data.",
                  title=register_ledgers.TITLES[kind], n=rows).render(lang))


# --- duplicates -------------------------------------------------------------------------------


WHY = {
    "name_birth": _("same name and date of birth"),
    "name_phone": _("same name and guardian phone"),
}


def _record(turn: engine.Turn, student: Any) -> str:
    return turn.t(_("#{id} {name}, born {date}, ID {id_number}", id=student.id, name=student.name,
                    date=fmt_date(student.birth_date, turn.lang),
                    id_number=mask_id(student.id_number) if student.id_number else "—"))


def duplicates_command(turn: engine.Turn, args: list[str]) -> None:
    pairs = duplicates.candidates(turn.cw, turn.user)
    if not pairs:
        turn.replies.send(_("No possible duplicates in your area."))
        return
    turn.replies.send(n_("{n} possible duplicate. Merging moves the cases and guardians of one "
                         "record to the other and deletes it; you will be asked to confirm.",
                         "{n} possible duplicates. Merging moves the cases and guardians of one "
                         "record to the other and deletes it; you will be asked to confirm.",
                         len(pairs)))
    for p in pairs:
        text = "\n".join([turn.t(WHY[p.why]), _record(turn, p.keep), _record(turn, p.drop)])
        turn.replies.send_text(text, [[
            Button(_("Keep #{a}, merge #{b} into it", a=p.keep.id, b=p.drop.id),
                   callbacks.MergeStudents(p.keep.id or 0, p.drop.id or 0).encode())],
            [Button(_("Keep #{a}, merge #{b} into it", a=p.drop.id, b=p.keep.id),
                    callbacks.MergeStudents(p.drop.id or 0, p.keep.id or 0).encode())]])


def tap_merge(turn: engine.Turn, tap: callbacks.MergeStudents) -> None:
    if not tap.confirmed:
        plan = duplicates.preview(turn.cw, turn.user, tap.keep, tap.drop)
        turn.replies.answer()
        turn.replies.send_text("\n".join([
            turn.t(_("Merge #{b} into #{a}? {cases} cases and {guardians} guardians move to #{a}; "
                     "#{b} is deleted. This cannot be undone.", a=tap.keep, b=tap.drop,
                     cases=plan.cases, guardians=plan.guardians)),
            _record(turn, plan.keep), _record(turn, plan.drop)]),
            [[Button(_("✅ Merge"), callbacks.MergeStudents(tap.keep, tap.drop, confirmed=True).encode())]])
        return
    plan = duplicates.merge(turn.cw, turn.user, tap.keep, tap.drop)
    message = _("Merged: #{b} is now part of #{a} ({cases} cases moved).", a=tap.keep, b=tap.drop,
                cases=plan.cases)
    turn.replies.answer()  # the message says it: no toast saying it too
    turn.replies.send(message)
