"""runflow-temporal: Assistants runs as Temporal workflows, each tool call an activity.

client = await temporalio.client.Client.connect("localhost:7233")
worker = Worker(client, registry, openai_client=openai_client, task_queue="runs")
runner = TemporalRunner(client, task_queue="runs")
result = await runner.run(thread_id=..., assistant_id=...)      # the core's RunResult
"""

from runflow_temporal._tracing import tracing_interceptors
from runflow_temporal._types import Progress, ToolOutcome
from runflow_temporal.activities import RunActivities
from runflow_temporal.runner import TemporalRunHandle, TemporalRunner
from runflow_temporal.worker import Worker
from runflow_temporal.workflow import RunWorkflow

__all__ = [
    "Progress",
    "RunActivities",
    "RunWorkflow",
    "TemporalRunHandle",
    "TemporalRunner",
    "ToolOutcome",
    "Worker",
    "tracing_interceptors",
]
__version__ = "0.1.0"
