"""A batch of tool calls: concurrency, error outputs, and the deadline (on a fake clock)."""

import json

import anyio
import pytest

from runflow import Deadline, ToolRegistry
from runflow.dispatch import dispatch_batch
from runflow.lifecycle import ToolCallRequest
from runflow.testing import FakeClock

pytestmark = pytest.mark.anyio


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
