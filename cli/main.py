"""The ``baoxue`` command line: database, demo data, policies, cases.

Run ``baoxue --help`` for the list. Settings come from the environment or ``.env``
(see ``bot.settings``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from sqlmodel import Session, col, select

from bot.runtime import ENCRYPTION_KEY_MISSING, StartupError
from bot.settings import Settings, get_settings
from casework.clock import FrozenClock, SystemClock
from casework.errors import CaseworkError, PolicyError
from casework.i18n import _
from casework.labels import STATE_LABELS
from casework.personal import Cipher
from cli.common import boot_or_exit
from cli.figures import report_app
from cli.handover import handover_app
from cli.keys import key_rotate
from cli.ledger import export_app, import_app
from cli.outbox import outbox_app
from cli.people import invite_list, invite_revoke, user_app
from cli.register import register_app
from cli.scheduler import deadlines_app
from cli.verification import verification_app

app = typer.Typer(help="控辍保学 casework bot: administration commands.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The invented demo county.", no_args_is_help=True)
policy_app = typer.Typer(help="Policy profiles.", no_args_is_help=True)
cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
key_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
invite_app = typer.Typer(help="Invitations: the only way into the bot.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(policy_app, name="policy")
app.add_typer(cases_app, name="cases")
app.add_typer(key_app, name="key")
app.add_typer(invite_app, name="invite")
app.add_typer(deadlines_app, name="deadlines")
app.add_typer(outbox_app, name="outbox")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
app.add_typer(handover_app, name="handover")
app.add_typer(register_app, name="register")
app.add_typer(verification_app, name="verification")
key_app.command("rotate")(key_rotate)
app.add_typer(user_app, name="user")
invite_app.command("list")(invite_list)
invite_app.command("revoke")(invite_revoke)

LANG_OPTION = typer.Option("zh_Hans", "--lang", help="zh_Hans or en")
CLASS_OPTION = typer.Option(None, "--class", help="A teacher's class id (repeat for several).")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (creates the database if needed)."""
    rt = boot_or_exit(migrate=True)
    typer.echo(f"database at {rt.engine.url.render_as_string(hide_password=True)} is up to date")


@demo_app.command("seed")
def demo_seed(force: bool = typer.Option(False, help="Seed even if data exists.")) -> None:
    """Seed the invented demo county (users of every role and a dozen cases)."""
    from demo.county import is_seeded, seed_demo
    from sandbox.database import database_kind, mark

    rt = boot_or_exit(migrate=True)
    # seeded into an empty database, the demo county is the sandbox's to run on
    empty = database_kind(rt.engine) == "empty"
    with Session(rt.engine, expire_on_commit=False) as session:
        if is_seeded(session) and not force:
            typer.echo("the database already has data; nothing seeded (use --force to add)")
            return
        now = SystemClock().now()
        world = seed_demo(session, FrozenClock(now), rt.policy)
        if empty:
            mark(session, now, "demo county seeded by baoxue demo seed")
        session.commit()
    typer.echo(
        f"seeded {world.county.name}: {len(world.townships)} townships, {len(world.villages)} "
        f"villages, {len(world.schools)} schools, {len(world.classes)} classes, "
        f"{len(world.students)} students, {len(world.users)} user handles"
    )


@policy_app.command("check")
def policy_check(file: str, lang: str = LANG_OPTION) -> None:
    """Validate a policy file (or a shipped profile's name) and print its ladder in words."""
    from casework.calendars import Calendars
    from casework.policy import describe, resolve

    try:
        policy = resolve(file)
    except PolicyError as err:
        typer.echo(err.render(lang), err=True)
        raise typer.Exit(1) from err
    for line in describe(policy, lang):
        typer.echo(line)
    calendars = Calendars(policy)
    years = sorted({y for t in policy.calendar.terms for y in (t.start.year, t.end.year)})
    for year in years:
        warning = calendars.coverage_warning(year, lang)
        if warning:
            typer.echo(f"! {warning}")


