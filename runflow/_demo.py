"""`runflow demo`: one tool-calling run, end to end, on the in-process local run server.

No network, no keys. The scripted assistant asks for two tools in parallel, then one more,
then answers with a message that quotes their outputs. Everything the Runner does is printed
as it happens.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, Literal, TextIO

import anyio

from runflow.events import (
    MessageDelta,
    OutputsSubmitted,
    RunEvent,
    StatusChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow.runner import Runner
from runflow.testing import inprocess_client
from runflow.tools import ToolRegistry

__all__ = ["DEMO_SCENARIO", "demo_tools", "run_demo"]

QUESTION = "I land in Lisbon tonight. What's the weather and local time there, in Fahrenheit?"

DEMO_SCENARIO: dict[str, Any] = {
    "name": "lisbon-trip",
    "steps": [
        {
            "tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Lisbon"}},
                {"name": "get_local_time", "arguments": {"city": "Lisbon"}},
            ]
        },
        {"tool_calls": [{"name": "convert_temperature", "arguments": {"celsius": 21}}]},
        {
            "message": (
                "Lisbon right now: {output.get_weather}, local time {output.get_local_time}. "
                "In Fahrenheit that is {output.convert_temperature}."
            )
        },
    ],
}


def demo_tools() -> ToolRegistry:
    """The demo's registry: three small tools with realistic (simulated) latency."""
    registry = ToolRegistry()

    @registry.tool
    async def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city name, e.g. "Lisbon".
        """
        await anyio.sleep(0.30)
        return f"21°C and sunny in {city}"

    @registry.tool
    async def get_local_time(city: str) -> str:
        """Local wall-clock time in a city.

        Args:
            city: The city name.
        """
        await anyio.sleep(0.15)
        return f"21:40 in {city}"

    @registry.tool(timeout=5)
    def convert_temperature(
        celsius: float, to: Literal["fahrenheit", "kelvin"] = "fahrenheit"
    ) -> str:
        """Convert a temperature from Celsius.

        Args:
            celsius: Degrees Celsius.
            to: The unit to convert to.
        """
        time.sleep(0.05)  # a sync handler: runs in a worker thread
        value = celsius * 9 / 5 + 32 if to == "fahrenheit" else celsius + 273.15
        return f"{value:.1f}°{'F' if to == 'fahrenheit' else 'K'}"

    return registry


async def run_demo(out: TextIO = sys.stdout) -> int:
    """Run the demo, printing as it goes; return the process exit code."""
    server = _load_server()
    tools = demo_tools()
    app = server.create_app(scenario=server.Scenario.model_validate(DEMO_SCENARIO))
    client = inprocess_client(app)
    async with client:
        assistant = await client.beta.assistants.create(
            model="gpt-4o", name="Trip helper", tools=tools.definitions()
        )
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        _print(out, f"assistant {assistant.id} with tools: {', '.join(t.name for t in tools)}")
        _print(out, f"thread {thread.id}\nuser: {QUESTION}\n")
        started = time.perf_counter()
        runner = Runner(client, tools)
        result = await runner.run(
            thread_id=thread.id, assistant_id=assistant.id, on_event=_printer(out, started)
        )
    _print(out, f"\nassistant: {result.output_text}")
    _print(
        out,
        f"\nrun {result.run.id} ended {result.status.value} "
        f"after {time.perf_counter() - started:.2f}s, {len(result.tool_calls)} tool calls",
    )
    return 0 if result.status.value == "completed" else 1


def _printer(out: TextIO, started: float) -> Any:
    def on_event(event: RunEvent) -> None:
        stamp = f"[{time.perf_counter() - started:6.2f}s]"
        match event:
            case StatusChanged(run_id=run_id, previous=previous, status=status):
                before = previous.value if previous else "(new)"
                _print(out, f"{stamp} run {run_id}: {before} -> {status.value}")
            case ToolCallStarted(call=call):
                _print(out, f"{stamp}   call {call.name}({call.arguments}) started")
            case ToolCallFinished(record=record):
                outcome = record.output if record.ok else f"ERROR {record.output}"
                _print(
                    out,
                    f"{stamp}   call {record.name} -> {outcome} ({record.duration * 1000:.0f} ms)",
                )
            case OutputsSubmitted(tool_call_ids=ids, time_left=time_left):
                left = "unknown" if time_left is None else f"{time_left:.1f}s"
                _print(out, f"{stamp}   submitting {len(ids)} output(s), {left} before expires_at")
            case MessageDelta():
                pass

    return on_event


def _print(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def _load_server() -> Any:
    try:
        return importlib.import_module("runflow_server")
    except ImportError as exc:
        raise SystemExit(
            "the demo needs the local run server: pip install runflow-server "
            f"(or `uv sync` in the runflow repository) [{exc}]"
        ) from exc
