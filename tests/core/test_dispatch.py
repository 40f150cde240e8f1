"""A batch of tool calls: concurrency, error outputs, and the deadline (on a fake clock)."""

import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runflow import (
    Deadline,
    ErrorPolicy,
    RunEvent,
    ToolCallAbandoned,
    ToolCallFinished,
    ToolCallRecord,
    ToolCallRequest,
    ToolCallStarted,
    ToolContext,
    ToolFailure,
    ToolPolicyError,
    ToolRegistry,
)
from runflow._dispatch import dispatch_batch, truncate_output
from runflow.testing import FakeClock

pytestmark = pytest.mark.anyio


class Collected:
    """A sink that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    async def emit(self, event: RunEvent) -> None:
        self.events.append(event)


def call(name: str, arguments: str = "{}", call_id: str | None = None) -> ToolCallRequest:
    return ToolCallRequest(id=call_id or f"call_{name}", name=name, arguments=arguments)


def error_of(output: str) -> dict[str, str]:
    error: dict[str, str] = json.loads(output)["error"]
    return error


async def test_calls_run_concurrently_and_keep_their_order() -> None:
    registry = ToolRegistry()
    first_started, second_started = anyio.Event(), anyio.Event()

    @registry.tool
    async def first() -> str:
        first_started.set()
        await second_started.wait()  # deadlocks unless both run at once
        return "one"

    @registry.tool
    async def second() -> str:
        second_started.set()
        await first_started.wait()
        return "two"

    records = await dispatch_batch(
        [call("second"), call("first")], registry, clock=FakeClock(), deadline=None
    )
    assert [(r.name, r.output, r.ok) for r in records] == [
        ("second", "two", True),
        ("first", "one", True),
    ]


async def test_every_failure_becomes_a_structured_error_output() -> None:
    registry = ToolRegistry()

    @registry.tool
    def divide(a: int, b: int) -> float:
        return a / b

    records = await dispatch_batch(
        [
            call("divide", '{"a": 1, "b": 0}', "c1"),
            call("divide", '{"a": 1', "c2"),
            call("divide", '{"a": "x", "b": 1}', "c3"),
            call("delete_everything", "{}", "c4"),
            call("divide", '{"a": 6, "b": 3}', "c5"),
        ],
        registry,
        clock=FakeClock(),
        deadline=None,
    )
    kinds = [(r.call_id, r.error.kind if r.error else None) for r in records]
    assert kinds == [
        ("c1", "handler_error"),
        ("c2", "invalid_arguments"),
        ("c3", "invalid_arguments"),
        ("c4", "unknown_tool"),
        ("c5", None),
    ]
    assert error_of(records[0].output) == {
        "type": "handler_error",
        "message": "ZeroDivisionError: division by zero",
        "tool": "divide",
    }
    assert "not valid JSON" in error_of(records[1].output)["message"]
    assert "a: Input should be a valid integer" in error_of(records[2].output)["message"]
    assert "available tools: divide" in error_of(records[3].output)["message"]
    assert records[4].output == "2.0"


async def test_a_hanging_handler_is_cancelled_at_the_deadline_and_others_still_answer() -> None:
    clock = FakeClock(start=1000)
    registry = ToolRegistry()
    hang_started = anyio.Event()
    cancelled = anyio.Event()

    @registry.tool
    async def hang() -> str:
        hang_started.set()
        try:
            await anyio.Event().wait()
        finally:
            cancelled.set()
        return "never"

    @registry.tool
    async def quick() -> str:
        return "fast"

    deadline = Deadline(expires_at=1600, submit_by=1597)

    async def advance_when_blocked() -> None:
        await hang_started.wait()
        await clock.wait_for_sleepers(1)
        clock.advance(597)

    async with anyio.create_task_group() as group:
        group.start_soon(advance_when_blocked)
        records = await dispatch_batch(
            [call("hang"), call("quick")], registry, clock=clock, deadline=deadline
        )
    assert cancelled.is_set()
    assert records[1].output == "fast"
    assert records[0].error is not None and records[0].error.kind == "timeout"
    assert "before the run's deadline" in error_of(records[0].output)["message"]
    assert records[0].duration == 597


async def test_a_tool_timeout_shorter_than_the_deadline_applies() -> None:
    clock = FakeClock(start=0)
    registry = ToolRegistry()

    @registry.tool(timeout=5)
    async def slow() -> str:
        await anyio.Event().wait()
        return "never"

    async def advance() -> None:
        await clock.wait_for_sleepers(1)
        assert clock.next_deadline == 5
        clock.advance(5)

    async with anyio.create_task_group() as group:
        group.start_soon(advance)
        [record] = await dispatch_batch(
            [call("slow")], registry, clock=clock, deadline=Deadline(expires_at=600, submit_by=597)
        )
    assert record.error is not None
    assert "within its timeout of 5" in record.error.message


async def test_sync_handlers_run_in_worker_threads() -> None:
    registry = ToolRegistry()
    import threading

    main_thread = threading.get_ident()

    @registry.tool
    def where() -> bool:
        return threading.get_ident() != main_thread

    [record] = await dispatch_batch([call("where")], registry, clock=FakeClock(), deadline=None)
    assert record.output == "true"


async def test_a_handler_gets_its_context_and_time_left_on_the_runners_clock() -> None:
    clock = FakeClock(start=1000)
    registry = ToolRegistry()
    seen: list[ToolContext] = []

    @registry.tool(timeout=30)
    async def inspect(context: ToolContext, label: str) -> str:
        seen.append(context)
        return f"{label}: {context.time_left()}s left"

    deadline = Deadline(expires_at=1_700_000_600, submit_by=1597)
    [record] = await dispatch_batch(
        [call("inspect", '{"label": "x"}', "call_9")],
        registry,
        clock=clock,
        deadline=deadline,
        run_id="run_1",
        thread_id="thread_1",
    )
    assert record.output == "x: 30.0s left"
    [context] = seen
    assert (context.run_id, context.thread_id, context.tool_call_id) == (
        "run_1",
        "thread_1",
        "call_9",
    )
    assert (context.tool_name, context.stop_at, context.expires_at) == (
        "inspect",
        1030,
        1_700_000_600,
    )
    assert context.clock is clock


async def test_long_outputs_are_truncated_with_a_visible_marker() -> None:
    registry = ToolRegistry(max_output_chars=1000)

    @registry.tool
    def dump() -> str:
        return "x" * 5000

    @registry.tool(max_output_chars=300)
    def short() -> str:
        return "y" * 301

    @registry.tool
    def fits() -> str:
        return "z" * 1000

    records = await dispatch_batch(
        [call("dump"), call("short"), call("fits")], registry, clock=FakeClock(), deadline=None
    )
    dumped, cut, kept = records
    assert len(dumped.output) == 1000 and dumped.truncated
    assert dumped.output.endswith("x…[truncated: 4034 more characters]")
    assert len(cut.output) == 300 and cut.output.endswith("…[truncated: 33 more characters]")
    assert kept.output == "z" * 1000 and not kept.truncated


async def test_a_long_error_output_stays_json_within_the_cap() -> None:
    registry = ToolRegistry(max_output_chars=300)

    @registry.tool
    def explode() -> str:
        raise ValueError('bad "thing" ' * 100)

    [record] = await dispatch_batch([call("explode")], registry, clock=FakeClock(), deadline=None)
    assert record.truncated and len(record.output) <= 300
    error = error_of(record.output)
    assert error["type"] == "handler_error"
    assert error["message"].startswith('ValueError: bad "thing"')
    assert "more characters]" in error["message"]


@given(text=st.text(max_size=400), limit=st.integers(min_value=40, max_value=400))
def test_truncation_never_exceeds_the_limit_and_says_how_much_it_cut(text: str, limit: int) -> None:
    cut = truncate_output(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    else:
        kept, _, marker = cut.partition("…[truncated: ")
        assert text.startswith(kept)
        assert marker == f"{len(text) - len(kept)} more characters]"


def failing_registry(
    fail_policy: ErrorPolicy, other_policy: ErrorPolicy = "return"
) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(on_error=fail_policy)
    def explode() -> str:
        raise RuntimeError("boom")

    @registry.tool(on_error=other_policy)
    def fragile(n: int) -> str:
        if n < 0:
            raise ValueError("negative")
        return str(n)

    @registry.tool
    async def slow_ok() -> str:
        await anyio.lowlevel.checkpoint()
        return "done"

    return registry


@pytest.mark.parametrize("policy", ["fail", "cancel"])
async def test_a_stopping_policy_raises_after_the_whole_batch_finished(
    policy: ErrorPolicy,
) -> None:
    sink = Collected()
    with pytest.raises(ToolPolicyError) as caught:
        await dispatch_batch(
            [call("explode"), call("slow_ok")],
            failing_registry(policy),
            clock=FakeClock(),
            deadline=None,
            events=sink,
        )
    finished = [e.record.name for e in sink.events if isinstance(e, ToolCallFinished)]
    error = caught.value
    assert error.policy == policy
    assert error.record.name == "explode"
    assert [(r.name, r.ok) for r in error.records] == [("explode", False), ("slow_ok", True)]
    assert sorted(finished) == ["explode", "slow_ok"]
    assert error_of(error.records[0].output)["message"] == "RuntimeError: boom"
    assert "tool 'explode' failed (handler_error: RuntimeError: boom)" in str(error)


async def test_fail_wins_over_cancel_and_the_models_mistakes_never_stop_the_run() -> None:
    registry = failing_registry("cancel", other_policy="fail")
    with pytest.raises(ToolPolicyError) as caught:
        await dispatch_batch(
            [call("explode"), call("fragile", '{"n": -1}')],
            registry,
            clock=FakeClock(),
            deadline=None,
        )
    assert (caught.value.policy, caught.value.record.name) == ("fail", "fragile")
    records = await dispatch_batch(
        [call("fragile", '{"n": "x"}'), call("missing")], registry, clock=FakeClock(), deadline=None
    )
    assert [r.error.kind for r in records if r.error] == ["invalid_arguments", "unknown_tool"]


async def test_a_timeout_counts_as_a_handler_failure_for_the_policy() -> None:
    clock = FakeClock(start=0)
    registry = ToolRegistry()

    @registry.tool(timeout=5, on_error="cancel")
    async def hang() -> str:
        await anyio.Event().wait()
        return "never"

    async def advance() -> None:
        await clock.wait_for_sleepers(1)
        clock.advance(5)

    async with anyio.create_task_group() as group:
        group.start_soon(advance)
        with pytest.raises(ToolPolicyError) as caught:
            await dispatch_batch([call("hang")], registry, clock=clock, deadline=None)
    assert caught.value.record.error == ToolFailure(
        "timeout", "the handler was cancelled: it did not finish within its timeout of 5s"
    )


async def test_max_concurrency_bounds_the_executions_of_a_tool() -> None:
    registry = ToolRegistry()
    running, peak = 0, 0
    release = anyio.Event()

    @registry.tool(max_concurrency=2)
    async def limited(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return n

    async def release_when_blocked() -> None:
        await anyio.wait_all_tasks_blocked()
        assert running == 2
        release.set()

    calls = [call("limited", f'{{"n": {n}}}', f"c{n}") for n in range(5)]
    async with anyio.create_task_group() as group:
        group.start_soon(release_when_blocked)
        records = await dispatch_batch(calls, registry, clock=FakeClock(), deadline=None)
    assert peak == 2
    assert [r.output for r in records] == ["0", "1", "2", "3", "4"]


async def test_waiting_for_a_slot_counts_against_the_deadline() -> None:
    clock = FakeClock(start=1000)
    registry = ToolRegistry()
    release = anyio.Event()

    @registry.tool(max_concurrency=1)
    async def single() -> str:
        await release.wait()
        return "done"

    async def expire_the_waiter() -> None:
        await clock.wait_for_sleepers(2)  # both watchdogs: one call runs, one waits for a slot
        await anyio.wait_all_tasks_blocked()
        clock.advance(10)  # past the second call's own stop time only
        release.set()

    async def run_batch() -> list[ToolCallRecord]:
        first = dispatch_batch(
            [call("single", call_id="a")],
            registry,
            clock=clock,
            deadline=Deadline(expires_at=2000, submit_by=1597),
        )
        second = dispatch_batch(
            [call("single", call_id="b")],
            registry,
            clock=clock,
            deadline=Deadline(expires_at=2000, submit_by=1005),
        )
        results: list[ToolCallRecord] = []

        async def collect(batch: Any) -> None:
            results.extend(await batch)

        async with anyio.create_task_group() as inner:
            inner.start_soon(collect, first)
            await anyio.wait_all_tasks_blocked()
            inner.start_soon(collect, second)
        return sorted(results, key=lambda record: record.call_id)

    async with anyio.create_task_group() as group:
        group.start_soon(expire_the_waiter)
        waited_for, starved = await run_batch()
    assert waited_for.output == "done"
    assert starved.error is not None and starved.error.kind == "timeout"
    assert "never started: all 1 slots of the tool (max_concurrency)" in starved.error.message


async def test_each_call_is_reported_from_start_to_output_or_abandonment() -> None:
    registry = ToolRegistry()
    blocked, answered = anyio.Event(), anyio.Event()

    @registry.tool
    async def quick() -> str:
        answered.set()  # no checkpoint after this: its output is reported before `answered` wakes
        return "fast"

    @registry.tool
    async def stuck() -> str:
        blocked.set()
        await anyio.sleep_forever()
        return "never"

    sink = Collected()
    calls = [call("quick"), call("stuck")]
    clock = FakeClock()
    async with anyio.create_task_group() as group:

        async def dispatch() -> None:
            await dispatch_batch(calls, registry, clock=clock, deadline=None, events=sink)

        group.start_soon(dispatch)
        await blocked.wait()
        await answered.wait()
        group.cancel_scope.cancel()
    kinds = {(type(e).__name__, getattr(e, "call", None) or e.record.call_id) for e in sink.events}
    started = [e.call.id for e in sink.events if isinstance(e, ToolCallStarted)]
    finished = [e.record.output for e in sink.events if isinstance(e, ToolCallFinished)]
    abandoned = [e.call.id for e in sink.events if isinstance(e, ToolCallAbandoned)]
    assert sorted(started) == ["call_quick", "call_stuck"]
    assert finished == ["fast"]
    assert abandoned == ["call_stuck"]
    assert len(kinds) == 4
