"""The Runner against the real local run server, through the real openai client."""

import json
from typing import Literal

import anyio
import pytest

from runflow import (
    MessageDelta,
    OutputsSubmitted,
    RunCreated,
    RunEnded,
    RunEvent,
    RunExpiredError,
    Runner,
    RunPolled,
    RunRequested,
    RunStatus,
    StatusChanged,
    StepSeen,
    SubmissionEnded,
    ToolCallFinished,
    ToolRegistry,
)
from runflow.testing import FakeClock
from tests.conftest import ServerFactory
from tests.tools import hanging_tool, weather_tools

pytestmark = pytest.mark.anyio

S = RunStatus


async def test_parallel_calls_then_one_more_then_an_answer(make_server: ServerFactory) -> None:
    server = make_server(
        [
            {
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Oslo"}},
                    {"name": "get_time", "arguments": {"city": "Oslo"}},
                ]
            },
            {"tool_calls": [{"name": "divide", "arguments": {"a": 9, "b": 3}}]},
            {"message": "{output.get_weather}; {output.get_time}; ratio {output.divide}"},
        ]
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    events: list[RunEvent] = []

    result = await Runner(server.client, weather_tools()).run(
        thread_id=thread_id, assistant_id=assistant_id, on_event=events.append
    )

    assert result.status is S.COMPLETED
    assert result.output_text == "sunny in Oslo; noon in Oslo; ratio 3.0"
    # Records come in completion order: the parallel pair in either order, then the third.
    assert sorted((r.name, r.output) for r in result.tool_calls[:2]) == [
        ("get_time", "noon in Oslo"),
        ("get_weather", "sunny in Oslo"),
    ]
    assert (result.tool_calls[2].name, result.tool_calls[2].output) == ("divide", "3.0")
    statuses = [e.status for e in events if isinstance(e, StatusChanged)]
    assert statuses == [
        S.QUEUED,
        S.IN_PROGRESS,
        S.REQUIRES_ACTION,
        S.QUEUED,
        S.IN_PROGRESS,
        S.REQUIRES_ACTION,
        S.QUEUED,
        S.IN_PROGRESS,
        S.COMPLETED,
    ]
    submissions = [e for e in events if isinstance(e, OutputsSubmitted)]
    assert [len(s.tool_call_ids) for s in submissions] == [2, 1]
    assert all(s.time_left is not None and 590 < s.time_left <= 600 for s in submissions)
    # Streaming costs exactly 1 + k requests for k tool rounds.
    assert server.requests == [
        f"POST /v1/threads/{thread_id}/runs",
        f"POST /v1/threads/{thread_id}/runs/{result.run.id}/submit_tool_outputs",
        f"POST /v1/threads/{thread_id}/runs/{result.run.id}/submit_tool_outputs",
    ]


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        pytest.param(
            {"name": "divide", "arguments": {"a": 1, "b": 0}},
            "handler_error",
            "ZeroDivisionError: float division by zero",
            id="handler-raises",
        ),
        pytest.param(
            {"name": "divide", "arguments": {"a": "one", "b": 2}},
            "invalid_arguments",
            "a: Input should be a valid number",
            id="bad-arguments",
        ),
        pytest.param(
            {"name": "divide", "arguments": '{"a": 1, "b": '},
            "invalid_arguments",
            "not valid JSON",
            id="invalid-json",
        ),
        pytest.param(
            {"name": "rm_rf", "arguments": {}},
            "unknown_tool",
            "no tool named 'rm_rf'",
            id="unknown-tool",
        ),
    ],
)
async def test_a_bad_call_becomes_an_error_output_and_the_run_goes_on(
    make_server: ServerFactory, call: dict[str, object], kind: str, message: str
) -> None:
    server = make_server([{"tool_calls": [call]}, {"message": "the tool said: {outputs}"}])
    assistant_id, thread_id = await server.assistant_and_thread()

    result = await Runner(server.client, weather_tools()).run(
        thread_id=thread_id, assistant_id=assistant_id
    )

    assert result.status is S.COMPLETED
    [record] = result.tool_calls
    assert record.error is not None and record.error.kind == kind
    error = json.loads(record.output)["error"]
    assert error["type"] == kind and message in error["message"]
    assert result.output_text == f"the tool said: {record.output}"
    steps = await server.client.beta.threads.runs.steps.list(result.run.id, thread_id=thread_id)
    tool_step = next(step for step in steps.data if step.type == "tool_calls")
    assert tool_step.step_details.type == "tool_calls"
    [submitted] = tool_step.step_details.tool_calls
    assert submitted.type == "function" and submitted.function.output == record.output


