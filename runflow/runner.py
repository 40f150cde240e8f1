"""Runner: the loop that drives one run to a terminal status.

    observe (stream events) -> decide (lifecycle.decide) -> dispatch (tools) -> submit -> observe

In streaming mode a run with k tool rounds costs exactly 1 + k requests: the create call and
one submission per round, each answered by a stream that the server closes after
requires_action or a terminal event. If a stream ends without either, the runner retrieves
the run and continues from the status it really has.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio import CapacityLimiter
from openai import AsyncOpenAI
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow.backends import Backend, EventStream
from runflow.backends.openai import OpenAIBackend
from runflow.clock import Clock, SystemClock
from runflow.deadline import DEFAULT_SAFETY_MARGIN, Deadline
from runflow.dispatch import ToolCallRecord, dispatch_batch
from runflow.errors import (
    ProtocolError,
    RequestRejectedError,
    RunCancelledError,
    RunError,
    RunExpiredError,
    RunFailedError,
    RunIncompleteError,
    StreamDroppedError,
    StreamError,
)
from runflow.events import (
    EventCallback,
    MessageDelta,
    OutputsSubmitted,
    RunEvent,
    StatusChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow.instrumentation import Instrumentation, RunInfo, RunObserver
from runflow.lifecycle import (
    Abort,
    Decision,
    Dispatch,
    Finish,
    RunSnapshot,
    RunStatus,
    ToolCallRequest,
    Wait,
    check_transition,
    decide,
)
from runflow.tools import Tool, ToolRegistry
from runflow.tracing import default_instrumentation

__all__ = ["RunResult", "Runner"]

_log = logging.getLogger("runflow")
_CANCEL_WAIT_SECONDS = 10.0
_FALLBACK_POLL_INTERVALS = (0.1, 0.2, 0.4, 0.8, 1.0)


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its last Run object, every tool call, the messages it wrote."""

    run: Run
    tool_calls: list[ToolCallRecord]
    messages: list[Message]

    @property
    def status(self) -> RunStatus:
        return RunStatus(self.run.status)

    @property
    def output_text(self) -> str:
        """The text of the assistant messages this run wrote, in order."""
        return "\n\n".join(
            part.text.value
            for message in self.messages
            for part in message.content
            if part.type == "text"
        )

    def raise_for_status(self) -> None:
        """Raise the `RunError` matching the final status, unless it is completed."""
        error = _run_error(self.run)
        if error is not None:
            raise error


