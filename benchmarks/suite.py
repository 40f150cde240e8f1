"""The figures, as plans (smoke, quick, full) and the three experiments that measure them.

1. **grid**: every shape, one run at a time, in-process and over loopback; requests per run,
   reaction latency, wall time and CPU per run. Contenders take turns within each repetition
   (the order rotates), so a ratio compares measurements taken seconds apart.
2. **concurrency**: N runs at once against a server in another process: heap per run held in
   requires_action, throughput, client CPU per run, server CPU per run lifecycle.
3. **server**: the run server alone, priced against a bare Starlette JSON endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from openai import AsyncOpenAI

from benchmarks.contenders import CONTENDERS, Contender, hand_stream
from benchmarks.measure import Batch, assistant_for, run_batch
from benchmarks.servers import IN_PROCESS, LOOPBACK, BenchServer, Loopback, loopback, serving
from benchmarks.workload import Shape, Toolbox, scenarios

__all__ = ["PLANS", "GridCell", "Plan", "Results", "ServerRow", "run_suite"]


_ONE_ROUND = Shape(1, 1)


@dataclass(frozen=True)
class Plan:
    mode: str
    shapes: tuple[Shape, ...]
    wheres: tuple[str, ...]
    reps: int
    """Repetitions of each grid cell (rotating contenders)."""
    batch: int
    """Runs per repetition, one after the other, for the fast contenders."""
    poll_reps: int
    """Repetitions (of one run each) for the polling contenders."""
    poll_1s_rounds: int
    """`poll-1s` runs only the shapes with at most this many rounds (each round costs 1 s)."""
    concurrency: tuple[int, ...]
    concurrency_reps: int
    server_requests: int
    concurrency_shape: Shape = _ONE_ROUND
    delayed_batch: int | None = None
    """Runs per repetition for shapes whose handlers sleep (each run lasts k x the delay and
    its wall is mostly that sleep); `batch` when None."""


_ZERO = (Shape(0), Shape(1), Shape(3), Shape(1, 4), Shape(3, 4))
PLANS = {
    "smoke": Plan("smoke", (Shape(0), Shape(1)), (IN_PROCESS, LOOPBACK), 1, 1, 1, 0, (4,), 1, 50),
    "quick": Plan(
        "quick",
        (*_ZERO, Shape(3, 4, 0.02)),
        (IN_PROCESS, LOOPBACK),
        reps=3,
        batch=5,
        poll_reps=3,
        poll_1s_rounds=1,
        concurrency=(100,),
        concurrency_reps=1,
        server_requests=1000,
    ),
    "full": Plan(
        "full",
        tuple(
            Shape(k, p, delay) for delay in (0.0, 0.05) for k in (0, 1, 3, 10) for p in (1, 4, 16)
        ),
        (IN_PROCESS, LOOPBACK),
        reps=15,
        batch=20,
        poll_reps=3,
        poll_1s_rounds=3,
        concurrency=(1, 100, 1000),  # 5,000 and more: `benchmarks.scale`
        concurrency_reps=3,
        server_requests=20000,
        delayed_batch=4,
    ),
}


@dataclass
class GridCell:
    where: str
    shape: Shape
    batches: dict[str, list[Batch]] = field(default_factory=dict)


@dataclass
class ServerRow:
    what: str
    requests: int
    server_cpu: float
    wall: float


@dataclass
class Results:
    plan: Plan
    available: dict[str, str | None]
    grid: list[GridCell] = field(default_factory=list)
    concurrency: dict[int, dict[str, list[Batch]]] = field(default_factory=dict)
    server: list[ServerRow] = field(default_factory=list)
    seconds: float = 0.0


Progress = Callable[[str], None]


async def run_suite(plan: Plan, progress: Progress) -> Results:
    started = time.perf_counter()
    available = {contender.name: contender.unavailable for contender in CONTENDERS}
    results = Results(plan, available)
    runnable = [c for c in CONTENDERS if available[c.name] is None]
    for where in plan.wheres:
        results.grid += await _grid(plan, where, runnable, progress)
    for n in plan.concurrency:
        results.concurrency[n] = await _concurrency(plan, n, runnable, progress)
    if plan.server_requests:
        results.server = await _server_alone(plan.server_requests, progress)
    results.seconds = time.perf_counter() - started
    return results


# -- 1. the grid ---------------------------------------------------------------------------------


async def _grid(
    plan: Plan, where: str, contenders: list[Contender], progress: Progress
) -> list[GridCell]:
    cells: list[GridCell] = []
    async with serving(where, scenarios(list(plan.shapes))) as server:
        client = server.client()
        for number, shape in enumerate(plan.shapes):
            progress(f"grid {where} {shape.label}")
            assistant_id = await assistant_for(client, shape, Toolbox())
            if number == 0:
                await _warm_up(server, client, contenders, shape, assistant_id)
            cell = GridCell(where, shape)
            for rep in range(plan.reps):
                for contender in _rotated(contenders, rep):
                    if not _in_grid(plan, contender, shape, rep):
                        continue
                    runs = 1 if contender.polls else _batch(plan, shape)
                    batch = await run_batch(
                        server, client, contender, shape, assistant_id, runs=runs
                    )
                    cell.batches.setdefault(contender.name, []).append(batch)
            cells.append(cell)
        await client.close()
    return cells


async def _warm_up(
    server: BenchServer,
    client: AsyncOpenAI,
    contenders: list[Contender],
    shape: Shape,
    assistant_id: str,
) -> None:
    """One unmeasured run each (imports, caches, connections), but `poll-1s` (it only sleeps)."""
    for contender in contenders:
        if contender.name != "poll-1s":
            await run_batch(server, client, contender, shape, assistant_id, runs=1)


def _batch(plan: Plan, shape: Shape) -> int:
    if shape.delay and plan.delayed_batch is not None:
        return plan.delayed_batch
    return plan.batch


def _in_grid(plan: Plan, contender: Contender, shape: Shape, rep: int) -> bool:
    if not contender.polls:
        return True
    if rep >= plan.poll_reps:
        return False
    return contender.name != "poll-1s" or shape.rounds <= plan.poll_1s_rounds


def _rotated(contenders: list[Contender], rep: int) -> list[Contender]:
    shift = rep % len(contenders)
    return contenders[shift:] + contenders[:shift]


# -- 2. concurrency --------------------------------------------------------------------------


async def _concurrency(
    plan: Plan, n: int, contenders: list[Contender], progress: Progress
) -> dict[str, list[Batch]]:
    """N runs at once, server in its own process: heap held per run, then throughput."""
    shape = plan.concurrency_shape
    measured: dict[str, list[Batch]] = {}
    async with loopback(scenarios([shape])) as server:
        client = server.client()
        assistant_id = await assistant_for(client, shape, Toolbox())
        await _warm_up(server, client, contenders, shape, assistant_id)
        for rep in range(plan.concurrency_reps):
            for contender in _rotated(_concurrent_contenders(contenders), rep):
                progress(f"concurrency N={n} {contender.name} (repetition {rep + 1})")
                held = await run_batch(
                    server, client, contender, shape, assistant_id, runs=n, hold=True
                )
                batch = await run_batch(
                    server, client, contender, shape, assistant_id, runs=n, concurrent=True
                )
                batch.heap = held.heap
                batch.failures += held.failures
                measured.setdefault(contender.name, []).append(batch)
        await client.close()
    return measured


def _concurrent_contenders(contenders: list[Contender]) -> list[Contender]:
    """Everything but fixed 1 s polling (its runs last seconds by design)."""
    return [contender for contender in contenders if contender.name != "poll-1s"]


# -- 3. the server alone ---------------------------------------------------------------------


async def _server_alone(requests: int, progress: Progress) -> list[ServerRow]:
    rows: list[ServerRow] = []
    progress("server alone: bare Starlette")
    async with loopback(bare=True) as bare:
        rows.append(await _load(bare, "bare Starlette GET /ping (JSON)", "GET", "/ping", requests))
    progress("server alone: run server")
    shape = Shape(0)
    async with loopback(scenarios([shape])) as server:
        client = server.client()
        run_path = await _finished_run(client, shape)
        rows.append(await _load(server, "run server GET run", "GET", run_path, requests))
        body = {"messages": [{"role": "user", "content": "go"}]}
        rows.append(
            await _load(server, "run server POST /threads", "POST", "/v1/threads", requests, body)
        )
        await client.close()
    return rows


async def _finished_run(client: AsyncOpenAI, shape: Shape) -> str:
    """The path of a completed run, to retrieve over and over."""
    toolbox = Toolbox()
    assistant_id = await assistant_for(client, shape, toolbox)
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    await hand_stream(client, assistant_id, thread.id, toolbox)
    runs = await client.beta.threads.runs.list(thread_id=thread.id)
    return f"/v1/threads/{thread.id}/runs/{runs.data[0].id}"


async def _load(
    server: Loopback,
    what: str,
    method: str,
    path: str,
    requests: int,
    body: object = None,
    concurrency: int = 16,
) -> ServerRow:
    """`requests` requests from `concurrency` workers on a plain httpx client."""
    async with httpx2.AsyncClient(base_url=server.origin) as http:

        async def worker(count: int) -> None:
            for _ in range(count):
                response = await http.request(method, path, json=body)
                response.raise_for_status()

        await _each(worker, requests // concurrency, 1)  # warm-up: connections, caches
        before = await server.stats()
        started = time.perf_counter()
        await _each(worker, requests // concurrency, concurrency)
        wall = time.perf_counter() - started
        after = await server.stats()
    done = requests // concurrency * concurrency
    return ServerRow(what, done, after.cpu - before.cpu, wall)


async def _each(
    worker: Callable[[int], Coroutine[Any, Any, None]], count: int, workers: int
) -> None:
    async with anyio.create_task_group() as group:
        for _ in range(workers):
            group.start_soon(worker, count)
