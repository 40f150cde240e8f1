"""The loop that drives one run to a terminal status.

    source = create()                       # the run's first observation source
    async for seen in source:               # stream events, or the run polled (_sources.py)
        decision = decide(snapshot)         # lifecycle.decide: wait, dispatch or finish
        ... dispatch the calls; source = submit(outputs)

Streaming mode observes the event streams that creation and each submission answer with, so a
run with k tool rounds costs exactly 1 + k requests; polling mode retrieves the run instead.
Either way the source hands the loop snapshots, and the stream-or-poll difference stays in it.

Every request survives transient failures (see `retry.py`), and the two that must not happen
twice are idempotent in effect:

- creation tags the run with a client key in its metadata; after an ambiguous failure the
  driver looks for a run with that key on the thread before creating again;
- submission, after an ambiguous failure, retrieves the run: if it has left requires_action
  for those call ids, the outputs landed. A call id is dispatched at most once per driver.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
from anyio import CancelScope, CapacityLimiter
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow._creation import RUN_KEY_METADATA, Creation
from runflow._runs import snapshot, still_waiting_for
from runflow._runstate import RunState
from runflow._sources import Polled, RunSource, Seen, Sources, StreamEnded, primed
from runflow.backends import Backend, EventStream, RunReply, ToolOutput
from runflow.clock import Clock
from runflow.deadline import Deadline
from runflow.dispatch import ToolCallRecord, ToolPolicyError, dispatch_batch
from runflow.errors import (
    ProtocolError,
    RequestRejectedError,
    StreamError,
    TransientError,
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
from runflow.instrumentation import RunObserver
from runflow.journal import Journal, JournaledRun, RunLedger
from runflow.lifecycle import (
    Abort,
    Decision,
    Dispatch,
    Finish,
    RunStatus,
    ToolCallRequest,
    Wait,
    decide,
)
from runflow.result import RunResult, status_of
from runflow.retry import RetryPolicy, retrying
from runflow.tools import ToolRegistry

__all__ = ["DEFAULT_STREAM_IDLE_TIMEOUT", "RUN_KEY_METADATA", "DriverSettings", "RunDriver"]

DEFAULT_STREAM_IDLE_TIMEOUT = 60.0
"""Seconds a run's event stream may send nothing before runflow polls the run instead."""

_log = logging.getLogger("runflow")
_CANCEL_WAIT_SECONDS = 10.0

Mode = Literal["stream", "poll"]
T = TypeVar("T")


@dataclass(frozen=True)
class DriverSettings:
    backend: Backend
    tools: ToolRegistry
    clock: Clock
    safety_margin: float
    retry: RetryPolicy
    thread_limiter: CapacityLimiter
    mode: Mode
    journal: Journal | None = None
    stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT


