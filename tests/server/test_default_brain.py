"""The default brain: a plausible assistant for clients that configure nothing."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from runflow_server.brains import example_arguments

from .support import read_stream

pytestmark = pytest.mark.anyio

BOOKING = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "nights": {"type": "integer", "minimum": 2, "maximum": 9},
        "budget": {"type": "number", "maximum": -5},
        "class": {"type": "string", "enum": ["economy", "business"]},
        "breakfast": {"type": "boolean"},
        "guests": {"type": "array", "items": {"$ref": "#/$defs/Guest"}, "minItems": 2},
        "note": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 4}]},
        "currency": {"type": "string", "default": "EUR"},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["city", "nights"],
    "$defs": {
        "Guest": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
        }
    },
}


def test_example_arguments_fit_the_schema() -> None:
    arguments = json.loads(example_arguments(BOOKING))

    assert arguments == {
        "city": "example city",
        "nights": 2,
        "budget": -5.0,
        "class": "economy",
        "breakfast": True,
        "guests": [{"name": "example name", "age": 1}, {"name": "example name", "age": 1}],
        "note": "exam",
        "currency": "EUR",
        "when": "2024-01-01",
    }
    assert example_arguments(BOOKING) == example_arguments(BOOKING)
    assert example_arguments(None) == "{}"


async def start(client: openai.AsyncOpenAI, **assistant: Any) -> tuple[str, str]:
    created = await client.beta.assistants.create(model="gpt-4o", **assistant)
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "Book me a room"}]
    )
    return created.id, thread.id


async def test_it_answers_quoting_the_last_user_message(client: openai.AsyncOpenAI) -> None:
    assistant_id, thread_id = await start(client)
    events = await read_stream(
        await client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True
        )
    )

    assert events[-1].event == "thread.run.completed"
    messages = await client.beta.threads.messages.list(thread_id=thread_id)
    assert messages.data[0].content[0].text.value == 'You said: "Book me a room"'  # type: ignore[union-attr]


async def test_a_forced_function_is_called_with_fitting_arguments_then_quoted(
    client: openai.AsyncOpenAI,
) -> None:
    tools: Any = [
        {"type": "function", "function": {"name": "book", "parameters": BOOKING}},
        {"type": "function", "function": {"name": "cancel"}},
    ]
    assistant_id, thread_id = await start(client, tools=tools)
    run = (
        await read_stream(
            await client.beta.threads.runs.create(
                thread_id=thread_id,
                assistant_id=assistant_id,
                tool_choice={"type": "function", "function": {"name": "book"}},
                stream=True,
            )
        )
    )[-1].data

    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "book"
    assert json.loads(call.function.arguments) == json.loads(example_arguments(BOOKING))

    done = await read_stream(
        await client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": call.id, "output": "booked #42"}],
            stream=True,
        )
    )
    assert done[-1].event == "thread.run.completed"
    messages = await client.beta.threads.messages.list(thread_id=thread_id)
    assert "booked #42" in messages.data[0].content[0].text.value  # type: ignore[union-attr]


async def test_required_calls_every_function_in_parallel(client: openai.AsyncOpenAI) -> None:
    tools: Any = [
        {"type": "function", "function": {"name": "one"}},
        {"type": "function", "function": {"name": "two", "parameters": BOOKING}},
    ]
    assistant_id, thread_id = await start(client, tools=tools)
    run = (
        await read_stream(
            await client.beta.threads.runs.create(
                thread_id=thread_id, assistant_id=assistant_id, tool_choice="required", stream=True
            )
        )
    )[-1].data

    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [call.function.name for call in calls] == ["one", "two"]
    assert json.loads(calls[0].function.arguments) == {}
