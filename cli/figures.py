"""``baoxue report kpi``: the figures the bureau is judged by, at the command line::

    baoxue report kpi                                   # this month, every county
    baoxue report kpi --period 2026Q4 --township 2      # one township, one quarter
    baoxue report kpi --period 2026 --as 17 -o kpi.xlsx # as bot user 17 sees them, and a file

The operator sees every county; ``--as`` a bot user computes the figures in that user's
scope (a township officer's are their township's, by the one scope rule) and names them
in the audit log. The definitions are in ``casework.figures``; the digests and the report
workbooks show the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import boot_or_exit
from cli.ledger import AS_OPTION, LANG_OPTION, _fail, _operator

report_app = typer.Typer(help="Figures: the indicators the bureau is judged by.",
                         no_args_is_help=True)
OUTPUT_OPTION = typer.Option(None, "-o", "--output", help="Also write an .xlsx file.")


@report_app.command("kpi")
def report_kpi_command(
    period: str = typer.Option("month", help="month, quarter, year, last-month, 2026-11, 2026Q4, "
                               "2026, 2026-09-01..2026-11-30."),
    township: int | None = typer.Option(None, help="Narrow to one township (its id)."),
    output: Path | None = OUTPUT_OPTION,
    lang: str = LANG_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Reporting delay, time to return and to closing, deadlines met, yield per step,
    re-dropout and caseload, for a period."""
    from bot.private_files import write_private
    from casework import figures
    from casework.clock import SystemClock
    from casework.errors import CaseworkError
    from casework.i18n import Text, _
    from casework.labels import STATE_LABELS
    from casework.periods import parse_period
    from casework.uow import unit_of_work
    from documents import figures_xlsx
    from models.tables import User

    rt = boot_or_exit()
    operator = _operator(rt, as_user)
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy, operator=operator) as cw:
            actor = (cw.session.get(User, operator.user_id)
                     if operator.user_id is not None else None)
            chosen = parse_period(period, today=cw.today())
            fig = figures.for_period(cw, actor, chosen, township_id=township)
            cw.audit(actor, "report.kpi", "report", None, period=chosen.code, township=township,
                     via="cli")
            generated = cw.now().astimezone(cw.policy.tz).strftime("%Y-%m-%d %H:%M")
    except CaseworkError as err:
        raise _fail(err, lang) from err
    span = f"{chosen.start.isoformat()} – {chosen.end.isoformat()}"
    typer.echo(_("Figures for {scope}, {period}", scope=fig.scope, period=span).render(lang))
    def level_name(level: str) -> Text:
        return _(STATE_LABELS[level]) if level in STATE_LABELS else Text(level)

    for line in figures.text_lines(fig, level_name):
        typer.echo(line.render(lang))
    if output is not None:
        write_private(output, figures_xlsx.write_workbook(fig, lang, span, generated))
        typer.echo(f"{output} written")
