"""Run events read from the bytes of a server-sent events (SSE) answer.

What the SDK's `AsyncStream[AssistantStreamEvent]` yields, for a fraction of its cost: the SDK
validates each event against the union of all 24 event types (then, if that fails, builds the
matching one without validation), about 50-100 µs an event; here the event's name picks its
class, which validates it (a few µs), and only data that does not validate is built as leniently
as the SDK builds it. Lines are read as the WHATWG SSE spec says (LF, CRLF or CR endings, `:`
comments, one space after the colon dropped); the fields runflow has no use for (`id`, `retry`)
are read and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar, get_args

from openai import BaseModel
from openai.types.beta import AssistantStreamEvent
from pydantic import ValidationError

from runflow._errors import StreamError

__all__ = ["SSEDecoder", "ServerSentEvent", "model", "run_event"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str


class SSEDecoder:
    """Turns the chunks of an SSE body, as they come, into its events."""

    def __init__(self) -> None:
        self._partial = b""  # the start of a line whose end has not come yet
        self._after_cr = False  # the last chunk ended in CR: a LF that opens the next is its pair
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[ServerSentEvent]:
        """The events that `chunk` completes (UnicodeDecodeError for a line not UTF-8)."""
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._after_cr = chunk.endswith(b"\r")
        lines = (self._partial + chunk).splitlines(keepends=True)
        self._partial = lines.pop() if lines and not lines[-1].endswith((b"\n", b"\r")) else b""
        for line in lines:
            event = self._line(line.rstrip(b"\r\n").decode())
            if event is not None:
                yield event

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:  # a blank line ends the event (one without data is no event)
            event, data = self._event, self._data
            self._event, self._data = "", []
            return ServerSentEvent(event or "message", "\n".join(data)) if data else None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None


def _event_classes() -> dict[str, type[BaseModel]]:
    """Each run event's class, by the event's name (`thread.run.created`: ThreadRunCreated)."""
    union = get_args(AssistantStreamEvent)[0]  # Annotated[Union[...], discriminator]
    classes: dict[str, type[BaseModel]] = {}
    for cls in get_args(union):
        [name] = get_args(cls.model_fields["event"].annotation)
        classes[name] = cls
    return classes


_EVENT_CLASSES = _event_classes()


def run_event(sse: ServerSentEvent) -> AssistantStreamEvent | None:
    """The run event `sse` carries; None for one runflow does not know (a `ping`, an event type
    newer than the SDK). StreamError for an `error` event, ValueError for data not JSON."""
    if sse.event == "error":
        _error(sse)
    cls = _EVENT_CLASSES.get(sse.event)
    if cls is None:
        return None
    data = json.loads(sse.data)
    return model(cls, {"event": sse.event, "data": data})  # type: ignore[return-value]


def _error(sse: ServerSentEvent) -> NoReturn:
    try:
        data = json.loads(sse.data)
    except ValueError:
        data = None
    error = data.get("error", data) if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = f"(unreadable: {sse.data!r:.80})" if error is None else "(no message)"
    raise StreamError(f"the service sent an error event: {message}")


def model(cls: type[M], value: dict[str, Any]) -> M:
    """`value` as a `cls`: validated, or, where it does not validate (a field newer than the
    SDK, a value of the wrong type), built without validation as the SDK builds it."""
    try:
        return cls.model_validate(value)
    except ValidationError:
        return cls.construct(**value)
