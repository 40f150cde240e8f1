"""Runner: runs Assistants runs to completion for a service, and RunHandle to follow one.

    runner = Runner(client, tools)
    result = await runner.run(thread_id=..., assistant_id=...)      # wait for the end

    async with Runner(client, tools) as runner:                      # or start in the background
        handle = runner.start(thread_id=..., assistant_id=...)
        async for event in handle.events():                          # stream progress
            ...
        result = await handle.result()

The Runner owns what is shared between runs: the tools, the limits (runs at once, sync handler
threads), the retry policy, the clock, the instrumentation, and the per-thread locks that
serialise this process's runs on one thread. Each run is driven by its own `RunDriver`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import anyio
from anyio import CapacityLimiter
from anyio.abc import TaskGroup
from openai import AsyncOpenAI

from runflow._deadline import DEFAULT_SAFETY_MARGIN
from runflow._driver import RunDriver
from runflow._errors import (
    RequestRejectedError,
    RunflowError,
    RunNeverCreatedError,
    ThreadBusyError,
    UsageError,
)
from runflow._events import EventCallback, RunSink
from runflow._handle import RunHandle
from runflow._instrumentation import Instrumentation, RunInfo, RunObserver
from runflow._journal import Journal, JournaledRun
from runflow._result import RunResult, status_of
from runflow._retry import RetryPolicy, retrying
from runflow._settings import DEFAULT_STREAM_IDLE_TIMEOUT, DriverSettings, Mode
from runflow._sinks import CallbackSink
from runflow._tools import Tool, ToolRegistry
from runflow._tracing import default_instrumentation
from runflow.backends import Backend
from runflow.backends._openai import OpenAIBackend
from runflow.clock import Clock, SystemClock

__all__ = ["Runner", "ThreadPolicy"]

ThreadPolicy = Literal["wait", "cancel", "raise"]
"""What to do when the thread already has an active run: wait for it to end, cancel it, or
raise `ThreadBusyError`."""

_log = logging.getLogger("runflow")
_BUSY_POLL = (0.1, 2.0)  # first and largest wait between checks of another run's status


@dataclass(frozen=True)
class _RunRequest:
    assistant_id: str
    thread_id: str | None
    thread: Mapping[str, Any] | None
    options: Mapping[str, Any]
    thread_policy: ThreadPolicy
    assistant_name: str | None = None


class Runner:
    """Drives Assistants runs to completion, executing their function calls locally.

    Args:
        client: an `AsyncOpenAI` / `AsyncAzureOpenAI` client (its own retries are switched
            off: the Runner retries), or any `Backend`.
        tools: the tools runs may call.
        mode: `"stream"` (default: 1 + k requests for k tool rounds) or `"poll"`.
        thread_policy: default for `run()`: what to do when the thread is busy.
        max_concurrent_runs: runs driven at once by this Runner; more wait their turn.
        max_handler_threads: worker threads for sync handlers, shared by all runs.
        retry: how transient failures (429, 5xx, lost connections) are retried.
        safety_margin: seconds kept back from `expires_at` for submitting outputs.
        clock: the clock deadlines and waits use (tests pass `runflow.testing.FakeClock`).
        instrumentation: tracing hooks; OpenTelemetry (a no-op without an SDK) by default.
        journal: a durable ledger of runs and outputs, for `resume()` after a crash.
        stream_idle_timeout: seconds a run's event stream may send nothing before the run is
            polled instead (each wait is also bounded by the run's time left).
    """

    def __init__(
        self,
        client: AsyncOpenAI | Backend,
        tools: ToolRegistry | Iterable[Tool[..., Any]] = (),
        *,
        mode: Mode = "stream",
        thread_policy: ThreadPolicy = "wait",
        max_concurrent_runs: int = 100,
        max_handler_threads: int = 16,
        retry: RetryPolicy | None = None,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        clock: Clock | None = None,
        instrumentation: Instrumentation | None = None,
        journal: Journal | None = None,
        stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT,
    ) -> None:
        if mode not in ("stream", "poll"):
            raise UsageError(f"mode must be 'stream' or 'poll', not {mode!r}")
        if not stream_idle_timeout > 0:
            raise UsageError(f"stream_idle_timeout must be > 0, not {stream_idle_timeout!r}")
        self.backend: Backend = OpenAIBackend(client) if isinstance(client, AsyncOpenAI) else client
        self.tools = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
        self.mode: Mode = mode
        self.thread_policy: ThreadPolicy = thread_policy
        self.clock: Clock = clock or SystemClock()
        self.instrumentation: Instrumentation = instrumentation or default_instrumentation()
        self._settings = DriverSettings(
            backend=self.backend,
            tools=self.tools,
            clock=self.clock,
            safety_margin=safety_margin,
            retry=retry or RetryPolicy(),
            thread_limiter=CapacityLimiter(max_handler_threads),
            mode=mode,
            journal=journal,
            stream_idle_timeout=stream_idle_timeout,
        )
        self._run_limiter = anyio.Semaphore(max_concurrent_runs, fast_acquire=True)
        self._thread_locks: dict[str, tuple[anyio.Lock, int]] = {}
        self._task_group: TaskGroup | None = None

    async def run(
        self,
        *,
        assistant_id: str,
        thread_id: str | None = None,
        thread: Mapping[str, Any] | None = None,
        thread_policy: ThreadPolicy | None = None,
        assistant_name: str | None = None,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> RunResult:
        """Create a run and drive it to a terminal status.

        The run goes on `thread_id`, or on a new thread created with it (`thread` holds the
        new thread's `messages`, `metadata`...; create-thread-and-run) when no `thread_id` is
        given. `options` are passed to run creation as they are (`instructions`,
        `additional_instructions`, `additional_messages`, `tool_choice`, `metadata`, `model`,
        ...). `assistant_name` only names the run in traces. Returns a `RunResult` for every
        terminal status; call `raise_for_status()` to turn the unhappy ones into exceptions.
        """
        request = self._request(
            assistant_id, thread_id, thread, thread_policy, assistant_name, options
        )
        return await self._execute(request, _sinks(on_event))

    def start(
        self,
        *,
        assistant_id: str,
        thread_id: str | None = None,
        thread: Mapping[str, Any] | None = None,
        thread_policy: ThreadPolicy | None = None,
        assistant_name: str | None = None,
        **options: Any,
    ) -> RunHandle:
        """Like `run()`, in the background: returns a `RunHandle` at once.

        Needs the Runner entered (`async with runner:`); leaving that block waits for the
        runs started in it.
        """
        if self._task_group is None:
            raise UsageError("Runner.start() needs the runner entered: `async with runner:`")
        request = self._request(
            assistant_id, thread_id, thread, thread_policy, assistant_name, options
        )
        return RunHandle.start(self._task_group, lambda sink: self._execute(request, (sink,)))

    async def __aenter__(self) -> Runner:
        if self._task_group is not None:
            raise UsageError("this Runner is already entered")
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        group, self._task_group = self._task_group, None
        assert group is not None
        return await group.__aexit__(exc_type, exc, traceback)

    # -- running -------------------------------------------------------------------------

    def _request(
        self,
        assistant_id: str,
        thread_id: str | None,
        thread: Mapping[str, Any] | None,
        thread_policy: ThreadPolicy | None,
        assistant_name: str | None,
        options: Mapping[str, Any],
    ) -> _RunRequest:
        if thread_id is not None and thread is not None:
            raise UsageError("give either thread_id (an existing thread) or thread (a new one)")
        if thread_id is None and thread is None:
            thread = {}
        policy = thread_policy or self.thread_policy
        return _RunRequest(assistant_id, thread_id, thread, options, policy, assistant_name)

    async def _execute(self, request: _RunRequest, sinks: Sequence[RunSink]) -> RunResult:
        info = self._info(
            request.assistant_id, request.thread_id, request.options, request.assistant_name
        )
        async with self._driving(info) as observer:
            while True:
                driver = RunDriver(self._settings, observer, sinks, request.thread_id)
                try:
                    result = await driver.drive(
                        assistant_id=request.assistant_id,
                        options=request.options,
                        thread=request.thread,
                    )
                except ThreadBusyError as busy:
                    if request.thread_policy == "raise":
                        raise
                    await self._end_active_run(busy, cancel=request.thread_policy == "cancel")
                    continue
                return result

    async def resume(self, *, on_event: EventCallback | None = None) -> list[RunResult]:
        """Drive to their end the runs the journal holds unfinished (after a crash).

        Outputs already journaled are submitted without running their handlers again; runs
        that ended meanwhile are closed out. A run that was to create its own thread, and whose
        creation was never answered, cannot be confirmed: it is logged and closed as
        `unknown`. Returns the results of the runs it drove.
        """
        journal = self._settings.journal
        if journal is None:
            raise UsageError("resume() needs a journal: Runner(..., journal=Journal(path))")
        results: list[RunResult] = []

        async def resume_one(entry: JournaledRun) -> None:
            info = self._info(entry.assistant_id, entry.thread_id, entry.options, None)
            async with self._driving(info) as observer:
                driver = RunDriver(
                    self._settings, observer, _sinks(on_event), entry.thread_id, key=entry.key
                )
                try:
                    result = await driver.resume(entry)
                except (RunNeverCreatedError, RequestRejectedError):
                    # Never created, or gone (its thread deleted): nothing left to drive.
                    _log.warning("cannot resume run %s; closing it", entry.key, exc_info=True)
                    await journal.run_ended(entry.key, "unknown")
                    return
                except RunflowError:
                    # Left unfinished for the next resume(); the other runs go on.
                    _log.exception("could not resume run %s this time", entry.key)
                    return
                results.append(result)

        async with anyio.create_task_group() as group:
            for entry in await journal.unfinished():
                group.start_soon(resume_one, entry)
        return results

    def _info(
        self,
        assistant_id: str,
        thread_id: str | None,
        options: Mapping[str, Any],
        assistant_name: str | None,
    ) -> RunInfo:
        return RunInfo(
            assistant_id=assistant_id,
            thread_id=thread_id,
            options=options,
            provider_name=self.backend.provider_name,
            server_address=self.backend.server_address,
            mode=self.mode,
            assistant_name=assistant_name,
        )

    @asynccontextmanager
    async def _driving(self, info: RunInfo) -> AsyncIterator[RunObserver]:
        """A run's share of the limits (a run slot, its thread's lock) and its instrumentation."""
        # The thread's lock first: runs waiting for a busy thread do not hold run slots.
        async with self._thread_lock(info.thread_id), self._run_limiter:
            with self.instrumentation.run(info) as observer:
                yield observer

    async def _end_active_run(self, busy: ThreadBusyError, *, cancel: bool) -> None:
        """Wait for (or cancel, then wait for) the run that keeps the thread busy."""
        backend, thread_id, run_id = self.backend, busy.thread_id, busy.active_run_id
        if cancel:
            # A refusal means it ended on its own just before: the wait below sees that.
            with suppress(RequestRejectedError):
                await retrying(
                    lambda: backend.cancel_run(thread_id=thread_id, run_id=run_id),
                    policy=self._settings.retry,
                    clock=self.clock,
                )

        wait = _BUSY_POLL[0]
        while True:
            reply = await retrying(
                lambda: backend.retrieve_run(thread_id=thread_id, run_id=run_id),
                policy=self._settings.retry,
                clock=self.clock,
            )
            if status_of(reply.run).is_terminal:
                return
            pause = reply.poll_after if reply.poll_after is not None else wait
            await self.clock.sleep_until(self.clock.now() + pause)
            wait = min(wait * 2, _BUSY_POLL[1])

    def _thread_lock(self, thread_id: str | None) -> _ThreadLock:
        return _ThreadLock(self._thread_locks, thread_id)


def _sinks(on_event: EventCallback | None) -> tuple[RunSink, ...]:
    return () if on_event is None else (CallbackSink(on_event),)


class _ThreadLock:
    """This process's lock on one thread, dropped from the table when nobody holds or wants it."""

    def __init__(self, table: dict[str, tuple[anyio.Lock, int]], thread_id: str | None) -> None:
        self._table = table
        self._thread_id = thread_id

    async def __aenter__(self) -> None:
        if self._thread_id is None:
            return  # a new thread: nobody else can be using it
        lock, users = self._table.get(self._thread_id, (anyio.Lock(fast_acquire=True), 0))
        self._table[self._thread_id] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._release_use()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        if self._thread_id is None:
            return
        self._table[self._thread_id][0].release()
        self._release_use()

    def _release_use(self) -> None:
        assert self._thread_id is not None
        lock, users = self._table[self._thread_id]
        if users == 1:
            del self._table[self._thread_id]
        else:
            self._table[self._thread_id] = (lock, users - 1)
