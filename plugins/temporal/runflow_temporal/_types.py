"""The records that cross Temporal's boundary: workflow input and result, activity inputs and
outputs, the progress query. Plain dataclasses of JSON-friendly fields (Temporal's default data
converter encodes them); a Run or Message travels as its wire dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallOutput",
    "CreateInput",
    "Finished",
    "Progress",
    "RetrySettings",
    "RunRef",
    "RunRequest",
    "RunState",
    "SubmitInput",
    "ToolCall",
    "ToolInput",
    "ToolOutcome",
    "ToolSettings",
    "WorkflowResult",
]


@dataclass(frozen=True)
class RetrySettings:
    """runflow's `RetryPolicy`, as the workflow turns it into Temporal retry policies."""

    max_attempts: int = 6
    initial_backoff: float = 0.25
    max_backoff: float = 8.0


@dataclass(frozen=True)
class RunRequest:
    """What a run workflow is started with (the core `Runner.run()` arguments)."""

    key: str
    """The run's client key: the workflow id, and the tag in the run's metadata."""
    assistant_id: str
    thread_id: str | None = None
    thread: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    thread_policy: str = "wait"
    mode: str = "stream"
    safety_margin: float = 2.0
    heartbeat_timeout: float = 10.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    assistant_name: str | None = None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolSettings:
    """What the workflow must know of a tool to schedule its activity (from the worker's
    registry)."""

    name: str
    timeout: float | None
    retry_lost: bool
    """Whether an attempt lost with its worker is run again (at least once) or becomes an
    error output (at most once)."""


@dataclass(frozen=True)
class RunState:
    """A run as an activity saw it: the wire dict, and what the workflow decides on."""

    run: dict[str, Any]
    status: str
    required_action_type: str | None
    tool_calls: list[ToolCall]
    tools: list[ToolSettings]
    """The settings of the tools `tool_calls` name (unknown tools are absent)."""
    server_time: float
    """A server timestamp (the run's `created_at`) ..."""
    local_time: float
    """... and the worker's epoch time when it was observed: the clock offset estimate."""

    @property
    def run_id(self) -> str:
        return str(self.run["id"])

    @property
    def thread_id(self) -> str:
        return str(self.run["thread_id"])

    @property
    def expires_at(self) -> float | None:
        value = self.run.get("expires_at")
        return None if value is None else float(value)


@dataclass(frozen=True)
class CreateInput:
    key: str
    assistant_id: str
    thread_id: str
    options: dict[str, Any]
    mode: str


@dataclass(frozen=True)
class RunRef:
    thread_id: str
    run_id: str


@dataclass(frozen=True)
class CallOutput:
    call_id: str
    output: str


@dataclass(frozen=True)
class SubmitInput:
    thread_id: str
    run_id: str
    outputs: list[CallOutput]
    mode: str


@dataclass(frozen=True)
class ToolInput:
    call: ToolCall
    run_id: str
    thread_id: str
    expires_at: float | None
    submit_by: float | None
    """Epoch seconds by which the handler must have stopped (the run's deadline)."""


@dataclass(frozen=True)
class ToolOutcome:
    """One tool call's record (the core's `ToolCallRecord`, flattened)."""

    call_id: str
    name: str
    arguments: str
    output: str
    error_kind: str | None
    error_message: str | None
    started_at: float
    duration: float
    truncated: bool = False
    on_error: str = "return"
    worker: str = ""
    """The identity of the worker that produced the output (empty when the workflow did)."""
    attempt: int = 1


@dataclass(frozen=True)
class Finished:
    run: dict[str, Any]
    messages: list[dict[str, Any]]


@dataclass(frozen=True)
class Progress:
    """What the workflow's `progress` query answers."""

    key: str
    status: str | None
    run_id: str | None
    thread_id: str | None
    tool_calls: list[ToolOutcome]
    rounds: int


@dataclass(frozen=True)
class WorkflowResult:
    run: dict[str, Any]
    messages: list[dict[str, Any]]
    tool_calls: list[ToolOutcome]
    polls: int = 0
    retries: int = 0
