"""What every contender runs: the scripted runs (the server side) and the tool handlers (ours).

A `Shape` is one run as the server scripts it: `rounds` requires_action rounds of `calls`
parallel calls to the tool `work`, then a message. Every run gets a thread of its own, because
the scripted brain consumes a scenario's steps across the runs of a thread.

A `Toolbox` holds the handler of `work` twice over, as a runflow `ToolRegistry` and as the plain
coroutine the hand-written loops call, so every contender runs the same handler. Handlers take
no time, sleep a fixed delay, or wait on a gate (to hold N runs open at once for the memory
figure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio

from runflow import ToolRegistry

__all__ = ["TOOL_NAME", "Shape", "Toolbox", "scenarios"]

TOOL_NAME = "work"
JSON = dict[str, Any]


@dataclass(frozen=True)
class Shape:
    """k tool rounds of p parallel calls; handlers sleeping `delay` seconds (0: no await)."""

    rounds: int
    calls: int = 1
    delay: float = 0.0

    @property
    def scenario_name(self) -> str:
        return f"k{self.rounds}-p{self.calls}"

    @property
    def label(self) -> str:
        delay = f", {self.delay * 1000:g} ms handlers" if self.delay else ""
        return f"k={self.rounds}, p={self.calls}{delay}"

    def scenario(self) -> JSON:
        """The scripted-brain scenario (the server does not care about handler delays)."""
        round_ = {
            "tool_calls": [{"name": TOOL_NAME, "arguments": {"i": i}} for i in range(self.calls)]
        }
        steps: list[JSON] = [round_] * self.rounds
        steps.append({"message": "done"})
        return {"name": self.scenario_name, "steps": steps}


def scenarios(shapes: list[Shape]) -> dict[str, JSON]:
    """Every scenario the shapes need, by name (shapes differing only in delay share one)."""
    return {shape.scenario_name: shape.scenario() for shape in shapes}


class Toolbox:
    """The handler of `work`, for runflow (`registry`) and for hand-written loops (`call`)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.registry = self._registry()
        self._gate: anyio.Event | None = None
        self._expected = 0
        self._entered = 0
        self._all_entered = anyio.Event()

    async def work(self, i: int) -> str:
        if self._gate is not None:
            self._entered += 1
            if self._entered >= self._expected:
                self._all_entered.set()
            await self._gate.wait()
        elif self.delay:
            await anyio.sleep(self.delay)
        return str(i)

    async def call(self, name: str, arguments: str) -> str:
        """What a hand-written loop does with one tool call: parse, look up, await."""
        if name != TOOL_NAME:
            return json.dumps({"error": f"unknown tool {name}"})
        return await self.work(**json.loads(arguments))

    def hold(self, expected_calls: int) -> None:
        """From now on handlers wait at a gate; `all_held()` returns once `expected_calls`
        of them are waiting, `release()` lets them all go."""
        self._gate = anyio.Event()
        self._expected = expected_calls
        self._entered = 0
        self._all_entered = anyio.Event()

    def gave_up(self, calls: int) -> None:
        """A run that failed before reaching its handlers: expect `calls` fewer at the gate."""
        self._expected -= calls
        if self._gate is not None and self._entered >= self._expected:
            self._all_entered.set()

    async def all_held(self) -> None:
        await self._all_entered.wait()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
        self._gate = None

    def _registry(self) -> ToolRegistry:
        registry = ToolRegistry()

        @registry.tool(name=TOOL_NAME)
        async def work(i: int) -> str:
            """One unit of benchmark work.

            Args:
                i: The call's position in its round.
            """
            return await self.work(i)

        return registry
