"""The activities: all of a run's I/O, on whichever worker picks it up.

- `runflow.create_thread` and `runflow.create_run`: creation, at most once. The run is tagged
  with the workflow's key (`metadata.runflow_run_key`); every attempt first looks for a run with
  that key on the thread, so an attempt whose answer was lost is never followed by a second run.
- `runflow.submit`: retrieves the run first and sends the outputs only while the run still
  waits for those call ids, so each call id's outputs are submitted at most once.
- `runflow.observe`, `runflow.cancel`, `runflow.finish`: retrieve, cancel, read the messages.
- `runflow.tool`: one tool call, through the core's dispatch (the same argument checks, error
  outputs, output cap and `timeout` output as the in-process `Runner`), heartbeating while the
  handler runs, so a worker that dies is noticed within the heartbeat timeout.

Creating and submitting stream the run (mode `stream`) until it requires action or ends, or
answer with one retrieval (mode `poll`; the workflow waits on timers between polls). Failures
leave as `ApplicationError`s named after runflow's exceptions; only transient ones are retried.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import aclosing, asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import anyio
from anyio import CapacityLimiter
from openai import APIConnectionError, APIStatusError, AsyncOpenAI
from openai.types.beta.threads import Run
from opentelemetry import trace
from temporalio import activity
from temporalio.exceptions import ApplicationError

from runflow import SystemClock
from runflow_temporal import _tracing
from runflow_temporal._core import (
    RUN_KEY_METADATA,
    Deadline,
    EventStream,
    OpenAIBackend,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    RunReply,
    RunStatus,
    StreamDroppedError,
    ThreadBusyError,
    ToolCallRecord,
    ToolCallRequest,
    ToolPolicyError,
    ToolRegistry,
    TransientError,
    dispatch_batch,
)
from runflow_temporal._types import (
    CreateInput,
    Finished,
    RunRef,
    RunState,
    SubmitInput,
    ToolCall,
    ToolInput,
    ToolOutcome,
    ToolSettings,
)

__all__ = ["RunActivities"]

T = TypeVar("T")
_TERMINAL = frozenset(status.value for status in RunStatus if status.is_terminal)
_ACTIONABLE = _TERMINAL | {RunStatus.REQUIRES_ACTION.value}


class RunActivities:
    """The activities of run workflows, bound to one service client and one tool registry.

    Args:
        client: the `AsyncOpenAI` / `AsyncAzureOpenAI` client runs are driven with.
        registry: the tools the runs may call.
        at_most_once: names of tools whose calls must never run twice: an attempt lost with
            its worker becomes a `handler_error` output instead of being run again.
        max_handler_threads: worker threads for sync handlers.
        identity: how this worker names itself in the tool outcomes.
        tracer_provider: where the tool call and submission spans go (the global one when None).
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        registry: ToolRegistry,
        *,
        at_most_once: Collection[str] = (),
        max_handler_threads: int = 16,
        identity: str | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self._tracer = _tracing.tracer(tracer_provider)
        self._client = client.with_options(max_retries=0)
        self._backend = OpenAIBackend(client)
        self._registry = registry
        self._at_most_once = frozenset(at_most_once)
        self._threads = CapacityLimiter(max_handler_threads)
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, to register with a Temporal worker."""
        return [
            self.create_thread,
            self.create_run,
            self.submit,
            self.observe,
            self.cancel,
            self.finish,
            self.tool,
        ]

    # -- runs ----------------------------------------------------------------------------

    @activity.defn(name="runflow.create_thread")
    async def create_thread(self, thread: dict[str, Any]) -> str:
        """Create the thread a run without `thread_id` goes on; its id."""
        try:
            created = await self._client.beta.threads.create(**thread)
        except APIStatusError as exc:
            retryable = exc.status_code == 429 or exc.status_code >= 500
            raise _failure(exc, "RequestRejectedError", retryable=retryable) from exc
        except APIConnectionError as exc:
            raise _failure(exc, "ConnectionLostError", retryable=True) from exc
        return created.id

    @activity.defn(name="runflow.create_run")
    async def create_run(self, request: CreateInput) -> RunState:
        """The run tagged with the request's key: found on the thread, or created."""
        existing = await _translated(lambda: self._find(request.thread_id, request.key))
        if existing is not None:
            return self._state(existing, observed=time.time())
        options = {
            **request.options,
            "metadata": {**(request.options.get("metadata") or {}), RUN_KEY_METADATA: request.key},
        }
        answer = await _translated(
            lambda: self._backend.create_run(
                thread_id=request.thread_id,
                assistant_id=request.assistant_id,
                options=options,
                stream=request.mode == "stream",
            )
        )
        if not isinstance(answer, RunReply):
            return await _translated(lambda: self._follow(answer, request.thread_id, None))
        return self._state(answer.run, observed=time.time(), fresh=True)

    @activity.defn(name="runflow.submit")
    async def submit(self, request: SubmitInput) -> RunState:
        """Submit the outputs if the run still waits for them; the run as it then is."""
        ref = RunRef(request.thread_id, request.run_id)
        current = await self._retrieve(ref)
        call_ids = {output.call_id for output in request.outputs}
        if not (call_ids & {call.id for call in current.tool_calls}) or (
            current.status != RunStatus.REQUIRES_ACTION.value
        ):
            activity.logger.info("run %s: outputs already submitted", request.run_id)
            return current  # landed before (a lost answer), or the run moved on without them
        outputs: list[Any] = [
            {"tool_call_id": output.call_id, "output": output.output} for output in request.outputs
        ]
        with _tracing.submission(self._tracer, ref.run_id, ref.thread_id, sorted(call_ids)):
            answer = await _translated(
                lambda: self._backend.submit_tool_outputs(
                    thread_id=ref.thread_id,
                    run_id=ref.run_id,
                    tool_outputs=outputs,
                    stream=request.mode == "stream",
                )
            )
            if not isinstance(answer, RunReply):
                return await _translated(lambda: self._follow(answer, ref.thread_id, current))
        return self._state(answer.run, observed=time.time())

    @activity.defn(name="runflow.observe")
    async def observe(self, ref: RunRef) -> RunState:
        """The run as it is now."""
        return await self._retrieve(ref)

    @activity.defn(name="runflow.cancel")
    async def cancel(self, ref: RunRef) -> RunState:
        """Ask the service to cancel the run (a refusal means it has ended); the run after."""
        try:
            await _translated(
                lambda: self._backend.cancel_run(thread_id=ref.thread_id, run_id=ref.run_id)
            )
        except ApplicationError as exc:
            if exc.type != "RequestRejectedError":
                raise
        return await self._retrieve(ref)

    @activity.defn(name="runflow.finish")
    async def finish(self, ref: RunRef) -> Finished:
        """The ended run and the messages it wrote."""
        reply = await _translated(
            lambda: self._backend.retrieve_run(thread_id=ref.thread_id, run_id=ref.run_id)
        )
        messages = await _translated(
            lambda: self._backend.list_run_messages(thread_id=ref.thread_id, run_id=ref.run_id)
        )
        return Finished(reply.run.to_dict(), [message.to_dict() for message in messages])

    # -- tools ---------------------------------------------------------------------------

    @activity.defn(name="runflow.tool")
    async def tool(self, request: ToolInput) -> ToolOutcome:
        """Run one tool call to its output, the handler stopped at the run's deadline."""
        clock = SystemClock()
        deadline = None
        if request.submit_by is not None:
            local_submit_by = clock.now() + (request.submit_by - time.time())
            deadline = Deadline(
                expires_at=request.expires_at or request.submit_by,
                submit_by=local_submit_by,
                safety_margin=0.0,
            )
        call = ToolCallRequest(request.call.id, request.call.name, request.call.arguments)
        traced = _tracing.tool_call(self._tracer, call, request.run_id, request.thread_id)
        async with _heartbeating():
            with traced as span:
                try:
                    [record] = await dispatch_batch(
                        [call],
                        self._registry,
                        clock=clock,
                        deadline=deadline,
                        thread_limiter=self._threads,
                        run_id=request.run_id,
                        thread_id=request.thread_id,
                    )
                except ToolPolicyError as stop:
                    [record] = stop.records
                span.finished(record)
        return self._outcome(record)

    def settings(self, name: str) -> ToolSettings | None:
        """What a workflow must know of the tool `name` (None for a tool nobody registered)."""
        if name not in self._registry:
            return None
        found = self._registry.get(name)
        return ToolSettings(name, found.timeout, retry_lost=name not in self._at_most_once)

    # -- helpers -------------------------------------------------------------------------

    def _outcome(self, record: ToolCallRecord) -> ToolOutcome:
        policy = "return"
        if record.name in self._registry:
            policy = self._registry.get(record.name).on_error
        return ToolOutcome(
            call_id=record.call_id,
            name=record.name,
            arguments=record.arguments,
            output=record.output,
            error_kind=None if record.error is None else record.error.kind,
            error_message=None if record.error is None else record.error.message,
            started_at=record.started_at,
            duration=record.duration,
            truncated=record.truncated,
            on_error=policy,
            worker=self.identity,
            attempt=activity.info().attempt,
        )

    async def _find(self, thread_id: str, key: str) -> Run | None:
        for run in await self._backend.list_runs(thread_id=thread_id, limit=20):
            if (run.metadata or {}).get(RUN_KEY_METADATA) == key:
                return run
        return None

    async def _retrieve(self, ref: RunRef) -> RunState:
        reply = await _translated(
            lambda: self._backend.retrieve_run(thread_id=ref.thread_id, run_id=ref.run_id)
        )
        return self._state(reply.run, observed=time.time())

    async def _follow(
        self, stream: EventStream, thread_id: str, before: RunState | None
    ) -> RunState:
        """Read a run's stream until it requires action or ends (or the stream ends)."""
        latest: Run | None = None
        observed = time.time()
        try:
            async with aclosing(stream) as events:
                async for event in events:
                    activity.heartbeat()
                    if not isinstance(event.data, Run):
                        continue
                    if latest is None:
                        observed = time.time()
                    latest = event.data
                    if latest.status in _ACTIONABLE:
                        break
        except StreamDroppedError:
            activity.logger.info("stream dropped; the workflow goes on by polling")
        if latest is None:
            if before is None:
                raise ProtocolError("the run's stream ended before it said which run it was")
            return await self._retrieve(RunRef(thread_id, before.run_id))
        return self._state(latest, observed=observed, fresh=before is None)

    def _state(self, run: Run, *, observed: float, fresh: bool = False) -> RunState:
        """The run as the workflow reads it. Only a run seen as it was created (`fresh`) gives
        the server's clock (its `created_at`) against ours; other observations say nothing of
        the offset, and the workflow keeps the first one."""
        calls: list[ToolCall] = []
        action = run.required_action
        action_type = None
        if run.status == RunStatus.REQUIRES_ACTION.value and action is not None:
            action_type = str(action.type)
            submit = getattr(action, "submit_tool_outputs", None)
            for call in getattr(submit, "tool_calls", None) or ():
                arguments = call.function.arguments
                calls.append(ToolCall(str(call.id), str(call.function.name), _text(arguments)))
        tools = {call.name: self.settings(call.name) for call in calls}
        return RunState(
            run=run.to_dict(),
            status=str(run.status),
            required_action_type=action_type,
            tool_calls=calls,
            tools=[found for found in tools.values() if found is not None],
            server_time=float(run.created_at) if fresh else observed,
            local_time=observed,
        )


