"""Metrics read back from an in-memory reader: names, units, buckets, attributes, no ids."""

from __future__ import annotations

import re

import anyio
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, NumberDataPoint

from runflow import Runner, ToolRegistry
from runflow.testing import FakeClock
from tests.conftest import ServerFactory

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

SPEC_DURATION_BUCKETS = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
]  # fmt: skip
SPEC_TOKEN_BUCKETS = [
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
]  # fmt: skip
ID = re.compile(r"^(run|thread|call|asst|step|msg)_")


def registry() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool
    async def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    @tools.tool
    async def explode() -> str:
        """Always fails."""
        raise ValueError("nope")

    return tools


def histogram(points: list[HistogramDataPoint | NumberDataPoint]) -> list[HistogramDataPoint]:
    assert all(isinstance(point, HistogramDataPoint) for point in points)
    return [point for point in points if isinstance(point, HistogramDataPoint)]


async def run_two_rounds(make_server: ServerFactory, telemetry: Telemetry, mode: str) -> str:
    server = make_server(
        [
            {
                "tool_calls": [
                    {"name": "lookup", "arguments": {"key": "a"}},
                    {"name": "lookup", "arguments": {"key": "b"}},
                    {"name": "explode", "arguments": {}},
                ]
            },
            {"tool_calls": [{"name": "lookup", "arguments": {"key": "c"}}]},
            {"message": "{outputs}"},
        ]
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(
        server.client, registry(), mode=mode, instrumentation=telemetry.instrumentation()
    )  # type: ignore[arg-type]
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
    assert result.status.value == "completed"
    return result.run.id


async def test_a_run_records_its_duration_and_token_usage(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    await run_two_rounds(make_server, telemetry, "stream")

    [duration] = histogram(telemetry.points("gen_ai.client.operation.duration"))
    assert duration.count == 1 and 0 < duration.sum < 10
    assert list(duration.explicit_bounds) == SPEC_DURATION_BUCKETS
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "server.address": "runflow.test",
    }
    tokens = histogram(telemetry.points("gen_ai.client.token.usage"))
    assert sorted(str(p.attributes["gen_ai.token.type"]) for p in tokens) == ["input", "output"]
    for point in tokens:
        assert point.count == 1 and point.sum > 0
        assert list(point.explicit_bounds) == SPEC_TOKEN_BUCKETS
        assert point.attributes["gen_ai.operation.name"] == "invoke_agent"


async def test_tool_calls_are_counted_by_name_and_outcome(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    await run_two_rounds(make_server, telemetry, "stream")

    calls = {
        (str(p.attributes["gen_ai.tool.name"]), str(p.attributes["runflow.tool.outcome"])): p
        for p in telemetry.points("runflow.tool.calls")
    }
    assert {key: point.value for key, point in calls.items()} == {  # type: ignore[union-attr]
        ("lookup", "ok"): 3,
        ("explode", "handler_error"): 1,
    }
    durations = histogram(telemetry.points("runflow.tool.duration"))
    assert sorted(p.count for p in durations) == [1, 3]


async def test_polls_per_run_are_recorded(make_server: ServerFactory, telemetry: Telemetry) -> None:
    await run_two_rounds(make_server, telemetry, "poll")

    [polls] = histogram(telemetry.points("runflow.run.polls"))
    assert polls.count == 1 and polls.sum > 0


async def test_the_time_left_at_each_submission_is_recorded(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    clock = FakeClock(start=1_800_000_000)
    server = make_server(
        [
            {"tool_calls": [{"name": "slow", "arguments": {}}]},
            {"tool_calls": [{"name": "slow", "arguments": {}}]},
            {"message": "{outputs}"},
        ],
        clock=clock,
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    tools = ToolRegistry()

    @tools.tool
    async def slow() -> str:
        clock.advance(100)
        await anyio.lowlevel.checkpoint()
        return "done"

    runner = Runner(
        server.client,
        tools,
        clock=clock,
        safety_margin=2,
        instrumentation=telemetry.instrumentation(),
    )
    await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    [time_left] = histogram(telemetry.points("runflow.submission.time_left"))
    # The run expires 600 s after its creation, which runflow conservatively places up to 1 s
    # earlier (whole-second server clock); each handler took 100 s: 499 s, then 399 s left.
    assert time_left.count == 2
    assert time_left.sum == pytest.approx(499 + 399)
    assert dict(time_left.attributes) == {
        "gen_ai.provider.name": "openai",
        "server.address": "runflow.test",
    }


async def test_no_metric_carries_an_id(make_server: ServerFactory, telemetry: Telemetry) -> None:
    await run_two_rounds(make_server, telemetry, "stream")
    await run_two_rounds(make_server, telemetry, "poll")

    data = telemetry.reader.get_metrics_data()
    assert data is not None
    names = set()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                names.add(metric.name)
                for point in metric.data.data_points:
                    for key, value in point.attributes.items():
                        assert not key.endswith(".id"), (metric.name, key)
                        assert not ID.match(str(value)), (metric.name, key, value)
    assert names == {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "runflow.tool.calls",
        "runflow.tool.duration",
        "runflow.run.polls",
        "runflow.submission.time_left",
    }
