"""What a turn wants said, collected while the transaction is open and sent after it
commits, so the user never reads about a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from casework.i18n import Text

ActionKind = Literal[
    "send", "answer", "edit_keyboard", "mark_chosen", "edit_message", "document", "set_commands",
    "file", "job",
]

# work that outlives the turn (a ledger being made, a roster being read): started by the
# adapter after the commit, as a task of its own, with the update and the adapter's context
# (which this layer does not know)
Job = Callable[[Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class Button:
    label: Text
    data: str


@dataclass
class Action:
    kind: ActionKind
    text: str | Text | None = None
    buttons: list[list[Button]] | None = None
    # a reply keyboard (e.g. request_contact) instead of inline buttons
    reply_keyboard: list[list[dict[str, Any]]] | None = None
    remove_keyboard: bool = False
    alert: bool = False
    document: tuple[str, bytes] | None = None
    html: bool = False
    # a file Telegram already holds, sent again by its id: ("photo" | "document", file_id)
    file: tuple[str, str] | None = None
    job: Job | None = None


@dataclass
class Replies:
    actions: list[Action] = field(default_factory=list)

    def send(self, text: Text, buttons: list[list[Button]] | None = None, *, html: bool = False) -> None:
        self.actions.append(Action("send", text, buttons, html=html))

    def send_text(self, text: str, buttons: list[list[Button]] | None = None, *, html: bool = False) -> None:
        self.actions.append(Action("send", text, buttons, html=html))

    def ask_contact(self, text: Text, button: Text) -> None:
        self.actions.append(
            Action("send", text, reply_keyboard=[[{"text": button, "request_contact": True}]])
        )

    def send_removing_keyboard(self, text: Text) -> None:
        self.actions.append(Action("send", text, remove_keyboard=True))

    def answer(self, text: Text | None = None, *, alert: bool = False) -> None:
        """Answer the tapped button (a toast); only the first answer of a turn is sent."""
        self.actions.append(Action("answer", text, alert=alert))

    def edit_keyboard(self, buttons: list[list[Button]]) -> None:
        self.actions.append(Action("edit_keyboard", buttons=buttons))

    def mark_chosen(self, label: Text) -> None:
        """Show the tapped choice under the question and drop the old buttons."""
        self.actions.append(Action("mark_chosen", label))

    def edit_message(self, text: str, buttons: list[list[Button]]) -> None:
        """Replace the tapped message's text and buttons (a menu moving to another view);
        if it can no longer be edited, the same comes as a new message."""
        self.actions.append(Action("edit_message", text, buttons))

    def start_job(self, job: Job) -> None:
        """Start ``job`` once the turn has committed and its replies are out."""
        self.actions.append(Action("job", job=job))

    def set_commands(self, role: str) -> None:
        """Set this chat's command menu for the role, in the language of the turn."""
        self.actions.append(Action("set_commands", role))

    def send_document(self, filename: str, data: bytes, caption: Text | None = None) -> None:
        self.actions.append(Action("document", caption, document=(filename, data)))

    def send_file(self, kind: str, file_id: str, caption: Text | None = None) -> None:
        """Send again a photo or document a user sent us (evidence shown to a reviewer)."""
        self.actions.append(Action("file", caption, file=(kind, file_id)))
