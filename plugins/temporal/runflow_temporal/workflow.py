"""The run workflow: the core's pure loop, with every piece of I/O an activity.

    state = create()                      # at most once: found by the key, or created
    while decide(state) is not Finish:
        Wait     -> a timer, then observe()
        Dispatch -> one `runflow.tool` activity per call, in parallel, on any worker;
                    then submit() (each call id's outputs at most once)
        Abort    -> cancel the run, fail with the reason
    finish()                              # the run and its messages -> WorkflowResult

Time is `workflow.now()`. The deadline comes from the run's `expires_at`, converted with the
clock offset observed when the run was created, minus the safety margin (the core's `Deadline`).
A tool activity may take `min(tool timeout, time left)`; a call still unanswered shortly after
the deadline gets the core's `timeout` error output from the workflow itself, so the outputs
still land before `expires_at` when a worker hangs or dies.

Cancelling the workflow cancels the tool activities in flight, then the run on the service; the
workflow then returns the cancelled run. Nothing here is non-deterministic: a replay of a
recorded history gives the same commands (tests/temporal/test_replay.py).
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    from runflow_temporal._core import (
        Abort,
        Deadline,
        Dispatch,
        Finish,
        RunSnapshot,
        RunStatus,
        ToolCallRequest,
        decide,
    )
    from runflow_temporal._types import (
        CallOutput,
        CreateInput,
        Finished,
        Progress,
        RunRef,
        RunRequest,
        RunState,
        SubmitInput,
        ToolCall,
        ToolInput,
        ToolOutcome,
        ToolSettings,
        WorkflowResult,
    )

__all__ = ["RunWorkflow"]

_NON_RETRYABLE = ["RequestRejectedError", "ThreadBusyError", "ProtocolError"]
_REQUEST_TIMEOUT = timedelta(minutes=5)
"""How long one create / submit / observe / cancel attempt may take."""
_POLL = (0.2, 2.0)
_LATE_CUT = 0.5
"""Seconds after the deadline at which an unanswered call gets its timeout output here."""
_HANDLER_FAILURES = frozenset({"handler_error", "timeout"})
_DEADLINE_LIMIT = "before the run's deadline (its outputs are due by expires_at)"


@workflow.defn(name="runflow.run")
class RunWorkflow:
    """One Assistants run, driven to its end."""

    def __init__(self) -> None:
        self._request: RunRequest | None = None
        self._state: RunState | None = None
        self._clock_pair: tuple[float, float] | None = None
        self._tool_calls: list[ToolOutcome] = []
        self._rounds = 0
        self._polls = 0

    @workflow.query(name="progress")
    def progress(self) -> Progress:
        """The run so far: its status, its tool calls, the rounds submitted."""
        state = self._state
        return Progress(
            key=self._request.key if self._request else "",
            status=None if state is None else state.status,
            run_id=None if state is None else state.run_id,
            thread_id=None if state is None else state.thread_id,
            tool_calls=list(self._tool_calls),
            rounds=self._rounds,
        )

    @workflow.run
    async def run(self, request: RunRequest) -> WorkflowResult:
        self._request = request
        try:
            await self._observed(await self._create())
            await self._drive()
        except asyncio.CancelledError:
            if self._state is None:
                raise
            await self._cancel_run()
        except ApplicationError:
            if self._state is not None and not _terminal(self._state):
                await self._cancel_run()
            raise
        state = self._current()
        finished: Finished = await self._request_activity(
            "runflow.finish", RunRef(state.thread_id, state.run_id)
        )
        return WorkflowResult(
            run=finished.run,
            messages=finished.messages,
            tool_calls=list(self._tool_calls),
            polls=self._polls,
        )

    # -- the loop ------------------------------------------------------------------------

    async def _drive(self) -> None:
        wait = _POLL[0]
        while True:
            state = self._current()
            decision = decide(_snapshot(state))
            if isinstance(decision, Finish):
                return
            if isinstance(decision, Abort):
                raise ApplicationError(
                    f"run {state.run_id}: {decision.reason}", type="ProtocolError"
                )
            if isinstance(decision, Dispatch):
                await self._dispatch_and_submit(state)
                wait = _POLL[0]
                continue
            await workflow.sleep(wait)
            wait = min(wait * 2, _POLL[1])
            self._polls += 1
            await self._observed(await self._request_activity("runflow.observe", _ref(state)))

    async def _create(self) -> RunState:
        request = self._req()
        thread_id = request.thread_id
        if thread_id is None:
            thread_id = await self._request_activity("runflow.create_thread", request.thread or {})
        create = CreateInput(
            request.key, request.assistant_id, thread_id, request.options, request.mode
        )
        while True:
            try:
                state: RunState = await self._request_activity("runflow.create_run", create)
                return state
            except ActivityError as exc:
                busy = _busy(exc)
                if busy is None or request.thread_policy == "raise":
                    raise _cause(exc) from None
            await self._end_active_run(
                RunRef(thread_id, busy), cancel=request.thread_policy == "cancel"
            )

    async def _end_active_run(self, ref: RunRef, *, cancel: bool) -> None:
        """Wait for (or cancel, then wait for) another run that keeps the thread busy."""
        state: RunState = await self._request_activity(
            "runflow.cancel" if cancel else "runflow.observe", ref
        )
        wait = _POLL[0]
        while not _terminal(state):
            await workflow.sleep(wait)
            wait = min(wait * 2, _POLL[1])
            state = await self._request_activity("runflow.observe", ref)

    async def _dispatch_and_submit(self, state: RunState) -> None:
        deadline = self._deadline(state)
        settings = {tool.name: tool for tool in state.tools}
        outcomes = await asyncio.gather(
            *(
                self._call(call, settings.get(call.name), state, deadline)
                for call in state.tool_calls
            )
        )
        self._tool_calls.extend(outcomes)
        stop = _policy_stop(outcomes)
        if stop is not None:
            await self._cancel_run()
            if stop.on_error == "fail":
                raise ApplicationError(
                    f"tool {stop.name!r} failed ({stop.error_kind}: {stop.error_message}); "
                    "its on_error policy is 'fail'",
                    stop.call_id,
                    stop.on_error,
                    outcomes,
                    type="ToolPolicyError",
                    non_retryable=True,
                )
            return
        outputs = [CallOutput(outcome.call_id, outcome.output) for outcome in outcomes]
        submit = SubmitInput(state.thread_id, state.run_id, outputs, self._req().mode)
        self._rounds += 1
        await self._observed(await self._request_activity("runflow.submit", submit))

    async def _call(
        self,
        call: ToolCall,
        settings: ToolSettings | None,
        state: RunState,
        deadline: Deadline | None,
    ) -> ToolOutcome:
        """One tool call's outcome, whatever becomes of its activity."""
        now = workflow.now().timestamp()
        own = None if settings is None else settings.timeout
        left = None if deadline is None else deadline.time_left(now)
        budget = min((limit for limit in (own, left) if limit is not None), default=None)
        if budget is not None and budget <= 0:
            return _timeout(call, now, _DEADLINE_LIMIT)
        request = self._req()
        retry_lost = settings is None or settings.retry_lost
        timeout = _REQUEST_TIMEOUT if budget is None else timedelta(seconds=budget + _LATE_CUT)
        handle = workflow.start_activity(
            "runflow.tool",
            ToolInput(call, state.run_id, state.thread_id, state.expires_at, _submit_by(deadline)),
            result_type=ToolOutcome,
            start_to_close_timeout=timeout,
            schedule_to_close_timeout=timeout,
            heartbeat_timeout=timedelta(seconds=request.heartbeat_timeout),
            retry_policy=self._retry(attempts=None if retry_lost else 1),
        )
        try:
            return await asyncio.wait_for(handle, timeout=timeout.total_seconds())
        except builtins.TimeoutError:
            return _timeout(call, now, _limit_text(own, left))
        except ActivityError as exc:
            if isinstance(exc.cause, TimeoutError) and exc.cause.type in (
                TimeoutType.START_TO_CLOSE,
                TimeoutType.SCHEDULE_TO_CLOSE,
            ):
                return _timeout(call, now, _limit_text(own, left))
            return _lost(call, now, exc, retry_lost=retry_lost)

    async def _cancel_run(self) -> None:
        """Cancel the run on the service and wait for it to end (bounded by the retries)."""
        state = self._current()
        if _terminal(state):
            return
        await self._observed(await self._request_activity("runflow.cancel", _ref(state)))
        wait = _POLL[0]
        while not _terminal(self._current()):
            await workflow.sleep(wait)
            wait = min(wait * 2, _POLL[1])
            await self._observed(await self._request_activity("runflow.observe", _ref(state)))

    # -- helpers -------------------------------------------------------------------------

    async def _request_activity(self, name: str, argument: Any) -> Any:
        return await workflow.execute_activity(
            name,
            argument,
            result_type=_RESULT_TYPES[name],
            start_to_close_timeout=_REQUEST_TIMEOUT,
            retry_policy=self._retry(attempts=None),
        )

    def _retry(self, *, attempts: int | None) -> TemporalRetryPolicy:
        retry = self._req().retry
        return TemporalRetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_backoff),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=retry.max_backoff),
            maximum_attempts=attempts or retry.max_attempts,
            non_retryable_error_types=_NON_RETRYABLE,
        )

    async def _observed(self, state: RunState) -> None:
        """Keep `state`; the first observation of the run gives the clock offset."""
        if self._clock_pair is None:
            self._clock_pair = (state.server_time, state.local_time)
        self._state = state

    def _deadline(self, state: RunState) -> Deadline | None:
        if state.expires_at is None or self._clock_pair is None:
            return None
        server_time, local_time = self._clock_pair
        return Deadline.from_server_time(
            state.expires_at,
            server_time=server_time,
            local_time=local_time,
            safety_margin=self._req().safety_margin,
        )

    def _current(self) -> RunState:
        assert self._state is not None
        return self._state

    def _req(self) -> RunRequest:
        assert self._request is not None
        return self._request


