"""How runs end on Temporal: a hanging tool's timeout output, expiry, cancellation, a failed
run, tool policies, the thread policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runflow import RunFailedError, RunStatus, ThreadBusyError, ToolPolicyError, ToolRegistry
from runflow_temporal import TemporalRunner, Worker
from tests.temporal.conftest import assistant_and_thread
from tests.temporal.support import run_server
from tests.tools import hanging_tool

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def worker(
    temporal: WorkflowEnvironment, client: AsyncOpenAI, registry: ToolRegistry, queue: str
) -> AsyncIterator[Worker]:
    connected = await Client.connect(temporal.client.service_client.config.target_host)
    async with Worker(connected, registry, openai_client=client, task_queue=queue) as running:
        yield running


@pytest.fixture
async def short_lived() -> AsyncIterator[AsyncOpenAI]:
    """A client of a run server whose runs expire 4 s after creation."""
    with run_server(run_expiry_seconds=4) as url:
        client = AsyncOpenAI(base_url=f"{url}/v1", api_key="test", max_retries=0)
        yield client
        await client.close()


async def test_a_hanging_tool_gets_a_timeout_output_before_expiry(
    temporal: WorkflowEnvironment, short_lived: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(short_lived, "hang")
    registry, started = hanging_tool("hang")
    runner = TemporalRunner(temporal.client, task_queue=task_queue, safety_margin=1.5)
    async with worker(temporal, short_lived, registry, task_queue):
        result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert started.is_set()
    assert result.status is RunStatus.COMPLETED
    [record] = result.tool_calls
    assert record.error is not None and record.error.kind == "timeout"
    assert "before the run's deadline" in record.output
    assert result.output_text.startswith('the tool said {"error": {"type": "timeout"')


async def test_a_run_that_expires_ends_expired(
    temporal: WorkflowEnvironment, short_lived: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(short_lived, "slow_model")
    runner = TemporalRunner(temporal.client, task_queue=task_queue, mode="poll")
    async with worker(temporal, short_lived, ToolRegistry(), task_queue):
        result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert result.status is RunStatus.EXPIRED
    assert result.polls > 0


async def test_cancelling_the_workflow_cancels_the_tool_and_the_run(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "hang")
    registry = ToolRegistry()
    started, stopped = anyio.Event(), anyio.Event()

    @registry.tool(name="hang")
    async def hang() -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.set()
        return "never"

    runner = TemporalRunner(temporal.client, task_queue=task_queue, heartbeat_timeout=1.0)
    async with worker(temporal, openai_client, registry, task_queue):
        handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
        await started.wait()
        await handle.cancel()
        result = await handle.result()
        await stopped.wait()  # the handler was cancelled, not left running
    assert result.status is RunStatus.CANCELLED
    run = await openai_client.beta.threads.runs.retrieve(result.run.id, thread_id=thread_id)
    assert run.status == "cancelled"


async def test_a_failed_run_is_a_result_that_raises_for_status(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "fails")
    runner = TemporalRunner(temporal.client, task_queue=task_queue)
    async with worker(temporal, openai_client, ToolRegistry(), task_queue):
        result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert result.status is RunStatus.FAILED
    with pytest.raises(RunFailedError, match="server_error: the model broke"):
        result.raise_for_status()


@pytest.mark.parametrize(("policy", "status"), [("cancel", "cancelled"), ("fail", None)])
async def test_a_failing_tools_policy_stops_the_run(
    temporal: WorkflowEnvironment,
    openai_client: AsyncOpenAI,
    task_queue: str,
    policy: str,
    status: str | None,
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "policy")
    registry = ToolRegistry()

    @registry.tool(on_error=policy)  # type: ignore[call-overload]
    async def explode() -> str:
        raise ValueError("boom")

    runner = TemporalRunner(temporal.client, task_queue=task_queue)
    async with worker(temporal, openai_client, registry, task_queue):
        if status is not None:
            result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
            assert result.status == status
            assert result.tool_calls[0].output.startswith('{"error": {"type": "handler_error"')
            return
        with pytest.raises(ToolPolicyError) as raised:
            await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert raised.value.policy == "fail"
    assert raised.value.record.error is not None
    assert raised.value.record.error.message == "ValueError: boom"
    [run] = (await openai_client.beta.threads.runs.list(thread_id=thread_id)).data
    assert run.status == "cancelled"


async def busy_thread(client: AsyncOpenAI) -> tuple[str, str, str]:
    """An assistant, and a thread whose active run waits for a tool output nobody sends."""
    assistant_id, thread_id = await assistant_and_thread(client, "busy")
    other = await client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )
    assert other.status == "requires_action"
    return assistant_id, thread_id, other.id


async def test_thread_policy_raise(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id, other_id = await busy_thread(openai_client)
    runner = TemporalRunner(temporal.client, task_queue=task_queue, thread_policy="raise")
    async with worker(temporal, openai_client, ToolRegistry(), task_queue):
        with pytest.raises(ThreadBusyError) as raised:
            await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert (raised.value.thread_id, raised.value.active_run_id) == (thread_id, other_id)


async def test_thread_policy_cancel(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id, other_id = await busy_thread(openai_client)
    registry, _ = hanging_tool("hang")
    runner = TemporalRunner(temporal.client, task_queue=task_queue)
    async with worker(temporal, openai_client, registry, task_queue):
        handle = await runner.start(
            assistant_id=assistant_id, thread_id=thread_id, thread_policy="cancel"
        )
        progress = await handle.progress()
        while progress.status != "requires_action":  # our run got the thread
            progress = await handle.progress()
        await handle.cancel()
        result = await handle.result()
    other = await openai_client.beta.threads.runs.retrieve(other_id, thread_id=thread_id)
    assert other.status == "cancelled"
    assert result.run.id != other_id and result.status is RunStatus.CANCELLED


async def test_thread_policy_wait(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id, other_id = await busy_thread(openai_client)
    runner = TemporalRunner(temporal.client, task_queue=task_queue, mode="poll")
    registry, _ = hanging_tool("hang")
    async with worker(temporal, openai_client, registry, task_queue):
        handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
        await openai_client.beta.threads.runs.cancel(other_id, thread_id=thread_id)
        progress = await handle.progress()
        while progress.status != "requires_action":  # it waited, then got the thread
            progress = await handle.progress()
        await handle.cancel()
        result = await handle.result()
    assert result.run.id != other_id and result.status is RunStatus.CANCELLED
