"""What a tap or a message means, given where the user stands.

Callback data is a short code, never trusted: ``casework.callbacks`` decodes it into a
typed tap (refusing anything malformed), and ``route`` dispatches on the tap's type. A
conversation's tap must name a conversation of this user, by its id and its random key;
every case number goes through ``casework``, which checks scope (and audits a refusal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import Message

from casework import (
    actions,
    callbacks,
    case_views,
    handover,
    ladder,
    notice_delivery,
    outcomes,
    return_check,
    transfers,
)
from casework.errors import AccessDenied
from casework.i18n import Text, _
from casework.validation import clean_text
from conversations import engine
from conversations.replies import Button
from handlers import attendance, cases, child_register, exports, menu, people, review, verification


def route(turn: engine.Turn, data: str) -> None:
    tap = callbacks.decode(data)
    if isinstance(tap, callbacks.ConversationTap):
        _conversation_tap(turn, tap)  # the engine answers (or leaves a no-op tap unanswered)
        return
    if tap is None and data.startswith(callbacks.CONVERSATION_PREFIX + "|") and data.count("|") >= 3:
        # shaped like a conversation's button, naming none (a forged id): as for one that is gone
        turn.replies.answer(_("That question is finished; see the latest message."))
        return
    handler = _ROUTES.get(type(tap)) if tap is not None else None
    if tap is None or handler is None:
        # malformed ("ack:x", "case:"), or a kind this router does not answer
        turn.replies.answer(_("That button is no longer in use."))
        return
    handler(turn, tap)
    if not any(a.kind != "answer" or a.text for a in turn.replies.actions):
        # nothing was done; say so rather than nothing
        turn.replies.actions.clear()
        turn.replies.answer(_("That button is no longer in use."))


def _conversation_tap(turn: engine.Turn, tap: callbacks.ConversationTap) -> None:
    key, step, code = tap.key, tap.step, tap.choice
    conv = engine.conversation_by_id(turn, tap.conversation_id)
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


def _menu(turn: engine.Turn, tap: callbacks.Menu) -> None:
    turn.replies.answer()
    what = tap.item
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
    elif what == "review":
        review.list_queue(turn)
    elif what == "stats":
        exports.stats(turn, [])
    elif what == "export":
        exports.export(turn, [])
    else:
        menu.show_menu(turn)


def _case(turn: engine.Turn, tap: callbacks.OpenCase) -> None:
    turn.replies.answer()
    cases.show_case(turn, tap.id)


def _visit(turn: engine.Turn, tap: callbacks.RecordVisit) -> None:
    case_id = tap.id
    turn.replies.answer()
    ladder.load_case(turn.cw, turn.user, case_id, "record_visit")
    engine.start(turn, "visit", case_id=case_id)


def _ack(turn: engine.Turn, tap: callbacks.Acknowledge) -> None:
    case_id = tap.id
    out = ladder.acknowledge(turn.cw, turn.user, case_id)
    turn.replies.answer()  # the message says it: no toast saying it too
    turn.replies.send(out.message)


def _assign(turn: engine.Turn, tap: callbacks.Assign) -> None:
    case_id = tap.case_id
    case = ladder.load_case(turn.cw, turn.user, case_id, "assign")
    assignee = tap.user_id
    if assignee is not None:
        out = ladder.assign(turn.cw, turn.user, case_id, assignee)
        turn.replies.answer()  # the message says it: no toast saying it too
        turn.replies.send(out.message)
        return
    people = case_views.assignees(turn.cw, case)
    turn.replies.answer()
    rows = [[Button(_("{name}", name=u.display_name), callbacks.Assign(case_id, u.id or 0).encode())] for u in people[:12]]
    turn.replies.send(_("Assign case #{id} to:", id=case_id), rows)


def _review(turn: engine.Turn, tap: callbacks.ReviewEvidence) -> None:
    proposal_id = tap.id
    turn.replies.answer()
    review.show(turn, proposal_id)


def _approve(turn: engine.Turn, tap: callbacks.Approve) -> None:
    """``apr:<proposal>`` says what approving does; ``apr:<proposal>:y`` does it."""
    proposal_id = tap.proposal_id
    if tap.confirmed:
        review.approve(turn, proposal_id)
        return
    turn.replies.answer()
    review.ask_approval(turn, proposal_id)


def _reject(turn: engine.Turn, tap: callbacks.Reject) -> None:
    proposal_id = tap.id
    outcomes.load_review(turn.cw, turn.user, proposal_id)  # refused (and audited) before any flow
    turn.replies.answer()
    engine.start(turn, "reject", proposal=proposal_id)


def _transfer(turn: engine.Turn, tap: callbacks.TransferAnswer) -> None:
    """``trf:ok:<id>`` / ``trf:no:<id>``: the child's unit answers a transfer request."""
    request_id, accept = tap.request_id, tap.accept
    req = transfers.decide(turn.cw, turn.user, request_id, accept=accept)
    turn.replies.answer()
    turn.replies.mark_chosen(_("Accept") if accept else _("Reject"))
    turn.replies.send(transfers.describe(turn.cw, req, accept=accept))


