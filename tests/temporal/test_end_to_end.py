"""A run end to end on Temporal, against the run server: parallel calls on two workers."""

from __future__ import annotations

import anyio
import pytest
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runflow import RunStatus, ToolRegistry
from runflow_temporal import TemporalRunner, Worker
from tests.temporal.conftest import assistant_and_thread

pytestmark = pytest.mark.anyio


def pair_tools() -> ToolRegistry:
    """`slow_step`, whose calls each wait until two are running at once (or time out)."""
    registry = ToolRegistry()
    running = 0
    both = anyio.Event()

    @registry.tool(timeout=20)
    async def slow_step(step: str) -> str:
        """A step that only finishes beside another.

        Args:
            step: the step's name.
        """
        nonlocal running
        running += 1
        if running == 2:
            both.set()
        await both.wait()
        return f"{step} done"

    return registry


async def test_parallel_calls_run_on_two_workers(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "parallel")
    registry = pair_tools()
    target = temporal.client.service_client.config.target_host
    clients = [await Client.connect(target) for _ in range(2)]  # one worker per client
    workers = [
        Worker(
            client,
            registry,
            openai_client=openai_client,
            task_queue=task_queue,
            max_concurrent_activities=1,  # so the two calls, running at once, are on two
            identity=name,
        )
        for client, name in zip(clients, ("w1", "w2"), strict=True)
    ]
    runner = TemporalRunner(temporal.client, task_queue=task_queue)
    async with workers[0], workers[1]:
        handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
        result = await handle.result()
        progress = await handle.progress()

    assert result.status is RunStatus.COMPLETED
    assert sorted(record.output for record in result.tool_calls) == ["a done", "b done"]
    assert all(record.ok for record in result.tool_calls)
    assert result.output_text == "a done, b done"
    assert {call.worker for call in progress.tool_calls} == {"w1", "w2"}
    assert (progress.status, progress.rounds, progress.run_id) == ("completed", 1, result.run.id)
    assert result.run.metadata["runflow_run_key"] == handle.workflow_id


async def test_starting_the_same_key_twice_is_one_run(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "hello")
    runner = TemporalRunner(temporal.client, task_queue=task_queue)
    first = await runner.start(
        assistant_id=assistant_id, thread_id=thread_id, key="k-" + task_queue
    )
    second = await runner.start(
        assistant_id=assistant_id, thread_id=thread_id, key="k-" + task_queue
    )
    async with Worker(
        temporal.client, ToolRegistry(), openai_client=openai_client, task_queue=task_queue
    ):
        one, two = await first.result(), await second.result()
    assert one.run.id == two.run.id
    assert one.output_text == "hello"
    runs = await openai_client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.id for run in runs.data] == [one.run.id]
