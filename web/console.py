"""The officers' console: a FastAPI app of server-rendered pages over casework.

Mounted at ``/console`` by the webhook app (``bot.webhook``), the sandbox (``sandbox.server``)
and ``baoxue run`` (``bot.runner``). The pages are in ``web.pages``; this module holds what
every page shares:

- **sign-in**: ``/console/login?u=…&t=…`` spends a one-time link from the bot
  (``casework.console_access``) and sets the session cookie: signed, HttpOnly,
  SameSite=Strict, Secure behind HTTPS, expiring with the session; ``POST /logout`` ends it;
- **every request**: the session's user is loaded in the request's own unit of work and
  every read and write goes through casework, which checks role and scope (the one rule,
  ``casework.scope``) and audits; a refusal is audited by the unit of work;
- **every POST** carries the session's CSRF token; one without it is refused and audited;
- headers: no referrer (the link's token never leaves in one), no framing, scripts and
  styles only from the console itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from casework import codes, console_access
from casework.clock import Clock, from_db
from casework.context import Casework
from casework.errors import AccessDenied, CaseworkError, NotFound
from casework.i18n import Text, gettext_for, normalize_language
from casework.labels import ROLE_LABELS, STATE_LABELS
from casework.personal import mask_phone
from casework.policy import Policy
from casework.uow import unit_of_work
from models.tables import User
from web import security

HERE = Path(__file__).resolve().parent
LANGUAGES = (("zh_Hans", "中文"), ("en", "English"))

# a file of a case's evidence, by its Telegram file id: (bytes, media type), None if gone
FileSource = Callable[[str], Awaitable[tuple[bytes, str] | None]]


@dataclass
class ConsoleConfig:
    engine: Engine
    clock: Clock
    policy: Policy
    secret: bytes
    files: FileSource | None = None
    # the cookie only over HTTPS (production; the sandbox and tests are plain HTTP on loopback)
    secure_cookie: bool = False
    base: str = "/console"
    # the bot's @username, for invitation links (t.me/<bot>?start=<code>); asked when a
    # link is made (the bot learns its name when it starts, after the console is built)
    bot_username: Callable[[], str] = lambda: ""
    # how often the overview and the review queue reload their content (≤ 60 s: a new
    # escalation shows within a minute)
    refresh_seconds: int = 30


@dataclass
class Ctx:
    """One request's reader: the signed-in user, their language, their CSRF token."""

    user: User
    lang: str
    csrf: str
    session_token: str


class SignInRequired(Exception):
    pass


class CsrfRefused(Exception):
    pass


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return env


class Console:
    """The console's shared parts, handed to the page modules."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.env = _env()

    # --- units of work ----------------------------------------------------------------

    @contextmanager
    def work(self) -> Iterator[Casework]:
        with unit_of_work(self.config.engine, self.config.clock, self.config.policy) as cw:
            yield cw

    def session_token(self, request: Request) -> str | None:
        return security.unsign(self.config.secret, request.cookies.get(security.COOKIE))

    def reader(self, cw: Casework, request: Request) -> Ctx:
        """The signed-in user of this request, loaded in ``cw`` (raises SignInRequired)."""
        token = self.session_token(request)
        user = console_access.session_user(cw, token) if token else None
        if user is None or token is None:
            raise SignInRequired
        # a plain copy for the page: a refused action rolls the session back, and the page
        # that says so still needs to know who is reading
        cw.session.expunge(user)
        lang = request.cookies.get(security.LANG_COOKIE) or user.language
        return Ctx(user, normalize_language(lang), security.csrf_token(self.config.secret, token), token)

    def check_csrf(self, cw: Casework, ctx: Ctx, given: str | None, path: str) -> None:
        """Every POST: the form's token must be this session's (refused and audited if not)."""
        if not security.csrf_ok(self.config.secret, ctx.session_token, given):
            raise CsrfRefused(path)

    def refuse_csrf(self, request: Request) -> None:
        """Audit a POST refused for its CSRF token, in a unit of work of its own."""
        with self.work() as cw:
            token = self.session_token(request)
            user = console_access.session_user(cw, token) if token else None
            cw.audit(user, "console.csrf", "console", None, allowed=False, path=request.url.path)

    # --- rendering --------------------------------------------------------------------

    def render(self, request: Request, ctx: Ctx | None, template: str, status: int = 200,
               **values: Any) -> HTMLResponse:
        lang = ctx.lang if ctx else normalize_language(request.cookies.get(security.LANG_COOKIE))
        tz = self.config.policy.tz

        def gettext(msgid: str, **params: Any) -> str:
            text = gettext_for(lang, msgid)
            return text.format(**params) if params else text

        def t(value: Text | str | None) -> str:
            if value is None:
                return ""
            return value.render(lang) if isinstance(value, Text) else str(value)

        def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
            return from_db(value).astimezone(tz).strftime(fmt) if value else "—"

        html = self.env.get_template(template).render(
            _=gettext, t=t, when=when, lang=lang, languages=LANGUAGES, base=self.config.base,
            user=ctx.user if ctx else None, csrf=ctx.csrf if ctx else "",
            role_label=lambda role: gettext_for(lang, ROLE_LABELS.get(role) or str(role)),
            state_label=lambda s: gettext_for(lang, STATE_LABELS.get(s) or str(s)),
            code_label=lambda kind, code: codes.label(kind, code).render(lang),
            codes_of=lambda kind: list(codes.CODE_LISTS[kind]),
            mask_phone=mask_phone,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            quote=quote,
            refresh_seconds=self.config.refresh_seconds,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, ctx: Ctx | None, err: CaseworkError) -> HTMLResponse:
        status = 403 if isinstance(err, AccessDenied) else 404 if isinstance(err, NotFound) else 400
        lang = ctx.lang if ctx else "zh_Hans"
        return self.render(request, ctx, "error.html", status, message=err.render(lang))

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(self.config.base + path, status_code=303)


def set_headers(response: Response) -> None:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers.setdefault("Cache-Control", "no-store")