def _handover(turn: engine.Turn, tap: callbacks.HandoverAnswer) -> None:
    """``hnd:ok:<id>`` / ``hnd:no:<id>``: the receiving county answers a hand-over."""
    found = handover.decide(turn.cw, turn.user, tap.handover_id, accept=tap.accept)
    turn.replies.answer()
    turn.replies.mark_chosen(_("Accept") if tap.accept else _("Reject"))
    turn.replies.send(handover.describe(turn.cw, found, accept=tap.accept))


def _attending(turn: engine.Turn, tap: callbacks.Attending) -> None:
    out = ladder.confirm_attending(turn.cw, turn.user, tap.case_id, tap.attending)
    turn.replies.answer()
    turn.replies.send(out.message)


def _child_back(turn: engine.Turn, tap: callbacks.ChildBack) -> None:
    """The answer to "is the child back?" (``casework.return_check``)."""
    message = return_check.answer(turn.cw, turn.user, tap.case_id, tap.back)
    # the message may ask about several cases (one row each): its buttons stay
    turn.replies.answer()  # the message says it: no toast saying it too
    turn.replies.send(message)


def _delivery(turn: engine.Turn, tap: callbacks.RecordDelivery) -> None:
    notice_delivery.check_deliverable(turn.cw, turn.user, tap.case_id)
    turn.replies.answer()
    engine.start(turn, "delivery", case_id=tap.case_id)


