"""The default instrumentation records nothing while no OpenTelemetry SDK is configured, and
every run started once one is (checked per run, so a Runner made before the SDK is traced).

Global providers can be set once per process, so the runs happen in a child process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import anyio
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from runflow import Runner
    from runflow._tracing import _no_sdk_configured
    from runflow.testing import LocalServer

    async def main():
        server = LocalServer([{"message": "hi"}])
        runner = Runner(server.client)
        assistant_id, thread_id = await server.assistant_and_thread()
        assert _no_sdk_configured()
        await runner.run(assistant_id=assistant_id, thread_id=thread_id)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        assert not _no_sdk_configured()
        await runner.run(assistant_id=assistant_id, thread_id=thread_id)
        print(sorted(span.name for span in exporter.get_finished_spans()))
        await server.aclose()

    anyio.run(main)
    """
)


def test_runs_are_traced_once_an_sdk_is_configured_globally() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("['invoke_agent asst_"), done.stdout
