"""The hooks a Runner calls while it drives a run, for tracing and metrics.

Tracing wraps the loop instead of being sprinkled through it: the Runner opens one
`Instrumentation.run()` context per run and, inside it, one `tool_call()` context around each
handler (so spans a handler makes nest under its tool span) and one `submission()` context
around each submission request. Everything else is a plain notification.

`runflow.tracing.OpenTelemetryInstrumentation` is the implementation runflow ships;
`NoInstrumentation` does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep

from runflow.dispatch import UNTRACED, ToolCallObserver
from runflow.lifecycle import RunStatus, ToolCallRequest

if TYPE_CHECKING:
    from runflow.result import RunResult

__all__ = [
    "Instrumentation",
    "NoInstrumentation",
    "RunInfo",
    "RunObserver",
    "ToolCallObserver",
]


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


class RunObserver(Protocol):
    @property
    def wants_steps(self) -> bool:
        """Whether run steps are worth a request when they do not stream in (polling)."""
        ...

    def status_changed(
        self, run: Run, previous: RunStatus | None, status: RunStatus, at: float
    ) -> None: ...

    def step_changed(self, step: RunStep) -> None:
        """A run step was created or changed (streamed `thread.run.step.*` events)."""
        ...

    def polled(self) -> None:
        """The run was retrieved once to learn its status."""
        ...

    def tool_call(
        self, call: ToolCallRequest, run: Run
    ) -> AbstractContextManager[ToolCallObserver]:
        """Entered around the execution of one tool call, in the task that runs it."""
        ...

    def submission(
        self, run: Run, tool_call_ids: Sequence[str], time_left: float | None
    ) -> AbstractContextManager[None]:
        """Entered around one submit_tool_outputs request."""
        ...

    def finished(self, result: RunResult) -> None:
        """The run reached a terminal status (called inside the run context)."""
        ...


class Instrumentation(Protocol):
    def run(self, info: RunInfo) -> AbstractContextManager[RunObserver]:
        """Entered around everything runflow does for one run; an exception leaving it is
        the reason the run was abandoned."""
        ...


class _NoRunObserver:
    wants_steps = False

    def status_changed(
        self, run: Run, previous: RunStatus | None, status: RunStatus, at: float
    ) -> None:
        pass

    def step_changed(self, step: RunStep) -> None:
        pass

    def polled(self) -> None:
        pass

    @contextmanager
    def tool_call(self, call: ToolCallRequest, run: Run) -> Iterator[ToolCallObserver]:
        yield UNTRACED

    @contextmanager
    def submission(
        self, run: Run, tool_call_ids: Sequence[str], time_left: float | None
    ) -> Iterator[None]:
        yield

    def finished(self, result: RunResult) -> None:
        pass


class NoInstrumentation:
    """Instrumentation that records nothing."""

    @contextmanager
    def run(self, info: RunInfo) -> Iterator[RunObserver]:
        yield _NoRunObserver()
