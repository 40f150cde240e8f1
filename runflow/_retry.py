"""Retries of transient failures, with backoff, inside a budget and before a deadline.

Only `TransientError`s are retried (429, 5xx, no answer). A 429's `Retry-After` is honoured;
otherwise the wait doubles from `initial_backoff` up to `max_backoff`, with jitter. An operation
stops retrying when it has made `max_attempts`, when the next wait would take its total waiting
past `budget`, or when it would end after `stop_by` (the run's deadline): then the last error
is raised.

A request whose failure is ambiguous (no answer: was it carried out?) passes a `recover`
function: asked after each failure, it looks for the effect of the request (the run created,
the outputs submitted) and returns it, so the request is never carried out twice. A lookup that
fails transiently is itself retried (within the same budget): the request is sent again only
once it is known not to have taken effect.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from runflow._errors import RateLimitedError, TransientError
from runflow.clock import Clock

__all__ = ["RetryPolicy", "retrying"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try again after a transient failure."""

    max_attempts: int = 6
    initial_backoff: float = 0.25
    max_backoff: float = 8.0
    budget: float = 60.0
    """Seconds an operation may spend waiting between attempts, in all."""

    def backoff(self, attempt: int, error: TransientError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)


RetryCallback = Callable[[TransientError, float], None]


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    clock: Clock,
    stop_by: float | None = None,
    recover: Callable[[TransientError], Awaitable[T | None]] | None = None,
    retry_if: Callable[[TransientError], bool] | None = None,
    on_retry: RetryCallback | None = None,
) -> T:
    """`await operation()`, trying again on transient failures as the policy allows.

    `retry_if` narrows which transient failures are worth another attempt (a request that
    must not run twice and has no `recover` retries only failures known to leave no effect).
    """
    budget = _Budget(policy, clock, stop_by, on_retry)
    while True:
        try:
            return await operation()
        except TransientError as exc:
            error = exc
        if recover is not None:
            found = await _recovered(recover, error, budget)
            if found is not None:
                return found
        if retry_if is not None and not retry_if(error):
            raise error
        await budget.wait_after(error)


async def _recovered(
    recover: Callable[[TransientError], Awaitable[T | None]],
    error: TransientError,
    budget: _Budget,
) -> T | None:
    """Whether the failed request took effect. A lookup that fails is asked again: the
    request itself is never sent again before the answer is known."""
    while True:
        try:
            return await recover(error)
        except TransientError as lookup_error:
            await budget.wait_after(lookup_error)


@dataclass
class _Budget:
    """The attempts and waiting time one operation has left."""

    policy: RetryPolicy
    clock: Clock
    stop_by: float | None
    on_retry: RetryCallback | None
    attempts: int = 0
    waited: float = 0.0

    async def wait_after(self, error: TransientError) -> None:
        """Wait before the next attempt; raise `error` when there is to be none."""
        self.attempts += 1
        delay = self.policy.backoff(self.attempts, error)
        exhausted = (
            self.attempts >= self.policy.max_attempts or self.waited + delay > self.policy.budget
        )
        out_of_time = self.stop_by is not None and self.clock.now() + delay > self.stop_by
        if exhausted or out_of_time:
            raise error
        if self.on_retry is not None:
            self.on_retry(error, delay)
        self.waited += delay
        await self.clock.sleep_until(self.clock.now() + delay)
