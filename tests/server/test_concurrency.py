"""Concurrent requests on one thread or run: one winner, clear 400s, nothing doubled or lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario

from .conftest import Server

pytestmark = pytest.mark.anyio
T = TypeVar("T")

SCENARIO = Scenario.model_validate(
    {
        "name": "tools",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"message": "It is {outputs}."},
        ],
    }
)


async def together(*calls: Awaitable[T]) -> list[T | openai.APIStatusError]:
    """Run the calls concurrently; each one's result or its API error."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, openai.APIStatusError):
            raise result
    return list(results)  # type: ignore[arg-type]


def errors(results: list[Any]) -> list[openai.APIStatusError]:
    return [r for r in results if isinstance(r, openai.APIStatusError)]


async def _open(server: Server, clock: FakeClock) -> tuple[Any, openai.AsyncOpenAI, str, str]:
    app, client, _ = await server.open(scenario=SCENARIO, clock=clock)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    return app, client, assistant.id, thread.id


@pytest.mark.leaves_steps("the one run created rests in requires_action")
async def test_fifty_concurrent_runs_on_one_thread(server: Server, clock: FakeClock) -> None:
    app, client, assistant_id, thread_id = await _open(server, clock)
    results = await together(
        *[client.beta.threads.runs.create(thread_id, assistant_id=assistant_id) for _ in range(50)]
    )
    refused = errors(results)
    assert len(refused) == 49
    assert all(e.status_code == 400 and "already has an active run" in e.message for e in refused)
    await app.state.engine.wait_until_settled()
    runs = await client.beta.threads.runs.list(thread_id, limit=100)
    assert len(runs.data) == 1 and runs.data[0].status == "requires_action"


async def _waiting_run(
    server: Server, clock: FakeClock
) -> tuple[Any, openai.AsyncOpenAI, str, Any]:
    app, client, assistant_id, thread_id = await _open(server, clock)
    run = await client.beta.threads.runs.create(thread_id, assistant_id=assistant_id)
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert run.required_action is not None
    return app, client, thread_id, run


async def test_two_clients_submit_the_same_outputs(server: Server, clock: FakeClock) -> None:
    app, client, thread_id, run = await _waiting_run(server, clock)
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    outputs = [{"tool_call_id": call.id, "output": "sunny"}]
    submit = client.beta.threads.runs.submit_tool_outputs
    results = await together(
        *[submit(run.id, thread_id=thread_id, tool_outputs=outputs) for _ in range(2)]
    )
    (refused,) = errors(results)
    assert refused.status_code == 400 and "do not accept tool outputs" in refused.message
    await app.state.engine.wait_until_settled()
    final = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert final.status == "completed"
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
    messages = await client.beta.threads.messages.list(thread_id)
    assert [m.content[0].text.value for m in messages.data] == ["It is sunny."]  # type: ignore[union-attr]


@pytest.mark.leaves_steps("when the cancel wins, the answer is never played")
async def test_submit_racing_cancel(server: Server, clock: FakeClock) -> None:
    app, client, thread_id, run = await _waiting_run(server, clock)
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    outputs = [{"tool_call_id": call.id, "output": "sunny"}]
    submitted, cancelled = await together(
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=outputs
        ),
        client.beta.threads.runs.cancel(run.id, thread_id=thread_id),
    )
    assert not (isinstance(submitted, Exception) and isinstance(cancelled, Exception))
    await app.state.engine.wait_until_settled()
    final = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    messages = await client.beta.threads.messages.list(thread_id)
    if isinstance(cancelled, Exception):
        assert cancelled.status_code == 400
        assert final.status == "completed" and len(messages.data) == 1
    else:
        assert final.status == "cancelled" and messages.data == []
        if isinstance(submitted, Exception):
            assert submitted.status_code == 400


async def test_message_racing_run_creation(server: Server, clock: FakeClock) -> None:
    app, client, _ = await server.open(clock=clock)  # DefaultBrain: each run answers at once
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    accepted: list[str] = []
    for _ in range(10):
        message, run = await together(
            client.beta.threads.messages.create(thread.id, role="user", content="hi"),
            client.beta.threads.runs.create(thread.id, assistant_id=assistant.id),
        )
        assert not isinstance(run, Exception)
        if isinstance(message, Exception):
            assert message.status_code == 400 and "while a run" in message.message
        else:
            accepted.append(message.id)
        await app.state.engine.wait_until_settled()
    listed = await client.beta.threads.messages.list(thread.id, limit=100, order="asc")
    users = [m.id for m in listed.data if m.role == "user"]
    assert users == accepted and len(listed.data) == len(accepted) + 10
