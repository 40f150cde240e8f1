"""Runs over worker processes (`runflow temporal worker`): many runs shared between three
processes, then one of them killed in the middle of a handler (the tests share the three
processes, which take seconds to start: the kill test runs last and needs two of them)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest
from openai import AsyncOpenAI
from temporalio.testing import WorkflowEnvironment

from runflow import RunStatus
from runflow_temporal import TemporalRunner
from tests.temporal.conftest import assistant_and_thread
from tests.temporal.support import (
    HEAVY,
    WorkerProcess,
    free_port,
    probe,
    workers_running,
)

pytestmark = pytest.mark.anyio


@dataclass
class Pool:
    workers: list[WorkerProcess]
    task_queue: str
    probe_port: int


@pytest.fixture(scope="module")
async def pool(temporal: WorkflowEnvironment, server_url: str) -> AsyncIterator[Pool]:
    """Three worker processes on one task queue, their tools reporting to one probe port."""
    target = temporal.client.service_client.config.target_host
    port, queue = free_port(), f"pool-{uuid.uuid4().hex[:8]}"
    env = {"RUNFLOW_TEMPORAL_PROBE": f"127.0.0.1:{port}"}
    async with workers_running(
        3, target=target, task_queue=queue, base_url=server_url, env=env
    ) as workers:
        yield Pool(workers, queue, port)


@pytest.mark.parametrize("runs", [300 if HEAVY else 12])
async def test_many_runs_shared_by_three_worker_processes(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, pool: Pool, runs: int
) -> None:
    assistant = await openai_client.beta.assistants.create(
        model="gpt-4o", metadata={"scenario": "whoami"}
    )
    runner = TemporalRunner(temporal.client, task_queue=pool.task_queue)
    results = []

    async def one() -> None:
        results.append(await runner.run(assistant_id=assistant.id, thread={}))

    async with anyio.create_task_group() as group:
        for _ in range(runs):
            group.start_soon(one)

    assert len(results) == runs
    assert all(result.status is RunStatus.COMPLETED for result in results)
    pids = [int(result.tool_calls[0].output.split(":")[1]) for result in results]
    assert set(pids) == {worker.pid for worker in pool.workers}  # every process took a share
    assert len({result.run.id for result in results}) == runs


async def test_a_worker_killed_mid_handler_another_finishes_the_run(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, pool: Pool
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "one_step")
    runner = TemporalRunner(temporal.client, task_queue=pool.task_queue, heartbeat_timeout=1.0)
    async with probe(pool.probe_port) as tools_probe:
        handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
        first = await tools_probe.next_start()
        [victim] = [worker for worker in pool.workers if worker.pid == first.pid]
        victim.kill()  # in the middle of the handler: it never answers
        second = await tools_probe.next_start()  # retried on another worker
        await tools_probe.go(second)
        result = await handle.result()

    assert second.pid != first.pid and second.call_id == first.call_id
    assert len(tools_probe.starts) == 2  # at least once: twice here, once per attempt
    assert result.status is RunStatus.COMPLETED
    [record] = result.tool_calls
    assert record.ok and record.output == f"only done by {second.pid}"
    steps = await openai_client.beta.threads.runs.steps.list(result.run.id, thread_id=thread_id)
    submitted = [
        call
        for step in steps.data
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
    ]
    assert [(call.id, call.function.output) for call in submitted] == [  # type: ignore[union-attr]
        (first.call_id, f"only done by {second.pid}")
    ]
