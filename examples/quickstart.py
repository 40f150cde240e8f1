"""The README's usage example, runnable offline: the local run server in-process.

    uv run python examples/quickstart.py

Against a real service, build the client with its base_url and key instead of
`inprocess_client(...)` (for example `AsyncOpenAI(base_url="http://127.0.0.1:8000/v1")` for
`runflow serve`).
"""

from __future__ import annotations

import warnings

import anyio

from runflow import Runner, ToolRegistry, sync_assistant
from runflow.testing import inprocess_client
from runflow_server import Scenario, create_app

# The SDK marks every Assistants call deprecated; this code keeps that protocol on purpose.
warnings.filterwarnings(
    "ignore", "The Assistants API is deprecated|deprecated$", DeprecationWarning
)

tools = ToolRegistry()


@tools.tool(timeout=10)
async def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Lisbon".
    """
    return f"21°C and sunny in {city}"


# What the local server's scripted assistant does (a real model decides for itself).
SCENARIO = Scenario.model_validate(
    {
        "name": "weather",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Lisbon"}}]},
            {"message": "In Lisbon: {output.get_weather}."},
        ],
    }
)


async def main() -> None:
    async with inprocess_client(create_app(scenario=SCENARIO)) as client:
        assistant = await sync_assistant(client, tools, name="Weather", model="gpt-4o")
        thread = await client.beta.threads.create(
            messages=[{"role": "user", "content": "Weather in Lisbon?"}]
        )
        result = await Runner(client, tools).run(thread_id=thread.id, assistant_id=assistant.id)
    result.raise_for_status()
    print(result.output_text)
    for call in result.tool_calls:
        print(f"  {call.name}({call.arguments}) -> {call.output} in {call.duration * 1000:.1f} ms")


if __name__ == "__main__":
    anyio.run(main)
