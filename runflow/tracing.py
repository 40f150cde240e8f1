"""OpenTelemetry spans and metrics for runs, after the GenAI semantic conventions.

`OpenTelemetryInstrumentation` implements the Runner's `Instrumentation` hooks. Each run
gives one trace (or one subtree of the caller's)::

    invoke_agent {assistant}       CLIENT    the run; each status change is an event on it
    ├── run_step tool_calls        INTERNAL  one per API run step, back-dated from the step
    ├── execute_tool {name}        INTERNAL  one per tool call, current while the handler runs
    ├── submit_tool_outputs        CLIENT    one per submission request
    └── run_step message_creation

Spans carry the `gen_ai.*` attributes dashboards read, OpenInference's `openinference.span.kind`
(Arize Phoenix classifies by it) and runflow's own under `runflow.`. A run that does not end
`completed`, a tool call that ends in an error output and a refused submission get status
ERROR with `error.type`; a failed tool call never fails the run span by itself.

Message text, tool arguments and tool outputs are recorded only when asked for, by
`capture_content=True` or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`. Nothing of
the client (API keys, headers) is ever read. Without an OpenTelemetry SDK configured, the
global providers are no-ops and a run costs a few non-recording spans.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import anyio
from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from runflow._attributes import (
    Attributes,
    agent_name,
    created_run_attributes,
    ended_run_attributes,
    output_content,
    request_model,
    run_attributes,
    step_attributes,
    tool_attributes,
)
from runflow._metrics import RunMetrics
from runflow.dispatch import ToolCallObserver, ToolCallRecord
from runflow.instrumentation import Instrumentation, RunInfo, RunObserver
from runflow.lifecycle import RunStatus, ToolCallRequest
from runflow.result import UNHAPPY_ENDS, RunResult, end_detail

__all__ = ["CAPTURE_CONTENT_ENV", "OpenTelemetryInstrumentation", "default_instrumentation"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_VALUES = {"true", "1", "yes", "on", "span_only", "span_and_event"}
_STEP_ENDS = {"completed": "completed_at", "failed": "failed_at"}
_STEP_ENDS |= {"cancelled": "cancelled_at", "expired": "expired_at"}
_SECOND_NS = 1_000_000_000


def default_instrumentation() -> Instrumentation:
    """The instrumentation a Runner uses when none is given: OpenTelemetry through the global
    tracer and meter providers (no-ops until an SDK is configured)."""
    return _global_instrumentation()


@cache
def _global_instrumentation() -> OpenTelemetryInstrumentation:
    return OpenTelemetryInstrumentation()


class OpenTelemetryInstrumentation:
    """Spans and metrics for every run, run step, tool call and submission.

    Args:
        tracer_provider: Where spans go; the global provider when None.
        meter_provider: Where metrics go; the global provider when None.
        capture_content: Record message text, tool arguments and outputs. When None, read
            `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` at the start of each run.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool | None = None,
    ) -> None:
        self._tracer = trace.get_tracer("runflow", _version(), tracer_provider=tracer_provider)
        meter = metrics.get_meter("runflow", _version(), meter_provider=meter_provider)
        self._metrics = RunMetrics.create(meter)
        self._capture_content = capture_content

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[RunObserver]:
        capture = self._capture_content
        if capture is None:
            capture = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_VALUES
        started_ns = time.time_ns()
        span = self._tracer.start_span(
            f"invoke_agent {agent_name(info) or info.assistant_id}",
            kind=SpanKind.CLIENT,
            attributes=run_attributes(info, capture),
            start_time=started_ns,
        )
        observer = _RunSpan(self._tracer, self._metrics, capture, info, span, started_ns)
        with trace.use_span(span, record_exception=False, set_status_on_exception=False):
            try:
                yield observer
            except BaseException as exc:
                observer.close(exc)
                raise
            observer.close(None)


