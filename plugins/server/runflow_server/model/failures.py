"""What went wrong with a model call, in the run's terms: retry, shrink the prompt, or fail.

| the model's answer | what the brain does | code when it gives up |
|---|---|---|
| 429 (not `insufficient_quota`) | retry, `Retry-After` honoured | `rate_limit_exceeded` |
| 429 `insufficient_quota` | fail at once | `rate_limit_exceeded` |
| 408, 409, 5xx, timeouts, lost connections, a cut or empty stream | retry | `server_error` |
| 400 "context length" | `truncation_strategy: auto`: drop old messages, retry | `invalid_prompt` |
| other 400 / 413 / 422 (the run's tools, schema...) | fail at once | `invalid_prompt` |
| 401, 403, 404 and the rest (the server's configuration) | fail at once | `server_error` |

Messages name the provider and the status, never the key: `redact()` takes out the key and
anything shaped like one (an upstream may echo it, masked or not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import openai

from ..brains import ErrorCode

__all__ = ["Problem", "classify", "redact", "retry_after"]

_KEY_SHAPES = re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_*\-]{6,}|\bBearer\s+\S+", re.IGNORECASE)
_CONTEXT = re.compile(
    r"context[ _-]length|maximum context|context window|too many tokens|prompt is too long|"
    r"reduce the length|maximum (input|prompt) length|exceeds? the (model's )?(max|limit)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Problem:
    """A failed model call: how the run would fail, and whether it is worth another try."""

    code: ErrorCode
    message: str
    retryable: bool = False
    context_length: bool = False
    retry_after: float | None = None


def redact(text: str, secret: str | None) -> str:
    """`text` without the key and without anything that looks like one."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return _KEY_SHAPES.sub("[redacted]", text)


def classify(exc: BaseException, *, provider: str, secret: str | None) -> Problem | None:
    """The problem an exception of a model call stands for; None when it is not one."""
    if isinstance(exc, openai.APIStatusError):
        return _status_problem(exc, provider, secret)
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return Problem("server_error", f"The model at {provider!r} timed out.", retryable=True)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        message = f"The connection to the model at {provider!r} failed."
        return Problem("server_error", message, retryable=True)
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        detail = redact(str(exc.message), secret)
        message = f"The model at {provider!r} failed mid-answer: {detail}"
        return Problem("server_error", message, retryable=True)
    return None


def _status_problem(exc: openai.APIStatusError, provider: str, secret: str | None) -> Problem:
    status = exc.status_code
    detail = redact(_detail(exc), secret)
    message = f"The model at {provider!r} answered {status}: {detail}"
    code = _error_code(exc.body)
    if status == 429:
        quota = code == "insufficient_quota"
        wait = retry_after(exc.response.headers)
        return Problem("rate_limit_exceeded", message, retryable=not quota, retry_after=wait)
    if status in (408, 409) or status >= 500:
        wait = retry_after(exc.response.headers)
        return Problem("server_error", message, retryable=True, retry_after=wait)
    if status in (400, 413, 422):
        context = code == "context_length_exceeded" or bool(_CONTEXT.search(detail))
        return Problem("invalid_prompt", message, context_length=context)
    return Problem("server_error", message)


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])[:500]
        if isinstance(inner, str):
            return inner[:500]
    return str(exc.message)[:500]


def _error_code(body: Any) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = inner.get("code") or inner.get("type")
            return str(code) if code is not None else None
    return None


def retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` / `Retry-After` (seconds or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = headers.get("date")
    base = parsedate_to_datetime(date) if date else None
    return max(0.0, (when - base).total_seconds()) if base else None
