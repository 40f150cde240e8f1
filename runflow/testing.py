"""Test helpers that ship with runflow: the run server in this process, a clock told to move."""

from __future__ import annotations

import asyncio
import gc
import heapq
import inspect
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx2
from anyio.lowlevel import checkpoint
from openai import AsyncOpenAI

__all__ = ["FakeClock", "LocalServer", "inprocess_client"]

_INPROCESS_ORIGIN = "http://runflow.local"
_THREAD_POLL_SECONDS = 0.001


def inprocess_client(app: Any, *, api_key: str = "local", max_retries: int = 0) -> AsyncOpenAI:
    """An `AsyncOpenAI` client that talks to an ASGI app in this process (no port, no network)."""
    transport = httpx2.ASGITransport(app=app)
    http_client = httpx2.AsyncClient(transport=transport, base_url=_INPROCESS_ORIGIN)
    return AsyncOpenAI(
        base_url=f"{_INPROCESS_ORIGIN}/v1",
        api_key=api_key,
        http_client=http_client,
        max_retries=max_retries,
    )


class LocalServer:
    """The run server (`runflow-server`) in this process, a real `openai` client bound to it,
    a raw `httpx2` client for requests the SDK cannot make, and the log of the requests both
    made (`"POST /v1/threads/.../runs"`).

    `steps` are the scripted brain's steps (see `runflow_server.Scenario`); every other
    keyword goes to `runflow_server.create_app` as it is (`clock=`, `scenario=`,
    `run_expiry_seconds=`...). `api_key` is the server's key, which the `openai` client sends
    (or `client_key` instead, to be refused); `http` sends none unless given headers::

        server = LocalServer([{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]},
                              {"message": "done"}], clock=FakeClock())
        assistant_id, thread_id = await server.assistant_and_thread()
        ...
        server.assert_consumed()   # every thread that played the steps played them all
        await server.aclose()
    """

    def __init__(
        self,
        steps: list[dict[str, Any]] | None = None,
        *,
        api_key: str | None = None,
        client_key: str | None = None,
        origin: str = "http://runflow.test",
        **app_options: Any,
    ) -> None:
        try:
            from runflow_server import Scenario, create_app
        except ImportError as exc:  # pragma: no cover - the server is a separate distribution
            raise ImportError(
                "LocalServer needs the run server: pip install runflow-server"
            ) from exc
        if steps is not None:
            app_options["scenario"] = Scenario.model_validate({"name": "test", "steps": steps})
        self.app = create_app(api_key=api_key, **app_options)
        self.requests: list[str] = []

        async def record(request: httpx2.Request) -> None:
            self.requests.append(f"{request.method} {request.url.path}")

        self.http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.app),
            base_url=origin,
            event_hooks={"request": [record]},
        )
        self.client = AsyncOpenAI(
            base_url=f"{origin}/v1",
            api_key=client_key or api_key or "test",
            http_client=self.http,
            max_retries=0,
        )

    async def assistant_and_thread(self, question: str = "hi") -> tuple[str, str]:
        """A new assistant and a thread holding `question`; the request log starts afresh."""
        assistant = await self.client.beta.assistants.create(model="gpt-4o", name="tester")
        thread = await self.client.beta.threads.create(
            messages=[{"role": "user", "content": question}]
        )
        self.requests.clear()
        return assistant.id, thread.id

    async def settle(self) -> None:
        """Wait until no run is being driven (each rests in requires_action or has ended)."""
        await self.app.state.engine.wait_until_settled()

    def assert_consumed(self) -> None:
        """Raise AssertionError naming, per scenario and thread, the scripted steps a thread
        that played them left unplayed (a run that ended early, a test that stopped short)."""
        self.app.state.engine.brains.assert_consumed()

    async def aclose(self) -> None:
        """Close the clients, stop the server's engine and its file ingestions (what the app's
        lifespan shutdown does, but the store stays open for the test to read)."""
        await self.client.close()
        await self.app.state.engine.aclose()
        await self.app.state.file_search.aclose()

    async def __aenter__(self) -> LocalServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class FakeClock:
    """A `Clock` whose time moves only through `advance()` / `set()`.

    Sleepers wake when the time reaches their deadline, so a test can drive expiry and
    handler timeouts without sleeping::

        clock = FakeClock(start=1_700_000_000)
        ...
        await clock.wait_for_sleepers(1)   # the code under test is now waiting on the clock
        clock.advance(601)                 # its deadline passed: it wakes up
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._sleepers_changed = anyio.Event()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await checkpoint()
            return
        wake = anyio.Event()
        with self._waiting(deadline, wake.set):
            await wake.wait()

    @contextmanager
    def cancel_scope_at(self, deadline: float) -> Iterator[anyio.CancelScope]:
        """A cancel scope cancelled when the time reaches `deadline` (what runflow's bounded
        waits use, as the event loop's own deadline on the real clock). While it is open it
        counts as a sleeper."""
        scope = anyio.CancelScope()
        if deadline <= self._now:
            scope.cancel()
        with self._waiting(deadline, scope.cancel), scope:
            yield scope

    def call_at(self, deadline: float, callback: Callable[[], None]) -> _FakeTimer:
        """Call `callback` when the time reaches `deadline` (the timers `runflow`'s stream
        watch uses, as the event loop's own on the real clock); `cancel()` the timer to drop
        it. While it is pending it counts as a sleeper."""
        timer = _FakeTimer(self, (deadline, next(self._order), callback))
        heapq.heappush(self._sleepers, timer.entry)
        self._notify()
        return timer

    @contextmanager
    def _waiting(self, deadline: float, wake: Callable[[], None]) -> Iterator[None]:
        timer = self.call_at(deadline, wake)
        try:
            yield
        finally:
            timer.cancel()

    def _drop(self, entry: tuple[float, int, Callable[[], None]]) -> None:
        if entry in self._sleepers:
            self._sleepers.remove(entry)
            heapq.heapify(self._sleepers)

    def advance(self, seconds: float) -> None:
        """Move the time forward by `seconds` and wake every sleeper now due."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds})")
        self.set(self._now + seconds)

    def set(self, when: float) -> None:
        """Move the time forward to `when` and wake every sleeper now due."""
        if when < self._now:
            raise ValueError(f"a clock cannot go backwards (from {self._now} to {when})")
        self._now = when
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, wake = heapq.heappop(self._sleepers)
            wake()
        self._notify()

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return len(self._sleepers)

    @property
    def next_deadline(self) -> float | None:
        """The earliest deadline anyone waits for, or None."""
        return self._sleepers[0][0] if self._sleepers else None

    @asynccontextmanager
    async def autojump(self) -> AsyncIterator[list[float]]:
        """While inside: whenever nothing else can run (see `_wait_until_idle`) and a task
        sleeps on this clock, jump the time to the earliest deadline, as trio's
        `MockClock(autojump_threshold=0)` does. Yields the list of jumps made, in seconds,
        so a test can check how long the code under test chose to wait.

        asyncio only. Only in-process work is seen: a task waiting on a real socket looks idle."""
        jumps: list[float] = []

        async def jump_when_idle() -> None:
            while True:
                await self.wait_for_sleepers(1)
                await _wait_until_idle()
                deadline = self.next_deadline
                if deadline is not None and deadline > self._now:
                    jumps.append(deadline - self._now)
                    self.set(deadline)
                elif deadline is not None:
                    self.set(self._now)

        async with anyio.create_task_group() as group:
            group.start_soon(jump_when_idle)
            try:
                yield jumps
            finally:
                group.cancel_scope.cancel()

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Wait until at least `count` tasks are sleeping on this clock."""
        while len(self._sleepers) < count:
            await self._sleepers_changed.wait()

    def _notify(self) -> None:
        self._sleepers_changed.set()
        self._sleepers_changed = anyio.Event()


class _FakeTimer:
    """A callback waiting for a `FakeClock`'s time (see `FakeClock.call_at`)."""

    def __init__(self, clock: FakeClock, entry: tuple[float, int, Callable[[], None]]) -> None:
        self._clock = clock
        self.entry = entry

    def cancel(self) -> None:
        self._clock._drop(self.entry)


async def _wait_until_idle() -> None:
    """Return once nothing but the caller can run: every other task waits on something that
    is not done yet (anyio's `wait_all_tasks_blocked`), no callback waits in the event loop's
    queue, and no task waits for a worker thread.

    The last two are what asyncio's notion of "blocked" misses. A callback in the queue (a
    cancellation being delivered, a result a thread just handed back) wakes a task once it runs;
    a worker thread (`anyio.to_thread`, `asyncio.to_thread`: the openai client computes its
    platform headers in one on its first request) finishes whenever the OS schedules it, so
    while one works for a task this polls every millisecond, and the jump never depends on
    how long it took. A thread nobody waits for any more (abandoned on cancel) is not waited for.
    An event loop without asyncio's `_ready` queue (uvloop) gets the first check only.
    """
    loop = asyncio.get_running_loop()
    while True:
        await anyio.wait_all_tasks_blocked()
        if getattr(loop, "_ready", None):  # asyncio's queue of callbacks due now
            await checkpoint()
        elif any(_waits_for_a_thread(task) for task in asyncio.all_tasks()):
            await anyio.sleep(_THREAD_POLL_SECONDS)
        else:
            return


_THREAD_WAITS = {
    ("anyio._backends._asyncio", "run_sync_in_worker_thread"),  # anyio.to_thread.run_sync
    ("asyncio.threads", "to_thread"),
}


def _waits_for_a_thread(task: asyncio.Task[Any]) -> bool:
    """Whether the innermost coroutine `task` awaits is one that waits for a worker thread."""
    awaited: Any = task.get_coro()
    innermost = None
    while awaited is not None:
        if type(awaited).__name__ == "async_generator_asend":  # `anext(agen)`: into agen
            awaited = next((r for r in gc.get_referents(awaited) if inspect.isasyncgen(r)), None)
            continue
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        innermost = frame or innermost
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    if innermost is None:
        return False
    return (innermost.f_globals.get("__name__"), innermost.f_code.co_name) in _THREAD_WAITS
