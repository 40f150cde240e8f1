"""The run server on a model: the real `openai` client against the server app in-process, the
server's model brain against the fake Chat Completions endpoint, and runflow's `Runner` on top."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette

from runflow import MessageDelta, OpenTelemetryInstrumentation, Runner, ToolRegistry, sync_assistant
from runflow.testing import FakeClock, inprocess_client
from runflow_server import create_app
from runflow_server.brains import BuiltinCall, BuiltinContext, BuiltinOutcome, BuiltinTool, Citation
from runflow_server.model import ModelBrain, ModelConfig, RetryPolicy
from runflow_server.model.fake import FakeChatModel, Scripted
from runflow_server.model.images import image_source

from .support import NOW, RECORDINGS

pytestmark = pytest.mark.anyio


@pytest.fixture
async def model_server() -> AsyncIterator[Callable[..., Any]]:
    """`await model_server(fake, api_key=..., builtin_tools=..., **brain_options)`: (app, client)
    of a server whose model brain calls `fake`."""
    async with AsyncExitStack() as stack:

        async def open_(
            fake: FakeChatModel,
            api_key: str = "k",
            builtin_tools: Sequence[BuiltinTool] = (),
            **brain_options: Any,
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
            app = create_app(clock=clock, brain=brain, builtin_tools=builtin_tools)
            brain.images = image_source(app.state.engine.files.read)
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


async def _run(client: Any, **assistant: Any) -> tuple[Any, Any]:
    """An assistant, a thread asking "Go", and its streamed run read to the end."""
    made = await client.beta.assistants.create(model="gpt-4o-mini", **assistant)
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    stream = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=made.id, stream=True
    )
    events = [event async for event in stream]
    return thread, events


async def test_the_runs_usage_is_what_the_model_reported(model_server: Any) -> None:
    fake = FakeChatModel.of(Scripted.text("Hello.", usage=(21, 3)))
    _, client = await model_server(fake)
    _, events = await _run(client)
    run = events[-1].data
    assert run.status == "completed"
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (21, 3)


async def test_length_ends_the_run_incomplete(model_server: Any) -> None:
    fake = FakeChatModel.of(
        Scripted.text("A long story that the model had to cut", finish="length")
    )
    _, client = await model_server(fake)
    _, events = await _run(client)
    run = events[-1].data
    assert run.status == "incomplete"
    assert run.incomplete_details.reason == "max_completion_tokens"


async def test_a_model_answer_within_its_token_limit_is_not_cut(model_server: Any) -> None:
    # 1,200 characters the model counted as well under 256 tokens: the engine's own estimate
    # (4 characters a token) would have cut it at 1,024.
    answer = "Pneumonoultramicroscopicsilicovolcanoconiosis " * 26
    fake = FakeChatModel.of(Scripted.text(answer, usage=(10, 200)))
    _, client = await model_server(fake)
    made = await client.beta.assistants.create(model="gpt-4o-mini")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=made.id, max_completion_tokens=256
    )
    assert run.status == "completed"
    messages = await client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    assert messages.data[-1].content[0].text.value == answer


async def test_the_models_call_ids_reach_requires_action(model_server: Any) -> None:
    fake = FakeChatModel.of(Scripted.calls(("get_weather", '{"city":"Paris"}')))
    _, client = await model_server(fake)
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object"}},
    }
    _, events = await _run(client, tools=[tool])
    run = events[-1].data
    assert run.status == "requires_action"
    [call] = run.required_action.submit_tool_outputs.tool_calls
    assert (call.id, call.function.arguments) == ("call_fake0", '{"city":"Paris"}')
    deltas = [e for e in events if e.event == "thread.run.step.delta"]
    assert (
        "".join(d.data.delta.step_details.tool_calls[0].function.arguments or "" for d in deltas)
        == '{"city":"Paris"}'
    )


async def test_a_function_named_like_a_built_in_beside_it_is_a_400(model_server: Any) -> None:
    _, client = await model_server(FakeChatModel.of())
    python = {"type": "function", "function": {"name": "python"}}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.beta.assistants.create(
            model="gpt-4o-mini", tools=[{"type": "code_interpreter"}, python]
        )
    assert "'python' is reserved" in caught.value.message
    assistant = await client.beta.assistants.create(model="gpt-4o-mini", tools=[python])
    thread = await client.beta.threads.create()
    with pytest.raises(openai.BadRequestError):
        await client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tools=[
                {"type": "file_search"},
                {"type": "function", "function": {"name": "file_search"}},
            ],
        )


class Calculator:
    """Stands in for the code interpreter sandbox: "runs" `print(a*b)` and nothing else."""

    type = "code_interpreter"

    def __init__(self) -> None:
        self.calls: list[BuiltinCall] = []

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        self.calls.append(call)
        left, right = call.input.removeprefix("print(").removesuffix(")").split("*")
        logs = f"{int(left) * int(right)}\n"
        details = {"input": call.input, "outputs": [{"type": "logs", "logs": logs}]}
        return BuiltinOutcome(details=details, output=logs)


async def test_python_calls_run_on_the_server_and_the_model_reads_their_output(
    model_server: Any,
) -> None:
    fake = FakeChatModel.of(
        Scripted.calls(("python", '{"code": "print(6*7)"}')),
        Scripted.text("It is 42."),
    )
    calculator = Calculator()
    _, client = await model_server(fake, builtin_tools=[calculator])
    thread, events = await _run(client, tools=[{"type": "code_interpreter"}])
    assert events[-1].event == "thread.run.completed"
    assert [c.input for c in calculator.calls] == ["print(6*7)"]
    steps = await client.beta.threads.runs.steps.list(
        events[-1].data.id, thread_id=thread.id, order="asc"
    )
    code = steps.data[0].step_details.tool_calls[0]
    assert (code.id, code.code_interpreter.input) == ("call_fake0", "print(6*7)")
    assert code.code_interpreter.outputs[0].logs == "42\n"
    assert fake.requests[1]["messages"][-2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_fake0",
                    "type": "function",
                    "function": {"name": "python", "arguments": '{"code": "print(6*7)"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_fake0", "content": "42\n"},
    ]
    messages = await client.beta.threads.messages.list(thread_id=thread.id)
    assert messages.data[0].content[0].text.value == "It is 42."


async def test_tool_choice_code_interpreter_forces_python_on_the_first_turn_only(
    model_server: Any,
) -> None:
    fake = FakeChatModel.of(
        Scripted.calls(("python", '{"code": "print(2*3)"}')), Scripted.text("6.")
    )
    _, client = await model_server(fake, builtin_tools=[Calculator()])
    await _run(client, tools=[{"type": "code_interpreter"}])
    made = await client.beta.assistants.create(
        model="gpt-4o-mini", tools=[{"type": "code_interpreter"}]
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Go"}])
    fake.script += [Scripted.calls(("python", '{"code": "print(1*1)"}')), Scripted.text("1.")]
    stream = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=made.id,
        tool_choice={"type": "code_interpreter"},
        stream=True,
    )
    assert [e.event async for e in stream][-1] == "thread.run.completed"
    assert fake.requests[2]["tool_choice"] == {"type": "function", "function": {"name": "python"}}
    assert fake.requests[3]["tool_choice"] == "auto"


class Library:
    """Stands in for file search: one fixed result, with its content and citation."""

    type = "file_search"

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        result = {
            "file_id": "file-policy",
            "file_name": "policy.md",
            "score": 0.9,
            "content": [{"type": "text", "text": "Refunds take 30 days."}],
        }
        citation = Citation("file-policy", "policy.md", "Refunds take 30 days.")
        return BuiltinOutcome(
            details={"ranking_options": {}, "results": [result]},
            output="1 result",
            citations=(citation,),
        )


async def test_search_results_go_back_marked_and_a_copied_marker_becomes_a_citation(
    model_server: Any,
) -> None:
    fake = FakeChatModel.of(
        Scripted.calls(("file_search", '{"queries": ["refunds"]}')),
        Scripted.text("Refunds take 30 days【0:0†policy.md】."),
    )
    _, client = await model_server(fake, builtin_tools=[Library()])
    thread, events = await _run(client, tools=[{"type": "file_search"}])
    assert events[-1].event == "thread.run.completed"
    assert fake.requests[1]["messages"][-1]["content"] == "【0:0†policy.md】\nRefunds take 30 days."
    messages = await client.beta.threads.messages.list(thread_id=thread.id)
    [annotation] = messages.data[0].content[0].text.annotations
    assert annotation.type == "file_citation"
    assert annotation.file_citation.file_id == "file-policy"
    assert annotation.text == "【0:0†policy.md】"


async def test_an_image_file_reaches_the_model_as_a_data_url(model_server: Any) -> None:
    fake = FakeChatModel.of(Scripted.text("A tiny picture."))
    _, client = await model_server(fake)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    uploaded = await client.files.create(file=("dot.png", png), purpose="vision")
    made = await client.beta.assistants.create(model="gpt-4o-mini")
    thread = await client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_file", "image_file": {"file_id": uploaded.id, "detail": "low"}},
                ],
            }
        ]
    )
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=made.id, poll_interval_ms=1
    )
    assert run.status == "completed"
    [text, image] = fake.requests[0]["messages"][0]["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert image["image_url"]["detail"] == "low"
    assert image["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
