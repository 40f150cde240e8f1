"""Where the loop's observations come from: one run's event stream, or the run polled.

A source is an async iterator of `Seen` items (a stream event, a polled snapshot, or the end of
a stream). Creating a run and submitting outputs each open the next source, so the loop reads::

    async for seen in source:
        decision = observe(seen)   # -> lifecycle.decide

`Sources.answered()` makes the request (asking for a stream or not: the one place that
decides) and reads what it answers; a stream that drops, goes silent, or ends before
requires_action or a terminal status hands over to `Sources.polling()` inside the source,
which retrieves the run from its real status. Every wait is bounded by the run's time left:
a stream that sends nothing is given up after the idle timeout, or once the run is past
`expires_at`, whichever comes first. Each retrieval is reported as a `RunPolled` event.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass
from typing import Protocol, TypeVar

from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Run

from runflow._errors import (
    ConnectionLostError,
    RequestRejectedError,
    StreamDroppedError,
    StreamError,
    TransientError,
)
from runflow._events import RunPolled, RunSink
from runflow._result import status_of
from runflow._runs import still_waiting_for
from runflow._runstate import RunState
from runflow._waits import StreamWatch, deadline_scope
from runflow.backends import Backend, RunAnswer, RunReply

__all__ = ["Polled", "RunSource", "Seen", "Sources", "StreamEnded", "primed"]

_log = logging.getLogger("runflow")
_FIRST_POLL = 0.05
_MAX_POLL = 1.0
_EXPIRED_GRACE = 1.0
"""Seconds a stream is still waited for past `expires_at` (the service's own expiry sweep)."""

_NOTHING_AROUND: AbstractAsyncContextManager[None] = nullcontext()
T = TypeVar("T")
Recover = Callable[[TransientError], Awaitable[RunReply | None]]
"""Looks for the effect of a request whose answer was lost: the run it produced, or None."""
Request = Callable[[bool], Awaitable[RunAnswer]]
"""Makes one request that creates or advances the run, asking for a stream or not."""


@dataclass(frozen=True, slots=True)
class Polled:
    """A snapshot of the run, retrieved (or answered by a request): complete by itself."""

    run: Run
    created: bool = False
    """Whether the request that answered it created the run (its `created_at` is now)."""


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The stream is over: what it showed is all there is until the next request."""


Seen = AssistantStreamEvent | Polled | StreamEnded


class RunSource(Protocol):
    """What the loop iterates: observations of one run, until it stops asking (then it
    closes the source)."""

    def __aiter__(self) -> AsyncIterator[Seen]: ...

    def __anext__(self) -> Awaitable[Seen]: ...

    async def aclose(self) -> None: ...


class Retrying(Protocol):
    async def __call__(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        recover: Callable[[TransientError], Awaitable[T | None]] | None = ...,
        retry_if: Callable[[TransientError], bool] | None = ...,
        stop_by: float | None = ...,
    ) -> T: ...


@dataclass
class Sources:
    """Opens the sources of one run (one per driver, sharing its `RunState`)."""

    backend: Backend
    state: RunState
    retrying: Retrying
    events: RunSink
    stream: bool
    """Whether requests ask for event streams (else the run is polled after each)."""
    stream_idle_timeout: float

    async def polling(
        self, reply: RunReply | None, *, created: bool = False
    ) -> AsyncGenerator[Seen, None]:
        """`reply` (when given), then the run retrieved at once and again, as the service asks
        (`openai-poll-after-ms`) or backing off from short waits, never past `expires_at`."""
        wait = _FIRST_POLL
        pause = 0.0  # retrieve at once after a creation or a submission, as the SDK does
        while True:
            if reply is not None:
                previous = self.state.status
                yield Polled(reply.run, created=created)
                created = False
                changed = self.state.status is not previous
                wait = _FIRST_POLL if changed else min(wait * 2, _MAX_POLL)
                await self._sleep(pause)
                pause = reply.poll_after if reply.poll_after is not None else wait
            reply = await self.retrying(self.retrieve)
            await self.events.emit(RunPolled(self.state.run_id, self.state.clock.now()))

    async def answered(
        self,
        request: Request,
        *,
        recover: Recover,
        retry_if: Callable[[TransientError], bool] | None = None,
        opening: AbstractAsyncContextManager[None] | None = None,
        stop_by: float | None = None,
        call_ids: Sequence[str] = (),
        created: bool = False,
    ) -> AsyncGenerator[Seen, None]:
        """What follows the answer to `request` (made here, retrying, streamed or not): the
        events of its stream, then, if they did not show the run needing something or ending,
        the run polled; or the run it answered, then polled.

        `opening` is entered around the request; `call_ids` are the calls it submits outputs
        for, if it does; `created` tells that it creates the run."""
        then: RunSource | None = None
        try:
            async with AsyncExitStack() as stack:
                answer = await self._ask(stack, request, recover, retry_if, opening, stop_by)
                if isinstance(answer, RunReply):
                    # Streaming, a run is answered only when found after an ambiguous failure.
                    then = self.polling(answer, created=created and not self.stream)
                else:
                    iterator, watch = aiter(answer), StreamWatch.start(self.state.clock)
                    if watch is not None:
                        stack.callback(watch.close)
                    while (event := await self._next_event(iterator, watch)) is not None:
                        yield event
        except RequestRejectedError as rejected:
            then = await self.after_rejection(rejected, call_ids)
        except StreamDroppedError as dropped:
            then = await self._after_drop(recover, dropped)
        else:
            if then is None and self.state.run is None:
                runless = StreamDroppedError("the run event stream ended before any run appeared")
                then = await self._after_drop(recover, runless)
        if then is None:
            yield StreamEnded()
            then = self.polling(None)
        async for seen in then:
            yield seen

    async def retrieve(self, run_id: str | None = None) -> RunReply:
        """The run (or the run `run_id` of this thread) as the service has it now."""
        run_id = run_id or self.state.run_id
        return await self.backend.retrieve_run(thread_id=self.state.thread_id, run_id=run_id)

    async def _ask(
        self,
        stack: AsyncExitStack,
        request: Request,
        recover: Recover,
        retry_if: Callable[[TransientError], bool] | None,
        opening: AbstractAsyncContextManager[None] | None,
        stop_by: float | None,
    ) -> RunAnswer:
        """The answer to `request`, retried; a stream it opens is closed with `stack`."""

        async def attempt() -> RunAnswer:
            if not self.stream:
                return await request(False)
            with deadline_scope(self.state.clock, self._wait_limit()) or nullcontext():
                answer = await request(True)
                if not isinstance(answer, RunReply):
                    stack.push_async_callback(answer.aclose)
                return answer
            raise ConnectionLostError(
                f"no answer to the request in {self.stream_idle_timeout:g}s or the run's time left"
            )

        async with opening or _NOTHING_AROUND:
            return await self.retrying(attempt, recover=recover, retry_if=retry_if, stop_by=stop_by)

    async def _next_event(
        self, iterator: AsyncIterator[AssistantStreamEvent], watch: StreamWatch | None
    ) -> AssistantStreamEvent | None:
        """The stream's next event (None at its end), waited for no longer than the idle
        timeout and the run's time left; a stream silent for longer counts as dropped.

        The stream's `watch` ends a wait that lasts too long; without one (no timers on
        this clock or event loop), each wait has a cancel scope of its own."""
        if watch is None:
            with deadline_scope(self.state.clock, self._wait_limit()) or nullcontext():
                try:
                    return await anext(iterator)
                except StopAsyncIteration:
                    return None
        else:
            watch.waiting(self._wait_limit())
            try:
                return await anext(iterator)
            except StopAsyncIteration:
                return None
            except CancelledError:
                if not watch.ended():
                    raise
            finally:
                watch.done()
        run = self.state.run_id or "(no run yet)"
        raise StreamDroppedError(f"the event stream of run {run} went silent")

    def _wait_limit(self) -> float:
        """Until when one wait for the service may last: the idle timeout, and never long
        past the run's `expires_at`."""
        now = self.state.clock.now()
        limit = now + self.stream_idle_timeout
        expiry = self.state.expiry()
        return limit if expiry is None else min(limit, max(expiry, now) + _EXPIRED_GRACE)

    async def _after_drop(self, recover: Recover, error: StreamDroppedError) -> RunSource | None:
        """A stream that broke off: poll the run it showed; one that showed none may have
        created it all the same, so look for it; without one, the stream broke the protocol."""
        if self.state.run is not None:
            _log.info(
                "the event stream of run %s ended early (%s); polling", self.state.run_id, error
            )
            return None
        reply = await self.retrying(lambda: recover(error))
        if reply is None:
            raise StreamError(f"no run was created: {error}") from error
        return self.polling(reply)

    async def after_rejection(
        self, rejected: RequestRejectedError, call_ids: Sequence[str]
    ) -> RunSource:
        """After a refused request, what the run's state says: its end, if it ended (outputs
        that came after `expires_at`, a run cancelled by someone else); for a submission, the
        run going on without waiting for these outputs (an earlier attempt had landed).
        Otherwise the refusal stands (it is raised again)."""
        if self.state.run is None:
            raise rejected  # the run was never created
        reply = await self.retrying(self.retrieve)
        if status_of(reply.run).is_terminal:
            return _once(Polled(reply.run))
        if call_ids and not still_waiting_for(reply.run, call_ids):
            return self.polling(reply)
        raise rejected

    async def _sleep(self, seconds: float) -> None:
        """Sleep, never past `expires_at`; but once it has passed, the normal wait (no busy
        polling)."""
        if seconds <= 0:
            return
        clock = self.state.clock
        now, until = clock.now(), self.state.expiry()
        wake = now + seconds
        await clock.sleep_until(wake if until is None or until <= now else min(wake, until))


async def primed(source: RunSource) -> RunSource:
    """Start `source` now, so its opening request is made (and fails) here; the same source."""
    try:
        first = await anext(source)
    except BaseException:
        await source.aclose()
        raise
    return _Primed(first, source)


class _Primed:
    """A source whose first item was read already: that item, then the source's own items
    (handed on without a generator frame of its own per item)."""

    def __init__(self, first: Seen, rest: RunSource) -> None:
        self._first: Seen | None = first
        self._rest = rest

    def __aiter__(self) -> _Primed:
        return self

    def __anext__(self) -> Awaitable[Seen]:
        first, self._first = self._first, None
        return self._rest.__anext__() if first is None else _ready(first)

    async def aclose(self) -> None:
        self._first = None
        await self._rest.aclose()


async def _ready(seen: Seen) -> Seen:
    return seen


async def _once(seen: Seen) -> AsyncGenerator[Seen, None]:
    yield seen
