"""Worker: a Temporal worker that runs the run workflows and their activities.

    worker = Worker(temporal_client, registry, openai_client=client, task_queue="runs")
    async with worker:        # or: await worker.run()
        ...

Built from the same `ToolRegistry` as the core's `Runner`. Any number of workers, in any
number of processes, may poll one task queue: each tool call of a run may run on any of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from types import TracebackType

from openai import AsyncOpenAI
from opentelemetry import trace
from temporalio.client import Client
from temporalio.worker import Interceptor
from temporalio.worker import Worker as TemporalWorker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from runflow_temporal._core import ToolRegistry
from runflow_temporal.activities import RunActivities
from runflow_temporal.workflow import RunWorkflow

__all__ = ["Worker", "workflow_runner"]

_PASSED_THROUGH = ("runflow", "runflow_temporal", "openai", "pydantic", "anyio", "opentelemetry")


def workflow_runner() -> SandboxedWorkflowRunner:
    """Temporal's sandbox, with runflow and its dependencies imported once, outside it: the
    workflow only uses their pure parts (`decide`, `Deadline`, the records)."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*_PASSED_THROUGH)
    return SandboxedWorkflowRunner(restrictions=restrictions)


class Worker:
    """Runs `RunWorkflow`s and their activities for one task queue.

    Args:
        client: a connected `temporalio.client.Client`.
        registry: the tools the runs may call.
        openai_client: the client runs are driven with (`AsyncOpenAI` / `AsyncAzureOpenAI`).
        task_queue: the queue to poll (the `TemporalRunner`'s).
        at_most_once: tools never run twice: an attempt lost with its worker becomes a
            `handler_error` output instead of being run again (the default is at least once).
        max_concurrent_activities: activities this worker runs at once (tool calls included).
        max_handler_threads: threads for sync handlers.
        identity: how this worker names itself (in Temporal and in the tool outcomes).
        interceptors: more worker interceptors (the client's, like the tracing one, apply too).
        tracer_provider: where runflow's tool call and submission spans go (global when None).
    """

    def __init__(
        self,
        client: Client,
        registry: ToolRegistry,
        *,
        openai_client: AsyncOpenAI,
        task_queue: str,
        at_most_once: Collection[str] = (),
        max_concurrent_activities: int = 200,
        max_handler_threads: int = 16,
        identity: str | None = None,
        interceptors: Sequence[Interceptor] = (),
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        unknown = set(at_most_once) - {tool.name for tool in registry}
        if unknown:
            raise ValueError(f"at_most_once names tools not in the registry: {sorted(unknown)}")
        self.activities = RunActivities(
            openai_client,
            registry,
            at_most_once=at_most_once,
            max_handler_threads=max_handler_threads,
            identity=identity,
            tracer_provider=tracer_provider,
        )
        self._worker = TemporalWorker(
            client,
            task_queue=task_queue,
            workflows=[RunWorkflow],
            activities=self.activities.all(),
            max_concurrent_activities=max_concurrent_activities,
            identity=self.activities.identity,
            interceptors=interceptors,
            workflow_runner=workflow_runner(),
        )

    async def run(self) -> None:
        """Poll the task queue until cancelled (or `shutdown()`)."""
        await self._worker.run()

    async def shutdown(self) -> None:
        """Stop polling, let the running activities finish."""
        await self._worker.shutdown()

    async def __aenter__(self) -> Worker:
        await self._worker.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._worker.__aexit__(exc_type, exc, traceback)
