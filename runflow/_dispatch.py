"""Run one batch of tool calls concurrently, each bounded by the run's deadline.

Every call yields exactly one output, whatever happens: the handler's return value, or a
structured error the model can read::

    {"error": {"type": "invalid_arguments", "message": "...", "tool": "get_weather"}}

with `type` one of `unknown_tool`, `invalid_arguments`, `handler_error`, `timeout`.
A handler still running when its stop time comes (its own `timeout`, or the run's deadline,
whichever is first) is cancelled and reported as `timeout`, so the run goes on instead of
expiring. A tool with `max_concurrency` waits for a free slot first, and that wait counts
against the same stop time.

Outputs longer than the tool's cap (`ToolRegistry.output_limit`) are cut, with a visible
marker inside the cap; an error output stays valid JSON, its message being what is cut.

When a handler fails (`handler_error` or `timeout`; the model's own mistakes always go back to
the model) and its tool's `on_error` policy is `fail` or `cancel`, the batch still finishes,
then `dispatch_batch` raises `ToolPolicyError` with every record: the caller decides what
happens to the run.

Each call is reported to the run's sink (`runflow._events`), from the task that runs it:
`ToolCallStarted`, then `ToolCallFinished` (awaited: the journal has the output before the
batch returns) or `ToolCallAbandoned` if the call is cancelled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import CancelScope, CapacityLimiter

from runflow._deadline import Deadline
from runflow._errors import ToolCallError, ToolPolicyError
from runflow._events import RunSink, ToolCallAbandoned, ToolCallFinished, ToolCallStarted
from runflow._lifecycle import ToolCallRequest
from runflow._tools import ErrorPolicy, Tool, ToolContext, ToolRegistry, serialize_output
from runflow._waits import deadline_scope
from runflow.clock import Clock

__all__ = [
    "ToolCallRecord",
    "ToolFailure",
    "dispatch_batch",
    "truncate_output",
]

_HANDLER_FAILURES = frozenset({"handler_error", "timeout"})


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
    truncated: bool = False
    """Whether `output` was cut to the tool's output cap."""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Batch:
    """What every call of a batch shares."""

    registry: ToolRegistry
    clock: Clock
    deadline: Deadline | None
    thread_limiter: CapacityLimiter | None
    events: RunSink | None
    run_id: str
    thread_id: str


async def dispatch_batch(
    calls: Sequence[ToolCallRequest],
    registry: ToolRegistry,
    *,
    clock: Clock,
    deadline: Deadline | None,
    thread_limiter: CapacityLimiter | None = None,
    events: RunSink | None = None,
    run_id: str = "",
    thread_id: str = "",
) -> list[ToolCallRecord]:
    """Execute `calls` concurrently; return one record per call, in the order of `calls`.

    `events` is told of each call, in the task that executes it (see the module docstring).
    `run_id` and `thread_id` name the run in those events and reach the handlers that ask for
    a `ToolContext`.

    Raises:
        ToolPolicyError: A handler failed and its tool's policy is `fail` or `cancel`.
    """
    batch = _Batch(registry, clock, deadline, thread_limiter, events, run_id, thread_id)
    records: list[ToolCallRecord | None] = [None] * len(calls)

    async def execute(index: int, call: ToolCallRequest) -> None:
        records[index] = await _reported(call, batch)

    if len(calls) == 1:
        await execute(0, calls[0])  # nothing to run beside it: no task group to pay for
    else:
        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(execute, index, call)
    finished = [record for record in records if record is not None]
    _enforce_policies(finished, registry)
    return finished


