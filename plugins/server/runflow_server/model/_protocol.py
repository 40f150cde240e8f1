"""The streaming brain protocol of the team contract, as the model brain uses it.

Until the engine's protocol lands in `runflow_server.brains`, the event records are defined
here with the contract's names and fields; afterwards this module only re-exports them, so the
model brain's modules never change their imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BrainEvent",
    "BuiltinCall",
    "CallBuiltins",
    "CallFunctions",
    "Delay",
    "ErrorCode",
    "Fail",
    "FunctionCallDelta",
    "Incomplete",
    "IncompleteReason",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "Turn",
    "Usage",
]

ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
IncompleteReason = Literal["max_completion_tokens", "max_prompt_tokens"]


@dataclass(frozen=True)
class ToolCall:
    """A function call; `arguments` is a JSON string as on the wire, `call_id` kept when given."""

    name: str
    arguments: str = "{}"
    call_id: str | None = None


@dataclass(frozen=True)
class BuiltinCall:
    """A call the server runs itself: code interpreter (`input` = the code) or file search."""

    type: Literal["code_interpreter", "file_search"]
    input: str = ""
    queries: tuple[str, ...] = ()
    call_id: str | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class FunctionCallDelta:
    index: int
    call_id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class CallFunctions:
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class CallBuiltins:
    calls: tuple[BuiltinCall, ...]


@dataclass(frozen=True)
class Fail:
    code: ErrorCode
    message: str


@dataclass(frozen=True)
class Incomplete:
    reason: IncompleteReason


@dataclass(frozen=True)
class Delay:
    seconds: float


BrainEvent = (
    TextDelta | FunctionCallDelta | Usage | CallFunctions | CallBuiltins | Fail | Incomplete | Delay
)


@dataclass(frozen=True)
class ToolResult:
    """A tool call of this run with its output; built-in calls carry their step's `details`."""

    call_id: str
    name: str
    arguments: str
    output: str
    details: Mapping[str, Any] | None = None


@dataclass
class Turn:
    """What a brain sees: wire objects of the run, its assistant and the thread's messages."""

    run: Mapping[str, Any]
    assistant: Mapping[str, Any]
    messages: Sequence[Mapping[str, Any]]
    rounds: Sequence[Sequence[ToolResult]]
    memory: dict[str, Any] = field(default_factory=dict)
