"""Azure AI Foundry's own client, `azure-ai-agents`, runs its README flows against the server.

Over real TLS (uvicorn with a certificate for 127.0.0.1 from a CA made here with `trustme`),
because azure-core refuses to send a bearer token over plain HTTP; the token comes from a fake
`TokenCredential` and is the server's API key, so it is checked. The flows: create an agent with
a toolset and automatic function calls, `runs.create_and_process` (the SDK calls the function),
`runs.stream` with an `AgentEventHandler` (the SDK calls it again and submits the output on a
stream), `threads.list` (Foundry only), `files.upload_and_poll(..., filename=...)`.

The dev group pins azure-ai-agents 1.1.0 (it sends `api-version=v1`); the 1.2 pre-release (it
sends `2025-05-15-preview` and tags tool outputs `function_call_output`) runs the same file with
`uv run --with azure-ai-agents==1.2.0b6 pytest tests/server/test_foundry.py`.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trustme
import uvicorn
from azure.ai.agents import AgentsClient
from azure.ai.agents import __version__ as AGENTS_VERSION
from azure.ai.agents.models import (
    AgentEventHandler,
    FilePurpose,
    FunctionTool,
    MessageDeltaChunk,
    RunStep,
    SubmitToolOutputsAction,
    ThreadMessage,
    ThreadRun,
    ToolOutput,
    ToolSet,
)
from azure.core.credentials import AccessToken

from runflow_server import Scenario, create_app

TOKEN = "foundry-token"
WEATHER_SCRIPT = Scenario.model_validate(
    {
        "name": "weather",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"message": "Polled: {output.get_weather}."},
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Lyon"}}]},
            {"message": "Streamed: {output.get_weather}."},
        ],
    }
)


def get_weather(city: str) -> str:
    """The weather in a city.

    :param city: The city's name.
    :return: The weather, as JSON.
    """
    return f'{{"city": "{city}", "sky": "clear"}}'


class FakeCredential:
    """A `TokenCredential` that hands out one fixed token and counts the asks."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The server over HTTPS on 127.0.0.1: (project endpoint, CA bundle path)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, bundle = tmp_path / "server.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    ca.cert_pem.write_to_path(str(bundle))
    app = create_app(scenario=WEATHER_SCRIPT, api_key=TOKEN)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    config = uvicorn.Config(app, log_level="warning", ssl_certfile=str(chain))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{sock.getsockname()[1]}/api/projects/demo", str(bundle)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Recorder(AgentEventHandler[str]):
    """The README's event handler, keeping what it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.statuses: list[str] = []
        self.steps: list[str] = []
        self.errors: list[str] = []
        self.done = False
        self.last_run: ThreadRun | None = None

    def on_message_delta(self, delta: MessageDeltaChunk) -> str | None:
        self.text.append(delta.text)
        return None

    def on_thread_message(self, message: ThreadMessage) -> str | None:
        return None

    def on_thread_run(self, run: ThreadRun) -> str | None:
        self.statuses.append(run.status)  # a str enum
        self.last_run = run
        return None

    def on_run_step(self, step: RunStep) -> str | None:
        self.steps.append(f"{step.type.value}:{step.status.value}")
        return None

    def on_error(self, data: str) -> str | None:
        self.errors.append(data)
        return None

    def on_done(self) -> str | None:
        self.done = True
        return None


def test_the_readme_flows_of_azure_ai_agents_run_over_tls(tls_server: tuple[str, str]) -> None:
    endpoint, bundle = tls_server
    credential = FakeCredential()
    toolset = ToolSet()
    toolset.add(FunctionTool({get_weather}))
    with AgentsClient(endpoint, credential, connection_verify=bundle) as client:  # type: ignore[arg-type]
        client.enable_auto_function_calls(toolset)
        agent = client.create_agent(
            model="gpt-4o", name="my-agent", instructions="Be helpful.", toolset=toolset
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="Weather in Paris?")

        polled = client.runs.create_and_process(thread_id=thread.id, agent_id=agent.id)

        client.messages.create(thread_id=thread.id, role="user", content="And in Lyon?")
        handler = Recorder()
        with client.runs.stream(
            thread_id=thread.id, agent_id=agent.id, event_handler=handler
        ) as stream:
            stream.until_done()

        listed = [item.id for item in client.threads.list(limit=1)]
        uploaded = client.files.upload_and_poll(
            file=io.BytesIO(b"some notes"), purpose=FilePurpose.AGENTS, filename="notes.txt"
        )
        messages = [m.text_messages[-1].text.value for m in client.messages.list(thread.id)]
        client.delete_agent(agent.id)

    assert polled.status == "completed", polled.last_error
    assert handler.errors == [] and handler.done, AGENTS_VERSION
    assert handler.statuses[-1] == "completed" and "requires_action" in handler.statuses
    assert "tool_calls:completed" in handler.steps
    assert "".join(handler.text) == 'Streamed: {"city": "Lyon", "sky": "clear"}.'
    assert messages[0] == 'Streamed: {"city": "Lyon", "sky": "clear"}.'
    assert messages[2] == 'Polled: {"city": "Paris", "sky": "clear"}.'
    assert listed == [thread.id]
    assert uploaded.filename == "notes.txt" and uploaded.status == "processed"
    assert credential.scopes and credential.scopes[0] == ("https://ai.azure.com/.default",)


def test_tool_outputs_submitted_by_hand_on_a_stream(tls_server: tuple[str, str]) -> None:
    """The README's manual flow: the run stops at requires_action, the outputs go back as
    `ToolOutput` models (1.2 tags them `function_call_output`) on a second stream."""
    endpoint, bundle = tls_server
    with AgentsClient(endpoint, FakeCredential(), connection_verify=bundle) as client:  # type: ignore[arg-type]
        agent = client.create_agent(
            model="gpt-4o", name="manual", tools=FunctionTool({get_weather}).definitions
        )
        thread = client.threads.create()
        client.messages.create(thread_id=thread.id, role="user", content="Weather in Paris?")
        first = Recorder()
        with client.runs.stream(thread_id=thread.id, agent_id=agent.id, event_handler=first) as s:
            s.until_done()
        run = first.last_run
        assert run is not None and run.status == "requires_action"
        assert isinstance(run.required_action, SubmitToolOutputsAction)
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = [ToolOutput(tool_call_id=call.id, output=get_weather("Paris")) for call in calls]
        second = Recorder()
        client.runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=outputs, event_handler=second
        )
        second.until_done()
        final = client.runs.get(thread_id=thread.id, run_id=run.id)

    assert second.errors == [] and second.done, AGENTS_VERSION
    assert "".join(second.text) == 'Polled: {"city": "Paris", "sky": "clear"}.'
    assert final.status == "completed"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("version", "status"),
    [
        pytest.param(None, 200, id="none"),
        pytest.param("v1", 200, id="v1-azure-ai-agents-1.1"),
        pytest.param("2025-05-01", 200, id="2025-05-01"),
        pytest.param("2025-05-15-preview", 200, id="2025-05-15-preview-azure-ai-agents-1.2"),
        pytest.param("2026-01-01-preview", 200, id="later"),
        pytest.param("2024-05-01-preview", 400, id="before-foundry"),
        pytest.param("bogus", 400, id="bogus"),
        pytest.param("v2", 400, id="v2"),
    ],
)
async def test_api_versions_on_api_projects(
    http: httpx2.AsyncClient, version: str | None, status: int
) -> None:
    query = {} if version is None else {"api-version": version}

    response = await http.get("/api/projects/demo/threads", params=query)

    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"] == {
            "message": "API version not supported",
            "type": "invalid_request_error",
            "param": "api-version",
            "code": "BadRequest",
        }


@pytest.mark.anyio
async def test_threads_list_pages_a_projects_threads_and_only_on_foundry(
    http: httpx2.AsyncClient,
) -> None:
    made = [(await http.post("/api/projects/p/threads", json={})).json()["id"] for _ in range(5)]

    first = (await http.get("/api/projects/p/threads", params={"limit": 2})).json()
    after = await http.get("/api/projects/p/threads", params={"limit": 2, "after": made[3]})
    before = await http.get("/api/projects/p/threads", params={"limit": 2, "before": made[1]})
    on_openai = await http.get("/v1/threads")
    await http.post("/api/projects/other/threads", json={})
    await http.post("/v1/threads", json={})
    listed = (await http.get("/api/projects/p/threads")).json()["data"]
    other = await http.get("/api/projects/other/threads", params={"after": made[0]})

    assert [item["id"] for item in listed] == made[::-1]  # only this project's
    assert other.status_code == 400  # a cursor of another project's list
    assert [item["id"] for item in first["data"]] == [made[4], made[3]] and first["has_more"]
    assert [item["id"] for item in after.json()["data"]] == [made[2], made[1]]
    assert [item["id"] for item in before.json()["data"]] == [made[3], made[2]]
    assert on_openai.status_code == 405


@pytest.mark.anyio
async def test_tool_outputs_typed_function_call_output_are_taken_on_foundry(
    http: httpx2.AsyncClient, settle: Callable[[], Awaitable[None]]
) -> None:
    assistant = (await http.post("/api/projects/p/assistants", json={"model": "m"})).json()
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    body = {
        "assistant_id": assistant["id"],
        "tools": [tool],
        "tool_choice": "required",
        "thread": {"messages": [{"role": "user", "content": "hi"}]},
    }
    run = (await http.post("/api/projects/p/threads/runs", json=body)).json()
    thread_id = run["thread_id"]
    path = f"/threads/{thread_id}/runs/{run['id']}"
    await settle()
    run = (await http.get(f"/api/projects/p{path}")).json()
    call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    typed = {"tool_call_id": call, "output": "ok", "type": "function_call_output"}

    refused = await http.post(f"/v1{path}/submit_tool_outputs", json={"tool_outputs": [typed]})
    other = {**typed, "type": "message"}
    wrong = await http.post(
        f"/api/projects/p{path}/submit_tool_outputs", json={"tool_outputs": [other]}
    )
    taken = await http.post(
        f"/api/projects/p{path}/submit_tool_outputs", json={"tool_outputs": [typed]}
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "tool_outputs[0].type"
    assert wrong.status_code == 400
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] in ("queued", "in_progress", "completed")
