"""The contenders: runflow, and the loops users would write instead.

Each is one adapter, `async def run_once(client, assistant_id, thread_id, tools) -> status`,
that drives one run on `thread_id` to its end and returns the final status. Baselines:

1. `hand-stream`: the hand-written `openai` streaming loop, the floor for a client: create the
   run with `stream=True`, run the calls with `asyncio.gather`, `submit_tool_outputs(stream=True)`.
2. `sdk-poll`: the SDK's `create_and_poll` / `submit_tool_outputs_and_poll` and manual dispatch
   (default poll interval: the server's `openai-poll-after-ms` header, else 1 s).
3. `poll-1s`: fixed 1-second polling in the style of azure-ai-agents' `create_and_process`
   (sleep, retrieve, run the calls one after the other, submit).

Every contender ends holding the run's answer, as `RunResult.messages` holds it for runflow: the
streaming loops read the messages in their streams; the polling loops list the run's messages
once it has completed, as the SDK's and Azure's examples of these helpers do (one request).

A contender whose runflow feature is not there yet (`runflow-poll`, `runflow-traced`) is listed
with the reason, and the tables show it as n/a.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from openai import AsyncOpenAI, AsyncStream
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from benchmarks.workload import Toolbox
from runflow import Runner

__all__ = ["BASELINE", "CONTENDERS", "Contender", "RunOnce"]

RunOnce = Callable[[AsyncOpenAI, str, str, Toolbox], Awaitable[str]]
BASELINE = "hand-stream"
_ACTIVE = ("queued", "in_progress", "requires_action")


@dataclass(frozen=True)
class Contender:
    name: str
    what: str
    run_once: RunOnce
    polls: bool = False
    """Slow by design (it sleeps between polls): measured with fewer repetitions."""
    check: Callable[[], str | None] = lambda: None
    """Why it cannot run here, or None when it can."""

    @property
    def unavailable(self) -> str | None:
        return self.check()


# -- baseline 1: the hand-written streaming loop -------------------------------------------


async def hand_stream(
    client: AsyncOpenAI, assistant_id: str, thread_id: str, tools: Toolbox
) -> str:
    runs = client.beta.threads.runs
    stream = await runs.create(thread_id=thread_id, assistant_id=assistant_id, stream=True)
    while True:
        run = await _last_run(stream)
        if run.status != "requires_action" or run.required_action is None:
            return run.status
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = await asyncio.gather(
            *(tools.call(call.function.name, call.function.arguments) for call in calls)
        )
        stream = await runs.submit_tool_outputs(
            run.id,
            thread_id=thread_id,
            stream=True,
            tool_outputs=[
                {"tool_call_id": call.id, "output": output}
                for call, output in zip(calls, outputs, strict=True)
            ],
        )


async def _last_run(stream: AsyncStream[AssistantStreamEvent]) -> Run:
    """The run as the last run event of the stream showed it."""
    run: Run | None = None
    async with stream:
        async for event in stream:
            if isinstance(event.data, Run):
                run = event.data
    if run is None:
        raise RuntimeError("the stream carried no run event")
    return run


# -- baseline 2: the SDK's polling helpers -------------------------------------------------


async def sdk_poll(client: AsyncOpenAI, assistant_id: str, thread_id: str, tools: Toolbox) -> str:
    runs = client.beta.threads.runs
    run = await runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    while run.status == "requires_action" and run.required_action is not None:
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = await asyncio.gather(
            *(tools.call(call.function.name, call.function.arguments) for call in calls)
        )
        run = await runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread_id,
            tool_outputs=[
                {"tool_call_id": call.id, "output": output}
                for call, output in zip(calls, outputs, strict=True)
            ],
        )
    await _answer(client, thread_id, run)
    return run.status


# -- baseline 3: fixed 1-second polling (azure-ai-agents' create_and_process) ---------------


async def fixed_poll(client: AsyncOpenAI, assistant_id: str, thread_id: str, tools: Toolbox) -> str:
    runs = client.beta.threads.runs
    run = await runs.create(thread_id=thread_id, assistant_id=assistant_id)
    while run.status in _ACTIVE:
        await asyncio.sleep(1.0)
        run = await runs.retrieve(run.id, thread_id=thread_id)
        if run.status == "requires_action" and run.required_action is not None:
            outputs: list[ToolOutput] = []
            for call in run.required_action.submit_tool_outputs.tool_calls:
                output = await tools.call(call.function.name, call.function.arguments)
                outputs.append({"tool_call_id": call.id, "output": output})
            await runs.submit_tool_outputs(run.id, thread_id=thread_id, tool_outputs=outputs)
    await _answer(client, thread_id, run)
    return run.status


async def _answer(client: AsyncOpenAI, thread_id: str, run: Run) -> list[Message]:
    """What a polling loop does to read the answer: list the messages of a completed run."""
    if run.status != "completed":
        return []
    messages = client.beta.threads.messages
    page = await messages.list(thread_id=thread_id, run_id=run.id, order="asc", limit=100)
    return page.data


# -- runflow ---------------------------------------------------------------------------------


async def runflow_stream(
    client: AsyncOpenAI, assistant_id: str, thread_id: str, tools: Toolbox
) -> str:
    runner = Runner(client, tools.registry)
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
    return result.run.status


async def runflow_poll(
    client: AsyncOpenAI, assistant_id: str, thread_id: str, tools: Toolbox
) -> str:
    runner = Runner(client, tools.registry, mode="poll")
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
    return result.run.status


async def runflow_traced(
    client: AsyncOpenAI, assistant_id: str, thread_id: str, tools: Toolbox
) -> str:
    runner = Runner(client, tools.registry, instrumentation=_tracing().instrumentation)
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
    return result.run.status


def _poll_check() -> str | None:
    options: dict[str, Any] = {"mode": "poll"}  # untyped on purpose: the check must not fail
    try:
        Runner(AsyncOpenAI(api_key="-", base_url="http://127.0.0.1:9/v1"), **options)
    except TypeError:
        return 'Runner(..., mode="poll") does not exist yet'
    return None


class _Tracing:
    """The OpenTelemetry SDK as users would set it up: batch span processor, an exporter
    (here one that only counts), and an SDK meter provider."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from runflow import OpenTelemetryInstrumentation

        self.exporter = _CountingExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        self.instrumentation = OpenTelemetryInstrumentation(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )


