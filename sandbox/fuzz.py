"""A random crowd against the real bot: seeded, through the fake Bot API.

Known users (the demo county's teachers, heads, cadres and officers) and strangers with
random ids write random text, send commands with random arguments, tap real buttons
(the newest and stale ones), forge callback data, send stickers, photos, locations,
voice notes, documents and contacts at whatever step they stand, edit old messages, and
write in groups, with unicode edge cases throughout. Real taps walk the flows, so the
crowd reaches random flow states. After every update the crowd checks:

- no exception reached the application's error handler;
- every private update was answered: a message or command by at least one message sent
  to that chat, a tap by an answer to the callback query;

and at the end, over every message the bot sent, that no resident ID or phone number of
the database is shown in clear in a group, to a stranger, or to a user whose scope does
not cover the child it belongs to.

Used by ``tests/test_fuzz.py`` (a few thousand updates) and ``benchmarks/fuzz_updates.py``.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from telegram import Update

from sandbox.fakebot import TINY_PNG, FakeTelegram, FakeUser, StoredMessage
from sandbox.harness import capture_errors

COMMANDS = (
    "/start", "/help", "/menu", "/language", "/cancel", "/report", "/visit", "/cases", "/case",
    "/invite", "/export", "/forms", "/import", "/stats month", "/stats 2026-11", "/nosuch",
    "/CASE", "/case@fakebot", "/start@fakebot", "/",
)
PREFIXES = ("case", "visit", "ack", "assign", "apr", "rej", "att", "act", "atd", "rc", "doc",
            "xp", "rpt", "menu", "lang", "s", "rv", "trf", "usr", "inv", "", "zz")
# period codes of the report and export buttons, some past the calendar's last day
PERIODS = ("2026-11", "2026Q4", "2026", "2026-13", "9999-12", "9999Q4", "0000", "last-month", "")
ACTIONS = ("resume", "escalate", "issue_deadline_notice", "reopen", "close_out", "record_visit",
           "mark_returned", "propose_outcome", "pause", "nosuch")
MENU = ("report", "visit", "invite", "resume", "cases", "language", "", "x")
FORMS = ("notice", "report", "visit", "ledger", "t3", "t4", "t5", "x")
WEIRD_NUMBERS = (
    "0", "-1", "+1", "1.0", "1e3", "²", "¹", "①", "⑫", "١٢", "１２", "𝟙𝟚", "Ⅻ", "2147483647",
    "2147483648", "4294967296", "9223372036854775807", "9223372036854775808", "9" * 40, "0x10",
    " 12", "12 ", "#12", "##", "",
)
UNICODE = (
    "\u202eevil", "a\u200bb", "\ufeffBOM", "e\u0301" * 30, "👨‍👩‍👧‍👦", "🇨🇳", "𠀀𪚥𰻞", "\t", "ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ",
    "<b>粗</b>", "&amp;&lt;", "*_`[x](y)", "{name}", "{0}", "%s%d", "'; DROP TABLE users; --",
    "\\", "\u0000", "\r\n", "Ǆǅǆ", "ß", "İ", "ﬁ", "\u2028", "\U000e0041",
)
DATES = ("2026-11-21", "11-21", "11月21日", "2026年2月30日", "昨天", "今天", "yesterday", "13-45",
         "9999-99-99", "0000-00-00", "２０２６／１１／２１", "1900-01-01", "2099-12-31")
NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高子梓浩宇轩然欣怡佳琪雨涵"

_SECRET_RUN = re.compile(r"[0-9Xx]{11,}")
_INVITE = re.compile(r"\?start=([\w-]+)")


@dataclass
class FuzzStats:
    """What the crowd did and what it found."""

    updates: int = 0
    private: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bot_seconds: float = 0.0  # of ``seconds``, inside ``process_update`` (the rest is the crowd's)

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"updates {self.updates} (private {self.private}), exceptions {len(self.errors)}, "
                f"unanswered {len(self.unanswered)}, leaks {len(self.leaks)}, "
                f"{self.seconds:.1f} s, {self.per_second:.0f} updates/s "
                f"({self.bot_seconds:.1f} s in the bot)")


@dataclass
class _Actor:
    user: FakeUser
    db_id: int | None  # the bot's User.id, None for a stranger
    # a diligent user mostly answers the question on screen, so flows get to their end
    diligent: bool = False


class Crowd:
    """Random updates from known users and strangers, checked one by one."""

    def __init__(
        self,
        tg: FakeTelegram,
        application: Any,
        engine: Engine,
        *,
        seed: int = 0,
        strangers: int = 6,
        groups: int = 2,
        clock: Any | None = None,
    ) -> None:
        from models.tables import Case, Proposal, SchoolClass, User

        self.tg, self.app, self.engine, self.clock = tg, application, engine, clock
        self.rng = random.Random(seed)
        self.errors = capture_errors(application)
        with Session(engine) as s:
            users = s.exec(select(User).where(col(User.telegram_id).is_not(None))).all()
            self.case_ids = [i for i in s.exec(select(Case.id)).all() if i is not None]
            self.proposal_ids = list(s.exec(select(Proposal.id)).all())
            self.class_ids = list(s.exec(select(SchoolClass.id)).all())
        self.known: list[_Actor] = []
        for u in users:
            fake = tg.add_user(first_name=u.display_name, user_id=u.telegram_id,
                               language_code=self.rng.choice(("zh-hans", "en", None, "ru")))
            tg.private_chat(fake)
            self.known.append(_Actor(fake, u.id, diligent=self.rng.random() < 0.6))
        self.strangers = [
            _Actor(tg.add_user(first_name=self._name(), user_id=self.rng.randint(10**6, 10**10),
                               language_code=self.rng.choice(("zh-hans", "en", None))), None,
                   diligent=self.rng.random() < 0.5)  # one who follows an invitation through
            for _ in range(strangers)
        ]
        self.groups = [tg.add_group(f"控辍群{i}").id for i in range(groups)]
        self.owner: dict[int, _Actor] = {a.user.id: a for a in self.known + self.strangers}
        self.stats = FuzzStats()
        # invitation codes the bot gave out: strangers use them (and some twice)
        self.invites: list[str] = []

    # ---------------------------------------------------------------- random input

    def _name(self) -> str:
        return "".join(self.rng.choice(NAMES) for _ in range(self.rng.randint(1, 4)))

    def _number(self) -> str:
        r = self.rng.random()
        if r < 0.4 and self.case_ids:
            return str(self.rng.choice(self.case_ids) + self.rng.choice((0, 0, 0, 1, 50)))
        if r < 0.75:
            return self.rng.choice(WEIRD_NUMBERS)
        return str(self.rng.randint(0, 10 ** self.rng.randint(1, 20)))

    def _text(self) -> str:
        r = self.rng.random()
        if r < 0.2:
            text = self._name()
        elif r < 0.3:
            text = self.rng.choice(DATES)
        elif r < 0.4:
            text = self._number()
        elif r < 0.55:
            text = "".join(self.rng.choice(UNICODE) for _ in range(self.rng.randint(1, 4)))
        elif r < 0.6:
            text = self.rng.choice(("1", "2", "是", "否", "ok", "Done", "取消", "确认", "✅ Confirm", "Skip"))
        elif r < 0.65:  # as long as Telegram lets a user write
            alphabet = self.rng.choice(("字", "a", "😀", "1", "a\n"))
            text = (alphabet * 4096)[:4096]
        elif r < 0.75:
            text = "".join(chr(self.rng.randint(0x20, 0x2FFF)) for _ in range(self.rng.randint(1, 80)))
        elif r < 0.85:
            text = f"1{self.rng.randint(3, 9)}{self.rng.randint(0, 10**9 - 1):09d}"  # a phone
        else:
            text = " ".join(self._name() for _ in range(self.rng.randint(1, 30)))
        return text

    def _command(self) -> str:
        command = self.rng.choice(COMMANDS)
        args = [self.rng.choice((self._number, self._text, self._name))() for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3)))]
        text = " ".join([command, *args])
        return text[:4096]

    def _forged(self, chat_id: int) -> str:
        r = self.rng.random()
        real = self._buttons(chat_id, newest=False)
        if r < 0.35 and real:  # a real button's data, one part changed
            data = self.rng.choice(real)
            sep = "|" if data.startswith("s|") else ":"
            parts = data.split(sep)
            i = self.rng.randrange(len(parts))
            parts[i] = self.rng.choice((self._number(), "", parts[i] + "x", parts[i][:-1], "²", "!p²"))
            data = sep.join(parts)
        elif r < 0.85:  # the shape of a real button, with random or real ids
            prefix = self.rng.choice(PREFIXES)
            parts = [self._id_for(prefix)]
            if prefix in ("att", "assign"):
                parts.append(self.rng.choice(("1", "0", self._number())))
            elif prefix == "act":
                parts.append(self.rng.choice(ACTIONS))
            elif prefix in ("atd", "rc"):
                day = self.clock.now().date() if self.clock is not None else None
                parts += [f"{day:%Y%m%d}" if day else "20261123", self.rng.choice(("a", "s", "x"))]
            elif prefix == "doc":
                parts.append(self.rng.choice(FORMS))
            elif prefix == "trf":
                parts.insert(0, self.rng.choice(("ok", "no", "x")))
            elif prefix in ("usr", "inv"):
                parts.insert(0, self.rng.choice(("p", "d", "D", "r", "R", "x", "")))
            elif prefix == "rpt":
                parts = [self.rng.choice(("m", "q", "y", "x")), self.rng.choice(PERIODS)]
            elif prefix == "xp":
                parts = [self.rng.choice(("all", "open", "closed", "reported", "x")),
                         self.rng.choice(("-", *("mqy"[i % 3] + p for i, p in enumerate(PERIODS)))),
                         self.rng.choice(("-", "t" + parts[0], "c" + parts[0], "x1")),
                         self.rng.choice(("", "s", "p", "u", "go", "x"))]
            elif prefix == "menu":
                parts = [self.rng.choice(MENU)]
            elif prefix == "lang":
                parts = [self.rng.choice(("en", "zh_Hans", "xx", ""))]
            elif prefix == "s":
                return f"s|{self._number()}.{self.rng.randbytes(2).hex()}|{self.rng.choice(('case', 'sum', 'stu', 'x'))}|{self._number()}"
            data = f"{prefix}:" + ":".join(parts)
        else:
            data = "".join(chr(self.rng.randint(0x20, 0x7E)) for _ in range(self.rng.randint(0, 64)))
        while len(data.encode()) > 64:  # Telegram's limit on callback data
            data = data[:-1]
        return data

    def _id_for(self, prefix: str) -> str:
        pool = {"apr": self.proposal_ids, "rej": self.proposal_ids, "rv": self.proposal_ids, "atd": self.class_ids,
                "rc": self.class_ids}.get(prefix, self.case_ids)
        if pool and self.rng.random() < 0.6:
            return str(self.rng.choice(pool))
        return self._number()

    def _recent_bot(self, chat_id: int, n: int = 12) -> list[StoredMessage]:
        """The chat's last ``n`` bot messages, oldest first (without walking the whole chat)."""
        chat = self.tg.chats.get(chat_id)
        found: list[StoredMessage] = []
        for msg in reversed(chat.messages.values()) if chat else ():
            if msg.from_bot and not msg.deleted:
                found.append(msg)
                if len(found) == n:
                    break
        return found[::-1]

    def _last_bot(self, chat_id: int) -> StoredMessage | None:
        found = self._recent_bot(chat_id, 1)
        return found[0] if found else None

    def _buttons(self, chat_id: int, *, newest: bool) -> list[str]:
        messages = [m for m in self._recent_bot(chat_id) if m.inline_markup]
        if not messages:
            return []
        msg = messages[-1] if newest else self.rng.choice(messages)
        return [data for row in msg.buttons() for _label, data in row if data]

    def _message_with(self, chat_id: int, data: str) -> StoredMessage | None:
        for msg in reversed(self._recent_bot(chat_id)):
            if any(d == data for row in msg.buttons() for _l, d in row):
                return msg
        return None

    # ---------------------------------------------------------------- one update

    def _make(self) -> tuple[str, int, dict[str, Any]] | None:
        """(kind, chat_id, update) for one random update; None when it cannot be made."""
        r = self.rng.random()
        if r < 0.08:
            return self._group_update()
        actor = self.rng.choice(self.strangers) if r < 0.2 else self.rng.choice(self.known)
        user, chat = actor.user, actor.user.id
        tg, rng = self.tg, self.rng
        if actor.db_id is None and self.invites and rng.random() < 0.3:
            return "invite", chat, tg.send_text(user, f"/start {rng.choice(self.invites)}", enqueue=False)
        if actor.diligent and rng.random() < 0.7:
            answer = self._answer(actor)
            if answer is not None:
                return answer
        r = rng.random()
        if r < 0.35:
            buttons = self._buttons(chat, newest=rng.random() < 0.8)
            if buttons:
                data = rng.choice(buttons)
                msg = self._message_with(chat, data)
                if msg is not None:
                    return "tap", chat, tg.tap(user, msg.message_id, data, chat_id=chat, enqueue=False)
            return "command", chat, tg.send_text(user, rng.choice(("/menu", "/report", "/visit", "/cases")), enqueue=False)
        if r < 0.45:
            last = self._last_bot(chat)
            if last is None:
                return "command", chat, tg.send_text(user, "/start", enqueue=False)
            return "forged", chat, tg.tap(user, last.message_id, self._forged(chat), chat_id=chat,
                                          enqueue=False, forged=True)
        if r < 0.70:
            return "text", chat, tg.send_text(user, self._text(), enqueue=False)
        if r < 0.85:
            return "command", chat, tg.send_text(user, self._command(), enqueue=False)
        if r < 0.90:
            # a stranger's first update may be this one: no chat yet, nothing to edit
            known = tg.chats.get(chat)
            recent = list(known.messages.values())[-30:] if known is not None else []
            mine = [m for m in recent if not m.from_bot and m.text]
            if mine:
                return "edited", chat, tg.edit_text(user, rng.choice(mine[-10:]).message_id, self._text(), enqueue=False)
            return "text", chat, tg.send_text(user, self._text(), enqueue=False)
        media = rng.choice(("photo", "sticker", "location", "voice", "document", "animation", "contact"))
        if media == "photo":
            caption = rng.choice((None, self._text()[:1024]))
            return media, chat, tg.send_photo(user, TINY_PNG, caption, enqueue=False)
        if media == "sticker":
            return media, chat, tg.send_sticker(user, rng.choice(("👍", "😀", "🇨🇳")), enqueue=False)
        if media == "location":
            return media, chat, tg.send_location(user, rng.uniform(-90, 90), rng.uniform(-180, 180), enqueue=False)
        if media == "voice":
            return media, chat, tg.send_voice(user, duration=rng.randint(1, 600), enqueue=False)
        if media == "document":
            name = rng.choice(("花名册.xlsx", "roster.csv", "a.pdf", "x.bin", "名单.txt"))
            content = rng.choice((b"", b"name,id\n" + self._text().encode()[:200], TINY_PNG, rng.randbytes(64)))
            return media, chat, tg.send_document(user, content or b"\x00", name, None, rng.choice((None, "说明")), enqueue=False)
        if media == "animation":
            return media, chat, tg.send_animation(user, enqueue=False)
        own = rng.random() < 0.5
        phone = f"+86 1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}"
        return media, chat, tg.send_contact(user, phone, self._name(), user.id if own else rng.randint(1, 10**9),
                                            enqueue=False)

    def _answer(self, actor: _Actor) -> tuple[str, int, dict[str, Any]] | None:
        """What a diligent user does: a button of the newest question other than Cancel,
        or, where the question wants typing, a plausible answer."""
        chat, rng = actor.user.id, self.rng
        buttons = [d for d in self._buttons(chat, newest=True) if not d.endswith("!cancel")]
        last = self._last_bot(chat)
        wants_text = last is not None and not buttons or rng.random() < 0.25
        if wants_text:
            text = rng.choice((self._name(), rng.choice(DATES), "在家务农，父母外出打工", "讲解义务教育法",
                               f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}", "住院治疗", "2"))
            return "text", chat, self.tg.send_text(actor.user, text, enqueue=False)
        if not buttons:
            return None
        data = rng.choice(buttons)
        msg = self._message_with(chat, data)
        if msg is None:
            return None
        return "tap", chat, self.tg.tap(actor.user, msg.message_id, data, chat_id=chat, enqueue=False)

    def _group_update(self) -> tuple[str, int, dict[str, Any]]:
        actor = self.rng.choice(self.known + self.strangers)
        group = self.rng.choice(self.groups)
        last = self._last_bot(group)
        if last is not None and self.rng.random() < 0.3:
            data = self._forged(actor.user.id) or "case:1"
            return "group_tap", group, self.tg.tap(actor.user, last.message_id, data, chat_id=group,
                                                   enqueue=False, forged=True)
        text = self.rng.choice((self._command, self._text, lambda: f"/case {self._number()}"))()
        return "group", group, self.tg.send_text_in_group(actor.user, group, text or "x", enqueue=False)

    async def step(self) -> None:
        for _ in range(5):
            try:
                made = self._make()
            except ValueError:  # a text the client would not send (empty after trimming)
                continue
            if made is not None:
                break
        else:
            return
        kind, chat_id, update = made
        mark = self.tg.marker()
        errors_before = len(self.errors)
        started = time.perf_counter()
        await self.app.process_update(Update.de_json(update, self.app.bot))
        # a roster file is read (and a ledger made) in a task of its own: its reply is the answer
        await _wait_exports()
        self.stats.bot_seconds += time.perf_counter() - started
        self.stats.updates += 1
        self.stats.kinds[kind] += 1
        label = f"#{self.stats.updates} {kind} in {chat_id}: {_describe(update)}"
        for err in self.errors[errors_before:]:
            self.stats.errors.append(f"{label}: {type(err).__name__}: {err}")
        if chat_id < 0:
            return
        self.stats.private += 1
        for event in self.tg.events_since(chat_id, mark, from_bot=True, kinds=("sent",)):
            self.invites += _INVITE.findall(event.text or "")
        if "callback_query" in update:
            answer = self.tg.callback_answer(update["callback_query"]["id"])
            if answer is None or not answer.answered:
                self.stats.unanswered.append(label)
        elif not self.tg.events_since(chat_id, mark, from_bot=True, kinds=("sent",)):
            self.stats.unanswered.append(label)

    async def run(self, updates: int, *, clock_every: int = 0) -> FuzzStats:
        """``updates`` random updates; every ``clock_every`` updates the clock moves on a
        few hours (deadlines and "today" change under the flows)."""
        started = time.perf_counter()
        for i in range(updates):
            if clock_every and self.clock is not None and i and i % clock_every == 0:
                self.clock.advance(timedelta(hours=self.rng.randint(1, 30)))
            await self.step()
        await _wait_exports()
        self.stats.seconds = time.perf_counter() - started
        self.stats.leaks = self.leaks()
        return self.stats

    # ---------------------------------------------------------------- leaks

    def leaks(self) -> list[str]:
        """Every resident ID or phone number of the database that a bot message shows in
        clear to a group, a stranger, or a user whose scope does not cover its child."""
        from casework.scope import can_see_student
        from models.tables import Guardian, Student, User

        found: list[str] = []
        with Session(self.engine) as s:
            students = {st.id: st for st in s.exec(select(Student)).all()}
            secrets: dict[str, tuple[str, int | None]] = {}
            for st in students.values():
                if st.id_number:
                    secrets[st.id_number.upper()] = ("student", st.id)
            for g in s.exec(select(Guardian)).all():
                if g.phone:
                    secrets[g.phone] = ("student", g.student_id)
            users = {u.telegram_id: u for u in s.exec(select(User)).all()}
            for u in users.values():
                if u.phone:
                    secrets[_digits(u.phone)] = ("user", u.id)
            lengths = sorted({len(k) for k in secrets})
            for chat_id, chat in self.tg.chats.items():
                viewer = users.get(chat_id) if chat.type == "private" else None
                for msg in self.tg.bot_messages(chat_id):
                    for run in _SECRET_RUN.findall(msg.content):
                        run = run.upper()
                        for n in lengths:
                            for i in range(len(run) - n + 1):
                                hit = secrets.get(run[i : i + n])
                                if hit is None:
                                    continue
                                kind, owner = hit
                                if viewer is None:
                                    allowed = False
                                elif kind == "user":
                                    allowed = viewer.id == owner
                                else:
                                    student = students.get(owner)
                                    allowed = student is not None and can_see_student(s, viewer, student)
                                if not allowed:
                                    found.append(f"chat {chat_id} message {msg.message_id}: "
                                                 f"{kind} {owner} {run[i:i + n]}")
        return found


def _digits(phone: str) -> str:
    digits = "".join(c for c in phone if c.isascii() and c.isdigit())
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _describe(update: dict[str, Any]) -> str:
    if "callback_query" in update:
        return f"tap {update['callback_query'].get('data')!r}"
    msg = update.get("message") or update.get("edited_message") or {}
    text = msg.get("text") or msg.get("caption") or next((k for k in msg if k in (
        "photo", "sticker", "location", "voice", "document", "animation", "contact")), "?")
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


async def _wait_exports() -> None:
    from handlers import background

    await background.wait()