def _text(arguments: object) -> str:
    if isinstance(arguments, str):
        return arguments
    return "" if arguments is None else json.dumps(arguments)


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat (a third of the heartbeat timeout apart) while the block runs."""
    timeout = activity.info().heartbeat_timeout
    interval = 1.0 if timeout is None else max(0.05, timeout.total_seconds() / 3)

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await anyio.sleep(interval)

    async with anyio.create_task_group() as group:
        group.start_soon(beat)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


async def _translated(operation: Callable[[], Awaitable[T]]) -> T:
    """`await operation()`, runflow's errors turned into `ApplicationError`s Temporal can
    carry (and retry: transient ones only)."""
    try:
        return await operation()
    except ThreadBusyError as exc:
        raise ApplicationError(
            str(exc),
            exc.thread_id,
            exc.active_run_id,
            type="ThreadBusyError",
            non_retryable=True,
        ) from exc
    except RequestRejectedError as exc:
        raise _failure(exc, "RequestRejectedError", retryable=False) from exc
    except ProtocolError as exc:
        raise _failure(exc, "ProtocolError", retryable=False) from exc
    except RateLimitedError as exc:
        delay = None if exc.retry_after is None else timedelta(seconds=exc.retry_after)
        raise ApplicationError(str(exc), type="RateLimitedError", next_retry_delay=delay) from exc
    except TransientError as exc:
        raise _failure(exc, type(exc).__name__, retryable=True) from exc


def _failure(exc: Exception, kind: str, *, retryable: bool) -> ApplicationError:
    return ApplicationError(str(exc), type=kind, non_retryable=not retryable)
