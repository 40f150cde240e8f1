"""Clocks: the one place runflow reads the time or waits for it.

Everything that depends on time (deadlines, handler budgets, poll intervals) goes through a
`Clock`, so tests swap in `runflow.testing.FakeClock` and exercise expiry in milliseconds.

A clock speaks epoch seconds (the unit of the API's `created_at` / `expires_at`), but
`SystemClock` anchors them to the monotonic clock, so a wall-clock jump never moves a deadline.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "SystemClock"]


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
