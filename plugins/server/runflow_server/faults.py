"""Fault injection: make the server misbehave on purpose, reproducibly, for reliability tests.

```yaml
seed: 7
rules:
  - {kind: latency, latency_ms: 250, rate: 0.5}             # half the requests wait 250 ms more
  - {kind: status, status: 429, retry_after: 1, times: 2}   # the first two requests get a 429
  - {kind: status, status: 500, when: after, method: POST, path: "/submit_tool_outputs$"}
  - {kind: drop, path: "/runs$"}                            # the connection closes, no response
  - {kind: cut_stream, after_events: 3}                     # SSE ends after 3 events, no `done`
```

Each rule matches requests by `method` and `path` (a regex searched in the URL path) and fires
with probability `rate` (one seeded RNG per configuration, so a seed replays the same faults),
at most `times` times. On a request, every firing `latency` rule adds its delay (real time);
then the first firing `status` or `drop` rule decides its fate:

- `when: before`: the request is not processed; the client gets the error status (with
  `Retry-After` when set) or a closed connection;
- `when: after`: the request is processed (the run is created, the outputs submitted) and then
  its response is replaced by the error or lost: the ambiguous failure a client must survive.

A `cut_stream` rule fires when a response turns out to be a stream of server-sent events: the
stream ends after `after_events` events, without `event: done`. The run goes on on the server.

How a lost connection looks: over uvicorn the TCP connection is closed (the client's HTTP
library reports the server disconnected; `openai` raises `APIConnectionError`); in-process
(httpx2's ASGI transport, which cannot close anything) the app raises `ConnectionDropped`, an
`httpx2.RemoteProtocolError`, which the `openai` client also turns into `APIConnectionError`. A
cut stream over uvicorn is an aborted connection (the SDK's stream iterator raises
`APIConnectionError`, caused by httpx2's `RemoteProtocolError`); in-process the body simply ends
early and the SDK's iterator stops without an error, the last events missing.

`create_app(faults=...)` takes a `FaultConfig` or a YAML/JSON file; `app.state.faults` may be
replaced at any time (a new configuration starts its own RNG and `times` counts), and
`app.state.fault_counts` counts the faults injected, by kind (`"latency"`, `"drop"`,
`"cut_stream"`) or by status (`429`, `500`...).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Literal

import anyio
import anyio.lowlevel
import httpx2
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import State
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

__all__ = [
    "ConnectionDropped",
    "FaultConfig",
    "FaultConfigError",
    "FaultInjector",
    "FaultRule",
    "load_faults",
]

log = logging.getLogger(__name__)


class FaultRule(BaseModel):
    """One kind of misbehaviour and the requests it applies to."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["latency", "status", "drop", "cut_stream"]
    rate: float = 1.0  # probability per matching request (seeded RNG)
    times: int | None = None  # stop after this many injections (None = unlimited)
    method: str | None = None  # match the HTTP method, e.g. "POST"
    path: str | None = None  # regex searched in the URL path, e.g. "/submit_tool_outputs$"
    status: int = 500  # kind="status": 429, 500, 503...
    retry_after: float | None = None  # kind="status": send a Retry-After header (seconds)
    latency_ms: float = 0  # kind="latency": added delay (real time, anyio.sleep)
    after_events: int = 1  # kind="cut_stream": the SSE response ends after N events (no `done`)
    # kind in {"status", "drop"}: before = the request is NOT processed; after = it IS processed
    # (state changed) and then the response is replaced / lost (the ambiguous failure).
    when: Literal["before", "after"] = "before"

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


class FaultConfig(BaseModel):
    """The faults of one server: a seed and the rules."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    rules: list[FaultRule] = []


class ConnectionDropped(httpx2.RemoteProtocolError):
    """Raised by the app, in-process, where a `drop` fault would close the connection."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response.")


class FaultConfigError(ValueError):
    """A fault file that cannot be read or does not hold a valid `FaultConfig`."""


