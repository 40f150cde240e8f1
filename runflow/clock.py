"""Clocks: the one place runflow reads the time or waits for it.

Everything that depends on time (deadlines, handler budgets, poll intervals) goes through a
`Clock`, so tests swap in `runflow.testing.FakeClock` and exercise expiry in milliseconds.

A clock speaks epoch seconds (the unit of the API's `created_at` / `expires_at`), but
`SystemClock` anchors them to the monotonic clock, so a wall-clock jump never moves a deadline.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "SystemClock", "deadline_scope", "native_cancel_scope"]


@runtime_checkable
class Clock(Protocol):
    """What runflow (and the local run server) needs from a clock."""

    def now(self) -> float:
        """Current time in epoch seconds; never goes backwards."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline` (at once if it already is)."""
        ...


class SystemClock:
    """The real clock: epoch seconds read once, then advanced by the monotonic clock."""

    def __init__(self) -> None:
        self._epoch_anchor = time.time()
        self._monotonic_anchor = time.monotonic()

    def now(self) -> float:
        return self._epoch_anchor + (time.monotonic() - self._monotonic_anchor)

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep(max(0.0, deadline - self.now()))


def native_cancel_scope(clock: Clock, deadline: float) -> anyio.CancelScope | None:
    """A cancel scope that the event loop itself ends at `deadline`, for the system clock
    (cheaper than a task sleeping on the clock); None for other clocks."""
    if not isinstance(clock, SystemClock):
        return None
    return anyio.CancelScope(deadline=anyio.current_time() + (deadline - clock.now()))


def deadline_scope(
    clock: Clock, deadline: float
) -> AbstractContextManager[anyio.CancelScope] | None:
    """A cancel scope that ends at `deadline` on `clock`: the event loop's own for the system
    clock, the clock's `cancel_scope_at()` when it has one (`runflow.testing.FakeClock` does,
    so tests take the same path as production); None for any other clock (the caller then
    watches the clock with a task of its own)."""
    native = native_cancel_scope(clock, deadline)
    if native is not None:
        return native
    cancel_scope_at = getattr(clock, "cancel_scope_at", None)
    return None if cancel_scope_at is None else cancel_scope_at(deadline)
