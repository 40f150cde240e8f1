"""Runs over worker processes (`runflow temporal worker`): one killed in the middle of a
handler, and many runs shared between three processes."""

from __future__ import annotations

import anyio
import pytest
from openai import AsyncOpenAI
from temporalio.testing import WorkflowEnvironment

from runflow import RunStatus
from runflow_temporal import TemporalRunner
from tests.temporal.conftest import assistant_and_thread
from tests.temporal.support import HEAVY, probe, workers_running

pytestmark = pytest.mark.anyio


async def test_a_worker_killed_mid_handler_another_finishes_the_run(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, server_url: str, task_queue: str
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "one_step")
    target = temporal.client.service_client.config.target_host
    runner = TemporalRunner(temporal.client, task_queue=task_queue, heartbeat_timeout=1.0)
    async with probe() as tools_probe:
        env = {"RUNFLOW_TEMPORAL_PROBE": tools_probe.address}
        async with workers_running(
            2, target=target, task_queue=task_queue, base_url=server_url, env=env
        ) as workers:
            handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
            first = await tools_probe.next_start()
            [victim] = [worker for worker in workers if worker.pid == first.pid]
            victim.kill()  # in the middle of the handler: it never answers
            second = await tools_probe.next_start()  # retried on the other worker
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


@pytest.mark.parametrize("runs", [300 if HEAVY else 12])
async def test_many_runs_shared_by_three_worker_processes(
    temporal: WorkflowEnvironment,
    openai_client: AsyncOpenAI,
    server_url: str,
    task_queue: str,
    runs: int,
) -> None:
    assistant = await openai_client.beta.assistants.create(
        model="gpt-4o", metadata={"scenario": "whoami"}
    )
    target = temporal.client.service_client.config.target_host
    runner = TemporalRunner(temporal.client, task_queue=task_queue)
    results = []

    async def one() -> None:
        results.append(await runner.run(assistant_id=assistant.id, thread={}))

    async with (
        workers_running(
            3, target=target, task_queue=task_queue, base_url=server_url, env={}
        ) as workers,
        anyio.create_task_group() as group,
    ):
        for _ in range(runs):
            group.start_soon(one)

    assert len(results) == runs
    assert all(result.status is RunStatus.COMPLETED for result in results)
    pids = [int(result.tool_calls[0].output.split(":")[1]) for result in results]
    assert set(pids) == {worker.pid for worker in workers}  # every process took a share
    assert len({result.run.id for result in results}) == runs
