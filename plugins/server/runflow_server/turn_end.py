"""Writing what a turn produced, and the other endings of a run, each in one transaction.

A turn's steps (and the messages they write) are stored in progress as they open
(`store_opened`). `TurnWriter.commit` stores the rest of a played turn (`turns.Played`): its steps
and messages as they ended, the thread's brain memory, the run's built-in outcomes and tool
rounds, and the run's new status, all in one store transaction, then publishes the run's event
(`thread.run.requires_action`, `thread.run.completed`...). A server killed at any point leaves
either all of it or none; the steps it had opened are dropped when the run is driven again
(`requeue`). A run cancelled, expired or failed mid-turn closes its open steps and leaves their
messages `incomplete` (`close_open_steps`).

A finished run's usage is the sum of its steps'; as recorded, its steps no longer show an expiry.
No record is changed in place: the methods that change a run return the run they made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .brains import (
    CallBuiltins,
    CallFunctions,
    Delay,
    ErrorCode,
    Fail,
    Incomplete,
    Terminal,
    Turn,
)
from .events import EventBus
from .lifecycle import RunStatus, StepStatus, advance
from .objects import usage_object
from .records import Message, Run, Step
from .run_state import BuiltinState, RunState
from .store import Store
from .turns import Played

__all__ = ["TurnWriter"]

JSON = dict[str, Any]


class TurnWriter:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus

    def store_opened(self, step: Step, message: Message | None) -> None:
        """Store a step as it opens (and the message it creates), before it is published."""
        with self._store.transaction():
            self._store.add(step)
            if message is not None:
                self._store.add(message)

    def commit(self, run: Run, turn: Turn, played: Played, state: RunState, *, now: int) -> Run:
        """Store the turn and the run's new state (`state` as the turn began) in one
        transaction; the run as it now is."""
        state = _with_builtins(state, played)
        terminal = played.terminal
        with self._store.transaction():
            for record in [*played.steps.values(), *played.messages.values()]:
                self._store.put(record)
            self._store.save_state("threads", run.thread_id, {"memory": turn.memory})
            if isinstance(terminal, CallFunctions):
                state = state.model_copy(update={"tool_step": played.tool_step})
                action = {"type": "submit_tool_outputs", "submit_tool_outputs": {}}
                action["submit_tool_outputs"] = {"tool_calls": played.calls}
                run = advance(run, RunStatus.REQUIRES_ACTION, required_action=action)
                self._store.put(run, state=state)
            elif isinstance(terminal, (CallBuiltins, Delay)):
                self._store.put(run, state=state)
            else:
                self._store.save_state("runs", run.id, state)
                run = self._end_turn(run, terminal, played, now=now)
        if isinstance(terminal, CallFunctions):
            self._bus.publish(run.id, "thread.run.requires_action", run)
        return run

    def _end_turn(self, run: Run, terminal: Terminal | None, played: Played, *, now: int) -> Run:
        if isinstance(terminal, Fail):
            return self.fail(run, terminal.code, terminal.message, now=now)
        if isinstance(terminal, Incomplete) or played.cut:
            reason = terminal.reason if isinstance(terminal, Incomplete) else None
            return self.incomplete(run, reason or "max_completion_tokens", now=now)
        return self._end(run, RunStatus.COMPLETED, now, completed_at=now)

    def incomplete(self, run: Run, reason: str, *, now: int) -> Run:
        return self._end(run, RunStatus.INCOMPLETE, now, incomplete_details={"reason": reason})

    def fail(self, run: Run, code: ErrorCode, message: str, *, now: int) -> Run:
        error = {"code": code, "message": message}
        return self._end(run, RunStatus.FAILED, now, failed_at=now, last_error=error)

    def complete_tool_step(
        self, run: Run, pending: Mapping[str, Any] | None, outputs: Mapping[str, str], *, now: int
    ) -> None:
        """Fill the submitted outputs into the waiting tool_calls step and complete it."""
        step = None if pending is None else self._store.get(Step, pending["id"])
        assert pending is not None and step is not None, f"run {run.id} lost its tool_calls step"
        calls = [
            {**call, "function": {**call["function"], "output": outputs[call["id"]]}}
            for call in step.step_details["tool_calls"]
        ]
        step = step.model_copy(
            update={
                "step_details": {"type": "tool_calls", "tool_calls": calls},
                "status": StepStatus.COMPLETED,
                "completed_at": now,
                "usage": pending["usage"],
            }
        )
        self._store.put(step)
        self._bus.publish(run.id, "thread.run.step.completed", step)

    def _end(self, run: Run, status: RunStatus, now: int, **fields: Any) -> Run:
        """Finish the run in `status`; its usage is the sum of its steps'."""
        if status is RunStatus.FAILED:
            self.close_open_steps(run, StepStatus.FAILED, now=now)
        with self._store.transaction():
            steps = self._store.children(Step, run.id)
            for step in steps:
                self._store.put(step.model_copy(update={"expires_at": None}))
            prompt = sum(s.usage["prompt_tokens"] for s in steps if s.usage)
            completion = sum(s.usage["completion_tokens"] for s in steps if s.usage)
            usage = usage_object(prompt, completion)
            run = advance(run, status, expires_at=None, usage=usage, **fields)
            self._store.put(run)
        self._bus.publish(run.id, f"thread.run.{status.value}", run)
        return run

    def close_open_steps(self, run: Run, status: StepStatus, *, now: int) -> None:
        """End the run's in-progress steps as cancelled, expired or failed, and the messages
        they were writing as incomplete (`run_cancelled`, `run_expired`, `run_failed`)."""
        stamp = {"cancelled": "cancelled_at", "expired": "expired_at"}.get(status, "failed_at")
        reason = {"reason": f"run_{status.value}"}
        with self._store.transaction():
            for step in self._store.children(Step, run.id, statuses=[StepStatus.IN_PROGRESS]):
                step = step.model_copy(update={"status": status, stamp: now})
                self._store.put(step)
                self._bus.publish(run.id, f"thread.run.step.{status.value}", step)
                message = self._store.get(Message, step.message_id or "")
                if message is not None and message.status == "in_progress":
                    update = {"status": "incomplete", "incomplete_at": now}
                    message = message.model_copy(update=update | {"incomplete_details": reason})
                    self._store.put(message)
                    self._bus.publish(run.id, "thread.message.incomplete", message)

    def requeue(self, run: Run) -> Run:
        """A run a dead server was deciding, queued to be decided again from the top of its
        turn: the steps and messages it had opened and not committed are dropped."""
        with self._store.transaction():
            for step in self._store.children(Step, run.id, statuses=[StepStatus.IN_PROGRESS]):
                if step.message_id is not None:
                    self._store.delete("messages", step.message_id)
                self._store.delete("run_steps", step.id)
            run = advance(run, RunStatus.QUEUED)
            self._store.put(run)
        return run


def _with_builtins(state: RunState, played: Played) -> RunState:
    """The run's state with what the turn's built-in calls produced (and its images used)."""
    images = () if played.images_used else state.images
    if not played.outcomes:
        return state.model_copy(update={"images": images})
    files, citations = dict(state.builtin.sandbox_files), state.builtin.citations
    for outcome in played.outcomes:
        files.update(outcome.sandbox_files)
        citations += outcome.citations
        images += outcome.image_file_ids
    builtin = BuiltinState(sandbox_files=files, citations=citations)
    rounds = (*state.rounds, tuple(played.results))
    return state.model_copy(update={"builtin": builtin, "images": images, "rounds": rounds})
