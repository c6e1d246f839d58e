"""Files: what users and the bot upload is stored under a ``file_id`` and a ``file_path``
(``getFile``, then the download route of :func:`~sandbox.fakebot.asgi.create_fake_bot_api`),
and described as Telegram does (PhotoSize, Document, Voice…). Also small valid media for
tests (:data:`TINY_PNG`)."""

from __future__ import annotations

import hashlib
import mimetypes
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from sandbox.fakebot.protocol import (
    JSON,
    MAX_DOWNLOAD_SIZE,
    MAX_UPLOAD_SIZE,
    Params,
    TelegramApiError,
    _bad_request,
)
from sandbox.fakebot.state import TelegramState


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


TINY_PNG: bytes = _png(2, 2)
"""A valid 2x2 PNG, handy as photo payload."""


_FAKE_OGG = b"OggS\x00\x02" + b"\x00" * 58

_FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"

_FAKE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 16


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, GIF or JPEG image; (0, 0) when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:4] == b"GIF8" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return 0, 0


# Where Telegram stores each kind of file, and the extension it gives files without a name.
_FILE_FOLDERS = {
    "photo": ("photos", ".jpg"),
    "document": ("documents", ""),
    "audio": ("music", ".mp3"),
    "video": ("videos", ".mp4"),
    "voice": ("voice", ".oga"),
    "animation": ("animations", ".mp4"),
    "sticker": ("stickers", ".webp"),
    "video_note": ("video_notes", ".mp4"),
    "thumbnail": ("thumbnails", ".jpg"),
}


@dataclass
class StoredFile:
    """A file held by the fake server (uploaded by a user or by the bot)."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)

    def to_file_json(self) -> JSON:
        """The ``File`` object getFile returns."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


class Files(TelegramState):
    """Stored files: storing an upload, reading a file parameter, the media objects, getFile."""

    files: dict[str, StoredFile]
    _files_by_path: dict[str, StoredFile]
    _next_file: int

    def file(self, file_id: str) -> StoredFile:
        return self.files[file_id]

    def file_by_path(self, file_path: str) -> StoredFile | None:
        return self._files_by_path.get(file_path)

    def _store_file(
        self,
        data: bytes,
        *,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        number = self._next_file
        self._next_file += 1
        folder, default_ext = _FILE_FOLDERS.get(kind, ("documents", ""))
        ext = default_ext
        if kind in ("document", "audio") and file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1].lower()
        elif kind == "document" and mime_type:
            ext = mimetypes.guess_extension(mime_type) or ""
        stored = StoredFile(
            file_id=f"FAKE{kind.upper()[:3]}{number:06d}{hashlib.sha1(data).hexdigest()[:12]}",
            file_unique_id=f"U{number:06d}",
            data=bytes(data),
            file_path=f"{folder}/file_{number}{ext}",
            kind=kind,
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _photo_sizes(stored: StoredFile) -> list[JSON]:
        width, height = _image_size(stored.data)
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                "file_size": stored.file_size,
            }
        ]

    @staticmethod
    def _media_object(kind: str, stored: StoredFile, **extra: Any) -> JSON:
        data: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
        }
        if kind in ("document", "audio", "video", "animation") and stored.file_name:
            data["file_name"] = stored.file_name
        if kind in ("document", "audio", "video", "animation", "voice") and stored.mime_type:
            data["mime_type"] = stored.mime_type
        if kind in ("audio", "video", "voice", "animation", "video_note"):
            data["duration"] = int(extra.pop("duration", None) or 1)
        if kind in ("video", "animation"):
            width, height = _image_size(stored.data)
            data["width"], data["height"] = width or 320, height or 240
        if kind == "video_note":
            data["length"] = int(extra.pop("length", None) or 240)
        if kind == "sticker":
            data.update({"type": "regular", "width": 512, "height": 512})
            data.update({"is_animated": False, "is_video": False})
        data.update({k: v for k, v in extra.items() if v is not None})
        return data

    def _input_file(self, p: Params, field_name: str, kind: str) -> StoredFile:
        raw = p.values.get(field_name)
        upload = p.files.get(field_name)
        if upload is None and isinstance(raw, str) and raw.startswith("attach://"):
            upload = p.files.get(raw[len("attach://") :])
            if upload is None:
                raise _bad_request(f"there is no file attached for {raw}")
        if upload is not None:
            if not upload.data:
                raise _bad_request("file must be non-empty")
            if len(upload.data) > MAX_UPLOAD_SIZE:
                raise TelegramApiError(413, "Request Entity Too Large")
            mime = upload.content_type or (
                mimetypes.guess_type(upload.filename or "")[0] if upload.filename else None
            )
            if kind == "photo":
                mime = "image/jpeg"
            return self._store_file(
                upload.data, kind=kind, file_name=upload.filename, mime_type=mime
            )
        if raw is None or raw == "":
            raise _bad_request(f"there is no {field_name} in the request")
        if isinstance(raw, str):
            known = self.files.get(raw)
            if known is not None:
                return known
            if raw.lower().startswith(("http://", "https://")):
                raise _bad_request("failed to get HTTP URL content")
        raise _bad_request("wrong file identifier/HTTP URL specified")

    def _media_for(self, kind: str, stored: StoredFile, p: Params) -> JSON:
        if kind == "photo":
            return {"photo": self._photo_sizes(stored)}
        extra: JSON = {
            "duration": p.get_int("duration"),
            "performer": p.get_str("performer"),
            "title": p.get_str("title"),
            "emoji": p.get_str("emoji"),
            "length": p.get_int("length"),
        }
        obj = self._media_object(kind, stored, **extra)
        if kind == "animation":
            return {"animation": obj, "document": self._media_object("document", stored)}
        return {kind: obj}

    # ---------------------------------------------------------------- API: files

    def _api_get_file(self, p: Params) -> JSON:
        file_id = p.get_str("file_id") or ""
        stored = self.files.get(file_id)
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_SIZE:
            raise _bad_request("file is too big")
        return stored.to_file_json()
