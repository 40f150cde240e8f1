"""The server's clock: the one place it reads the time or waits for it.

The same `Clock` protocol as `runflow.clock` (the server must run without the runflow core
installed, so it is defined again here): epoch seconds that never go backwards, and a way to
wait for a deadline. Tests hand `create_app` a fake clock and expire runs without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the run server needs from a clock."""

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
        await asyncio.sleep(max(0.0, deadline - self.now()))
