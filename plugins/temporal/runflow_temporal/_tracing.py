"""runflow's spans, as the activities emit them (same names and attributes as the in-process
Runner's): `execute_tool {name}` per tool call and `submit_tool_outputs` per submission.

With temporalio's `TracingInterceptor` on the client and the workers (`tracing_interceptors()`),
they are children of the activity spans, which descend from the workflow, which descends from
the client's `invoke_agent` span: one trace per run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from temporalio.client import Interceptor

from runflow_temporal._core import ToolCallRecord, ToolCallRequest

__all__ = ["submission", "tool_call", "tracer", "tracing_interceptors"]


def tracing_interceptors(
    tracer_provider: trace.TracerProvider | None = None,
) -> list[Interceptor]:
    """temporalio's OpenTelemetry interceptor (it serves clients and workers alike), on
    `tracer_provider` (the global one when None)."""
    from temporalio.contrib.opentelemetry import TracingInterceptor

    tracer = trace.get_tracer("temporalio", tracer_provider=tracer_provider)
    return [TracingInterceptor(tracer)]


def tracer(tracer_provider: trace.TracerProvider | None = None) -> trace.Tracer:
    """runflow's tracer on `tracer_provider` (the global one when None)."""
    return trace.get_tracer("runflow", tracer_provider=tracer_provider)


class _ToolSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def finished(self, record: ToolCallRecord) -> None:
        outcome = "ok" if record.error is None else record.error.kind
        self._span.set_attribute("runflow.tool.outcome", outcome)
        if record.error is not None:
            self._span.set_attribute("error.type", outcome)
            self._span.set_status(Status(StatusCode.ERROR))


@contextmanager
def tool_call(
    _tracer: trace.Tracer, call: ToolCallRequest, run_id: str, thread_id: str
) -> Iterator[_ToolSpan]:
    """The span of one tool call, current while its handler runs."""
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": thread_id,
        "runflow.run.id": run_id,
    }
    with _tracer.start_as_current_span(
        f"execute_tool {call.name}", kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield _ToolSpan(span)


@contextmanager
def submission(
    _tracer: trace.Tracer, run_id: str, thread_id: str, call_ids: Sequence[str]
) -> Iterator[None]:
    """The span of one submission of tool outputs."""
    attributes = {
        "gen_ai.conversation.id": thread_id,
        "runflow.run.id": run_id,
        "runflow.submission.tool_call_ids": list(call_ids),
    }
    with _tracer.start_as_current_span(
        "submit_tool_outputs", kind=SpanKind.CLIENT, attributes=attributes
    ):
        yield
