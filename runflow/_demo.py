"""`runflow demo`: one tool-calling run, end to end, on the in-process local run server.

No network, no keys. The scripted assistant asks for two tools in parallel, then one more,
then answers with a message that quotes their outputs. Everything the Runner does is printed
as it happens, then the run's span tree. With `otlp=URL` (or `OTEL_EXPORTER_OTLP_ENDPOINT`)
the spans also go to that OTLP/HTTP endpoint: Phoenix, Jaeger, an OpenTelemetry Collector...
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

import anyio

from runflow._events import (
    MessageDelta,
    OutputsSubmitted,
    RunEvent,
    StatusChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow._instrumentation import Instrumentation
from runflow._runner import Runner
from runflow._tools import ToolRegistry
from runflow._tracing import OpenTelemetryInstrumentation, default_instrumentation
from runflow.testing import inprocess_client

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["DEMO_SCENARIO", "demo_tools", "run_demo"]

QUESTION = "I land in Lisbon tonight. What's the weather and local time there, in Fahrenheit?"

DEMO_SCENARIO: dict[str, Any] = {
    "name": "lisbon-trip",
    "steps": [
        {
            "tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Lisbon"}},
                {"name": "get_local_time", "arguments": {"city": "Lisbon"}},
            ]
        },
        {"tool_calls": [{"name": "convert_temperature", "arguments": {"celsius": 21}}]},
        {
            "message": (
                "Lisbon right now: {output.get_weather}, local time {output.get_local_time}. "
                "In Fahrenheit that is {output.convert_temperature}."
            )
        },
    ],
}


def demo_tools() -> ToolRegistry:
    """The demo's registry: three small tools with realistic (simulated) latency."""
    registry = ToolRegistry()

    @registry.tool
    async def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city name, e.g. "Lisbon".
        """
        await anyio.sleep(0.30)
        return f"21°C and sunny in {city}"

    @registry.tool
    async def get_local_time(city: str) -> str:
        """Local wall-clock time in a city.

        Args:
            city: The city name.
        """
        await anyio.sleep(0.15)
        return f"21:40 in {city}"

    @registry.tool(timeout=5)
    def convert_temperature(
        celsius: float, to: Literal["fahrenheit", "kelvin"] = "fahrenheit"
    ) -> str:
        """Convert a temperature from Celsius.

        Args:
            celsius: Degrees Celsius.
            to: The unit to convert to.
        """
        time.sleep(0.05)  # a sync handler: runs in a worker thread
        value = celsius * 9 / 5 + 32 if to == "fahrenheit" else celsius + 273.15
        return f"{value:.1f}°{'F' if to == 'fahrenheit' else 'K'}"

    return registry


async def run_demo(out: TextIO = sys.stdout, *, otlp: str | None = None) -> int:
    """Run the demo, printing as it goes; return the process exit code.

    `otlp`: an OTLP/HTTP endpoint for the run's spans (`http://host:4318`, or the full
    `.../v1/traces`); `OTEL_EXPORTER_OTLP_ENDPOINT` when None.
    """
    tracing = _DemoTracing.start(out, otlp or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    try:
        return await _run(out, tracing.instrumentation if tracing else default_instrumentation())
    finally:
        if tracing is not None:
            tracing.finish()


async def _run(out: TextIO, instrumentation: Instrumentation) -> int:
    server = _load_server()
    tools = demo_tools()
    app = server.create_app(scenario=server.Scenario.model_validate(DEMO_SCENARIO))
    client = inprocess_client(app)
    async with client:
        assistant = await client.beta.assistants.create(
            model="gpt-4o", name="Trip helper", tools=tools.definitions()
        )
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        _print(out, f"assistant {assistant.id} with tools: {', '.join(t.name for t in tools)}")
        _print(out, f"thread {thread.id}\nuser: {QUESTION}\n")
        started = time.perf_counter()
        runner = Runner(client, tools, instrumentation=instrumentation)
        result = await runner.run(
            thread_id=thread.id,
            assistant_id=assistant.id,
            assistant_name=assistant.name,
            on_event=_printer(out, started),
        )
    _print(out, f"\nassistant: {result.output_text}")
    _print(
        out,
        f"\nrun {result.run.id} ended {result.status.value} "
        f"after {time.perf_counter() - started:.2f}s, {len(result.tool_calls)} tool calls",
    )
    if result.status.value != "completed":
        return 1
    from runflow._demo_code import run_code_demo  # the code interpreter part

    return await run_code_demo(out, server)


def _printer(out: TextIO, started: float) -> Any:
    def on_event(event: RunEvent) -> None:
        stamp = f"[{time.perf_counter() - started:6.2f}s]"
        match event:
            case StatusChanged(run_id=run_id, previous=previous, status=status):
                before = previous.value if previous else "(new)"
                _print(out, f"{stamp} run {run_id}: {before} -> {status.value}")
            case ToolCallStarted(call=call):
                _print(out, f"{stamp}   call {call.name}({call.arguments}) started")
            case ToolCallFinished(record=record):
                outcome = record.output if record.ok else f"ERROR {record.output}"
                _print(
                    out,
                    f"{stamp}   call {record.name} -> {outcome} ({record.duration * 1000:.0f} ms)",
                )
            case OutputsSubmitted(tool_call_ids=ids, time_left=time_left):
                left = "unknown" if time_left is None else f"{time_left:.1f}s"
                _print(out, f"{stamp}   submitting {len(ids)} output(s), {left} before expires_at")
            case MessageDelta():
                pass

    return on_event


def _print(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def _load_server() -> Any:
    try:
        return importlib.import_module("runflow_server")
    except ImportError as exc:
        raise SystemExit(
            "the demo needs the local run server: pip install runflow-server "
            f"(or `uv sync` in the runflow repository) [{exc}]"
        ) from exc


class _DemoTracing:
    """A TracerProvider of the demo's own (never the global one): spans kept in memory for the
    tree printed at the end, and batched to an OTLP/HTTP endpoint when one is given."""

    def __init__(self, out: TextIO, endpoint: str | None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.out, self.endpoint = out, endpoint
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": "runflow-demo"}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.sender: _CountingExporter | None = None
        if endpoint is not None:
            self.sender = _CountingExporter(_otlp_exporter(endpoint))
            # The SDK is optional, so the wrapper only has the SpanExporter's methods.
            self.provider.add_span_processor(BatchSpanProcessor(cast("SpanExporter", self.sender)))
        self.instrumentation = OpenTelemetryInstrumentation(tracer_provider=self.provider)

    @classmethod
    def start(cls, out: TextIO, endpoint: str | None) -> _DemoTracing | None:
        try:
            return cls(out, endpoint)
        except ImportError:
            _print(out, "(for the run's span tree: pip install runflow[otel])")
            return None

    def finish(self) -> None:
        """Flush and print: the span tree, then what reached the endpoint."""
        self.provider.shutdown()
        spans = self.memory.get_finished_spans()
        trace_ids = sorted({f"{span.context.trace_id:032x}" for span in spans if span.context})
        _print(self.out, f"\nspans (trace {', '.join(trace_ids)}):")
        for line in span_tree(spans):
            _print(self.out, f"  {line}")
        if self.sender is not None:
            _print(self.out, self.sender.summary(self.endpoint or ""))


def span_tree(spans: Sequence[ReadableSpan]) -> list[str]:
    """One line per span: indented under its parent, with its duration and error status."""
    ids = {span.context.span_id for span in spans if span.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    lines: list[str] = []

    def visit(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
            duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
            error = (span.attributes or {}).get("error.type")
            status = f"  ERROR {error}" if span.status.status_code.name == "ERROR" else ""
            lines.append(f"{'  ' * depth + span.name:<44} {duration:7.3f}s{status}")
            if span.context is not None:
                visit(span.context.span_id, depth + 1)

    visit(None, 0)
    return lines


def _otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"  # a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is
    return OTLPSpanExporter(endpoint=url, timeout=5)


class _CountingExporter:
    """Passes spans on to an exporter and counts what got through."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.sent = self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        result = self.exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def summary(self, endpoint: str) -> str:
        if self.failed:
            return f"could not send {self.failed} span(s) to {endpoint} (is it listening?)"
        return f"sent {self.sent} spans to {endpoint} over OTLP/HTTP"
