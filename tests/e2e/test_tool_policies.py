"""Tool options that reach into the run: context, on_error policies, output truncation."""

import json

import pytest

from runflow import Runner, RunStatus, ToolContext, ToolPolicyError, ToolRegistry
from tests.conftest import ServerFactory

pytestmark = pytest.mark.anyio

ONE_CALL = [{"tool_calls": [{"name": "act", "arguments": {}}]}, {"message": "{outputs}"}]


async def test_a_handler_gets_its_context(make_server: ServerFactory) -> None:
    server = make_server(ONE_CALL)
    assistant_id, thread_id = await server.assistant_and_thread()
    registry = ToolRegistry()
    seen: list[ToolContext] = []

    @registry.tool
    async def act(context: ToolContext) -> str:
        seen.append(context)
        return "ok"

    result = await Runner(server.client, registry).run(
        thread_id=thread_id, assistant_id=assistant_id
    )

    [context] = seen
    assert (context.run_id, context.thread_id) == (result.run.id, thread_id)
    assert context.tool_call_id == result.tool_calls[0].call_id
    assert context.tool_name == "act"
    time_left = context.time_left()
    assert time_left is not None and 590 < time_left < 600
    assert "context" not in act.parameters["properties"]


def failing(policy: str) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(on_error=policy)  # type: ignore[call-overload]
    async def act() -> str:
        raise RuntimeError("the payment provider is down")

    return registry


@pytest.mark.leaves_steps("the policy cancels the run before its answer")
async def test_on_error_fail_stops_the_run_and_raises(make_server: ServerFactory) -> None:
    server = make_server(ONE_CALL)
    assistant_id, thread_id = await server.assistant_and_thread()

    with pytest.raises(ToolPolicyError, match="payment provider is down") as raised:
        await Runner(server.client, failing("fail")).run(
            thread_id=thread_id, assistant_id=assistant_id
        )

    assert raised.value.policy == "fail"
    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.status for run in runs.data] == ["cancelled"]  # not left holding the thread


@pytest.mark.leaves_steps("the policy cancels the run before its answer")
async def test_on_error_cancel_ends_the_run_cancelled(make_server: ServerFactory) -> None:
    server = make_server(ONE_CALL)
    assistant_id, thread_id = await server.assistant_and_thread()

    result = await Runner(server.client, failing("cancel")).run(
        thread_id=thread_id, assistant_id=assistant_id
    )

    assert result.status is RunStatus.CANCELLED
    [record] = result.tool_calls
    assert record.error is not None and record.error.kind == "handler_error"


async def test_an_oversized_output_is_truncated_with_a_marker(make_server: ServerFactory) -> None:
    server = make_server(ONE_CALL)
    assistant_id, thread_id = await server.assistant_and_thread()
    registry = ToolRegistry(max_output_chars=500)

    @registry.tool
    async def act() -> str:
        return json.dumps({"rows": ["x" * 100] * 100})

    result = await Runner(server.client, registry).run(
        thread_id=thread_id, assistant_id=assistant_id
    )

    [record] = result.tool_calls
    assert record.truncated and len(record.output) == 500
    assert record.output.endswith("more characters]")
    assert result.output_text == record.output  # what the model received
