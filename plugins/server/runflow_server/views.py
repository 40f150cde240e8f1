"""Views: the Assistants v1 shapes over the server's v2 objects, and Foundry's request dialect.

The engine knows one shape, Assistants v2. `Views` is an ASGI layer around the routes that
translates the JSON a client sends into it, and the v1 renderers below shape the records the
routes answer and the events they stream, so a client of another version sees its own shapes:

- **v1**, for Azure's v1 `api-version`s (`2024-02-15-preview`, `2024-03-01-preview`,
  `2024-04-01-preview`; v2 came with `2024-05-01-preview`) and the `OpenAI-Beta: assistants=v1`
  header of openai < 1.21. Requests: an assistant's `file_ids` become its
  `tool_resources.code_interpreter.file_ids` (and, when it has the `retrieval` tool, a
  `file_search` vector store of the same files); a message's `file_ids` become `attachments`
  for both tools; the `retrieval` tool is `file_search`. `tool_resources` and `attachments`
  are v2 fields, unknown in v1 ("Unrecognized request argument supplied"). `file_ids` are
  checked before they move (strings, at most 10 on a message, 20 on an assistant), so an error
  names the field the client sent. Responses: the
  mirror (`file_ids` back from those places, `retrieval` for `file_search`, in run steps too),
  without `tool_resources` or `attachments`. A v1 run's `file_ids` come from its own
  `tool_resources` as an assistant's do (`[]` while runs carry `tool_resources: {}`). v1's
  `/assistants/{id}/files` routes are served under v1 only (`assistant_files.py`).
- **Foundry** (`/api/projects/{p}`): azure-ai-agents 1.2 tags each tool output with
  `"type": "function_call_output"`; the tag is dropped before the route sees it.
- **v2** otherwise: bodies pass untouched, byte for byte.

Request bodies are read whole before the route runs (they are capped by `BodyLimit` outside
this layer); a body that is not a JSON object passes as sent, for the route to refuse.
Responses are not rewritten here: the routes render records for the request's view (`view_of`
and each record's `to_wire(view)`, which call the v1 renderers below), and so does the event
bus for each stream (`events.py`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import APIError, bad_request
from .parsing import load_json

__all__ = [
    "V1_AZURE_VERSIONS",
    "View",
    "Views",
    "delta_v1",
    "message_v1",
    "request_v1",
    "step_details_v1",
    "view_of",
    "with_file_ids",
]

JSON = dict[str, Any]
View = Literal["v1", "v2", "foundry"]

V1_AZURE_VERSIONS = frozenset({"2024-02-15-preview", "2024-03-01-preview", "2024-04-01-preview"})
_ASSISTANT_PATH = re.compile(r"/assistants(/[^/]+)?/?$")
_V2_ONLY = ("tool_resources", "attachments")
MAX_MESSAGE_FILES_V1 = 10
MAX_ASSISTANT_FILES_V1 = 20


def view_of(scope: Scope) -> View:
    """The view of a request: from its `OpenAI-Beta` header, its prefix and `api-version`."""
    headers = dict(scope["headers"])
    beta = headers.get(b"openai-beta", b"").decode("latin-1").replace(" ", "")
    path: str = scope["path"]
    if "assistants=v1" in beta.split(","):
        return "v1"
    if path.startswith("/openai/"):
        query = scope.get("query_string", b"").decode("latin-1")
        versions = re.findall(r"(?:^|&)api-version=([^&]*)", query)
        if versions and versions[0] in V1_AZURE_VERSIONS:
            return "v1"
    if path.startswith("/api/projects/"):
        return "foundry"
    return "v2"


def _tools_v2(tools: Any) -> Any:
    if not isinstance(tools, list):
        return tools
    return [
        {"type": "file_search"}
        if isinstance(tool, dict) and tool.get("type") == "retrieval"
        # the v1 search tool had no settings
        else tool
        for tool in tools
    ]


def _file_ids_v1(body: JSON, prefix: str, most: int) -> list[str] | None:
    """A v1 body's `file_ids` (taken out of it), checked here, where the field still has the
    name the client sent: a list of at most `most` strings (v1 took 10 on a message, 20 on an
    assistant)."""
    file_ids = body.pop("file_ids", None)
    if file_ids is None:
        return None
    param = f"{prefix}.file_ids" if prefix else "file_ids"
    if not isinstance(file_ids, list):
        raise bad_request(f"Invalid type for '{param}': expected an array.", param=param)
    for index, file_id in enumerate(file_ids):
        if not isinstance(file_id, str):
            item = f"{param}[{index}]"
            raise bad_request(f"Invalid type for '{item}': expected a string.", param=item)
    if len(file_ids) > most:
        raise bad_request(
            f"Invalid '{param}': array too long. Expected an array with maximum length {most},"
            f" but got an array with length {len(file_ids)} instead.",
            param=param,
            code="array_above_max_length",
        )
    return file_ids


def _message_v1(message: Any, param: str) -> Any:
    """A v1 message body: its `file_ids` as attachments for both file tools."""
    if not isinstance(message, dict):
        return message
    _refuse_v2_fields(message, param)
    file_ids = _file_ids_v1(message, param, MAX_MESSAGE_FILES_V1)
    if file_ids is not None:
        tools = [{"type": "code_interpreter"}, {"type": "file_search"}]
        message["attachments"] = [{"file_id": file_id, "tools": tools} for file_id in file_ids]
    return message


def _refuse_v2_fields(body: JSON, prefix: str = "") -> None:
    for name in _V2_ONLY:
        if name in body:
            param = f"{prefix}.{name}" if prefix else name
            raise bad_request(f"Unrecognized request argument supplied: {param}", param=param)


def request_v1(path: str, body: JSON) -> JSON:
    """A v1 request body (assistant, thread, message, run) in v2 terms; a 400 for v2 fields."""
    if "/messages" in path:
        return dict(_message_v1(body, ""))
    _refuse_v2_fields(body)
    if "tools" in body:
        body["tools"] = _tools_v2(body["tools"])
    if _ASSISTANT_PATH.search(path):
        file_ids = _file_ids_v1(body, "", MAX_ASSISTANT_FILES_V1)
    else:
        file_ids = body.pop("file_ids", None)
    if file_ids is not None and _ASSISTANT_PATH.search(path):
        resources: JSON = {"code_interpreter": {"file_ids": file_ids}}
        if any(tool.get("type") == "file_search" for tool in body.get("tools") or []):
            resources["file_search"] = {"vector_stores": [{"file_ids": file_ids}]}
        body["tool_resources"] = resources
    elif file_ids is not None:
        body["file_ids"] = file_ids  # a run's v1 file_ids were never a field: the route refuses
    for key in ("messages", "additional_messages"):
        if isinstance(body.get(key), list):
            body[key] = [_message_v1(item, f"{key}[{i}]") for i, item in enumerate(body[key])]
    thread = body.get("thread")
    if isinstance(thread, dict):
        _refuse_v2_fields(thread, "thread")
        messages = thread.get("messages")
        if isinstance(messages, list):
            thread["messages"] = [
                _message_v1(item, f"thread.messages[{i}]") for i, item in enumerate(messages)
            ]
    return body


def _request_foundry(path: str, body: JSON) -> JSON:
    outputs = body.get("tool_outputs")
    if path.endswith("/submit_tool_outputs") and isinstance(outputs, list):
        for output in outputs:
            if isinstance(output, dict) and output.get("type") == "function_call_output":
                del output["type"]
    return body


def _tools_v1(tools: list[Any]) -> list[Any]:
    return [{"type": "retrieval"} if tool.get("type") == "file_search" else tool for tool in tools]


def _tool_call_v1(call: JSON) -> JSON:
    if call.get("type") != "file_search":
        return call
    return {key: value for key, value in call.items() if key not in ("file_search", "type")} | {
        "type": "retrieval",
        "retrieval": {},
    }


def step_details_v1(details: JSON) -> JSON:
    """A step's details in v1: `retrieval` calls for `file_search` ones (in place)."""
    calls = details.get("tool_calls")
    if isinstance(calls, list):
        details["tool_calls"] = [_tool_call_v1(call) for call in calls]
    return details


