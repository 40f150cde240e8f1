"""The metric instruments of `runflow._tracing`, and what each measurement is recorded with.

GenAI semantic conventions where they have a name (`gen_ai.client.operation.duration`,
`gen_ai.client.token.usage`, with the spec's bucket boundaries), `runflow.*` otherwise.
No id of any kind is ever a metric attribute: ids would make every series unique.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import metrics
from opentelemetry.util.types import AttributeValue

__all__ = ["RunMetrics"]

Attributes = Mapping[str, AttributeValue]

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""`gen_ai.client.operation.duration`, as the semantic conventions advise (seconds)."""
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""`gen_ai.client.token.usage`, as the semantic conventions advise."""
POLL_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
TIME_LEFT_BUCKETS = (0, 1, 2, 5, 10, 30, 60, 120, 300, 600)
"""Seconds left before `expires_at`: the low end is where runs are at risk."""


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """One set of instruments, shared by every run an instrumentation observes."""

    operation_duration: metrics.Histogram
    token_usage: metrics.Histogram
    tool_calls: metrics.Counter
    tool_duration: metrics.Histogram
    polls: metrics.Histogram
    time_left: metrics.Histogram

    @classmethod
    def create(cls, meter: metrics.Meter) -> RunMetrics:
        return cls(
            operation_duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="GenAI operation duration (one invoke_agent operation per run).",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage",
                unit="{token}",
                description="Number of input and output tokens used by a run.",
                explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
            ),
            tool_calls=meter.create_counter(
                "runflow.tool.calls",
                unit="{call}",
                description="Tool calls executed, by tool name and outcome.",
            ),
            tool_duration=meter.create_histogram(
                "runflow.tool.duration",
                unit="s",
                description="Time a tool call took, from its start to its output.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            polls=meter.create_histogram(
                "runflow.run.polls",
                unit="{poll}",
                description="Times a run was retrieved to learn its status.",
                explicit_bucket_boundaries_advisory=POLL_BUCKETS,
            ),
            time_left=meter.create_histogram(
                "runflow.submission.time_left",
                unit="s",
                description="Seconds left before the run's expires_at when its outputs were sent.",
                explicit_bucket_boundaries_advisory=TIME_LEFT_BUCKETS,
            ),
        )

    def run_ended(
        self,
        attributes: Attributes,
        *,
        duration: float,
        polls: int,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> None:
        """`attributes`: operation, provider, model, server, and `error.type` if it failed."""
        self.operation_duration.record(duration, attributes)
        self.polls.record(polls, attributes)
        for token_type, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                self.token_usage.record(count, {**attributes, "gen_ai.token.type": token_type})

    def tool_call_ended(self, tool_name: str, outcome: str, duration: float | None) -> None:
        """`outcome`: `ok`, a `ToolFailure.kind`, or `cancelled`."""
        attributes = {"gen_ai.tool.name": tool_name, "runflow.tool.outcome": outcome}
        self.tool_calls.add(1, attributes)
        if duration is not None:
            self.tool_duration.record(duration, attributes)

    def submitted(self, attributes: Attributes, time_left: float | None) -> None:
        if time_left is not None:
            self.time_left.record(time_left, attributes)
