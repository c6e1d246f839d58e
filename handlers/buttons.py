"""What a tap or a message means, given where the user stands.

Callback data is a short code, never trusted: ``s|<conv>.<key>|<step>|<choice>`` must
name a conversation of this user, by its id and its random key; every case number goes
through ``casework``, which checks scope (and audits a refusal).
"""

from __future__ import annotations

from typing import Any

from telegram import Message

from casework import case_views, ladder, transfers
from casework.errors import AccessDenied
from casework.i18n import Text, _
from casework.validation import clean_text, parse_id
from conversations import engine
from conversations.replies import Button
from handlers import attendance, cases, exports, menu, people, review


def route(turn: engine.Turn, data: str) -> None:
    if data.startswith(engine.CALLBACK_PREFIX + "|"):
        _conversation_tap(turn, data)
        return
    head, _sep, rest = data.partition(":")
    parts = rest.split(":") if rest else []
    handler = _ROUTES.get(head)
    if handler is None:
        turn.replies.answer(_("That button is no longer in use."))
        return
    handler(turn, parts)
    if not any(a.kind != "answer" or a.text for a in turn.replies.actions):
        # malformed data ("ack:x", "case:"): nothing was done; say so rather than nothing
        turn.replies.actions.clear()
        turn.replies.answer(_("That button is no longer in use."))


def _conversation_tap(turn: engine.Turn, data: str) -> None:
    try:
        _prefix, ident, step, code = data.split("|", 3)
    except ValueError:
        turn.replies.answer(_("That button is no longer in use."))
        return
    conv_id, _dot, key = ident.partition(".")
    conv_number = parse_id(conv_id)
    conv = engine.conversation_by_id(turn, conv_number) if conv_number is not None else None
    if conv is None:
        turn.replies.answer(_("That question is finished; see the latest message."))
        return
    if conv.user_id != turn.user.id:
        raise AccessDenied(
            _("That button belongs to someone else."),
            actor_id=turn.user.id, action="conversation.tap", object_type="conversation",
            object_id=conv.id,
        )
    if key != (conv.draft.get(engine.KEY) or ""):
        # a button of an earlier conversation whose id this one reuses (SQLite does)
        turn.replies.answer(_("That question is finished; see the latest message."))
        return
    turn.conv, turn.flow = conv, engine.REGISTRY[conv.flow]
    engine.handle_tap(turn, step, code)


def _menu(turn: engine.Turn, parts: list[str]) -> None:
    turn.replies.answer()
    what = parts[0] if parts else ""
    if what in ("report", "visit", "invite"):
        engine.start(turn, what)
    elif what == "resume":
        conv = engine.active_conversation(turn)
        if conv is None:
            menu.show_menu(turn, _("That question is finished; see the latest message."))
        else:
            turn.conv, turn.flow = conv, engine.REGISTRY[conv.flow]
            engine.prompt(turn)
    elif what == "cases":
        cases.list_cases(turn)
    elif what == "language":
        menu.ask_language(turn)
    else:
        menu.show_menu(turn)


def _case(turn: engine.Turn, parts: list[str]) -> None:
    case_id = parse_id(parts[0]) if parts else None
    turn.replies.answer()
    if case_id is not None:
        cases.show_case(turn, case_id)


def _visit(turn: engine.Turn, parts: list[str]) -> None:
    case_id = parse_id(parts[0]) if parts else None
    turn.replies.answer()
    if case_id is not None:
        ladder.load_case(turn.cw, turn.user, case_id, "record_visit")
        engine.start(turn, "visit", case_id=case_id)


def _ack(turn: engine.Turn, parts: list[str]) -> None:
    case_id = parse_id(parts[0]) if parts else None
    if case_id is None:
        return
    out = ladder.acknowledge(turn.cw, turn.user, case_id)
    turn.replies.answer(out.message)
    turn.replies.send(out.message)


def _assign(turn: engine.Turn, parts: list[str]) -> None:
    case_id = parse_id(parts[0]) if parts else None
    if case_id is None:
        return
    case = ladder.load_case(turn.cw, turn.user, case_id, "assign")
    assignee = parse_id(parts[1]) if len(parts) > 1 else None
    if assignee is not None:
        out = ladder.assign(turn.cw, turn.user, case_id, assignee)
        turn.replies.answer(out.message)
        turn.replies.send(out.message)
        return
    people = case_views.assignees(turn.cw, case)
    turn.replies.answer()
    rows = [[Button(_("{name}", name=u.display_name), f"assign:{case_id}:{u.id}")] for u in people[:12]]
    turn.replies.send(_("Assign case #{id} to:", id=case_id), rows)


def _review(turn: engine.Turn, parts: list[str]) -> None:
    proposal_id = parse_id(parts[0]) if parts else None
    if proposal_id is None:
        return
    turn.replies.answer()
    review.show(turn, proposal_id)


def _approve(turn: engine.Turn, parts: list[str]) -> None:
    """``apr:<proposal>`` says what approving does; ``apr:<proposal>:y`` does it."""
    proposal_id = parse_id(parts[0]) if parts else None
    if proposal_id is None:
        return
    if len(parts) > 1 and parts[1] == "y":
        review.approve(turn, proposal_id)
        return
    turn.replies.answer()
    review.ask_approval(turn, proposal_id)


def _reject(turn: engine.Turn, parts: list[str]) -> None:
    proposal_id = parse_id(parts[0]) if parts else None
    if proposal_id is None:
        return
    ladder.load_review(turn.cw, turn.user, proposal_id)  # refused (and audited) before any flow
    turn.replies.answer()
    engine.start(turn, "reject", proposal=proposal_id)


