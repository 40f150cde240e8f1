"""Expiry, delays, failures and incomplete runs, on a fake clock: no test sleeps."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario
from runflow_server.brains import Decision, Turn
from runflow_server.records import Run

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

    stored = app.state.engine.store.get(Run, run.id)
    assert stored is not None and stored.status == "expired"


async def test_a_delay_step_waits_on_the_clock(server: Server, clock: FakeClock) -> None:
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"delay": 30}, {"message": "after the pause"}]
    )
    events = await stream_with_a_delay(client, assistant_id, thread_id, clock, 30)

    assert events[-1].event == "thread.run.completed"
    assert events[-1].data.completed_at == int(clock.now())


@pytest.mark.leaves_steps("the run expires during its delay")
async def test_a_delay_past_expires_at_expires_the_run_at_expires_at(
    server: Server, clock: FakeClock
) -> None:
    app, client, assistant_id, thread_id = await scripted(
        server, clock, [{"delay": 700}, {"message": "too late"}]
    )
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t")
    bodies: list[str] = []

    async def stream_it() -> None:
        body = {"assistant_id": assistant_id, "stream": True}
        bodies.append((await http.post(f"/v1/threads/{thread_id}/runs", json=body)).text)

    with anyio.fail_after(5):
        async with http, anyio.create_task_group() as group:
            group.start_soon(stream_it)
            await clock.wait_for_sleepers(1)  # the driver, waiting out its delay
            await anyio.wait_all_tasks_blocked()
            expires_at = int(clock.now()) + 600
            assert (clock.sleepers, clock.next_deadline) == (1, expires_at)  # cut at expires_at
            clock.set(expires_at)  # nobody reads the run: its driver expires it

    [body] = bodies
    names = [frame.split("\n")[0].removeprefix("event: ") for frame in body.split("\n\n")]
    assert names[-4:] == ["thread.run.in_progress", "thread.run.expired", "done", ""]
    [run] = (await client.beta.threads.runs.list(thread_id=thread_id)).data
    assert run.status == "expired" and run.expires_at == expires_at
    messages = await client.beta.threads.messages.list(thread_id=thread_id)
    assert [m.role for m in messages.data] == ["user"]  # the step after the delay never ran
    assert clock.sleepers == 0


class HangingBrain:
    """A brain that never answers: it waits until its driver is cancelled."""

    def __init__(self) -> None:
        self.deciding = anyio.Event()
        self.cancelled = False

    async def decide(self, turn: Turn) -> Decision:
        self.deciding.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


async def test_the_watchdog_expires_a_run_whose_brain_hangs(
    server: Server, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    brain = HangingBrain()
    app, client, _ = await server.open(clock=clock, brain=brain, run_expiry_seconds=60)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    events: list[Any] = []

    async def run_it() -> None:
        events.extend(await stream_run(client, assistant.id, thread.id))

    with anyio.fail_after(5):  # no time passes here: only a missing watchdog would block
        async with anyio.create_task_group() as group:
            group.start_soon(run_it)
            await brain.deciding.wait()
            await clock.wait_for_sleepers(1)  # the watchdog: the run waits on its brain
            expires_at = int(clock.now()) + 60
            assert (clock.sleepers, clock.next_deadline) == (1, expires_at)
            clock.set(expires_at)

    assert [e.event for e in events][-2:] == ["thread.run.in_progress", "thread.run.expired"]
    await app.state.engine.wait_until_settled()  # the driver is gone
    assert brain.cancelled
    assert app.state.engine.store.get(Run, events[-1].data.id).status == "expired"  # type: ignore[union-attr]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="free")


async def test_runs_their_driver_moves_add_no_sleeper(server: Server, clock: FakeClock) -> None:
    """Only a delay sleeps on the clock: the watchdog stays off, so `autojump()` cannot jump
    to an expiry while a scripted run is being driven."""
    _, client, assistant_id, thread_id = await scripted(
        server, clock, [{"delay": 30}, {"message": "after the pause"}, {"message": "again"}]
    )
    events = await stream_with_a_delay(client, assistant_id, thread_id, clock, 30)
    assert events[-1].event == "thread.run.completed"
    await anyio.wait_all_tasks_blocked()
    assert clock.sleepers == 0

    await client.beta.threads.messages.create(thread_id=thread_id, role="user", content="more")
    assert (await stream_run(client, assistant_id, thread_id))[-1].event == "thread.run.completed"
    await anyio.wait_all_tasks_blocked()
    assert clock.sleepers == 0


@pytest.mark.parametrize("kind", ["delay", "hanging-brain"])
async def test_runs_expire_on_the_real_clock_without_being_read(
    server: Server, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    if kind == "delay":
        scenario = Scenario.model_validate({"name": "slow", "steps": [{"delay": 30}]})
        app, client, _ = await server.open(scenario=scenario, run_expiry_seconds=1)
    else:
        app, client, _ = await server.open(brain=HangingBrain(), run_expiry_seconds=1)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    engine = app.state.engine

    with anyio.fail_after(10):  # expires_at is at most 1 s away
        await engine.wait_until_settled()  # the driver ends: its run expired

    assert engine.store.get(Run, run.id).status == "expired"  # type: ignore[union-attr]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


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
