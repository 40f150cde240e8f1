"""The run server on a model: the real `openai` client against the server app in-process, the
server's model brain against the fake Chat Completions endpoint, and runflow's `Runner` on top."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from runflow import MessageDelta, Runner, ToolRegistry, sync_assistant
from runflow.testing import FakeClock, inprocess_client
from runflow.tracing import OpenTelemetryInstrumentation
from runflow_server import create_app
from runflow_server.model import ModelBrain, ModelConfig, RetryPolicy
from runflow_server.model.fake import FakeChatModel, Scripted
from runflow_server.model.legacy import DecidingModelBrain

from .support import NOW, RECORDINGS

pytestmark = pytest.mark.anyio


@pytest.fixture
async def model_server() -> AsyncIterator[Callable[..., Any]]:
    """`await model_server(fake, api_key=..., **brain_options)`: (app, client) of a server whose
    model brain calls `fake`."""
    async with AsyncExitStack() as stack:

        async def open_(
            fake: FakeChatModel, api_key: str = "k", **brain_options: Any
        ) -> tuple[Starlette, Any]:
            http = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=fake.app), base_url="http://fake"
            )
            await stack.enter_async_context(http)
            config = ModelConfig.model_validate(
                {"providers": [{"name": "fake", "base_url": "http://fake/v1", "api_key": api_key}]}
            )
            clock = FakeClock(start=NOW)
            brain = ModelBrain(config, clock=clock, http_client=http, **brain_options)
            stack.push_async_callback(brain.aclose)
            app = create_app(clock=clock, brain=DecidingModelBrain(brain))
            stack.push_async_callback(app.state.engine.aclose)
            client = inprocess_client(app)
            stack.push_async_callback(client.close)
            return app, client

        yield open_


async def test_a_streamed_run_answers_with_the_models_text(model_server: Any) -> None:
    fake = FakeChatModel.of(Scripted.text("Bonjour, comment puis-je aider ?"))
    _, client = await model_server(fake)
    assistant = await client.beta.assistants.create(model="gpt-4o-mini", instructions="Be kind.")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Salut"}])
    stream = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    )
    names = [event.event async for event in stream]
    assert names[-1] == "thread.run.completed"
    assert "thread.message.delta" in names
    messages = await client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    assert messages.data[-1].content[0].text.value == "Bonjour, comment puis-je aider ?"
    assert fake.requests[0]["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Salut"},
    ]


async def test_the_runner_drives_a_recorded_parallel_tool_round(model_server: Any) -> None:
    fake = FakeChatModel.from_recording(RECORDINGS / "ParallelToolCalls.json")
    _, client = await model_server(fake)
    tools = ToolRegistry()

    @tools.tool
    async def get_weather_for_city(city_name: str) -> str:
        """gets the current weather for a given city

        Args:
            city_name: the name of a city, e.g. Johannesburg or Ho Chi Minh City.
        """
        return {"Santiago": "rainy", "Karachi": "sunny"}[city_name]

    assistant = await sync_assistant(client, tools, name="Weather", model="gpt-4o-mini")
    question = "Tell me what's the current weather in the following cities: Santiago and Karachi."
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    async with Runner(client, tools) as runner:
        handle = runner.start(thread_id=thread.id, assistant_id=assistant.id)
        deltas = [e.text async for e in handle.events() if isinstance(e, MessageDelta)]
        result = await handle.result()
    result.raise_for_status()
    assert sorted(call.output for call in result.tool_calls) == ["rainy", "sunny"]
    assert "Santiago" in result.output_text and "Karachi" in result.output_text
    assert "".join(deltas) == result.output_text
    assert len(fake.requests) == 2


async def test_a_model_that_keeps_failing_fails_the_run_with_its_code(model_server: Any) -> None:
    fake = FakeChatModel.of(*[Scripted.error(429, "Too many requests")] * 2)
    _, client = await model_server(fake, retry=RetryPolicy(attempts=2, first=0.0))
    assistant = await client.beta.assistants.create(model="gpt-4o-mini")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1
    )
    assert run.status == "failed"
    assert run.last_error is not None and run.last_error.code == "rate_limit_exceeded"
    assert "Too many requests" in run.last_error.message


KEY = "sk-model-key-for-spans-0123456789"


async def test_the_model_key_is_in_no_run_object_span_or_log(
    model_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    echoed = {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
    fake = FakeChatModel.of(Scripted.error(401, "x", body=echoed))
    _, client = await model_server(fake, api_key=KEY)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = OpenTelemetryInstrumentation(tracer_provider=provider, capture_content=True)
    caplog.set_level(logging.DEBUG)
    assistant = await client.beta.assistants.create(model="gpt-4o-mini")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    result = await Runner(client, ToolRegistry(), instrumentation=tracing).run(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert fake.headers[0]["authorization"] == f"Bearer {KEY}"  # it was sent, to the model
    run = await client.beta.threads.runs.retrieve(result.run.id, thread_id=thread.id)
    assert run.status == "failed" and run.last_error is not None
    assert "Incorrect API key provided: [redacted]" in run.last_error.message
    said = [run.model_dump_json()]
    said += [
        json.dumps(dict(span.attributes or {})) + str(span.events)
        for span in exporter.get_finished_spans()
    ]
    said += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assert exporter.get_finished_spans() and caplog.records
    assert not [text for text in said if KEY in text]
    provider.shutdown()
