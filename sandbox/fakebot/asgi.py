"""The HTTP face of the fake: a Starlette ASGI app (:func:`create_fake_bot_api`) serving
``/bot{token}/{method}`` and ``/file/bot{token}/{file_path}`` on top of a
:class:`~sandbox.fakebot.api.FakeTelegram`, reading Telegram's three request encodings
(query string / form-urlencoded, JSON body, multipart with files and ``attach://``)."""

from __future__ import annotations

import json
import urllib.parse
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.fakebot.api import FakeTelegram
from sandbox.fakebot.protocol import (
    JSON,
    MAX_UPLOAD_SIZE,
    TelegramApiError,
    UploadedFile,
    _bad_request,
)


def _error_response(error_code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": error_code, "description": description}, status_code=error_code
    )


async def _read_params(request: Request) -> tuple[JSON, dict[str, UploadedFile]]:
    values: JSON = dict(request.query_params)
    files: dict[str, UploadedFile] = {}
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("application/json"):
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise _bad_request("can't parse JSON object") from None
            if not isinstance(data, dict):
                raise _bad_request("JSON object expected")
            values.update(data)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        # what Starlette's form parser gives for it (keys and values unquoted as UTF-8),
        # at a fraction of the cost: PTB sends every call without a file this way
        body = await request.body()
        values.update(urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=100, max_fields=1000, max_part_size=4 * 1024 * 1024)
        try:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    if len(data) > MAX_UPLOAD_SIZE:
                        raise TelegramApiError(413, "Request Entity Too Large")
                    files[key] = UploadedFile(value.filename, value.content_type, data)
                else:
                    values[key] = value
        finally:
            await form.close()
    return values, files


def create_fake_bot_api(state: FakeTelegram, token: str | None = None) -> Starlette:
    """An ASGI app serving the Bot API of ``state`` for ``token`` (default ``state.token``).

    Routes: ``GET|POST /bot{token}/{method}`` and ``GET /file/bot{token}/{file_path}``.
    Serve it with uvicorn for a local sandbox, or hand it to ``httpx.ASGITransport`` in tests
    (see :func:`sandbox.harness.fake_bot_request`).
    """
    expected = token or state.token

    async def api(request: Request) -> Response:
        if request.path_params["token"] != expected:
            return _error_response(401, "Unauthorized")
        try:
            values, files = await _read_params(request)
        except TelegramApiError as err:
            return JSONResponse(err.to_json(), status_code=err.error_code)
        status, payload = await state.handle(request.path_params["method"], values, files)
        if isinstance(payload, bytes):  # a garbled answer
            return Response(payload, status_code=status, media_type="application/json")
        return JSONResponse(payload, status_code=status)

    async def download(request: Request) -> Response:
        if request.path_params["token"] != expected:
            return _error_response(401, "Unauthorized")
        stored = state.file_by_path(request.path_params["file_path"])
        if stored is None:
            return _error_response(404, "Not Found")
        return Response(stored.data, media_type="application/octet-stream")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _error_response(status, "Not Found" if status == 404 else HTTPStatus(status).phrase)

    app = Starlette(
        routes=[
            Route("/bot{token}/{method}", api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", download, methods=["GET"]),
        ],
        exception_handlers={HTTPException: not_found},
    )
    app.state.fake_telegram = state
    return app
