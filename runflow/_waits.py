"""Bounded waits on a `Clock`: a cancel scope that ends at a deadline, and the watch that
bounds every wait for a run's next stream event without a scope per event.

Both end at the clock's time: the event loop's own timers on the system clock, the clock's
`cancel_scope_at()` / `call_at()` when it has them (`runflow.testing.FakeClock` does, so tests
take the same paths as production), none for any other clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import anyio

from runflow.clock import Clock, SystemClock

__all__ = ["StreamWatch", "Timer", "deadline_scope", "has_timers", "timer_at"]


class Timer(Protocol):
    def cancel(self) -> None: ...


def deadline_scope(
    clock: Clock, deadline: float
) -> AbstractContextManager[anyio.CancelScope] | None:
    """A cancel scope that ends at `deadline` on `clock`; None for a clock that cannot end
    one (the caller then watches the clock with a task of its own)."""
    if isinstance(clock, SystemClock):
        return anyio.CancelScope(deadline=anyio.current_time() + (deadline - clock.now()))
    cancel_scope_at = getattr(clock, "cancel_scope_at", None)
    return None if cancel_scope_at is None else cancel_scope_at(deadline)


def has_timers(clock: Clock) -> bool:
    """Whether `timer_at` can call back on this clock here: the system clock or a clock with a
    `call_at()`, in an asyncio event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop (trio)
        return False
    return isinstance(clock, SystemClock) or hasattr(clock, "call_at")


def timer_at(clock: Clock, deadline: float, callback: Callable[[], None]) -> Timer:
    """Call `callback` from the event loop when `clock` reaches `deadline` (see `has_timers`)."""
    if isinstance(clock, SystemClock):
        loop = asyncio.get_running_loop()
        return loop.call_at(loop.time() + (deadline - clock.now()), callback)
    timer: Timer = clock.call_at(deadline, callback)  # type: ignore[attr-defined]
    return timer


class StreamWatch:
    """Ends a wait for a stream's next event that lasts past its limit.

    The reader marks each wait (`waiting(limit)` before, `done()` after); one timer per
    stream, re-armed only when it comes due, cancels the reading task if it is still in a wait
    past that wait's limit, as `asyncio.timeout` would, and `ended()` tells the reader so. A
    cancel scope per event would cost an event-loop timer each (about 10 µs); a mark costs
    two attribute writes. `StreamWatch.start()` is None where there are no timers.
    """

    def __init__(self, clock: Clock, task: asyncio.Task[Any]) -> None:
        self._clock = clock
        self._task = task
        self._limit: float | None = None
        self._timer: Timer | None = None
        self._armed_for = float("inf")
        self._cancelling: int | None = None

    @classmethod
    def start(cls, clock: Clock) -> StreamWatch | None:
        task = asyncio.current_task() if has_timers(clock) else None
        return None if task is None else cls(clock, task)

    def waiting(self, limit: float) -> None:
        """The reader is about to wait, for no longer than until `limit`."""
        self._limit = limit
        if limit < self._armed_for:
            self._arm(limit)

    def done(self) -> None:
        self._limit = None

    def ended(self) -> bool:
        """Whether the wait that raised CancelledError was ended by this watch (and not also
        by someone else: then the cancellation goes on)."""
        if self._cancelling is None:
            return False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._armed_for = None, float("inf")

    def _arm(self, when: float) -> None:
        self.close()
        self._timer = timer_at(self._clock, when, self._due)
        self._armed_for = when

    def _due(self) -> None:
        self._timer, self._armed_for = None, float("inf")
        limit = self._limit
        if limit is None:
            return  # not waiting now: the next wait arms the timer again
        if self._clock.now() < limit:
            self._arm(limit)
        elif self._cancelling is None:
            self._cancelling = self._task.cancelling()
            self._task.cancel()
