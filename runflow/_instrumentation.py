"""The hooks a Runner gives tracing and metrics: one context around each run, and its events.

Tracing wraps the loop instead of being sprinkled through it: the Runner enters one
`Instrumentation.run()` context per run, around everything it does for that run, and the
`RunObserver` it gives is one more sink of the run's events (`runflow._events`). The loop never
names tracing: a tool call's span is opened on `ToolCallStarted` (emitted in the task that
runs the handler, so spans the handler makes nest under it) and closed on `ToolCallFinished`
or `ToolCallAbandoned`; a submission's span lasts from `OutputsSubmitted` to `SubmissionEnded`.

`runflow.OpenTelemetryInstrumentation` is the implementation runflow ships;
`NoInstrumentation` does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from runflow._events import RunEvent, RunSink

__all__ = ["Instrumentation", "NoInstrumentation", "RunInfo", "RunObserver"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What is known of a run before it is created."""

    assistant_id: str
    thread_id: str | None
    """None when the run creates its own thread (create-thread-and-run)."""
    options: Mapping[str, Any]
    """The run parameters passed to creation (model, instructions, metadata...)."""
    provider_name: str
    server_address: str | None
    mode: Literal["stream", "poll"]
    assistant_name: str | None = None
    """The assistant's name when the caller gave it (traces name the run span after it)."""


class RunObserver(RunSink, Protocol):
    """The sink of one run's events that an `Instrumentation` gives for it."""

    @property
    def wants_steps(self) -> bool:
        """Whether run steps are worth a request when they do not stream in (polling)."""
        ...


class Instrumentation(Protocol):
    """What `Runner(instrumentation=...)` takes: one `RunObserver` per run, entered around it."""

    def run(self, info: RunInfo) -> AbstractContextManager[RunObserver]:
        """Entered around everything runflow does for one run; an exception leaving it is
        the reason the run was abandoned."""
        ...


class _NoRunObserver:
    wants_steps = False
    event_types = ()  # takes none (see `runflow._sinks.Fanout`)

    async def emit(self, event: RunEvent) -> None:
        pass


class NoInstrumentation:
    """Instrumentation that records nothing."""

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[RunObserver]:
        yield _NoRunObserver()
