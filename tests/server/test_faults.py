"""Fault injection: statuses, drops, cut streams and latency, in-process and over uvicorn."""

from __future__ import annotations

from pathlib import Path

import httpx2
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import ConnectionDropped, FaultConfig, FaultRule, Scenario, create_app

from .conftest import Server
from .support import read_stream, serve_in_thread

pytestmark = pytest.mark.anyio

TOOL_THEN_ANSWER = Scenario.model_validate(
    {"name": "tool", "steps": [{"tool_calls": [{"name": "ping"}]}, {"message": "pong"}]}
)


def faults(*rules: FaultRule, seed: int = 0) -> FaultConfig:
    return FaultConfig(seed=seed, rules=list(rules))


async def message_count(client: openai.AsyncOpenAI, thread_id: str) -> int:
    return len((await client.beta.threads.messages.list(thread_id=thread_id)).data)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(429, openai.RateLimitError, id="429"),
        pytest.param(500, openai.InternalServerError, id="500"),
        pytest.param(503, openai.InternalServerError, id="503"),
    ],
)
async def test_a_status_fault_before_the_request_leaves_no_trace(
    server: Server, clock: FakeClock, status: int, error: type[openai.APIStatusError]
) -> None:
    rule = FaultRule(kind="status", status=status, retry_after=2, method="POST", path="/messages$")
    app, client, _ = await server.open(clock=clock, faults=faults(rule))
    thread = await client.beta.threads.create()

    with pytest.raises(error) as raised:
        await client.beta.threads.messages.create(thread.id, role="user", content="hi")

    assert raised.value.status_code == status
    assert raised.value.response.headers["retry-after"] == "2"
    assert raised.value.body["type"] in ("requests", "server_error")  # type: ignore[index]
    assert await message_count(client, thread.id) == 0
    assert app.state.fault_counts == {status: 1}


async def test_a_status_fault_after_the_request_keeps_its_effect(
    server: Server, clock: FakeClock
) -> None:
    rule = FaultRule(kind="status", status=500, when="after", path="/messages$", method="POST")
    _, client, _ = await server.open(clock=clock, faults=faults(rule))
    thread = await client.beta.threads.create()

    with pytest.raises(openai.InternalServerError):
        await client.beta.threads.messages.create(thread.id, role="user", content="hi")

    assert await message_count(client, thread.id) == 1


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_dropped_connection_in_process_is_a_connection_error(
    server: Server, clock: FakeClock, when: str
) -> None:
    rule = FaultRule.model_validate({"kind": "drop", "when": when, "path": "/messages$"})
    app, client, http = await server.open(clock=clock)
    thread = await client.beta.threads.create()
    app.state.faults = faults(rule)  # faults can be switched on (and off) at runtime

    with pytest.raises(openai.APIConnectionError) as raised:
        await client.beta.threads.messages.create(thread.id, role="user", content="hi")
    with pytest.raises(ConnectionDropped):
        await http.get(f"/v1/threads/{thread.id}/messages")

    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)
    app.state.faults = None
    assert await message_count(client, thread.id) == (1 if when == "after" else 0)


async def test_times_limits_the_injections_and_a_seed_replays_them(
    server: Server, clock: FakeClock
) -> None:
    async def pattern(seed: int) -> list[int]:
        rules = [FaultRule(kind="status", status=503, rate=0.5, times=4, path="/threads$")]
        _, _, http = await server.open(clock=clock, faults=faults(*rules, seed=seed))
        return [(await http.post("/v1/threads", json={})).status_code for _ in range(20)]

    first, again, other = await pattern(1), await pattern(1), await pattern(2)

    assert first == again and first != other
    assert first.count(503) == 4 and first.count(200) == 16


async def test_latency_is_added_and_counted(server: Server, clock: FakeClock) -> None:
    rule = FaultRule(kind="latency", latency_ms=1, method="GET")
    app, client, _ = await server.open(clock=clock, faults=faults(rule))

    thread = await client.beta.threads.create()
    await client.beta.threads.retrieve(thread.id)
    await client.beta.threads.retrieve(thread.id)

    assert app.state.fault_counts == {"latency": 2}


@pytest.mark.leaves_steps("the run rests in requires_action")
async def test_a_cut_stream_in_process_ends_early_and_the_run_goes_on(
    server: Server, clock: FakeClock
) -> None:
    rule = FaultRule(kind="cut_stream", after_events=2)
    app, client, _ = await server.open(clock=clock, scenario=TOOL_THEN_ANSWER, faults=faults(rule))
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()

    events = await read_stream(
        await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=assistant.id, stream=True
        )
    )
    await app.state.engine.wait_until_settled()

    assert [e.event for e in events] == ["thread.run.created", "thread.run.queued"]
    run = await client.beta.threads.runs.retrieve(events[0].data.id, thread_id=thread.id)
    assert run.status == "requires_action"
    assert app.state.fault_counts == {"cut_stream": 1}


async def test_faults_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text("seed: 3\nrules:\n  - {kind: status, status: 429, retry_after: 1}\n")

    app = create_app(faults=path)

    assert app.state.faults == faults(FaultRule(kind="status", status=429, retry_after=1), seed=3)


async def test_over_http_a_drop_closes_the_connection_and_a_cut_aborts_the_stream() -> None:
    rules = [
        FaultRule(kind="drop", path="/messages$", times=1),
        FaultRule(kind="cut_stream", after_events=3),
    ]
    app = create_app(scenario=TOOL_THEN_ANSWER, faults=faults(*rules))
    with serve_in_thread(app) as url:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0) as client:
            assistant = await client.beta.assistants.create(model="gpt-4o")
            thread = await client.beta.threads.create()
            with pytest.raises(openai.APIConnectionError):
                await client.beta.threads.messages.create(thread.id, role="user", content="hi")

            stream = await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
            seen = []
            with pytest.raises(openai.APIConnectionError) as cut:
                async for event in stream:
                    seen.append(event.event)

    assert seen == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert isinstance(cut.value.__cause__, httpx2.RemoteProtocolError)
    assert app.state.fault_counts == {"drop": 1, "cut_stream": 1}
