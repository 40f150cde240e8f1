"""The server's clock: the one place it reads the time or waits for it.

The same `Clock` protocol as `runflow.clock`: epoch seconds that never go backwards, and a way
to wait for a deadline. Tests hand `create_app` a fake clock (`runflow.testing.FakeClock`) and
expire runs without sleeping. It is defined again here rather than shared because the server
installs without the runflow core (see `lifecycle.py` for why no third package holds both);
two methods are all it takes, and `tests/server/test_mirrors.py` checks that the core's fake
clock is a clock to the server.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import anyio

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
        await anyio.sleep(max(0.0, deadline - self.now()))
