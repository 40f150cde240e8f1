"""Determinism (temporalio's Replayer over recorded histories), resuming after the Temporal
server restarts, and one trace per run."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from openai import AsyncOpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from runflow import OpenTelemetryInstrumentation, RunStatus, ToolRegistry
from runflow_temporal import RunWorkflow, TemporalRunner, Worker, tracing_interceptors
from runflow_temporal.worker import workflow_runner
from tests.temporal.conftest import assistant_and_thread
from tests.temporal.support import free_port, start_dev_server
from tests.tools import weather_tools

pytestmark = pytest.mark.anyio

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("RUNFLOW_TEMPORAL_RECORD", "") not in ("", "0")
"""`RUNFLOW_TEMPORAL_RECORD=1` writes the histories of this run's workflows to histories/."""


def replayer() -> Replayer:
    return Replayer(workflows=[RunWorkflow], workflow_runner=workflow_runner())


@pytest.mark.parametrize(
    "history",
    [
        pytest.param(WorkflowHistory.from_json(path.stem, path.read_text()), id=path.stem)
        for path in sorted(HISTORIES.glob("*.json"))
    ],
)
async def test_recorded_histories_replay(history: WorkflowHistory) -> None:
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize(
    ("scenario", "mode"),
    [("parallel_weather", "stream"), ("parallel_weather", "poll"), ("fails", "stream")],
)
async def test_fresh_histories_replay(
    temporal: WorkflowEnvironment,
    openai_client: AsyncOpenAI,
    task_queue: str,
    scenario: str,
    mode: str,
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, scenario)
    runner = TemporalRunner(temporal.client, task_queue=task_queue, mode=mode)
    async with Worker(
        temporal.client, weather_tools(), openai_client=openai_client, task_queue=task_queue
    ):
        handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
        await handle.result()
    history = await temporal.client.get_workflow_handle(handle.workflow_id).fetch_history()
    if RECORD:
        (HISTORIES / f"{scenario}-{mode}.json").write_text(history.to_json())
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None


async def test_a_run_resumes_after_the_temporal_server_restarts(
    openai_client: AsyncOpenAI, task_queue: str, tmp_path: Path
) -> None:
    assistant_id, thread_id = await assistant_and_thread(openai_client, "one_step")
    registry = ToolRegistry()
    started, go = anyio.Event(), anyio.Event()
    runs = 0

    @registry.tool
    async def slow_step(step: str) -> str:
        """Waits for the test's go.

        Args:
            step: the step's name.
        """
        nonlocal runs
        runs += 1
        started.set()
        await go.wait()
        return f"{step} done"

    db, port = tmp_path / "temporal.db", free_port()
    env = await start_dev_server(db=db, port=port)
    client = env.client
    runner = TemporalRunner(client, task_queue=task_queue, heartbeat_timeout=30)
    try:
        async with Worker(client, registry, openai_client=openai_client, task_queue=task_queue):
            handle = await runner.start(assistant_id=assistant_id, thread_id=thread_id)
            await started.wait()
            await env.shutdown()  # the server goes away in the middle of the handler
            env = await start_dev_server(db=db, port=port)  # and comes back, same database
            go.set()
            result = await runner.handle(handle.workflow_id).result()
    finally:
        await env.shutdown()
    assert result.status is RunStatus.COMPLETED
    assert [record.output for record in result.tool_calls] == ["only done"]
    assert runs == 1


async def test_one_trace_per_run(
    temporal: WorkflowEnvironment, openai_client: AsyncOpenAI, task_queue: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    target = temporal.client.service_client.config.target_host
    client = await Client.connect(target, interceptors=tracing_interceptors(provider))
    assistant_id, thread_id = await assistant_and_thread(openai_client, "parallel_weather")
    runner = TemporalRunner(
        client,
        task_queue=task_queue,
        instrumentation=OpenTelemetryInstrumentation(tracer_provider=provider),
    )
    async with Worker(
        client,
        weather_tools(),
        openai_client=openai_client,
        task_queue=task_queue,
        tracer_provider=provider,
    ):
        result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert result.status is RunStatus.COMPLETED
    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert f"invoke_agent {assistant_id}" in names
    assert {
        "StartWorkflow:runflow.run",
        "RunActivity:runflow.tool",
        "execute_tool get_weather",
        "execute_tool get_time",
        "submit_tool_outputs",
    } <= names
    assert len({span.context.trace_id for span in spans}) == 1
    [tool_span] = [span for span in spans if span.name == "execute_tool get_weather"]
    assert tool_span.attributes is not None
    call_ids = {record.call_id: record.name for record in result.tool_calls}
    assert call_ids[str(tool_span.attributes["gen_ai.tool.call.id"])] == "get_weather"
