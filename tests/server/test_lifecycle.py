"""Expiry, delays, failures and incomplete runs, on a fake clock: no test sleeps."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario

from .conftest import Server
from .support import stream_run

pytestmark = pytest.mark.anyio


async def scripted(
    server: Server, clock: FakeClock, steps: list[dict[str, Any]], **options: Any
) -> tuple[Any, openai.AsyncOpenAI, str, str]:
    scenario = Scenario.model_validate({"name": "script", "steps": steps})
    app, client, _ = await server.open(scenario=scenario, clock=clock, **options)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    return app, client, assistant.id, thread.id


async def stream_with_a_delay(
    client: openai.AsyncOpenAI, assistant_id: str, thread_id: str, clock: FakeClock, delay: float
) -> list[Any]:
    """Stream a run whose scenario waits `delay` seconds: move the clock once it waits."""
    events: list[Any] = []

    async def run_it() -> None:
        events.extend(await stream_run(client, assistant_id, thread_id))

    async with anyio.create_task_group() as group:
        group.start_soon(run_it)
        await clock.wait_for_sleepers(1)
        assert clock.next_deadline == clock.now() + delay
        clock.advance(delay)
    return events


async def test_an_unanswered_run_expires_when_the_clock_passes_expires_at(
    server: Server, clock: FakeClock
) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"tool_calls": [{"name": "slow"}]}], run_expiry_seconds=60
    )
    run = (await stream_run(client, assistant_id, thread_id))[-1].data
    assert run.expires_at == int(clock.now()) + 60

    clock.advance(59)
    assert (await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)).status == (
        "requires_action"
    )
    clock.advance(1)
    expired = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)

    assert expired.status == "expired" and expired.required_action is None
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread_id)
    assert [(s.status, s.expired_at) for s in steps.data] == [("expired", int(clock.now()))]
    with pytest.raises(openai.BadRequestError) as error:
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "call_x", "output": ""}]
        )
    assert error.value.body["message"] == 'Runs in status "expired" do not accept tool outputs.'  # type: ignore[index]
    await client.beta.threads.messages.create(thread_id=thread_id, role="user", content="free")


async def test_the_watchdog_expires_runs_nobody_looks_at(server: Server, clock: FakeClock) -> None:
    app, client, assistant_id, thread_id = await scripted(
        server, clock, [{"tool_calls": [{"name": "slow"}]}]
    )
    run = (await stream_run(client, assistant_id, thread_id))[-1].data
    expired = anyio.Event()
    subscription = app.state.engine.bus.subscribe(run.id)

    async def watch() -> None:
        async for event in subscription:
            if event.name == "thread.run.expired":
                expired.set()
                return

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        await clock.wait_for_sleepers(1)  # the watchdog sleeps until expires_at
        assert clock.next_deadline == run.expires_at
        clock.set(run.expires_at)
        await expired.wait()

    stored = app.state.engine.store.get("runs", run.id)
    assert stored["status"] == "expired"


async def test_a_delay_step_waits_on_the_clock(server: Server, clock: FakeClock) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"delay": 30}, {"message": "after the pause"}]
    )
    events = await stream_with_a_delay(client, assistant_id, thread_id, clock, 30)

    assert events[-1].event == "thread.run.completed"
    assert events[-1].data.completed_at == int(clock.now())


async def test_a_delay_past_expires_at_expires_the_run(server: Server, clock: FakeClock) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"delay": 700}, {"message": "too late"}]
    )
    events = await stream_with_a_delay(client, assistant_id, thread_id, clock, 700)

    assert [e.event for e in events][-2:] == ["thread.run.in_progress", "thread.run.expired"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("server_error", "The model broke.", id="server_error"),
        pytest.param("rate_limit_exceeded", "Slow down.", id="rate_limit_exceeded"),
        pytest.param("invalid_prompt", "No.", id="invalid_prompt"),
    ],
)
async def test_a_fail_step_fails_the_run(
    server: Server, clock: FakeClock, code: str, message: str
) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"fail": {"code": code, "message": message}}]
    )
    events = await stream_run(client, assistant_id, thread_id)

    assert events[-1].event == "thread.run.failed"
    run = events[-1].data
    assert run.status == "failed" and run.failed_at == int(clock.now())
    assert (run.last_error.code, run.last_error.message) == (code, message)
    assert run.usage is not None


async def test_an_incomplete_step_ends_the_run_incomplete(server: Server, clock: FakeClock) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"incomplete": {"reason": "max_prompt_tokens"}}]
    )
    events = await stream_run(client, assistant_id, thread_id)

    assert events[-1].event == "thread.run.incomplete"
    assert events[-1].data.incomplete_details.reason == "max_prompt_tokens"


async def test_steps_are_consumed_across_the_runs_of_a_thread(
    server: Server, clock: FakeClock
) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"message": "first answer"}, {"message": "second: {last_user_message}"}]
    )
    first = await stream_run(client, assistant_id, thread_id)
    await client.beta.threads.messages.create(thread_id=thread_id, role="user", content="again")
    second = await stream_run(client, assistant_id, thread_id)
    third = await stream_run(client, assistant_id, thread_id)

    texts = [
        e.data.content[0].text.value
        for e in first + second
        if e.event.endswith("completed") and e.event.startswith("thread.message")
    ]
    assert texts == ["first answer", "second: again"]
    assert third[-1].event == "thread.run.failed"
    assert third[-1].data.last_error.code == "server_error"
    assert third[-1].data.last_error.message == (
        "Scenario 'script' has no step 3: all 2 of its steps were used by earlier turns."
    )


async def test_a_dropped_stream_does_not_stop_the_run(server: Server, clock: FakeClock) -> None:
    app, client, assistant_id, thread_id = await scripted(
        server, clock, [{"delay": 5}, {"message": "done anyway"}]
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as raw:
        with anyio.CancelScope() as scope:  # the client gives up as soon as the stream starts
            scope.cancel()
            await raw.post(
                f"/v1/threads/{thread_id}/runs",
                json={"assistant_id": assistant_id, "stream": True},
            )
    await clock.wait_for_sleepers(1)
    clock.advance(5)
    await app.state.engine.wait_until_settled()

    runs = await client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.status for run in runs.data] == ["completed"]
