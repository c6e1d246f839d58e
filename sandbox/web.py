"""The sandbox's web chat: pick who you are, chat with the bot as on a phone, move the clock.

A small JSON API over the fake Telegram's state, and one server-rendered page with a
little JavaScript (no build step). The API acts only as the demo personas and the guests
who joined through the page: every other user of the database (the admin, the other
teachers) is refused, whatever id is sent. A banner says it is a sandbox of invented data
and where it listens. The bot is not in here: it talks to the fake Bot API
over HTTP exactly as it would talk to Telegram (see ``sandbox/server.py``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from casework.console_access import CONSOLE_ROLES
from casework.i18n import LANGUAGES, Text, _, normalize_language
from casework.labels import ROLE_LABELS, role_text
from sandbox.clock import OffsetClock
from sandbox.fakebot import FakeTelegram, FakeUser, StoredMessage

STATIC = Path(__file__).resolve().parent / "static"

# the words of the page itself (the chat is the bot's)
UI_TEXT: dict[str, Text] = {
    "title": _("Dropout-control casework sandbox"),
    "who": _("Who are you?"),
    "clock": _("Sandbox time"),
    "plus_hour": _("+1 hour"),
    "plus_day": _("+1 day"),
    "next_deadline": _("To the next deadline"),
    "send": _("Send"),
    "placeholder": _("Message"),
    "attach_photo": _("Photo"),
    "attach_file": _("File"),
    "attach_location": _("Location"),
    "invite": _("Join with an invite link"),
    "invite_prompt": _("Paste the invite link (t.me/…?start=…) or its code:"),
    "menu": _("Menu"),
    "download": _("Download"),
    "no_deadline": _("No open deadline ahead."),
    "language": _("中文 / English"),
    "edited": _("edited"),
    "location": _("Location"),
    "console": _("Open the console as this person"),
    "empty": _("No messages yet. Send /start."),
    "ladder": _("Flow chart"),
    "go_to": _("Go to"),
    "go_to_title": _("Move the clock on to this date and time, acting on everything due on the way"),
    "ladder_title": _("The running policy's case ladder, drawn from its profile"),
}

BANNER = _("Sandbox: the invented demo county (青松县) with invented people. Do not enter "
           "real children's or families' data here.")
BOUND_LOOPBACK = _("Listening on {address}: only this computer can open it.")
BOUND_NETWORK = _("Listening on {address}: other computers on the network can open it.")


class SandboxState:
    """Who the personas are and the hooks the server gives the page (tick on clock moves)."""

    def __init__(
        self,
        tg: FakeTelegram,
        clock: OffsetClock,
        *,
        on_clock_moved: Callable[[], Awaitable[None]],
        next_deadline: Callable[[], Any],
        personas: Callable[[], list[dict[str, Any]]],
        bot_running: Callable[[], bool] = lambda: True,
        bound: str = "127.0.0.1:8080",
        loopback: bool = True,
        timeline: Callable[[int, str], dict[str, Any] | None] = lambda case_id, lang: None,
        ladder: Callable[[str], str] | None = None,
    ) -> None:
        self.tg = tg
        self.ladder = ladder
        self.timeline = timeline
        self.clock = clock
        self.on_clock_moved = on_clock_moved
        self.next_deadline = next_deadline
        self.personas = personas
        self.bot_running = bot_running
        self.bound = bound
        self.loopback = loopback
        self.guests: dict[int, dict[str, Any]] = {}

    def allowed_ids(self) -> set[int]:
        return {p["id"] for p in self.personas()} | set(self.guests)

    def user(self, user_id: int) -> FakeUser:
        """A user the page may act as: a demo persona or a guest it created; no one else."""
        user = self.tg.users.get(user_id) if user_id in self.allowed_ids() else None
        if user is None:
            raise HTTPException(404, "no such persona")
        return user

    def visible_file(self, file_id: str) -> bool:
        """Files in the chats the page may show; not another user's."""
        for user_id in self.allowed_ids():
            chat = self.tg.chats.get(user_id)  # a private chat's id is the user's
            if chat is not None and any(file_id in m.file_ids() for m in chat.messages.values()):
                return True
        return False

    def banner(self, lang: str) -> tuple[str, str]:
        where = BOUND_LOOPBACK if self.loopback else BOUND_NETWORK
        return BANNER.render(lang), Text(where.msgid, {"address": self.bound}).render(lang)


