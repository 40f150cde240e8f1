"""Every run path a service meets: polling, new threads, busy threads, handles, cancellation."""

import anyio
import anyio.lowlevel
import pytest

from runflow import (
    RunCancelledError,
    Runner,
    RunStatus,
    StatusChanged,
    ThreadBusyError,
    ToolCallStarted,
    ToolRegistry,
)
from runflow.testing import FakeClock
from tests.conftest import ServerFactory
from tests.tools import hanging_tool

pytestmark = pytest.mark.anyio

S = RunStatus
TWO_ROUNDS = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "a"}}]},
    {"tool_calls": [{"name": "echo", "arguments": {"text": "b"}}]},
    {"message": "got {outputs}"},
]


def echo_tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def echo(text: str) -> str:
        return text.upper()

    return registry


async def test_polling_mode_honours_poll_after_and_never_polls_a_finished_run(
    make_server: ServerFactory,
) -> None:
    clock = FakeClock()
    server = make_server(TWO_ROUNDS, clock=clock)
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, echo_tools(), mode="poll", clock=clock)

    async with clock.autojump() as waits:
        result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.COMPLETED
    assert result.output_text == "got B"  # fetched: polling sees no message stream
    assert [r.output for r in result.tool_calls] == ["A", "B"]
    assert result.polls >= 1
    # The server asks for 200 ms between polls (openai-poll-after-ms) and gets exactly that.
    assert waits and waits == [pytest.approx(0.2)] * len(waits)
    methods = [request.split()[0] for request in server.requests]
    assert methods.count("POST") == 3  # create + 2 submissions, nothing streamed
    assert server.requests[-1] == f"GET /v1/threads/{thread_id}/messages"
    assert server.requests[-2].startswith("GET /v1/threads/")  # the poll that saw it complete


@pytest.mark.parametrize("mode", ["stream", "poll"])
async def test_a_run_on_a_new_thread(make_server: ServerFactory, mode: str) -> None:
    clock = FakeClock()
    server = make_server(TWO_ROUNDS[1:], clock=clock)
    assistant_id, _ = await server.assistant_and_thread()
    runner = Runner(server.client, echo_tools(), mode=mode, clock=clock)  # type: ignore[arg-type]

    async with clock.autojump():
        result = await runner.run(
            assistant_id=assistant_id,
            thread={"messages": [{"role": "user", "content": "hello"}]},
        )

    assert result.status is S.COMPLETED
    assert result.output_text == "got B"
    assert server.requests[0] == "POST /v1/threads/runs"
    messages = await server.client.beta.threads.messages.list(result.run.thread_id, order="asc")
    assert [m.role for m in messages.data] == ["user", "assistant"]


async def start_blocking_run(server_client, assistant_id: str, thread_id: str) -> str:  # type: ignore[no-untyped-def]
    """A run left in requires_action by someone else: the thread is busy."""
    run = await server_client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=1
    )
    assert run.status == "requires_action"
    run_id: str = run.id
    return run_id


BUSY = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "someone else's"}}]},
    {"message": "other run done"},
    {"message": "our run done"},
]


@pytest.mark.leaves_steps("the run keeping the thread busy waits in requires_action")
async def test_thread_policy_raise_names_the_active_run(make_server: ServerFactory) -> None:
    server = make_server(BUSY)
    assistant_id, thread_id = await server.assistant_and_thread()
    active = await start_blocking_run(server.client, assistant_id, thread_id)

    with pytest.raises(ThreadBusyError) as raised:
        await Runner(server.client, echo_tools(), thread_policy="raise").run(
            thread_id=thread_id, assistant_id=assistant_id
        )

    assert raised.value.active_run_id == active
    assert raised.value.thread_id == thread_id
    assert f"already has an active run {active}" in str(raised.value)


async def test_thread_policy_cancel_cancels_the_active_run_then_runs(
    make_server: ServerFactory,
) -> None:
    server = make_server([*BUSY[:1], {"message": "our run done"}])
    assistant_id, thread_id = await server.assistant_and_thread()
    active = await start_blocking_run(server.client, assistant_id, thread_id)

    result = await Runner(server.client, echo_tools(), thread_policy="cancel").run(
        thread_id=thread_id, assistant_id=assistant_id
    )

    assert result.output_text == "our run done"
    other = await server.client.beta.threads.runs.retrieve(active, thread_id=thread_id)
    assert other.status == "cancelled"


