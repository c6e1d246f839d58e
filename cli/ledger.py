"""``baoxue export`` and ``baoxue import``: the ledger, forms and reports as files, and
roster import, for the operator at the command line::

    baoxue export ledger -o ledger.xlsx                       # every case, numbers masked
    baoxue export ledger --state open --period 2026-11 --unit township:2 --full -o t2.xlsx
    baoxue export form 12 report -o 表5.pdf                   # one case's form (docx or pdf)
    baoxue export report month -o 月报.xlsx                    # also quarter, 2026-11, 2026Q4
    baoxue import roster 花名册.xlsx --school 3                # preview, then confirm
    baoxue import roster roster.csv --school 3 --yes          # no question asked

The operator sees every county; ``--full`` puts ID and phone numbers in full into the
file (the default masks them, as for a township officer). Every export and import is
written to the audit log, marked as made at the command line and by whom: the OS account
running the command, or the bot user named with ``--as`` (their id or exact name). The
files are created readable by their owner only (0600): they hold children's data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

import casework.reports  # noqa: F401  (registers the reports' schedule with the scheduler)
from bot.runtime import Runtime
from casework.errors import CaseworkError
from cli.common import boot_or_exit, export_file

if TYPE_CHECKING:
    from casework.context import Casework, Operator
    from casework.ledger import Unit

export_app = typer.Typer(help="Files: the ledger, a case's forms, periodic reports.",
                         no_args_is_help=True)
import_app = typer.Typer(help="Imports: school rosters.", no_args_is_help=True)

LANG_OPTION = typer.Option("zh_Hans", "--lang", help="zh_Hans or en (headers and labels)")
XLSX_OUTPUT = typer.Option(..., "-o", "--output", help="The .xlsx file to write.")
FORM_OUTPUT = typer.Option(..., "-o", "--output", help="The .docx or .pdf file to write.")
ROSTER_FILE = typer.Argument(..., exists=True, dir_okay=False, help="The roster (.xlsx or .csv).")
AS_OPTION = typer.Option(None, "--as", help="The bot user you act for (id or exact name), for the "
                         "audit log; default: your OS account.")


def _operator(rt: Runtime, as_user: str | None) -> Operator:
    """Who is exporting, for the audit rows: ``--as`` a bot user, or the OS account."""
    import getpass

    from sqlmodel import Session, select

    from casework.context import Operator
    from models.tables import User

    if not as_user:
        try:
            return Operator(f"os:{getpass.getuser()}")
        except (KeyError, OSError):  # no name for this uid (a bare container)
            import os

            return Operator(f"os:uid {os.getuid()}")
    with Session(rt.engine) as session:
        raw = as_user.lstrip("#")
        found = list(session.exec(
            select(User).where(User.id == int(raw)) if raw.isdigit()
            else select(User).where(User.display_name == as_user)
        ).all())
    if len(found) != 1:
        raise typer.BadParameter(
            "no such user" if not found else "several users have that name; give the id",
            param_hint="--as",
        )
    user = found[0]
    return Operator(f"user:{user.id}", user_id=user.id)


def _fail(err: CaseworkError, lang: str) -> typer.Exit:
    typer.echo(err.render(lang), err=True)
    return typer.Exit(1)


def _unit(value: str | None) -> Unit | None:
    from casework.ledger import Unit

    if not value:
        return None
    kind, _sep, raw = value.partition(":")
    if kind not in ("county", "township", "village", "school") or not raw.isdigit():
        raise typer.BadParameter("use KIND:ID, e.g. township:2 or school:3", param_hint="--unit")
    return Unit(kind, int(raw))


@export_app.command("ledger")
def export_ledger_command(
    output: Path = XLSX_OUTPUT,
    state: str = typer.Option("all", help="all, open, closed, or a state (e.g. township_persuasion)."),
    period: str | None = typer.Option(None, help="2026-11, 2026Q4, 2026 or 2026-09-01..2026-11-30."),
    unit: str | None = typer.Option(None, help="KIND:ID: county:1, township:2, village:3, school:4."),
    full: bool = typer.Option(False, "--full", help="ID and phone numbers in full (default: masked)."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """The ledger (台账): a summary sheet and one sheet per state, one row per case."""
    from casework import ledger
    from casework.disclosure import Disclosure
    from casework.periods import parse_period
    from documents.ledger_xlsx import export_ledger

    rt = boot_or_exit()

    def prepare(cw: Casework) -> ledger.LedgerJob:
        filt = ledger.LedgerFilter(
            state=state,
            period=parse_period(period, today=cw.today()) if period else None,
            unit=_unit(unit),
        )
        return ledger.prepare(cw, None, filt, lang=lang,
                              disclosure=Disclosure.full() if full else Disclosure.masked())

    export_file(rt, output, operator=_operator(rt, as_user), lang=lang, label="ledger",
                prepare=prepare,
                write=lambda cw, job, out, progress: export_ledger(cw, None, job, out, progress=progress),
                record=lambda cw, job: ledger.record_export(cw, None, job),
                done=lambda job, rows: f"{rows} cases written to {output} ({job.disclosure.code})")


@export_app.command("form")
def export_form_command(
    case_id: int = typer.Argument(..., help="The case number."),
    form: str = typer.Argument(..., help="register, school_record, township_record, report, notice or deferral."),
    output: Path = FORM_OUTPUT,
    full: bool = typer.Option(False, "--full", help="ID and phone numbers in full (default: masked)."),
    as_user: str | None = AS_OPTION,
) -> None:
    """One case's form (一生一表, 表3/表4, 表5, the notice, 表6), as DOCX or PDF."""
    from bot.private_files import write_private
    from casework.clock import SystemClock
    from casework.disclosure import Disclosure
    from casework.uow import unit_of_work
    from documents import forms as form_files

    fmt = output.suffix.lower().lstrip(".")
    if fmt not in form_files.FORMATS:
        raise typer.BadParameter("the file must end in .docx or .pdf", param_hint="--output")
    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            name, data = form_files.make(cw, None, case_id, form, fmt,
                                         disclosure=Disclosure.full() if full else Disclosure.masked())
    except CaseworkError as err:
        raise _fail(err, "zh_Hans") from err
    write_private(output, data)
    typer.echo(f"{name} written to {output}")


