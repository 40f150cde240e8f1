"""Runs end to end through the openai client: tool rounds, streams, the thread lock, cancel."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from pydantic import TypeAdapter

from runflow.testing import FakeClock
from runflow_server import Scenario

from .conftest import Server
from .support import (
    collapse,
    event_names,
    read_stream,
    recorded_events,
    recording,
    stream_run,
    validate,
)

pytestmark = pytest.mark.anyio

WEATHER = Scenario.model_validate(
    {
        "name": "weather",
        "steps": [
            {
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris"}},
                    {"name": "get_time", "arguments": '{"zone": "CET"}'},
                ]
            },
            {"message": "In Paris: {output.get_weather} at {output.get_time} ({outputs})."},
        ],
    }
)
ANSWER = "In Paris: sunny at 10:00 (sunny, 10:00)."


async def weather_server(server: Server, clock: FakeClock) -> openai.AsyncOpenAI:
    _, client, _ = await server.open(scenario=WEATHER, clock=clock)
    return client


async def start(client: openai.AsyncOpenAI, question: str = "Weather?") -> tuple[str, str]:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    return assistant.id, thread.id


def outputs_for(run: Run) -> list[dict[str, str]]:
    answers = {"get_weather": "sunny", "get_time": "10:00"}
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    return [{"tool_call_id": call.id, "output": answers[call.function.name]} for call in calls]


async def test_parallel_tool_calls_then_a_message_quoting_the_outputs_streamed(
    server: Server, clock: FakeClock
) -> None:
    client = await weather_server(server, clock)
    assistant_id, thread_id = await start(client)

    first = await read_stream(
        await client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True
        )
    )
    run = first[-1].data
    assert first[-1].event == "thread.run.requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_time", '{"zone": "CET"}'),
    ]
    assert all(c.id.startswith("call_") and len(c.id) == 29 for c in calls)
    assert run.expires_at == run.created_at + 600

    second = await read_stream(
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=outputs_for(run), stream=True
        )
    )
    assert second[-1].event == "thread.run.completed"
    completed = second[-1].data
    assert completed.usage is not None and completed.usage.total_tokens > 0
    assert completed.expires_at is None and completed.completed_at is not None
    deltas = [
        e.data.delta.content[0].text.value for e in second if e.event == "thread.message.delta"
    ]
    assert len(deltas) > 1 and "".join(deltas) == ANSWER
    messages = await client.beta.threads.messages.list(thread_id=thread_id)
    assert messages.data[0].content[0].text.value == ANSWER  # type: ignore[union-attr]
    assert messages.data[0].run_id == run.id and messages.data[0].assistant_id == assistant_id


async def test_the_same_conversation_without_streams(
    server: Server, clock: FakeClock, http: httpx2.AsyncClient
) -> None:
    app, client, http = await server.open(scenario=WEATHER, clock=clock)
    assistant_id, thread_id = await start(client)

    run = await client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "queued"
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert run.status == "requires_action"

    submitted = await client.beta.threads.runs.submit_tool_outputs(
        run.id, thread_id=thread_id, tool_outputs=outputs_for(run)
    )
    assert submitted.status == "queued" and submitted.required_action is None
    await app.state.engine.wait_until_settled()

    raw = (await http.get(f"/v1/threads/{thread_id}/runs/{run.id}")).json()
    assert validate(Run, raw).status == "completed"
    steps = (await http.get(f"/v1/threads/{thread_id}/runs/{run.id}/steps?order=asc")).json()
    tool_step, message_step = (validate(RunStep, step) for step in steps["data"])
    assert tool_step.type == "tool_calls" and tool_step.status == "completed"
    outputs = [c.function.output for c in tool_step.step_details.tool_calls]  # type: ignore[union-attr]
    assert outputs == ["sunny", "10:00"]
    assert message_step.type == "message_creation" and message_step.usage is not None
    message_id = message_step.step_details.message_creation.message_id  # type: ignore[union-attr]
    message = (await http.get(f"/v1/threads/{thread_id}/messages/{message_id}")).json()
    assert validate(Message, message).content[0].text.value == ANSWER  # type: ignore[union-attr]


async def test_stream_events_validate_as_the_sdk_events(server: Server, clock: FakeClock) -> None:
    _, client, http = await server.open(scenario=WEATHER, clock=clock)
    assistant_id, thread_id = await start(client)
    adapter: TypeAdapter[Any] = TypeAdapter(AssistantStreamEvent)

    first = await http.post(
        f"/v1/threads/{thread_id}/runs", json={"assistant_id": assistant_id, "stream": True}
    )
    run = sse_events(first.text)[-1][1]
    outputs = [{"tool_call_id": call["id"], "output": "ok"} for call in calls_of(run)]
    second = await http.post(
        f"/v1/threads/{thread_id}/runs/{run['id']}/submit_tool_outputs",
        json={"tool_outputs": outputs, "stream": True},
    )

    for name, data in sse_events(first.text) + sse_events(second.text):
        if data.get("object") == "thread.run" and data["instructions"] is None:
            data["instructions"] = ""  # see support.validate
        assert adapter.validate_python({"event": name, "data": data}).event == name


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, data) of each event of a raw SSE body, without the final `done`."""
    events = []
    for frame in body.split("\n\n"):
        if frame and not frame.startswith("event: done"):
            name, data = frame.split("\n")
            events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def calls_of(run: dict[str, Any]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    return calls


async def test_tool_call_stream_order_matches_the_recording(
    server: Server, clock: FakeClock
) -> None:
    """POST /threads/runs with stream, then submit with stream: `StreamingToolCall().json`."""
    steps = [{"tool_calls": [{"name": "get_current_weather"}]}, {"message": "Wear a hat."}]
    scenario = Scenario.model_validate({"name": "one", "steps": steps})
    _, client, _ = await server.open(scenario=scenario, clock=clock)
    entries = recording("StreamingToolCall().json")
    assistant = await client.beta.assistants.create(**entries[0]["RequestBody"])
    request = {**entries[1]["RequestBody"], "assistant_id": assistant.id}

    created = await read_stream(await client.beta.threads.create_and_run(**request))
    # The SDK swallows the final `done` event, so the recordings are compared without it.
    assert [e.event for e in created] == recorded_events(entries[1])[:-1]
    run = created[-1].data
    answer = {"tool_call_id": outputs_ids(run)[0], "output": "warm and sunny"}
    submitted = await event_names(
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, tool_outputs=[answer], stream=True
        )
    )
    assert collapse(submitted) == collapse(recorded_events(entries[2])[:-1])


