"""`FakeClock.autojump()` jumps only when nothing else can run: not while a task waits for a
worker thread, however long the thread takes, and at once when everything waits on the clock."""

import asyncio
import time

import anyio
import anyio.to_thread
import pytest

from runflow.testing import FakeClock

pytestmark = pytest.mark.anyio

THREAD_WORK_SECONDS = 0.2  # real work in a thread, longer than any "looks idle" grace period


@pytest.mark.parametrize(
    "in_a_thread",
    [
        pytest.param(lambda: anyio.to_thread.run_sync(time.sleep, THREAD_WORK_SECONDS), id="anyio"),
        pytest.param(lambda: asyncio.to_thread(time.sleep, THREAD_WORK_SECONDS), id="asyncio"),
    ],
)
async def test_a_time_limit_is_not_jumped_while_a_thread_works(in_a_thread: object) -> None:
    clock = FakeClock()
    async with clock.autojump() as jumps:
        with clock.cancel_scope_at(clock.now() + 5) as limit:
            await in_a_thread()  # type: ignore[operator]
    assert not limit.cancel_called
    assert jumps == []


async def test_everything_waiting_on_the_clock_jumps_to_the_earliest_deadline() -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep_until(clock.now() + seconds)
        woke.append(clock.now())

    start = clock.now()
    with anyio.fail_after(5):
        async with clock.autojump() as jumps, anyio.create_task_group() as group:
            group.start_soon(sleeper, 30)
            group.start_soon(sleeper, 10)
            with clock.cancel_scope_at(start + 20):
                await anyio.sleep_forever()
    assert jumps == [10, 10, 10]
    assert woke == [start + 10, start + 30]
