"""The brain protocol: what a brain sees (`Turn`) and the events it answers with.

The engine asks a brain for one *model turn* at a time, `brain.respond(turn)`, and reads an
async stream of events from it, publishing each as it arrives:

- `TextDelta(text)`: a piece of the assistant's message;
- `FunctionCallDelta(index, call_id, name, arguments)`: streamed function-call arguments
  (optional: a `CallFunctions` without them gets the usual two deltas per call);
- `Usage(prompt_tokens, completion_tokens)`: what the model reported, summed into the steps;
- then at most one terminal event, the last of the turn:
  - `CallFunctions(calls)`: the run goes to `requires_action` and waits for the outputs;
  - `CallBuiltins(calls)`: the engine runs each built-in call itself (`BuiltinTool`), writes
    its `tool_calls` step and asks for the next turn of the same run;
  - `Fail(code, message)`, `Incomplete(reason)`, `Delay(seconds)`.

A stream that ends after only text is a complete reply: the run completes. Text before a
terminal call is its own completed message.

Brains written the older way, with `async def decide(turn) -> Decision` (one of `CallTools`,
`Reply`, `Fail`, `Incomplete`, `Delay`), keep working: `streaming()` adapts them, a `Reply` being
a few `TextDelta`s.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "Brain",
    "BrainEvent",
    "BuiltinCall",
    "CallBuiltins",
    "CallFunctions",
    "CallTools",
    "DecidingBrain",
    "Decision",
    "Delay",
    "ErrorCode",
    "Fail",
    "FunctionCallDelta",
    "Incomplete",
    "IncompleteReason",
    "Reply",
    "Terminal",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "Turn",
    "Usage",
    "chunks",
    "message_text",
    "streaming",
]

JSON = dict[str, Any]
ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
IncompleteReason = Literal["max_completion_tokens", "max_prompt_tokens"]


@dataclass(frozen=True)
class ToolCall:
    """A function call a brain asks for; `arguments` is a JSON string, as on the wire.

    `call_id`: the id the client sees; the engine makes one (`call_...`) when None.
    """

    name: str
    arguments: str = "{}"
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


CallTools = CallFunctions  # the name `decide()` brains use


@dataclass(frozen=True)
class BuiltinCall:
    """A call of a tool the server runs itself."""

    type: Literal["code_interpreter", "file_search"]
    input: str = ""  # code_interpreter: the code
    queries: tuple[str, ...] = ()  # file_search: the queries
    call_id: str | None = None  # the engine makes one ("call_...") when None


@dataclass(frozen=True)
class CallBuiltins:
    calls: tuple[BuiltinCall, ...]


@dataclass(frozen=True)
class Reply:
    """A `decide()` brain's whole message; the run completes."""

    text: str


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


Terminal = CallFunctions | CallBuiltins | Fail | Incomplete | Delay
BrainEvent = TextDelta | FunctionCallDelta | Usage | Terminal
Decision = CallFunctions | CallBuiltins | Reply | Fail | Incomplete | Delay


@dataclass(frozen=True)
class ToolResult:
    """A tool call of this run with its output: submitted by the client for a function, the
    text the model reads for a built-in call (`name` "code_interpreter" / "file_search",
    `arguments` its JSON input, `details` the step's tool call as sent on the wire)."""

    call_id: str
    name: str
    arguments: str
    output: str
    details: Mapping[str, Any] | None = None


@dataclass
class Turn:
    """What a brain sees when it decides."""

    run: Mapping[str, Any]
    assistant: Mapping[str, Any]
    messages: Sequence[Mapping[str, Any]]
    rounds: Sequence[Sequence[ToolResult]]
    memory: JSON = field(default_factory=dict)

    @property
    def last_user_message(self) -> str:
        """The text of the thread's latest user message ("" if none)."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return message_text(message)
        return ""


def message_text(message: Mapping[str, Any]) -> str:
    """The text parts of a wire message, joined."""
    parts = [part["text"]["value"] for part in message["content"] if part["type"] == "text"]
    return "\n".join(parts)


@runtime_checkable
class Brain(Protocol):
    """Answers one model turn of a run with a stream of events.

    A brain whose text comes from a model that keeps to `max_completion_tokens` itself (and ends
    `Incomplete` when it does not) says so with a true `limits_its_output` attribute; the engine
    then publishes its text whole instead of cutting it at its own estimate of the tokens.
    """

    def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]: ...


@runtime_checkable
class DecidingBrain(Protocol):
    """The older, whole-answer kind of brain."""

    async def decide(self, turn: Turn) -> Decision: ...


def chunks(text: str, most: int = 5) -> list[str]:
    """Split a text into at most `most` pieces on word boundaries, for message deltas."""
    words = re.findall(r"\s*\S+\s*$|\s*\S+", text) or [text]
    size = -(-len(words) // most)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


class _Decided:
    """A `decide()` brain seen as a streaming one."""

    def __init__(self, brain: DecidingBrain) -> None:
        self.brain = brain

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        decision = await self.brain.decide(turn)
        if isinstance(decision, Reply):
            for piece in chunks(decision.text):
                yield TextDelta(piece)
        else:
            yield decision


def streaming(brain: Brain | DecidingBrain) -> Brain:
    """The brain as a streaming one (a `decide()` brain is adapted)."""
    if isinstance(brain, Brain):
        return brain
    return _Decided(brain)
