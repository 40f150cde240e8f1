"""The demo prints its span tree and sends the spans to an OTLP/HTTP endpoint when given one."""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from runflow._demo import run_demo
from runflow._tracing import OpenTelemetryInstrumentation, default_instrumentation

pytestmark = pytest.mark.anyio

DEMO_TREE = [
    "invoke_agent Trip helper",
    "  run_step tool_calls",
    "  execute_tool get_weather",
    "  execute_tool get_local_time",
    "  submit_tool_outputs",
    "  run_step tool_calls",
    "  execute_tool convert_temperature",
    "  submit_tool_outputs",
    "  run_step message_creation",
]


class Collector:
    """A minimal OTLP/HTTP trace receiver on 127.0.0.1: it keeps the span names it gets."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.span_names: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                collector.paths.append(self.path)
                collector.span_names += [
                    span.name
                    for resource in request.resource_spans
                    for scope in resource.scope_spans
                    for span in scope.spans
                ]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def printed_tree(text: str) -> list[str]:
    """The span tree the demo printed: indented names, run ids cut to their prefix."""
    tree = text.split("\nspans (trace ", 1)[1]
    return [normal(match) for match in re.findall(r"^  ( *\S.*?)\s+\d+\.\d{3}s", tree, re.M)]


def normal(name: str) -> str:
    return re.sub(r"asst_\w+", "asst_", name)


async def test_the_demo_prints_its_span_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    out = io.StringIO()

    assert await run_demo(out) == 0

    assert printed_tree(out.getvalue()) == DEMO_TREE
    assert "sent" not in out.getvalue()


@pytest.mark.parametrize("how", ["argument", "environment"])
async def test_the_demo_sends_its_spans_over_otlp_http(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    out = io.StringIO()
    if how == "environment":
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)

    code = await run_demo(out, otlp=collector.url if how == "argument" else None)

    assert code == 0
    assert f"sent 9 spans to {collector.url} over OTLP/HTTP" in out.getvalue()
    assert set(collector.paths) == {"/v1/traces"}
    assert sorted(map(normal, collector.span_names)) == sorted(n.strip() for n in DEMO_TREE)


async def test_without_the_otel_extra_the_demo_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # import fails
    out = io.StringIO()

    assert await run_demo(out) == 0

    assert "(for the run's span tree: pip install runflow[otel])" in out.getvalue()
    assert "ended completed" in out.getvalue()
    assert "spans (trace" not in out.getvalue()


def test_runners_trace_through_the_global_providers_by_default() -> None:
    assert isinstance(default_instrumentation(), OpenTelemetryInstrumentation)
    assert default_instrumentation() is default_instrumentation()
