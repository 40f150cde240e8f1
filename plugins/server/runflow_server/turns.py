"""Writing a brain's decision into the thread: steps, messages, run endings, and their events.

Each method is synchronous and runs in one store transaction, then publishes the events in the
order the hosted API sends them (see `shared/fixtures/openai-recordings`):

- tool calls: `thread.run.step.created`, `thread.run.step.in_progress`, two
  `thread.run.step.delta` per call (the call with empty arguments, then the arguments), then
  `thread.run.requires_action`;
- a message: `thread.run.step.created`, `thread.run.step.in_progress`,
  `thread.message.created`, `thread.message.in_progress`, a few `thread.message.delta`,
  `thread.message.completed`, `thread.run.step.completed`, `thread.run.completed`;
- failure / incomplete: `thread.run.failed` / `thread.run.incomplete`.

Usage is invented deterministically from text lengths (`objects.token_count`): a step's prompt
counts the instructions, the thread's messages and the tool traffic so far; its completion
counts what the step produced; a finished run's usage is the sum of its steps'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .brains import CallTools, Decision, ErrorCode, Fail, Incomplete, Reply, Turn, message_text
from .events import EventBus
from .lifecycle import RunStatus, StepStatus, advance
from .objects import (
    message_object,
    new_id,
    step_object,
    token_count,
    tool_call_object,
    usage_object,
)
from .store import Store

__all__ = ["TurnWriter", "chunks", "fit_prompt"]

JSON = dict[str, Any]


def chunks(text: str, most: int = 5) -> list[str]:
    """Split a text into at most `most` pieces on word boundaries, for message deltas."""
    words = re.findall(r"\s*\S+\s*$|\s*\S+", text) or [text]
    size = -(-len(words) // most)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def _prompt_tokens(turn: Turn) -> int:
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
    while limit is not None and _prompt_tokens(fitted) > limit:
        if strategy["type"] != "auto" or len(fitted.messages) <= 1:
            return None
        fitted = replace(fitted, messages=fitted.messages[1:])
    return fitted


class TurnWriter:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus

    def apply(self, run: JSON, turn: Turn, decision: Decision, *, now: int) -> None:
        """Write a decision (anything but a delay) into the run."""
        if isinstance(decision, CallTools):
            self._call_tools(run, turn, decision, now=now)
        elif isinstance(decision, Reply):
            self._reply(run, turn, decision.text, now=now)
        elif isinstance(decision, Fail):
            self.fail(run, decision.code, decision.message, now=now)
        elif isinstance(decision, Incomplete):
            self._end(
                run, RunStatus.INCOMPLETE, now, incomplete_details={"reason": decision.reason}
            )
        else:
            raise TypeError(f"cannot write a {type(decision).__name__} decision")

    def fail(self, run: JSON, code: ErrorCode, message: str, *, now: int) -> None:
        self._end(
            run, RunStatus.FAILED, now, failed_at=now, last_error={"code": code, "message": message}
        )

    def _publish(self, run: JSON, name: str, obj: JSON) -> None:
        self._bus.publish(run["id"], name, obj)

    def _call_tools(self, run: JSON, turn: Turn, decision: CallTools, *, now: int) -> None:
        calls = [tool_call_object(new_id("call_"), c.name, c.arguments) for c in decision.calls]
        step = step_object(run, created_at=now, details={"type": "tool_calls", "tool_calls": []})
        usage = usage_object(
            _prompt_tokens(turn), sum(token_count(c.name + c.arguments) for c in decision.calls)
        )
        state = self._store.state("runs", run["id"])
        state["tool_step"] = {"id": step["id"], "usage": usage}
        with self._store.transaction():
            self._store.insert("run_steps", step, parent=run["id"])
            self._publish(run, "thread.run.step.created", step)
            self._publish(run, "thread.run.step.in_progress", step)
            for index, call in enumerate(calls):
                self._publish(run, "thread.run.step.delta", _call_delta(step, index, call, True))
                self._publish(run, "thread.run.step.delta", _call_delta(step, index, call, False))
            step["step_details"]["tool_calls"] = [
                {**call, "function": {**call["function"], "output": None}} for call in calls
            ]
            self._store.save("run_steps", step)
            advance(run, RunStatus.REQUIRES_ACTION)
            run["required_action"] = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": calls},
            }
            self._store.save("runs", run, state=state)
        self._publish(run, "thread.run.requires_action", run)

    def complete_tool_step(
        self, run: JSON, pending: Mapping[str, Any], outputs: Mapping[str, str], *, now: int
    ) -> None:
        """Fill the submitted outputs into the waiting tool_calls step and complete it."""
        step = self._store.get("run_steps", pending["id"])
        assert step is not None, f"run {run['id']} lost its tool_calls step"
        for call in step["step_details"]["tool_calls"]:
            call["function"]["output"] = outputs[call["id"]]
        step.update(status=StepStatus.COMPLETED.value, completed_at=now, usage=pending["usage"])
        self._store.save("run_steps", step)
        self._publish(run, "thread.run.step.completed", step)

    def _reply(self, run: JSON, turn: Turn, text: str, *, now: int) -> None:
        """The message; cut at `max_completion_tokens`, which leaves it and the run incomplete."""
        limit: int | None = run.get("max_completion_tokens")
        cut = limit is not None and token_count(text) > limit
        if limit is not None and cut:
            text = text[: limit * 4]
        message = message_object(
            run["thread_id"],
            created_at=now,
            role="assistant",
            content=[],
            assistant_id=run["assistant_id"],
            run_id=run["id"],
            status="in_progress",
        )
        details = {"type": "message_creation", "message_creation": {"message_id": message["id"]}}
        step = step_object(run, created_at=now, details=details)
        with self._store.transaction():
            self._store.insert("run_steps", step, parent=run["id"])
            self._publish(run, "thread.run.step.created", step)
            self._publish(run, "thread.run.step.in_progress", step)
            self._store.insert("messages", message, parent=run["thread_id"])
            self._publish(run, "thread.message.created", message)
            self._publish(run, "thread.message.in_progress", message)
            for index, piece in enumerate(chunks(text)):
                self._publish(run, "thread.message.delta", _text_delta(message, piece, index == 0))
            message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
            if cut:
                message.update(
                    status="incomplete",
                    incomplete_at=now,
                    incomplete_details={"reason": "max_tokens"},
                )
            else:
                message.update(status="completed", completed_at=now)
            self._store.save("messages", message)
            self._publish(run, f"thread.message.{message['status']}", message)
            step.update(
                status=StepStatus.COMPLETED.value,
                completed_at=now,
                usage=usage_object(_prompt_tokens(turn), token_count(text)),
            )
            self._store.save("run_steps", step)
            self._publish(run, "thread.run.step.completed", step)
            if cut:
                reason = {"reason": "max_completion_tokens"}
                self._end(run, RunStatus.INCOMPLETE, now, incomplete_details=reason)
            else:
                self._end(run, RunStatus.COMPLETED, now, completed_at=now)

    def _end(self, run: JSON, status: RunStatus, now: int, **fields: Any) -> None:
        """Finish the run in `status`; its usage is the sum of its steps'."""
        steps = self._store.children("run_steps", run["id"])
        for step in steps:  # as recorded: a finished run's steps no longer show an expiry
            step["expires_at"] = None
            self._store.save("run_steps", step)
        prompt = sum(s["usage"]["prompt_tokens"] for s in steps if s["usage"])
        completion = sum(s["usage"]["completion_tokens"] for s in steps if s["usage"])
        advance(run, status)
        run.update(expires_at=None, usage=usage_object(prompt, completion), **fields)
        self._store.save("runs", run)
        self._publish(run, f"thread.run.{status.value}", run)

    def close_open_steps(self, run: JSON, status: StepStatus, *, now: int) -> None:
        """End the run's in-progress steps as cancelled or expired."""
        stamp = "cancelled_at" if status is StepStatus.CANCELLED else "expired_at"
        for step in self._store.children("run_steps", run["id"], statuses=["in_progress"]):
            step.update({"status": status.value, stamp: now})
            self._store.save("run_steps", step)
            self._publish(run, f"thread.run.step.{status.value}", step)


def _call_delta(step: JSON, index: int, call: JSON, first: bool) -> JSON:
    """A step delta for one tool call: first its id and name, then its arguments."""
    if first:
        function = {"name": call["function"]["name"], "arguments": "", "output": None}
        entry = {"index": index, "id": call["id"], "type": "function", "function": function}
    else:
        entry = {
            "index": index,
            "type": "function",
            "function": {"arguments": call["function"]["arguments"]},
        }
    details = {"type": "tool_calls", "tool_calls": [entry]}
    return {"id": step["id"], "object": "thread.run.step.delta", "delta": {"step_details": details}}


def _text_delta(message: JSON, piece: str, first: bool) -> JSON:
    text: JSON = {"value": piece, "annotations": []} if first else {"value": piece}
    content = [{"index": 0, "type": "text", "text": text}]
    return {"id": message["id"], "object": "thread.message.delta", "delta": {"content": content}}
