"""API errors, in the hosted API's shape: `{"error": {"message", "type", "param", "code"}}`.

Everything a route rejects raises `APIError`; the app turns it into a JSON response with its
status. The message texts of the hosted API are kept where they are known (not found, thread
lock, tool outputs), because clients match on them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["APIError", "bad_request", "error_body", "not_found"]


class APIError(Exception):
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
