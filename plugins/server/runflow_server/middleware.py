"""The layers around the routes: request logs, API-key auth, Azure's `api-version`.

- `RequestLog` writes one record per request (`runflow_server.requests`): method, path, status
  and duration, as `extra` fields for structured handlers; never a header, a query or a body,
  so no key ever reaches a log.
- `ApiKeyAuth` (only with `api_key` set) wants the key as `Authorization: Bearer KEY` or
  `api-key: KEY` (Azure), compared in constant time; otherwise a 401 in the API's shape.
- `AzureApiVersion` (on `/openai`) wants an `api-version` query the Assistants API exists in:
  `2024-02-15-preview`, `2024-05-01-preview` or any later date; none is a 404 and an unknown one
  a 400, with Azure's texts.
"""

from __future__ import annotations

import hmac
import logging
import re
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

__all__ = ["ApiKeyAuth", "AzureApiVersion", "RequestLog"]

log = logging.getLogger("runflow_server.requests")

FIRST_AZURE_VERSION = "2024-02-15"
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


class AzureApiVersion:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = _refuse_version(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _refuse_version(scope: Scope) -> JSONResponse | None:
    query = scope.get("query_string", b"").decode("latin-1")
    versions = re.findall(r"(?:^|&)api-version=([^&]*)", query)
    if not versions:
        return JSONResponse(error_body("Resource not found", code="404"), status_code=404)
    found = _VERSION.match(versions[0])
    if found is None or found.group(1) < FIRST_AZURE_VERSION:
        body = error_body("API version not supported", param="api-version", code="BadRequest")
        return JSONResponse(body, status_code=400)
    return None
