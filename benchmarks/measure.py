"""Running a batch of runs through one contender and measuring it, plus the statistics.

A batch is `n` runs of one shape, each on a fresh thread (threads are made before the clock
starts), run one after the other (`concurrent=False`: latency) or all at once (throughput,
memory). Measured: wall time and client CPU (`time.process_time`) of the whole batch, the
server's CPU when it is out of process, and from the server's `Probe` the requests per run and
the reaction latencies. With `hold=True` the first round's handlers wait at a gate until every
run is in requires_action; the Python heap (tracemalloc) is measured then, per run held.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from openai import AsyncOpenAI

from benchmarks.contenders import Contender
from benchmarks.servers import LOOPBACK, BenchServer
from benchmarks.workload import Shape, Toolbox

__all__ = ["Batch", "Spread", "assistant_for", "percentile", "run_batch", "spread"]

_SETUP_CONCURRENCY = 32


@dataclass
class Batch:
    """One contender, `runs` runs of one shape, measured together."""

    runs: int
    wall: float
    cpu: float
    server_cpu: float | None
    requests: list[int]
    reactions: list[float]
    action_waits: list[float]
    failures: list[str] = field(default_factory=list)
    heap: float | None = None
    """Bytes of Python heap per run, held open in requires_action (hold=True only)."""

    @property
    def wall_per_run(self) -> float:
        return self.wall / self.runs

    @property
    def cpu_per_run(self) -> float:
        return self.cpu / self.runs

    @property
    def throughput(self) -> float:
        return self.runs / self.wall


async def assistant_for(client: AsyncOpenAI, shape: Shape, toolbox: Toolbox) -> str:
    assistant = await client.beta.assistants.create(
        model="benchmark",
        tools=toolbox.registry.definitions(),
        metadata={"scenario": shape.scenario_name},
    )
    return assistant.id


async def run_batch(
    server: BenchServer,
    client: AsyncOpenAI,
    contender: Contender,
    shape: Shape,
    assistant_id: str,
    *,
    runs: int,
    concurrent: bool = False,
    hold: bool = False,
) -> Batch:
    toolbox = Toolbox(shape.delay)
    threads = await _threads(client, runs)
    failures: list[str] = []

    async def one(thread_id: str) -> None:
        try:
            status = await contender.run_once(client, assistant_id, thread_id, toolbox)
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            toolbox.gave_up(shape.calls)
        else:
            if status != "completed":
                failures.append(f"ended {status}")

    await server.reset()
    before = await server.stats()
    gc.collect()
    heap: float | None = None
    started, cpu_started = time.perf_counter(), time.process_time()
    if hold:
        heap = await _held_heap(toolbox, one, threads, shape.calls)
    elif concurrent:
        async with anyio.create_task_group() as group:
            for thread_id in threads:
                group.start_soon(one, thread_id)
    else:
        for thread_id in threads:
            await one(thread_id)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    after = await server.stats()
    return Batch(
        runs=runs,
        wall=wall,
        cpu=cpu,
        server_cpu=after.cpu - before.cpu if server.where == LOOPBACK else None,
        requests=[after.requests.get(thread_id, 0) for thread_id in threads],
        reactions=after.reactions,
        action_waits=after.action_waits,
        failures=failures,
        heap=heap,
    )


async def _held_heap(toolbox: Toolbox, one: Any, threads: list[str], calls: int) -> float:
    """Start every run; once all are in their first handlers, weigh the heap per run."""
    toolbox.hold(len(threads) * calls)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as group:
            for thread_id in threads:
                group.start_soon(one, thread_id)
            await toolbox.all_held()
            gc.collect()
            held = tracemalloc.get_traced_memory()[0]
            # The runs finish untraced: tracing every allocation makes each turn of the event
            # loop several times slower, and requests would sit for seconds between the pool
            # handing out a connection and writing on it.
            tracemalloc.stop()
            toolbox.release()
    finally:
        tracemalloc.stop()
    return (held - baseline) / len(threads)


async def _threads(client: AsyncOpenAI, count: int) -> list[str]:
    """`count` fresh threads with one user message each (set-up, not measured)."""
    threads: list[str] = []
    limiter = anyio.CapacityLimiter(_SETUP_CONCURRENCY)

    async def make() -> None:
        async with limiter:
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
            threads.append(thread.id)

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(make)
    return threads


# -- statistics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """A median with the 10th and 90th percentiles (min and max below 10 samples)."""

    median: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, float]:
        return {"median": self.median, "p10": self.low, "p90": self.high, "n": self.n}


def spread(values: Sequence[float]) -> Spread | None:
    if not values:
        return None
    if len(values) < 10:
        return Spread(statistics.median(values), min(values), max(values), len(values))
    return Spread(
        statistics.median(values), percentile(values, 10), percentile(values, 90), len(values)
    )


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile of `values` (0-100)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    below = int(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)