def _action(turn: engine.Turn, tap: callbacks.CaseAction | callbacks.ConfirmCaseAction) -> None:
    case_id, action = tap.case_id, tap.action
    turn.replies.answer()
    if action in actions.CONFIRMED and not isinstance(tap, callbacks.ConfirmCaseAction):
        # one tap that cannot be undone: say what it will do, and do it on a second tap
        cases.ask_confirmation(turn, case_id, action)
        return
    simple: dict[str, Any] = {
        "resume": lambda: ladder.resume(turn.cw, turn.user, case_id),
        "escalate": lambda: ladder.escalate(turn.cw, turn.user, case_id),
        "issue_deadline_notice": lambda: ladder.issue_deadline_notice(turn.cw, turn.user, case_id),
        "issue_document": lambda: ladder.issue_document(turn.cw, turn.user, case_id),
        "reopen": lambda: ladder.reopen(turn.cw, turn.user, case_id),
    }
    flows = {
        "record_visit": "visit",
        "mark_returned": "returned",
        "enrol": "enrol",
        "record_home_teaching": "hometeach",
        "propose_outcome": "propose",
        "pause": "pause",
        "hand_over": "handover",
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


# each route takes a tap of the kind it is listed under (route looks it up by type(tap))
_ROUTES: dict[type[callbacks.Callback], Callable[[engine.Turn, Any], None]] = {
    callbacks.Menu: _menu,
    callbacks.OpenCase: _case,
    callbacks.RecordVisit: _visit,
    callbacks.Acknowledge: _ack,
    callbacks.Assign: _assign,
    callbacks.ReviewEvidence: _review,
    callbacks.Approve: _approve,
    callbacks.Reject: _reject,
    callbacks.Attending: _attending,
    callbacks.ChildBack: _child_back,  # "is the child back?" on a promise's or a notice's day
    callbacks.RecordDelivery: _delivery,  # the notice's 送达回执
    callbacks.TransferAnswer: _transfer,  # a transfer request (casework.transfers)
    callbacks.HandoverAnswer: _handover,  # a case handed over by another county (casework.handover)
    callbacks.CaseAction: _action,
    callbacks.ConfirmCaseAction: _action,  # an escalation or the notice, confirmed
    callbacks.AttendanceAnswer: attendance.tap_attendance,  # the daily attendance prompt (casework.attendance)
    callbacks.RollCallAnswer: attendance.tap_roll_call,  # the term-start roll call
    callbacks.UsersPage: people.tap_user,  # /users: deactivate
    callbacks.DeactivateUser: people.tap_user,
    callbacks.UsersCancel: people.tap_user,
    callbacks.InvitesPage: people.tap_invite,  # /invites: revoke
    callbacks.RevokeInvite: people.tap_invite,
    callbacks.InvitesCancel: people.tap_invite,
    callbacks.ExportMenu: exports.tap_export,  # /export: the filter menu, and making the workbook
    callbacks.FormFile: exports.tap_form,  # /forms: one form of a case, as Word and PDF
    callbacks.ReportWorkbook: exports.tap_report,  # the periodic report's workbook (casework.reports)
    callbacks.Unschooled: child_register.tap_unschooled,  # the register's children with no school
    callbacks.ReportChild: child_register.tap_report_child,
    callbacks.RegisterStatus: child_register.tap_status,
    callbacks.RegisterLedger: child_register.tap_ledger,  # the three ledgers of the 2024 notice
    callbacks.MergeStudents: child_register.tap_merge,  # /duplicates: merge, confirmed once more
    callbacks.VerifyTap: verification.tap,  # verification rounds (casework.verification)
    callbacks.VerifyAssign: verification.tap_assign,  # an unplaced child passed to a village
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
            if not _typed_tool(turn, msg.text):
                # the menu's own question follows: the note does not ask it again
                menu.show_menu(turn, _("I didn't understand that."))
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


# words an officer types for a tool (outside a flow): the tool, rather than "not understood"
_TOOL_WORDS: dict[str, str] = {
    "月报": "stats", "统计": "stats", "报表": "stats", "季报": "stats", "stats": "stats",
    "report month": "stats", "monthly report": "stats",
    "导出": "export", "台账": "export", "ledger": "export", "export": "export",
    "审核": "review", "review": "review",
    "核查": "verify", "核查名单": "verify", "verify": "verify",
    "菜单": "menu", "menu": "menu", "帮助": "help", "help": "help",
}


def _typed_tool(turn: engine.Turn, text: str) -> bool:
    """A tool named in words ("月报", "导出台账"): open it, if this user's role has it."""
    word = clean_text(text).strip().lower().lstrip("/")
    tool = _TOOL_WORDS.get(word)
    if tool is None:
        tool = next((t for w, t in _TOOL_WORDS.items() if len(w) >= 2 and not w.isascii() and w in word), None)
    if tool is None:
        return False
    commands = {name for name, _text in menu.commands_for(turn.user.role)}
    if tool == "help":
        menu.show_help(turn)
    elif tool == "menu":
        menu.show_menu(turn)
    elif tool not in commands:
        menu.show_menu(turn, _("That is a tool for officers; here is what you can do:"))
    elif tool == "stats":
        # "季报" asks for the quarter, anything else the month
        exports.stats(turn, ["quarter" if "季" in word or "quarter" in word else "month"])
    elif tool == "export":
        exports.export(turn, [])
    elif tool == "verify":
        verification.verify(turn, [])
    else:
        review.list_queue(turn)
    return True


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
