"""Writing what a turn produced, and the other endings of a run, each in one transaction.

`TurnWriter.commit` stores a played turn (`turns.Played`): its steps and messages, the thread's
brain memory, the run's built-in outcomes and tool rounds, and the run's new status, all in one
store transaction, then publishes the run's event (`thread.run.requires_action`,
`thread.run.completed`...). A server killed at any point leaves either all of it or none.

A finished run's usage is the sum of its steps'; as recorded, its steps no longer show an expiry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from .brains import CallBuiltins, CallFunctions, Citation, Delay, ErrorCode, Fail, Incomplete, Turn
from .events import EventBus
from .lifecycle import RunStatus, StepStatus, advance
from .objects import usage_object
from .store import Store
from .turns import Played

__all__ = ["TurnWriter", "builtin_state"]

JSON = dict[str, Any]


def builtin_state(state: Mapping[str, Any]) -> tuple[dict[str, str], tuple[Citation, ...]]:
    """The sandbox files and citations a run's built-in calls produced so far."""
    builtin = state.get("builtin", {})
    citations = tuple(Citation(**c) for c in builtin.get("citations", []))
    return dict(builtin.get("sandbox_files", {})), citations


class TurnWriter:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus

    def commit(self, run: JSON, turn: Turn, played: Played, *, now: int) -> None:
        """Store the turn and the run's new state in one transaction."""
        state = self._store.state("runs", run["id"])
        self._record_builtins(state, played)
        terminal = played.terminal
        with self._store.transaction():
            for step in played.steps:
                self._store.insert("run_steps", step, parent=run["id"])
            for message in played.messages:
                self._store.insert("messages", message, parent=run["thread_id"])
            self._store.save_state("threads", run["thread_id"], {"memory": turn.memory})
            if isinstance(terminal, CallFunctions):
                state["tool_step"] = {"id": played.steps[-1]["id"], "usage": played.calls_usage}
                advance(run, RunStatus.REQUIRES_ACTION)
                run["required_action"] = {
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {"tool_calls": played.calls},
                }
                self._store.save("runs", run, state=state)
            elif isinstance(terminal, (CallBuiltins, Delay)):
                self._store.save("runs", run, state=state)
            elif isinstance(terminal, Fail):
                self._store.save_state("runs", run["id"], state)
                self.fail(run, terminal.code, terminal.message, now=now)
            elif isinstance(terminal, Incomplete) or played.cut:
                reason = terminal.reason if isinstance(terminal, Incomplete) else None
                self._store.save_state("runs", run["id"], state)
                self.incomplete(run, reason or "max_completion_tokens", now=now)
            else:
                self._store.save_state("runs", run["id"], state)
                self._end(run, RunStatus.COMPLETED, now, completed_at=now)
        if isinstance(terminal, CallFunctions):
            self._bus.publish(run["id"], "thread.run.requires_action", run)

    def _record_builtins(self, state: JSON, played: Played) -> None:
        if played.images_used:
            state.pop("images", None)
        if not played.outcomes:
            return
        builtin = state.setdefault("builtin", {"sandbox_files": {}, "citations": []})
        for outcome in played.outcomes:
            builtin["sandbox_files"].update(outcome.sandbox_files)
            builtin["citations"] += [asdict(citation) for citation in outcome.citations]
            state["images"] = state.get("images", []) + list(outcome.image_file_ids)
        state.setdefault("rounds", []).append([asdict(result) for result in played.results])

    def incomplete(self, run: JSON, reason: str, *, now: int) -> None:
        self._end(run, RunStatus.INCOMPLETE, now, incomplete_details={"reason": reason})

    def fail(self, run: JSON, code: ErrorCode, message: str, *, now: int) -> None:
        self._end(
            run, RunStatus.FAILED, now, failed_at=now, last_error={"code": code, "message": message}
        )

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
        self._bus.publish(run["id"], "thread.run.step.completed", step)

    def _end(self, run: JSON, status: RunStatus, now: int, **fields: Any) -> None:
        """Finish the run in `status`; its usage is the sum of its steps'."""
        with self._store.transaction():
            steps = self._store.children("run_steps", run["id"])
            for step in steps:
                step["expires_at"] = None
                self._store.save("run_steps", step)
            prompt = sum(s["usage"]["prompt_tokens"] for s in steps if s["usage"])
            completion = sum(s["usage"]["completion_tokens"] for s in steps if s["usage"])
            advance(run, status)
            run.update(expires_at=None, usage=usage_object(prompt, completion), **fields)
            self._store.save("runs", run)
        self._bus.publish(run["id"], f"thread.run.{status.value}", run)

    def close_open_steps(self, run: JSON, status: StepStatus, *, now: int) -> None:
        """End the run's in-progress steps as cancelled or expired."""
        stamp = "cancelled_at" if status is StepStatus.CANCELLED else "expired_at"
        for step in self._store.children("run_steps", run["id"], statuses=["in_progress"]):
            step.update({"status": status.value, stamp: now})
            self._store.save("run_steps", step)
            self._bus.publish(run["id"], f"thread.run.step.{status.value}", step)
