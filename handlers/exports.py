"""Files from the bot: the ledger (``/export``), a case's forms (``/forms 12``), the
periodic report (``/stats month``), roster import (``/import`` or just send the file) and
the transfer requests waiting for one's answer (``/transfers``).

Turn functions, like the rest of ``handlers/``: registered in ``handlers/__init__`` (the
commands, through ``handlers.commands``), their buttons routed by ``handlers.buttons``:
``xp:<state>:<period>:<unit>:<view>`` (the export menu: every filter is in the data,
checked again on the server), ``doc:<case>:<form>``, ``rpt:<kind>:<period>``.

Buttons (``casework.callbacks``): ``ExportMenu`` ``xp:<state>:<period>:<unit>:<view>`` (the
export menu: every filter is in the data, checked again on the server), ``FormFile``
``doc:<case>:<form>``, ``ReportWorkbook`` ``rpt:<kind>:<period>``.

A ledger can take a while for a county: the turn asks for a job (``Replies.start_job``),
which runs after the commit as a task of its own (``handlers.background``), its database
work in units of work in a worker thread, read chunk by chunk, while the message
"Preparing the ledger… 40%" is edited as it goes; the bot keeps answering everyone else
meanwhile. A roster file likewise: it is downloaded and read in a job, the reading in a
child process under hard limits (``tabular.parse_in_process``), and the preview comes in a
turn of its own when it is done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any

from telegram import Document, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from casework import callbacks, forms, handover, ledger, people, reports, transfers, validation
from casework.errors import CaseworkError, ValidationError
from casework.i18n import Text, _
from casework.labels import STATE_LABELS
from casework.ladder import load_case
from casework.periods import Period, month_of, parse_period, quarter_of, year_of
from casework.register_ledgers import KINDS as REGISTER_LEDGERS
from casework.register_ledgers import TITLES as REGISTER_TITLES
from casework.roster_import import IMPORT_ROLES
from casework.uow import unit_of_work
from conversations import engine
from conversations.flows import roster
from conversations.replies import Button
from documents import forms as form_files
from documents import report_xlsx, tabular
from documents.fonts import FontMissing
from documents.ledger_xlsx import export_ledger
from handlers import limits
from handlers.turns import run_turn

log = logging.getLogger(__name__)

# progress edits: at most one per step of this many percent, and per this many seconds
# (Telegram allows about one edit a second per chat; tests set the interval to 0)
PROGRESS_STEP = 10
PROGRESS_MIN_INTERVAL = 1.5
LEDGER_CHUNK = ledger.CHUNK  # cases read per transaction (and per progress step)


# --- the ledger -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The export menu's state, as carried in its buttons."""

    state: str = "open"
    period: str = "-"  # "-" all time, or m2026-11 / q2026Q4 / y2026
    unit: str = "-"  # "-" the whole area, or t2 / s3 / v4 / c1

    def data(self, view: str = "") -> str:
        return callbacks.ExportMenu(self.state, self.period, self.unit, view).encode()

    def to_filter(self) -> ledger.LedgerFilter:
        return ledger.LedgerFilter(
            state=self.state,
            period=_period(self.period),
            unit=ledger.Unit.parse(self.unit) if self.unit != "-" else None,
        )


def _period(code: str) -> Period | None:
    if code == "-":
        return None
    if code[:1] not in ("m", "q", "y"):
        raise ValidationError("period", _("“{code}” is not a known choice.", code=code))
    return parse_period(code[1:], today=date(2000, 1, 1))


def _period_code(period: Period) -> str:
    return period.kind[0] + period.code


def _parse_choice(tap: callbacks.ExportMenu | None) -> tuple[Choice, str]:
    if tap is None:
        raise ValidationError("data", _("That button is no longer in use."))
    return Choice(tap.state, tap.period, tap.unit), tap.view


def _scope_name(scope: str) -> Text | str:
    # "*": an administrator's export of everything
    return _("all counties") if scope == "*" else scope


