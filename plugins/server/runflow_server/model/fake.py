"""A fake Chat Completions endpoint, for tests, benchmarks and offline demos.

```python
fake = FakeChatModel.of(Scripted.text("Hi"), Scripted.calls(("get_weather", '{"city":"Paris"}')))
brain = ModelBrain(config, clock=clock, http_client=httpx2.AsyncClient(
    transport=httpx2.ASGITransport(app=fake.app), base_url="http://fake"))
```

It answers `POST /v1/chat/completions` (and Azure's `/openai/deployments/{name}/chat/completions`)
from, in this order of preference:

- a script: `Scripted` answers, one per request, in order; each a stream of chunks (`text`,
  `calls`, or any chunks, with quirks), an HTTP error (`status`), a stream cut cleanly or by a
  dropped connection (`end`), optionally with a pause before each chunk;
- recordings (`recordings=` a file of `shared/fixtures/openai-recordings/chat-tools/`): the
  recorded answer to a request with the same messages and `tool_choice`, streamed as the
  hosted API streams (text in pieces, each call's id and name then its arguments in two
  pieces, the usage last when `stream_options.include_usage` asks for it);
- `responder=`: a function from the request body to a `Scripted` answer (benchmarks).

Like the real service it refuses, with a 400 in the API's error shape, requests it would
refuse: no messages, a `tool` message answering no call of the assistant message before it, a
call left unanswered, duplicate tool names, a `tool_choice` naming no tool. Fakes fail loudly:
a request with no answer left is a 500 naming it, and `unused()` lists answers never asked for.
`requests` keeps every request body (`headers` and `urls` theirs); `disconnects` counts the
streams whose client went away before their end (`disconnected` is set at the first).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["FakeChatModel", "Scripted", "chunk", "recorded_chunks"]

JSON = dict[str, Any]
End = Literal["done", "clean", "abort"]


def chunk(delta: JSON | None = None, finish_reason: str | None = None, **extra: Any) -> JSON:
    """One `chat.completion.chunk` with a single choice."""
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish_reason}
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1}
    return body | {"model": "fake", "choices": [choice]} | extra


def _usage_chunk(prompt: int, completion: int) -> JSON:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return chunk(usage=usage | {"total_tokens": prompt + completion}) | {"choices": []}


@dataclass(frozen=True)
class Scripted:
    """One answer of the fake: chunks to stream, or an HTTP error.

    `end`: `done` (then `data: [DONE]`), `clean` (the body just ends, no finish, no `[DONE]`),
    `abort` (the connection is dropped after the chunks). `delay`: seconds before the answer
    starts; `pause`: seconds before each chunk. `gate`: after `gate_after` chunks, the stream
    waits until the gate (a `threading.Event`, so a test in another thread can open it) is set.
    """

    chunks: tuple[JSON, ...] = ()
    status: int = 200
    body: JSON | None = None
    headers: tuple[tuple[str, str], ...] = ()
    end: End = "done"
    delay: float = 0.0
    pause: float = 0.0
    usage: tuple[int, int] | None = (10, 5)
    gate: threading.Event | None = None
    gate_after: int = 1

    @classmethod
    def text(cls, text: str, *, pieces: int = 3, finish: str = "stop", **options: Any) -> Scripted:
        """A text answer streamed in about `pieces` pieces."""
        size = max(1, -(-len(text) // pieces))
        parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": part}) for part in parts]
        chunks.append(chunk({}, finish))
        return cls(tuple(chunks), **options)

    @classmethod
    def calls(cls, *calls: tuple[str, str], text: str = "", **options: Any) -> Scripted:
        """Tool calls (name, arguments), each as the hosted API streams it."""
        chunks = [chunk({"role": "assistant", "content": text or None})]
        for index, (name, arguments) in enumerate(calls):
            chunks += _call_chunks(index, f"call_fake{index}", name, arguments)
        chunks.append(chunk({}, "tool_calls"))
        return cls(tuple(chunks), **options)

    @classmethod
    def error(cls, status: int, message: str, **options: Any) -> Scripted:
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
        return cls(status=status, body=options.pop("body", body), **options)


def _call_chunks(index: int, call_id: str, name: str, arguments: str) -> list[JSON]:
    head = {"index": index, "id": call_id, "type": "function"}
    first = chunk({"tool_calls": [head | {"function": {"name": name, "arguments": ""}}]})
    half = len(arguments) // 2
    rest = [arguments[:half], arguments[half:]] if arguments else []
    more = [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in rest]
    return [first, *more]


def recorded_chunks(completion: JSON) -> list[JSON]:
    """A recorded `chat.completion` as the stream the hosted API would have sent."""
    choice = completion["choices"][0]
    message = choice["message"]
    chunks = [chunk({"role": "assistant", "content": ""})]
    text = message.get("content") or ""
    step = max(1, len(text) // 4)
    chunks += [chunk({"content": text[i : i + step]}) for i in range(0, len(text), step)]
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        chunks += _call_chunks(index, call["id"], function["name"], function["arguments"])
    chunks.append(chunk({}, choice["finish_reason"]))
    return chunks


def _key(body: JSON) -> str:
    """What a recorded request is matched on: its messages (call ids aside: they are the
    model's own, and a server may make new ones) and its tool choice."""
    messages = []
    for message in body.get("messages") or []:
        calls = [
            (c["function"]["name"], json.loads(c["function"]["arguments"] or "{}"))
            for c in message.get("tool_calls") or []
        ]
        messages.append((message["role"], message.get("content"), calls))
    return json.dumps([messages, body.get("tool_choice") or "auto"], sort_keys=True)


@dataclass
class FakeChatModel:
    """The fake endpoint (see the module docstring); `app` is the ASGI application."""

    script: list[Scripted] = field(default_factory=list)
    recordings: dict[str, list[JSON]] = field(default_factory=dict)
    responder: Callable[[JSON], Scripted] | None = None
    requests: list[JSON] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    disconnects: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)
    app: Starlette = field(init=False)

    def __post_init__(self) -> None:
        route = Route("/v1/chat/completions", self._handle, methods=["POST"])
        azure = Route(
            "/openai/deployments/{deployment}/chat/completions", self._handle, methods=["POST"]
        )
        self.app = Starlette(routes=[route, azure])

    @classmethod
    def of(cls, *answers: Scripted, **options: Any) -> FakeChatModel:
        return cls(script=list(answers), **options)

    @classmethod
    def from_recording(cls, path: str | Path, **options: Any) -> FakeChatModel:
        """Answers from one recording file of `chat-tools/`."""
        table: dict[str, list[JSON]] = {}
        for entry in json.loads(Path(path).read_text())["Entries"]:
            table.setdefault(_key(entry["RequestBody"]), []).append(entry)
        return cls(recordings=table, **options)

    def unused(self) -> list[Scripted]:
        """Scripted answers no request asked for."""
        return list(self.script)

    async def _handle(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.urls.append(str(request.url))
        if (problem := refusal(body)) is not None:
            return _error(400, problem)
        answer = self._answer(body)
        if answer is None:
            return _error(500, f"fake: no answer for request #{len(self.requests)}")
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status != 200:
            return JSONResponse(answer.body, answer.status, headers=dict(answer.headers))
        usage = (body.get("stream_options") or {}).get("include_usage")
        chunks = list(answer.chunks)
        if usage and answer.usage is not None and answer.end == "done":
            chunks.append(_usage_chunk(*answer.usage))
        if not body.get("stream"):
            return _error(400, "fake: only streamed requests are answered")
        return StreamingResponse(
            self._events(chunks, answer),
            media_type="text/event-stream",
            headers=dict(answer.headers),
        )

    def _answer(self, body: JSON) -> Scripted | None:
        if self.script:
            return self.script.pop(0)
        entries = self.recordings.get(_key(body))
        if entries:
            entry = entries.pop(0) if len(entries) > 1 else entries[0]
            if entry["StatusCode"] != 200:
                return Scripted(status=entry["StatusCode"], body=entry["ResponseBody"])
            completion = entry["ResponseBody"]
            usage = completion.get("usage") or {}
            tokens = (usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
            return Scripted(tuple(recorded_chunks(completion)), usage=tokens)
        if self.responder is not None:
            return self.responder(body)
        return None

    async def _events(self, chunks: Sequence[JSON], answer: Scripted) -> AsyncIterator[bytes]:
        try:
            for number, item in enumerate(chunks):
                if answer.gate is not None and number == answer.gate_after:
                    await anyio.to_thread.run_sync(answer.gate.wait, abandon_on_cancel=True)
                if answer.pause:
                    await asyncio.sleep(answer.pause)
                yield f"data: {json.dumps(item)}\n\n".encode()
            if answer.end == "abort":
                raise ConnectionResetError("fake: connection dropped mid-stream")
            if answer.end == "done":
                yield b"data: [DONE]\n\n"
        except asyncio.CancelledError:
            self.disconnects += 1
            self.disconnected.set()
            raise


def refusal(body: JSON) -> str | None:
    """Why the real service would refuse this request (None when it would take it)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not body.get("model"):
        return "'messages' and 'model' are required"
    names = [t["function"]["name"] for t in body.get("tools") or []]
    if len(set(names)) != len(names):
        return f"tools: function names must be unique, got {names}"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("function", {}).get("name") not in names:
        return f"tool_choice names no tool of {names}"
    return _unanswered(messages)


def _unanswered(messages: Iterable[JSON]) -> str | None:
    waiting: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in waiting:
                return (
                    f"messages[{index}]: messages with role 'tool' must be a response to a "
                    f"preceding message with 'tool_calls'"
                )
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            return f"messages[{index}]: tool calls {waiting} have no tool message answering them"
        waiting = [call["id"] for call in message.get("tool_calls") or []]
    if waiting:
        return f"tool calls {waiting} have no tool message answering them"
    return None


def _error(status: int, message: str) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return JSONResponse({"error": error}, status)
