"""`Probe`: an ASGI middleware that watches the run server from the inside.

It counts the requests made on each thread's runs (`/v1/threads/{thread}/runs...`; creating
threads and assistants is set-up, not part of a run), and times how fast the client reacts:

- **reaction**: from the moment a response announcing requires_action finished sending (an SSE
  stream carrying `thread.run.requires_action`, or a run JSON with that status) to the arrival
  of the submit_tool_outputs request for that thread;
- **action wait**: from the moment the run entered requires_action (the engine published the
  event) to that same arrival. For streams the two are nearly equal; for pollers the second
  includes the time the run sat waiting for the next poll.

It answers two extra endpoints itself: `GET /_bench/stats` (the figures so far and the server
process's CPU time) and `POST /_bench/reset`. Every run of the benchmarks has a thread of its
own, so figures are keyed by thread.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Probe", "ProbeStats"]

_RUN_PATH = re.compile(r"^/v1/threads/([^/]+)/runs(?:/|$)")
_SUBMIT_SUFFIX = "/submit_tool_outputs"
_ANNOUNCES_ACTION = (b"event: thread.run.requires_action", b'"status":"requires_action"')


@dataclass
class ProbeStats:
    """What the probe saw since the last reset."""

    requests: Counter[str] = field(default_factory=Counter)
    """Run requests per thread id."""
    reactions: list[float] = field(default_factory=list)
    """Seconds, requires_action response sent -> submit_tool_outputs received."""
    action_waits: list[float] = field(default_factory=list)
    """Seconds, run entered requires_action -> submit_tool_outputs received."""
    cpu: float = 0.0
    """The server process's CPU seconds (process_time) when the stats were taken."""

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "reactions": self.reactions,
            "action_waits": self.action_waits,
            "cpu": self.cpu,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeStats:
        return cls(
            requests=Counter(data["requests"]),
            reactions=list(data["reactions"]),
            action_waits=list(data["action_waits"]),
            cpu=float(data["cpu"]),
        )


class Probe:
    """Wraps the run server app (or any ASGI app, with `record=False`: endpoints only)."""

    def __init__(self, app: ASGIApp, *, record: bool = True) -> None:
        self.app = app
        self.record = record
        self._stats = ProbeStats()
        self._announced: dict[str, float] = {}
        self._entered: dict[str, float] = {}
        engine = getattr(getattr(app, "state", None), "engine", None)
        if record and engine is not None:
            self._watch_engine(engine)

    def stats(self) -> ProbeStats:
        self._stats.cpu = time.process_time()
        return self._stats

    def reset(self) -> None:
        self._stats = ProbeStats()
        self._announced.clear()
        self._entered.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/_bench/"):
            await self._answer(scope, send)
            return
        match = _RUN_PATH.match(path) if self.record else None
        if match is None:
            await self.app(scope, receive, send)
            return
        thread_id = match.group(1)
        self._arrived(thread_id, submits=path.endswith(_SUBMIT_SUFFIX))
        await self.app(scope, receive, self._watching(thread_id, send))

    def _arrived(self, thread_id: str, *, submits: bool) -> None:
        now = time.perf_counter()
        self._stats.requests[thread_id] += 1
        if not submits:
            return
        announced = self._announced.pop(thread_id, None)
        entered = self._entered.pop(thread_id, None)
        if announced is not None:
            self._stats.reactions.append(now - announced)
        if entered is not None:
            self._stats.action_waits.append(now - entered)

    def _watching(self, thread_id: str, send: Send) -> Send:
        """`send`, noting when a response that announced requires_action has been sent."""
        announces = False

        async def watched(message: Message) -> None:
            nonlocal announces
            if message["type"] == "http.response.body":
                body: bytes = message.get("body", b"")
                announces = announces or any(mark in body for mark in _ANNOUNCES_ACTION)
            await send(message)
            if announces and not message.get("more_body", False):
                self._announced[thread_id] = time.perf_counter()

        return watched

    def _watch_engine(self, engine: Any) -> None:
        """Note when each run enters requires_action, by wrapping the engine's event bus."""
        bus = engine.bus
        publish = bus.publish

        def publish_and_note(run_id: str, name: str, obj: Any) -> None:
            if name == "thread.run.requires_action":
                self._entered[obj.thread_id] = time.perf_counter()  # a Run record
            publish(run_id, name, obj)

        bus.publish = publish_and_note

    async def _answer(self, scope: Scope, send: Send) -> None:
        if scope["path"] == "/_bench/reset" and scope["method"] == "POST":
            self.reset()
            body = b"{}"
        elif scope["path"] == "/_bench/stats":
            body = json.dumps(self.stats().to_json()).encode()
        else:
            await _respond(send, 404, b'{"error": "unknown benchmark endpoint"}')
            return
        await _respond(send, 200, body)


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
