"""Streaming end to end over real HTTP: the `openai` client -> the run server (uvicorn) -> the
fake model (uvicorn). A message delta reaches the client while the model is still answering,
and cancelling the run closes the model's stream."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import openai
import pytest

from runflow import MessageDelta, Runner, ToolRegistry
from runflow_server import create_app
from runflow_server.clock import SystemClock
from runflow_server.model import ModelBrain, ModelConfig
from runflow_server.model.fake import FakeChatModel, Scripted

from ..support import serve_in_thread

pytestmark = pytest.mark.anyio


@contextmanager
def stack(fake: FakeChatModel) -> Iterator[str]:
    """The fake and a run server on it, each on a loopback port; yields the server's /v1 URL."""
    with serve_in_thread(fake.app) as fake_url:
        config = ModelConfig.model_validate(
            {"providers": [{"name": "fake", "base_url": f"{fake_url}/v1", "api_key": "k"}]}
        )
        app = create_app(brain=ModelBrain(config, clock=SystemClock()))
        with serve_in_thread(app) as url:
            yield f"{url}/v1"


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Holds the fake's answer after its first piece; always opened at the end."""
    event = threading.Event()
    yield event
    event.set()


async def _events_until_first_delta(stream: Any) -> AsyncIterator[Any]:
    async for event in stream:
        yield event
        if event.event == "thread.message.delta":
            return


async def test_a_delta_reaches_the_client_while_the_model_still_answers(
    gate: threading.Event,
) -> None:
    fake = FakeChatModel.of(Scripted.text("one two three four", pieces=4, gate=gate, gate_after=2))
    with stack(fake) as url:
        async with openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as client:
            assistant = await client.beta.assistants.create(model="gpt-4o-mini")
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
            stream = await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
            seen = [event async for event in _events_until_first_delta(stream)]
            assert seen[-1].data.delta.content[0].text.value == "one t"  # the rest is held back
            gate.set()
            rest = [event.event async for event in stream]
    assert rest[-1] == "thread.run.completed"


async def test_cancelling_the_run_closes_the_models_stream(gate: threading.Event) -> None:
    fake = FakeChatModel.of(Scripted.text("one two three four", pieces=4, gate=gate, gate_after=2))
    with stack(fake) as url:
        async with openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as client:
            assistant = await client.beta.assistants.create(model="gpt-4o-mini")
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
            stream = await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
            seen = [event async for event in _events_until_first_delta(stream)]
            run_id = seen[0].data.id
            await client.beta.threads.runs.cancel(run_id, thread_id=thread.id)
            closed = await anyio.to_thread.run_sync(fake.disconnected.wait, 10.0)
            rest = [event.event async for event in stream]
            run = await client.beta.threads.runs.retrieve(run_id, thread_id=thread.id)
    assert closed and fake.disconnects == 1
    assert run.status == "cancelled"
    assert rest[-1] == "thread.run.cancelled"


async def test_the_runner_sees_each_delta_as_the_model_sends_it(gate: threading.Event) -> None:
    fake = FakeChatModel.of(Scripted.text("alpha beta gamma", pieces=3, gate=gate, gate_after=2))
    with stack(fake) as url:
        async with openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as client:
            assistant = await client.beta.assistants.create(model="gpt-4o-mini")
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
            async with Runner(client, ToolRegistry()) as runner:
                handle = runner.start(thread_id=thread.id, assistant_id=assistant.id)
                deltas = []
                async for event in handle.events():
                    if isinstance(event, MessageDelta):
                        deltas.append(event.text)
                        gate.set()  # the first came while the model held the rest back
                result = await handle.result()
    assert deltas[0] == "alpha " and "".join(deltas) == "alpha beta gamma"
    assert result.output_text == "alpha beta gamma"