_RESULT_TYPES: dict[str, type] = {
    "runflow.create_thread": str,
    "runflow.create_run": RunState,
    "runflow.submit": RunState,
    "runflow.observe": RunState,
    "runflow.cancel": RunState,
    "runflow.finish": Finished,
}


def _snapshot(state: RunState) -> RunSnapshot:
    calls = [ToolCallRequest(call.id, call.name, call.arguments) for call in state.tool_calls]
    return RunSnapshot(RunStatus(state.status), state.required_action_type, calls)


def _terminal(state: RunState) -> bool:
    return RunStatus(state.status).is_terminal


def _ref(state: RunState) -> RunRef:
    return RunRef(state.thread_id, state.run_id)


def _submit_by(deadline: Deadline | None) -> float | None:
    return None if deadline is None else deadline.submit_by


def _limit_text(own: float | None, left: float | None) -> str:
    if own is not None and (left is None or own < left):
        return f"within its timeout of {own}s"
    return _DEADLINE_LIMIT


def _error_outcome(call: ToolCall, now: float, kind: str, message: str) -> ToolOutcome:
    error = {"type": kind, "message": message, "tool": call.name}
    return ToolOutcome(
        call_id=call.id,
        name=call.name,
        arguments=call.arguments,
        output=json.dumps({"error": error}, ensure_ascii=False),
        error_kind=kind,
        error_message=message,
        started_at=now,
        duration=workflow.now().timestamp() - now,
    )


