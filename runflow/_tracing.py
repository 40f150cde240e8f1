"""OpenTelemetry spans and metrics for runs, after the GenAI semantic conventions.

`OpenTelemetryInstrumentation` implements the Runner's `Instrumentation` hooks: the run span
is the context around the run, and everything inside it is written from the run's events
(`runflow._events`). Each run gives one trace (or one subtree of the caller's)::

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
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import Token
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import anyio
from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep
from opentelemetry import context, metrics, trace
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode

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
from runflow._dispatch import ToolCallRecord
from runflow._events import (
    OutputsSubmitted,
    RunCreated,
    RunEnded,
    RunEvent,
    RunPolled,
    StatusChanged,
    StepSeen,
    SubmissionEnded,
    ToolCallAbandoned,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow._instrumentation import Instrumentation, NoInstrumentation, RunInfo, RunObserver
from runflow._lifecycle import RunStatus, ToolCallRequest
from runflow._metrics import RunMetrics
from runflow._result import UNHAPPY_ENDS, RunResult, end_detail

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
        self._on_globals = tracer_provider is None and meter_provider is None

    def run(self, info: RunInfo) -> AbstractContextManager[RunObserver]:
        if self._on_globals and _no_sdk_configured():
            # Every span and instrument would be a no-op: skip making them (checked per run,
            # so the runs started once an SDK is configured are recorded).
            return _UNRECORDED.run(info)
        return self._recorded(info)

    @contextmanager
    def _recorded(self, info: RunInfo) -> Iterator[RunObserver]:
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


_Current = tuple[trace.Span, Token[context.Context]]
"""A span made current until its end, and the token that restores what was current before."""


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
    tool_spans: dict[str, _Current] = field(default_factory=lambda: {})
    """The spans of the tool calls running now, by call id."""
    submitting: _Current | None = None

    @property
    def wants_steps(self) -> bool:
        return self.span.is_recording()

    async def emit(self, event: RunEvent) -> None:
        match event:
            case RunCreated(run=run):
                self.span.set_attributes(created_run_attributes(run, self.info))
            case StatusChanged():
                self._status_changed(event)
            case StepSeen(step=step):
                self._step_changed(step)
            case RunPolled():
                self.polls += 1
            case ToolCallStarted(call=call):
                self._tool_started(call)
            case ToolCallFinished(record=record):
                self._tool_finished(record)
            case ToolCallAbandoned(call=call, error=error):
                self._tool_abandoned(call, error)
            case OutputsSubmitted():
                self._submission_started(event)
            case SubmissionEnded(error=error):
                self._submission_ended(error)
            case RunEnded(result=result, error=None) if result is not None:
                self.result, self.run = result, result.run

    def _status_changed(self, event: StatusChanged) -> None:
        self.run = event.run
        attributes: Attributes = {"runflow.run.status": event.status.value}
        if event.previous is not None:
            attributes["runflow.run.previous_status"] = event.previous.value
        self.span.add_event("runflow.run.status_changed", attributes)

    def _step_changed(self, step: RunStep) -> None:
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

    def _tool_started(self, call: ToolCallRequest) -> None:
        """The call's span, current from here (in the handler's task) until its end."""
        if self.run is None:
            return  # no run to attribute it to: the service broke the protocol
        span = self.tracer.start_span(
            f"execute_tool {call.name}",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.INTERNAL,
            attributes=tool_attributes(call, self.run, self.capture),
        )
        self.tool_spans[call.id] = (span, context.attach(trace.set_span_in_context(span)))

    def _tool_finished(self, record: ToolCallRecord) -> None:
        current = self.tool_spans.pop(record.call_id, None)
        if current is None:
            return  # an output from the journal: its handler did not run again
        span = _ended_current(current)
        outcome = "ok" if record.error is None else record.error.kind
        span.set_attribute("runflow.tool.outcome", outcome)
        if self.capture:
            span.set_attributes(
                {"gen_ai.tool.call.result": record.output, "output.value": record.output}
            )
        if record.error is not None:
            _set_error(span, outcome, record.error.message if self.capture else None)
        span.end()
        self.metrics.tool_call_ended(record.name, outcome, record.duration)

    def _tool_abandoned(self, call: ToolCallRequest, error: BaseException) -> None:
        """The call was stopped before it produced an output (the run was cancelled)."""
        current = self.tool_spans.pop(call.id, None)
        if current is None:
            return
        span = _ended_current(current)
        error_type = _error_type(error)
        span.set_attribute("runflow.tool.outcome", error_type)
        _set_error(span, error_type)
        span.end()
        self.metrics.tool_call_ended(call.name, error_type, None)

    def _submission_started(self, event: OutputsSubmitted) -> None:
        self.rounds += 1
        self.metrics.submitted(self._service_attributes(), event.time_left)
        attributes = self._service_attributes() | {
            "runflow.run.id": event.run_id,
            "runflow.submission.tool_call_ids": list(event.tool_call_ids),
        }
        if self.run is not None:
            attributes["gen_ai.conversation.id"] = self.run.thread_id
        if event.time_left is not None:
            attributes["runflow.submission.time_left"] = event.time_left
        span = self.tracer.start_span(
            "submit_tool_outputs",
            context=trace.set_span_in_context(self.span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        self.submitting = (span, context.attach(trace.set_span_in_context(span)))

    def _submission_ended(self, error: BaseException | None) -> None:
        if self.submitting is None:
            return
        span = _ended_current(self.submitting)
        self.submitting = None
        if error is not None:
            _set_error(span, _error_type(error))
        span.end()

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


def _ended_current(current: _Current) -> trace.Span:
    """The span, no longer current."""
    span, token = current
    context.detach(token)
    return span


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


_UNRECORDED = NoInstrumentation()


def _no_sdk_configured() -> bool:
    """Whether the global tracer and meter providers are still OpenTelemetry's proxies with no
    SDK behind them (their tracers and meters make only non-recording spans and no-op
    instruments)."""
    return isinstance(trace.get_tracer_provider(), ProxyTracerProvider) and isinstance(
        metrics.get_meter_provider(), _ProxyMeterProvider
    )


@cache
def _version() -> str:
    try:
        return version("runflow")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return ""