def outputs_ids(run: Run) -> list[str]:
    assert run.required_action is not None
    return [call.id for call in run.required_action.submit_tool_outputs.tool_calls]


async def test_message_stream_order_matches_the_recording(client: openai.AsyncOpenAI) -> None:
    """The default brain answering: `StreamingRunWorks.json`."""
    entries = recording("StreamingRunWorks.json")
    assistant_id, thread_id = await start(client, "Hello there, assistant! How are you today?")
    names = await event_names(
        await client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True
        )
    )
    assert collapse(names) == collapse(recorded_events(entries[2])[:-1])


async def test_raw_stream_ends_with_done(http: httpx2.AsyncClient) -> None:
    assistant = (await http.post("/v1/assistants", json={"model": "gpt-4o"})).json()
    thread = (await http.post("/v1/threads", json={})).json()
    response = await http.post(
        f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"], "stream": True}
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.split("\n\n")
    assert frames[0].startswith("event: thread.run.created\ndata: {")
    assert frames[-3].startswith("event: thread.run.completed\ndata: {")
    assert frames[-2:] == ["event: done\ndata: [DONE]", ""]


async def test_the_thread_is_locked_while_a_run_is_active(server: Server, clock: FakeClock) -> None:
    client = await weather_server(server, clock)
    assistant_id, thread_id = await start(client)
    run = (await stream_run(client, assistant_id, thread_id))[-1].data

    with pytest.raises(openai.BadRequestError) as message_error:
        await client.beta.threads.messages.create(thread_id=thread_id, role="user", content="more")
    assert message_error.value.status_code == 400
    assert message_error.value.body["message"] == (  # type: ignore[index]
        f"Can't add messages to {thread_id} while a run {run.id} is active."
    )
    with pytest.raises(openai.BadRequestError) as run_error:
        await client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    assert run_error.value.body["message"] == (  # type: ignore[index]
        f"Thread {thread_id} already has an active run {run.id}."
    )

    await read_stream(
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=outputs_for(run), stream=True
        )
    )
    await client.beta.threads.messages.create(thread_id=thread_id, role="user", content="more")


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        pytest.param([], "Expected tool outputs for call_ids", id="none"),
        pytest.param(["first"], "Expected tool outputs for call_ids", id="missing-one"),
        pytest.param(["first", "call_unknown"], "got [", id="unknown-id"),
        pytest.param(["first", "second", "second"], "Expected tool outputs", id="duplicate"),
    ],
)
@pytest.mark.leaves_steps("the refused outputs leave the run in requires_action")
async def test_submitting_the_wrong_outputs_is_a_400(
    server: Server, clock: FakeClock, outputs: list[str], message: str
) -> None:
    client = await weather_server(server, clock)
    assistant_id, thread_id = await start(client)
    run = (await stream_run(client, assistant_id, thread_id))[-1].data
    ids = dict(zip(["first", "second"], outputs_ids(run), strict=True))
    tool_outputs: Any = [{"tool_call_id": ids.get(o, o), "output": "x"} for o in outputs]

    with pytest.raises(openai.BadRequestError, match=message.replace("[", r"\[")):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=tool_outputs
        )
    still = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert still.status == "requires_action"


