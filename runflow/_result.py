"""RunResult: how a run ended."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openai.types.beta.threads import Message, Run

from runflow._dispatch import ToolCallRecord
from runflow._errors import (
    ProtocolError,
    RunCancelledError,
    RunError,
    RunExpiredError,
    RunFailedError,
    RunIncompleteError,
)
from runflow._lifecycle import RunStatus

__all__ = ["UNHAPPY_ENDS", "RunResult", "end_detail", "status_of"]


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its last Run object, every tool call, the messages it wrote."""

    run: Run
    tool_calls: list[ToolCallRecord]
    messages: list[Message]
    polls: int = 0
    """How many times the run was retrieved to learn its status."""
    retries: int = 0
    """How many requests were made again after a transient failure."""

    @property
    def status(self) -> RunStatus:
        return status_of(self.run)

    @property
    def output_text(self) -> str:
        """The text of the assistant messages this run wrote, in order."""
        return "\n\n".join(
            part.text.value
            for message in self.messages
            if message.role == "assistant"
            for part in message.content
            if part.type == "text"
        )

    def raise_for_status(self) -> None:
        """Raise the `RunError` matching the final status, unless it is completed."""
        error = _run_error(self.run)
        if error is not None:
            raise error


def status_of(run: Run) -> RunStatus:
    """The run's status as a RunStatus; `ProtocolError` for a status the API does not have."""
    value = run.status  # looked up in a dict, not `RunStatus(value)`: this runs per event
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        raise ProtocolError(f"run {run.id} has an unknown status {run.status!r}")
    return status


_STATUSES: Mapping[str, RunStatus] = {status.value: status for status in RunStatus}


_ERRORS: Mapping[RunStatus, type[RunError]] = {
    RunStatus.FAILED: RunFailedError,
    RunStatus.EXPIRED: RunExpiredError,
    RunStatus.CANCELLED: RunCancelledError,
    RunStatus.INCOMPLETE: RunIncompleteError,
}


UNHAPPY_ENDS = frozenset(_ERRORS)
"""The terminal statuses other than completed."""


def end_detail(run: Run) -> str:
    """Why a run ended as it did (`": code: message"`, `": reason"`), or ""."""
    if run.last_error is not None:
        return f": {run.last_error.code}: {run.last_error.message}"
    if run.incomplete_details is not None:
        return f": {run.incomplete_details.reason}"
    return ""


def _run_error(run: Run) -> RunError | None:
    status = status_of(run)
    if status not in UNHAPPY_ENDS:
        return None
    message = f"run {run.id} ended {status.value}{end_detail(run)}"
    return _ERRORS[status](message, run_id=run.id, status=status)
