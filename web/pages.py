"""The console's casework pages: sign-in and out, the overview, the case list, one case and
its actions, the ladder, the review queue. Each route is a few lines: read the reader, call
casework, render. Every rule is in casework (the routes only pass the user's input on).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from casework import (
    actions,
    case_list,
    case_page,
    console_access,
    figures,
    ladder,
    ledger,
    outcomes,
    reviews,
)
from casework import overview as overview_
from casework.context import Casework
from casework.errors import CaseworkError, ValidationError
from casework.i18n import _
from casework.states import ALL_STATES
from documents import forms as form_files
from documents.ladder_diagram import ladder_svg
from web import security
from web.console import Console, Ctx

# what the confirmation page says before each action, and after it was done
DONE = ("acknowledge", "assign", "escalate", "issue_deadline_notice", "pause", "resume", "decided")


def register(app: FastAPI, c: Console) -> None:  # noqa: C901 - one route table, read top to bottom
    cfg = c.config

    # --- signing in and out ---------------------------------------------------------

    @app.get("/login")
    def login_page(request: Request, u: str = "", t: str = "") -> Response:
        """The link from the bot opens a page with one button; only pressing it spends the
        link. Telegram (and chat apps, mail scanners) fetch a link to preview it: a GET that
        signed in would spend the link before its owner ever clicked it."""
        return c.render(request, None, "login.html", link_user=u[:12], link_token=t[:100])

    @app.post("/login")
    def login(request: Request, u: Annotated[str, Form()] = "", t: Annotated[str, Form()] = "") -> Response:
        with c.work() as cw_probe:  # who this browser is signed in as, if anyone
            token = c.session_token(request)
            current = console_access.session_user(cw_probe, token) if token else None
        try:
            with c.work() as cw:
                opened = console_access.open_session(
                    cw, int(u) if u.isdigit() else -1, t,
                    signed_in_as=current.id if current else None)
        except CaseworkError as err:
            return c.error(request, None, err)
        response = RedirectResponse(cfg.base + "/overview", status_code=303)
        response.set_cookie(
            security.COOKIE, security.sign(cfg.secret, opened.token),
            max_age=int(opened.expires_in.total_seconds()), path=cfg.base, httponly=True,
            samesite="strict", secure=cfg.secure_cookie,
        )
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            c.check_csrf(cw, ctx, csrf, request.url.path)
            console_access.end_session(cw, ctx.session_token)
        response = c.render(request, None, "signin.html", 200, signed_out=True)
        response.delete_cookie(security.COOKIE, path=cfg.base)
        return response

    @app.get("/lang")
    def language(to: str = "zh_Hans", next: str = "/overview") -> Response:
        target = next if next.startswith(cfg.base + "/") else cfg.base + "/overview"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(security.LANG_COOKIE, "en" if to == "en" else "zh_Hans",
                            max_age=365 * 86400, path=cfg.base, samesite="strict")
        return response

    @app.get("/")
    def home() -> Response:
        return c.redirect("/overview")

    # --- the overview and the ladder --------------------------------------------------

    @app.get("/overview")
    def overview(request: Request) -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            data = overview_.overview(cw, ctx.user)
        return c.render(request, ctx, "overview.html", data=data, chart=_chart(data.series),
                        kpi_percent=figures.percent, kpi_days=figures.days_text)

    @app.get("/ladder")
    def ladder_page(request: Request) -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            counts = overview_.ladder_counts(cw, ctx.user)
        steps = [(str(state), counts.get(state, 0)) for state in cfg.policy.states]
        others = [(s, n) for s, n in counts.items() if s not in dict(steps)]
        return c.render(request, ctx, "ladder.html", svg=ladder_svg(cfg.policy, ctx.lang),
                        steps=steps, others=others)

    # --- cases ------------------------------------------------------------------------

    @app.get("/cases")
    def cases(request: Request) -> Response:
        f = case_list.CaseFilter.parse(dict(request.query_params))
        with c.work() as cw:
            ctx = c.reader(cw, request)
            page = case_list.list_page(cw, ctx.user, f)
            units = [(u, name) for u, name in ledger.units_in_scope(cw, ctx.user)
                     if u.kind in case_list.UNIT_KINDS]
        return c.render(request, ctx, "cases.html", page=page, f=f, units=units,
                        all_states=ALL_STATES)

    @app.post("/cases/search")
    def search(request: Request, csrf: Annotated[str, Form()] = "",
               q: Annotated[str, Form()] = "") -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            c.check_csrf(cw, ctx, csrf, request.url.path)
        params = case_list.CaseFilter.parse({"state": "all", **case_list.search_params(q)})
        return c.redirect("/cases?" + params.query_string())

    def show(request: Request, case_id: int, *, disclose: bool = False, error: str | None = None,
             status: int = 200) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                data = case_page.case_page(cw, ctx.user, case_id, disclose=disclose)
        except CaseworkError as err:
            return c.error(request, locals().get("ctx"), err)
        return c.render(request, ctx, "case.html", status, p=data, error=error,
                        deadline_labels=case_page.DEADLINE_LABELS,
                        done=request.query_params.get("done"))

    @app.get("/cases/{case_id}")
    def case(request: Request, case_id: int) -> Response:
        return show(request, case_id)

    @app.post("/cases/{case_id}/disclose")
    def disclose(request: Request, case_id: int, csrf: Annotated[str, Form()] = "") -> Response:
        with c.work() as cw:
            c.check_csrf(cw, c.reader(cw, request), csrf, request.url.path)
        return show(request, case_id, disclose=True)

    @app.get("/cases/{case_id}/confirm/{action}")
    def confirm(request: Request, case_id: int, action: str) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                data = case_page.case_page(cw, ctx.user, case_id)
                if action not in data.actions:
                    raise ValidationError("action", _("This action is not open to you on this case now."))
                preview = actions.preview(cw, ctx.user, data.case, action)
        except CaseworkError as err:
            return c.error(request, locals().get("ctx"), err)
        return c.render(request, ctx, "confirm.html", p=data, action=action, preview=preview,
                        today=cw.today())

    @app.post("/cases/{case_id}/act/{action}")
    def act(request: Request, case_id: int, action: str, csrf: Annotated[str, Form()] = "",
            assignee: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
            resume_on: Annotated[str, Form()] = "") -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                c.check_csrf(cw, ctx, csrf, request.url.path)
                _run_action(cw, ctx, case_id, action, assignee, reason, resume_on)
        except CaseworkError as err:
            if locals().get("ctx") is None:
                raise
            return show(request, case_id, error=err.render(ctx.lang), status=400)
        return c.redirect(f"/cases/{case_id}?done={action}")

    @app.get("/cases/{case_id}/documents/{form}.{fmt}")
    def document(request: Request, case_id: int, form: str, fmt: str) -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                name, content = form_files.make(cw, ctx.user, case_id, form, fmt)
        except CaseworkError as err:
            return c.error(request, locals().get("ctx"), err)
        media = ("application/pdf" if fmt == "pdf" else
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        return Response(content, media_type=media, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{security_quote(name)}"})

    @app.get("/cases/{case_id}/files/{file_id}")
    async def evidence(request: Request, case_id: int, file_id: str) -> Response:
        import asyncio

        def allowed() -> bool:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                ids = case_page.evidence_file_ids(cw, ctx.user, case_id)
                cw.audit(ctx.user, "case.evidence", "case", case_id, file_id=file_id[:60])
                return file_id in ids

        try:
            ok = await asyncio.to_thread(allowed)
        except CaseworkError:
            return Response(status_code=403)
        if not ok or cfg.files is None:
            return Response(status_code=404)
        found = await cfg.files(file_id)
        if found is None:
            return Response(status_code=404)
        data, media = found
        return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=600"})

    # --- reviews ------------------------------------------------------------------------

    @app.get("/reviews")
    def reviews(request: Request) -> Response:
        with c.work() as cw:
            ctx = c.reader(cw, request)
            queue = outcomes_queue(cw, ctx)
        return c.render(request, ctx, "reviews.html", queue=queue,
                        done=request.query_params.get("done"))

    @app.post("/reviews/{proposal_id}")
    def decide(request: Request, proposal_id: int, csrf: Annotated[str, Form()] = "",
               decision: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
        try:
            with c.work() as cw:
                ctx = c.reader(cw, request)
                c.check_csrf(cw, ctx, csrf, request.url.path)
                outcomes.decide_outcome(cw, ctx.user, proposal_id, approve=decision == "approve",
                                        note=note or None)
        except CaseworkError as err:
            if locals().get("ctx") is None:
                raise
            with c.work() as cw:
                queue = outcomes_queue(cw, ctx)
            return c.render(request, ctx, "reviews.html", 400, queue=queue,
                            error=err.render(ctx.lang), failed=proposal_id)
        return c.redirect(f"/reviews?done={'approved' if decision == 'approve' else 'rejected'}")


def outcomes_queue(cw: Casework, ctx: Ctx) -> list[reviews.ReviewItem]:
    return reviews.review_items(cw, ctx.user)


def security_quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _run_action(cw: Casework, ctx: Ctx, case_id: int, action: str, assignee: str, reason: str,
                resume_on: str) -> None:
    """The same casework functions the bot's buttons call, one per action."""
    user = ctx.user
    if action == "acknowledge":
        ladder.acknowledge(cw, user, case_id)
    elif action == "assign":
        if not assignee.isdigit():
            raise ValidationError("assignee", _("Choose the person to assign."))
        ladder.assign(cw, user, case_id, int(assignee))
    elif action == "escalate":
        ladder.escalate(cw, user, case_id)
    elif action == "issue_deadline_notice":
        ladder.issue_deadline_notice(cw, user, case_id)
    elif action == "pause":
        try:
            until = date.fromisoformat(resume_on)
        except ValueError:
            raise ValidationError("resume_on", _("Give the date the case resumes.")) from None
        ladder.pause(cw, user, case_id, reason, until)
    elif action == "resume":
        ladder.resume(cw, user, case_id)
    else:
        raise ValidationError("action", _("This action is not open to you on this case now."))


def _chart(series: Sequence[tuple[object, int]]) -> dict[str, object]:
    """The open-cases line as SVG coordinates (drawn by the template, no script)."""
    width, height, pad = 600, 160, 24
    top = max([n for _, n in series] + [1])
    step = (width - 2 * pad) / max(1, len(series) - 1)
    points = [(pad + i * step, height - pad - (n / top) * (height - 2 * pad), n, when)
              for i, (when, n) in enumerate(series)]
    return {"width": width, "height": height, "top": top, "points": points,
            "line": " ".join(f"{x:.1f},{y:.1f}" for x, y, _n, _w in points)}