def _entity_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Telegram's plain text + entities as safe HTML (bold, italic, code, links)."""
    if not entities:
        return html.escape(text).replace("\n", "<br>")
    # entities count UTF-16 code units
    units = text.encode("utf-16-le")
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    tags = {"bold": "b", "italic": "i", "underline": "u", "strikethrough": "s", "code": "code",
            "pre": "pre"}
    for e in entities:
        start, end = e["offset"], e["offset"] + e["length"]
        tag = tags.get(e["type"])
        if tag:
            opens.setdefault(start, []).append(f"<{tag}>")
            closes.setdefault(end, []).insert(0, f"</{tag}>")
        elif e["type"] in ("text_link", "url"):
            url = e.get("url") or units[start * 2 : end * 2].decode("utf-16-le")
            if url.startswith(("http://", "https://", "tg://")):
                opens.setdefault(start, []).append(
                    f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">'
                )
                closes.setdefault(end, []).insert(0, "</a>")
    out: list[str] = []
    n = len(units) // 2
    i = 0
    while i <= n:
        out.extend(closes.get(i, []))
        out.extend(opens.get(i, []))
        if i < n:
            # surrogate pairs take two units
            unit = units[i * 2 : i * 2 + 2]
            code = int.from_bytes(unit, "little")
            if 0xD800 <= code < 0xDC00 and i + 1 < n:
                out.append(html.escape(units[i * 2 : i * 2 + 4].decode("utf-16-le")))
                i += 2
                continue
            out.append(html.escape(unit.decode("utf-16-le")).replace("\n", "<br>"))
        i += 1
    return "".join(out)


def _message_json(tg: FakeTelegram, msg: StoredMessage) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": msg.message_id,
        "from_bot": msg.from_bot,
        "html": _entity_html(msg.content, (msg.entities if msg.text is not None else msg.caption_entities) or []),
        "date": msg.date,
        "edited": bool(msg.edit_date),
        "buttons": [
            [{"text": text, "data": data} for text, data in row] for row in msg.buttons()
        ],
        "keyboard": [
            [{"text": b["text"], "contact": bool(b.get("request_contact")),
              "location": bool(b.get("request_location"))} for b in row]
            for row in (msg.reply_markup or {}).get("keyboard", [])
        ],
        "remove_keyboard": bool((msg.reply_markup or {}).get("remove_keyboard")),
        "files": [],
    }
    if "location" in msg.media:
        loc = msg.media["location"]
        data["location"] = {"lat": loc.get("latitude"), "lon": loc.get("longitude")}
    for file_id in msg.file_ids():
        stored = tg.files.get(file_id)
        if stored is None:
            continue
        data["files"].append(
            {"id": file_id, "kind": stored.kind, "name": stored.file_name or stored.file_path,
             "url": f"/sandbox/api/file/{file_id}"}
        )
    return data


