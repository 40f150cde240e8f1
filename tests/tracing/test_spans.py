"""The span tree of runs driven against the real local server, read back from memory."""

from __future__ import annotations

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from runflow import Runner, RunStatus, ToolRegistry
from runflow.testing import FakeClock
from tests.conftest import ServerFactory
from tests.tools import hanging_tool, weather_tools

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

S = RunStatus
THREE_ROUNDS = [
    {
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
            {"name": "get_time", "arguments": {"city": "Oslo"}},
        ]
    },
    {"tool_calls": [{"name": "divide", "arguments": {"a": 9, "b": 3}}]},
    {"message": "{output.get_weather}; {output.get_time}; ratio {output.divide}"},
]


def one_round(*tools: str) -> list[dict[str, object]]:
    """A scenario: one round of calls (in parallel, without arguments), then the outputs."""
    calls = [{"name": name, "arguments": {}} for name in tools]
    return [{"tool_calls": calls}, {"message": "{outputs}"}]


def statuses(span: ReadableSpan) -> list[str]:
    return [str(event.attributes["runflow.run.status"]) for event in span.events]  # type: ignore[index]


def attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def assert_child(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.parent is not None and parent.context is not None
    assert child.parent.span_id == parent.context.span_id
    assert child.context is not None and child.context.trace_id == parent.context.trace_id
    assert parent.start_time is not None and parent.end_time is not None
    assert child.start_time is not None and child.end_time is not None
    assert parent.start_time <= child.start_time <= child.end_time <= parent.end_time


async def test_a_multi_round_run_gives_the_whole_tree(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server(THREE_ROUNDS)
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, weather_tools(), instrumentation=telemetry.instrumentation())

    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.COMPLETED
    run_id = result.run.id
    assert telemetry.tree() == [
        f"invoke_agent {assistant_id}",
        "  run_step tool_calls",
        "  execute_tool get_weather",
        "  execute_tool get_time",
        "  submit_tool_outputs",
        "  run_step tool_calls",
        "  execute_tool divide",
        "  submit_tool_outputs",
        "  run_step message_creation",
    ]
    root = telemetry.span(f"invoke_agent {assistant_id}")
    assert root.kind is SpanKind.CLIENT and root.parent is None
    assert root.status.status_code is StatusCode.UNSET
    assert result.run.usage is not None
    assert attributes(root) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.agent.id": assistant_id,
        "gen_ai.conversation.id": thread_id,
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o",
        "gen_ai.response.id": run_id,
        "gen_ai.usage.input_tokens": result.run.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": result.run.usage.completion_tokens,
        "server.address": "runflow.test",
        "openinference.span.kind": "AGENT",
        "runflow.run.id": run_id,
        "runflow.run.mode": "stream",
        "runflow.run.status": "completed",
        "runflow.run.tool_rounds": 2,
        "runflow.run.polls": 0,
        "runflow.run.retries": 0,
    }
    assert [event.name for event in root.events] == ["runflow.run.status_changed"] * 9
    assert statuses(root) == ["queued", "in_progress", "requires_action"] * 2 + [
        "queued",
        "in_progress",
        "completed",
    ]
    assert root.events[1].attributes == {
        "runflow.run.status": "in_progress",
        "runflow.run.previous_status": "queued",
    }
    event_times = [event.timestamp for event in root.events]
    assert event_times == sorted(event_times)
    for span in telemetry.spans():
        if span is not root:
            assert_child(span, root)


