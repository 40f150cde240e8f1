"""TemporalRunner: start runs as workflows, from any process, and get the core's RunResult.

    runner = TemporalRunner(temporal_client, task_queue="runs")
    result = await runner.run(thread_id=..., assistant_id=...)     # a RunResult, as Runner's

    handle = await runner.start(thread_id=..., assistant_id=..., key="order-42")
    print(await handle.progress())                                 # status, tool calls so far
    result = await handle.result()

The workflow id is the run's client key (`key=`, a fresh one when not given). Starting with a
key already running attaches to that run (Temporal's `USE_EXISTING` conflict policy), so a
caller that retries `start()` after a lost answer still has one run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from openai.types.beta.threads import Message, Run
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from runflow_temporal._core import (
    ProtocolError,
    RequestRejectedError,
    RetryPolicy,
    RunEnded,
    RunflowError,
    RunInfo,
    RunResult,
    ThreadBusyError,
    ThreadPolicy,
    ToolCallRecord,
    ToolFailure,
    ToolPolicyError,
)
from runflow_temporal._types import (
    Progress,
    RetrySettings,
    RunRequest,
    ToolOutcome,
    WorkflowResult,
)
from runflow_temporal.workflow import RunWorkflow

__all__ = ["TemporalRunHandle", "TemporalRunner", "record_of", "result_of"]


class TemporalRunHandle:
    """A run started on Temporal: its workflow id, its progress, its result."""

    def __init__(self, handle: WorkflowHandle[RunWorkflow, WorkflowResult]) -> None:
        self._handle = handle

    @property
    def workflow_id(self) -> str:
        """The workflow id: the run's client key."""
        return self._handle.id

    async def progress(self) -> Progress:
        """The run's status and tool calls so far (a workflow query)."""
        return await self._handle.query(RunWorkflow.progress)

    async def result(self) -> RunResult:
        """Wait for the run's end; its `RunResult` (whatever the end status).

        Raises:
            ThreadBusyError: the thread was busy and the thread policy was `raise`.
            ToolPolicyError: a failed tool's `on_error` policy was `fail` (the run cancelled).
            RunflowError: any other way the workflow failed.
        """
        try:
            return result_of(await self._handle.result())
        except WorkflowFailureError as exc:
            raise _translated(exc) from exc

    async def cancel(self) -> None:
        """Cancel the workflow: its tool calls stop, the run is cancelled on the service."""
        await self._handle.cancel()


