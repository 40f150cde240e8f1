"""Tracing fixtures: a private OpenTelemetry SDK (in-memory span exporter and metric reader) that
no other test shares; the server (`make_server`) is the one of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runflow import OpenTelemetryInstrumentation


class Telemetry:
    """A tracer and a meter provider of the test's own, and what they recorded."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def instrumentation(
        self, *, capture_content: bool | None = False
    ) -> OpenTelemetryInstrumentation:
        return OpenTelemetryInstrumentation(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            capture_content=capture_content,
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        [span] = [span for span in self.spans() if span.name == name]
        return span

    def tree(self) -> list[str]:
        """The span tree, one `indent + name` per span, children in the order they started."""
        return [f"{'  ' * depth}{span.name}" for depth, span in walk(self.spans())]

    def points(self, metric: str) -> list[HistogramDataPoint | NumberDataPoint]:
        """Every data point of `metric` recorded so far."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                found += [p for m in scope.metrics if m.name == metric for p in m.data.data_points]
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def walk(spans: list[ReadableSpan]) -> Iterator[tuple[int, ReadableSpan]]:
    """Depth-first over the spans' tree (several roots: several trees), by start time."""
    ids = {span.context.span_id for span in spans if span.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)

    def visit(parent: int | None, depth: int) -> Iterator[tuple[int, ReadableSpan]]:
        for span in sorted(children.get(parent, []), key=lambda s: (s.start_time or 0, s.name)):
            yield depth, span
            assert span.context is not None
            yield from visit(span.context.span_id, depth + 1)

    yield from visit(None, 0)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    recorded = Telemetry()
    yield recorded
    recorded.shutdown()
