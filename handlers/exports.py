"""Files from the bot: the ledger (``/export``), a case's forms (``/forms 12``), the
periodic report (``/report month``), roster import (``/import`` or just send the file) and
the transfer requests waiting for one's answer (``/transfers``).

Registered by ``register`` (one line in ``handlers/__init__``), ahead of the general
handlers so that ``/report month`` and a roster file reach this module while a bare
``/report`` and any other document still go where they went before.

Buttons: ``xp:<state>:<period>:<unit>:<view>`` (the export menu: every filter is in the
data, checked again on the server), ``doc:<case>:<form>``, ``rpt:<kind>:<period>``.

A ledger can take a while for a county: it is made in a worker thread, its own read-only
transactions chunk by chunk, while the message "Preparing the ledger… 40%" is edited as
it goes; the bot keeps answering everyone else meanwhile. A roster file likewise: it is
downloaded and read in a task of its own, the reading in a child process under hard limits
(``tabular.parse_in_process``), and the preview comes when it is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any

from sqlmodel import Session, col, select
from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.documents import forms as form_files
from bot.documents import report_xlsx, tabular
from bot.documents.fonts import FontMissing
from bot.documents.ledger_xlsx import export_ledger
from casework import forms, ledger, reports, roster_import, transfers, validation
from casework.context import Casework
from casework.errors import CaseworkError, ValidationError
from casework.i18n import Text, _
from casework.labels import STATE_LABELS
from casework.ladder import load_case
from casework.periods import Period, month_of, parse_period, quarter_of, year_of
from casework.uow import unit_of_work
from conversations import engine
from conversations.flows import roster
from conversations.replies import Button
from handlers.ptb import BotApplication
from handlers.turns import inline, load_user, run_turn
from models.tables import User

log = logging.getLogger(__name__)

# progress edits: at most one per step of this many percent, and per this many seconds
# (Telegram allows about one edit a second per chat; tests set the interval to 0)
PROGRESS_STEP = 10
PROGRESS_MIN_INTERVAL = 1.5
LEDGER_CHUNK = ledger.CHUNK  # cases read per transaction (and per progress step)
# exports and roster previews in flight, so shutdown and tests can wait for them
RUNNING: set[asyncio.Task[Any]] = set()


def register(application: BotApplication) -> None:
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    # "/report month": before the general /report (which starts reporting a dropout)
    application.add_handler(
        MessageHandler(private & filters.Regex(r"^/report(@\w+)?\s+\S"), report_command)
    )
    application.add_handler(CommandHandler("export", export_command, private))
    application.add_handler(CommandHandler("forms", forms_command, private))
    application.add_handler(CommandHandler("import", import_command, private))
    application.add_handler(CommandHandler("transfers", transfers_command, private))
    application.add_handler(CallbackQueryHandler(button, pattern=r"^(xp|doc|rpt):"))
    application.add_handler(MessageHandler(private & filters.Document.ALL, document))


async def wait_for_exports() -> None:
    """Wait until every export started so far has been sent (tests, shutdown)."""
    while RUNNING:
        await asyncio.gather(*list(RUNNING), return_exceptions=True)


def _services(context: ContextTypes.DEFAULT_TYPE) -> Any:
    return context.application.bot_data["services"]


def _command(fn: Any) -> Any:
    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = [validation.clean_text(a) for a in context.args or []]
        await run_turn(update, context, lambda turn: fn(turn, args))

    callback.__name__ = fn.__name__
    return callback


# --- the ledger -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The export menu's state, as carried in its buttons."""

    state: str = "open"
    period: str = "-"  # "-" all time, or m2026-11 / q2026Q4 / y2026
    unit: str = "-"  # "-" the whole area, or t2 / s3 / v4 / c1

    def data(self, view: str = "") -> str:
        value = f"xp:{self.state}:{self.period}:{self.unit}:{view}"
        assert len(value.encode()) <= 64, value
        return value

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


def _parse_choice(parts: list[str]) -> tuple[Choice, str]:
    if len(parts) != 4:
        raise ValidationError("data", _("That button is no longer in use."))
    return Choice(parts[0], parts[1], parts[2]), parts[3]


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
    if view in ("s", "p", "u"):
        rows.append([Button(_("« Back"), choice.data())])
    return "\n".join(lines), rows


