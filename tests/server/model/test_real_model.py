"""Opt-in: the run server on a real Chat Completions endpoint (skipped unless configured).

    RUNFLOW_MODEL_BASE_URL=http://127.0.0.1:11434/v1 RUNFLOW_MODEL=qwen2.5:7b \\
        uv run pytest tests/server/model/test_real_model.py -q

`RUNFLOW_MODEL_API_KEY` is the key when the endpoint needs one. Small local models wander, so
these tests check what any tool-calling model must do, not its wording.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runflow import Runner, ToolRegistry, sync_assistant
from runflow.testing import inprocess_client
from runflow_server import create_app
from runflow_server.clock import SystemClock
from runflow_server.model import API_KEY_ENV, ModelBrain, model_config_from_flags

BASE_URL = os.environ.get("RUNFLOW_MODEL_BASE_URL")
MODEL = os.environ.get("RUNFLOW_MODEL")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (BASE_URL and MODEL), reason="set RUNFLOW_MODEL_BASE_URL and RUNFLOW_MODEL"
    ),
]


@pytest.fixture
async def served() -> AsyncIterator[tuple[Any, Any]]:
    """(app, client): the server in-process on the real model, with its default built-ins."""
    clock = SystemClock()
    config = model_config_from_flags(
        BASE_URL or "", os.environ.get(API_KEY_ENV), [f"gpt-4o-mini={MODEL}"]
    )
    brain = ModelBrain(config, clock=clock)
    app = create_app(clock=clock, brain=brain)
    client = inprocess_client(app)
    yield app, client
    await client.close()
    await app.state.engine.aclose()
    await brain.aclose()


@pytest.fixture
def client(served: tuple[Any, Any]) -> Any:
    return served[1]


async def test_a_real_model_calls_a_function_and_answers_with_its_output(client: Any) -> None:
    tools = ToolRegistry()

    @tools.tool
    async def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city name, e.g. "Lisbon".
        """
        return f"It is 17 degrees and foggy in {city}."

    assistant = await sync_assistant(
        client,
        tools,
        name="Weather",
        model="gpt-4o-mini",
        instructions="Answer weather questions with the get_weather tool, then quote it.",
    )
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the weather in Lisbon right now?"}]
    )
    result = await Runner(client, tools).run(thread_id=thread.id, assistant_id=assistant.id)
    result.raise_for_status()
    assert [call.name for call in result.tool_calls][:1] == ["get_weather"]
    assert "17" in result.output_text or "fog" in result.output_text.lower()


async def test_the_quickstarts_code_interpreter_walkthrough(served: tuple[Any, Any]) -> None:
    """The Azure quickstart's first exchange: a sine wave drawn by the code interpreter."""
    app, client = served
    if "code_interpreter" not in app.state.engine.builtin_tools:
        pytest.skip("this server runs no code interpreter (see its section of the README)")
    assistant = await client.beta.assistants.create(
        name="Data Visualization",
        instructions=(
            "You are a helpful AI assistant who makes interesting visualizations based on data."
            " You have access to a sandboxed environment for writing and testing code."
        ),
        tools=[{"type": "code_interpreter"}],
        model="gpt-4o-mini",
    )
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "Create a visualization of a sinewave"}]
    )
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=500
    )
    assert run.status == "completed", run.last_error
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    calls = [
        call
        for step in steps.data
        if step.step_details.type == "tool_calls"
        for call in step.step_details.tool_calls
    ]
    assert calls and all(call.type == "code_interpreter" for call in calls)
    outputs = [output.type for call in calls for output in call.code_interpreter.outputs]
    messages = await client.beta.threads.messages.list(thread_id=thread.id)
    parts = [part.type for message in messages.data for part in message.content]
    assert "image" in outputs or "image_file" in parts
