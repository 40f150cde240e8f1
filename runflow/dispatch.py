"""Run one batch of tool calls concurrently, each bounded by the run's deadline.

Every call yields exactly one output, whatever happens: the handler's return value, or a
structured error the model can read::

    {"error": {"type": "invalid_arguments", "message": "...", "tool": "get_weather"}}

with `type` one of `unknown_tool`, `invalid_arguments`, `handler_error`, `timeout`.
A handler still running when its stop time comes (its own `timeout`, or the run's deadline,
whichever is first) is cancelled and reported as `timeout`, so the run goes on instead of
expiring.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from anyio import CapacityLimiter

from runflow.clock import Clock
from runflow.deadline import Deadline
from runflow.errors import ToolCallError
from runflow.lifecycle import ToolCallRequest
from runflow.tools import Tool, ToolRegistry, serialize_output

__all__ = ["ToolCallObserver", "ToolCallRecord", "ToolFailure", "dispatch_batch"]


@dataclass(frozen=True, slots=True)
class ToolFailure:
    """Why a tool call produced an error output instead of a result."""

    kind: str
    """`unknown_tool`, `invalid_arguments`, `handler_error` or `timeout`."""
    message: str


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """What happened to one tool call."""

    call_id: str
    name: str
    arguments: str
    """The raw arguments text the model sent."""
    output: str
    """The text submitted for this call (the result, or the JSON error)."""
    error: ToolFailure | None
    started_at: float
    duration: float
    """Seconds the call took, on the runner's clock."""

    @property
    def ok(self) -> bool:
        return self.error is None


CallObserver = Callable[[ToolCallRequest], None]
RecordObserver = Callable[[ToolCallRecord], None]


class ToolCallObserver(Protocol):
    def finished(self, record: ToolCallRecord) -> None:
        """The call produced its output (a result or an error output)."""
        ...


CallTracer = Callable[[ToolCallRequest], AbstractContextManager[ToolCallObserver]]


class _Untraced:
    def finished(self, record: ToolCallRecord) -> None:
        pass


_UNTRACED = _Untraced()


async def dispatch_batch(
    calls: Sequence[ToolCallRequest],
    registry: ToolRegistry,
    *,
    clock: Clock,
    deadline: Deadline | None,
    thread_limiter: CapacityLimiter | None = None,
    on_start: CallObserver | None = None,
    on_finish: RecordObserver | None = None,
    trace_call: CallTracer | None = None,
) -> list[ToolCallRecord]:
    """Execute `calls` concurrently; return one record per call, in the order of `calls`.

    `trace_call(call)` is entered around each call, in the task that executes it.
    """
    records: list[ToolCallRecord | None] = [None] * len(calls)

    async def execute(index: int, call: ToolCallRequest) -> None:
        if on_start is not None:
            on_start(call)
        with trace_call(call) if trace_call else nullcontext(_UNTRACED) as traced:
            record = await _execute_one(call, registry, clock, deadline, thread_limiter)
            traced.finished(record)
        records[index] = record
        if on_finish is not None:
            on_finish(record)

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            group.start_soon(execute, index, call)
    return [record for record in records if record is not None]


async def _execute_one(
    call: ToolCallRequest,
    registry: ToolRegistry,
    clock: Clock,
    deadline: Deadline | None,
    thread_limiter: CapacityLimiter | None,
) -> ToolCallRecord:
    started_at = clock.now()
    try:
        target = registry.get(call.name)
        arguments = target.parse_arguments(call.arguments)
        stop_at, limit = _stop_at(target, deadline, started_at)
        value = await _call_until(target, arguments, clock, stop_at, thread_limiter)
        output, failure = serialize_output(value), None
    except ToolCallError as exc:
        failure = ToolFailure(exc.kind, str(exc))
    except _TimedOut:
        failure = ToolFailure("timeout", f"the handler was cancelled: it did not finish {limit}")
    except Exception as exc:
        failure = ToolFailure("handler_error", f"{type(exc).__name__}: {exc}")
    if failure is not None:
        output = _error_output(failure, call.name)
    return ToolCallRecord(
        call_id=call.id,
        name=call.name,
        arguments=call.arguments,
        output=output,
        error=failure,
        started_at=started_at,
        duration=clock.now() - started_at,
    )


class _TimedOut(Exception):
    pass


def _stop_at(
    target: Tool[..., Any], deadline: Deadline | None, now: float
) -> tuple[float | None, str]:
    """When the handler must stop, and how to say why."""
    own_limit = f"within its timeout of {target.timeout}s"
    if deadline is None:
        return (None, "") if target.timeout is None else (now + target.timeout, own_limit)
    stop_at = deadline.handler_stop_at(now, target.timeout)
    if stop_at < deadline.submit_by:
        return stop_at, own_limit
    return stop_at, "before the run's deadline (its outputs are due by expires_at)"


async def _call_until(
    target: Tool[..., Any],
    arguments: dict[str, Any],
    clock: Clock,
    stop_at: float | None,
    thread_limiter: CapacityLimiter | None,
) -> Any:
    """Invoke the handler; cancel it and raise `_TimedOut` if `stop_at` comes first."""
    if stop_at is None:
        return await target.invoke(arguments, thread_limiter=thread_limiter)
    outcome: list[Any] = []
    failure: list[Exception] = []
    timed_out = anyio.Event()

    async def watchdog() -> None:
        await clock.sleep_until(stop_at)
        timed_out.set()
        group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watchdog)
        try:  # caught here, so it does not come out of the task group as an ExceptionGroup
            outcome.append(await target.invoke(arguments, thread_limiter=thread_limiter))
        except Exception as exc:
            failure.append(exc)
        group.cancel_scope.cancel()
    if outcome:
        return outcome[0]
    if failure and not timed_out.is_set():
        raise failure[0]
    raise _TimedOut


def _error_output(failure: ToolFailure, tool_name: str) -> str:
    return json.dumps(
        {"error": {"type": failure.kind, "message": failure.message, "tool": tool_name}}
    )
