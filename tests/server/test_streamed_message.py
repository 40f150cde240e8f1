"""A streamed assistant message is stored as it is announced: a client that saw
`thread.message.created` can read that message back, also when the run is cancelled mid-stream
(the message ends `incomplete`, `run_cancelled`, with the text streamed so far)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import create_app
from runflow_server.brains import BrainEvent, TextDelta, Turn

from .conftest import Server
from .support import GatedBrain, serve_in_thread

pytestmark = pytest.mark.anyio


async def test_a_message_cancelled_mid_stream_can_be_read_back() -> None:
    """Over a real socket: the in-process transport buffers a whole response."""
    brain = GatedBrain("Half a ", "thought.")  # the test cancels the run meanwhile
    app = create_app(brain=brain)
    with serve_in_thread(app) as url:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="test") as client:
            assistant = await client.beta.assistants.create(model="gpt-4o")
            thread = await client.beta.threads.create()
            stream = await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
            names, created = [], None
            try:
                with anyio.fail_after(10):
                    async for event in stream:
                        names.append(event.event)
                        if event.event == "thread.message.created":
                            created = event.data
                            seen = await client.beta.threads.messages.retrieve(
                                created.id, thread_id=thread.id
                            )
                            assert seen.status == "in_progress"
                        elif event.event == "thread.message.delta":
                            await client.beta.threads.runs.cancel(
                                created.run_id or "", thread_id=thread.id
                            )
            finally:
                brain.gate.set()
            assert created is not None
            message = await client.beta.threads.messages.retrieve(created.id, thread_id=thread.id)
            run = await client.beta.threads.runs.retrieve(created.run_id or "", thread_id=thread.id)
            steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert names[-4:] == [
        "thread.run.cancelling",
        "thread.run.step.cancelled",
        "thread.message.incomplete",
        "thread.run.cancelled",
    ]
    assert run.status == "cancelled"
    assert message.status == "incomplete" and message.incomplete_details is not None
    assert message.incomplete_details.reason == "run_cancelled"
    assert message.content[0].text.value == "Half a "  # type: ignore[union-attr]
    assert [(step.type, step.status) for step in steps.data] == [("message_creation", "cancelled")]


class Silent:
    """Ends its turn without a word."""

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        return
        yield  # an async generator


async def test_a_reply_without_text_is_an_empty_completed_message(server: Server) -> None:
    app, client, _ = await server.open(brain=Silent())
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    messages = await client.beta.threads.messages.list(thread.id)
    assert run.status == "completed"
    assert [(m.role, m.status, m.content) for m in messages.data] == [
        ("assistant", "completed", [])
    ]


class Hanging:
    """Streams one piece of text, then hangs (until its run expires)."""

    def __init__(self) -> None:
        self.streamed = anyio.Event()

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        yield TextDelta("Almost ")
        self.streamed.set()
        await anyio.Event().wait()
        yield TextDelta("never.")


async def test_a_message_of_a_run_that_expires_mid_stream_ends_incomplete(
    server: Server, clock: FakeClock
) -> None:
    brain = Hanging()
    app, client, _ = await server.open(brain=brain, clock=clock)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    await brain.streamed.wait()
    await clock.wait_for_sleepers(1)  # the watchdog, watching a brain that has not answered
    assert run.expires_at is not None
    clock.set(run.expires_at)
    await app.state.engine.wait_until_settled()

    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    (message,) = (await client.beta.threads.messages.list(thread.id)).data
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert run.status == "expired"
    assert message.status == "incomplete" and message.incomplete_details is not None
    assert message.incomplete_details.reason == "run_expired"
    assert message.content[0].text.value == "Almost "  # type: ignore[union-attr]
    assert [(step.status, step.expired_at) for step in steps.data] == [("expired", run.expires_at)]
