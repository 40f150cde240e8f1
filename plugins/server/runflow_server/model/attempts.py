"""The attempts of one model turn: when to retry, shrink or give up, and what not to publish twice.

Pure: `Attempts.after(problem, now=..., deadline=...)` decides from a failed attempt, and
`Replay.keep(event)` filters what a retried attempt streams again. `brain.py` does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..brains import BrainEvent, Fail, FunctionCallDelta, TextDelta
from .failures import Problem

__all__ = ["Attempts", "Replay", "Retry", "RetryPolicy", "Shrink"]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts: `first`, doubled each time up to `longest`, at most `attempts`
    tries in all; a `Retry-After` longer than `longest` is still honoured if time allows."""

    attempts: int = 6
    first: float = 0.5
    longest: float = 8.0

    def delay(self, attempt: int, problem: Problem) -> float:
        """Seconds to wait before try number `attempt + 1` (`attempt` counts from 0)."""
        backoff = min(self.longest, self.first * float(2**attempt))
        return max(backoff, problem.retry_after or 0.0)


@dataclass(frozen=True)
class Retry:
    """Try again after `wait` seconds."""

    wait: float


@dataclass(frozen=True)
class Shrink:
    """Try again at once, dropping `drop` of the oldest messages."""

    drop: int


class Attempts:
    """Counts a turn's attempts and decides what follows a failed one."""

    def __init__(self, policy: RetryPolicy, *, truncates: bool) -> None:
        self._policy = policy
        self._truncates = truncates
        self._failures = 0
        self._shrunk: str | None = None  # the refusal that made the last attempt shrink
        self._sent = -1
        self.drop = 0

    def check(self, message_count: int) -> Fail | None:
        """Before an attempt: a `Fail` when shrinking left the prompt as it was (too long)."""
        if self._shrunk is not None and message_count == self._sent:
            return Fail("invalid_prompt", f"{self._shrunk} (even with the oldest messages dropped)")
        self._sent, self._shrunk = message_count, None
        return None

    def after(self, problem: Problem, *, now: float, deadline: float) -> Retry | Shrink | Fail:
        """After a failed attempt: shrink the prompt, wait and retry, or fail the run."""
        if problem.context_length and self._truncates:
            self.drop, self._shrunk = max(1, self.drop * 2), problem.message
            return Shrink(self.drop)
        self._failures += 1
        if not problem.retryable or self._failures >= self._policy.attempts:
            return Fail(problem.code, problem.message)
        wait = self._policy.delay(self._failures - 1, problem)
        if now + wait >= deadline:
            return Fail(problem.code, f"{problem.message} (no time left to retry)")
        return Retry(wait)


class Replay:
    """What the run has already published of this turn, so that a retried attempt, which
    streams the answer again from its start, publishes only what goes beyond it."""

    def __init__(self) -> None:
        self._sent: dict[Any, str] = {}
        self._seen: dict[Any, str] = {}
        self._started: set[int] = set()
        self._stale: set[int] = set()

    def next_attempt(self) -> None:
        self._seen = {}
        self._stale = set()

    def keep(self, event: BrainEvent) -> BrainEvent | Fail | None:
        """The part of `event` not yet published; a `Fail` when the text no longer matches."""
        if isinstance(event, TextDelta):
            piece = self._beyond("text", event.text)
            if piece is None:
                message = "The model's answer changed when its interrupted stream was retried."
                return Fail("server_error", message)
            return TextDelta(piece) if piece else None
        if isinstance(event, FunctionCallDelta):
            return self._call(event)
        return event

    def _call(self, event: FunctionCallDelta) -> FunctionCallDelta | None:
        index = event.index
        if index in self._stale:
            return None
        piece = self._beyond(("call", index), event.arguments)
        if piece is None:  # a preview only: the final calls carry the whole arguments
            self._stale.add(index)
            return None
        first = index not in self._started
        self._started.add(index)
        if not (first or piece):
            return None
        call_id = event.call_id if first else None
        name = event.name if first else None
        return FunctionCallDelta(index, call_id, name, piece)

    def _beyond(self, key: Any, piece: str) -> str | None:
        seen = self._seen.get(key, "") + piece
        self._seen[key] = seen
        sent = self._sent.get(key, "")
        if len(seen) <= len(sent):
            return "" if sent.startswith(seen) else None
        if not seen.startswith(sent):
            return None
        self._sent[key] = seen
        return seen[max(len(sent), len(seen) - len(piece)) :]
