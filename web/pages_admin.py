"""The console's desk pages: People (users and invitations in scope; invite with a link and
a QR code, deactivate, revoke) and Exports (the ledger with its progress, the periodic
reports). The rules are casework's (``people``, ``invites``, ``ledger``, ``reports``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from io import BytesIO
from typing import Annotated, TypeVar

import segno
from fastapi import FastAPI, Form, Request
from fastapi.responses import Response

from casework import console_people, export_jobs, invites, ledger, people, reports
from casework.context import Casework
from casework.errors import CaseworkError, NotFound, ValidationError
from casework.i18n import _
from casework.ledger import LedgerFilter
from documents import report_xlsx
from documents.ledger_xlsx import export_ledger
from models.tables import User
from web.console import Console

LEDGER_CHUNK = 500
T = TypeVar("T")


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def qr_svg(link: str) -> str:
    """The invitation as a QR code (inline SVG, made here: nothing leaves for a QR service)."""
    out = BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def register(app: FastAPI, c: Console) -> None:  # noqa: C901 - one route table
    # --- people -------------------------------------------------------------------------

    def people_page(request: Request, status: int = 200, **extra: object) -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            data = console_people.people_page(cw, ctx.user)
        return c.render(request, ctx, "people.html", status, d=data, **extra)

    def people_change(request: Request, csrf: str, change: Callable[[Casework, User], T]) -> T | Response:
        """``change`` by the signed-in reader, after the form's CSRF check, in one unit of
        work; a change casework refuses shows the People page again with the reason."""
        ctx = None
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                c.check_csrf(cw, ctx, csrf, request.url.path)
                return change(cw, ctx.user)
        except CaseworkError as err:
            if ctx is None:
                raise
            return people_page(request, 400, error=err.render(ctx.lang))

    @app.get("/people")
    def people_view(request: Request) -> Response:
        return people_page(request)

    @app.post("/people/invite")
    def invite(request: Request, csrf: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "",
               unit: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "") -> Response:
        def make(cw: Casework, user: User) -> str:
            kind, _sep, raw = unit.partition(":")
            if not raw.isdigit():
                raise ValidationError("scope", _("Choose the unit."))
            return invites.create(cw, user, role=role, scope_kind=kind, scope_id=int(raw),
                                  display_name=name.strip()[:60] or None).code

        code = people_change(request, csrf, make)
        if isinstance(code, Response):
            return code
        link = invite_link(c.config.bot_username(), code)
        return people_page(request, invited=link, qr=qr_svg(link))

    @app.post("/people/{user_id}/deactivate")
    def deactivate(request: Request, user_id: int, csrf: Annotated[str, Form()] = "") -> Response:
        refused = people_change(request, csrf, lambda cw, user: people.deactivate(cw, user, user_id))
        return refused if isinstance(refused, Response) else c.redirect("/people")

    @app.post("/invites/{invite_id}/revoke")
    def revoke(request: Request, invite_id: int, csrf: Annotated[str, Form()] = "") -> Response:
        refused = people_change(request, csrf, lambda cw, user: invites.revoke(cw, user, invite_id))
        return refused if isinstance(refused, Response) else c.redirect("/people")

    # --- exports ------------------------------------------------------------------------

    @app.get("/exports")
    def exports(request: Request) -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            units = ledger.units_in_scope(cw, ctx.user)
            may_ledger = ctx.user.role in ledger.EXPORT_ROLES
            may_report = ctx.user.role in reports.REPORT_ROLES
            mine = export_jobs.mine(cw, ctx.user)
        return c.render(request, ctx, "exports.html", units=units, may_ledger=may_ledger,
                        may_report=may_report, jobs=mine)

    @app.post("/exports/ledger")
    async def start_ledger(request: Request, csrf: Annotated[str, Form()] = "",
                           state: Annotated[str, Form()] = "open",
                           unit: Annotated[str, Form()] = "") -> Response:
        def check() -> tuple[str, int, str, LedgerFilter]:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                c.check_csrf(cw, ctx, csrf, request.url.path)
                filt = LedgerFilter(state=state, unit=ledger.Unit.parse(unit) if unit else None)
                ledger.prepare(cw, ctx.user, filt, lang=ctx.lang)  # refuses what is not theirs
                key = export_jobs.start(cw, ctx.user, "ledger")
                return key, ctx.user.id or 0, ctx.lang, filt

        try:
            key, user_id, lang, filt = await asyncio.to_thread(check)
        except CaseworkError as err:
            return c.error(request, None, err)
        threading.Thread(target=_build, args=(c, key, user_id, filt, lang), daemon=True,
                         name="console-ledger").start()
        return c.redirect(f"/exports/jobs/{key}")

    @app.get("/exports/jobs/{key}")
    def job_page(request: Request, key: str) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                job = export_jobs.view(cw, ctx.user, key)
        except NotFound:
            return Response(status_code=404)
        return c.render(request, ctx, "export_job.html", job=job, key=key)

    @app.get("/exports/jobs/{key}/file")
    def job_file(request: Request, key: str) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                name, data = export_jobs.file(cw, ctx.user, key)
        except NotFound:
            return Response(status_code=404)
        return _download(name, data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @app.get("/exports/report")
    def report(request: Request, kind: str = "month") -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                period = reports.parse_kind(kind, today=cw.today())
                data = reports.report_data(cw, ctx.user, period)
                reports.record_report(cw, ctx.user, data)
        except CaseworkError as err:
            return c.error(request, locals().get("ctx"), err)
        return _download(report_xlsx.filename(data, ctx.lang), report_xlsx.write_report(data, ctx.lang),
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _download(name: str, data: bytes, media: str) -> Response:
    from urllib.parse import quote

    return Response(data, media_type=media,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})


def _build(c: Console, key: str, user_id: int, filt: LedgerFilter, lang: str) -> None:
    """In a thread: the workbook read chunk by chunk (as the bot's /export does), then audited;
    the progress and the file go to the job's row (``casework.export_jobs``), where any
    worker finds them."""
    shown = [0]

    def progress(done: int, total: int) -> None:
        pct = min(99, done * 100 // max(total, 1))
        if pct >= shown[0] + 5:  # a write per 5 %, not per chunk
            shown[0] = pct
            with c.work() as cw:
                export_jobs.progress(cw, key, pct)

    try:
        with c.work() as cw:
            actor = people.by_id(cw, user_id)
            prepared = ledger.prepare(cw, actor, filt, lang=lang)
            cw.session.rollback()  # the chunks are read in short transactions of their own
            out = BytesIO()
            rows = export_ledger(cw, actor, prepared, out, progress=progress, chunk=LEDGER_CHUNK)
        scope = prepared.scope if prepared.scope != "*" else "all"
        name = f"{ledger.word('title', lang)}_{scope}_{prepared.today.isoformat()}.xlsx".replace(" ", "_")
        with c.work() as cw:
            ledger.record_export(cw, people.by_id(cw, user_id), prepared)
            export_jobs.finish(cw, key, name, rows, out.getvalue())
    except CaseworkError as err:
        with c.work() as cw:
            export_jobs.fail(cw, key, err.render(lang))
    except Exception:  # noqa: BLE001 - shown to its owner as failed; logged for the operator
        import logging

        logging.getLogger(__name__).exception("console ledger export failed")
        with c.work() as cw:
            export_jobs.fail(cw, key, _("The export failed. Try again, or ask the operator.").render(lang))
