"""What one driver knows of its run: the latest snapshot, its thread, and its deadline. Pure.

The sources (`_sources.py`) and the loop (`_driver.py`) share one `RunState`: a source records
every Run object it sees here, and both read the deadline from it, computed once per snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openai.types.beta.threads import Run

from runflow._deadline import Deadline
from runflow._errors import ProtocolError
from runflow._lifecycle import RunStatus, check_transition
from runflow._result import status_of
from runflow.clock import Clock

__all__ = ["RunState"]


@dataclass
class RunState:
    """The run as last seen, and the local deadline its `expires_at` gives."""

    clock: Clock
    safety_margin: float
    thread_id: str = ""
    run: Run | None = None
    server_time: tuple[float, float] | None = None
    """(server epoch seconds, local clock time) of the same instant, once known."""
    _deadline: Deadline | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return "" if self.run is None else self.run.id

    @property
    def status(self) -> RunStatus | None:
        return None if self.run is None else status_of(self.run)

    def current(self) -> Run:
        """The latest snapshot; a protocol error before any run was seen."""
        if self.run is None:
            raise ProtocolError("no run has been observed yet")
        return self.run

    def record(self, run: Run, *, created: bool = False) -> RunStatus | None:
        """Take `run` as the latest snapshot (checking the transition); the previous status."""
        previous = self.status
        check_transition(previous, status_of(run))
        changed = self.run is None or run.expires_at != self.run.expires_at
        if created and self.server_time is None:
            # A run's created_at, seen as it is created, is the server's time at receipt.
            self.server_time = (float(run.created_at), self.clock.now())
            changed = True
        self.run = run
        self.thread_id = run.thread_id or self.thread_id
        if changed:
            self._deadline = self._compute_deadline(run)
        return previous

    def deadline(self) -> Deadline | None:
        """The run's deadline, or None when it has no `expires_at`."""
        return self._deadline

    def expiry(self) -> float | None:
        """Local clock time of `expires_at` (no safety margin), or None."""
        return None if self._deadline is None else self._deadline.expiry

    def _compute_deadline(self, run: Run) -> Deadline | None:
        if run.expires_at is None:
            return None
        if not isinstance(run.expires_at, int | float):
            raise ProtocolError(f"run {run.id} has a non-numeric expires_at: {run.expires_at!r}")
        server_time, local_time = self.server_time or (self.clock.now(),) * 2
        return Deadline.from_server_time(
            float(run.expires_at),
            server_time=server_time,
            local_time=local_time,
            safety_margin=self.safety_margin,
        )