def _transfer(turn: engine.Turn, parts: list[str]) -> None:
    """``trf:ok:<id>`` / ``trf:no:<id>``: the child's unit answers a transfer request."""
    request_id = parse_id(parts[1]) if len(parts) == 2 else None
    if request_id is None or parts[0] not in ("ok", "no"):
        return
    accept = parts[0] == "ok"
    req = transfers.decide(turn.cw, turn.user, request_id, accept=accept)
    turn.replies.answer()
    turn.replies.mark_chosen(_("Accept") if accept else _("Reject"))
    turn.replies.send(transfers.describe(turn.cw, req, accept=accept))


def _attending(turn: engine.Turn, parts: list[str]) -> None:
    case_id = parse_id(parts[0]) if len(parts) == 2 else None
    if case_id is None:
        return
    out = ladder.confirm_attending(turn.cw, turn.user, case_id, parts[1] == "1")
    turn.replies.answer()
    turn.replies.send(out.message)


def _action(turn: engine.Turn, parts: list[str]) -> None:
    case_id = parse_id(parts[0]) if len(parts) >= 2 else None
    if case_id is None:
        return
    action = parts[1]
    turn.replies.answer()
    simple: dict[str, Any] = {
        "resume": lambda: ladder.resume(turn.cw, turn.user, case_id),
        "escalate": lambda: ladder.escalate(turn.cw, turn.user, case_id),
        "issue_deadline_notice": lambda: ladder.issue_deadline_notice(turn.cw, turn.user, case_id),
        "reopen": lambda: ladder.reopen(turn.cw, turn.user, case_id),
    }
    flows = {
        "record_visit": "visit",
        "mark_returned": "returned",
        "propose_outcome": "propose",
        "pause": "pause",
    }
    if action in simple:
        turn.replies.send(simple[action]().message)
    elif action == "close_out":  # 销号 is proposed with evidence, and closes on review
        ladder.load_case(turn.cw, turn.user, case_id, action)
        engine.start(turn, "propose", case_id=case_id, outcome="retained")
    elif action in flows:
        ladder.load_case(turn.cw, turn.user, case_id, action)
        engine.start(turn, flows[action], case_id=case_id)
    else:
        turn.replies.answer(_("That button is no longer in use."))


_ROUTES = {
    "menu": _menu,
    "case": _case,
    "visit": _visit,
    "ack": _ack,
    "assign": _assign,
    "rv": _review,
    "apr": _approve,
    "rej": _reject,
    "att": _attending,
    "trf": _transfer,  # a transfer request (casework.transfers)
    "act": _action,
    "atd": attendance.tap_attendance,  # the daily attendance prompt (casework.attendance)
    "rc": attendance.tap_roll_call,  # the term-start roll call
    "usr": people.tap_user,  # /users: deactivate
    "inv": people.tap_invite,  # /invites: revoke
    "xp": exports.tap_export,  # /export: the filter menu, and making the workbook
    "doc": exports.tap_form,  # /forms: one form of a case, as Word and PDF
    "rpt": exports.tap_report,  # the periodic report's workbook (casework.reports)
}


# --- messages -------------------------------------------------------------------------


def route_message(turn: engine.Turn, msg: Message) -> None:
    conv = engine.active_conversation(turn)
    if conv is not None:
        turn.conv, turn.flow = conv, engine.REGISTRY[conv.flow]
    if msg.text is not None and msg.text.startswith("/"):
        # a command the bot does not have: never an answer to the question on screen
        _hint(turn, conv is not None, _("I don't know that command; see /help."))
        return
    if msg.text is not None:
        if conv is None:
            menu.show_menu(turn, _("I didn't understand that. Choose what you'd like to do:"))
            return
        engine.handle_text(turn, msg.text)
        return
    # a GIF also carries a ``document``: look at stickers and GIFs before evidence
    if msg.sticker is not None or msg.animation is not None:
        _hint(turn, conv is not None, _("Stickers and GIFs can't be used here."))
        return
    evidence = _evidence(msg)
    if evidence is not None:
        if conv is None:
            turn.replies.send(_("Start a report or a visit first, then send the photo there."))
            return
        engine.handle_media(turn, evidence)
        return
    _hint(turn, conv is not None, _("I can't use that here."))


def _hint(turn: engine.Turn, in_flow: bool, hint: Text) -> None:
    """One line on what went wrong, then the question on screen again (or the menu)."""
    if in_flow:
        engine.prompt(turn, hint)
    else:
        menu.show_menu(turn, hint)


def _evidence(msg: Message) -> dict[str, Any] | None:
    if msg.photo:
        best = msg.photo[-1]  # the largest size: its pixels tell a photo from a 1×1 image
        caption = clean_text(msg.caption) if msg.caption is not None else None
        return {"kind": "photo", "file_id": best.file_id, "caption": caption,
                "width": best.width, "height": best.height}
    if msg.voice is not None:
        return {"kind": "voice", "file_id": msg.voice.file_id, "duration": msg.voice.duration}
    if msg.document is not None:
        doc = msg.document
        name = clean_text(doc.file_name) if doc.file_name is not None else None
        item: dict[str, Any] = {"kind": "document", "file_id": doc.file_id, "name": name}
        if doc.mime_type:
            item["mime_type"] = doc.mime_type
        if doc.thumbnail is not None:
            item["thumb"] = [doc.thumbnail.width, doc.thumbnail.height]
        return item
    if msg.location is not None:
        return {"kind": "location", "lat": msg.location.latitude, "lon": msg.location.longitude}
    return None
