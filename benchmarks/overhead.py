"""`python -m benchmarks.overhead [--rounds 1] [--calls 1] [--runs 200]`: runflow's own CPU per run.

The run's event streams are recorded once from the run server (over loopback), then replayed
from memory by a `Backend`, so no request is made while measuring: what is left is runflow's
own work per run (the driver, the sources, dispatch, instrumentation), next to a hand-written
loop over the same replayed events. On a loaded machine this is the steady figure to compare
changes to runflow with: the loopback grid adds the HTTP stack and the noise of the machine.

Prints microseconds of thread CPU per run (median of `--repeats` batches of `--runs` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Run

from benchmarks.measure import assistant_for
from benchmarks.servers import loopback
from benchmarks.workload import Shape, Toolbox, scenarios
from runflow import Runner
from runflow.instrumentation import NoInstrumentation

__all__ = ["Replay", "main", "record"]

Streams = list[list[AssistantStreamEvent]]


async def record(shape: Shape) -> Streams:
    """The event streams of one run of `shape`: its creation's, then each submission's."""
    async with loopback(scenarios([shape])) as server:
        client = server.client()
        assistant_id = await assistant_for(client, shape, Toolbox())
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
        runs = client.beta.threads.runs
        stream = await runs.create(thread_id=thread.id, assistant_id=assistant_id, stream=True)
        streams: Streams = []
        while True:
            async with stream:
                streams.append([event async for event in stream])
            run = _last_run(streams[-1])
            if run.required_action is None:
                await client.close()
                return streams
            calls = run.required_action.submit_tool_outputs.tool_calls
            outputs = [{"tool_call_id": call.id, "output": "0"} for call in calls]
            stream = await runs.submit_tool_outputs(
                run.id, thread_id=thread.id, stream=True, tool_outputs=outputs
            )


class Replay:
    """A `Backend` (its streaming half) that answers each run with the recorded streams."""

    provider_name = "openai"
    server_address = "127.0.0.1"

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self._next = 0

    def create_run_stream(self, **_: Any) -> Any:
        self._next = 0
        return self._replayed()

    def submit_tool_outputs_stream(self, **_: Any) -> Any:
        return self._replayed()

    @asynccontextmanager
    async def _replayed(self) -> AsyncIterator[AsyncIterator[AssistantStreamEvent]]:
        events = self.streams[self._next]
        self._next += 1
        yield _each(events)


async def _each(events: Sequence[AssistantStreamEvent]) -> AsyncIterator[AssistantStreamEvent]:
    for event in events:
        yield event


async def hand_loop(backend: Replay, tools: Toolbox) -> str:
    """`contenders.hand_stream` over the replayed streams."""
    async with backend.create_run_stream() as events:
        run = _last_run([event async for event in events])
    while run.required_action is not None:
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = await asyncio.gather(
            *(tools.call(call.function.name, call.function.arguments) for call in calls)
        )
        submitted = [
            {"tool_call_id": call.id, "output": output}
            for call, output in zip(calls, outputs, strict=True)
        ]
        async with backend.submit_tool_outputs_stream(tool_outputs=submitted) as events:
            run = _last_run([event async for event in events])
    return run.status


def _last_run(events: Sequence[AssistantStreamEvent]) -> Run:
    return [event.data for event in events if isinstance(event.data, Run)][-1]


def contenders(backend: Replay, tools: Toolbox) -> dict[str, Callable[[], Awaitable[str]]]:
    def runflow(**options: Any) -> Callable[[], Awaitable[str]]:
        async def run_once() -> str:
            runner = Runner(backend, tools.registry, **options)  # type: ignore[arg-type]
            result = await runner.run(thread_id="thread_replayed", assistant_id="asst_replayed")
            return result.run.status

        return run_once

    return {
        "hand-stream": lambda: hand_loop(backend, tools),
        "runflow-stream": runflow(),
        "runflow-stream, NoInstrumentation": runflow(instrumentation=NoInstrumentation()),
    }


async def measure(shape: Shape, runs: int, repeats: int) -> dict[str, float]:
    """Microseconds of CPU per run, by contender (batches alternate; GC between batches)."""
    backend, tools = Replay(await record(shape)), Toolbox()
    measured = contenders(backend, tools)
    for run_once in measured.values():
        for _ in range(10):
            assert await run_once() == "completed"
    batches: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(repeats):
        for name, run_once in measured.items():
            gc.collect()
            gc.disable()
            started = time.thread_time()
            for _ in range(runs):
                await run_once()
            batches[name].append((time.thread_time() - started) / runs * 1e6)
            gc.enable()
    return {name: statistics.median(values) for name, values in batches.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__)
    parser.add_argument("--rounds", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for rounds in args.rounds:
        shape = Shape(rounds, args.calls)
        figures = anyio.run(measure, shape, args.runs, args.repeats)
        base = figures["hand-stream"]
        for name, micros in figures.items():
            added = micros - base
            print(f"{shape.label:<10} {name:<36} {micros:8.1f} µs CPU per run (+{added:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
