"""A Chat Completions stream as brain events: pure, chunk by chunk, forgiving of real servers.

`Assembler.feed(chunk)` takes one chunk (a JSON dict) and answers the events to publish now:
`TextDelta` for text, `FunctionCallDelta` for function-call arguments (not for the `python` /
`file_search` calls the server runs itself). `Assembler.answer()` is what the stream said in
all; `ending(answer, ...)` the terminal events of the turn.

Quirks of real servers this copes with:

- tool-call deltas without `index`: a delta with a new `id` (or a new name after complete
  arguments) starts a call, anything else continues the last one;
- two calls sent under one `index`: a delta bringing a different `id`, or a name once the
  current call's arguments are complete JSON, starts a new call;
- `finish_reason: tool_calls` with no calls, or `stop` with calls: what was sent decides;
- usage in the last chunk or in every chunk (the last seen counts);
- arguments that are not JSON: empty ones become `{}`, a JSON value followed by junk or wrapped
  in a code fence is cut out, the rest is passed on as it came (the client's tool layer answers
  the model with an error it can correct);
- a stream that ends without a `finish_reason`: `answer().cut` says so; the brain retries
  when calls were left incomplete or nothing came, and keeps text (some servers never send
  a reason; a connection lost mid-answer raises, and is retried).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..brains import (
    BrainEvent,
    BuiltinCall,
    CallBuiltins,
    CallFunctions,
    Fail,
    FunctionCallDelta,
    Incomplete,
    TextDelta,
    ToolCall,
    Usage,
)
from .mapping import BUILTIN_FUNCTIONS, builtin_arguments

__all__ = ["Answer", "Assembler", "PendingCall", "ending", "function_arguments"]

_BUILTIN_TYPES = {function: kind for kind, function in BUILTIN_FUNCTIONS.items()}


@dataclass
class PendingCall:
    """A tool call as it arrives: its id and name once sent, its arguments piece by piece."""

    call_id: str | None = None
    name: str | None = None
    arguments: str = ""

    def complete(self) -> bool:
        """Its arguments are one whole JSON value already."""
        try:
            json.loads(self.arguments)
        except ValueError:
            return False
        return True


@dataclass
class Answer:
    """What one model stream said: text, calls, why it stopped, the usage it reported."""

    text: str = ""
    calls: list[PendingCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None

    @property
    def cut(self) -> bool:
        """The stream ended without a `finish_reason` (cut, or a server that sends none)."""
        return self.finish_reason is None

    def named_calls(self) -> list[PendingCall]:
        return [call for call in self.calls if call.name]


class Assembler:
    """Builds an `Answer` from chunks; `feed` answers the events to publish at once."""

    def __init__(self) -> None:
        self._answer = Answer()
        self._slots: dict[int, int] = {}  # the wire's index -> the call's place in `calls`

    def answer(self) -> Answer:
        return self._answer

    def feed(self, chunk: Mapping[str, Any]) -> list[BrainEvent]:
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self._answer.usage = Usage(
                int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            )
        events: list[BrainEvent] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, Mapping) or (choice.get("index") or 0) != 0:
                continue
            events += self._delta(choice.get("delta") or {})
            if choice.get("finish_reason"):
                self._answer.finish_reason = str(choice["finish_reason"])
        return events

    def _delta(self, delta: Mapping[str, Any]) -> list[BrainEvent]:
        events: list[BrainEvent] = []
        text = delta.get("content") or delta.get("refusal")
        if isinstance(text, str) and text:
            self._answer.text += text
            events.append(TextDelta(text))
        for part in delta.get("tool_calls") or []:
            if isinstance(part, Mapping):
                event = self._call_delta(part)
                if event is not None:
                    events.append(event)
        return events

    def _call_delta(self, part: Mapping[str, Any]) -> FunctionCallDelta | None:
        function = part.get("function") or {}
        call_id = part.get("id") or None
        name = function.get("name") or None
        arguments = function.get("arguments") or ""
        index, started = self._place(part.get("index"), call_id, name)
        call = self._answer.calls[index]
        new_name = name if call.name is None else None
        call.call_id = call.call_id or call_id
        call.name = call.name or name
        call.arguments += arguments
        if call.name in _BUILTIN_TYPES:
            return None
        if not (started or new_name or arguments):
            return None
        return FunctionCallDelta(index, call_id if started else None, new_name, arguments)

    def _place(self, wire: Any, call_id: str | None, name: str | None) -> tuple[int, bool]:
        """Which call a delta belongs to, and whether it starts a new one."""
        calls = self._answer.calls
        current = self._slots.get(wire) if isinstance(wire, int) else len(calls) - 1
        if current is not None and current >= 0:
            call = calls[current]
            other_id = call_id is not None and call.call_id not in (None, call_id)
            next_call = name is not None and call.name is not None and call.complete()
            same_id = call_id is not None and call_id == call.call_id
            if not (other_id or (next_call and not same_id)):
                return current, False
        calls.append(PendingCall())
        if isinstance(wire, int):
            self._slots[wire] = len(calls) - 1
        return len(calls) - 1, True


def function_arguments(arguments: str) -> str:
    """A function call's arguments as passed on: `{}` for none, the JSON cut out of junk."""
    text = arguments.strip()
    if not text:
        return "{}"
    for candidate in (text, _unfenced(text)):
        try:
            json.loads(candidate)
            return candidate
        except ValueError:
            pass
        try:
            _, end = json.JSONDecoder().raw_decode(candidate)
        except ValueError:
            continue
        return candidate[:end]
    return arguments


def _unfenced(text: str) -> str:
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else text[3:]
    return text.removesuffix("```").strip()


def ending(answer: Answer, *, fallback_query: str = "", parallel: bool = True) -> list[BrainEvent]:
    """The terminal events of a finished turn: the calls to make, or the end of the reply.

    A reply ends with no terminal event (the text already sent is the message). When a turn
    mixes function calls with calls the server runs itself, the function calls are made (their
    arguments were already streamed to the client) and the built-in ones dropped: the model,
    called again with the functions' outputs, asks for them again. With `parallel` false (the
    run's `parallel_tool_calls`), only the first call is made, as the hosted API guaranteed.
    """
    if answer.finish_reason == "length":
        return [Incomplete("max_completion_tokens")]
    if answer.finish_reason == "content_filter":
        return [Fail("server_error", "The model's answer was stopped by its content filter.")]
    calls = answer.named_calls()
    functions = [call for call in calls if call.name not in _BUILTIN_TYPES]
    if functions:
        made = functions if parallel else functions[:1]
        return [
            CallFunctions(
                tuple(
                    ToolCall(call.name or "", function_arguments(call.arguments), call.call_id)
                    for call in made
                )
            )
        ]
    builtins = [_builtin(call, fallback_query) for call in calls]
    if builtins:
        return [CallBuiltins(tuple(builtins if parallel else builtins[:1]))]
    return []


def _builtin(call: PendingCall, fallback_query: str) -> BuiltinCall:
    kind = _BUILTIN_TYPES[call.name or ""]
    code, queries = builtin_arguments(kind, call.arguments)
    if kind == "code_interpreter":
        return BuiltinCall("code_interpreter", input=code, call_id=call.call_id)
    if not queries and fallback_query:
        queries = (fallback_query,)
    return BuiltinCall("file_search", queries=queries, call_id=call.call_id)