class TemporalRunner:
    """The core `Runner`'s `run()` / `start()`, with the runs driven by Temporal workers.

    Args:
        client: a connected `temporalio.client.Client` (add `tracing_interceptors()` to its
            interceptors for one trace per run).
        task_queue: the queue the workers (`runflow_temporal.Worker`) poll.
        mode: `"stream"` (default) or `"poll"`, as for `Runner`.
        thread_policy: default for `run()`: `wait`, `cancel` or `raise`.
        retry: how transient failures are retried (becomes Temporal retry policies).
        safety_margin: seconds kept back from `expires_at` for submitting outputs.
        heartbeat_timeout: how soon a tool activity whose worker died is given to another.
        instrumentation: wraps each `run()` in the core's `invoke_agent` span (OpenTelemetry);
            None for the default one.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        mode: str = "stream",
        thread_policy: ThreadPolicy = "wait",
        retry: RetryPolicy | None = None,
        safety_margin: float = 2.0,
        heartbeat_timeout: float = 10.0,
        instrumentation: Any = None,
    ) -> None:
        if mode not in ("stream", "poll"):
            raise ValueError(f"mode must be 'stream' or 'poll', not {mode!r}")
        policy = retry or RetryPolicy()
        self.client = client
        self.task_queue = task_queue
        self.thread_policy: ThreadPolicy = thread_policy
        self._defaults = {
            "mode": mode,
            "safety_margin": safety_margin,
            "heartbeat_timeout": heartbeat_timeout,
            "retry": RetrySettings(policy.max_attempts, policy.initial_backoff, policy.max_backoff),
        }
        self._instrumentation = instrumentation

    async def run(
        self,
        *,
        assistant_id: str,
        thread_id: str | None = None,
        thread: Mapping[str, Any] | None = None,
        thread_policy: ThreadPolicy | None = None,
        assistant_name: str | None = None,
        key: str | None = None,
        **options: Any,
    ) -> RunResult:
        """Start the run and wait for its end (see `Runner.run()`); a `RunResult`."""
        info = RunInfo(
            assistant_id=assistant_id,
            thread_id=thread_id,
            options=options,
            provider_name="openai",
            server_address=None,
            mode="poll" if self._defaults["mode"] == "poll" else "stream",
            assistant_name=assistant_name,
        )
        with self._instrumented().run(info) as observer:
            handle = await self.start(
                assistant_id=assistant_id,
                thread_id=thread_id,
                thread=thread,
                thread_policy=thread_policy,
                assistant_name=assistant_name,
                key=key,
                **options,
            )
            result = await handle.result()
            await observer.emit(RunEnded(result.run.id, result.status, result, None))
            return result

    async def start(
        self,
        *,
        assistant_id: str,
        thread_id: str | None = None,
        thread: Mapping[str, Any] | None = None,
        thread_policy: ThreadPolicy | None = None,
        assistant_name: str | None = None,
        key: str | None = None,
        **options: Any,
    ) -> TemporalRunHandle:
        """Start the run's workflow (or attach to the one running with `key`)."""
        if thread_id is not None and thread is not None:
            raise ValueError("give either thread_id (an existing thread) or thread (a new one)")
        request = RunRequest(
            key=key or f"runflow-{uuid.uuid4().hex}",
            assistant_id=assistant_id,
            thread_id=thread_id,
            thread=None if thread_id is not None else dict(thread or {}),
            options=dict(options),
            thread_policy=thread_policy or self.thread_policy,
            assistant_name=assistant_name,
            **self._defaults,  # type: ignore[arg-type]
        )
        handle = await self.client.start_workflow(
            RunWorkflow.run,
            request,
            id=request.key,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return TemporalRunHandle(handle)

    def handle(self, key: str) -> TemporalRunHandle:
        """The handle of the run started with `key` (from any process)."""
        return TemporalRunHandle(self.client.get_workflow_handle_for(RunWorkflow.run, key))

    def _instrumented(self) -> Any:
        if self._instrumentation is None:
            from runflow_temporal._core import OpenTelemetryInstrumentation

            self._instrumentation = OpenTelemetryInstrumentation()
        return self._instrumentation


def record_of(outcome: ToolOutcome) -> ToolCallRecord:
    """The core's record of one tool call."""
    error = None
    if outcome.error_kind is not None:
        error = ToolFailure(outcome.error_kind, outcome.error_message or "")
    return ToolCallRecord(
        call_id=outcome.call_id,
        name=outcome.name,
        arguments=outcome.arguments,
        output=outcome.output,
        error=error,
        started_at=outcome.started_at,
        duration=outcome.duration,
        truncated=outcome.truncated,
    )


def result_of(result: WorkflowResult) -> RunResult:
    """The core's `RunResult` from what the workflow returned."""
    return RunResult(
        run=Run.model_validate(result.run),
        tool_calls=[record_of(outcome) for outcome in result.tool_calls],
        messages=[Message.model_validate(message) for message in result.messages],
        polls=result.polls,
        retries=result.retries,
    )


def _translated(exc: WorkflowFailureError) -> RunflowError:
    """The runflow error a failed workflow stands for."""
    cause = exc.cause
    while not isinstance(cause, ApplicationError) and cause is not None and cause.__cause__:
        cause = cause.__cause__
    if not isinstance(cause, ApplicationError):
        return RunflowError(f"the run's workflow failed: {exc.cause or exc}")
    details = list(cause.details)
    if cause.type == "ThreadBusyError" and len(details) > 1:
        return ThreadBusyError(
            cause.message, thread_id=str(details[0]), active_run_id=str(details[1])
        )
    if cause.type == "RequestRejectedError":
        return RequestRejectedError(cause.message, status_code=400)
    if cause.type == "ProtocolError":
        return ProtocolError(cause.message)
    if cause.type == "ToolPolicyError" and len(details) > 2:
        return _policy_error(str(details[0]), details[1], details[2])
    return RunflowError(cause.message)


def _policy_error(call_id: str, policy: Any, outcomes: Any) -> ToolPolicyError:
    """The core's `ToolPolicyError`, from the details the workflow failed with."""
    records = [record_of(ToolOutcome(**outcome)) for outcome in outcomes]
    record = next(record for record in records if record.call_id == call_id)
    return ToolPolicyError(record, policy, records)
