"""Retries of transient failures, with backoff, inside a budget and before a deadline.

Only `TransientError`s are retried (429, 5xx, no answer). A 429's `Retry-After` is honoured;
otherwise the wait doubles from `initial_backoff` up to `max_backoff`, with jitter. An operation
stops retrying when it has made `max_attempts`, when the next wait would take its total waiting
past `budget`, or when it would end after `stop_by` (the run's deadline): then the last error
is raised.

A request whose failure is ambiguous (no answer: was it carried out?) passes a `recover`
function: asked after each failure, it looks for the effect of the request (the run created,
the outputs submitted) and returns it, so the request is never carried out twice.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from runflow.clock import Clock
from runflow.errors import RateLimitedError, TransientError

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
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except TransientError as exc:
            error = exc
        if recover is not None:
            try:
                found = await recover(error)
            except TransientError as exc:
                found, error = None, exc
            if found is not None:
                return found
        delay = policy.backoff(attempt, error)
        out_of_time = stop_by is not None and clock.now() + delay > stop_by
        unwanted = retry_if is not None and not retry_if(error)
        exhausted = attempt >= policy.max_attempts or waited + delay > policy.budget
        if unwanted or exhausted or out_of_time:
            raise error
        if on_retry is not None:
            on_retry(error, delay)
        waited += delay
        await clock.sleep_until(clock.now() + delay)
