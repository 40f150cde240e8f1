"""The layers around the routes: request logs, API-key auth, body size caps, Azure's `api-version`.

- `RequestLog` writes one record per request (`runflow_server.requests`): method, path, status
  and duration, as `extra` fields for structured handlers; never a header, a query or a body,
  so no key ever reaches a log.
- `ApiKeyAuth` (only with `api_key` set) wants the key as `Authorization: Bearer KEY` or
  `api-key: KEY` (Azure), compared in constant time; otherwise a 401 in the API's shape.
- `BodyLimit` refuses a request body over its cap with a 413 in the API's shape (code
  `request_too_large`): up front when `Content-Length` says so, otherwise (a chunked body, or
  one longer than it said) as soon as the bytes counted while the route reads it pass the cap;
  whatever the route made of the broken read, the client gets the 413. Two caps:
  `MAX_UPLOAD_BYTES` for a `multipart/form-data` POST to `/files`, `MAX_BODY_BYTES` for every
  other request (`create_app(max_body_bytes=..., max_upload_bytes=...)`).
- `AzureApiVersion` (on `/openai`) wants an `api-version` query the Assistants API exists in:
  `2024-02-15-preview`, `2024-05-01-preview` or any later date; none is a 404 and an unknown one
  a 400, with Azure's texts.
- `FoundryApiVersion` (on `/api/projects/{p}`) wants one Foundry's agents clients send: `v1`
  (azure-ai-agents 1.1), `2025-05-01` or any later date, with or without `-preview`
  (azure-ai-agents 1.2 sends `2025-05-15-preview`); an unknown one is the same 400 as on
  `/openai`. None at all is accepted, for the `openai` client pointed at a project.
"""

from __future__ import annotations

import hmac
import logging
import re
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import APIError, error_body

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_UPLOAD_BYTES",
    "ApiKeyAuth",
    "AzureApiVersion",
    "BodyLimit",
    "BodyTooLarge",
    "FoundryApiVersion",
    "RequestLog",
]

MAX_BODY_BYTES = 16 * 1024 * 1024
"""JSON requests: room for every field at its documented maximum (a 256,000-character message
or instructions is at most 3 MB even as `\\uXXXX`-escaped JSON), far from what it takes to
exhaust a server's memory."""
MAX_UPLOAD_BYTES = 512 * 1024 * 1024 + 1024 * 1024
"""`multipart/form-data` uploads to `/files`: a file of up to 512 MiB, the hosted API's limit,
plus 1 MiB for the form's other parts and its boundaries."""

log = logging.getLogger("runflow_server.requests")

FIRST_AZURE_VERSION = "2024-02-15"
FIRST_FOUNDRY_VERSION = "2025-05-01"
_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(-preview)?$")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, record)
        finally:
            took = round((time.perf_counter() - started) * 1000, 1)
            fields = {"method": scope["method"], "path": scope["path"], "status": status}
            log.info("%s %s -> %s (%s ms)", *fields.values(), took, extra={**fields, "ms": took})


class ApiKeyAuth:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self._app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(dict(scope["headers"])):
            body = error_body(
                "Incorrect API key provided. Pass the server's key as `Authorization: Bearer"
                " KEY` or `api-key: KEY`.",
                code="invalid_api_key",
            )
            await JSONResponse(body, status_code=401)(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _allowed(self, headers: dict[bytes, bytes]) -> bool:
        bearer = headers.get(b"authorization", b"")
        given = bearer[7:] if bearer[:7].lower() == b"bearer " else headers.get(b"api-key", b"")
        return hmac.compare_digest(given, self._key)


class BodyTooLarge(APIError):
    """A request body over its cap: 413, from the byte that passed it."""

    def __init__(self, cap: int) -> None:
        super().__init__(
            413,
            f"Request too large: the body of this request may be at most {cap} bytes.",
            code="request_too_large",
        )


_UPLOAD_PATH = re.compile(r"/files/?$")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self._app = app
        self._max_body = max_body_bytes
        self._max_upload = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        cap = self._cap(scope, headers)
        declared = [value.strip() for name, value in headers if name == b"content-length"]
        if any(value.isdigit() and int(value) > cap for value in declared):
            await _refuse(BodyTooLarge(cap), scope, receive, send)
            return
        received, exceeded, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise BodyTooLarge(cap)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the route's answer to a body cut short: the client gets the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, guarded)
        except BodyTooLarge:
            if started:
                raise
        if exceeded and not started:
            await _refuse(BodyTooLarge(cap), scope, receive, send)

    def _cap(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> int:
        content_type = dict(headers).get(b"content-type", b"").lower()
        upload = (
            scope["method"] == "POST"
            and _UPLOAD_PATH.search(scope["path"]) is not None
            and content_type.startswith(b"multipart/form-data")
        )
        return self._max_upload if upload else self._max_body


async def _refuse(error: APIError, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse(error.body(), status_code=error.status)(scope, receive, send)


class AzureApiVersion:
    foundry = False

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = _refuse_version(scope, foundry=self.foundry)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self._app(scope, receive, send)


class FoundryApiVersion(AzureApiVersion):
    foundry = True


def _refuse_version(scope: Scope, *, foundry: bool) -> JSONResponse | None:
    query = scope.get("query_string", b"").decode("latin-1")
    versions = re.findall(r"(?:^|&)api-version=([^&]*)", query)
    if not versions:
        if foundry:
            return None
        return JSONResponse(error_body("Resource not found", code="404"), status_code=404)
    if foundry and versions[0] == "v1":
        return None
    found = _VERSION.match(versions[0])
    first = FIRST_FOUNDRY_VERSION if foundry else FIRST_AZURE_VERSION
    if found is None or found.group(1) < first:
        body = error_body("API version not supported", param="api-version", code="BadRequest")
        return JSONResponse(body, status_code=400)
    return None