async def test_thread_policy_wait_waits_for_the_active_run_to_end(
    make_server: ServerFactory,
) -> None:
    clock = FakeClock()
    server = make_server(BUSY, clock=clock)
    assistant_id, thread_id = await server.assistant_and_thread()
    active = await start_blocking_run(server.client, assistant_id, thread_id)
    run = await server.client.beta.threads.runs.retrieve(active, thread_id=thread_id)
    assert run.required_action is not None
    [call] = run.required_action.submit_tool_outputs.tool_calls
    runner = Runner(server.client, echo_tools(), thread_policy="wait", clock=clock)

    async def finish_the_other_run() -> None:
        await clock.wait_for_sleepers(1)  # the runner is waiting for the thread
        await server.client.beta.threads.runs.submit_tool_outputs(
            active, thread_id=thread_id, tool_outputs=[{"tool_call_id": call.id, "output": "x"}]
        )
        async with clock.autojump():
            await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(finish_the_other_run)
        result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
        group.cancel_scope.cancel()

    assert result.output_text == "our run done"


async def test_runs_on_one_thread_from_one_process_are_serialised(
    make_server: ServerFactory,
) -> None:
    server = make_server([{"message": "first"}, {"message": "second"}])
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, echo_tools(), thread_policy="raise")
    texts: list[str] = []

    async def one_run() -> None:
        result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
        texts.append(result.output_text)

    async with anyio.create_task_group() as group:
        group.start_soon(one_run)
        group.start_soon(one_run)

    assert sorted(texts) == ["first", "second"]  # never "already has an active run"


async def test_a_handle_streams_events_and_gives_the_result(make_server: ServerFactory) -> None:
    server = make_server(TWO_ROUNDS)
    assistant_id, thread_id = await server.assistant_and_thread()

    async with Runner(server.client, echo_tools()) as runner:
        handle = runner.start(thread_id=thread_id, assistant_id=assistant_id)
        events = [event async for event in handle.events()]
        result = await handle.result()

    assert handle.done and handle.run_id == result.run.id
    assert result.output_text == "got B"
    statuses = [e.status for e in events if isinstance(e, StatusChanged)]
    assert statuses[0] is S.QUEUED and statuses[-1] is S.COMPLETED
    assert [e.call.name for e in events if isinstance(e, ToolCallStarted)] == ["echo", "echo"]


async def test_cancelling_a_handle_cancels_the_server_run(make_server: ServerFactory) -> None:
    server = make_server([{"tool_calls": [{"name": "wait", "arguments": {}}]}])
    assistant_id, thread_id = await server.assistant_and_thread()
    registry, started = hanging_tool("wait")

    async with Runner(server.client, registry) as runner:
        handle = runner.start(thread_id=thread_id, assistant_id=assistant_id)
        await started.wait()
        result = await handle.cancel()

    assert result is not None and result.status is S.CANCELLED
    run = await server.client.beta.threads.runs.retrieve(result.run.id, thread_id=thread_id)
    assert run.status == "cancelled"
    with pytest.raises(RunCancelledError):
        (await handle.result()).raise_for_status()


async def test_caller_cancellation_cancels_the_server_run(make_server: ServerFactory) -> None:
    server = make_server([{"tool_calls": [{"name": "wait", "arguments": {}}]}])
    assistant_id, thread_id = await server.assistant_and_thread()
    registry, started = hanging_tool("wait")

    runner = Runner(server.client, registry)
    with anyio.CancelScope() as scope:

        async def cancel_when_started() -> None:
            await started.wait()
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(cancel_when_started)
            await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.status for run in runs.data] == ["cancelled"]


async def test_max_concurrent_runs_queues_the_extra_runs(make_server: ServerFactory) -> None:
    server = make_server([{"tool_calls": [{"name": "gate", "arguments": {}}]}, {"message": "ok"}])
    assistant_id, _ = await server.assistant_and_thread()
    registry = ToolRegistry()
    running = 0
    peak = 0

    @registry.tool
    async def gate() -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.lowlevel.checkpoint()
        running -= 1
        return "ok"

    runner = Runner(server.client, registry, max_concurrent_runs=1)
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(lambda: runner.run(assistant_id=assistant_id, thread={}))

    assert peak == 1


async def test_a_progress_callback_that_raises_does_not_break_the_run(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(TWO_ROUNDS)
    assistant_id, thread_id = await server.assistant_and_thread()

    def broken(event: object) -> None:
        raise RuntimeError("my dashboard is down")

    result = await Runner(server.client, echo_tools()).run(
        thread_id=thread_id, assistant_id=assistant_id, on_event=broken
    )

    assert result.status is S.COMPLETED and result.output_text == "got B"
    assert "my dashboard is down" in caplog.text


async def test_a_handle_cancelled_before_its_run_starts_never_creates_it(
    make_server: ServerFactory,
) -> None:
    server = make_server(TWO_ROUNDS)
    assistant_id, thread_id = await server.assistant_and_thread()

    async with Runner(server.client, echo_tools()) as runner:
        handle = runner.start(thread_id=thread_id, assistant_id=assistant_id)
        assert await handle.cancel() is None

    with pytest.raises(RunCancelledError, match="before the service created it"):
        await handle.result()
    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    assert runs.data == []
