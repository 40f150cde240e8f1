"""Client CPU per run with tracing off, on without an SDK, and on with the SDK (not a test).

    uv run python tests/tracing/measure_overhead.py [--runs 200] [--rounds 3]

The local run server runs in a subprocess on 127.0.0.1, so `time.process_time()` here counts
the client only: the openai client, the Runner, and the instrumentation under test:

- off:      `NoInstrumentation()`
- no SDK:   `default_instrumentation()` with no global providers set (the API's no-ops)
- SDK:      a private `TracerProvider` with a `BatchSpanProcessor` (to an exporter that drops
            the spans: the cost of sending them is the exporter's) and a `MeterProvider`

Machines are noisy: the configurations are measured in turns, and each ratio is against the
"off" turns. One run of this script is one sample. A steadier figure follows: the events of one
recorded run replayed alone against each instrumentation, in microseconds per run.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
from openai import AsyncOpenAI
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from runflow import Instrumentation, NoInstrumentation, RunEvent, RunInfo, Runner, ToolRegistry
from runflow._tracing import OpenTelemetryInstrumentation, default_instrumentation


class DropSpans(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


class Recorder:
    """An instrumentation that records the events of one run, to replay them."""

    wants_steps = True

    def __init__(self) -> None:
        self.info: RunInfo | None = None
        self.events: list[RunEvent] = []

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[Recorder]:
        self.info = info
        yield self

    async def emit(self, event: RunEvent) -> None:
        self.events.append(event)

    async def replay(self, instrumentation: Instrumentation, times: int) -> float:
        """CPU microseconds per replayed run."""
        assert self.info is not None
        started = time.process_time()
        for _ in range(times):
            with instrumentation.run(self.info) as observer:
                for event in self.events:
                    await observer.emit(event)
        return (time.process_time() - started) / times * 1e6


def tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    return registry


def scenario(rounds: int) -> dict[str, object]:
    steps: list[dict[str, object]] = [
        {"tool_calls": [{"name": "lookup", "arguments": {"key": f"k{i}"}}]} for i in range(rounds)
    ]
    return {"name": "overhead", "steps": [*steps, {"message": "{outputs}"}]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def measure(
    client: AsyncOpenAI, assistant_id: str, instrumentation: Instrumentation, runs: int
) -> float:
    """CPU seconds per run."""
    runner = Runner(client, tools(), instrumentation=instrumentation)
    started = time.process_time()
    for _ in range(runs):
        thread = await client.beta.threads.create()
        result = await runner.run(thread_id=thread.id, assistant_id=assistant_id)
        assert result.status.value == "completed", result.run.last_error
    return (time.process_time() - started) / runs


@contextmanager
def serve(rounds: int) -> Iterator[str]:
    """The local run server in a subprocess on 127.0.0.1; yields its base URL once it answers."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        scenario_file = Path(tmp, "scenario.json")
        scenario_file.write_text(json.dumps(scenario(rounds)))
        command = [sys.executable, "-m", "runflow_server", "--port", str(port)]
        server = subprocess.Popen(
            [*command, "--scenario", str(scenario_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx2.get(f"{base}/v1/assistants/none")
                    break
                except httpx2.TransportError:
                    time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait()


async def main(base: str, runs: int, turns: int) -> None:
    exporter = DropSpans()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    configurations: dict[str, Callable[[], Instrumentation]] = {
        "off": NoInstrumentation,
        "no SDK": default_instrumentation,
        "SDK + batch": lambda: OpenTelemetryInstrumentation(
            tracer_provider=tracer_provider, meter_provider=meter_provider
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in configurations}
    recorder = Recorder()
    async with AsyncOpenAI(base_url=f"{base}/v1", api_key="local", max_retries=0) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", tools=tools().definitions())
        await measure(client, assistant.id, NoInstrumentation(), 20)  # warm up
        await measure(client, assistant.id, recorder, 1)
        for _ in range(turns):
            for name, make in configurations.items():
                samples[name].append(await measure(client, assistant.id, make(), runs // turns))
    tracer_provider.force_flush()
    off = sum(samples["off"]) / turns
    print(f"client CPU per run ({runs} runs per configuration, {turns} turns):")
    for name, values in samples.items():
        mean = sum(values) / turns
        print(f"  {name:<12} {mean * 1000:7.2f} ms   x{mean / off:.3f}")
    print(f"  (SDK + batch: {exporter.count / runs:.0f} spans per run)")
    print(f"the events of one run ({len(recorder.events)}) replayed alone, CPU per run:")
    for name, make in configurations.items():
        micros = await recorder.replay(make(), 2000)
        print(
            f"  {name:<12} {micros:7.1f} us   {micros / 1e6 / off:6.2%} of a run with tracing off"
        )
    tracer_provider.shutdown()


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=4)
    options = parser.parse_args()
    print(f"{options.rounds} tool rounds per run")
    with serve(options.rounds) as base_url:
        anyio.run(main, base_url, options.runs, options.turns)
