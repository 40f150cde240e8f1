"""Everything a Runner does with a run, as one stream of events, and the sinks that consume it.

The loop and the tool dispatch report only by emitting `RunEvent`s; tracing, the journal,
`on_event` callbacks and `RunHandle.events()` are sinks of that one stream. In the order a run
with one tool round emits them::

    RunRequested          the run is about to be created (its client key, its parameters)
    RunCreated            the service created it: its id is known
    StatusChanged         queued, in_progress, requires_action...
    StepSeen              a run step was created or changed
    MessageDelta          a piece of the assistant's text (streaming only)
    RunPolled             the run was retrieved to learn its status (polling)
    ToolCallStarted       a handler starts (in the task that runs it)
    ToolCallFinished      its output is known (a result or an error output)
    ToolCallAbandoned     or: the call was stopped before it had an output
    OutputsSubmitted      the submission request starts, `time_left` before `expires_at`
    SubmissionEnded       it was answered (or failed)
    RunEnded              runflow is done with the run

A sink's `emit` is awaited, in order, before the loop goes on: that is how the journal keeps
its guarantee (an output is durable before it is submitted: `ToolCallFinished` is emitted, and
the journal has written it, before `OutputsSubmitted`). Tool call events come from the task
that runs the handler, so a sink may make something current around it (tracing makes the tool
span current there). Pass `on_event=` to `Runner.run` to receive the events as they happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep

from runflow._lifecycle import RunStatus, ToolCallRequest

if TYPE_CHECKING:
    from runflow._dispatch import ToolCallRecord
    from runflow._result import RunResult

__all__ = [
    "EventCallback",
    "MessageDelta",
    "OutputsSubmitted",
    "RunCreated",
    "RunEnded",
    "RunEvent",
    "RunPolled",
    "RunRequested",
    "RunSink",
    "StatusChanged",
    "StepSeen",
    "SubmissionEnded",
    "ToolCallAbandoned",
    "ToolCallFinished",
    "ToolCallStarted",
]


@dataclass(frozen=True, slots=True)
class RunRequested:
    """The run is about to be created (before the create request), tagged with `key`."""

    key: str
    """The client key the run carries in its metadata (see `runflow._journal`)."""
    assistant_id: str
    thread_id: str | None
    """None when the run creates its own thread."""
    options: Mapping[str, Any]
    new_thread: Mapping[str, Any] | None
    """The `thread` parameters when the run creates its own thread."""


@dataclass(frozen=True, slots=True)
class RunCreated:
    """The run's id is known: the first snapshot of it seen (after `resume()` too)."""

    run: Run
    at: float

    @property
    def run_id(self) -> str:
        return self.run.id


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The run was seen in a new status (`previous` is None for the first observation)."""

    run_id: str
    previous: RunStatus | None
    status: RunStatus
    at: float
    run: Run = field(repr=False, compare=False)
    """The snapshot the new status was seen in."""


@dataclass(frozen=True, slots=True)
class StepSeen:
    """A run step was created or changed (streamed, or listed after a poll when a sink wants
    steps)."""

    run_id: str
    step: RunStep


@dataclass(frozen=True, slots=True)
class RunPolled:
    """The run was retrieved once to learn its status."""

    run_id: str
    at: float


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A handler starts, in the task that runs it (a sink may make something current there)."""

    run_id: str
    call: ToolCallRequest
    at: float


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """The call has its output (a result or an error output); also for an output the journal
    had, submitted without running the handler again."""

    run_id: str
    record: ToolCallRecord


@dataclass(frozen=True, slots=True)
class ToolCallAbandoned:
    """The call was stopped before it had an output (the run was cancelled); no output."""

    run_id: str
    call: ToolCallRequest
    error: BaseException


@dataclass(frozen=True, slots=True)
class OutputsSubmitted:
    """Outputs for these calls are being submitted, `time_left` seconds before `expires_at`."""

    run_id: str
    tool_call_ids: Sequence[str]
    time_left: float | None
    """Seconds left before `expires_at` (estimated conservatively), None without a deadline."""
    expires_at: float | None
    """The run's `expires_at` (server epoch seconds)."""
    at: float


@dataclass(frozen=True, slots=True)
class SubmissionEnded:
    """The submission request was answered (`error` None), or failed with `error` (the run
    may still go on: a refusal after the outputs had landed)."""

    run_id: str
    tool_call_ids: Sequence[str]
    error: BaseException | None
    at: float


@dataclass(frozen=True, slots=True)
class MessageDelta:
    """A piece of the assistant's message text, as it streams in."""

    run_id: str
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class RunEnded:
    """runflow is done with the run: it reached `status`, or driving it stopped with `error`.

    `status` and `result` are None when the run was never created; `result` is what is known
    of the run (partial when `error` is set)."""

    run_id: str
    status: RunStatus | None
    result: RunResult | None
    error: BaseException | None


RunEvent = (
    RunRequested
    | RunCreated
    | StatusChanged
    | StepSeen
    | RunPolled
    | ToolCallStarted
    | ToolCallFinished
    | ToolCallAbandoned
    | OutputsSubmitted
    | SubmissionEnded
    | MessageDelta
    | RunEnded
)
"""Every event a run emits, in the order the module docstring lists them."""
EventCallback = Callable[[RunEvent], None]
"""An `on_event` callback; one that raises is logged, it never breaks the run."""


class RunSink(Protocol):
    """A consumer of one run's events.

    A sink may say which events it takes with an `event_types` attribute, a tuple of event
    classes (the others are not given to it); without one it takes every event.
    """

    async def emit(self, event: RunEvent) -> None:
        """Take `event`; awaited before the run goes on (a sink that raises stops the run)."""
        ...