@policy_app.command("diagram")
def policy_diagram(
    file: str,
    out: str = typer.Option("-", "--out", "-o", help="SVG file to write ('-' for stdout)."),
    lang: str = LANG_OPTION,
) -> None:
    """Draw a policy's ladder as an SVG diagram, generated from the profile."""
    from casework.policy import resolve
    from documents.ladder_diagram import ladder_svg

    try:
        policy = resolve(file)
    except PolicyError as err:
        typer.echo(err.render(lang), err=True)
        raise typer.Exit(1) from err
    svg = ladder_svg(policy, lang)
    if out == "-":
        typer.echo(svg, nl=False)
    else:
        with open(out, "w", encoding="utf-8") as f:
            f.write(svg)
        typer.echo(f"wrote {out}")


@cases_app.command("list")
def cases_list(
    state: str | None = typer.Option(None, help="Only cases in this state."),
    lang: str = LANG_OPTION,
) -> None:
    """List cases with their state, round and next deadline (operator view)."""
    from casework.deadlines import WORK_KINDS
    from models.tables import Case, Deadline, School, Student, Village

    rt = boot_or_exit()
    if state is not None and state not in STATE_LABELS:
        typer.echo(f"unknown state {state!r}; one of: {', '.join(STATE_LABELS)}", err=True)
        raise typer.Exit(2)
    with Session(rt.engine) as session:
        query = select(Case).order_by(col(Case.id))
        if state:
            query = query.where(Case.state == state)
        cases = session.exec(query).all()
        if not cases:
            typer.echo("no cases")
            return
        typer.echo(f"{'#':>4}  {'student':<8} {'state':<22} {'rnd':>3}  {'next due (UTC)':<16}  place")
        for case in cases:
            student = session.get(Student, case.student_id)
            due = session.exec(
                select(Deadline.due_at)
                .where(Deadline.case_id == case.id, Deadline.status == "open",
                       col(Deadline.kind).in_(WORK_KINDS))
                .order_by(col(Deadline.due_at))
            ).first()
            place = session.get(School, case.school_id) if case.school_id else None
            village = session.get(Village, case.village_id) if case.village_id else None
            where = " / ".join(x.name for x in (place, village) if x is not None)
            label = _(STATE_LABELS[case.state]).render(lang)
            typer.echo(
                f"{case.id:>4}  {student.name if student else '?':<8} {label:<22} "
                f"{case.current_round:>3}  {due.strftime('%Y-%m-%d %H:%M') if due else '—':<16}  {where}"
            )


def _missing_for_run(settings: Settings) -> list[str]:
    """What ``run`` cannot start without, each as the sentence that says what to set."""
    missing = []
    if not settings.bot_token:
        missing.append(
            "BOT_TOKEN is not set: `baoxue run` runs the bot on Telegram and needs the token "
            "@BotFather gave it. To try the bot without Telegram, start the sandbox instead: "
            "baoxue sandbox (or make run)."
        )
    if settings.env == "production" and not settings.encryption_key:
        missing.append(ENCRYPTION_KEY_MISSING)
    return missing


@app.command("run")
def run() -> None:
    """Run the bot on Telegram (BOT_TOKEN): long polling, or by webhook with WEBHOOK_URL.
    Listens on HOST:PORT for /healthz (and the webhook). The sandbox is ``baoxue sandbox``."""
    settings = get_settings()
    missing = _missing_for_run(settings)
    if missing:  # before anything is created: no database, no key file
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        for line in missing:
            typer.echo(line, err=True)
        raise typer.Exit(2)
    from models import db
    from sandbox.database import database_kind

    rt = boot_or_exit()
    if database_kind(rt.engine) == "sandbox":
        # its invented users carry invented Telegram ids, which real people may have
        message = (
            f"{rt.engine.url.render_as_string(hide_password=True)} is the sandbox's database "
            "(the invented demo county): on Telegram, whoever has one of its invented user ids "
            "would act as that user. Point DATABASE_URL at the county's own database."
        )
        if rt.settings.env == "production":
            typer.echo(message, err=True)
            raise typer.Exit(2)
        logging.getLogger(__name__).warning(message)
    db.upgrade(rt.engine)
    logging.getLogger().setLevel(logging.INFO)
    from bot.runner import run_polling, run_webhook

    try:
        (run_webhook if rt.settings.webhook_url else run_polling)(rt)
    except StartupError as err:  # e.g. webhook mode without a WEBHOOK_SECRET
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err