def _export_menu(turn: engine.Turn, choice: Choice, view: str = "") -> tuple[str, list[list[Button]]]:
    """The menu text and buttons; every filter is checked (``ledger.prepare``) on the way."""
    job = ledger.prepare(turn.cw, turn.user, choice.to_filter(), lang=turn.lang)
    lines = [
        turn.t(_("Ledger export for {scope}", scope=_scope_name(job.scope))),
        turn.t(_("Filters: {filters}", filters=job.filter_text())),
        turn.t(_("{n} cases match.", n=job.total)),
    ]
    rows: list[list[Button]] = []
    if view == "s":
        options = [("all", _("All cases")), ("open", _("Open cases")), ("closed", _("Closed cases"))]
        whole = ledger.prepare(turn.cw, turn.user, ledger.LedgerFilter(
            period=choice.to_filter().period, unit=choice.to_filter().unit), lang=turn.lang)
        options += [(s, _(STATE_LABELS[s])) for s in whole.counts]
        buttons = [Button(label, Choice(code, choice.period, choice.unit).data()) for code, label in options]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    elif view == "p":
        today = turn.cw.today()
        options_p: list[tuple[str, Text]] = [("-", _("All time"))]
        for period, label in (
            (month_of(today), _("This month")),
            (month_of(today).previous(), _("Last month")),
            (quarter_of(today), _("This quarter")),
            (quarter_of(today).previous(), _("Last quarter")),
            (year_of(today), _("This year")),
        ):
            options_p.append((_period_code(period), label))
        buttons = [Button(label, Choice(choice.state, code, choice.unit).data()) for code, label in options_p]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    elif view == "u":
        buttons = [Button(_("Whole area"), Choice(choice.state, choice.period, "-").data())]
        for unit, name in ledger.units_in_scope(turn.cw, turn.user)[:30]:
            buttons.append(Button(Text("{name}", {"name": name}), Choice(choice.state, choice.period, unit.code).data()))
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    else:
        rows.append([
            Button(_("State ▸"), choice.data("s")),
            Button(_("Period ▸"), choice.data("p")),
            Button(_("Unit ▸"), choice.data("u")),
        ])
        if job.total:
            rows.append([Button(_("📥 Make the workbook"), choice.data("go"))])
        # the three ledgers of the 2024 notice (made by handlers.child_register)
        rows += [[Button(REGISTER_TITLES[kind], callbacks.RegisterLedger(kind).encode())]
                 for kind in REGISTER_LEDGERS]
    if view in ("s", "p", "u"):
        rows.append([Button(_("« Back"), choice.data())])
    return "\n".join(lines), rows


def export(turn: engine.Turn, args: list[str]) -> None:
    """``/export``: the menu, open cases of the whole area preselected."""
    text, rows = _export_menu(turn, Choice())
    turn.replies.send_text(text, rows)


def tap_export(turn: engine.Turn, tap: callbacks.ExportMenu) -> None:
    """A tap in the export menu: another view of it, or the workbook made (a job)."""
    choice, view = _parse_choice(tap)
    if view == "go":
        job = ledger.prepare(turn.cw, turn.user, choice.to_filter(), lang=turn.lang)
        if not job.total:
            turn.replies.answer(_("No cases match these filters."), alert=True)
            return
        turn.replies.answer(_("Preparing the ledger…"))
        turn.replies.start_job(functools.partial(_export_job, turn.user.id or 0, choice.to_filter(), turn.lang))
        return
    text, rows = _export_menu(turn, choice, view)
    turn.replies.answer()
    turn.replies.edit_message(text, rows)


