"""``baoxue verification`` and ``baoxue export verification``: verification rounds (核查)
at the command line::

    baoxue verification import 核查名单.xlsx --name 2026秋第一批 --due 2026-12-18 --county 1
    baoxue verification sample --size 30 --name 2026Q4复核 --due 2026-12-31 --county 1
    baoxue verification list
    baoxue export verification 3 -o 核查结果.xlsx          # or .csv

The import is all or nothing (the bad rows listed); the people who verify are told in
the bot. The export is the list in the province's columns with each child's disposition,
evidence count, verifier and reviewer: the file the county sends up. Both are audited as
made at the command line, by the OS account or the bot user named with ``--as``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer

from casework.errors import CaseworkError
from cli.common import Progress, boot_or_exit, export_file
from cli.ledger import AS_OPTION, LANG_OPTION, _fail, _operator, export_app

if TYPE_CHECKING:
    from casework.context import Casework

verification_app = typer.Typer(help="Verification rounds (核查): suspect lists and re-checks.",
                               no_args_is_help=True)
LIST_FILE = typer.Argument(..., exists=True, dir_okay=False, help="The list (.xlsx or .csv).")
DUE_OPTION = typer.Option(..., "--due", help="The date the list must go back up (2026-12-18).")
OUTPUT_OPTION = typer.Option(..., "-o", "--output", help="The .xlsx or .csv file to write.")
COUNTY_OPTION = typer.Option(None, "--county", help="The county's id (default: the only one).")


def _county(rt: object, county: int | None) -> int | None:
    from sqlmodel import Session, select

    from models.tables import County

    if county is not None:
        return county
    with Session(rt.engine) as session:  # type: ignore[attr-defined]
        ids = list(session.exec(select(County.id)).all())
    return ids[0] if len(ids) == 1 else None


def _due(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint="--due") from err


@verification_app.command("import")
def import_command(
    file: Path = LIST_FILE,
    name: str = typer.Option(..., "--name", help="The round's name."),
    due: str = DUE_OPTION,
    county: int | None = COUNTY_OPTION,
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Import a suspect list as a round: matched, assigned, the units told."""
    from casework.clock import SystemClock
    from casework.uow import unit_of_work
    from casework.verification import importing
    from documents import tabular
    from documents.verification_xlsx import list_limits

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        sheet = tabular.read_table(file.name, file.read_bytes(), list_limits())
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            out = importing.import_round(cw, None, name=name, due_on=_due(due), headers=sheet.headers,
                                         rows=sheet.rows, county_id=_county(rt, county), file_name=file.name)
            round_id = out.round.id
            said = out.summary().render(lang)
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"#{round_id} {said}")


@verification_app.command("sample")
def sample_command(
    size: int = typer.Option(..., "--size", help="How many suspected and closed cases to re-check."),
    name: str = typer.Option(..., "--name", help="The round's name."),
    due: str = DUE_OPTION,
    county: int | None = COUNTY_OPTION,
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Draw the quarterly re-check: a random sample of suspected and closed cases, as a round."""
    from casework.clock import SystemClock
    from casework.uow import unit_of_work
    from casework.verification import sample

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            out = sample.draw_sample(cw, None, size=size, name=name, due_on=_due(due),
                                     county_id=_county(rt, county))
            round_id, rows = out.round.id, out.rows
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"#{round_id} {name}: {rows} case(s) to re-check, due {due}")


@verification_app.command("list")
def list_command() -> None:
    """The rounds: id, name, due date, children, verified, approved."""
    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from models.tables import VerificationEntry, VerificationRound

    rt = boot_or_exit()
    with Session(rt.engine) as session:
        for rnd in session.exec(select(VerificationRound).order_by(col(VerificationRound.id))).all():
            counts = dict(session.exec(select(VerificationEntry.status, func.count())
                                       .where(VerificationEntry.round_id == rnd.id)
                                       .group_by(col(VerificationEntry.status))).all())
            total = sum(n for s, n in counts.items() if s != "duplicate")
            done = counts.get("proposed", 0) + counts.get("approved", 0)
            typer.echo(f"#{rnd.id}\t{rnd.name}\tdue {rnd.due_on}\t{rnd.source}\t"
                       f"{done}/{total} verified\t{counts.get('approved', 0)} approved")


@export_app.command("verification")
def export_verification_command(
    round_id: int = typer.Argument(..., help="The round's id (baoxue verification list)."),
    output: Path = OUTPUT_OPTION,
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """A round's list in the province's columns, with every child's disposition."""
    from casework.verification import export
    from documents.verification_xlsx import write_csv, write_xlsx

    fmt = output.suffix.lower()
    if fmt not in (".xlsx", ".csv"):
        raise typer.BadParameter("the file must end in .xlsx or .csv", param_hint="--output")
    rt = boot_or_exit()

    def write(cw: Casework, job: export.ExportJob, out: BinaryIO, _progress: Progress) -> int:
        rows = export.rows(cw, None, job, lang)  # audited as they are read
        return (write_xlsx(job.headers, rows, out, title=job.round.name) if fmt == ".xlsx"
                else write_csv(job.headers, rows, out))

    export_file(rt, output, operator=_operator(rt, as_user), lang=lang,
                prepare=lambda cw: export.prepare(cw, None, round_id, lang), write=write,
                done=lambda _job, count: f"{count} children written to {output}")
