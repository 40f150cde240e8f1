"""Run and step statuses, and the run transitions the server allows.

```
queued ──> in_progress ──> requires_action ──(tool outputs)──> queued ──> ...
  ^             │
  └─(restart)───┘   a server restarted on its database queues again the runs it was deciding
               │                 │
               ├──> completed    ├──> expired   (expires_at passed; queued/in_progress too)
               ├──> failed       └──> cancelling ──> cancelled
               └──> incomplete        (cancel from queued, in_progress or requires_action)
```

No I/O but one log record per transition (`runflow_server.lifecycle`, with `run_id`, `source`
and `target` as extra fields). The engine calls `advance()` for every change, so an illegal
transition is a bug that names itself instead of a silently corrupted run.

`RunStatus` mirrors the core's `runflow.RunStatus` on purpose, not by accident: the
server installs without the runflow core (its `pyproject.toml` does not depend on it) and the
core must not depend on the server, so sharing one definition would take a third distribution
for nine strings whose spelling the Assistants API fixes anyway. The server's enum adds only
the transitions it enforces; `tests/server/test_mirrors.py` checks that the two keep the same
members.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .errors import ServerError

if TYPE_CHECKING:
    from .records import Run

__all__ = [
    "ACTIVE",
    "EXPIRABLE",
    "IllegalTransition",
    "RunStatus",
    "StepStatus",
    "advance",
]


log = logging.getLogger(__name__)


class RunStatus(StrEnum):
    QUEUED = "queued"  # created, or tool outputs just submitted; the driver picks it up
    IN_PROGRESS = "in_progress"  # the brain is deciding (or waiting out a delay)
    REQUIRES_ACTION = "requires_action"  # waiting for the client's tool outputs
    CANCELLING = "cancelling"  # cancel asked; the driver is winding the run down
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"  # expires_at passed before the run finished


class StepStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    EXPIRED = "expired"


# A thread with a run in one of these has an active run: no new runs, no new messages.
ACTIVE = frozenset(
    {RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION, RunStatus.CANCELLING}
)
# Runs in these statuses expire when their expires_at passes.
EXPIRABLE = frozenset({RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION})

_NEXT: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.IN_PROGRESS, RunStatus.CANCELLING, RunStatus.EXPIRED}),
    RunStatus.IN_PROGRESS: frozenset(
        {
            RunStatus.QUEUED,  # only when a restarted server picks up a run it was deciding
            RunStatus.REQUIRES_ACTION,
            RunStatus.COMPLETED,
            RunStatus.FAILED,
            RunStatus.INCOMPLETE,
            RunStatus.CANCELLING,
            RunStatus.EXPIRED,
        }
    ),
    RunStatus.REQUIRES_ACTION: frozenset(
        {RunStatus.QUEUED, RunStatus.CANCELLING, RunStatus.EXPIRED}
    ),
    RunStatus.CANCELLING: frozenset({RunStatus.CANCELLED}),
}


class IllegalTransition(ServerError, RuntimeError):
    """The server tried to move a run along an edge the lifecycle does not have."""


def advance(run: Run, status: RunStatus, **changes: Any) -> Run:
    """The run in `status` (with `changes` to its other fields), or `IllegalTransition`
    naming both ends."""
    current = run.status
    if status not in _NEXT.get(current, frozenset()):
        raise IllegalTransition(f"run {run.id} cannot go from {current} to {status}")
    fields = {"run_id": run.id, "source": current.value, "target": status.value}
    log.info("run %s: %s -> %s", *fields.values(), extra=fields)
    return run.model_copy(update={"status": status, **changes})