def truncate_output(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the marker `…[truncated: N more characters]` included
    (only a `limit` shorter than the marker itself gives a longer result)."""
    if len(text) <= limit:
        return text
    omitted = len(text) - limit
    while True:
        marker = f"…[truncated: {omitted} more characters]"
        keep = max(0, limit - len(marker))
        if len(text) - keep == omitted:
            return text[:keep] + marker
        omitted = len(text) - keep


async def _reported(call: ToolCallRequest, batch: _Batch) -> ToolCallRecord:
    """Execute one call, telling the batch's sink of it."""
    events, run_id = batch.events, batch.run_id
    if events is None:
        return await _execute_one(call, batch)
    await events.emit(ToolCallStarted(run_id, call, batch.clock.now()))
    try:
        record = await _execute_one(call, batch)
    except BaseException as exc:
        with CancelScope(shield=True):
            await events.emit(ToolCallAbandoned(run_id, call, exc))
        raise
    await events.emit(ToolCallFinished(run_id, record))
    return record


async def _execute_one(call: ToolCallRequest, batch: _Batch) -> ToolCallRecord:
    started_at = batch.clock.now()
    try:
        target = batch.registry.get(call.name)
        arguments = target.parse_arguments(call.arguments)
        stop_at, limit = _stop_at(target, batch.deadline, started_at)
        context = _context(call, batch, stop_at)
        value = await _call_until(target, arguments, context, stop_at, batch.thread_limiter)
        output, failure = serialize_output(value), None
    except ToolCallError as exc:
        failure = ToolFailure(exc.kind, str(exc))
    except _TimedOut as exc:
        failure = ToolFailure("timeout", _timeout_message(target, limit, started=exc.started))
    except Exception as exc:
        failure = ToolFailure("handler_error", f"{type(exc).__name__}: {exc}")
    cap = batch.registry.output_limit(call.name)
    if failure is None:
        output, truncated = truncate_output(output, cap), len(output) > cap
    else:
        output, truncated = _error_output(failure, call.name, cap)
    return ToolCallRecord(
        call_id=call.id,
        name=call.name,
        arguments=call.arguments,
        output=output,
        error=failure,
        started_at=started_at,
        duration=batch.clock.now() - started_at,
        truncated=truncated,
    )


def _context(call: ToolCallRequest, batch: _Batch, stop_at: float | None) -> ToolContext:
    return ToolContext(
        tool_name=call.name,
        tool_call_id=call.id,
        run_id=batch.run_id,
        thread_id=batch.thread_id,
        stop_at=stop_at,
        expires_at=None if batch.deadline is None else batch.deadline.expires_at,
        clock=batch.clock,
    )


class _TimedOut(Exception):
    def __init__(self, *, started: bool) -> None:
        super().__init__()
        self.started = started


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


def _timeout_message(target: Tool[..., Any], limit: str, *, started: bool) -> str:
    if started:
        return f"the handler was cancelled: it did not finish {limit}"
    return (
        f"the handler never started: all {target.max_concurrency} slots of the tool "
        f"(max_concurrency) stayed busy, and no slot came free {limit}"
    )


async def _call_until(
    target: Tool[..., Any],
    arguments: dict[str, Any],
    context: ToolContext,
    stop_at: float | None,
    thread_limiter: CapacityLimiter | None,
) -> Any:
    """Wait for a slot of the tool, then invoke the handler; cancel either and raise
    `_TimedOut` if `stop_at` comes first."""
    started = False

    async def run() -> Any:
        nonlocal started
        async with target.limiter() or nullcontext():
            started = True
            return await target.invoke(arguments, context=context, thread_limiter=thread_limiter)

    if stop_at is None:
        return await run()
    scope = deadline_scope(context.clock, stop_at)
    if scope is not None:
        with scope:
            return await run()
        raise _TimedOut(started=started)
    outcome: list[Any] = []
    failure: list[Exception] = []
    timed_out = anyio.Event()

    async def watchdog() -> None:
        await context.clock.sleep_until(stop_at)
        timed_out.set()
        group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(watchdog)
        try:  # caught here, so it does not come out of the task group as an ExceptionGroup
            outcome.append(await run())
        except Exception as exc:
            failure.append(exc)
        group.cancel_scope.cancel()
    if outcome:
        return outcome[0]
    if failure and not timed_out.is_set():
        raise failure[0]
    raise _TimedOut(started=started)


def _error_output(failure: ToolFailure, tool_name: str, limit: int) -> tuple[str, bool]:
    """The JSON error output, its message cut so that the whole fits in `limit`; and whether
    it was cut."""

    def encoded(kept: int) -> str:
        message = truncate_output(failure.message, kept)
        error = {"type": failure.kind, "message": message, "tool": tool_name}
        return json.dumps({"error": error}, ensure_ascii=False)

    full = encoded(len(failure.message))
    if len(full) <= limit:
        return full, False
    shortest, longest = 0, len(failure.message)  # binary search for the longest that fits
    while shortest < longest:
        middle = (shortest + longest + 1) // 2
        if len(encoded(middle)) <= limit:
            shortest = middle
        else:
            longest = middle - 1
    return truncate_output(encoded(shortest), limit), True


def _enforce_policies(records: Sequence[ToolCallRecord], registry: ToolRegistry) -> None:
    """Raise `ToolPolicyError` if a failed handler's policy says the run must stop."""
    stops: list[tuple[ErrorPolicy, ToolCallRecord]] = []
    for record in records:
        if record.error is not None and record.error.kind in _HANDLER_FAILURES:
            policy = registry.get(record.name).on_error
            if policy != "return":
                stops.append((policy, record))
    if stops:
        policy, record = min(stops, key=lambda stop: stop[0] != "fail")
        raise ToolPolicyError(record, policy, records)