class RunDriver:
    """Drives one run; one driver per run."""

    def __init__(
        self,
        settings: DriverSettings,
        observer: RunObserver,
        on_event: EventCallback | None,
        thread_id: str | None,
    ) -> None:
        self._s = settings
        self._observer = observer
        self._on_event = on_event
        self._state = RunState(settings.clock, settings.safety_margin, thread_id or "")
        self._sources = Sources(
            settings.backend,
            self._state,
            self._retrying,
            self._polled,
            settings.stream_idle_timeout,
        )
        self._records: list[ToolCallRecord] = []
        self._messages: list[Message] = []
        self._answered: set[str] = set()
        self._polls = 0
        self._retries = 0
        self._ledger = RunLedger(settings.journal, uuid.uuid4().hex)
        self._journaled_run = False
        """The run in the journal, named by the client key the run is tagged with."""
        self._missed_events = settings.mode == "poll"

    @property
    def run(self) -> Run | None:
        return self._state.run

    @property
    def run_id(self) -> str:
        return self._state.run_id

    @property
    def thread_id(self) -> str:
        return self._state.thread_id

    async def drive(
        self,
        *,
        assistant_id: str,
        options: Mapping[str, Any],
        thread: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Create the run (with a new thread when `thread` is given) and drive it to its end."""
        creation = self._creation()
        return await self._guarded(lambda: creation.create(assistant_id, options, thread))

    async def resume(self, entry: JournaledRun) -> RunResult:
        """Pick up a run a previous process left unfinished (see `runflow.journal`)."""
        self._ledger = RunLedger(self._s.journal, entry.key)
        self._state.thread_id = entry.thread_id or ""
        creation = self._creation()
        return await self._guarded(lambda: creation.reattach(entry))

    def _creation(self) -> Creation:
        return Creation(self._s, self._state, self._sources, self._ledger, self._retrying)

    async def _guarded(self, first: Callable[[], Awaitable[RunSource]]) -> RunResult:
        try:
            result = await self._loop(await first())
        except BaseException as exc:
            # Whatever stops us (the caller's cancellation, an error), the server run must not
            # be left holding its thread until it expires.
            await self.cancel()
            if self.run is not None and status_of(self.run).is_terminal:
                await self._ledger.ended(self.run.status)
            elif self.run is None and isinstance(exc, RequestRejectedError):
                await self._ledger.ended("never_created")  # refused: nothing to resume
            raise
        await self._ledger.ended(result.run.status)
        return result

    async def _loop(self, source: RunSource) -> RunResult:
        """Observe, decide, act: until a decision finishes the run."""
        while True:
            decision = await self._next_decision(source)
            if isinstance(decision, Abort):
                raise ProtocolError(f"run {self.run_id}: {decision.reason}")
            if isinstance(decision, Dispatch):
                outcome = await self._dispatch_and_submit(decision)
                if isinstance(outcome, Finish):
                    break
                source = outcome
            else:
                break
        return await self._result()

    async def _next_decision(self, source: RunSource) -> Decision:
        """Read `source` until it shows the run needing something from us, or ending."""
        decision: Decision = Wait()
        async with aclosing(source) as observations:
            async for seen in observations:
                observed = self._observe(seen)
                await self._journal_created()
                if not isinstance(observed, Wait):
                    decision = observed
                settled = isinstance(seen, Polled | StreamEnded)
                if settled and not isinstance(decision, Wait):
                    if isinstance(seen, Polled):
                        await self._report_steps()
                    return decision
        if isinstance(decision, Wait):
            raise ProtocolError(f"run {self.run_id}: its observations ended undecided")
        return decision

    # -- observing -----------------------------------------------------------------------

    def _observe(self, seen: Seen) -> Decision:
        if isinstance(seen, Polled):
            self._missed_events = True
            return self._observe_run(seen.run, created=seen.created)
        if isinstance(seen, StreamEnded):
            return Wait()
        event = seen
        if event.event == "error":
            raise StreamError(f"the service sent an error event: {event.data.message}")
        if event.event == "thread.created":
            self._state.thread_id = event.data.id
        elif event.event == "thread.message.delta":
            for part in event.data.delta.content or ():
                if part.type == "text" and part.text is not None and part.text.value:
                    self._emit(MessageDelta(self.run_id, event.data.id, part.text.value))
        elif event.event == "thread.message.completed":
            self._messages.append(event.data)
        elif isinstance(event.data, RunStep):
            self._observer.step_changed(event.data)
        elif isinstance(event.data, Run):
            return self._observe_run(event.data, created=event.event == "thread.run.created")
        return Wait()

    def _observe_run(self, run: Run, *, created: bool = False) -> Decision:
        previous = self._state.record(run, created=created)
        status = status_of(run)
        if status is not previous:
            now = self._s.clock.now()
            self._observer.status_changed(run, previous, status, now)
            self._emit(StatusChanged(run.id, previous, status, now))
        decision = decide(snapshot(run, status))
        if isinstance(decision, Dispatch):
            return self._unanswered(decision.tool_calls)
        return decision

    def _unanswered(self, calls: Sequence[ToolCallRequest]) -> Dispatch | Wait:
        """The calls not dispatched yet, each id once (a repeated id is the service's mistake:
        its handler runs once and one output is submitted for it)."""
        fresh: dict[str, ToolCallRequest] = {}
        for call in calls:
            if call.id in fresh:
                _log.warning(
                    "run %s names tool call %s twice; running it once", self.run_id, call.id
                )
            elif call.id not in self._answered:
                fresh[call.id] = call
        return Dispatch(list(fresh.values())) if fresh else Wait()

    def _polled(self) -> None:
        self._polls += 1
        self._observer.polled()

    async def _report_steps(self) -> None:
        """Without a stream, run steps are seen only by asking (when someone wants them)."""
        if not self._observer.wants_steps:
            return
        steps = await self._retrying(
            lambda: self._s.backend.list_run_steps(thread_id=self.thread_id, run_id=self.run_id)
        )
        for step in steps:
            self._observer.step_changed(step)

    async def _journal_created(self) -> None:
        """Journal the run's id (and its thread's) as soon as they are known, once."""
        if self.run is not None and not self._journaled_run:
            self._journaled_run = True
            await self._ledger.created(self.run.id, self.thread_id)

    # -- tool calls ----------------------------------------------------------------------

    async def _dispatch_and_submit(self, decision: Dispatch) -> RunSource | Finish:
        deadline = self._state.deadline()
        self._answered.update(call.id for call in decision.tool_calls)
        run = self._current_run()
        call_ids = [call.id for call in decision.tool_calls]
        journaled = await self._ledger.replayed(run.id, call_ids, self._s.clock.now())
        for record in journaled.values():
            self._call_finished(record)
        fresh = [call for call in decision.tool_calls if call.id not in journaled]
        try:
            records = await dispatch_batch(
                fresh,
                self._s.tools,
                clock=self._s.clock,
                deadline=deadline,
                thread_limiter=self._s.thread_limiter,
                on_start=self._call_started,
                on_finish=self._call_finished,
                trace_call=lambda call: self._observer.tool_call(call, run),
                keep=lambda record: self._ledger.recorded(run.id, record),
                run_id=run.id,
                thread_id=self.thread_id,
            )
        except ToolPolicyError as stop:
            if stop.policy == "fail":
                raise  # `_guarded` cancels the run; the caller gets the error
            _log.info("run %s: %s; cancelling the run", run.id, stop)
            await self.cancel()
            ended = status_of(self._current_run())
            if not ended.is_terminal:
                raise  # the run could not be cancelled: say why it was to be
            return Finish(ended)
        return await self._submit([*journaled.values(), *records], deadline)

    async def _submit(
        self, records: Sequence[ToolCallRecord], deadline: Deadline | None
    ) -> RunSource:
        """Submit the outputs of one round; the source that observes the run after it."""
        now = self._s.clock.now()
        call_ids = [record.call_id for record in records]
        time_left = None if deadline is None else deadline.until_expiry(now)
        expires_at = None if deadline is None else deadline.expires_at
        self._emit(OutputsSubmitted(self.run_id, call_ids, time_left, expires_at, now))
        outputs: list[ToolOutput] = [
            {"tool_call_id": record.call_id, "output": record.output} for record in records
        ]
        backend, thread_id, run_id = self._s.backend, self.thread_id, self.run_id
        opening = self._observer.submission(self._current_run(), call_ids, time_left)
        stop_by = self._state.expiry()

        async def landed(error: TransientError) -> RunReply | None:
            reply = await self._sources.retrieve()
            return None if still_waiting_for(reply.run, call_ids) else reply

        if self._s.mode == "stream":

            def open_stream() -> EventStream:
                return backend.submit_tool_outputs_stream(
                    thread_id=thread_id, run_id=run_id, tool_outputs=outputs
                )

            return await primed(
                self._sources.streaming(
                    open_stream, recover=landed, opening=opening, stop_by=stop_by, call_ids=call_ids
                )
            )

        async def submit() -> RunReply:
            return await backend.submit_tool_outputs(
                thread_id=thread_id, run_id=run_id, tool_outputs=outputs
            )

        try:
            with opening:
                reply = await self._retrying(submit, recover=landed, stop_by=stop_by)
        except RequestRejectedError as rejected:
            return await self._sources.after_rejection(rejected, call_ids)
        return self._sources.polling(reply)

    def _call_started(self, call: ToolCallRequest) -> None:
        self._emit(ToolCallStarted(self.run_id, call, self._s.clock.now()))

    def _call_finished(self, record: ToolCallRecord) -> None:
        self._records.append(record)
        self._emit(ToolCallFinished(self.run_id, record))

    # -- ending --------------------------------------------------------------------------

    async def cancel(self) -> None:
        """Cancel the server run and wait, bounded, until it has ended.

        Shielded from the caller's cancellation; a failure here never hides the reason the
        run is being abandoned (it is logged instead).
        """
        if self.run is None or status_of(self.run).is_terminal:
            return
        with CancelScope(shield=True), anyio.move_on_after(_CANCEL_WAIT_SECONDS):
            try:
                await self._cancel_and_wait()
            except Exception:
                _log.warning("could not cancel run %s", self.run_id, exc_info=True)

    async def _cancel_and_wait(self) -> None:
        thread_id, run_id = self.thread_id, self.run_id
        refused: RequestRejectedError | None = None
        try:
            await self._retrying(
                lambda: self._s.backend.cancel_run(thread_id=thread_id, run_id=run_id)
            )
        except RequestRejectedError as exc:
            refused = exc  # most often: the run has just ended by itself (expired...)
        async with aclosing(self._sources.polling(None)) as polled:
            async for seen in polled:
                self._observe(seen)
                if status_of(self._current_run()).is_terminal:
                    return
                if refused is not None:
                    raise refused

    async def _result(self) -> RunResult:
        run = self._current_run()
        if self._missed_events and status_of(run) is RunStatus.COMPLETED:
            self._messages = await self._retrying(
                lambda: self._s.backend.list_run_messages(thread_id=self.thread_id, run_id=run.id)
            )
        return self.partial_result()

    def partial_result(self) -> RunResult:
        """What is known of the run now (its messages only as far as they were streamed)."""
        return RunResult(
            run=self._current_run(),
            tool_calls=self._records,
            messages=self._messages,
            polls=self._polls,
            retries=self._retries,
        )

    # -- helpers -------------------------------------------------------------------------

    async def _retrying(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        recover: Callable[[TransientError], Awaitable[T | None]] | None = None,
        retry_if: Callable[[TransientError], bool] | None = None,
        stop_by: float | None = None,
    ) -> T:
        def count(error: TransientError, delay: float) -> None:
            self._retries += 1
            _log.info("retrying in %.2fs after %s: %s", delay, type(error).__name__, error)

        return await retrying(
            operation,
            policy=self._s.retry,
            clock=self._s.clock,
            stop_by=stop_by,
            recover=recover,
            retry_if=retry_if,
            on_retry=count,
        )

    def _current_run(self) -> Run:
        return self._state.current()

    def _emit(self, event: RunEvent) -> None:
        """Report progress; a callback that raises is logged, it never breaks the run."""
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            _log.exception("the on_event callback raised on %s", type(event).__name__)
