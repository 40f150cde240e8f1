"""From a run's `expires_at` (server epoch seconds) to a local deadline for submitting outputs.

The server's clock and ours disagree by an unknown offset. runflow estimates the offset once
per run, from an observation of the server's time (the run's integer `created_at`, read when
the creation event arrives, or an HTTP `Date` header) against the local clock at receipt.
Both are whole seconds, so the server's real time at receipt may be up to one second later
than what it said: the estimate assumes the worse case. The deadline also keeps a safety margin
for the submit round trip. Pure arithmetic, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SAFETY_MARGIN", "Deadline"]

DEFAULT_SAFETY_MARGIN = 2.0
"""Seconds kept back from `expires_at` for submitting the outputs."""

_SERVER_TIME_RESOLUTION = 1.0


@dataclass(frozen=True, slots=True)
class Deadline:
    """When, on the local clock, the outputs of a run must have been submitted."""

    expires_at: float
    """The run's `expires_at`, server epoch seconds."""
    submit_by: float
    """Local clock time by which the submission must start."""
    safety_margin: float = DEFAULT_SAFETY_MARGIN

    @classmethod
    def from_server_time(
        cls,
        expires_at: float,
        *,
        server_time: float,
        local_time: float,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
    ) -> Deadline:
        """`server_time` is a server timestamp (whole seconds) observed at `local_time`."""
        if safety_margin < 0:
            raise ValueError(f"safety_margin must be >= 0, got {safety_margin}")
        latest_server_now = server_time + _SERVER_TIME_RESOLUTION
        time_left_on_server = expires_at - latest_server_now
        submit_by = local_time + time_left_on_server - safety_margin
        return cls(expires_at=expires_at, submit_by=submit_by, safety_margin=safety_margin)

    @property
    def expiry(self) -> float:
        """Local clock time of `expires_at` itself (the safety margin not taken off)."""
        return self.submit_by + self.safety_margin

    def time_left(self, now: float) -> float:
        """Seconds from local time `now` until the submission must start (may be negative)."""
        return self.submit_by - now

    def until_expiry(self, now: float) -> float:
        """Seconds from local time `now` until the run expires (the margin included)."""
        return self.expiry - now

    def handler_stop_at(self, now: float, timeout: float | None) -> float:
        """Local time at which a handler started at `now` with its own `timeout` must stop."""
        return self.submit_by if timeout is None else min(self.submit_by, now + timeout)