async def test_tool_spans_name_the_call_the_run_and_the_thread(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server(THREE_ROUNDS)
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, weather_tools(), instrumentation=telemetry.instrumentation())

    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    record = next(record for record in result.tool_calls if record.name == "divide")
    divide = telemetry.span("execute_tool divide")
    assert divide.kind is SpanKind.INTERNAL
    assert divide.status.status_code is StatusCode.UNSET
    assert attributes(divide) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "divide",
        "gen_ai.tool.call.id": record.call_id,
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": thread_id,
        "gen_ai.agent.id": assistant_id,
        "runflow.run.id": result.run.id,
        "runflow.tool.outcome": "ok",
        "openinference.span.kind": "TOOL",
        "tool.name": "divide",
    }
    first, second = (s for s in telemetry.spans() if s.name == "submit_tool_outputs")
    assert first.kind is SpanKind.CLIENT
    assert attributes(second) == {
        "gen_ai.provider.name": "openai",
        "server.address": "runflow.test",
        "gen_ai.conversation.id": thread_id,
        "runflow.run.id": result.run.id,
        "runflow.submission.tool_call_ids": (record.call_id,),
        "runflow.submission.time_left": pytest.approx(598, abs=2),
    }
    assert len(attributes(first)["runflow.submission.tool_call_ids"]) == 2  # type: ignore[arg-type]


async def test_run_step_spans_carry_their_status_and_usage(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server(THREE_ROUNDS)
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, weather_tools(), instrumentation=telemetry.instrumentation())

    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    api_steps = await server.client.beta.threads.runs.steps.list(
        result.run.id, thread_id=thread_id, order="asc"
    )
    spans = [span for span in telemetry.spans() if span.name.startswith("run_step ")]
    spans.sort(key=lambda span: span.start_time or 0)
    assert [attributes(s)["runflow.step.id"] for s in spans] == [s.id for s in api_steps.data]
    for span, step in zip(spans, api_steps.data, strict=True):
        assert step.usage is not None and step.completed_at is not None
        assert span.kind is SpanKind.INTERNAL
        assert attributes(span) == {
            "runflow.step.id": step.id,
            "runflow.step.type": step.type,
            "runflow.step.status": "completed",
            "runflow.run.id": result.run.id,
            "gen_ai.conversation.id": thread_id,
            "gen_ai.usage.input_tokens": step.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": step.usage.completion_tokens,
            "openinference.span.kind": "LLM",
        }
        # Back-dated from the step's whole-second timestamps (never later than they allow).
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= (step.created_at + 1) * 1_000_000_000
        assert span.end_time <= (step.completed_at + 1) * 1_000_000_000
    # A tool_calls step lasts from the model's calls until the outputs were submitted.
    first_step = spans[0]
    first_submission = next(s for s in telemetry.spans() if s.name == "submit_tool_outputs")
    assert first_step.end_time is not None and first_submission.start_time is not None
    assert first_step.end_time >= first_submission.start_time


