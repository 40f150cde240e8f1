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
async def client() -> AsyncIterator[Any]:
    clock = SystemClock()
    config = model_config_from_flags(
        BASE_URL or "", os.environ.get(API_KEY_ENV), [f"gpt-4o-mini={MODEL}"]
    )
    brain = ModelBrain(config, clock=clock)
    app = create_app(clock=clock, brain=brain)
    client = inprocess_client(app)
    yield client
    await client.close()
    await app.state.engine.aclose()
    await brain.aclose()


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
