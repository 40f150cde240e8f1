"""The server's errors, and their mapping to the API's error shape.

```
ServerError                      every error the server raises on purpose
├── APIError                     the client's request is refused: {"error": {message, type, param,
│   │                            code}} with `status` (raised at the boundary: bodies, routes,
│   │                            engine checks)
│   ├── 400  bad_request()       invalid body, wrong id prefix, thread lock, tool outputs...
│   ├── 401  (middleware)        missing or wrong API key
│   ├── 404  not_found()         "No run found with id 'run_X'."; unknown files, vector stores
│   └── 413  BodyTooLarge        a body over its cap (middleware.py)
├── IllegalTransition            the server tried a run transition the lifecycle has not:
│                                a bug; answered 500 server_error (lifecycle.py)
└── ScenarioError                a scenario file that cannot be used (scenario.py; at start-up,
                                 never per request; fault files raise FaultFileError in faults.py)
```

`exception_handlers()` gives the Starlette app its handlers, so no route catches errors itself:
an `APIError` becomes its JSON response (Starlette's ExceptionMiddleware); anything else a
route lets escape (an `IllegalTransition`, a bug) becomes a 500 `server_error` body from
Starlette's ServerErrorMiddleware, which then re-raises it for the ASGI server to log with its
traceback (uvicorn: "Exception in ASGI application"; an in-process ASGI transport raises it
to the test, unless made with `raise_app_exceptions=False`). The message
texts of the hosted API are kept where they are known (not found, thread lock, tool outputs),
because clients match on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = [
    "APIError",
    "ServerError",
    "bad_request",
    "error_body",
    "exception_handlers",
    "not_found",
]


class ServerError(Exception):
    """The root of the server's own errors (see the tree above)."""


class APIError(ServerError):
    """An error the API reports to the client."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, param=self.param, code=self.code)


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def not_found(kind: str, object_id: str) -> APIError:
    """404 with the hosted API's text: "No run found with id 'run_X'."."""
    return APIError(404, f"No {kind} found with id '{object_id}'.")


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    """400 invalid_request_error."""
    return APIError(400, message, param=param, code=code)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def _unexpected(request: Request, exc: Exception) -> Response:
    body = error_body("The server had an error processing your request.", type="server_error")
    return JSONResponse(body, status_code=500)


def exception_handlers() -> Mapping[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    """The app's handlers: `APIError` -> its response; any other exception -> a 500."""
    return {APIError: _api_error, Exception: _unexpected}
