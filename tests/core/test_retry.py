"""Retries: backoff, Retry-After, the budget, and lookups that decide instead of re-sending."""

import pytest

from runflow import ConnectionLostError, RateLimitedError, RetryPolicy, ServiceUnavailableError
from runflow._retry import retrying
from runflow.testing import FakeClock

pytestmark = pytest.mark.anyio


def failing(*errors: Exception, then: str = "done"):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    async def operation() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return then

    return operation, calls


async def test_retry_after_is_honoured_and_backoff_doubles_up_to_its_ceiling() -> None:
    clock = FakeClock()
    operation, calls = failing(
        RateLimitedError("slow down", retry_after=7),
        ServiceUnavailableError("503", status_code=503),
        ServiceUnavailableError("503", status_code=503),
    )
    policy = RetryPolicy(initial_backoff=1, max_backoff=1.5)

    async with clock.autojump() as waits:
        assert await retrying(operation, policy=policy, clock=clock) == "done"

    assert len(calls) == 4
    assert waits[0] == pytest.approx(7)
    assert all(0.5 <= wait <= 1.5 for wait in waits[1:])


async def test_the_last_error_is_raised_when_attempts_run_out() -> None:
    clock = FakeClock()
    operation, calls = failing(*[ConnectionLostError(f"lost {n}") for n in range(5)])

    async with clock.autojump():
        with pytest.raises(ConnectionLostError, match="lost 2"):
            await retrying(operation, policy=RetryPolicy(max_attempts=3), clock=clock)

    assert len(calls) == 3


async def test_no_wait_may_end_after_stop_by() -> None:
    clock = FakeClock(start=100)
    operation, calls = failing(RateLimitedError("slow down", retry_after=30))

    with pytest.raises(RateLimitedError):
        await retrying(operation, policy=RetryPolicy(), clock=clock, stop_by=120)

    assert len(calls) == 1 and clock.now() == 100


async def test_a_failed_lookup_is_asked_again_before_the_request_is_resent() -> None:
    clock = FakeClock()
    operation, calls = failing(ConnectionLostError("answer lost"))
    lookups: list[int] = []

    async def landed(error: Exception) -> str | None:
        lookups.append(1)
        if len(lookups) == 1:
            raise ServiceUnavailableError("lookup failed", status_code=502)
        return "it had landed"

    async with clock.autojump():
        result = await retrying(operation, policy=RetryPolicy(), clock=clock, recover=landed)

    assert result == "it had landed"
    assert len(calls) == 1  # never re-sent: the second lookup found the effect
    assert len(lookups) == 2