@export_app.command("report")
def export_report_command(
    period: str = typer.Argument("month", help="month, quarter, last-month, 2026-11, 2026Q4…"),
    output: Path = XLSX_OUTPUT,
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """The periodic report workbook for every county (the bot also sends it on schedule)."""
    from bot.private_files import write_private
    from casework import reports
    from casework.clock import SystemClock
    from casework.uow import unit_of_work
    from documents import report_xlsx

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            data = reports.report_data(cw, None, reports.parse_kind(period, today=cw.today()))
            reports.record_report(cw, None, data)
    except CaseworkError as err:
        raise _fail(err, lang) from err
    write_private(output, report_xlsx.write_report(data, lang))
    for line in (reports.headline(data), *reports.figure_lines(data)):
        typer.echo(line.render(lang))


@import_app.command("roster")
def import_roster_command(
    file: Path = ROSTER_FILE,
    school: int = typer.Option(..., "--school", help="The school's id."),
    yes: bool = typer.Option(False, "--yes", help="Import without asking after the preview."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Import a school's roster: a preview with every row's errors, then all valid rows
    in one transaction, or nothing."""
    from casework import roster_import
    from casework.clock import SystemClock
    from casework.i18n import _
    from casework.uow import unit_of_work
    from documents import tabular

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    clock = SystemClock()
    try:
        sheet = tabular.read_table(file.name, file.read_bytes())
        with unit_of_work(rt.engine, clock, rt.policy) as cw:
            plan = roster_import.plan(cw, None, school, sheet.headers, sheet.rows)
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(_(
        "{file}: {total} rows — {add} to add, {update} to update, {same} unchanged, "
        "{errors} with errors.",
        file=file.name, total=len(plan.rows), add=plan.count("add"), update=plan.count("update"),
        same=plan.count("unchanged"), errors=plan.count("error"),
    ).render(lang))
    for row in plan.errors:
        reasons = "; ".join(t.render(lang) for t in row.errors)
        typer.echo(f"  row {row.number} ({row.name or '—'}): {reasons}")
    if not plan.valid:
        typer.echo("nothing to import", err=True)
        raise typer.Exit(1)
    if not yes and not typer.confirm(f"Import {len(plan.valid)} rows into {plan.school}?"):
        typer.echo("nothing imported")
        raise typer.Exit(0)
    try:
        with unit_of_work(rt.engine, clock, rt.policy, operator=operator) as cw:
            result = roster_import.apply(cw, None, school, sheet.headers, sheet.rows,
                                         plan.fingerprint())
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"imported into {result.school}: {result.count('add')} added, "
               f"{result.count('update')} updated, {result.count('error')} rows left out")
