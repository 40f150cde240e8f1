"""The streaming brain protocol: events published as they arrive, built-in tools the server
runs itself, annotations resolved from their outcomes. A fake built-in tool stands in for the
real code interpreter and file search."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import create_app
from runflow_server.brains import (
    BrainEvent,
    BuiltinCall,
    BuiltinContext,
    BuiltinOutcome,
    CallBuiltins,
    CallFunctions,
    Citation,
    FunctionCallDelta,
    TextDelta,
    ToolCall,
    Turn,
    Usage,
)

from .conftest import Server
from .support import GatedBrain, read_stream, serve_in_thread

pytestmark = pytest.mark.anyio


class FakeInterpreter:
    """Evaluates `a + b` sums; writes the result to /mnt/data/sum.txt and "draws" an image."""

    type = "code_interpreter"

    def __init__(self) -> None:
        self.contexts: list[BuiltinContext] = []

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        self.contexts.append(context)
        if "raise" in call.input:
            raise RuntimeError("the kernel died")
        total = str(sum(int(part) for part in call.input.split("+")))
        written = context.files.create_file("sum.txt", total.encode(), "assistants_output")
        image = context.files.create_file("plot.png", b"\x89PNG fake", "assistants_output")
        outputs = [{"type": "logs", "logs": total}, {"type": "image", "image": {"file_id": image}}]
        return BuiltinOutcome(
            details={"input": call.input, "outputs": outputs},
            output=total,
            image_file_ids=(image,),
            sandbox_files={"/mnt/data/sum.txt": written},
        )


class FakeSearch:
    type = "file_search"

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        results = [{"file_id": "file-abc", "file_name": "notes.txt", "score": 0.9}]
        return BuiltinOutcome(
            details={"ranking_options": {"ranker": "auto"}, "results": results},
            output="notes.txt says: tacos",
            citations=(Citation("file-abc", "notes.txt", "Filip likes tacos"),),
        )


class TwoTurns:
    """First turn: some text and a built-in call; second turn: an answer quoting its output."""

    def __init__(self, call: BuiltinCall, answer: str) -> None:
        self.call, self.answer = call, answer
        self.seen: list[Turn] = []

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        self.seen.append(turn)
        if not turn.rounds:
            yield TextDelta("Let me check.")
            yield Usage(10, 3)
            yield CallBuiltins((self.call,))
            return
        yield TextDelta(self.answer.format(output=turn.rounds[-1][0].output))
        yield Usage(20, 5)


async def _run(client: openai.AsyncOpenAI) -> tuple[list[Any], str]:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "2+2?"}])
    stream = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    )
    return await read_stream(stream), thread.id


async def test_code_interpreter_step_streams_in_the_hosted_order(
    server: Server, clock: FakeClock
) -> None:
    tool = FakeInterpreter()
    brain = TwoTurns(
        BuiltinCall("code_interpreter", "2+2"), "It is {output}: sandbox:/mnt/data/sum.txt"
    )
    _, client, _ = await server.open(clock=clock, brain=brain, builtin_tools=[tool])
    events, thread_id = await _run(client)
    names = [event.event for event in events]
    tool_step = names.index("thread.run.step.created", names.index("thread.message.completed"))
    assert names[tool_step : tool_step + 5] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.delta",
        "thread.run.step.completed",
    ]
    first, second = events[tool_step + 2].data, events[tool_step + 3].data
    assert first.delta.step_details.tool_calls[0].code_interpreter.input == "2+2"
    outputs = second.delta.step_details.tool_calls[0].code_interpreter.outputs
    assert [output.type for output in outputs] == ["logs", "image"]
    assert names[-1] == "thread.run.completed"
    run = events[-1].data
    assert run.usage.prompt_tokens == 30 and run.usage.completion_tokens == 8

    # the step as stored, and what the brain saw of it on its second turn
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")
    call = steps.data[1].step_details.tool_calls[0]
    assert call.type == "code_interpreter" and call.code_interpreter.input == "2+2"
    result = brain.seen[1].rounds[0][0]
    assert (result.name, json.loads(result.arguments), result.output) == (
        "code_interpreter",
        {"code": "2+2"},
        "4",
    )
    assert result.details is not None and result.details["id"] == call.id
    assert tool.contexts[0].thread["id"] == thread_id and tool.contexts[0].run["id"] == run.id

    # the answer: the image first, then the text with its file_path annotation
    messages = await client.beta.threads.messages.list(thread_id, order="asc")
    assert [m.content[0].type for m in messages.data[1:]] == ["text", "image_file"]
    answer = messages.data[2]
    assert [part.type for part in answer.content] == ["image_file", "text"]
    text = answer.content[1].text
    assert text.value == "It is 4: sandbox:/mnt/data/sum.txt"
    (annotation,) = text.annotations
    assert annotation.type == "file_path"
    assert text.value[annotation.start_index : annotation.end_index] == "sandbox:/mnt/data/sum.txt"
    content = await client.files.content(annotation.file_path.file_id)
    assert content.read() == b"4"


async def test_file_search_citations_become_annotations(server: Server, clock: FakeClock) -> None:
    brain = TwoTurns(
        BuiltinCall("file_search", queries=("food",)),
        "Tacos【4:0†notes.txt】 and 【4:7†other.txt】.",
    )
    _, client, _ = await server.open(clock=clock, brain=brain, builtin_tools=[FakeSearch()])
    events, thread_id = await _run(client)
    assert events[-1].event == "thread.run.completed"
    messages = await client.beta.threads.messages.list(thread_id, order="desc", limit=1)
    text = messages.data[0].content[0].text
    (annotation,) = text.annotations  # the marker naming no result stays plain text
    assert annotation.type == "file_citation"
    assert text.value[annotation.start_index : annotation.end_index] == "【4:0†notes.txt】"
    assert annotation.file_citation.file_id == "file-abc"
    assert annotation.file_citation.model_dump()["quote"] == "Filip likes tacos"
    assert json.loads(brain.seen[1].rounds[0][0].arguments) == {"queries": ["food"]}


async def test_a_failing_builtin_tool_ends_the_call_not_the_run(
    server: Server, clock: FakeClock
) -> None:
    brain = TwoTurns(BuiltinCall("code_interpreter", "raise"), "Sorry: {output}")
    _, client, _ = await server.open(clock=clock, brain=brain, builtin_tools=[FakeInterpreter()])
    events, thread_id = await _run(client)
    assert events[-1].event == "thread.run.completed"
    steps = await client.beta.threads.runs.steps.list(events[-1].data.id, thread_id=thread_id)
    (output,) = steps.data[1].step_details.tool_calls[0].code_interpreter.outputs
    assert output.type == "logs" and "the kernel died" in output.logs
    assert "the kernel died" in brain.seen[1].rounds[0][0].output


async def test_an_unconfigured_builtin_fails_the_run_clearly(
    server: Server, clock: FakeClock
) -> None:
    brain = TwoTurns(BuiltinCall("code_interpreter", input="1 + 1"), "never")
    # file search is always on; code interpreter is on by default, switched off here
    _, client, _ = await server.open(clock=clock, brain=brain, code_interpreter=False)
    events, _ = await _run(client)
    run = events[-1].data
    assert events[-1].event == "thread.run.failed"
    assert run.last_error.code == "server_error"
    assert "code_interpreter" in run.last_error.message


async def test_text_deltas_are_published_as_they_arrive() -> None:
    """Over a real socket: the in-process transport buffers a whole response."""
    brain = GatedBrain("first ", "second")  # the second once the test saw the first
    app = create_app(brain=brain)
    with serve_in_thread(app) as url:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="test") as client:
            assistant = await client.beta.assistants.create(model="gpt-4o")
            thread = await client.beta.threads.create()
            stream = await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
            pieces = []
            try:
                with anyio.fail_after(10):  # a buffered stream would never show the first piece
                    async for event in stream:
                        if event.event == "thread.message.delta":
                            pieces.append(event.data.delta.content[0].text.value)
                            brain.gate.set()
            finally:
                brain.gate.set()
            messages = await client.beta.threads.messages.list(thread.id)
    assert pieces == ["first ", "second"]
    assert messages.data[0].content[0].text.value == "first second"


class StreamedCalls:
    """Text, then a function call whose arguments arrive in pieces."""

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        if turn.rounds:
            yield TextDelta(f"Got {turn.rounds[0][0].output}")
            return
        yield TextDelta("Looking it up.")
        yield FunctionCallDelta(0, "call_abc", "get_weather", "")
        yield FunctionCallDelta(0, None, None, '{"city":')
        yield FunctionCallDelta(0, None, None, '"Paris"}')
        yield CallFunctions((ToolCall("get_weather", '{"city":"Paris"}', call_id="call_abc"),))


async def test_streamed_function_calls(server: Server, clock: FakeClock) -> None:
    _, client, _ = await server.open(clock=clock, brain=StreamedCalls())
    events, thread_id = await _run(client)
    names = [event.event for event in events]
    assert names[-1] == "thread.run.requires_action"
    assert names.count("thread.run.step.delta") == 3
    assert names.index("thread.message.completed") < names.index("thread.run.step.delta")
    call = events[-1].data.required_action.submit_tool_outputs.tool_calls[0]
    assert (call.id, call.function.arguments) == ("call_abc", '{"city":"Paris"}')
    stream = await client.beta.threads.runs.submit_tool_outputs(
        events[-1].data.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": "call_abc", "output": "sunny"}],
        stream=True,
    )
    after = await read_stream(stream)
    assert after[-1].event == "thread.run.completed"
    messages = await client.beta.threads.messages.list(thread_id, order="asc")
    texts = [m.content[0].text.value for m in messages.data if m.role == "assistant"]
    assert texts == ["Looking it up.", "Got sunny"]