@dataclass(eq=False)
class _RunSpan:
    """The `RunObserver` of one run: its span, and what it counts until the run ends."""

    tracer: trace.Tracer
    metrics: RunMetrics
    capture: bool
    info: RunInfo
    span: trace.Span
    started_ns: int
    started: float = field(default_factory=time.monotonic)
    run: Run | None = None
    result: RunResult | None = None
    polls: int = 0
    rounds: int = 0
    steps_seen: dict[str, int] = field(default_factory=lambda: {})
    """Step id -> when runflow first saw it (ns)."""
    open_steps: dict[str, RunStep] = field(default_factory=lambda: {})
    """Steps seen but not ended yet, by id."""
    written_steps: set[str] = field(default_factory=lambda: set())

    def status_changed(
        self, run: Run, previous: RunStatus | None, status: RunStatus, at: float
    ) -> None:
        if self.run is None:
            self.span.set_attributes(created_run_attributes(run, self.info))
        self.run = run
        event: Attributes = {"runflow.run.status": status.value}
        if previous is not None:
            event["runflow.run.previous_status"] = previous.value
        self.span.add_event("runflow.run.status_changed", event)

    @property
    def wants_steps(self) -> bool:
        return self.span.is_recording()

    def step_changed(self, step: RunStep) -> None:
        if not self.span.is_recording():
            return
        if step.id in self.written_steps:
            return
        now = time.time_ns()
        self.steps_seen.setdefault(step.id, now)
        if step.status in _STEP_ENDS:
            self.open_steps.pop(step.id, None)
            self._write_step(step, now)
        else:
            self.open_steps[step.id] = step

    def polled(self) -> None:
        self.polls += 1

    @contextmanager
    def tool_call(self, call: ToolCallRequest, run: Run) -> Iterator[ToolCallObserver]:
        span = self.tracer.start_span(
            f"execute_tool {call.name}",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.INTERNAL,
            attributes=tool_attributes(call, run, self.capture),
        )
        observer = _ToolSpan(span, call.name, self.metrics, self.capture)
        with trace.use_span(
            span, end_on_exit=True, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield observer
            except BaseException as exc:
                observer.abandoned(exc)
                raise

    @contextmanager
    def submission(
        self, run: Run, tool_call_ids: Sequence[str], time_left: float | None
    ) -> Iterator[None]:
        self.rounds += 1
        self.metrics.submitted(self._service_attributes(), time_left)
        attributes = self._service_attributes() | {
            "gen_ai.conversation.id": run.thread_id,
            "runflow.run.id": run.id,
            "runflow.submission.tool_call_ids": list(tool_call_ids),
        }
        if time_left is not None:
            attributes["runflow.submission.time_left"] = time_left
        span = self.tracer.start_span(
            "submit_tool_outputs",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        with trace.use_span(
            span, end_on_exit=True, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield
            except BaseException as exc:
                _set_error(span, _error_type(exc))
                raise

    def finished(self, result: RunResult) -> None:
        self.result = result
        self.run = result.run

    def close(self, exc: BaseException | None) -> None:
        """The run context is left: write what remains, end the span, record the metrics."""
        now = time.time_ns()
        for step in list(self.open_steps.values()):
            self._write_step(step, now)
        attributes = {"gen_ai.operation.name": "invoke_agent", **self._service_attributes()}
        if self.run is not None:
            attributes["gen_ai.request.model"] = request_model(self.info, self.run)
        error_type = self._end_span(exc)
        if error_type is not None:
            attributes["error.type"] = error_type
        usage = None if self.run is None else self.run.usage
        self.metrics.run_ended(
            attributes,
            duration=time.monotonic() - self.started,
            polls=self.polls,
            input_tokens=None if usage is None else usage.prompt_tokens,
            output_tokens=None if usage is None else usage.completion_tokens,
        )

    def _end_span(self, exc: BaseException | None) -> str | None:
        """Set the final attributes and status; return the `error.type`, if any."""
        span, run = self.span, self.run
        span.set_attributes(
            {"runflow.run.tool_rounds": self.rounds, "runflow.run.polls": self.polls}
        )
        if run is not None:
            span.set_attributes(ended_run_attributes(run))
        if self.result is not None:
            span.set_attribute("runflow.run.retries", self.result.retries)
        if self.capture and self.result is not None:
            span.set_attributes(output_content(self.result))
        error_type = None
        if exc is not None:
            error_type = _error_type(exc)
            if error_type != "cancelled":
                span.record_exception(exc)
            _set_error(span, error_type)
        elif run is not None and RunStatus(run.status) in UNHAPPY_ENDS:
            error_type = run.status
            _set_error(span, error_type, f"run ended {run.status}{end_detail(run)}")
        span.end()
        return error_type

    def _service_attributes(self) -> Attributes:
        """Who was called (no ids: these are metric attributes too)."""
        attributes: Attributes = {"gen_ai.provider.name": self.info.provider_name}
        if self.info.server_address:
            attributes["server.address"] = self.info.server_address
        return attributes

    def _write_step(self, step: RunStep, now: int) -> None:
        """One span for one run step, from its own whole-second timestamps: each end is the
        latest instant both they and the moment runflow saw it allow, inside the run span."""
        self.written_steps.add(step.id)
        seen = self.steps_seen[step.id]
        start = max(self.started_ns, min(step.created_at * _SECOND_NS + _SECOND_NS, seen))
        ended_at = getattr(step, _STEP_ENDS.get(step.status, ""), None)
        end = now if ended_at is None else min(int(ended_at) * _SECOND_NS + _SECOND_NS, now)
        span = self.tracer.start_span(
            f"run_step {step.type}",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.INTERNAL,
            attributes=step_attributes(step),
            start_time=start,
        )
        if step.status in ("failed", "cancelled", "expired"):
            code = step.last_error.code if step.last_error is not None else step.status
            _set_error(span, code)
        span.end(end_time=max(start, end))


@dataclass(eq=False)
class _ToolSpan:
    """The `ToolCallObserver` of one tool call."""

    span: trace.Span
    tool_name: str
    metrics: RunMetrics
    capture: bool

    def finished(self, record: ToolCallRecord) -> None:
        outcome = "ok" if record.error is None else record.error.kind
        self.span.set_attribute("runflow.tool.outcome", outcome)
        if self.capture:
            self.span.set_attributes(
                {"gen_ai.tool.call.result": record.output, "output.value": record.output}
            )
        if record.error is not None:
            _set_error(self.span, outcome, record.error.message if self.capture else None)
        self.metrics.tool_call_ended(self.tool_name, outcome, record.duration)

    def abandoned(self, exc: BaseException) -> None:
        """The call was stopped before it produced an output (the run was cancelled)."""
        error_type = _error_type(exc)
        self.span.set_attribute("runflow.tool.outcome", error_type)
        _set_error(self.span, error_type)
        self.metrics.tool_call_ended(self.tool_name, error_type, None)


def _set_error(span: trace.Span, error_type: str, description: str | None = None) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, description))


def _error_type(exc: BaseException) -> str:
    """`cancelled` for the caller's cancellation, else the exception's qualified class name."""
    if _is_cancellation(exc):
        return "cancelled"
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _is_cancellation(exc: BaseException) -> bool:
    try:
        return isinstance(exc, anyio.get_cancelled_exc_class())
    except Exception:  # not in an event loop anyio knows
        return False


@cache
def _version() -> str:
    try:
        return version("runflow")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return ""
