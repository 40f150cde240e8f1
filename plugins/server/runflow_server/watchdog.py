"""The expiry watchdog: one task that sleeps on the clock until the earliest `expires_at` of the
runs it watches, then lets the engine expire what is due (`due()`), and sleeps again.

`poke()` says the deadlines changed (a run went to requires_action, a brain takes its time): it
starts the watchdog on first use, or wakes it. The sleep is a task of its own and is kept while
its deadline stays the earliest, so the clock sees one steady sleeper rather than one that
comes and goes with every change (a fake clock's `autojump()` only jumps when nothing else can
move).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import anyio

from .clock import Clock
from .tasks import TaskHost

__all__ = ["ExpiryWatchdog"]


class ExpiryWatchdog:
    def __init__(self, tasks: TaskHost, clock: Clock, due: Callable[[], float | None]) -> None:
        """`due()` expires the watched runs whose time is up and returns the earliest
        `expires_at` of the others (None: nothing to watch)."""
        self._tasks = tasks
        self._clock = clock
        self._due = due
        self._running = False
        self._poke: anyio.Event | None = None
        self._woke = False  # the current sleep ended

    def poke(self) -> None:
        """The deadlines changed: look again (start watching on first use)."""
        if self._poke is not None:
            self._poke.set()
        if not self._running:
            self._running = True
            self._tasks.spawn(self._watch, count=False)

    async def _watch(self) -> None:
        sleeper: anyio.CancelScope | None = None
        target: float | None = None
        try:
            while True:
                self._poke = anyio.Event()
                nearest = self._due()
                if sleeper is not None and (self._woke or nearest != target):
                    sleeper.cancel()
                    sleeper = None
                if sleeper is None and nearest is not None:
                    sleeper, self._woke = anyio.CancelScope(), False
                    self._tasks.spawn(partial(self._sleep, nearest), sleeper, count=False)
                target = nearest
                await self._poke.wait()
        finally:
            if sleeper is not None:
                sleeper.cancel()

    async def _sleep(self, deadline: float) -> None:
        await self._clock.sleep_until(deadline)
        self._woke = True
        if self._poke is not None:
            self._poke.set()