@cache
def _tracing() -> _Tracing:
    return _Tracing()


def _tracing_check() -> str | None:
    try:
        _tracing()
    except ImportError:
        return "runflow.OpenTelemetryInstrumentation does not exist yet"
    except TypeError as exc:
        return f"OpenTelemetryInstrumentation(tracer_provider=, meter_provider=): {exc}"
    return None


def spans_exported() -> int | None:
    """Spans the traced contender's exporter received (None when it never ran)."""
    return _tracing().exporter.spans if _tracing_check() is None else None


class _CountingExporter(SpanExporter):
    """Exports nowhere: counts the spans (the cost measured is runflow's and the SDK's)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


CONTENDERS: list[Contender] = [
    Contender(BASELINE, "hand-written openai streaming loop (baseline 1)", hand_stream),
    Contender("sdk-poll", "SDK create_and_poll + manual dispatch (baseline 2)", sdk_poll, True),
    Contender("poll-1s", "fixed 1 s polling, create_and_process style (3)", fixed_poll, True),
    Contender("runflow-stream", "runflow Runner, streaming", runflow_stream),
    Contender("runflow-poll", "runflow Runner, polling mode", runflow_poll, True, _poll_check),
    Contender(
        "runflow-traced", "runflow streaming + OTel SDK", runflow_traced, check=_tracing_check
    ),
]