def _boot_role(*, token: bool, webhook: bool = False) -> Any:
    """The runtime for a role's process, migrated; or exit 2 saying what is missing."""
    settings = get_settings()
    missing = _missing_for_run(settings) if token else []
    if webhook and not settings.webhook_url:
        missing.append("WEBHOOK_URL is not set: `baoxue web` serves Telegram's webhook at "
                       "WEBHOOK_URL/telegram/webhook. For long polling use `baoxue run`.")
    if missing:
        for line in missing:
            typer.echo(line, err=True)
        raise typer.Exit(2)
    from models import db

    rt = boot_or_exit()
    db.upgrade(rt.engine)
    logging.getLogger().setLevel(logging.INFO)
    return rt


@app.command("web")
def web(workers: int = typer.Option(0, "--workers", help="uvicorn worker processes "
                                    "(default WEB_WORKERS, 1).")) -> None:
    """Serve Telegram's webhook (BOT_TOKEN, WEBHOOK_URL, WEBHOOK_SECRET) on HOST:PORT with N
    worker processes, which only answer updates: run `baoxue sender` and `baoxue scheduler`
    beside them."""
    rt = _boot_role(token=True, webhook=True)
    from bot.roles import run_web

    try:
        run_web(rt, workers or rt.settings.web_workers)
    except StartupError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err


@app.command("sender")
def sender() -> None:
    """Deliver the outbox (BOT_TOKEN), paced under Telegram's limits, until stopped. Any
    number may run on one database: they share the pacing and send each message once."""
    rt = _boot_role(token=True)
    from bot.roles import run_until_signalled, serve_sender

    run_until_signalled(serve_sender, rt)


@app.command("scheduler")
def scheduler() -> None:
    """Act on due deadlines every TICK_SECONDS until stopped. Any number may run on one
    database: each due row is claimed by one of them."""
    rt = _boot_role(token=False)
    from bot.roles import run_until_signalled, serve_scheduler

    run_until_signalled(serve_scheduler, rt)


@app.command("sandbox")
def sandbox(
    host: str = typer.Option(
        "127.0.0.1", envvar="SANDBOX_HOST",
        help="Address to listen on. Loopback unless told otherwise: anyone who can open the "
             "page can act as the demo county's people.",
    ),
    port: int | None = typer.Option(None, help="Port (default: PORT or 8080)."),
    start: str | None = typer.Option(
        None, envvar="SANDBOX_START",
        help="Start the sandbox's clock at this local time, e.g. 2026-09-24T08:00 (a new "
             "database's demo county is seeded as of then). Default: now.",
    ),
) -> None:
    """The local sandbox: a stand-in for Telegram with a web chat as the invented demo county's
    people, and a clock to move. Creates, seeds and marks an empty database; refuses any other
    database, and refuses to run when BAOXUE_ENV=production."""
    from sandbox.clock import start_time
    from sandbox.database import prepare
    from sandbox.server import serve

    settings = get_settings()
    if settings.env == "production":
        typer.echo(
            "The sandbox does not run in production (BAOXUE_ENV=production): anyone at its page "
            "could act as any user and move the clock. Run the bot with: baoxue run", err=True,
        )
        raise typer.Exit(2)
    rt = boot_or_exit()
    try:
        starts_at = start_time(start, rt.policy) if start else None
        seeded = prepare(rt, starts_at or SystemClock().now())
    except StartupError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    logging.getLogger().setLevel(logging.INFO)
    if seeded:
        typer.echo("seeded the demo county (青松县) into a new sandbox database")
    if starts_at is not None:
        typer.echo(f"the sandbox clock starts at {starts_at.isoformat(timespec='minutes')}")
        serve(rt, host, port or rt.settings.port, starts_at)
    else:
        serve(rt, host, port or rt.settings.port)


