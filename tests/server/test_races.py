"""Requests racing each other and the brain: a body that arrives slowly never makes its route
write back what it read before (no lost updates), and concurrent changes have one winner.

A slow body is an httpx2 request whose streaming body sends half the JSON, then waits on an
anyio event the test sets once the other change is done.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx2
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario

from .conftest import Server

pytestmark = pytest.mark.anyio

TOOLS_THEN_ANSWER = Scenario.model_validate(
    {
        "name": "tools",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"message": "It is {outputs}."},
        ],
    }
)
DELAY_THEN_TOOLS = Scenario.model_validate(
    {"name": "slow", "steps": [{"delay": 5}, *TOOLS_THEN_ANSWER.model_dump()["steps"]]}
)


class SlowBody:
    """A JSON body sent in two halves; the second waits for `release`. `reading` is set once
    the server asked for the second half (its route is waiting for the body)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()
        self.reading = anyio.Event()
        self.release = anyio.Event()

    async def chunks(self) -> AsyncIterator[bytes]:
        half = len(self.data) // 2
        yield self.data[:half]
        self.reading.set()
        await self.release.wait()
        yield self.data[half:]


async def slow_post(
    http: httpx2.AsyncClient,
    url: str,
    body: dict[str, Any],
    meanwhile: Callable[[], Awaitable[Any]],
) -> httpx2.Response:
    """POST `body` slowly; run `meanwhile` while the route waits for it; the response."""
    slow = SlowBody(body)
    response: list[httpx2.Response] = []

    async def post() -> None:
        headers = {"content-type": "application/json", "content-length": str(len(slow.data))}
        response.append(await http.post(url, content=slow.chunks(), headers=headers))

    async with anyio.create_task_group() as group:
        group.start_soon(post)
        await slow.reading.wait()
        await meanwhile()
        slow.release.set()
    return response[0]


async def _requires_action(
    client: openai.AsyncOpenAI, settle: Callable[[], Awaitable[None]]
) -> tuple[str, str, str]:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    await settle()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert run.status == "requires_action" and run.required_action is not None
    return thread.id, run.id, run.required_action.submit_tool_outputs.tool_calls[0].id


@pytest.mark.leaves_steps("the run rests in requires_action")
async def test_slow_run_update_racing_the_brain(server: Server, clock: FakeClock) -> None:
    app, client, http = await server.open(scenario=DELAY_THEN_TOOLS, clock=clock)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    await clock.wait_for_sleepers(1)  # in progress, waiting out its delay

    async def brain_moves() -> None:
        clock.advance(5)
        await app.state.engine.wait_until_settled()

    response = await slow_post(
        http, f"/v1/threads/{thread.id}/runs/{run.id}", {"metadata": {"k": "v"}}, brain_moves
    )
    assert response.status_code == 200, response.text
    stored = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert stored.status == "requires_action" and stored.required_action is not None
    assert stored.metadata == {"k": "v"}


async def test_slow_run_update_spanning_a_submit(server: Server, clock: FakeClock) -> None:
    app, client, http = await server.open(scenario=TOOLS_THEN_ANSWER, clock=clock)
    settle = app.state.engine.wait_until_settled
    thread_id, run_id, call_id = await _requires_action(client, settle)
    outputs = [{"tool_call_id": call_id, "output": "sunny"}]

    async def submit() -> None:
        await client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=outputs
        )
        await settle()

    url = f"/v1/threads/{thread_id}/runs/{run_id}"
    response = await slow_post(http, url, {"metadata": {"k": "v"}}, submit)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    stored = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert (stored.status, stored.required_action, stored.metadata) == (
        "completed",
        None,
        {"k": "v"},
    )
    again = await http.post(f"{url}/submit_tool_outputs", json={"tool_outputs": outputs})
    assert again.status_code == 400
    app.state.engine.brains.assert_consumed()
    assert (
        again.json()["error"]["message"] == 'Runs in status "completed" do not accept tool outputs.'
    )


@pytest.mark.leaves_steps("the run is cancelled before its answer")
async def test_slow_run_update_spanning_a_cancel(server: Server, clock: FakeClock) -> None:
    app, client, http = await server.open(scenario=TOOLS_THEN_ANSWER, clock=clock)
    settle = app.state.engine.wait_until_settled
    thread_id, run_id, call_id = await _requires_action(client, settle)

    async def cancel() -> None:
        await client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
        await settle()

    url = f"/v1/threads/{thread_id}/runs/{run_id}"
    response = await slow_post(http, url, {"metadata": {"k": "v"}}, cancel)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    outputs = [{"tool_call_id": call_id, "output": "late"}]
    late = await http.post(f"{url}/submit_tool_outputs", json={"tool_outputs": outputs})
    assert late.status_code == 400
    stored = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert stored.status == "cancelled"


async def test_slow_assistant_update_keeps_a_concurrent_change(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o", name="a", instructions="old")

    async def change_instructions() -> None:
        await client.beta.assistants.update(assistant.id, instructions="new")

    url = f"/v1/assistants/{assistant.id}"
    response = await slow_post(http, url, {"name": "b"}, change_instructions)
    assert response.status_code == 200
    stored = await client.beta.assistants.retrieve(assistant.id)
    assert (stored.name, stored.instructions) == ("b", "new")


async def test_slow_thread_update_keeps_concurrent_tool_resources(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    thread = await client.beta.threads.create()
    upload = await client.files.create(file=("a.txt", b"hello"), purpose="assistants")
    resources = {"code_interpreter": {"file_ids": [upload.id]}}

    async def set_resources() -> None:
        await client.beta.threads.update(thread.id, tool_resources=resources)  # type: ignore[arg-type]

    response = await slow_post(
        http, f"/v1/threads/{thread.id}", {"metadata": {"k": "v"}}, set_resources
    )
    assert response.status_code == 200
    stored = await client.beta.threads.retrieve(thread.id)
    assert stored.metadata == {"k": "v"}
    assert stored.tool_resources is not None and stored.tool_resources.code_interpreter is not None
    assert stored.tool_resources.code_interpreter.file_ids == [upload.id]


@pytest.mark.parametrize("kind", ["message", "thread", "assistant"])
async def test_slow_update_of_an_object_deleted_meanwhile_is_a_404(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient, kind: str
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    message = (await client.beta.threads.messages.list(thread.id)).data[0]
    url, delete = {
        "message": (
            f"/v1/threads/{thread.id}/messages/{message.id}",
            lambda: client.beta.threads.messages.delete(message.id, thread_id=thread.id),
        ),
        "thread": (f"/v1/threads/{thread.id}", lambda: client.beta.threads.delete(thread.id)),
        "assistant": (
            f"/v1/assistants/{assistant.id}",
            lambda: client.beta.assistants.delete(assistant.id),
        ),
    }[kind]
    response = await slow_post(http, url, {"metadata": {"k": "v"}}, delete)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["message"].startswith(f"No {kind} found with id")
