"""``baoxue register``: the register of school-age children (适龄儿童台账) at the command line::

    baoxue register import 户籍.xlsx --county 1           # preview, then confirm
    baoxue register import 户籍.csv --county 1 --yes      # no question asked
    baoxue register export children -o 适龄儿童台账.xlsx   # also suspected, dropout; --full
    baoxue register duplicates                           # possible duplicate records
    baoxue register merge 12 34 --yes                    # merge record 34 into 12

The operator sees every county; exports mask ID and phone numbers unless ``--full``.
Every import, export and merge is audited as made at the command line, by the OS account
or the bot user named with ``--as``; files are written readable by their owner only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer

from casework.errors import CaseworkError
from cli.common import Progress, boot_or_exit, export_file
from cli.ledger import AS_OPTION, LANG_OPTION, XLSX_OUTPUT, _fail, _operator

if TYPE_CHECKING:
    from casework.context import Casework

register_app = typer.Typer(help="The register of school-age children, its ledgers, duplicates.",
                           no_args_is_help=True)
EXTRACT = typer.Argument(..., exists=True, dir_okay=False, help="The extract (.xlsx or .csv).")


@register_app.command("import")
def import_command(
    file: Path = EXTRACT,
    county: int = typer.Option(..., "--county", help="The county's id."),
    yes: bool = typer.Option(False, "--yes", help="Import without asking after the preview."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Import a household-register extract: every row checked, then all rows or nothing."""
    from casework import register
    from casework.clock import SystemClock
    from casework.uow import unit_of_work
    from documents import tabular

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    clock = SystemClock()
    try:
        # a county's extract: more rows than a school's roster (the bot's upload limits)
        limits = tabular.UploadLimits(rows=register.MAX_ROWS, cells=register.MAX_ROWS * 20,
                                      uncompressed_bytes=200 * tabular.MB,
                                      shared_strings_bytes=64 * tabular.MB)
        sheet = tabular.read_table(file.name, file.read_bytes(), limits)
        with unit_of_work(rt.engine, clock, rt.policy) as cw:
            plan = register.plan(cw, None, county, sheet.headers, sheet.rows)
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"{file.name}: {len(plan.rows)} rows — {plan.count('add')} to add, "
               f"{plan.count('update')} to update, {plan.count('unchanged')} unchanged, "
               f"{plan.count('skip')} not of school age, {len(plan.errors)} with errors")
    for row in plan.errors:
        reasons = "; ".join(t.render(lang) for t in row.errors)
        typer.echo(f"  row {row.number} ({row.name or '—'}): {reasons}")
    if not plan.importable:
        typer.echo("nothing imported: correct the rows with errors" if plan.errors
                   else "nothing to import", err=True)
        raise typer.Exit(1)
    if not yes and not typer.confirm("Import these rows into the register?"):
        typer.echo("nothing imported")
        raise typer.Exit(0)
    try:
        with unit_of_work(rt.engine, clock, rt.policy, operator=operator) as cw:
            result = register.apply(cw, None, county, sheet.headers, sheet.rows, plan.fingerprint())
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"register: {result.count('add')} added, {result.count('update')} updated, "
               f"{result.count('skip')} not of school age left out")


@register_app.command("export")
def export_command(
    kind: str = typer.Argument(..., help="children (适龄儿童台账), suspected (疑似辍学台账) or "
                               "dropout (辍学台账)."),
    output: Path = XLSX_OUTPUT,
    full: bool = typer.Option(False, "--full", help="ID and phone numbers in full (default: masked)."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """One of the three ledgers of the 2024 notice as a workbook."""
    from casework import register_ledgers
    from casework.disclosure import Disclosure
    from documents import register_xlsx

    rt = boot_or_exit()

    def write(cw: Casework, job: register_ledgers.Job, out: BinaryIO, _progress: Progress) -> int:
        out.write(register_xlsx.export(cw, None, job))
        return job.rows

    export_file(rt, output, operator=_operator(rt, as_user), lang=lang,
                prepare=lambda cw: register_ledgers.prepare(
                    cw, None, kind, lang=lang,
                    disclosure=Disclosure.full() if full else Disclosure.masked()),
                write=write,
                record=lambda cw, job: register_ledgers.record_export(cw, None, job),
                done=lambda job, rows: f"{rows} rows written to {output} ({job.disclosure.code})")


@register_app.command("duplicates")
def duplicates_command(as_user: str | None = AS_OPTION) -> None:
    """Possible duplicate records of every county (same name and birth date, or same name
    and guardian phone)."""
    from casework import duplicates
    from casework.clock import SystemClock
    from casework.uow import unit_of_work

    rt = boot_or_exit()
    with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=_operator(rt, as_user)) as cw:
        pairs = duplicates.candidates(cw, None)
        for p in pairs:
            typer.echo(f"#{p.keep.id} {p.keep.name} {p.keep.birth_date} ~ #{p.drop.id} {p.drop.name} "
                       f"{p.drop.birth_date} ({p.why})")
    if not pairs:
        typer.echo("no possible duplicates")


@register_app.command("merge")
def merge_command(
    keep: int = typer.Argument(..., help="The record kept."),
    drop: int = typer.Argument(..., help="The record merged into it and deleted."),
    yes: bool = typer.Option(False, "--yes", help="Merge without asking."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Merge one record into another: its cases, guardians and attendance move; audited."""
    from casework import duplicates
    from casework.clock import SystemClock
    from casework.uow import unit_of_work

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    clock = SystemClock()
    try:
        with unit_of_work(rt.engine, clock, rt.policy) as cw:
            plan = duplicates.preview(cw, None, keep, drop)
            typer.echo(f"merge #{drop} {plan.drop.name} into #{keep} {plan.keep.name}: "
                       f"{plan.cases} cases, {plan.guardians} guardians move")
        if not yes and not typer.confirm("Merge?"):
            typer.echo("nothing merged")
            raise typer.Exit(0)
        with unit_of_work(rt.engine, clock, rt.policy, operator=operator) as cw:
            duplicates.merge(cw, None, keep, drop)
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"merged #{drop} into #{keep}")
