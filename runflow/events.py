"""What a Runner reports while it drives a run, for services that show progress to their users.

Pass `on_event=` to `Runner.run` to receive them as they happen, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runflow.dispatch import ToolCallRecord
from runflow.lifecycle import RunStatus, ToolCallRequest

__all__ = [
    "EventCallback",
    "MessageDelta",
    "OutputsSubmitted",
    "RunEvent",
    "StatusChanged",
    "ToolCallFinished",
    "ToolCallStarted",
]


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The run was seen in a new status (`previous` is None for the first observation)."""

    run_id: str
    previous: RunStatus | None
    status: RunStatus
    at: float


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    run_id: str
    call: ToolCallRequest
    at: float


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    run_id: str
    record: ToolCallRecord


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
class MessageDelta:
    """A piece of the assistant's message text, as it streams in."""

    run_id: str
    message_id: str
    text: str


RunEvent = StatusChanged | ToolCallStarted | ToolCallFinished | OutputsSubmitted | MessageDelta
EventCallback = Callable[[RunEvent], None]
