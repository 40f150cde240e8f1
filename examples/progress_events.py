"""A service streaming a run's progress to its own users: `Runner.start()` and a RunHandle.

uv run python examples/progress_events.py
"""

from __future__ import annotations

import warnings

import anyio

from runflow import (
    MessageDelta,
    OutputsSubmitted,
    Runner,
    StatusChanged,
    ToolCallFinished,
    ToolRegistry,
)
from runflow.testing import inprocess_client
from runflow_server import Scenario, create_app

# The SDK marks every Assistants call deprecated; this code keeps that protocol on purpose.
warnings.filterwarnings(
    "ignore", "The Assistants API is deprecated|deprecated$", DeprecationWarning
)

tools = ToolRegistry()


@tools.tool
async def search_flights(origin: str, destination: str) -> list[dict[str, str]]:
    """Flights between two airports.

    Args:
        origin: IATA code of the departure airport.
        destination: IATA code of the arrival airport.
    """
    await anyio.sleep(0.1)
    return [{"flight": "TP1351", "departs": "07:05"}, {"flight": "TP1353", "departs": "11:40"}]


SCENARIO = Scenario.model_validate(
    {
        "name": "flights",
        "steps": [
            {
                "tool_calls": [
                    {"name": "search_flights", "arguments": {"origin": "LIS", "destination": "OPO"}}
                ]
            },
            {"message": "Two flights tomorrow: {output.search_flights}"},
        ],
    }
)


async def main() -> None:
    async with inprocess_client(create_app(scenario=SCENARIO)) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", tools=tools.definitions())
        async with Runner(client, tools) as runner:
            handle = runner.start(
                assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": "Flights LIS to OPO?"}]},
            )
            async for event in handle.events():
                match event:
                    case StatusChanged(status=status):
                        print(f"[status] {status.value}")
                    case ToolCallFinished(record=record):
                        print(f"[tool] {record.name} done in {record.duration:.2f}s")
                    case OutputsSubmitted(time_left=time_left):
                        print(f"[submit] {time_left:.0f}s before expires_at")
                    case MessageDelta(text=text):
                        print(f"[text] {text!r}")
            result = await handle.result()
    print(result.output_text)


if __name__ == "__main__":
    anyio.run(main)
