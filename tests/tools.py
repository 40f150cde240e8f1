"""Tools the test trees share (tests/e2e, tests/tracing)."""

from __future__ import annotations

import anyio

from runflow import ToolRegistry


def weather_tools() -> ToolRegistry:
    """get_weather (async), get_time (sync, in a worker thread) and divide (may raise)."""
    registry = ToolRegistry()

    @registry.tool
    async def get_weather(city: str) -> str:
        """Weather in a city."""
        return f"sunny in {city}"

    @registry.tool
    def get_time(city: str) -> str:
        """Local time in a city."""
        return f"noon in {city}"

    @registry.tool
    async def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    return registry


def hanging_tool(name: str) -> tuple[ToolRegistry, anyio.Event]:
    """A registry with one tool that never returns, and the event set once it has started."""
    registry = ToolRegistry()
    started = anyio.Event()

    async def hang() -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    registry.tool(name=name)(hang)
    return registry, started
