"""The loop that drives one run to a terminal status.

    source = create()                       # the run's first observation source
    async for seen in source:               # stream events, or the run polled (_sources.py)
        decision = decide(snapshot)         # lifecycle.decide: wait, dispatch or finish
        ... dispatch the calls; source = submit(outputs)

Streaming mode observes the event streams that creation and each submission answer with, so a
run with k tool rounds costs exactly 1 + k requests; polling mode retrieves the run instead.
Either way the source hands the loop snapshots, and the stream-or-poll difference stays in it.
Creation (`_creation.py`) and submission (`_submission.py`) each return the next source;
what each observation means (its events, its decision) is `_observation.py`'s.

The loop reports only by emitting `RunEvent`s to the run's sinks (tracing, the journal, the
caller's): it never names any of them. Every request survives transient failures (see
`_retry.py`); a call id is dispatched at most once per driver.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

import anyio
from anyio import CancelScope
from openai.types.beta.threads import Run

from runflow._creation import Creation
from runflow._dispatch import ToolCallRecord, dispatch_batch
from runflow._errors import ProtocolError, RequestRejectedError, ToolPolicyError, TransientError
from runflow._events import (
    RunEnded,
    RunEvent,
    RunPolled,
    RunSink,
    StepSeen,
    ToolCallFinished,
)
from runflow._instrumentation import RunObserver
from runflow._journal import JournaledRun, RunLedger
from runflow._lifecycle import (
    Abort,
    Decision,
    Dispatch,
    Finish,
    RunStatus,
    Wait,
)
from runflow._observation import Observation
from runflow._result import RunResult, status_of
from runflow._retry import retrying
from runflow._runstate import RunState
from runflow._settings import DriverSettings
from runflow._sinks import Fanout
from runflow._sources import Polled, RunSource, Sources, StreamEnded
from runflow._submission import Submission

__all__ = ["RunDriver"]

_log = logging.getLogger("runflow")
_CANCEL_WAIT_SECONDS = 10.0

T = TypeVar("T")


class _Transcript:
    """What the run did, for its `RunResult`: a sink of its own events."""

    event_types = (ToolCallFinished, RunPolled)

    def __init__(self) -> None:
        self.records: list[ToolCallRecord] = []
        self.polls = 0

    async def emit(self, event: RunEvent) -> None:
        if isinstance(event, ToolCallFinished):
            self.records.append(event.record)
        elif isinstance(event, RunPolled):
            self.polls += 1


class RunDriver:
    """Drives one run; one driver per run.

    Args:
        observer: the instrumentation's sink of this run, first to see each event.
        sinks: the caller's sinks (`on_event`, a `RunHandle`), after the journal.
        key: the run's client key; a new one unless the run is resumed.
    """

    def __init__(
        self,
        settings: DriverSettings,
        observer: RunObserver,
        sinks: Sequence[RunSink],
        thread_id: str | None,
        *,
        key: str | None = None,
    ) -> None:
        self._s = settings
        self._state = RunState(settings.clock, settings.safety_margin, thread_id or "")
        self._ledger = RunLedger(settings.journal, key or uuid.uuid4().hex)
        self._transcript = _Transcript()
        journaled = () if settings.journal is None else (self._ledger,)
        self._events = Fanout(
            [observer, *journaled, self._transcript, *sinks], wants_steps=observer.wants_steps
        )
        self._sources = Sources(
            settings.backend,
            self._state,
            self._retrying,
            self._events,
            settings.mode == "stream",
            settings.stream_idle_timeout,
        )
        self._submission = Submission(
            settings, self._state, self._sources, self._events, self._retrying
        )
        self._observation = Observation(
            self._state, self._events, streaming=settings.mode == "stream"
        )
        self._retries = 0

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
        """Pick up a run a previous process left unfinished (see `runflow._journal`); the
        driver is made with the entry's key."""
        self._state.thread_id = entry.thread_id or ""
        creation = self._creation()
        return await self._guarded(lambda: creation.reattach(entry))

    def _creation(self) -> Creation:
        return Creation(
            self._s, self._state, self._sources, self._ledger.key, self._events, self._retrying
        )

    async def _guarded(self, first: Callable[[], Awaitable[RunSource]]) -> RunResult:
        try:
            result = await self._loop(await first())
        except BaseException as exc:
            # Whatever stops us (the caller's cancellation, an error), the server run must not
            # be left holding its thread until it expires.
            await self.cancel()
            with CancelScope(shield=True):
                await self._events.emit(self._ended(exc))
            raise
        await self._events.emit(RunEnded(result.run.id, result.status, result, None))
        return result

    def _ended(self, error: BaseException) -> RunEnded:
        if self.run is None:
            return RunEnded("", None, None, error)
        return RunEnded(self.run_id, status_of(self.run), self.partial_result(), error)

    async def _loop(self, source: RunSource) -> RunResult:
        """Observe, decide, act: until a decision finishes the run."""
        while True:
            decision = await self._next_decision(source)
            if isinstance(decision, Abort):
                raise ProtocolError(f"run {self.run_id}: {decision.reason}")
            if not isinstance(decision, Dispatch):
                break
            outcome = await self._round(decision)
            if isinstance(outcome, Finish):
                break
            source = outcome
        return await self._result()

    async def _next_decision(self, source: RunSource) -> Decision:
        """Read `source` until it shows the run needing something from us, or ending."""
        decision: Decision = Wait()
        async with aclosing(source) as observations:
            async for seen in observations:
                observed = await self._observation.see(seen)
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

    async def _report_steps(self) -> None:
        """Without a stream, run steps are seen only by asking (when a sink wants them)."""
        if not self._events.wants_steps:
            return
        steps = await self._retrying(
            lambda: self._s.backend.list_run_steps(thread_id=self.thread_id, run_id=self.run_id)
        )
        for step in steps:
            await self._events.emit(StepSeen(self.run_id, step))

    # -- tool calls ----------------------------------------------------------------------

    async def _round(self, decision: Dispatch) -> RunSource | Finish:
        """One tool round: the calls' outputs (from the journal, or their handlers), then
        their submission; the source after it, or the run's end if a tool's policy ends it."""
        deadline = self._state.deadline()  # once per round: dispatch and submission share it
        calls = decision.tool_calls
        self._observation.answered.update(call.id for call in calls)
        run_id, now = self.run_id, self._s.clock.now()
        journaled = await self._ledger.replayed(run_id, [call.id for call in calls], now)
        for record in journaled.values():
            await self._events.emit(ToolCallFinished(run_id, record))
        try:
            records = await dispatch_batch(
                [call for call in calls if call.id not in journaled],
                self._s.tools,
                clock=self._s.clock,
                deadline=deadline,
                thread_limiter=self._s.thread_limiter,
                events=self._events,
                run_id=run_id,
                thread_id=self.thread_id,
            )
        except ToolPolicyError as stop:
            return await self._stopped_by_policy(stop)
        return await self._submission.submit([*journaled.values(), *records], deadline)

    async def _stopped_by_policy(self, stop: ToolPolicyError) -> Finish:
        if stop.policy == "fail":
            raise stop  # `_guarded` cancels the run; the caller gets the error
        _log.info("run %s: %s; cancelling the run", self.run_id, stop)
        await self.cancel()
        ended = status_of(self._state.current())
        if not ended.is_terminal:
            raise stop  # the run could not be cancelled: say why it was to be
        return Finish(ended)

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
                await self._observation.see(seen)
                if status_of(self._state.current()).is_terminal:
                    return
                if refused is not None:
                    raise refused

    async def _result(self) -> RunResult:
        run = self._state.current()
        if self._observation.missed_events and status_of(run) is RunStatus.COMPLETED:
            self._observation.messages = await self._retrying(
                lambda: self._s.backend.list_run_messages(thread_id=self.thread_id, run_id=run.id)
            )
        return self.partial_result()

    def partial_result(self) -> RunResult:
        """What is known of the run now (its messages only as far as they were streamed)."""
        return RunResult(
            run=self._state.current(),
            tool_calls=self._transcript.records,
            messages=self._observation.messages,
            polls=self._transcript.polls,
            retries=self._retries,
        )

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
