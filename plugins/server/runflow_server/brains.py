"""Brains: what decides, at each turn of a run, what the assistant does next.

The run engine asks its brain for a `Decision` whenever a run is in progress: when it starts,
after each batch of tool outputs, and after a `Delay`. A brain answers with one of

- `CallTools(calls)`: one or several function calls (several = parallel); the run goes to
  `requires_action` and waits for their outputs;
- `Reply(text)`: an assistant message; the run completes;
- `Fail(code, message)`: the run fails with that `last_error`;
- `Incomplete(reason)`: the run ends `incomplete` (`max_completion_tokens` | `max_prompt_tokens`);
- `Delay(seconds)`: wait that long on the server's clock, then ask again.

A brain sees a `Turn`: the run and its assistant (wire objects), the thread's messages (oldest
first), the tool rounds of this run so far, and `memory`, a JSON dict the engine keeps per
thread and per brain so a brain can carry state across the runs of a thread (the scripted brain
keeps its position in the scenario there). Brains do not touch the store or the clock.

`DefaultBrain` is what a server without a scenario uses: it behaves like a plausible assistant,
so any client works unconfigured (see its docstring). Scripted brains live in `scenario.py`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .objects import function_tools

__all__ = [
    "Brain",
    "CallTools",
    "Decision",
    "DefaultBrain",
    "Delay",
    "Fail",
    "Incomplete",
    "Reply",
    "ToolCall",
    "ToolResult",
    "Turn",
    "example_arguments",
]

JSON = dict[str, Any]
ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
IncompleteReason = Literal["max_completion_tokens", "max_prompt_tokens"]


@dataclass(frozen=True)
class ToolCall:
    """A function call a brain asks for; `arguments` is a JSON string, as on the wire."""

    name: str
    arguments: str = "{}"


@dataclass(frozen=True)
class CallTools:
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class Reply:
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


Decision = CallTools | Reply | Fail | Incomplete | Delay


@dataclass(frozen=True)
class ToolResult:
    """A tool call of this run with the output the client submitted for it."""

    call_id: str
    name: str
    arguments: str
    output: str


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


class Brain(Protocol):
    """Decides the next action of a run."""

    async def decide(self, turn: Turn) -> Decision: ...


class DefaultBrain:
    """A plausible assistant for unconfigured clients.

    - With no tool outputs yet in this run, and `tool_choice` forcing a function
      (`{"type": "function", "function": {"name": ...}}`), it calls that function; with
      `tool_choice: "required"` it calls every function tool of the run once, in parallel (only
      the first if `parallel_tool_calls` is false). Arguments fit each function's JSON schema
      (see `example_arguments`).
    - Once outputs have arrived, it answers with a message quoting them.
    - Otherwise it answers with a message quoting the last user message.
    """

    async def decide(self, turn: Turn) -> Decision:
        if turn.rounds:
            quoted = "; ".join(f"{r.name} returned {r.output!r}" for r in turn.rounds[-1])
            return Reply(f"Here is what the tools said: {quoted}.")
        functions = _forced_functions(turn.run)
        if isinstance(functions, Fail):
            return functions
        if functions:
            return CallTools(
                tuple(
                    ToolCall(f["name"], example_arguments(f.get("parameters"))) for f in functions
                )
            )
        return Reply(f'You said: "{turn.last_user_message}"')


def _forced_functions(run: Mapping[str, Any]) -> list[JSON] | Fail:
    functions = function_tools(run["tools"])
    choice = run["tool_choice"]
    if choice == "required":
        if not functions:
            return Fail("invalid_prompt", "tool_choice is 'required' but the run has no functions")
        return functions if run["parallel_tool_calls"] else functions[:1]
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = choice["function"]["name"]
        chosen = [f for f in functions if f["name"] == name]
        return chosen or Fail("invalid_prompt", f"tool_choice names function {name!r}, not a tool")
    return []


def example_arguments(schema: Mapping[str, Any] | None) -> str:
    """JSON arguments that fit a function's parameters schema, deterministically."""
    if not schema:
        return "{}"
    arguments = _Example(schema).value(schema, "value", depth=0)
    return json.dumps(arguments, separators=(",", ":"))


class _Example:
    """Builds a value for a JSON schema: defaults, enums and consts first, then by type."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root

    def value(self, schema: Mapping[str, Any], name: str, depth: int) -> Any:
        if depth > 8:
            return None
        schema = self._resolve(schema)
        for key in ("default", "const"):
            if key in schema:
                return schema[key]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf", "allOf"):
            options = [o for o in schema.get(key, []) if self._resolve(o).get("type") != "null"]
            if options:
                return self.value(options[0], name, depth + 1)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        return self._by_type(kind, schema, name, depth)

    def _by_type(self, kind: str, schema: Mapping[str, Any], name: str, depth: int) -> Any:
        if kind == "object":
            properties = schema.get("properties", {})
            return {key: self.value(sub, key, depth + 1) for key, sub in properties.items()}
        if kind == "array":
            count = max(1, schema.get("minItems", 1))
            return [self.value(schema.get("items", {}), name, depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(schema, name)

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = self._root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return target if isinstance(target, Mapping) else {}


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1
    if low is not None:
        value = low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if high is not None and value > high:
        value = high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    return int(value) if integer else float(value)


_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _string(schema: Mapping[str, Any], name: str) -> str:
    text = _FORMATS.get(schema.get("format", ""), f"example {name}")
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    text = text.ljust(low, "x")
    return text[:high] if high is not None else text
