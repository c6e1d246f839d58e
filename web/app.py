"""The console as an app of its own (``create_console``): the shared parts (``web.console``)
and the pages (``web.pages``, ``web.pages_admin``, ``web.pages_verification``), to be
mounted at ``/console``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from casework.i18n import N_, gettext_for, normalize_language
from web import pages, pages_admin, pages_verification, security
from web.console import HERE, Console, ConsoleConfig, CsrfRefused, SignInRequired, set_headers


def create_console(config: ConsoleConfig) -> FastAPI:
    """The console as an app of its own, to be mounted at ``config.base``."""
    console = Console(config)
    app = FastAPI(title="baoxue console", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        set_headers(response)
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _exc: SignInRequired) -> Response:
        return console.render(request, None, "signin.html", 401)

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, _exc: CsrfRefused) -> Response:
        console.refuse_csrf(request)
        return console.render(request, None, "error.html", 403, message=gettext_for(
            normalize_language(request.cookies.get(security.LANG_COOKIE)),
            N_("This form has expired. Reload the page and try again.")))

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages.register(app, console)
    pages_admin.register(app, console)
    pages_verification.register(app, console)
    return app
