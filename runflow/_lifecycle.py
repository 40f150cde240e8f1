"""The run lifecycle as a pure state machine: statuses, legal observations, decisions.

runflow never changes a run's status itself; it *observes* the statuses the service reports
(from stream events or by retrieving the run) and decides what to do next. An observer may
miss intermediate statuses (a poll can go from queued straight to completed), so the table
below is one of reachability, not of single steps::

    queued ──► in_progress ──► requires_action ──► (outputs submitted) ──► queued / in_progress
       │            │                 │
       └────────────┴─────────────────┴──► cancelling ──► cancelled
                                      └──► completed | failed | incomplete | expired | cancelled

Terminal statuses never change again: seeing a run leave one is a `ProtocolError`.

For each observed snapshot `decide()` answers one of:

- `Wait`     — nothing to do, keep observing;
- `Dispatch` — run these tool calls and submit their outputs;
- `Finish`   — the run reached a terminal status;
- `Abort`    — the run asks for something runflow cannot do (the caller cancels it).

Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from runflow._errors import ProtocolError

__all__ = [
    "Abort",
    "Decision",
    "Dispatch",
    "Finish",
    "RunSnapshot",
    "RunStatus",
    "ToolCallRequest",
    "Wait",
    "check_transition",
    "decide",
]


class RunStatus(enum.StrEnum):
    """The statuses of an Assistants run, as the API spells them."""

    QUEUED = "queued"
    """Created, waiting for the service to start working on it."""
    IN_PROGRESS = "in_progress"
    """The model is working (thinking, writing, or taking in tool outputs)."""
    REQUIRES_ACTION = "requires_action"
    """The model asked for function calls; outputs are due before `expires_at`."""
    CANCELLING = "cancelling"
    """A cancel was requested; the service has not confirmed it yet."""
    CANCELLED = "cancelled"
    """Terminal: the run was cancelled."""
    FAILED = "failed"
    """Terminal: the service failed the run (see `last_error`)."""
    COMPLETED = "completed"
    """Terminal: the run finished normally."""
    INCOMPLETE = "incomplete"
    """Terminal: the run stopped early (see `incomplete_details`)."""
    EXPIRED = "expired"
    """Terminal: tool outputs (or the run itself) did not arrive by `expires_at`."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        RunStatus.CANCELLED,
        RunStatus.FAILED,
        RunStatus.COMPLETED,
        RunStatus.INCOMPLETE,
        RunStatus.EXPIRED,
    }
)

_ANY_END = TERMINAL_STATUSES | {RunStatus.CANCELLING}

# For each status, the statuses an observer may see next (itself included: polls repeat).
REACHABLE: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset(
        {RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION} | _ANY_END
    ),
    RunStatus.IN_PROGRESS: frozenset(
        {RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION, RunStatus.QUEUED} | _ANY_END
    ),
    RunStatus.REQUIRES_ACTION: frozenset(
        {RunStatus.REQUIRES_ACTION, RunStatus.QUEUED, RunStatus.IN_PROGRESS} | _ANY_END
    ),
    RunStatus.CANCELLING: frozenset({RunStatus.CANCELLING} | TERMINAL_STATUSES),
    **{status: frozenset({status}) for status in TERMINAL_STATUSES},
}


def check_transition(previous: RunStatus | None, observed: RunStatus) -> None:
    """Raise `ProtocolError` if `observed` cannot follow `previous`."""
    if previous is None or observed in REACHABLE[previous]:
        return
    if previous.is_terminal:
        raise ProtocolError(
            f"run status went from terminal {previous.value!r} to {observed.value!r}; "
            "a terminal run never changes again"
        )
    raise ProtocolError(f"run status cannot go from {previous.value!r} to {observed.value!r}")


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """One function call the model asked for."""

    id: str
    name: str
    arguments: str
    """The raw JSON text the model produced (it may not be valid JSON)."""


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What `decide()` needs to know about a run at one observation."""

    status: RunStatus
    required_action_type: str | None = None
    tool_calls: Sequence[ToolCallRequest] = ()


@dataclass(frozen=True, slots=True)
class Wait:
    """Keep observing the run."""


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Execute these tool calls and submit one output for each."""

    tool_calls: Sequence[ToolCallRequest]


@dataclass(frozen=True, slots=True)
class Finish:
    """The run reached a terminal status."""

    status: RunStatus


@dataclass(frozen=True, slots=True)
class Abort:
    """The run cannot go on with runflow: cancel it and report `reason`."""

    reason: str


Decision = Wait | Dispatch | Finish | Abort
"""What `decide()` answers for one snapshot."""


def decide(snapshot: RunSnapshot) -> Decision:
    """The next thing to do for a run in the state `snapshot` describes."""
    if snapshot.status.is_terminal:
        return Finish(snapshot.status)
    if snapshot.status is not RunStatus.REQUIRES_ACTION:
        return Wait()
    if snapshot.required_action_type != "submit_tool_outputs":
        return Abort(
            f"the run requires an action runflow does not know: "
            f"{snapshot.required_action_type!r} (expected 'submit_tool_outputs')"
        )
    if not snapshot.tool_calls:
        return Abort("the run requires tool outputs but lists no tool calls")
    return Dispatch(snapshot.tool_calls)