class Runner:
    """Drives Assistants runs to completion, executing their function calls locally."""

    def __init__(
        self,
        client: AsyncOpenAI | Backend,
        tools: ToolRegistry | Iterable[Tool[..., Any]] = (),
        *,
        clock: Clock | None = None,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        max_handler_threads: int = 16,
        instrumentation: Instrumentation | None = None,
    ) -> None:
        self.backend: Backend = OpenAIBackend(client) if isinstance(client, AsyncOpenAI) else client
        self.tools = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
        self.clock: Clock = clock or SystemClock()
        self.safety_margin = safety_margin
        self._thread_limiter = CapacityLimiter(max_handler_threads)
        self.instrumentation: Instrumentation = instrumentation or default_instrumentation()

    async def run(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> RunResult:
        """Create a run on `thread_id` and drive it to a terminal status.

        `options` are passed to run creation as they are (`instructions`, `tool_choice`,
        `metadata`, `additional_messages`, `model`, ...). Returns a `RunResult` for every
        terminal status; call `raise_for_status()` to turn the unhappy ones into exceptions.
        """
        info = RunInfo(
            assistant_id=assistant_id,
            thread_id=thread_id,
            options=options,
            provider_name=self.backend.provider_name,
            server_address=self.backend.server_address,
            mode="stream",
        )
        with self.instrumentation.run(info) as observer:
            state = _RunState(thread_id, self.clock, observer, on_event)
            try:
                result = await self._drive(state, assistant_id, options)
            except BaseException:
                # Whatever stops us (the caller's cancellation, an error), the server run
                # must not be left holding its thread until it expires.
                await self._cancel(state)
                raise
            observer.finished(result)
            return result

    async def _drive(
        self, state: _RunState, assistant_id: str, options: Mapping[str, Any]
    ) -> RunResult:
        stream = self.backend.create_run_stream(
            thread_id=state.thread_id, assistant_id=assistant_id, options=options
        )
        decision = await self._follow(stream, state)
        while True:
            if isinstance(decision, Finish):
                return state.result()
            if isinstance(decision, Abort):
                raise ProtocolError(f"run {state.run_id}: {decision.reason}")
            assert isinstance(decision, Dispatch)
            decision = await self._dispatch_and_submit(decision, state)

    async def _follow(
        self,
        stream: EventStream,
        state: _RunState,
        opening: AbstractContextManager[None] | None = None,
    ) -> Decision:
        """Read a stream to its end; return the decision for the latest status it showed.

        `opening` is entered around the request that opens the stream. A stream that ends
        (or drops) before requires_action or a terminal status is not an answer: the runner
        then asks the run itself.
        """
        decision: Decision = Wait()
        try:
            async with AsyncExitStack() as stack:
                with opening or nullcontext():
                    events = await stack.enter_async_context(stream)
                async for event in events:
                    observed = self._observe(event, state)
                    if not isinstance(observed, Wait):
                        decision = observed
        except RequestRejectedError:
            ended = await self._ended_meanwhile(state)
            if ended is None:
                raise
            return ended
        except StreamDroppedError:
            if state.run is None:
                raise  # we cannot know whether the run exists
        if isinstance(decision, Wait):
            return await self._poll_for_decision(state)
        return decision

    async def _ended_meanwhile(self, state: _RunState) -> Finish | None:
        """After a refused request: the run's terminal status if it has ended (a submission
        that came after `expires_at`, a run cancelled by someone else), else None."""
        if state.run is None:
            return None  # the run was never created
        run = await self.backend.retrieve_run(thread_id=state.thread_id, run_id=state.run_id)
        decision = self._observe_run(run, state)
        return decision if isinstance(decision, Finish) else None

    def _observe(self, event: AssistantStreamEvent, state: _RunState) -> Decision:
        if event.event == "error":
            raise StreamError(f"the service sent an error event: {event.data.message}")
        if event.event == "thread.message.delta":
            for part in event.data.delta.content or ():
                if part.type == "text" and part.text is not None and part.text.value:
                    state.emit(MessageDelta(state.run_id, event.data.id, part.text.value))
        elif event.event == "thread.message.completed":
            state.messages.append(event.data)
        elif event.event.startswith("thread.run.step."):
            if isinstance(event.data, RunStep):
                state.observer.step_changed(event.data)
        elif isinstance(event.data, Run):
            return self._observe_run(event.data, state, created=event.event == "thread.run.created")
        return Wait()

    def _observe_run(self, run: Run, state: _RunState, *, created: bool = False) -> Decision:
        now = self.clock.now()
        status = _status_of(run)
        previous = state.status
        check_transition(previous, status)
        if created and state.server_time_reference is None:
            # A run's created_at, seen as it is created, is the server's time at receipt.
            state.server_time_reference = (float(run.created_at), now)
        state.run = run
        if status is not previous:
            state.observer.status_changed(run, previous, status, now)
            state.emit(StatusChanged(run.id, previous, status, now))
        decision = decide(_snapshot(run, status))
        if isinstance(decision, Dispatch):
            return state.unanswered(decision)
        return decision

    async def _poll_for_decision(self, state: _RunState) -> Decision:
        """The stream ended before requires_action or a terminal event: ask the run itself."""
        if state.run is None:
            raise StreamError("the run event stream ended before the run was created")
        for interval in _poll_intervals():
            run = await self.backend.retrieve_run(thread_id=state.thread_id, run_id=state.run_id)
            state.observer.polled()
            decision = self._observe_run(run, state)
            if not isinstance(decision, Wait):
                return decision
            await self.clock.sleep_until(self.clock.now() + interval)
        raise AssertionError("unreachable: polling ends with a decision")  # pragma: no cover

    async def _dispatch_and_submit(self, decision: Dispatch, state: _RunState) -> Decision:
        deadline = state.deadline(self.safety_margin)
        state.answered.update(call.id for call in decision.tool_calls)
        run = state.current_run
        records = await dispatch_batch(
            decision.tool_calls,
            self.tools,
            clock=self.clock,
            deadline=deadline,
            thread_limiter=self._thread_limiter,
            on_start=state.call_started,
            on_finish=state.call_finished,
            trace_call=lambda call: state.observer.tool_call(call, run),
        )
        now = self.clock.now()
        call_ids = [record.call_id for record in records]
        time_left = None if deadline is None else deadline.until_expiry(now)
        state.emit(
            OutputsSubmitted(
                run_id=state.run_id,
                tool_call_ids=call_ids,
                time_left=time_left,
                expires_at=None if deadline is None else deadline.expires_at,
                at=now,
            )
        )
        stream = self.backend.submit_tool_outputs_stream(
            thread_id=state.thread_id,
            run_id=state.run_id,
            tool_outputs=[
                {"tool_call_id": record.call_id, "output": record.output} for record in records
            ],
        )
        opening = state.observer.submission(run, call_ids, time_left)
        return await self._follow(stream, state, opening)

    async def _cancel(self, state: _RunState) -> None:
        """Cancel the server run and wait, bounded, until it has ended.

        Shielded from the caller's cancellation; a failure here never hides the reason the
        run is being abandoned (it is logged instead).
        """
        if state.run is None or state.status is None or state.status.is_terminal:
            return
        with anyio.move_on_after(_CANCEL_WAIT_SECONDS, shield=True):
            try:
                await self.backend.cancel_run(thread_id=state.thread_id, run_id=state.run_id)
                for interval in _poll_intervals():
                    run = await self.backend.retrieve_run(
                        thread_id=state.thread_id, run_id=state.run_id
                    )
                    if _status_of(run).is_terminal:
                        state.run = run
                        return
                    await self.clock.sleep_until(self.clock.now() + interval)
            except Exception:
                _log.warning("could not cancel run %s", state.run_id, exc_info=True)


@dataclass
class _RunState:
    """What the runner knows about the run it drives."""

    thread_id: str
    clock: Clock
    observer: RunObserver
    on_event: EventCallback | None
    run: Run | None = None
    server_time_reference: tuple[float, float] | None = None
    """(a server timestamp, the local time it was observed at)."""
    tool_calls: list[ToolCallRecord] = field(default_factory=lambda: [])
    messages: list[Message] = field(default_factory=lambda: [])
    answered: set[str] = field(default_factory=lambda: set())
    """Ids of the tool calls already dispatched: none of them ever runs twice."""

    @property
    def current_run(self) -> Run:
        if self.run is None:
            raise ProtocolError("no run has been observed yet")
        return self.run

    @property
    def run_id(self) -> str:
        return "" if self.run is None else self.run.id

    @property
    def status(self) -> RunStatus | None:
        return None if self.run is None else _status_of(self.run)

    def deadline(self, safety_margin: float) -> Deadline | None:
        if self.run is None or self.run.expires_at is None or self.server_time_reference is None:
            return None
        server_time, local_time = self.server_time_reference
        return Deadline.from_server_time(
            float(self.run.expires_at),
            server_time=server_time,
            local_time=local_time,
            safety_margin=safety_margin,
        )

    def unanswered(self, decision: Dispatch) -> Dispatch | Wait:
        """The calls not dispatched yet; Wait if a repeated requires_action has none left."""
        fresh = [call for call in decision.tool_calls if call.id not in self.answered]
        return Dispatch(fresh) if fresh else Wait()

    def emit(self, event: RunEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def call_started(self, call: ToolCallRequest) -> None:
        self.emit(ToolCallStarted(self.run_id, call, self.clock.now()))

    def call_finished(self, record: ToolCallRecord) -> None:
        self.tool_calls.append(record)
        self.emit(ToolCallFinished(self.run_id, record))

    def result(self) -> RunResult:
        return RunResult(run=self.current_run, tool_calls=self.tool_calls, messages=self.messages)


def _status_of(run: Run) -> RunStatus:
    try:
        return RunStatus(run.status)
    except ValueError:
        raise ProtocolError(f"run {run.id} has an unknown status {run.status!r}") from None


def _snapshot(run: Run, status: RunStatus) -> RunSnapshot:
    """The run as `decide()` sees it. The SDK builds its models without validation, so every
    field the protocol promises is checked here before it is read."""
    action = run.required_action
    if status is not RunStatus.REQUIRES_ACTION or action is None:
        return RunSnapshot(status)
    submit = getattr(action, "submit_tool_outputs", None)
    if action.type != "submit_tool_outputs" or submit is None:
        return RunSnapshot(status, required_action_type=str(action.type))
    try:
        calls = [
            ToolCallRequest(
                id=str(call.id),
                name=str(call.function.name),
                arguments=_arguments_text(call.function.arguments),
            )
            for call in submit.tool_calls or ()
        ]
    except AttributeError as exc:
        raise ProtocolError(f"run {run.id} has a malformed required_action: {exc}") from exc
    return RunSnapshot(status, required_action_type=action.type, tool_calls=calls)


def _arguments_text(arguments: object) -> str:
    """The arguments as the model's JSON text (a service may send null or an object)."""
    if isinstance(arguments, str):
        return arguments
    return "" if arguments is None else json.dumps(arguments)


def _poll_intervals() -> Iterable[float]:
    yield from _FALLBACK_POLL_INTERVALS
    while True:
        yield _FALLBACK_POLL_INTERVALS[-1]


def _run_error(run: Run) -> RunError | None:
    status = _status_of(run)
    errors: Mapping[RunStatus, type[RunError]] = {
        RunStatus.FAILED: RunFailedError,
        RunStatus.EXPIRED: RunExpiredError,
        RunStatus.CANCELLED: RunCancelledError,
        RunStatus.INCOMPLETE: RunIncompleteError,
    }
    if status not in errors:
        return None
    detail = ""
    if run.last_error is not None:
        detail = f": {run.last_error.code}: {run.last_error.message}"
    elif run.incomplete_details is not None:
        detail = f": {run.incomplete_details.reason}"
    return errors[status](
        f"run {run.id} ended {status.value}{detail}", run_id=run.id, status=status
    )