def _export(turn: engine.Turn, args: list[str]) -> None:
    """``/export``: the menu, open cases of the whole area preselected."""
    text, rows = _export_menu(turn, Choice())
    turn.replies.send_text(text, rows)


async def _on_export_tap(update: Update, context: ContextTypes.DEFAULT_TYPE, parts: list[str]) -> None:
    query = update.callback_query
    assert query is not None
    shown: dict[str, Any] = {}

    def turn_fn(turn: engine.Turn) -> None:
        choice, view = _parse_choice(parts)
        if view == "go":
            job = ledger.prepare(turn.cw, turn.user, choice.to_filter(), lang=turn.lang)
            if not job.total:
                turn.replies.answer(_("No cases match these filters."), alert=True)
                return
            turn.replies.answer(_("Preparing the ledger…"))
            shown["job"] = (turn.user.id, choice.to_filter(), turn.lang)
            return
        shown["menu"] = _export_menu(turn, choice, view)
        shown["lang"] = turn.lang
        turn.replies.answer()

    await run_turn(update, context, turn_fn)
    if "menu" in shown:
        text, rows = shown["menu"]
        try:
            await query.edit_message_text(text, reply_markup=inline(rows, shown["lang"]))
        except BadRequest as err:
            if "not modified" in str(err).lower():
                return
            # the menu message is gone (or can no longer be edited): the menu comes anew
            log.warning("export menu not edited (%s); sent anew", err)
            if update.effective_chat is not None:
                await context.bot.send_message(update.effective_chat.id, text,
                                               reply_markup=inline(rows, shown["lang"]))
    elif "job" in shown and update.effective_chat is not None:
        user_id, filt, lang = shown["job"]
        task = asyncio.create_task(
            _run_export(context.bot, _services(context), update.effective_chat.id, user_id, filt, lang)
        )
        RUNNING.add(task)
        task.add_done_callback(RUNNING.discard)


def _build_ledger(services: Any, user_id: int, filt: ledger.LedgerFilter, lang: str,
                  progress: ledger.Progress) -> tuple[str, bytes, int]:
    """In a worker thread: the workbook, read chunk by chunk; then the audit record."""
    with Session(services.engine, expire_on_commit=False) as session:
        cw = Casework(session, services.clock, services.policy)
        actor = session.get(User, user_id)
        assert actor is not None
        job = ledger.prepare(cw, actor, filt, lang=lang)
        session.rollback()
        out = BytesIO()
        rows = export_ledger(cw, actor, job, out, progress=progress, chunk=LEDGER_CHUNK)
    with unit_of_work(services.engine, services.clock, services.policy) as cw:
        actor = cw.session.get(User, user_id)
        ledger.record_export(cw, actor, job)
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


def _forms(turn: engine.Turn, args: list[str]) -> None:
    """``/forms 12``: the documents case 12 has now, as buttons."""
    case_id = validation.case_number(args[0]) if args else None
    if case_id is None:
        turn.replies.send(_("Which case? For example: /forms 12"))
        return
    case = load_case(turn.cw, turn.user, case_id, "view")
    rows = [[Button(_(forms.FORM_LABELS[f]), f"doc:{case.id}:{f}")] for f in forms.available(turn.cw, case)]
    turn.replies.send(_("Documents for case #{id} (Word to print, PDF to read):", id=case.id), rows)


def _send_form(turn: engine.Turn, parts: list[str]) -> None:
    case_id = validation.parse_id(parts[0]) if len(parts) == 2 else None
    if case_id is None or parts[1] not in forms.FORMS:
        turn.replies.answer(_("That button is no longer in use."))
        return
    form = parts[1]
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
    turn.replies.send_document(name, content, caption)


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
    turn.replies.send_text("\n".join(lines))
    turn.replies.send_document(report_xlsx.filename(data, turn.lang), report_xlsx.write_report(data, turn.lang),
                               reports.headline(data))


