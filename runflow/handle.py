"""RunHandle: a run started in the background with `Runner.start()`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from anyio import CancelScope

from runflow._driver import RunDriver
from runflow.errors import RunCancelledError
from runflow.events import RunEvent
from runflow.result import RunResult

__all__ = ["DriverSlot", "RunHandle"]


class DriverSlot:
    """Where a background run keeps its current driver, to report what it did if cancelled."""

    driver: RunDriver | None = None

    def partial_result(self) -> RunResult | None:
        driver = self.driver
        if driver is None or driver.run is None:
            return None
        return driver.partial_result()


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
        self._slot = DriverSlot()

    @property
    def run_id(self) -> str | None:
        """The run's id, once the service has created it."""
        driver = self._slot.driver
        return None if driver is None or driver.run is None else driver.run.id

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

    def _push(self, event: RunEvent) -> None:
        self._events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    def _finish(self, result: RunResult | None, error: BaseException | None) -> None:
        if self._done.is_set():
            return
        self._result, self._error = result, error
        self._done.set()
        self._changed.set()