def _timeout(call: ToolCall, now: float, limit: str) -> ToolOutcome:
    """The core's `timeout` output, for a call whose activity did not answer in time."""
    return _error_outcome(
        call, now, "timeout", f"the handler was cancelled: it did not finish {limit}"
    )


def _lost(call: ToolCall, now: float, exc: ActivityError, *, retry_lost: bool) -> ToolOutcome:
    """A `handler_error` output for a call whose every attempt was lost."""
    why = str(exc.cause or exc)
    if retry_lost:
        message = f"the tool call could not be completed on any worker: {why}"
    else:
        message = (
            f"the worker running the handler was lost ({why}); the tool is at most once, "
            "so it was not run again"
        )
    return _error_outcome(call, now, "handler_error", message)


def _policy_stop(outcomes: Sequence[ToolOutcome]) -> ToolOutcome | None:
    """The failed call whose tool's policy stops the run (`fail` before `cancel`), if any."""
    stops = [
        outcome
        for outcome in outcomes
        if outcome.error_kind in _HANDLER_FAILURES and outcome.on_error != "return"
    ]
    return min(stops, key=lambda outcome: outcome.on_error != "fail", default=None)


def _busy(exc: ActivityError) -> str | None:
    """The active run's id, when the activity failed because the thread was busy."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == "ThreadBusyError":
        details = list(cause.details)
        return str(details[1]) if len(details) > 1 else None
    return None


def _cause(exc: ActivityError) -> BaseException:
    """The activity's own failure, so the workflow fails with runflow's error type."""
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True)
    return exc
