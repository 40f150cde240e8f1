"""Helpers for the server tests: recordings, SDK-model validation, stream reading."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import openai
import uvicorn
from pydantic import BaseModel

from runflow_server.brains import BrainEvent, TextDelta, Turn

RECORDINGS = Path("/work/shared/fixtures/openai-recordings/assistants")

Model = TypeVar("Model", bound=BaseModel)


def recording(name: str) -> list[dict[str, Any]]:
    """The entries of a recording file."""
    entries: list[dict[str, Any]] = json.loads((RECORDINGS / name).read_text())["Entries"]
    return entries


def recorded_events(entry: dict[str, Any]) -> list[str]:
    """The `event:` names of a recorded SSE response, in order."""
    lines: list[str] = entry["ResponseBody"]
    return [line.removeprefix("event: ").strip() for line in lines if line.startswith("event: ")]


def collapse(names: Iterable[str]) -> list[str]:
    """Runs of the same delta event become one: how many deltas a text takes is not the order."""
    result: list[str] = []
    for name in names:
        if not (result and result[-1] == name and name.endswith(".delta")):
            result.append(name)
    return result


def validate(model: type[Model], data: dict[str, Any]) -> Model:
    """Validate a wire object with the SDK's own model.

    One known gap between the hosted API and the SDK: a run without instructions carries
    `"instructions": null` on the wire (recorded), while the SDK types it `str`.
    """
    if data.get("object") == "thread.run" and data.get("instructions") is None:
        data = {**data, "instructions": ""}
    return model.model_validate(data, strict=False)


async def event_names(stream: AsyncIterable[Any]) -> list[str]:
    return [event.event async for event in stream]


async def read_stream(stream: AsyncIterable[Any]) -> list[Any]:
    return [event async for event in stream]


async def stream_run(client: openai.AsyncOpenAI, assistant_id: str, thread_id: str) -> list[Any]:
    """Create a run with `stream=True` and read its stream to the end."""
    stream = await client.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id, stream=True
    )
    return await read_stream(stream)


@contextmanager
def serve_in_thread(app: Any, *, backlog: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread, on a socket bound here to a free 127.0.0.1 port
    (so it accepts connections before uvicorn even starts); yield its base URL. `backlog`:
    how many connections may wait to be accepted (the defaults when None)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    if backlog is None:
        sock.listen()
        config = uvicorn.Config(app, log_level="warning")
    else:
        sock.listen(backlog)
        config = uvicorn.Config(app, log_level="warning", backlog=backlog)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class GatedBrain:
    """Streams `first`, then waits until the test sets `gate` (a thread event: the server may
    run in another thread) and streams `then`; a run cancelled meanwhile stops waiting."""

    def __init__(self, first: str, then: str) -> None:
        self.first, self.then = first, then
        self.gate = threading.Event()

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        yield TextDelta(self.first)
        await anyio.to_thread.run_sync(self.gate.wait, abandon_on_cancel=True)
        yield TextDelta(self.then)
