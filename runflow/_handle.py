"""RunHandle: a run started in the background with `Runner.start()`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from anyio import CancelScope
from anyio.abc import TaskGroup

from runflow._errors import RunCancelledError
from runflow._events import RunCreated, RunEnded, RunEvent, RunSink
from runflow._result import RunResult

__all__ = ["RunHandle"]


class RunHandle:
    """A run started with `Runner.start()`: follow it, wait for it, or cancel it."""

    def __init__(self) -> None:
        self._events: list[RunEvent] = []
        self._changed = anyio.Event()
        self._done = anyio.Event()
        self._result: RunResult | None = None
        self._error: BaseException | None = None
        self._scope = CancelScope()
        """Entered by the task that drives the run; cancelling it before then works too."""
        self._run_id: str | None = None
        self._last_known: RunResult | None = None
        """What the run's last `RunEnded` knew of it (what a cancelled run ended as)."""

    @classmethod
    def start(
        cls, group: TaskGroup, execute: Callable[[RunSink], Awaitable[RunResult]]
    ) -> RunHandle:
        """A handle on the run `execute` drives in `group`, started now (`Runner.start()`).

        `execute` is given the sink of the run's events that `events()` replays; what it
        returns or raises is what `result()` gives."""
        handle = cls()
        group.start_soon(handle._follow, execute)
        return handle

    @property
    def run_id(self) -> str | None:
        """The run's id, once the service has created it."""
        return self._run_id

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def result(self) -> RunResult:
        """Wait for the run to end; its result, or the exception that stopped the Runner.

        A run stopped by `cancel()` gives the result it ended with (normally status
        cancelled), or `RunCancelledError` if it was stopped before the service created it.
        """
        await self._done.wait()
        if self._error is not None:
            raise self._error
        if self._result is None:
            message = "the run was cancelled before the service created it"
            raise RunCancelledError(message, run_id="", status="cancelled")
        return self._result

    async def cancel(self) -> RunResult | None:
        """Stop driving the run, cancel it on the service, and wait for it to end there."""
        self._scope.cancel()
        await self._done.wait()
        return self._result

    async def events(self) -> AsyncIterator[RunEvent]:
        """Every event of the run, from its start, as they happen; ends when the run ends."""
        index = 0
        while True:
            while index < len(self._events):
                yield self._events[index]
                index += 1
            if self._done.is_set():
                return
            await self._changed.wait()

    async def _follow(self, execute: Callable[[RunSink], Awaitable[RunResult]]) -> None:
        result: RunResult | None = None
        error: Exception | None = None
        try:
            with self._scope:
                result = await execute(_Feed(self))
        except Exception as exc:  # the run's failure is the handle's to report, not the group's
            error = exc
        finally:  # cancelled (by the handle or the runner's own scope): what the run became
            self._finish(result or self._last_known, error)

    def _push(self, event: RunEvent) -> None:
        if isinstance(event, RunCreated):
            self._run_id = event.run_id
        elif isinstance(event, RunEnded):
            self._last_known = event.result
        self._events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    def _finish(self, result: RunResult | None, error: BaseException | None) -> None:
        if self._done.is_set():
            return
        self._result, self._error = result, error
        self._done.set()
        self._changed.set()


class _Feed:
    """The sink that feeds a handle's `events()`."""

    def __init__(self, handle: RunHandle) -> None:
        self._handle = handle

    async def emit(self, event: RunEvent) -> None:
        self._handle._push(event)