async def test_parallel_tool_calls_are_sibling_spans_that_overlap(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server(one_round("ping", "pong"))
    assistant_id, thread_id = await server.assistant_and_thread()
    registry = ToolRegistry()
    ping_started, pong_started = anyio.Event(), anyio.Event()

    @registry.tool
    async def ping() -> str:
        ping_started.set()
        await pong_started.wait()  # each waits for the other: they run at the same time
        return "ping"

    @registry.tool
    async def pong() -> str:
        pong_started.set()
        await ping_started.wait()
        return "pong"

    runner = Runner(server.client, registry, instrumentation=telemetry.instrumentation())
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.COMPLETED
    root = telemetry.span(f"invoke_agent {assistant_id}")
    ping_span, pong_span = telemetry.span("execute_tool ping"), telemetry.span("execute_tool pong")
    assert_child(ping_span, root)
    assert_child(pong_span, root)
    assert ping_span.start_time is not None and pong_span.start_time is not None
    assert ping_span.end_time is not None and pong_span.end_time is not None
    assert max(ping_span.start_time, pong_span.start_time) < min(
        ping_span.end_time, pong_span.end_time
    )
    [submission] = [s for s in telemetry.spans() if s.name == "submit_tool_outputs"]
    assert submission.start_time is not None
    assert max(ping_span.end_time, pong_span.end_time) <= submission.start_time


async def test_spans_a_handler_makes_nest_under_its_tool_span(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server(one_round("fetch_async", "fetch_sync"))
    assistant_id, thread_id = await server.assistant_and_thread()
    tracer = telemetry.tracer_provider.get_tracer("handler")
    registry = ToolRegistry()

    @registry.tool
    async def fetch_async() -> str:
        with tracer.start_as_current_span("GET /inventory"):
            return "async"

    @registry.tool
    def fetch_sync() -> str:  # runs in a worker thread
        with tracer.start_as_current_span("SELECT stock"):
            return "sync"

    runner = Runner(server.client, registry, instrumentation=telemetry.instrumentation())
    await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert_child(telemetry.span("GET /inventory"), telemetry.span("execute_tool fetch_async"))
    assert_child(telemetry.span("SELECT stock"), telemetry.span("execute_tool fetch_sync"))


async def test_the_run_span_is_a_child_of_the_callers_span(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server([{"message": "hello"}])
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, instrumentation=telemetry.instrumentation())

    with telemetry.tracer_provider.get_tracer("app").start_as_current_span("POST /chat"):
        await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert telemetry.tree() == [
        "POST /chat",
        f"  invoke_agent {assistant_id}",
        "    run_step message_creation",
    ]


async def test_a_handler_error_fails_its_tool_span_not_the_run(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server(
        [
            {"tool_calls": [{"name": "divide", "arguments": {"a": 1, "b": 0}}]},
            {"message": "the tool said: {outputs}"},
        ]
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, weather_tools(), instrumentation=telemetry.instrumentation())

    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.COMPLETED
    tool = telemetry.span("execute_tool divide")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.status.description is None  # the error's text is content: not recorded
    assert attributes(tool)["error.type"] == "handler_error"
    assert attributes(tool)["runflow.tool.outcome"] == "handler_error"
    root = telemetry.span(f"invoke_agent {assistant_id}")
    assert root.status.status_code is StatusCode.UNSET
    assert "error.type" not in attributes(root)


async def test_a_handler_cut_at_the_deadline_is_a_timeout(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    clock = FakeClock(start=1_800_000_000)
    server = make_server(one_round("hang"), clock=clock)
    assistant_id, thread_id = await server.assistant_and_thread()
    registry, hang_started = hanging_tool("hang")

    async def let_time_run_out() -> None:
        await hang_started.wait()
        await clock.wait_for_sleepers(1)
        assert clock.next_deadline is not None
        clock.set(clock.next_deadline)

    runner = Runner(
        server.client,
        registry,
        clock=clock,
        safety_margin=2,
        instrumentation=telemetry.instrumentation(),
    )
    async with anyio.create_task_group() as group:
        group.start_soon(let_time_run_out)
        result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.COMPLETED
    assert telemetry.tree() == [
        f"invoke_agent {assistant_id}",
        "  run_step tool_calls",
        "  execute_tool hang",
        "  submit_tool_outputs",
        "  run_step message_creation",
    ]
    tool = telemetry.span("execute_tool hang")
    assert tool.status.status_code is StatusCode.ERROR
    assert attributes(tool)["error.type"] == "timeout"
    submission = telemetry.span("submit_tool_outputs")
    assert attributes(submission)["runflow.submission.time_left"] == pytest.approx(2.0)
    assert telemetry.span(f"invoke_agent {assistant_id}").status.status_code is StatusCode.UNSET


@pytest.mark.parametrize(
    ("step", "error_type", "description", "extra"),
    [
        pytest.param(
            {"fail": {"code": "rate_limit_exceeded", "message": "Slow down"}},
            "failed",
            "run ended failed: rate_limit_exceeded: Slow down",
            {"runflow.run.error_code": "rate_limit_exceeded"},
            id="failed",
        ),
        pytest.param(
            {"incomplete": {"reason": "max_completion_tokens"}},
            "incomplete",
            "run ended incomplete: max_completion_tokens",
            {"runflow.run.incomplete_reason": "max_completion_tokens"},
            id="incomplete",
        ),
    ],
)
async def test_a_run_that_ends_badly_has_an_error_span(
    make_server: ServerFactory,
    telemetry: Telemetry,
    step: dict[str, object],
    error_type: str,
    description: str,
    extra: dict[str, str],
) -> None:
    server = make_server([step])
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(server.client, instrumentation=telemetry.instrumentation())

    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status.value == error_type
    assert telemetry.tree() == [f"invoke_agent {assistant_id}"]
    root = telemetry.span(f"invoke_agent {assistant_id}")
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == description
    assert attributes(root)["error.type"] == error_type
    assert attributes(root)["runflow.run.status"] == error_type
    assert extra.items() <= attributes(root).items()
    assert statuses(root)[-1] == error_type


async def test_outputs_that_come_too_late_give_an_expired_run_span(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    clock = FakeClock(start=1_800_000_000)
    server = make_server(
        [{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}], clock=clock
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    registry = ToolRegistry()

    @registry.tool
    async def get_weather(city: str) -> str:
        clock.advance(3600)  # the handler "takes an hour": long past expires_at
        return "rain"

    runner = Runner(
        server.client, registry, clock=clock, instrumentation=telemetry.instrumentation()
    )
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.EXPIRED
    root = telemetry.span(f"invoke_agent {assistant_id}")
    assert root.status.status_code is StatusCode.ERROR
    assert attributes(root)["error.type"] == "expired"
    assert statuses(root)[-1] == "expired"
    # The tool did its job; the step it answered expired with the run.
    assert telemetry.span("execute_tool get_weather").status.status_code is StatusCode.UNSET
    submission = telemetry.span("submit_tool_outputs")
    assert attributes(submission)["runflow.submission.time_left"] < 0  # type: ignore[operator]


async def test_a_cancelled_run_has_error_spans_and_is_cancelled_on_the_server(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server([{"tool_calls": [{"name": "wait_forever", "arguments": {}}]}])
    assistant_id, thread_id = await server.assistant_and_thread()
    registry, handler_started = hanging_tool("wait_forever")

    runner = Runner(server.client, registry, instrumentation=telemetry.instrumentation())
    async with anyio.create_task_group() as group:

        async def drive() -> None:
            await runner.run(thread_id=thread_id, assistant_id=assistant_id)

        group.start_soon(drive)
        await handler_started.wait()
        group.cancel_scope.cancel()

    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.status for run in runs.data] == ["cancelled"]
    assert telemetry.tree() == [
        f"invoke_agent {assistant_id}",
        "  run_step tool_calls",
        "  execute_tool wait_forever",
    ]
    root = telemetry.span(f"invoke_agent {assistant_id}")
    assert root.status.status_code is StatusCode.ERROR
    assert attributes(root)["error.type"] == "cancelled"
    assert not root.events[-1].name.startswith("exception")  # cancelling is not a crash
    tool = telemetry.span("execute_tool wait_forever")
    assert tool.status.status_code is StatusCode.ERROR
    assert attributes(tool)["error.type"] == "cancelled"
    step = telemetry.span("run_step tool_calls")
    assert attributes(step)["runflow.step.status"] == "in_progress"  # as last seen


async def test_polling_gives_the_same_tree_as_streaming(
    make_server: ServerFactory, telemetry: Telemetry
) -> None:
    server = make_server([*THREE_ROUNDS, *THREE_ROUNDS])
    assistant_id, thread_id = await server.assistant_and_thread()
    tools = weather_tools()
    streamed = Runner(server.client, tools, instrumentation=telemetry.instrumentation())
    await streamed.run(thread_id=thread_id, assistant_id=assistant_id)
    streamed_tree = telemetry.tree()
    telemetry.exporter.clear()
    runner = Runner(server.client, tools, mode="poll", instrumentation=telemetry.instrumentation())

    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status is S.COMPLETED
    # Without a stream the runner lists the run steps, so the step spans are there too.
    # (Siblings may start in another order: steps are seen when listed, not as they stream.)
    assert sorted(telemetry.tree()) == sorted(streamed_tree)
    assert telemetry.tree().count("  run_step tool_calls") == 2
    assert telemetry.tree().count("  run_step message_creation") == 1
    root = telemetry.span(f"invoke_agent {assistant_id}")
    assert attributes(root)["runflow.run.mode"] == "poll"
    assert attributes(root)["runflow.run.polls"] == result.polls > 0
    assert attributes(root)["runflow.run.tool_rounds"] == 2
    assert statuses(root)[-1] == "completed"
    assert root.status.status_code is StatusCode.UNSET
