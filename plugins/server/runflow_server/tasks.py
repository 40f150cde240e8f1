"""The engine's background tasks, in one anyio task group.

The engine starts work from synchronous state changes (`create_run` queues a run, and a driver
must start), so `spawn` only posts the work to an inbox; one host task owns
the task group and starts each piece of work in it, under the cancel scope the engine gave it.

The host is started on first use (`start`), because the in-process ASGI transport of the tests
runs no lifespan; it is the one task made with asyncio directly. `aclose` cancels the group
and waits for it. `settled()` waits until no counted work is left (the watchdog is not counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

__all__ = ["TaskHost"]

log = logging.getLogger(__name__)
Work = Callable[[], Awaitable[None]]


class TaskHost:
    def __init__(self) -> None:
        self._inbox: deque[tuple[Work, anyio.CancelScope, bool]] = deque()
        self._posted: anyio.Event | None = None
        self._group: TaskGroup | None = None
        self._host: asyncio.Task[None] | None = None
        self._busy = 0
        self._idle: anyio.Event | None = None
        self._closed = False

    def spawn(
        self, work: Work, scope: anyio.CancelScope | None = None, *, count: bool = True
    ) -> None:
        """Run `work` soon in the group, under `scope`; `count=False`: not waited for by
        `settled()`. Ignored once closed."""
        if self._closed:
            return
        if self._host is None:
            self._host = asyncio.get_running_loop().create_task(self._serve())
        self._busy += count
        self._inbox.append((work, scope or anyio.CancelScope(), count))
        if self._posted is not None:
            self._posted.set()

    async def _serve(self) -> None:
        async with anyio.create_task_group() as group:
            self._group = group
            while True:
                while self._inbox:
                    group.start_soon(self._run, *self._inbox.popleft())
                self._posted = anyio.Event()
                await self._posted.wait()

    async def _run(self, work: Work, scope: anyio.CancelScope, counted: bool) -> None:
        try:
            with scope:
                await work()
        except Exception:  # a bug in background work must not take the others down
            log.exception("background task failed")
        finally:
            self._busy -= counted
            if self._busy == 0 and self._idle is not None:
                self._idle.set()

    async def settled(self) -> None:
        """Wait until no counted work is running or queued."""
        while self._busy:
            self._idle = anyio.Event()
            await self._idle.wait()

    async def aclose(self) -> None:
        """Cancel every task and wait for them."""
        self._closed = True
        if self._host is None:
            return
        if self._group is not None:
            self._group.cancel_scope.cancel()
        else:  # created but not yet running: nothing of it has started
            self._host.cancel()
        await asyncio.gather(self._host, return_exceptions=True)