def with_file_ids(wire: JSON) -> JSON:
    """An assistant or a run in v1: `file_ids` for its code interpreter's `tool_resources`."""
    resources = wire.pop("tool_resources", None) or {}
    wire["tools"] = _tools_v1(wire.get("tools") or [])
    code = resources.get("code_interpreter") or {}
    wire["file_ids"] = list(code.get("file_ids") or [])
    return wire


def message_v1(wire: JSON) -> JSON:
    """A message in v1: `file_ids` for its `attachments`."""
    attachments = wire.pop("attachments", None) or []
    wire["file_ids"] = [item["file_id"] for item in attachments if "file_id" in item]
    return wire


def delta_v1(delta: JSON) -> JSON:
    """A stream's delta (or error) in v1: a step delta's calls as `step_details_v1` renders
    them, in a copy (the v2 subscribers of the stream get the same delta)."""
    details = (delta.get("delta") or {}).get("step_details")
    if delta.get("object") != "thread.run.step.delta" or not isinstance(details, dict):
        return delta
    rendered = copy.deepcopy(delta)
    step_details_v1(rendered["delta"]["step_details"])
    return rendered


class Views:
    """The ASGI layer: translate requests into v2, render responses out of it (see above)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        view = view_of(scope)
        if view == "v2" or (
            view == "foundry" and not scope["path"].endswith("/submit_tool_outputs")
        ):
            await self._app(scope, receive, send)
            return
        translate = request_v1 if view == "v1" else _request_foundry
        try:
            scope, receive = await _translated(scope, receive, translate)
        except APIError as exc:
            await _send_json(send, exc.status, exc.body())
            return
        await self._app(scope, receive, send)


async def _translated(
    scope: Scope, receive: Receive, translate: Callable[[str, JSON], JSON]
) -> tuple[Scope, Receive]:
    """The request with its JSON body translated; as it was if it has none (or not JSON)."""
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"application/json").lower()
    if scope["method"] != "POST" or b"multipart/" in content_type:
        return scope, receive
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return scope, _replay([message], receive)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    raw = b"".join(chunks)
    try:
        data = load_json(raw) if raw.strip() else None
    except APIError:
        data = None  # the route refuses it in its own words
    if isinstance(data, dict):
        raw = _dumps(translate(scope["path"], data))
    others = [(name, value) for name, value in scope["headers"] if name != b"content-length"]
    scope = {**scope, "headers": [*others, (b"content-length", str(len(raw)).encode())]}
    return scope, _replay([{"type": "http.request", "body": raw, "more_body": False}], receive)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _replay(messages: list[Message], then: Receive) -> Receive:
    """`messages`, then the connection's own `receive` (a streaming response listens on it for
    the client's disconnect: a made-up one would cut its stream short)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return await then()

    return receive


async def _send_json(send: Send, status: int, body: JSON) -> None:
    raw = _dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
