"""The real clients, strictly validating every answer, through one scripted conversation with a
file, a function tool, streaming and a second turn: `AsyncOpenAI` and `AsyncAzureOpenAI`
in-process, the sync `OpenAI` over loopback HTTP (uvicorn on a free 127.0.0.1 port).

One script serves all three: `done()` awaits what the async clients return and passes the sync
client's answers through.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario, create_app

from .conftest import Server
from .support import serve_in_thread

pytestmark = pytest.mark.anyio

KEY = "sk-clients"
SCRIPT = Scenario.model_validate(
    {
        "name": "forecast",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"message": "It is {output.get_weather} in Paris."},
            {"message": "You asked: {last_user_message}"},
        ],
    }
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

Client = openai.AsyncOpenAI | openai.AsyncAzureOpenAI | openai.OpenAI


async def done(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def events(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [event async for event in stream]
    return list(stream)


async def converse(client: Client, model: str) -> None:
    """Upload, attach, stream a tool round, answer it streamed, then a polled second turn."""
    beta = client.beta
    notes = await done(client.files.create(file=("notes.txt", b"Paris"), purpose="assistants"))
    assistant = await done(
        beta.assistants.create(
            model=model,
            tools=[WEATHER_TOOL, {"type": "file_search"}],  # type: ignore[list-item]
        )
    )
    attachment = {"file_id": notes.id, "tools": [{"type": "file_search"}]}
    thread = await done(
        beta.threads.create(
            messages=[{"role": "user", "content": "Weather?", "attachments": [attachment]}]
        )
    )

    first = await events(
        await done(beta.threads.runs.create(thread.id, assistant_id=assistant.id, stream=True))
    )
    assert first[-1].event == "thread.run.requires_action"
    run = first[-1].data
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    second = await events(
        await done(
            beta.threads.runs.submit_tool_outputs(
                run.id,
                thread_id=thread.id,
                tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
                stream=True,
            )
        )
    )
    assert second[-1].event == "thread.run.completed"

    await done(beta.threads.messages.create(thread.id, role="user", content="And tomorrow?"))
    polled = await done(
        beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1
        )
    )
    assert polled.status == "completed" and polled.model == model
    steps = await done(beta.threads.runs.steps.list(polled.id, thread_id=thread.id))
    assert [step.type for step in steps.data] == ["message_creation"]
    messages = await done(beta.threads.messages.list(thread.id, order="asc"))
    texts = [message.content[0].text.value for message in messages.data]
    assert texts == [
        "Weather?",
        "It is sunny in Paris.",
        "And tomorrow?",
        "You asked: And tomorrow?",
    ]
    assert messages.data[0].attachments[0].file_id == notes.id
    content = await done(client.files.content(notes.id))
    assert content.content == b"Paris"
    assert (await done(client.files.delete(notes.id))).deleted


async def test_async_openai(server: Server, clock: FakeClock) -> None:
    _, _, http = await server.open(clock=clock, scenario=SCRIPT, api_key=KEY)
    client = openai.AsyncOpenAI(
        base_url="http://testserver/v1",
        api_key=KEY,
        http_client=http,
        max_retries=0,
        _strict_response_validation=True,
    )

    await converse(client, "gpt-4o")


async def test_async_azure_openai_with_a_deployment_name(server: Server, clock: FakeClock) -> None:
    _, _, http = await server.open(clock=clock, scenario=SCRIPT, api_key=KEY)
    client = openai.AsyncAzureOpenAI(
        azure_endpoint="http://testserver",
        api_version="2024-05-01-preview",
        api_key=KEY,  # sent as the `api-key` header
        http_client=http,
        max_retries=0,
        _strict_response_validation=True,
    )

    await converse(client, "my-gpt4o-deployment")


async def test_sync_openai_over_http(tmp_path: Path) -> None:
    app = create_app(db=tmp_path / "runs.db", scenario=SCRIPT, api_key=KEY)
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(
            base_url=f"{url}/v1", api_key=KEY, max_retries=0, _strict_response_validation=True
        ) as client,
    ):
        await converse(client, "gpt-4o")