async def test_submitting_to_a_run_that_is_not_waiting_is_a_400(client: openai.AsyncOpenAI) -> None:
    assistant_id, thread_id = await start(client)
    run = (await stream_run(client, assistant_id, thread_id))[-1].data

    with pytest.raises(openai.BadRequestError) as error:
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "call_x", "output": "x"}]
        )
    assert error.value.body["message"] == 'Runs in status "completed" do not accept tool outputs.'  # type: ignore[index]


@pytest.mark.leaves_steps("the run is cancelled before its answer")
async def test_cancel_a_waiting_run(server: Server, clock: FakeClock) -> None:
    app, client, _ = await server.open(scenario=WEATHER, clock=clock)
    assistant_id, thread_id = await start(client)
    run = (await stream_run(client, assistant_id, thread_id))[-1].data

    cancelling = await client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
    assert cancelling.status == "cancelling"
    await app.state.engine.wait_until_settled()
    cancelled = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at == int(clock.now()) and cancelled.required_action is None
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread_id)
    assert [s.status for s in steps.data] == ["cancelled"]

    with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status 'cancelled'"):
        await client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
    await client.beta.threads.messages.create(thread_id=thread_id, role="user", content="unlocked")


@pytest.mark.leaves_steps("the winning run rests in requires_action")
async def test_concurrent_runs_on_one_thread_only_one_wins(
    server: Server, clock: FakeClock
) -> None:
    client = await weather_server(server, clock)
    assistant_id, thread_id = await start(client)

    async def attempt() -> str:
        try:
            run = await client.beta.threads.runs.create(
                thread_id=thread_id, assistant_id=assistant_id
            )
        except openai.BadRequestError as error:
            return str(error.body["message"])  # type: ignore[index]
        return run.id

    results = await asyncio.gather(*(attempt() for _ in range(5)))

    winners = [result for result in results if result.startswith("run_")]
    assert len(winners) == 1
    refusal = f"Thread {thread_id} already has an active run {winners[0]}."
    assert sorted(results) == sorted([winners[0]] + [refusal] * 4)