async def report_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/report month`` (also quarter, last-month, 2026-11, 2026Q4)."""
    text = update.effective_message.text if update.effective_message else ""
    words = (text or "").split()[1:]
    await run_turn(update, context, lambda turn: _send_report(turn, _report_period(turn, words)))


def _report_tap(turn: engine.Turn, parts: list[str]) -> None:
    if len(parts) != 2:
        turn.replies.answer(_("That button is no longer in use."))
        return
    period = reports.period_from_button(parts[0], parts[1])
    turn.replies.answer()
    _send_report(turn, period)


# --- roster import ---------------------------------------------------------------------------


def _import(turn: engine.Turn, args: list[str]) -> None:
    engine.start(turn, roster.FLOW)


# how an upload is read: in a child process under the limits (tests inject a slow reader)
PARSE = tabular.parse_in_process
# threads that wait for those children: their own, so a burst of uploads neither takes the
# default executor's threads from everyone's turns nor runs more than two children at once
PARSE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="roster-parse")


async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A document: a roster file for someone who may import one (and is not in the middle
    of another flow) is read and previewed; anything else goes on to the general handler
    (evidence for a report or a visit).

    Updates are handled one at a time, so the download and the reading run as a task of
    their own (the ledger's pattern): everyone else's messages are answered meanwhile, and
    the preview comes when the file has been read."""
    from handlers import commands

    msg = update.effective_message
    doc = msg.document if msg is not None else None
    tg = update.effective_user
    if doc is None or tg is None or not tabular.is_roster_name(doc.file_name) or not _takes_roster(context, tg.id):
        await commands.message(update, context)
        return
    if doc.file_size and doc.file_size > tabular.MAX_BYTES:
        await run_turn(update, context, lambda t: t.replies.send(_("The file is too large (at most 10 MB).")))
        return
    task = asyncio.create_task(_read_roster(update, context, doc))
    RUNNING.add(task)
    task.add_done_callback(RUNNING.discard)


async def _read_roster(update: Update, context: ContextTypes.DEFAULT_TYPE, doc: Any) -> None:
    try:
        await _read_and_preview(update, context, doc)
    except Exception as err:  # to the error handler, as if the handler had raised it
        await context.application.process_error(update, err)


async def _read_and_preview(update: Update, context: ContextTypes.DEFAULT_TYPE, doc: Any) -> None:
    telegram_file = await doc.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    filename = doc.file_name or "roster"
    refusal: Text | None = None
    sheet: tabular.Sheet | None = None
    try:
        # blocking (it waits for the child process): in a worker thread, off the event loop
        sheet = await asyncio.get_running_loop().run_in_executor(
            PARSE_POOL, PARSE, filename, data, _services(context).upload_limits)
    except ValidationError as err:
        refusal = err.text

    def turn_fn(turn: engine.Turn) -> None:
        if sheet is None:
            turn.replies.send(refusal or _("This file could not be read as a roster (XLSX or CSV)."))
            return
        roster.received(turn, filename, sheet.headers, sheet.rows, bad_rows=sheet.bad_rows)

    await run_turn(update, context, turn_fn)


def _transfers(turn: engine.Turn, args: list[str]) -> None:
    """``/transfers``: the transfer requests waiting for this person's answer."""
    waiting = transfers.pending_for(turn.cw, turn.user)
    if not waiting:
        turn.replies.send(_("No transfer request is waiting for your answer."))
        return
    for req in waiting:
        turn.replies.send(transfers.request_text(turn.cw, req), [[
            Button(_("Accept"), f"trf:ok:{req.id}"), Button(_("Reject"), f"trf:no:{req.id}")]])


def _takes_roster(context: ContextTypes.DEFAULT_TYPE, telegram_id: int) -> bool:
    from models.tables import ConversationState

    services = _services(context)
    with Session(services.engine) as session:
        user = load_user(session, telegram_id)
        if user is None or not user.active or user.role not in roster_import.IMPORT_ROLES:
            return False
        latest = session.exec(
            select(ConversationState.flow)
            .where(ConversationState.user_id == user.id)
            .order_by(col(ConversationState.updated_at).desc(), col(ConversationState.id).desc())
            .limit(1)
        ).first()
        return latest is None or latest == roster.FLOW


# --- buttons ---------------------------------------------------------------------------------


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    if update.effective_chat is None or update.effective_chat.type != ChatType.PRIVATE:
        await query.answer()
        return
    head, _sep, rest = (query.data or "").partition(":")
    parts = rest.split(":") if rest else []
    if head == "xp":
        await _on_export_tap(update, context, parts)
    elif head == "doc":
        await run_turn(update, context, lambda turn: _send_form(turn, parts))
    else:
        await run_turn(update, context, lambda turn: _report_tap(turn, parts))


export_command = _command(_export)
forms_command = _command(_forms)
import_command = _command(_import)
transfers_command = _command(_transfers)
