"""Playing one model turn of a run: a brain's event stream becomes steps, messages and SSE.

`TurnPlayer.play` reads the brain's events and publishes each as it arrives, in the order the
hosted API sends them (see `shared/fixtures/openai-recordings`):

- text: `thread.run.step.created`, `thread.run.step.in_progress` (message_creation),
  `thread.message.created`, `thread.message.in_progress`, one `thread.message.delta` per piece,
  then on completion a delta with the annotations (if any), `thread.message.completed`,
  `thread.run.step.completed`;
- function calls: `thread.run.step.created`, `thread.run.step.in_progress`, the streamed
  call deltas (or two per call: id and name, then the arguments), then, once the turn is
  committed, `thread.run.requires_action`;
- built-in calls: `thread.run.step.created`, `thread.run.step.in_progress`, a delta with each
  call's input, the tool runs, a delta with its outputs, `thread.run.step.completed`.

A step (and the message it writes) is stored as it is first published, so a client can read what
it was told of; the rest of the turn is written in one transaction at its end (`turn_end.py` says
what is stored when, and what a cancel, an expiry or a crash mid-turn leaves).

Usage: what the brain reports (`Usage`) goes to the turn's last step; otherwise it is invented
deterministically from text lengths (`objects.token_count`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .annotations import annotate
from .brains import (
    BrainEvent,
    BuiltinCall,
    BuiltinContext,
    BuiltinOutcome,
    BuiltinTool,
    CallBuiltins,
    CallFunctions,
    Fail,
    FunctionCallDelta,
    Terminal,
    TextDelta,
    ToolResult,
    Turn,
    Usage,
    message_text,
)
from .events import EventBus
from .lifecycle import StepStatus
from .objects import message_object, new_id, step_object, token_count, usage_object
from .records import Message, Run, Step
from .run_state import BuiltinState

__all__ = ["Played", "Resources", "TurnPlayer", "fit_prompt", "prompt_tokens"]

JSON = dict[str, Any]


def prompt_tokens(turn: Turn) -> int:
    texts = [turn.run.get("instructions") or ""]
    texts += [message_text(message) for message in turn.messages]
    texts += [r.arguments + r.output for round_ in turn.rounds for r in round_]
    return 20 + sum(token_count(text) for text in texts)


def fit_prompt(turn: Turn) -> Turn | None:
    """The turn as the brain sees it under the run's `truncation_strategy` and
    `max_prompt_tokens`: `last_messages` keeps the thread's last N messages; `auto` drops the
    oldest until the prompt fits. None when it cannot fit (the run ends incomplete)."""
    strategy = turn.run["truncation_strategy"] or {"type": "auto"}
    limit = turn.run.get("max_prompt_tokens")
    messages = list(turn.messages)
    if strategy["type"] == "last_messages" and strategy.get("last_messages") is not None:
        messages = messages[len(messages) - strategy["last_messages"] :]
    fitted = replace(turn, messages=messages)
    while limit is not None and prompt_tokens(fitted) > limit:
        if strategy["type"] != "auto" or len(fitted.messages) <= 1:
            return None
        fitted = replace(fitted, messages=fitted.messages[1:])
    return fitted


@dataclass
class Played:
    """What a turn produced, to be committed in one transaction."""

    terminal: Terminal | None  # None: the reply is complete
    steps: dict[str, Step] = field(default_factory=dict)  # by id, in the order opened
    messages: dict[str, Message] = field(default_factory=dict)
    calls: list[JSON] = field(default_factory=list)  # required_action's tool calls
    # The step waiting for the function outputs: its id, and its usage once they arrive.
    tool_step: JSON | None = None
    results: list[ToolResult] = field(default_factory=list)  # built-in calls, for turn.rounds
    outcomes: list[BuiltinOutcome] = field(default_factory=list)
    cut: bool = False  # the message passed max_completion_tokens
    images_used: bool = False  # a message took the pending image files


@dataclass(frozen=True)
class Resources:
    """What the built-in tools of a run need beyond the turn."""

    tools: Mapping[str, BuiltinTool]
    context: Callable[[], BuiltinContext]
    builtin: BuiltinState  # the sandbox files and citations of the run's built-in calls so far
    images: tuple[str, ...]


class TurnPlayer:
    """Plays one turn: reads the brain's stream, publishes its events, gathers its records."""

    def __init__(
        self,
        bus: EventBus,
        run: Run,
        turn: Turn,
        resources: Resources,
        now: Callable[[], int],
        *,
        store_opened: Callable[[Step, Message | None], None],
        cut_text: bool = True,
    ) -> None:
        """`store_opened` stores a step (and its message) as it opens; `cut_text`: cut the
        message at `max_completion_tokens` (estimated); False for brains whose model keeps to
        the limit itself."""
        self._bus, self._run, self._turn, self._now = bus, run, turn, now
        self._resources = resources
        self._store_opened = store_opened
        self._limit = run.max_completion_tokens if cut_text else None
        self._played = Played(None)
        self._message: Message | None = None
        self._content: list[JSON] = []  # the open message's parts, as they grow
        self._text = ""
        self._calls_step: Step | None = None
        self._reported: Usage | None = None

    async def play(self, events: AsyncIterator[BrainEvent]) -> Played:
        try:
            async for event in events:
                if not self._take(event):
                    break
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:  # an async generator: run its cleanup now, not at GC
                await close()
        await self._finish()
        return self._played

    def open_message(self) -> Message | None:
        """The message being streamed, with the text sent so far (None when there is none)."""
        if self._message is None:
            return None
        content = [*self._content[:-1], self._text_part()] if self._text else self._content
        return self._message.model_copy(update={"content": copy.deepcopy(content)})

    def _take(self, event: BrainEvent) -> bool:
        """Act on one event; False when the turn's stream is over."""
        if isinstance(event, TextDelta):
            return self._add_text(event.text)
        if isinstance(event, FunctionCallDelta):
            self._call_delta(event)
        elif isinstance(event, Usage):
            old = self._reported or Usage(0, 0)
            self._reported = Usage(
                old.prompt_tokens + event.prompt_tokens,
                old.completion_tokens + event.completion_tokens,
            )
        else:
            self._played.terminal = event
            return False
        return True

    def _publish(self, name: str, obj: JSON | Step | Message) -> None:
        self._bus.publish(self._run.id, name, obj)

    def _usage(self, estimate: int, *, last: bool) -> JSON:
        if self._reported is None:
            return usage_object(prompt_tokens(self._turn), estimate)
        if last:
            return usage_object(self._reported.prompt_tokens, self._reported.completion_tokens)
        return usage_object(0, 0)

    def _open_step(self, details: JSON, message: Message | None = None) -> Step:
        step = step_object(self._run, created_at=self._now(), details=details)
        self._store_opened(step, message)
        self._played.steps[step.id] = step
        self._publish("thread.run.step.created", step)
        self._publish("thread.run.step.in_progress", step)
        return step

    def _complete_step(self, step: Step, usage: JSON, **changes: Any) -> None:
        update = {"status": StepStatus.COMPLETED, "completed_at": self._now(), "usage": usage}
        step = self._played.steps[step.id] = step.model_copy(update=update | changes)
        self._publish("thread.run.step.completed", step)

    # -- messages ----------------------------------------------------------------------------

    def _open_message(self) -> Message:
        message = message_object(
            self._run.thread_id,
            created_at=self._now(),
            role="assistant",
            content=[],
            assistant_id=self._run.assistant_id,
            run_id=self._run.id,
            status="in_progress",
        )
        details = {"type": "message_creation", "message_creation": {"message_id": message.id}}
        self._open_step(details, message)
        self._publish("thread.message.created", message)
        self._publish("thread.message.in_progress", message)
        self._content = []
        for index, file_id in enumerate(self._resources.images):
            part = {"type": "image_file", "image_file": {"file_id": file_id, "detail": "auto"}}
            self._content.append(part)
            self._publish("thread.message.delta", _delta(message, {"index": index, **part}))
        self._played.images_used = bool(self._resources.images)
        self._message = message
        return message

    def _add_text(self, text: str) -> bool:
        """Publish a piece of the message; False once it passes `max_completion_tokens`."""
        message, limit = self._message or self._open_message(), self._limit
        first = not any(part["type"] == "text" for part in self._content)
        if first:
            self._content.append({"type": "text", "text": {"value": "", "annotations": []}})
        keep = True
        if limit is not None and token_count(self._text + text) > limit:
            text, keep = text[: max(0, limit * 4 - len(self._text))], False
            self._played.cut = True
        self._text += text
        if text or first:
            piece: JSON = {"value": text, "annotations": []} if first else {"value": text}
            index = len(self._content) - 1
            self._publish(
                "thread.message.delta",
                _delta(message, {"index": index, "type": "text", "text": piece}),
            )
        return keep

    def _text_part(self, annotations: list[JSON] | None = None) -> JSON:
        return {"type": "text", "text": {"value": self._text, "annotations": annotations or []}}

    def _close_message(self, *, last: bool) -> None:
        message, self._message = self._message, None
        if message is None:
            return
        found = self._resources.builtin
        annotations = annotate(self._text, found.sandbox_files, found.citations)
        if self._content and self._content[-1]["type"] == "text":
            self._content[-1] = self._text_part(annotations)
        if annotations:
            entry = {"index": len(self._content) - 1, "type": "text"}
            listed = [{"index": i, **a} for i, a in enumerate(annotations)]
            self._publish(
                "thread.message.delta", _delta(message, {**entry, "text": {"annotations": listed}})
            )
        now = self._now()
        ending: JSON = {"status": "completed", "completed_at": now}
        if self._played.cut:
            reason = {"reason": "max_tokens"}
            ending = {"status": "incomplete", "incomplete_at": now, "incomplete_details": reason}
        message = message.model_copy(update={"content": self._content, **ending})
        self._played.messages[message.id] = message
        self._publish(f"thread.message.{message.status}", message)
        step = next(s for s in self._played.steps.values() if s.message_id == message.id)
        self._complete_step(step, self._usage(token_count(self._text), last=last))
        self._text = ""

    # -- function calls ----------------------------------------------------------------------

    def _call_delta(self, event: FunctionCallDelta) -> None:
        if self._calls_step is None:
            self._close_message(last=False)
            self._calls_step = self._open_step({"type": "tool_calls", "tool_calls": []})
        function: JSON = {"arguments": event.arguments}
        if event.name is not None:
            function = {"name": event.name, "arguments": event.arguments, "output": None}
        entry = _entry(event.index, event.call_id, "function", function)
        self._publish("thread.run.step.delta", _step_delta(self._calls_step, entry))

    def _call_functions(self, terminal: CallFunctions) -> None:
        calls: list[JSON] = [
            {
                "id": call.call_id or new_id("call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in terminal.calls
        ]
        step = self._calls_step
        if step is None:
            step = self._calls_step = self._open_step({"type": "tool_calls", "tool_calls": []})
            for index, call in enumerate(calls):  # as streamed: id and name, then arguments
                named = {"name": call["function"]["name"], "arguments": "", "output": None}
                rest = {"arguments": call["function"]["arguments"]}
                for entry in (
                    _entry(index, call["id"], "function", named),
                    _entry(index, None, "function", rest),
                ):
                    self._publish("thread.run.step.delta", _step_delta(step, entry))
        with_outputs = [{**c, "function": {**c["function"], "output": None}} for c in calls]
        details = {"type": "tool_calls", "tool_calls": with_outputs}
        self._played.steps[step.id] = step.model_copy(update={"step_details": details})
        estimate = sum(token_count(c.name + c.arguments) for c in terminal.calls)
        self._played.tool_step = {"id": step.id, "usage": self._usage(estimate, last=True)}
        self._played.calls = calls

    # -- the end of the turn -----------------------------------------------------------------

    async def _finish(self) -> None:
        terminal = self._played.terminal
        if terminal is None and self._message is None and self._calls_step is None:
            self._open_message()  # an empty reply is still a reply
        if isinstance(terminal, CallFunctions):
            self._close_message(last=False)
            self._call_functions(terminal)
        elif isinstance(terminal, CallBuiltins):
            self._close_message(last=False)
            await self._call_builtins(terminal)
        else:
            self._close_message(last=True)
            if self._calls_step is not None and terminal is None:  # deltas, then no call
                self._played.terminal = Fail(
                    "server_error", "The brain streamed function-call deltas but called nothing."
                )

    async def _call_builtins(self, terminal: CallBuiltins) -> None:
        resources = self._resources
        missing = sorted({c.type for c in terminal.calls if c.type not in resources.tools})
        if missing:
            self._played.terminal = Fail(
                "server_error",
                f"The run called the built-in tool(s) {', '.join(missing)}, which this server"
                " does not run (configure them with create_app(builtin_tools=...)).",
            )
            return
        step = self._open_step({"type": "tool_calls", "tool_calls": []})
        context = resources.context()
        entries = []
        for index, call in enumerate(terminal.calls):
            call_id = call.call_id or new_id("call_")
            begun = _input_details(call, self._run)
            self._publish(
                "thread.run.step.delta", _step_delta(step, _entry(index, call_id, call.type, begun))
            )
            outcome = await _run_builtin(resources.tools[call.type], call, context)
            shown = _output_details(call.type, outcome.details)
            self._publish(
                "thread.run.step.delta", _step_delta(step, _entry(index, None, call.type, shown))
            )
            wire = {"id": call_id, "type": call.type, call.type: outcome.details}
            entries.append(wire)
            self._played.outcomes.append(outcome)
            arguments = (
                {"code": call.input}
                if call.type == "code_interpreter"
                else {"queries": list(call.queries)}
            )
            self._played.results.append(
                ToolResult(call_id, call.type, json.dumps(arguments), outcome.output, wire)
            )
        estimate = sum(token_count(c.input + "".join(c.queries)) for c in terminal.calls)
        details = {"type": "tool_calls", "tool_calls": entries}
        self._complete_step(step, self._usage(estimate, last=True), step_details=details)


async def _run_builtin(
    tool: BuiltinTool, call: BuiltinCall, context: BuiltinContext
) -> BuiltinOutcome:
    """Run a built-in call; a tool that raises ends the call with the error in its outputs."""
    try:
        return await tool.run(call, context)
    except Exception as exc:  # the tool's failure is the call's, not the run's
        error = f"{type(exc).__name__}: {exc}"
        if call.type == "code_interpreter":
            details: JSON = {"input": call.input, "outputs": [{"type": "logs", "logs": error}]}
        else:
            details = {"ranking_options": _ranking(context.run["tools"]), "results": []}
        return BuiltinOutcome(details=details, output=f"The tool failed: {error}")


def _ranking(tools: Sequence[JSON]) -> JSON:
    for tool in tools:
        if tool.get("type") == "file_search":
            options: JSON = tool.get("file_search", {}).get("ranking_options", {})
            return {key: value for key, value in options.items() if value is not None}
    return {"ranker": "default_2024_08_21", "score_threshold": 0.0}


def _input_details(call: BuiltinCall, run: Run) -> JSON:
    if call.type == "code_interpreter":
        return {"input": call.input, "outputs": []}
    return {"ranking_options": _ranking(run.tools), "results": []}


def _output_details(kind: str, details: Mapping[str, Any]) -> JSON:
    if kind == "code_interpreter":
        outputs = [{"index": i, **o} for i, o in enumerate(details.get("outputs", []))]
        return {"outputs": outputs}
    return {"results": list(details.get("results", []))}


def _entry(index: int, call_id: str | None, kind: str, body: JSON) -> JSON:
    """One call of a step delta; the call's id only in its first delta."""
    ids = {} if call_id is None else {"id": call_id}
    return {"index": index, **ids, "type": kind, kind: body}


def _step_delta(step: Step, entry: JSON) -> JSON:
    details = {"type": "tool_calls", "tool_calls": [entry]}
    return {"id": step.id, "object": "thread.run.step.delta", "delta": {"step_details": details}}


def _delta(message: Message, part: JSON) -> JSON:
    return {"id": message.id, "object": "thread.message.delta", "delta": {"content": [part]}}
