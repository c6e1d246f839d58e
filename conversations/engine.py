"""The conversation engine: flows declared as steps, their state in our own table.

A flow (``conversations/flows/*.py``) is a list of :class:`Step` — a prompt, the kind of
input it wants, how typed text is parsed and validated, where to go next — ending on a
summary the user can edit field by field and confirm. Every step after the first (and the
summary) offers "◀ Back" to the step asked before it: the draft keeps the steps asked, in
order (``_asked``), so a step a branch skipped is skipped going back too, and the earlier
answer is offered as one tap ("↩ …"); 上一步 / 返回上一步 / back typed at any step goes back
rather than being taken as the answer. The engine keeps where each user
stands in a :class:`models.tables.ConversationState` row, loaded with the update and saved
in the same transaction as the domain write the flow leads to (DESIGN §5: a restart, a
crash or a second bot process resumes at the same step with the draft intact).

Buttons carry ``s|<conversation id>.<key>|<step>|<choice>`` (a ``ConversationTap`` of
``casework.callbacks``): short, language-neutral, and never trusted for access — the
conversation must belong to the user who taps, and whatever the flow does with a case goes
through ``casework``, which checks scope again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select

from casework.callbacks import ConversationTap
from casework.context import Casework
from casework.errors import CaseworkError, ValidationError
from casework.i18n import Text, _
from casework.labels import join, n_
from casework.validation import clean_text, quote
from conversations.replies import Button, Replies
from models.tables import ConversationState, User

InputKind = Literal["choice", "multi", "text", "date", "media", "confirm"]
KEY = "_k"  # a conversation's random key, in its callback data beside the id
HISTORY = "_asked"  # the steps asked before the current one, in order: "◀ Back" pops it
BACK = "!back"
KEEP = "!keep"
# typed at any step, these go back one step instead of being taken as the answer
BACK_WORDS = frozenset({"上一步", "返回上一步", "返回", "back", "previous"})
PAGE_SIZE = 8
T = TypeVar("T")


@dataclass
class Turn:
    """One update's view of the world, handed to every flow callback."""

    cw: Casework
    user: User
    lang: str
    replies: Replies
    conv: ConversationState | None = None
    flow: Flow | None = None
    bot_username: str = ""
    # how long an unfinished conversation is kept (the operator's CONVERSATION_TTL_DAYS)
    draft_days: int = 7
    # what a turn computes more than once (a step's options: shown, then checked)
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def draft(self) -> dict[str, Any]:
        assert self.conv is not None
        return self.conv.draft

    def t(self, text: Text) -> str:
        return text.render(self.lang)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` the first time ``key`` is asked for in this turn, then the same value."""
        if key not in self.memo:
            self.memo[key] = compute()
        return cast(T, self.memo[key])


@dataclass(frozen=True)
class Option:
    code: str
    label: Text


Prompt = Callable[[Turn], Text]
Options = Callable[[Turn], Sequence[Option]]


@dataclass(frozen=True)
class Step:
    """One question of a flow.

    ``name`` goes into callback data (keep it short). ``parse`` turns typed text into a
    value or raises ValidationError (the user is asked again with the reason). ``options``
    are the buttons; ``search`` lets typed text narrow them (a roster). ``store`` writes
    the value into the draft (default: ``draft[name] = value``). ``next`` names the
    following step (a callable may branch on the draft); None means the summary.
    """

    name: str
    label: Text
    prompt: Prompt
    kind: InputKind
    options: Options | None = None
    parse: Callable[[Turn, str], Any] | None = None
    search: Callable[[Turn, str], Sequence[Option]] | None = None
    # told the codes of the options a page shows: a list of children is audited when it is
    # shown, not when it is only built to check a tapped answer
    audit_shown: Callable[[Turn, Sequence[str]], None] | None = None
    store: Callable[[Turn, Any], None] | None = None
    next: str | Callable[[Turn], str | None] | None = None
    skippable: bool = False
    default: Callable[[Turn], Option | None] | None = None
    show: Callable[[Turn], str | Text | None] | None = None
    # offered on the summary for editing (False for steps that only pick the subject)
    editable: bool = True
    # False: not asked in sequence; shown on the summary with its default, editable there
    ask: bool = True
    # False: answered in sequence but shown through another step's summary row
    in_summary: bool = True
    help: Text | None = None
    # one offered option by its code, without building the whole list (a list made by
    # queries, like "which case?"); None when that code is not on offer. Must agree with
    # ``options``.
    lookup: Callable[[Turn, str], Option | None] | None = None
    # a media step's check of each item as it arrives: returns the item to keep (it may
    # add to it) or raises ValidationError, and the user reads why and sends another
    accept_media: Callable[[Turn, dict[str, Any]], dict[str, Any]] | None = None
    # going back to this step: undo what its last answer stored, when asking it again
    # depends on that (a step asked once per pupil picked)
    undo: Callable[[Turn], None] | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    title: Text
    roles: frozenset[str]
    steps: tuple[Step, ...]
    finish: Callable[[Turn], None]
    begin: Callable[[Turn, dict[str, Any]], None] | None = None
    summary_title: Callable[[Turn], Text] | None = None
    # the draft holds personal data (ID or phone numbers, a roster): on starting, the
    # user is told how long an unfinished one is kept
    personal_data: bool = False

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def first(self) -> Step:
        return self.steps[0]


SUMMARY = "sum"  # the step name of the closing summary
REGISTRY: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    REGISTRY[flow.name] = flow
    return flow


# --- loading and saving ---------------------------------------------------------------


# Built once: every update runs one of these, and building a statement costs about as much
# as running it on SQLite (SQLAlchemy caches the compiled form, not the construction).
_ACTIVE = (
    select(ConversationState)
    .where(ConversationState.user_id == bindparam("user_id"))
    .order_by(col(ConversationState.updated_at).desc(), col(ConversationState.id).desc())
    .limit(1)
    .with_for_update()
)
_BY_ID = select(ConversationState).where(ConversationState.id == bindparam("conv_id")).with_for_update()
# a user's conversations of one flow, about one case (False) or about none (True: IS NULL)
_OF_FLOW = {
    no_case: select(ConversationState).where(
        ConversationState.user_id == bindparam("user_id"),
        ConversationState.flow == bindparam("flow"),
        col(ConversationState.case_id).is_(None) if no_case else ConversationState.case_id == bindparam("case_id"),
    )
    for no_case in (False, True)
}


def active_conversation(turn: Turn) -> ConversationState | None:
    """The conversation typed text goes to: the user's most recently touched one."""
    return turn.cw.session.exec(_ACTIVE, params={"user_id": turn.user.id}).first()


def conversation_by_id(turn: Turn, conv_id: int) -> ConversationState | None:
    return turn.cw.session.exec(_BY_ID, params={"conv_id": conv_id}).first()


def save(turn: Turn) -> None:
    """Keep the conversation's draft and step (a flow's own step handler calls it too)."""
    conv = turn.conv
    assert conv is not None
    conv.version += 1
    conv.updated_at = turn.cw.now_db()
    # the draft is mutated in place; tell SQLAlchemy the JSON column changed
    flag_modified(conv, "draft")
    turn.cw.session.add(conv)


_TABLE = ConversationState.__table__  # type: ignore[attr-defined]
_UPDATES: dict[frozenset[str], Any] = {}  # the UPDATE of each set of changed columns, built once


def write(turn: Turn) -> None:
    """Write the turn's conversation row before its commit, if it changed since it was read
    or last flushed: one prebuilt UPDATE of the changed columns, as the ORM's flush would
    issue it, for a third of the CPU (every step of every flow runs one). The row then
    leaves the session, which has nothing more to write for it. A new or deleted row, or
    one already flushed, is the ORM's as before."""
    conv = turn.conv
    if conv is None:
        return
    state = inspect(conv)
    session = turn.cw.session
    if not (state.persistent and state.modified and state.session is session and state.committed_state):
        return
    changed = frozenset(state.committed_state)
    stmt = _UPDATES.get(changed)
    if stmt is None:
        stmt = _UPDATES[changed] = (
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("conv_id"))
            .values({_TABLE.c[name]: bindparam(name) for name in sorted(changed)})
        )
    session.connection().execute(stmt, {"conv_id": conv.id, **{name: getattr(conv, name) for name in changed}})
    session.expunge(conv)


def end(turn: Turn) -> None:
    """Finish (or abandon) the turn's conversation: its row is deleted."""
    if turn.conv is not None and turn.conv.id is not None:
        turn.cw.session.delete(turn.conv)
    turn.conv = None


def start(turn: Turn, flow_name: str, case_id: int | None = None, **args: Any) -> None:
    """Begin a flow (replacing an unfinished one of the same flow and case)."""
    flow = REGISTRY[flow_name]
    if turn.user.role not in flow.roles:
        turn.replies.send(_("This is not among the things your role can do here."))
        return
    old = turn.cw.session.exec(
        _OF_FLOW[case_id is None], params={"user_id": turn.user.id, "flow": flow_name, "case_id": case_id}
    ).all()
    for row in old:
        turn.cw.session.delete(row)
    if old:
        turn.cw.session.flush()
    conv = ConversationState(
        user_id=turn.user.id or 0,
        flow=flow_name,
        step=flow.first.name,
        draft={KEY: secrets.token_hex(2)},
        case_id=case_id,
        updated_at=turn.cw.now_db(),
    )
    turn.conv, turn.flow = conv, flow
    # begin before the row is written: one INSERT with where begin left it, no UPDATE after
    if flow.begin is not None:
        flow.begin(turn, args)
        if turn.conv is None:  # begin refused (e.g. nothing to pick from)
            return
    save(turn)
    turn.cw.session.flush()  # the buttons carry the row's id
    if flow.personal_data:
        turn.replies.send(retention_notice(turn))
    prompt(turn)


def retention_notice(turn: Turn) -> Text:
    return n_(
        "If you leave this unfinished, what you have entered is kept for {n} day and then deleted.",
        "If you leave this unfinished, what you have entered is kept for {n} days and then deleted.",
        turn.draft_days,
    )


def cancel(turn: Turn) -> bool:
    conv = active_conversation(turn)
    if conv is None:
        return False
    turn.conv = conv
    end(turn)
    return True


# --- rendering --------------------------------------------------------------------------


def _cb(conv: ConversationState, step: str, code: str) -> str:
    # "<id>.<key>": SQLite reuses the id of a deleted row, and a button of a finished
    # conversation must not answer a new one that got its id (see ``start``)
    return ConversationTap(conv.id or 0, conv.draft.get(KEY) or "", step, code).encode()


def prompt(turn: Turn, note: Text | None = None) -> None:
    """Ask the current step's question (after ``note``, e.g. why the last answer failed)."""
    assert turn.conv is not None and turn.flow is not None
    conv, flow = turn.conv, turn.flow
    if conv.step == SUMMARY:
        _prompt_summary(turn, note)
        return
    step = flow.step(conv.step)
    lines = [turn.t(note)] if note is not None else []
    lines.append(turn.t(step.prompt(turn)))
    rows: list[list[Button]] = []
    if step.options is not None and step.kind in ("choice", "multi", "text", "date"):
        rows += _option_rows(turn, step)
    if step.default is not None:
        default = step.default(turn)
        if default is not None:
            rows.insert(0, [Button(default.label, _cb(conv, step.name, "=" + default.code))])
    extra: list[Button] = []
    has_items = bool(conv.draft.get(step.name))
    # an optional media step offers Skip until something was sent, then Done
    if step.kind == "multi" or (step.kind == "media" and (has_items or not step.skippable)):
        extra.append(Button(_("Done ✓"), _cb(conv, step.name, "!done")))
    if step.skippable and not (step.kind == "media" and has_items):
        extra.append(Button(_("Skip"), _cb(conv, step.name, "!skip")))
    if extra:
        rows.append(extra)
    keep = _keepable(turn, step)
    if keep is not None:
        rows.append([Button(Text("↩ {keep}", {"keep": keep}), _cb(conv, step.name, KEEP))])
    if conv.draft.get("_editing"):
        rows.append([Button(_("« Back to summary"), _cb(conv, step.name, "!sum"))])
    rows.append(_back_and_cancel(turn, step.name))
    turn.replies.send_text("\n".join(lines), rows)


def _back_and_cancel(turn: Turn, step_name: str) -> list[Button]:
    """The last row: "◀ Back" on every step after the first (not while editing from the
    summary, which has its own way back), and Cancel."""
    assert turn.conv is not None
    conv = turn.conv
    row = []
    if conv.draft.get(HISTORY) and not conv.draft.get("_editing"):
        row.append(Button(_("◀ Back"), _cb(conv, step_name, BACK)))
    row.append(Button(_("Cancel"), _cb(conv, step_name, "!cancel")))
    return row


def _keepable(turn: Turn, step: Step) -> str | None:
    """The earlier answer of a step asked again (after "◀ Back"), offered as one tap; None on
    the first pass (no extra button on the way forward)."""
    assert turn.conv is not None
    if step.kind not in ("choice", "text", "date") or step.name not in turn.conv.draft.get("_visited", []):
        return None
    if step.show is None:
        value = turn.conv.draft.get(step.name)
        if value is None or value == "":
            return None
        if step.kind == "choice":  # a code: shown by its label, if still on offer
            label = _offered(turn, step, str(value))
            return label.render(turn.lang) if label is not None else None
    shown = _value_text(turn, step)
    return None if shown == "—" else shown


def go_back(turn: Turn) -> bool:
    """Back to the step asked before the current one (skipped steps stay skipped); False
    on the first step."""
    assert turn.conv is not None and turn.flow is not None
    conv = turn.conv
    history = list(conv.draft.get(HISTORY) or [])
    if not history:
        return False
    previous = history.pop()
    conv.draft[HISTORY] = history
    conv.draft.pop("_page", None)
    conv.draft.pop("_found", None)
    conv.draft.pop("_editing", None)
    conv.step = previous
    step = turn.flow.step(previous)
    if step.undo is not None:
        step.undo(turn)
    save(turn)
    prompt(turn)
    return True


def _option_rows(turn: Turn, step: Step) -> list[list[Button]]:
    assert turn.conv is not None and step.options is not None
    conv = turn.conv
    found = conv.draft.get("_found")
    options = (
        [Option(code, Text(label)) for code, label in found]
        if found is not None and step.search is not None
        else list(step.options(turn))
    )
    page = int(conv.draft.get("_page", 0))
    pages = max(1, -(-len(options) // PAGE_SIZE))
    page = min(page, pages - 1)
    shown = options[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    if step.audit_shown is not None:
        step.audit_shown(turn, [o.code for o in shown])
    chosen = set(conv.draft.get(step.name) or []) if step.kind == "multi" else set()
    buttons = [
        Button(
            Text("✅ {label}", {"label": o.label}) if o.code in chosen else o.label,
            _cb(conv, step.name, o.code),
        )
        for o in shown
    ]
    width = 2 if all(len(o.label.render(turn.lang)) <= 12 for o in shown) else 1
    rows = [buttons[i : i + width] for i in range(0, len(buttons), width)]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(Button(Text("‹ {n}", {"n": page}), _cb(conv, step.name, f"!p{page - 1}")))
        nav.append(Button(Text("{n}/{total}", {"n": page + 1, "total": pages}), _cb(conv, step.name, "!noop")))
        if page < pages - 1:
            nav.append(Button(Text("{n} ›", {"n": page + 2}), _cb(conv, step.name, f"!p{page + 1}")))
        rows.append(nav)
    return rows


def _value_text(turn: Turn, step: Step) -> str:
    shown = step.show(turn) if step.show is not None else turn.draft.get(step.name)
    if shown is None or shown == "" or shown == []:
        return "—"
    return shown.render(turn.lang) if isinstance(shown, Text) else str(shown)


def _summary_steps(turn: Turn) -> list[Step]:
    """The rows of the summary: answered steps on the current path, and the unasked ones."""
    assert turn.conv is not None and turn.flow is not None
    visited = set(turn.conv.draft.get("_visited", []))
    path = set(_path(turn))
    return [
        s for s in turn.flow.steps
        if (s.name in visited and s.name in path and s.in_summary) or not s.ask
    ]


def _prompt_summary(turn: Turn, note: Text | None) -> None:
    assert turn.conv is not None and turn.flow is not None
    conv, flow = turn.conv, turn.flow
    title = flow.summary_title(turn) if flow.summary_title else flow.title
    lines = [turn.t(note)] if note is not None else []
    lines.append(turn.t(title))
    steps = _summary_steps(turn)
    for step in steps:
        # Translators: one row of a summary; zh: "• {label}：{value}"
        lines.append(turn.t(_("• {label}: {value}", label=step.label, value=_value_text(turn, step))))
    lines.append("")
    lines.append(turn.t(_("Check the details, then confirm.")))
    edits = [
        Button(Text("✏️ {label}", {"label": s.label}), _cb(conv, SUMMARY, "e" + s.name))
        for s in steps
        if s.editable
    ]
    rows = [edits[i : i + 2] for i in range(0, len(edits), 2)]
    rows.append([Button(_("✅ Confirm"), _cb(conv, SUMMARY, "!ok"))])
    rows.append(_back_and_cancel(turn, SUMMARY))
    turn.replies.send_text("\n".join(lines), rows)


# --- input ------------------------------------------------------------------------------


def _advance(turn: Turn, step: Step) -> None:
    """Move past ``step``: to the summary when editing, else to its next step."""
    assert turn.conv is not None
    draft = turn.conv.draft
    draft.pop("_page", None)
    draft.pop("_found", None)
    visited = list(draft.get("_visited", []))
    if step.name not in visited:
        visited.append(step.name)
    draft["_visited"] = visited
    nxt = _next_name(turn, step)
    if not draft.get("_editing"):
        draft[HISTORY] = [*(draft.get(HISTORY) or []), step.name]
    # an edit goes back to the summary, unless it leads to a step never answered (a new branch)
    if draft.get("_editing") and (nxt is None or nxt in visited):
        nxt = None
    turn.conv.step = nxt or SUMMARY
    if turn.conv.step == SUMMARY:
        draft.pop("_editing", None)
    save(turn)
    prompt(turn)


def _next_name(turn: Turn, step: Step) -> str | None:
    assert turn.flow is not None
    nxt = step.next(turn) if callable(step.next) else step.next
    while nxt is not None and not turn.flow.step(nxt).ask:
        following = turn.flow.step(nxt)
        nxt = following.next(turn) if callable(following.next) else following.next
    return nxt


def _path(turn: Turn) -> list[str]:
    """The steps the current answers lead through. An edit that changes a branch (a result
    no longer "promised") leaves answers on the branch not taken: they are not shown."""
    assert turn.flow is not None
    names: list[str] = []
    name: str | None = turn.flow.first.name
    while name is not None and name not in names:
        names.append(name)
        name = _next_name(turn, turn.flow.step(name))
    return names


def _accept(turn: Turn, step: Step, value: Any) -> None:
    if step.store is not None:
        step.store(turn, value)
    else:
        turn.draft[step.name] = value


def _accept_and_advance(turn: Turn, step: Step, value: Any, chosen: Text | None = None) -> None:
    """Keep the answer and ask the next question; a refused answer is asked again with the
    reason (a store may refuse too: a student who already has an open case)."""
    try:
        _accept(turn, step, value)
    except ValidationError as err:
        prompt(turn, err.text)
        return
    if chosen is not None:
        turn.replies.mark_chosen(chosen)
    _advance(turn, step)


def handle_text(turn: Turn, text: str) -> None:
    """Typed text for the user's active conversation."""
    assert turn.conv is not None and turn.flow is not None
    conv, flow = turn.conv, turn.flow
    if conv.step == SUMMARY and clean_text(text).strip().lower() not in BACK_WORDS:
        prompt(turn, _("Please use the buttons: edit a field, or confirm."))
        return
    text = clean_text(text)
    if not text.strip():  # nothing but control characters
        prompt(turn, _("I can't use that here."))
        return
    if text.strip().lower() in BACK_WORDS:
        # "返回上一步" typed at a text step is a wish to go back, never the answer
        if not go_back(turn):
            prompt(turn, _("This is the first question; there is no step before it."))
        return
    step = flow.step(conv.step)
    if step.kind in ("choice", "multi"):
        if step.search is not None:
            found = list(step.search(turn, text))
            if not found:
                prompt(turn, _("Nothing matches “{text}”. Try another part of the name.", text=quote(text)))
                return
            if len(found) == 1 and step.kind == "choice":
                _accept_and_advance(turn, step, found[0].code)
                return
            conv.draft["_found"] = [(o.code, o.label.render(turn.lang)) for o in found]
            conv.draft["_page"] = 0
            save(turn)
            prompt(turn, _("{n} found:", n=len(found)))
            return
        prompt(turn, _("Please choose one of the buttons."))
        return
    if step.kind == "media":
        prompt(turn, _("Send a photo, voice note, document or location here, or tap Done."))
        return
    if step.kind in ("text", "date"):
        assert step.parse is not None, step.name
        try:
            value = step.parse(turn, text)
        except ValidationError as err:
            prompt(turn, err.text)
            return
        _accept_and_advance(turn, step, value)
        return
    prompt(turn)


def handle_media(turn: Turn, item: dict[str, Any]) -> None:
    """A photo, voice note, document or location sent to the active conversation."""
    assert turn.conv is not None and turn.flow is not None
    conv, flow = turn.conv, turn.flow
    step = flow.step(conv.step) if conv.step != SUMMARY else None
    if step is None or step.kind != "media":
        prompt(turn, _("I can't use that here."))
        return
    if step.accept_media is not None:
        try:
            item = step.accept_media(turn, item)
        except ValidationError as err:
            prompt(turn, err.text)
            return
    evidence = list(conv.draft.get(step.name) or [])
    evidence.append(item)
    conv.draft[step.name] = evidence
    save(turn)
    turn.replies.send(
        _("Received ({n}). Send more, or tap Done.", n=len(evidence)),
        [[Button(_("Done ✓"), _cb(conv, step.name, "!done"))]],
    )


def handle_tap(turn: Turn, step_name: str, code: str) -> None:
    """A button of the conversation ``turn.conv`` (already checked to be the user's)."""
    assert turn.conv is not None and turn.flow is not None
    conv, flow = turn.conv, turn.flow
    if step_name != conv.step:
        turn.replies.answer(_("That question has moved on; see the latest message."))
        return
    if code == "!cancel":
        end(turn)
        turn.replies.answer()
        turn.replies.send(_("Cancelled. Nothing was saved."))
        return
    if code == BACK and conv.draft.get(HISTORY) and not conv.draft.get("_editing"):
        turn.replies.answer()
        turn.replies.mark_chosen(_("◀ Back"))
        go_back(turn)
        return
    if conv.step == SUMMARY:
        _tap_summary(turn, code)
        return
    step = flow.step(conv.step)
    if code == KEEP:
        kept = _keepable(turn, step)
        if kept is None:
            turn.replies.answer(_("That choice is no longer offered."))
            return
        turn.replies.mark_chosen(Text(kept))
        _advance(turn, step)
        return
    # no early answer(): only a turn's first answer reaches the user, and the refusals
    # below ("Choose at least one.") must be it; an unanswered tap is answered on delivery
    if code == "!noop":
        return
    if code.startswith("!p"):
        page = code[2:]
        if not (page.isascii() and page.isdigit() and len(page) <= 4):  # callback data is never trusted
            turn.replies.answer(_("That choice is no longer offered."))
            return
        conv.draft["_page"] = int(page)
        save(turn)
        turn.replies.edit_keyboard(_option_rows_with_controls(turn, step))
        return
    if code == "!sum" and conv.draft.get("_editing"):  # only offered while editing
        conv.step = SUMMARY
        conv.draft.pop("_editing", None)
        save(turn)
        prompt(turn)
        return
    if code == "!skip" and step.skippable:
        if step.kind == "media" and conv.draft.get(step.name):
            _advance(turn, step)  # never drop evidence already sent: Skip after a photo is Done
            return
        _accept_and_advance(turn, step, None)
        return
    if code == "!done" and step.kind in ("multi", "media"):
        if not conv.draft.get(step.name) and not step.skippable:
            turn.replies.answer(
                _("Choose at least one.") if step.kind == "multi"
                else _("Send at least one photo or document first."),
                alert=True,
            )
            return
        if step.kind == "multi":
            turn.replies.mark_chosen(_chosen_labels(turn, step))
        else:
            turn.replies.mark_chosen(_("{n} attached", n=len(conv.draft.get(step.name) or [])))
        _advance(turn, step)
        return
    if code.startswith("="):
        default = step.default(turn) if step.default is not None else None
        if default is None or default.code != code[1:]:  # only the default on offer
            turn.replies.answer(_("That choice is no longer offered."))
            return
        try:
            default_value = _default_value(turn, step, code[1:])
        except ValidationError as err:
            prompt(turn, err.text)
            return
        _accept_and_advance(turn, step, default_value, chosen=default.label if default else None)
        return
    chosen_label = _offered(turn, step, code)
    if chosen_label is None:
        turn.replies.answer(_("That choice is no longer offered."))
        return
    if step.kind == "multi":
        chosen = list(conv.draft.get(step.name) or [])
        if code in chosen:
            chosen.remove(code)
        else:
            chosen.append(code)
        conv.draft[step.name] = chosen
        save(turn)
        turn.replies.edit_keyboard(_option_rows_with_controls(turn, step))
        return
    value: Any = code
    if step.kind in ("date", "text") and step.parse is not None:
        try:
            value = step.parse(turn, code)
        except ValidationError as err:
            prompt(turn, err.text)
            return
    _accept_and_advance(turn, step, value, chosen=chosen_label)


def _chosen_labels(turn: Turn, step: Step) -> Text:
    chosen = set(turn.draft.get(step.name) or [])
    labels = [o.label for o in (step.options(turn) if step.options else []) if o.code in chosen]
    return join(labels)


def _default_value(turn: Turn, step: Step, code: str) -> Any:
    if step.kind == "date" and step.parse is not None:
        return step.parse(turn, code)
    if step.kind == "multi":
        # "keep these": the selection as it stands (the codes would not fit in callback data)
        return list(turn.draft.get(step.name) or [])
    return code


def _offered(turn: Turn, step: Step, code: str) -> Text | None:
    """The label of the option ``code`` if the step offers it now (callback data is never
    trusted: a code is only taken if it is on offer)."""
    assert turn.conv is not None
    found = turn.conv.draft.get("_found")
    if found is not None and step.search is not None:
        return next((Text(label) for found_code, label in found if found_code == code), None)
    if step.lookup is not None:
        option = step.lookup(turn, code)
        return option.label if option is not None else None
    return next((o.label for o in (step.options(turn) if step.options else []) if o.code == code), None)


def _option_rows_with_controls(turn: Turn, step: Step) -> list[list[Button]]:
    """The keyboard of a step as ``prompt`` builds it, for editing in place."""
    probe = Replies()
    inner = Turn(turn.cw, turn.user, turn.lang, probe, turn.conv, turn.flow)
    prompt(inner)
    return probe.actions[-1].buttons or []


def _tap_summary(turn: Turn, code: str) -> None:
    assert turn.conv is not None and turn.flow is not None
    conv, flow = turn.conv, turn.flow
    if code == "!ok":
        turn.replies.answer()
        # the confirmed summary keeps no buttons (dropped with the rest if the domain refuses)
        turn.replies.mark_chosen(_("✅ Confirm"))
        try:
            flow.finish(turn)
        except CaseworkError as err:
            raise FlowRefused(err) from err
        end(turn)
        return
    if code.startswith("e"):
        # only the ✏️ buttons the summary shows: not the subject, not a branch not taken
        editable = {s.name: s for s in _summary_steps(turn) if s.editable}
        step = editable.get(code[1:])
        if step is None:
            turn.replies.answer(_("That choice is no longer offered."))
            return
        turn.replies.answer()
        turn.replies.mark_chosen(Text("✏️ {label}", {"label": step.label}))  # a new summary follows
        conv.step = step.name
        conv.draft["_editing"] = True
        save(turn)
        prompt(turn)
        return
    turn.replies.answer(_("That choice is no longer offered."))


class FlowRefused(Exception):
    """Raised by Confirm when the domain refuses: the caller rolls the domain write back,
    keeps the conversation on its summary and shows the reason."""

    def __init__(self, error: CaseworkError) -> None:
        super().__init__(str(error))
        self.error = error