def router(state: SandboxState) -> APIRouter:
    api = APIRouter(prefix="/sandbox/api")
    tg = state.tg

    @api.get("/personas")
    def personas(lang: str = "zh_Hans") -> dict[str, Any]:
        lang = normalize_language(lang)
        items = []
        for p in [*state.personas(), *state.guests.values()]:
            chat = tg.private_chat(state.user(p["id"]))
            bot_messages = [m for m in chat.messages.values() if m.from_bot and not m.deleted]
            items.append({
                **p,
                "role_label": role_text(p.get("body") or p["role"]).render(lang)
                if p.get("role") in ROLE_LABELS else "",
                "bot_messages": len(bot_messages),
                # the officers' console (sandbox.console): for the roles that have one
                "console": p.get("role") in CONSOLE_ROLES,
            })
        return {"personas": items}

    @api.get("/chat/{user_id}")
    def chat(user_id: int) -> dict[str, Any]:
        user = state.user(user_id)
        chat_id = tg.private_chat(user).id
        msgs = tg.messages(chat_id)
        # the bot's short answers to taps (answerCallbackQuery), shown under the message
        # tapped, as a phone shows them for a moment; the latest per message
        answered = [a for a in tg.callback_answers if a.chat_id == chat_id and a.text]
        answers = {a.message_id: {"text": a.text, "alert": a.show_alert} for a in answered}
        items = []
        for m in msgs:
            item = _message_json(tg, m)
            if m.message_id in answers:
                item["answer"] = answers[m.message_id]
            items.append(item)
        return {"seq": f"{tg.marker()}.{len(answered)}", "messages": items}

    @api.post("/send")
    def send(user_id: Annotated[int, Form()], text: Annotated[str, Form()]) -> dict[str, bool]:
        text = text.strip()
        if not text:
            raise HTTPException(400, "empty message")
        tg.send_text(state.user(user_id), text[:4096])
        return {"ok": True}

    @api.post("/tap")
    def tap(user_id: Annotated[int, Form()], message_id: Annotated[int, Form()], data: Annotated[str, Form()]) -> dict[str, Any]:
        user = state.user(user_id)
        try:
            tg.tap(user, message_id, data)
        except LookupError as err:
            raise HTTPException(409, "that button is gone") from err
        return {"ok": True}

    @api.post("/contact")
    def contact(user_id: Annotated[int, Form()]) -> dict[str, bool]:
        user = state.user(user_id)
        phone = user.phone_number or f"+86139{user_id % 100_000_000:08d}"
        tg.send_contact(user, phone, user.first_name, user.id)
        return {"ok": True}

    @api.post("/location")
    def location(user_id: Annotated[int, Form()], lat: Annotated[float, Form()], lon: Annotated[float, Form()]) -> dict[str, bool]:
        tg.send_location(state.user(user_id), lat, lon)
        return {"ok": True}

    @api.post("/upload")
    async def upload(user_id: Annotated[int, Form()], file: Annotated[UploadFile, File()], as_photo: Annotated[bool, Form()] = False) -> dict[str, bool]:
        data = await file.read()
        if len(data) > 20 * 1024 * 1024:
            raise HTTPException(413, "files up to 20 MB")
        user = state.user(user_id)
        if as_photo:
            tg.send_photo(user, data)
        else:
            tg.send_document(user, data, file.filename or "file", file.content_type or "application/octet-stream")
        return {"ok": True}

    @api.get("/file/{file_id}")
    def file(file_id: str) -> Response:
        stored = tg.files.get(file_id)
        if stored is None or not state.visible_file(file_id):
            raise HTTPException(404, "no such file")
        name = stored.file_name or Path(stored.file_path).name
        return Response(
            stored.data,
            media_type=stored.mime_type or "application/octet-stream",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"},
        )

    @api.post("/invite")
    def join(code: Annotated[str, Form()], name: Annotated[str, Form()] = "新用户") -> dict[str, Any]:
        code = code.strip().rsplit("start=", 1)[-1].strip()
        if not code:
            raise HTTPException(400, "no code")
        user = tg.add_user(name[:30] or "新用户", language_code="zh-hans")
        state.guests[user.id] = {"id": user.id, "name": user.first_name, "role": "", "guest": True}
        tg.start(user, code)
        return {"ok": True, "id": user.id}

    @api.get("/cases/{case_id}/timeline")
    def timeline(case_id: int, lang: str = "zh_Hans") -> dict[str, Any]:
        # read-only, and the sandbox runs on nothing but its own demo county
        found = state.timeline(case_id, normalize_language(lang))
        if found is None:
            raise HTTPException(404, "no such case")
        return found

    @api.get("/ladder.svg")
    def ladder(lang: str = "zh_Hans") -> Response:
        # the running policy's ladder, to hold against its document
        if state.ladder is None:
            raise HTTPException(404, "no ladder")
        return Response(state.ladder(normalize_language(lang)), media_type="image/svg+xml")

    @api.get("/clock")
    def clock() -> dict[str, Any]:
        nxt = state.next_deadline()
        return {"now": state.clock.now().isoformat(), "next_deadline": nxt.isoformat() if nxt else None}

    @api.post("/clock")
    async def move_clock(step: Annotated[str, Form()], to: Annotated[str, Form()] = "") -> dict[str, Any]:
        if step in ("hour", "day", "to"):
            if step == "to":
                # the page's date field: a later instant, with its zone (the clock only moves on)
                try:
                    target = datetime.fromisoformat(to.strip())
                except ValueError:
                    raise HTTPException(400, "to is a date and time like 2026-09-30T17:00+08:00") from None
                if target.tzinfo is None:
                    raise HTTPException(400, "to needs its time zone, like +08:00")
                if target <= state.clock.now():
                    raise HTTPException(409, "the sandbox clock only moves forward")
            else:
                target = state.clock.now() + (timedelta(hours=1) if step == "hour" else timedelta(days=1))
            # each deadline on the way is acted on at its own time, in order: a 17:30
            # deadline is not handled at tomorrow's 09:00 together with everything else.
            # A tick first: the calendar jobs (attendance prompts, digests) are planned one
            # occurrence ahead, so each day jumped over gets its jobs planned and run in turn
            await state.on_clock_moved()
            for _ in range(10_000):  # a bound, should the deadlines never end
                nxt = state.next_deadline()
                if nxt is None or nxt >= target:
                    break
                state.clock.advance_to(nxt + timedelta(seconds=1))
                await state.on_clock_moved()
            state.clock.advance_to(target)
        elif step == "next":
            nxt = state.next_deadline()
            if nxt is None:
                raise HTTPException(409, "no open deadline")
            state.clock.advance_to(nxt + timedelta(seconds=1))
        else:
            raise HTTPException(400, "step is hour, day, next or to")
        await state.on_clock_moved()
        return clock()

    return api


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


def page(lang: str, state: SandboxState) -> str:
    lang = normalize_language(lang)
    words = {k: v.render(lang) for k, v in UI_TEXT.items()}
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    banner, bound = state.banner(lang)
    return (
        template.replace("{{LANG}}", "zh-Hans" if lang == "zh_Hans" else "en")
        .replace("{{TITLE}}", html.escape(words["title"]))
        .replace("{{BANNER}}", html.escape(banner))
        .replace("{{BOUND}}", html.escape(bound))
        .replace("{{BOUND_CLASS}}", "loopback" if state.loopback else "network")
        .replace("{{UI_JSON}}", json.dumps({"lang": lang, "languages": list(LANGUAGES), "words": words},
                                           ensure_ascii=False).replace("</", "<\\/"))
    )


def mount(app: FastAPI, state: SandboxState) -> None:
    app.include_router(router(state))
    app.mount("/sandbox/static", StaticFiles(directory=STATIC), name="sandbox-static")

    @app.get("/", response_class=HTMLResponse)
    def index(lang: str = "zh_Hans") -> str:
        return page(lang, state)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "bot": "running" if state.bot_running() else "starting"}