async def test_a_hanging_handler_is_cut_at_the_deadline_and_the_run_completes(
    make_server: ServerFactory,
) -> None:
    clock = FakeClock(start=1_800_000_000)
    server = make_server(
        [{"tool_calls": [{"name": "hang", "arguments": {}}]}, {"message": "{outputs}"}],
        clock=clock,
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    registry, hang_started = hanging_tool("hang")

    submissions: list[OutputsSubmitted] = []

    def on_event(event: RunEvent) -> None:
        if isinstance(event, OutputsSubmitted):
            submissions.append(event)

    async def let_time_run_out() -> None:
        await hang_started.wait()
        await clock.wait_for_sleepers(1)
        assert clock.next_deadline is not None
        clock.set(clock.next_deadline)

    runner = Runner(server.client, registry, clock=clock, safety_margin=2)
    async with anyio.create_task_group() as group:
        group.start_soon(let_time_run_out)
        result = await runner.run(thread_id=thread_id, assistant_id=assistant_id, on_event=on_event)

    assert result.status is S.COMPLETED
    [record] = result.tool_calls
    assert record.error is not None and record.error.kind == "timeout"
    assert result.output_text == record.output
    # Cut when only the safety margin is left (runflow's conservative estimate); the server,
    # whose clock may run up to a second ahead of what created_at says, had 3 s more.
    [submission] = submissions
    assert submission.time_left == pytest.approx(2.0)
    assert submission.expires_at is not None
    assert submission.expires_at - submission.at == pytest.approx(3.0)


async def test_outputs_that_come_too_late_end_the_run_expired(make_server: ServerFactory) -> None:
    clock = FakeClock(start=1_800_000_000)
    server = make_server(
        [{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}], clock=clock
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    registry = ToolRegistry()
    finished: list[ToolCallFinished] = []

    @registry.tool
    async def get_weather(city: str) -> str:
        clock.advance(3600)  # the handler "takes an hour": long past expires_at
        return "rain"

    def on_event(event: RunEvent) -> None:
        if isinstance(event, ToolCallFinished):
            finished.append(event)

    result = await Runner(server.client, registry, clock=clock).run(
        thread_id=thread_id, assistant_id=assistant_id, on_event=on_event
    )

    assert result.status is S.EXPIRED
    assert [event.record.output for event in finished] == ["rain"]
    with pytest.raises(RunExpiredError, match="ended expired"):
        result.raise_for_status()


async def test_run_options_reach_the_run(make_server: ServerFactory) -> None:
    server = make_server([{"message": "ok"}])
    assistant_id, thread_id = await server.assistant_and_thread()

    result = await Runner(server.client, weather_tools()).run(
        thread_id=thread_id,
        assistant_id=assistant_id,
        instructions="Answer in French.",
        metadata={"ticket": "T-42"},
        tool_choice="auto",
    )

    assert result.status is S.COMPLETED
    assert result.run.instructions == "Answer in French."
    assert result.run.metadata is not None
    assert result.run.metadata["ticket"] == "T-42"
    assert len(result.run.metadata["runflow_run_key"]) == 32  # the idempotency key
    assert result.run.tool_choice == "auto"


async def test_failed_and_incomplete_runs_are_reported(make_server: ServerFactory) -> None:
    server = make_server(
        [
            {"fail": {"code": "rate_limit_exceeded", "message": "Slow down"}},
            {"incomplete": {"reason": "max_completion_tokens"}},
        ]
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, weather_tools())

    failed = await runner.run(thread_id=thread_id, assistant_id=assistant_id)
    incomplete = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert failed.status is S.FAILED
    assert failed.run.last_error is not None and failed.run.last_error.message == "Slow down"
    assert incomplete.status is S.INCOMPLETE
    assert incomplete.run.incomplete_details is not None
    assert incomplete.run.incomplete_details.reason == "max_completion_tokens"


@pytest.mark.parametrize(
    "mode", [pytest.param("stream", id="stream"), pytest.param("poll", id="poll")]
)
async def test_one_round_reads_as_one_stream_of_events(
    make_server: ServerFactory, mode: Literal["stream", "poll"]
) -> None:
    server = make_server(
        [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
            {"message": "{output.get_weather}"},
        ]
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    events: list[RunEvent] = []

    result = await Runner(server.client, weather_tools(), mode=mode).run(
        thread_id=thread_id, assistant_id=assistant_id, on_event=events.append
    )

    progress = (RunPolled, StepSeen, MessageDelta)  # how many depends on the mode
    kinds = [type(e).__name__ for e in events if not isinstance(e, progress)]
    kinds = [kind for i, kind in enumerate(kinds) if kinds[i - 1 : i] != [kind]]  # runs of one
    assert kinds == [
        "RunRequested",
        "RunCreated",
        "StatusChanged",
        "ToolCallStarted",
        "ToolCallFinished",  # before the submission: the journal writes it here
        "OutputsSubmitted",
        "SubmissionEnded",
        "StatusChanged",
        "RunEnded",
    ]
    requested, created, ended = events[0], events[1], events[-1]
    assert isinstance(requested, RunRequested) and requested.thread_id == thread_id
    assert isinstance(created, RunCreated) and created.run_id == result.run.id
    assert isinstance(ended, RunEnded) and ended.result is result and ended.error is None
    assert ended.status is S.COMPLETED
    submitted = next(e for e in events if isinstance(e, SubmissionEnded))
    assert submitted.error is None and len(submitted.tool_call_ids) == 1
    changes = [e for e in events if isinstance(e, StatusChanged)]
    assert all(change.run.status == change.status.value for change in changes)
