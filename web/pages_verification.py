"""The console's verification page (核查): the rounds in the reader's scope with their
progress by unit, the children still open (masked), and a round's list written back as
XLSX. The rules are casework's (``console_verification``, ``verification.export``, the
same export the bot's /verify sends, audited there)."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response

from casework import console_verification
from casework.errors import CaseworkError
from casework.verification import export
from documents.verification_xlsx import write_xlsx
from web.console import Console

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def register(app: FastAPI, c: Console) -> None:
    @app.get("/verification")
    def verification(request: Request, page: int = 1) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                data = console_verification.verification_page(cw, ctx.user, page)
        except CaseworkError as err:
            return c.error(request, locals().get("ctx"), err)
        return c.render(request, ctx, "verification.html", d=data)

    @app.get("/verification/{round_id}/export")
    def verification_export(request: Request, round_id: int) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                job = export.prepare(cw, ctx.user, round_id, ctx.lang)
                out = BytesIO()
                write_xlsx(job.headers, export.rows(cw, ctx.user, job, ctx.lang), out, title=job.round.name)
                name = f"{job.round.name}_{cw.today().isoformat()}.xlsx".replace(" ", "_")
        except CaseworkError as err:
            return c.error(request, locals().get("ctx"), err)
        return Response(out.getvalue(), media_type=XLSX, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"})
