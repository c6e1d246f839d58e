"""Telegram's side of the wire: the JSON type, the Bot API's limits, its error shape
(:class:`TelegramApiError`, ``{"ok": false, "error_code": …, "description": …}``) and the
parameters of one call (:class:`Params`, read the way Telegram reads them)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar, cast

_T = TypeVar("_T")


def _json_copy(value: _T) -> _T:
    """A deep copy of JSON data (dicts, lists, scalars): what ``copy.deepcopy`` gives for it,
    without its memo bookkeeping, which cost more than the rest of a sendMessage."""
    copied: Any = value
    if isinstance(value, dict):
        copied = {k: _json_copy(v) for k, v in value.items()}
    elif isinstance(value, list):
        copied = [_json_copy(v) for v in value]
    elif not isinstance(value, (str, int, float, bool, type(None), bytes)):
        copied = copy.deepcopy(value)
    return cast(_T, copied)


JSON = dict[str, Any]

MAX_TEXT_LENGTH = 4096

MAX_CAPTION_LENGTH = 1024

MAX_CALLBACK_DATA_BYTES = 64

MAX_CALLBACK_ANSWER_LENGTH = 200

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files

MAX_UPLOAD_SIZE = 50 * 1024 * 1024  # bots may upload at most 50 MB


# Methods that create messages: flood limits, blocking and stats apply to them.
_SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendVideoNote",
        "sendLocation",
        "sendContact",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)


class TelegramApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def to_json(self) -> JSON:
        payload: JSON = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            payload["parameters"] = self.parameters
        return payload


def _bad_request(detail: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {detail}")


def _default_description(error_code: int, retry_after: int | None) -> str:
    known = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        429: f"Too Many Requests: retry after {retry_after}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
    if error_code in known:
        return known[error_code]
    try:
        return HTTPStatus(error_code).phrase
    except ValueError:
        return f"Error {error_code}"


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class _Result:
    """A successful result that also carries a ``description`` (setWebhook & co.)."""

    def __init__(self, value: Any, description: str) -> None:
        self.value = value
        self.description = description


class Params:
    """Parameters of one Bot API call, decoded like Telegram does.

    Values come either from a JSON body (native types) or from the query string / a form (all
    strings: plain strings as-is, everything else JSON-encoded, which is what PTB sends).
    """

    def __init__(
        self, values: Mapping[str, Any], files: Mapping[str, UploadedFile] | None = None
    ) -> None:
        self.values = dict(values)
        self.files = dict(files or {})

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise _bad_request(f'field "{name}" must be a valid Number')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad_request(f'field "{name}" must be a valid Number') from None

    def get_float(self, name: str, default: float | None = None) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f'field "{name}" must be a valid Number') from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def get_json(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def redacted(self) -> JSON:
        data = dict(self.values)
        for key, upload in self.files.items():
            data[f"<file {key}>"] = f"{upload.filename} ({len(upload.data)} bytes)"
        return data
