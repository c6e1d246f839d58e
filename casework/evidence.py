"""Evidence for closing a case (销号): what counts as a file, and as a reason.

A proposal to close a case must carry, for every kind of evidence the policy names for
its outcome, at least one photo or document tagged with that kind (``evidence_kind``).
A photo too small to show anything (a 1×1 image) is not evidence, and a reason like "x"
is not a reason: both are refused with a message that says what is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from casework import codes
from casework.errors import ValidationError
from casework.i18n import _

MIN_PHOTO_SIDE = 200  # pixels on the short side; a phone photo of a certificate has ~1000
MIN_REASON_CHARS = 4  # letters or digits: "因病休学" is the shortest reason worth the name
FILE_KINDS = ("photo", "document")


def check_item(item: dict[str, Any]) -> None:
    """Refuse one attachment that cannot be evidence of anything (too small, not a file)."""
    kind = item.get("kind")
    if kind not in FILE_KINDS:
        raise ValidationError(
            "evidence", _("Send a photo or a document here; a voice note or a location is not a certificate.")
        )
    if kind == "photo":
        width, height = int(item.get("width") or 0), int(item.get("height") or 0)
        if min(width, height) < MIN_PHOTO_SIDE:
            raise ValidationError(
                "evidence",
                _(
                    "This image is only {width}×{height} pixels, too small to show anything. "
                    "Send a clear photo (at least {min} pixels on its short side).",
                    width=width,
                    height=height,
                    min=MIN_PHOTO_SIDE,
                ),
            )
    elif str(item.get("mime_type") or "").startswith("image/") and not item.get("thumb"):
        # Telegram makes a preview of every image file worth the name; a 1×1 file has none
        raise ValidationError(
            "evidence",
            _("This image file is too small to show anything. Send a clear photo of the document."),
        )


def check_proposal(required: Sequence[str], evidence: Sequence[dict[str, Any]]) -> None:
    """Every required kind has at least one usable file tagged with it."""
    for item in evidence:
        if item.get("kind") in FILE_KINDS:
            check_item(item)
    for kind in required:
        if not any(
            item.get("evidence_kind") == kind and item.get("kind") in FILE_KINDS for item in evidence
        ):
            raise ValidationError(
                "evidence",
                _(
                    "Attach the evidence the policy asks for: {kind} (a photo or a document).",
                    kind=codes.label("evidence_kind", kind),
                ),
            )


def meaningful(text: str, *, field: str) -> str:
    """A reason someone else can check: at least a few letters, not one key pressed."""
    chars = [ch for ch in text if ch.isalnum()]
    if len(chars) < MIN_REASON_CHARS or len(set(chars)) < 2:
        raise ValidationError(
            field,
            _(
                "Say why in a few words (at least {n} characters), so the reviewer can check it.",
                n=MIN_REASON_CHARS,
            ),
        )
    return text
