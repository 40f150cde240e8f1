"""A server restarted on its database: objects survive, active runs go on or expire; logs."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario

from .conftest import Server

pytestmark = pytest.mark.anyio

SLOW = Scenario.model_validate(
    {
        "name": "slow",
        "steps": [{"delay": 30}, {"tool_calls": [{"name": "ping"}]}, {"message": "ok"}],
    }
)


async def start_slow_run(server: Server, clock: FakeClock, db: Path) -> tuple[str, str]:
    app, client, _ = await server.open(clock=clock, db=db, scenario=SLOW)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    await clock.wait_for_sleepers(1)  # the run is in progress, waiting out its delay
    await app.state.engine.aclose()  # the server stops
    app.state.engine.store.close()
    return thread.id, run.id


@pytest.mark.leaves_steps(
    "the first server stops mid-run; the resumed run rests in requires_action"
)
async def test_an_in_progress_run_is_resumed_after_a_restart(
    server: Server, clock: FakeClock, tmp_path: Path
) -> None:
    thread_id, run_id = await start_slow_run(server, clock, tmp_path / "runs.db")

    app, client, _ = await server.open(clock=clock, db=tmp_path / "runs.db", scenario=SLOW)
    await client.beta.threads.retrieve(thread_id)  # the first request picks the run up
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)

    assert run.status == "requires_action"
    assert len((await client.beta.assistants.list()).data) == 1


@pytest.mark.leaves_steps("the first server stops mid-run; the run expires")
async def test_a_run_past_its_deadline_expires_after_a_restart(
    server: Server, clock: FakeClock, tmp_path: Path
) -> None:
    thread_id, run_id = await start_slow_run(server, clock, tmp_path / "runs.db")
    clock.advance(601)

    _, client, _ = await server.open(clock=clock, db=tmp_path / "runs.db", scenario=SLOW)
    run = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)

    assert run.status == "expired"


async def test_concurrent_requests_on_one_database(
    server: Server, clock: FakeClock, tmp_path: Path
) -> None:
    _, client, _ = await server.open(clock=clock, db=tmp_path / "runs.db")
    thread = await client.beta.threads.create()

    async with anyio.create_task_group() as group:
        for i in range(30):
            group.start_soon(
                lambda i=i: client.beta.threads.messages.create(
                    thread.id, role="user", content=str(i)
                )
            )

    listed = await client.beta.threads.messages.list(thread.id, limit=100)
    assert sorted(int(m.content[0].text.value) for m in listed.data) == list(range(30))  # type: ignore[union-attr]


async def test_each_request_and_transition_is_logged(
    client: openai.AsyncOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="runflow_server")
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1
    )

    requests = [r for r in caplog.records if r.name == "runflow_server.requests"]
    transitions = [r.getMessage() for r in caplog.records if r.name == "runflow_server.lifecycle"]
    assert {(r.method, r.status) for r in requests} >= {("POST", 200), ("GET", 200)}  # type: ignore[attr-defined]
    assert any("queued -> in_progress" in t for t in transitions)
    assert any("in_progress -> completed" in t for t in transitions)
    assert all("test" not in r.getMessage() for r in caplog.records)  # the API key