def load_faults(source: FaultConfig | str | os.PathLike[str] | None) -> FaultConfig | None:
    """A `FaultConfig` as given, or read from a YAML / JSON file."""
    if source is None or isinstance(source, FaultConfig):
        return source
    try:
        return FaultConfig.model_validate(yaml.safe_load(Path(source).read_text("utf-8")) or {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise FaultConfigError(f"{os.fspath(source)}: not a fault configuration: {exc}") from exc


class _Dice:
    """The RNG and the injection counts of one configuration."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._used: Counter[int] = Counter()

    def fire(self, kinds: set[str], method: str, path: str) -> list[FaultRule]:
        """The rules of these kinds that fire for this request, in order."""
        fired = []
        for rule in self.config.rules:
            if rule.kind not in kinds or not rule.matches(method, path):
                continue
            if rule.times is not None and self._used[id(rule)] >= rule.times:
                continue
            if self._rng.random() < rule.rate:
                self._used[id(rule)] += 1
                fired.append(rule)
        return fired


class FaultInjector:
    """ASGI middleware, outermost: applies `state.faults` to every HTTP request."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self._app = app
        self._state = state
        self._dice: _Dice | None = None

    def roll(self, kinds: set[str], scope: Scope) -> list[FaultRule]:
        config: FaultConfig | None = self._state.faults
        if config is None or not config.rules:
            return []
        if self._dice is None or self._dice.config is not config:
            self._dice = _Dice(config)
        fired = self._dice.fire(kinds, scope["method"], scope["path"])
        counts: Counter[str | int] = self._state.fault_counts
        for rule in fired:
            counts[rule.status if rule.kind == "status" else rule.kind] += 1
            log.info(
                "fault injected: %s",
                rule.model_dump_json(exclude_defaults=True),
                extra={"method": scope["method"], "path": scope["path"]},
            )
        return fired

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        fired = self.roll({"latency", "status", "drop"}, scope)
        for rule in fired:
            if rule.kind == "latency":
                await anyio.sleep(rule.latency_ms / 1000)
        fate = next((rule for rule in fired if rule.kind != "latency"), None)
        if fate is None:
            with contextlib.suppress(_StreamCut):
                await self._app(scope, receive, _StreamCutter(self, scope, send).send)
            return
        if fate.when == "after":
            await _process_and_discard(self._app, scope, receive)
        if fate.kind == "drop":
            await _drop(send)
        else:
            await _send_status(send, fate)


async def _process_and_discard(app: ASGIApp, scope: Scope, receive: Receive) -> None:
    """Run the request to the start of its response (its effect is done by then), drop the rest."""
    started = anyio.Event()

    async def discard(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.set()

    async def call() -> None:
        await app(scope, receive, discard)
        started.set()

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        await started.wait()
        group.cancel_scope.cancel()


async def _close_connection(send: Send) -> bool:
    """Close the connection under uvicorn's `send` (a bound method of its request cycle, which
    holds the asyncio transport); False when there is none (in-process)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    await anyio.lowlevel.checkpoint()  # uvicorn sees the connection lost before the app returns
    return True


async def _drop(send: Send) -> None:
    if not await _close_connection(send):
        raise ConnectionDropped()


_STATUS_TEXT = {
    429: ("Rate limit reached for requests. Please retry after a while.", "requests"),
    503: ("The server is overloaded or not ready yet.", "server_error"),
}


async def _send_status(send: Send, rule: FaultRule) -> None:
    message, kind = _STATUS_TEXT.get(
        rule.status, ("The server had an error while processing your request.", "server_error")
    )
    code = "rate_limit_exceeded" if rule.status == 429 else None
    body = error_body(message, type=kind, code=code)
    headers = [(b"content-type", b"application/json")]
    if rule.retry_after is not None:
        headers.append((b"retry-after", f"{rule.retry_after:g}".encode()))
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _is_sse(start: Message) -> bool:
    headers = dict(start.get("headers", []))
    return bytes(headers.get(b"content-type", b"")).startswith(b"text/event-stream")


class _StreamCut(Exception):
    """Stops the app's streaming response once its stream was cut."""


class _StreamCutter:
    """Passes a response through; cuts it short if it is SSE and a `cut_stream` rule fires."""

    def __init__(self, injector: FaultInjector, scope: Scope, send: Send) -> None:
        self._injector = injector
        self._scope = scope
        self._send = send
        self._left: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and _is_sse(message):
            rules = self._injector.roll({"cut_stream"}, self._scope)
            self._left = rules[0].after_events if rules else None
        elif message["type"] == "http.response.body" and self._left is not None:
            if self._left <= 0:
                await self._cut()
            if message.get("body"):
                self._left -= 1
        await self._send(message)

    async def _cut(self) -> None:
        if not await _close_connection(self._send):
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        raise _StreamCut()
