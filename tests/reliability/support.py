"""What the reliability tests share: sizes (quick / soak), the figures they report, a ledger of
the submissions the server accepted, and instrumentation that tells a handler which call it runs.

Sizes: `size(quick, soak)` is the quick figure unless `RUNFLOW_SOAK=1` is set; soak runs are the
same tests with bigger numbers (see README.md).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai.types.beta.threads import Run
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runflow import (
    RunEnded,
    RunEvent,
    RunInfo,
    RunObserver,
    RunResult,
    StatusChanged,
    ToolCallAbandoned,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallRequest,
    ToolCallStarted,
)
from runflow.testing import LocalServer

SOAK = os.environ.get("RUNFLOW_SOAK", "").strip() not in ("", "0")
RESULTS = Path(__file__).parent / "results"


def size(quick: int, soak: int) -> int:
    """`quick` in CI, `soak` when RUNFLOW_SOAK=1."""
    return soak if SOAK else quick


# -- figures ------------------------------------------------------------------------------

_SECTIONS: dict[str, str] = {}


def report(title: str, rows: Sequence[tuple[str, object]], note: str = "") -> str:
    """Record one table of figures (written to results/ at the end of the session) and print it."""
    lines = [f"## {title}", "", "| figure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if note:
        lines += ["", note]
    text = "\n".join(lines) + "\n"
    _SECTIONS[title] = text
    print(f"\n{text}")
    return text


def write_report() -> Path | None:
    """Write every table of this session to results/latest.md (soak-latest.md when soaking)."""
    if not _SECTIONS:
        return None
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("soak-latest.md" if SOAK else "latest.md")
    mode = "soak (RUNFLOW_SOAK=1)" if SOAK else "quick"
    header = f"# runflow reliability figures, {mode}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n"
    path.write_text(header + "\n".join(_SECTIONS[title] for title in sorted(_SECTIONS)))
    return path


def counted(counter: Counter[Any]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in sorted(counter.items(), key=str)) or "-"


# -- which call a handler runs -------------------------------------------------------------

CURRENT_CALL: ContextVar[tuple[Run, ToolCallRequest] | None] = ContextVar(
    "CURRENT_CALL", default=None
)
"""Set around each handler by `CallTagging`: the run and the call the handler executes."""


def current_call() -> tuple[Run, ToolCallRequest]:
    found = CURRENT_CALL.get()
    assert found is not None, "a handler ran outside CallTagging's tool_call()"
    return found


class _TaggingObserver:
    """Sets `CURRENT_CALL` from each call's start to its end, in the task that runs it."""

    wants_steps = False

    def __init__(self, results: list[RunResult]) -> None:
        self._results = results
        self._run: Run | None = None
        self._tokens: dict[str, Token[tuple[Run, ToolCallRequest] | None]] = {}

    async def emit(self, event: RunEvent) -> None:
        match event:
            case StatusChanged(run=run):
                self._run = run
            case ToolCallStarted(call=call) if self._run is not None:
                self._tokens[call.id] = CURRENT_CALL.set((self._run, call))
            case (
                ToolCallFinished(record=ToolCallRecord(call_id=call_id))
                | ToolCallAbandoned(call=ToolCallRequest(id=call_id))
            ):
                token = self._tokens.pop(call_id, None)
                if token is not None:
                    CURRENT_CALL.reset(token)
            case RunEnded(result=result, error=None) if result is not None:
                self._results.append(result)


class CallTagging:
    """Instrumentation that lets handlers know their run and call (`current_call()`)."""

    def __init__(self) -> None:
        self.results: list[RunResult] = []

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[RunObserver]:
        yield _TaggingObserver(self.results)


# -- what the server accepted --------------------------------------------------------------


@dataclass
class Submission:
    run_id: str
    call_ids: list[str]
    at: float
    """The server's clock when it accepted the outputs."""


@dataclass
class Ledger:
    """The tool outputs the server accepted (a 200 to submit_tool_outputs), per run and call."""

    now: Callable[[], float] = time.time
    accepted: list[Submission] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)

    def per_call(self) -> Counter[tuple[str, str]]:
        return Counter((s.run_id, call_id) for s in self.accepted for call_id in s.call_ids)


def counting_server(
    ledger: Ledger, steps: list[dict[str, Any]] | None = None, **options: Any
) -> LocalServer:
    """A `LocalServer` (steps and options as there) whose app records in `ledger` every
    submission it accepted (`CountSubmissions`)."""
    server = LocalServer(steps, origin="http://rf.test", **options)
    server.app.add_middleware(CountSubmissions, ledger=ledger)
    return server


class CountSubmissions:
    """ASGI middleware (inside the fault injector, so it sees what the app really did): records
    every submit_tool_outputs request the app answered with a 200 in a `Ledger`."""

    def __init__(self, app: ASGIApp, ledger: Ledger) -> None:
        self._app = app
        self._ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.endswith("/submit_tool_outputs"):
            await self._app(scope, receive, send)
            return
        body = bytearray()

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._record(path, bytes(body), message["status"])
            await send(message)

        await self._app(scope, receiving, sending)

    def _record(self, path: str, body: bytes, status: int) -> None:
        if status != 200:
            self._ledger.refused[status] += 1
            return
        run_id = path.split("/runs/")[1].split("/")[0]
        outputs = json.loads(body)["tool_outputs"]
        ids = [output["tool_call_id"] for output in outputs]
        self._ledger.accepted.append(Submission(run_id, ids, self._ledger.now()))