def _parse_scope(scope: str) -> tuple[str, int | None]:
    """``KIND:ID`` (county:1, township:2, village:3, school:4), or ``all`` / ``classes``."""
    kind, _sep, raw = scope.partition(":")
    kind = kind.strip().lower()
    if kind in ("all", "classes") and not raw:
        return kind, None
    if kind not in ("county", "township", "village", "school") or not raw.strip().isdigit():
        raise typer.BadParameter(
            "use KIND:ID with KIND one of county, township, village, school "
            "(or all for an admin, school:ID or classes with --class for a teacher)",
            param_hint="--scope",
        )
    return kind, int(raw)


@invite_app.command("create")
def invite_create(
    role: str = typer.Option(..., help="teacher, school_admin, village_cadre, township_officer, "
                                       "county_officer or admin"),
    scope: str = typer.Option(..., help="The unit: KIND:ID, e.g. township:2 or school:3; all for an admin."),
    classes: list[int] | None = CLASS_OPTION,
    name: str | None = typer.Option(None, help="The invitee's name as colleagues will see it."),
    bot: str | None = typer.Option(None, help="The bot's username (default: the BOT_USERNAME setting)."),
    lang: str = LANG_OPTION,
) -> None:
    """Create a single-use invitation (valid 7 days) and print its t.me link."""
    from casework import invites
    from casework.labels import ROLE_LABELS
    from casework.scope import ROLE_SCOPE
    from casework.uow import unit_of_work
    from models.tables import School, SchoolClass

    classes = list(classes or [])
    rt = boot_or_exit()
    username = (bot or rt.settings.bot_username or "").lstrip("@")
    if not username:
        typer.echo("the bot's username is needed for the link: pass --bot or set BOT_USERNAME", err=True)
        raise typer.Exit(2)
    kind, unit_id = _parse_scope(scope)
    if role in ROLE_SCOPE and ROLE_SCOPE[role] == "classes" and kind in ("school", "classes"):
        kind, school_id, unit_id = "classes", unit_id, None  # a teacher answers for classes
    else:
        school_id = None
    try:
        with unit_of_work(rt.engine, SystemClock(), rt.policy) as cw:
            if school_id is not None:
                school = cw.session.get(School, school_id)
                foreign = [c for c in classes if (k := cw.session.get(SchoolClass, c)) is None
                           or k.school_id != school_id]
                if school is None or foreign:
                    typer.echo(f"class(es) {foreign or classes} are not classes of school {school_id}",
                               err=True)
                    raise typer.Exit(2)
            invite = invites.create(cw, None, role=role, scope_kind=kind, scope_id=unit_id,
                                    class_ids=classes or None, display_name=name)
            code, expires = invite.code, invite.expires_at
    except CaseworkError as err:
        typer.echo(err.render(lang), err=True)
        raise typer.Exit(1) from err
    typer.echo(
        _("Invitation for a {role}, single use, valid until {expires} (UTC):",
          role=_(ROLE_LABELS[role]), expires=expires.strftime("%Y-%m-%d %H:%M")).render(lang)
    )
    typer.echo(f"https://t.me/{username}?start={code}")


@key_app.command("generate")
def key_generate(
    webhook: bool = typer.Option(False, "--webhook", help="A WEBHOOK_SECRET instead."),
) -> None:
    """Print a new ENCRYPTION_KEY (or, with --webhook, a new WEBHOOK_SECRET)."""
    if webhook:
        from bot.runtime import new_webhook_secret

        typer.echo(new_webhook_secret())
        return
    typer.echo(Cipher.generate_key())


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except CaseworkError as err:
        typer.echo(err.render(), err=True)
        sys.exit(1)

