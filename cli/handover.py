"""``baoxue handover``: a case handed over to a county of another deployment, as a file::

    baoxue handover export 12 --to 松溪县 --address "松溪县岭下乡东坑村12号" -o 12.json
    baoxue handover import 12.json --county SX      # on the other side: offered to its officers
    baoxue handover answer 3 accepted               # back here: the other side took it

Within one deployment a case is offered to the other county in the bot and needs no file
(``casework.handover.offer``). The file is versioned JSON with the child's record and the
case's whole history, ID and phone numbers in full: it is written readable by its owner
only (0600), and every export, import and answer is in the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import boot_or_exit
from cli.ledger import AS_OPTION, LANG_OPTION, _fail, _operator

handover_app = typer.Typer(help="Hand-over of a case to a county of another deployment.",
                           no_args_is_help=True)
JSON_OUTPUT = typer.Option(..., "-o", "--output", help="The .json file to write.")
JSON_FILE = typer.Argument(..., exists=True, dir_okay=False, help="The hand-over file (.json).")


@handover_app.command("export")
def handover_export(
    case_id: int = typer.Argument(..., help="The case number."),
    to: str = typer.Option(..., "--to", help="The receiving county, as it is called."),
    address: str = typer.Option(..., "--address", help="The child's new address there."),
    output: Path = JSON_OUTPUT,
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Write a case and its history for another deployment; the case stays open here."""
    from bot.private_files import write_private
    from casework import handover
    from casework.clock import SystemClock
    from casework.errors import CaseworkError
    from casework.uow import unit_of_work
    from models.tables import User

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            actor = cw.session.get(User, operator.user_id) if operator.user_id is not None else None
            record, data = handover.export_case(cw, actor, case_id, to_county=to, new_address=address)
            number = record.id
    except CaseworkError as err:
        raise _fail(err, lang) from err
    write_private(output, json.dumps(data, ensure_ascii=False, indent=1).encode())
    typer.echo(f"hand-over {number}: case {case_id} written to {output}; it stays open until "
               f"`baoxue handover answer {number} accepted`")


@handover_app.command("import")
def handover_import(
    file: Path = JSON_FILE,
    county: str = typer.Option(..., "--county", help="The receiving county here: its code or id."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Offer a case from another deployment to a county's officers (they accept in the bot)."""
    from sqlmodel import or_, select

    from casework import handover
    from casework.clock import SystemClock
    from casework.errors import CaseworkError
    from casework.uow import unit_of_work
    from models.tables import County

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        typer.echo(f"{file}: not a JSON file ({err})", err=True)
        raise typer.Exit(1) from err
    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            found = cw.session.exec(select(County).where(or_(
                County.code == county, County.id == (int(county) if county.isdigit() else -1)))).first()
            if found is None:
                typer.echo(f"no county {county!r}", err=True)
                raise typer.Exit(1)
            record = handover.import_file(cw, data, found.id or 0)
            told = len(handover.receivers(cw, found.id or 0))
            number, name = record.id, found.name
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"hand-over {number} offered to {name} ({told} officers told)")


@handover_app.command("answer")
def handover_answer(
    handover_id: int = typer.Argument(..., help="The hand-over number the export printed."),
    answer: str = typer.Argument(..., help="accepted or rejected: what the other side decided."),
    note: str | None = typer.Option(None, help="A note for the record."),
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Record the other deployment's answer: accepted closes the case here as handed over."""
    from casework import handover
    from casework.clock import SystemClock
    from casework.errors import CaseworkError
    from casework.uow import unit_of_work
    from models.tables import User

    if answer not in ("accepted", "rejected"):
        raise typer.BadParameter("accepted or rejected", param_hint="ANSWER")
    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            actor = cw.session.get(User, operator.user_id) if operator.user_id is not None else None
            record = handover.record_answer(cw, actor, handover_id, accepted=answer == "accepted",
                                            note=note)
            case_id = record.case_id
    except CaseworkError as err:
        raise _fail(err, lang) from err
    typer.echo(f"hand-over {handover_id}: {answer}; case {case_id} "
               + ("closed as handed over" if answer == "accepted" else "stays open"))