async def _export_job(user_id: int, filt: ledger.LedgerFilter, lang: str, update: Update,
                      context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_chat is not None:
        await _run_export(context.bot, context.application.bot_data["services"], update.effective_chat.id,
                          user_id, filt, lang)


def _build_ledger(services: Any, user_id: int, filt: ledger.LedgerFilter, lang: str,
                  progress: ledger.Progress) -> tuple[str, bytes, int]:
    """In a worker thread: the workbook, read chunk by chunk; then the audit record."""
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        actor = people.by_id(cw, user_id)
        job = ledger.prepare(cw, actor, filt, lang=lang)
        cw.session.rollback()  # the chunks are read in short transactions of their own
        out = BytesIO()
        rows = export_ledger(cw, actor, job, out, progress=progress, chunk=LEDGER_CHUNK)
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        ledger.record_export(cw, people.by_id(cw, user_id), job)
    scope = job.scope if job.scope != "*" else "all"
    name = f"{ledger.word('title', lang)}_{scope}_{job.today.isoformat()}.xlsx".replace(" ", "_")
    return name, out.getvalue(), rows


async def _run_export(bot: Any, services: Any, chat_id: int, user_id: int,
                      filt: ledger.LedgerFilter, lang: str) -> None:
    message = await bot.send_message(chat_id, _("Preparing the ledger… {pct}%", pct=0).render(lang))
    loop = asyncio.get_running_loop()
    updates: asyncio.Queue[int] = asyncio.Queue()

    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(updates.put_nowait, min(99, done * 100 // max(total, 1)))

    work = asyncio.ensure_future(asyncio.to_thread(_build_ledger, services, user_id, filt, lang, progress))
    shown, last_edit = 0, time.monotonic()
    while not work.done() or not updates.empty():
        try:
            pct = await asyncio.wait_for(updates.get(), timeout=0.25)
        except TimeoutError:
            continue
        now = time.monotonic()
        if pct >= shown + PROGRESS_STEP and now - last_edit >= PROGRESS_MIN_INTERVAL:
            shown, last_edit = pct, now
            await _edit(bot, message, _("Preparing the ledger… {pct}%", pct=pct).render(lang))
    try:
        name, data, rows = await work
    except CaseworkError as err:
        await _edit(bot, message, err.render(lang))
        return
    except Exception:
        log.exception("ledger export failed")
        await _edit(bot, message, _("Sorry, the ledger could not be made. Please try again later.").render(lang))
        return
    await _edit(bot, message, _("The ledger is ready: {n} cases.", n=rows).render(lang))
    # a county's workbook is tens of MB: give the upload time
    await bot.send_document(chat_id, data, filename=name, write_timeout=300, read_timeout=60,
                            caption=_("Ledger: {n} cases. Keep it safe: it holds children's personal data.",
                                      n=rows).render(lang))


async def _edit(bot: Any, message: Any, text: str) -> None:
    """The progress line, edited in place; if it cannot be (the user deleted it), the
    export goes on and the workbook is still sent."""
    try:
        await bot.edit_message_text(text, chat_id=message.chat_id, message_id=message.message_id)
    except TelegramError as err:
        if "not modified" not in str(err).lower():
            log.warning("export progress not shown: %s", err)


# --- a case's forms -------------------------------------------------------------------------


def case_forms(turn: engine.Turn, args: list[str]) -> None:
    """``/forms 12``: the documents case 12 has now, as buttons."""
    case_id = validation.case_number(args[0]) if args else None
    if case_id is None:
        turn.replies.send(_("Which case? For example: /forms 12"))
        return
    case = load_case(turn.cw, turn.user, case_id, "view")
    rows = [[Button(_(forms.FORM_LABELS[f]), callbacks.FormFile(case.id or 0, f).encode())] for f in forms.available(turn.cw, case)]
    turn.replies.send(_("Documents for case #{id} (Word to print, PDF to read):", id=case.id), rows)


def tap_form(turn: engine.Turn, tap: callbacks.FormFile) -> None:
    if tap.form not in forms.FORMS:
        turn.replies.answer(_("That button is no longer in use."))
        return
    case_id, form = tap.case_id, tap.form
    data = forms.load(turn.cw, turn.user, case_id, form)
    turn.replies.answer()
    caption = form_files.caption(form, case_id)
    name, content = form_files.render(data, "docx")
    turn.replies.send_document(name, content, caption)
    try:
        name, content = form_files.render(data, "pdf")
    except FontMissing:
        log.error("no CJK font: PDF not made", exc_info=True)
        turn.replies.send(_("The PDF could not be made on this server (no Chinese font); the Word file is above."))
        return
    # the same form right below the Word file: its name says what it is, no caption twice
    turn.replies.send_document(name, content)


# --- periodic reports -------------------------------------------------------------------------


def _report_period(turn: engine.Turn, words: list[str]) -> Period:
    raw = words[0] if words else "month"
    aliases = {"monthly": "month", "quarterly": "quarter", "月": "month", "月报": "month",
               "季": "quarter", "季报": "quarter", "季度": "quarter"}
    return reports.parse_kind(aliases.get(raw.lower(), raw), today=turn.cw.today())


def _send_report(turn: engine.Turn, period: Period) -> None:
    data = reports.report_data(turn.cw, turn.user, period)
    reports.record_report(turn.cw, turn.user, data)
    lines = [turn.t(reports.headline(data)), *(f"• {turn.t(t)}" for t in reports.figure_lines(data))]
    figures = "\n".join(lines)
    workbook = report_xlsx.filename(data, turn.lang), report_xlsx.write_report(data, turn.lang)
    if len(figures) <= limits.MAX_CAPTION:
        # one message: the figures are the workbook's caption, not a text the caption repeats
        turn.replies.send_document(*workbook, Text("{figures}", {"figures": figures}))
        return
    turn.replies.send_text(figures)
    turn.replies.send_document(*workbook)


def stats(turn: engine.Turn, args: list[str]) -> None:
    """``/stats month`` (also quarter, last-month, 2026-11, 2026Q4): the periodic report."""
    _send_report(turn, _report_period(turn, args))


def tap_report(turn: engine.Turn, tap: callbacks.ReportWorkbook) -> None:
    period = tap.period
    turn.replies.answer()
    _send_report(turn, period)


# --- roster import ---------------------------------------------------------------------------


def import_roster(turn: engine.Turn, args: list[str]) -> None:
    engine.start(turn, roster.FLOW)


# how an upload is read: in a child process under the limits (tests inject a slow reader)
PARSE = tabular.parse_in_process
# threads that wait for those children: their own, so a burst of uploads neither takes the
# workers' threads from everyone's turns nor runs more than two children at once
PARSE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="roster-parse")


def roster_file(turn: engine.Turn, doc: Document | None) -> bool:
    """A document that is a roster file, from someone who may import one (and is not in the
    middle of another flow): read and previewed by a job, True. Anything else is not taken
    here (False): evidence for a report or a visit."""
    if doc is None or not tabular.is_roster_name(doc.file_name) or not _takes_roster(turn):
        return False
    if doc.file_size and doc.file_size > tabular.MAX_BYTES:
        turn.replies.send(_("The file is too large (at most 10 MB)."))
        return True
    turn.replies.start_job(functools.partial(_read_and_preview, doc))
    return True


def _takes_roster(turn: engine.Turn) -> bool:
    if turn.user.role not in IMPORT_ROLES:
        return False
    conv = engine.active_conversation(turn)
    return conv is None or conv.flow == roster.FLOW


async def _read_and_preview(doc: Document, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    telegram_file = await doc.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    filename = doc.file_name or "roster"
    refusal: Text | None = None
    sheet: tabular.Sheet | None = None
    try:
        # blocking (it waits for the child process): in a worker thread, off the event loop
        sheet = await asyncio.get_running_loop().run_in_executor(
            PARSE_POOL, PARSE, filename, data, context.application.bot_data["services"].upload_limits)
    except ValidationError as err:
        refusal = err.text

    def turn_fn(turn: engine.Turn) -> None:
        if sheet is None:
            turn.replies.send(refusal or _("This file could not be read as a roster (XLSX or CSV)."))
            return
        roster.received(turn, filename, sheet.headers, sheet.rows, bad_rows=sheet.bad_rows)

    await run_turn(update, context, turn_fn)


def transfers_waiting(turn: engine.Turn, args: list[str]) -> None:
    """``/transfers``: the transfer requests, and the cases another county hands over,
    waiting for this person's answer."""
    waiting = transfers.pending_for(turn.cw, turn.user)
    offers = handover.pending_for(turn.cw, turn.user)
    if not waiting and not offers:
        turn.replies.send(_("No transfer request is waiting for your answer."))
        return
    for offer in offers:
        turn.replies.send(handover.offer_text(turn.cw, offer), [[
            Button(_("Accept"), callbacks.HandoverAnswer(offer.id or 0, accept=True).encode()),
            Button(_("Reject"), callbacks.HandoverAnswer(offer.id or 0, accept=False).encode())]])
    for req in waiting:
        turn.replies.send(transfers.request_text(turn.cw, req), [[
            Button(_("Accept"), callbacks.TransferAnswer(req.id or 0, accept=True).encode()),
            Button(_("Reject"), callbacks.TransferAnswer(req.id or 0, accept=False).encode())]])
