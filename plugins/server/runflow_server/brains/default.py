"""`DefaultBrain`: a plausible assistant for clients that configure nothing, and
`example_arguments`, the JSON arguments it makes up for a function's schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..objects import function_tools
from .protocol import CallTools, Decision, Fail, Reply, ToolCall, Turn

__all__ = ["DefaultBrain", "example_arguments"]

JSON = dict[str, Any]


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
