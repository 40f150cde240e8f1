"""Deadlines: handlers whose durations are drawn around the time left before `expires_at`.

Some finish well before it, some would overrun. Every submission must land (at the server, on
its clock) before the run's `expires_at`; overrunning handlers are cancelled and get a `timeout`
error output in time; the runs go on and complete. With the injected clock (server and runner
share a `FakeClock` that jumps when everything waits) the test takes seconds; a second test
does the same once with the real clock and a 4-second expiry.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from openai import AsyncOpenAI

from runflow import Runner, RunResult, RunStatus, ToolRegistry
from runflow.clock import Clock, SystemClock
from runflow.testing import FakeClock, LocalServer

from .support import CallTagging, Ledger, counted, counting_server, current_call, report, size

pytestmark = pytest.mark.anyio

S = RunStatus
ROUND = [{"name": "work", "arguments": {"n": n}} for n in range(3)]
STEPS = [{"tool_calls": ROUND}, {"tool_calls": ROUND}, {"message": "{outputs}"}]


@dataclass
class Handlers:
    """A `work` tool whose calls last `fraction` x the time left before expires_at."""

    clock: Clock
    seed: int
    planned: dict[str, float] = field(default_factory=dict)  # call id -> fraction of time left
    finished: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    expires_at: dict[str, int] = field(default_factory=dict)  # run id -> its expires_at

    def fraction(self, call_id: str, n: int) -> float:
        rng = random.Random(f"{self.seed}:{call_id}")
        # 70 %: done well before the deadline; 30 %: would overrun it
        return rng.uniform(0.05, 0.5) if rng.random() < 0.7 else rng.uniform(1.1, 3.0)

    def tools(self) -> ToolRegistry:
        registry = ToolRegistry()

        @registry.tool
        async def work(n: int) -> str:
            """Work for a while."""
            run, call = current_call()
            assert run.expires_at is not None
            self.expires_at[run.id] = run.expires_at
            fraction = self.planned[call.id] = self.fraction(call.id, n)
            duration = fraction * (run.expires_at - self.clock.now())
            try:
                await self.clock.sleep_until(self.clock.now() + duration)
            except BaseException:
                self.cancelled.add(call.id)
                raise
            self.finished.add(call.id)
            return f"done {n}"

        return registry


@dataclass
class Served:
    server: LocalServer
    client: AsyncOpenAI
    ledger: Ledger
    assistant_id: str
    thread_ids: list[str]


async def serve(
    clock: Clock, runs: int, expiry: float, steps: list[dict[str, Any]] = STEPS
) -> Served:
    ledger = Ledger(now=clock.now)
    server = counting_server(ledger, steps, clock=clock, run_expiry_seconds=expiry)
    client = server.client
    assistant = await client.beta.assistants.create(model="gpt-4o")
    threads = [
        (await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])).id
        for _ in range(runs)
    ]
    return Served(server, client, ledger, assistant.id, threads)


async def run_all(served: Served, runner: Runner) -> list[RunResult | BaseException]:
    outcomes: list[RunResult | BaseException] = []

    async def one(thread_id: str) -> None:
        try:
            outcomes.append(await runner.run(thread_id=thread_id, assistant_id=served.assistant_id))
        except Exception as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as group:
        for thread_id in served.thread_ids:
            group.start_soon(one, thread_id)
    return outcomes


def check(title: str, served: Served, outcomes: list[Any], handlers: Handlers, took: float) -> None:
    results = [o for o in outcomes if isinstance(o, RunResult)]
    margins = [handlers.expires_at[s.run_id] - s.at for s in served.ledger.accepted]
    records = {rec.call_id: rec for r in results for rec in r.tool_calls}
    timeouts = {cid for cid, rec in records.items() if rec.error and rec.error.kind == "timeout"}
    overrunning = {cid for cid, fraction in handlers.planned.items() if fraction > 1}
    report(
        title,
        [
            ("runs", len(outcomes)),
            ("runs per final status", counted(Counter(getattr(o, "status", o) for o in outcomes))),
            ("tool calls", len(records)),
            ("handlers drawn to overrun", len(overrunning)),
            (
                "handlers finished / cancelled",
                f"{len(handlers.finished)} / {len(handlers.cancelled)}",
            ),
            ("timeout error outputs", len(timeouts)),
            ("submissions accepted", len(served.ledger.accepted)),
            ("submissions refused", counted(served.ledger.refused)),
            ("least time left at an accepted submission (s)", f"{min(margins):.2f}"),
            ("submissions at or after expires_at", sum(m <= 0 for m in margins)),
            ("wall time (s)", f"{took:.2f}"),
        ],
    )
    assert len(results) == len(outcomes), [o for o in outcomes if not isinstance(o, RunResult)][:3]
    assert all(r.status is S.COMPLETED for r in results), Counter(r.status for r in results)
    assert min(margins) > 0  # every submission landed before expires_at
    assert not served.ledger.refused
    assert overrunning <= handlers.cancelled  # overrunning handlers were cancelled...
    assert handlers.cancelled == timeouts  # ...and exactly those got a timeout error output
    assert not handlers.finished & handlers.cancelled
    for cid in handlers.finished:
        assert records[cid].ok and records[cid].output.startswith("done")
    for cid in timeouts:
        assert json.loads(records[cid].output)["error"]["type"] == "timeout"
    assert set(records) == handlers.finished | handlers.cancelled


async def test_deadlines_with_the_injected_clock() -> None:
    clock = FakeClock(start=1_800_000_000)
    runs = size(20, 500)
    served = await serve(clock, runs, expiry=600)
    handlers = Handlers(clock, seed=7)
    runner = Runner(
        served.client,
        handlers.tools(),
        clock=clock,
        instrumentation=CallTagging(),
        max_concurrent_runs=runs,
    )
    started = time.perf_counter()
    with anyio.fail_after(size(60, 900)):
        async with clock.autojump():
            outcomes = await run_all(served, runner)
    took = time.perf_counter() - started
    await served.server.aclose()

    check("Deadlines (injected clock, expiry 600 s)", served, outcomes, handlers, took)


class OneFastTwoSlow(Handlers):
    def fraction(self, call_id: str, n: int) -> float:
        return 0.05 if n == 0 else 3.0


async def test_deadlines_with_the_real_clock_and_a_short_expiry() -> None:
    clock = SystemClock()
    steps = [{"tool_calls": ROUND}, {"message": "{outputs}"}]
    served = await serve(clock, runs=3, expiry=4, steps=steps)
    handlers = OneFastTwoSlow(clock, seed=0)
    runner = Runner(
        served.client,
        handlers.tools(),
        clock=clock,
        safety_margin=1.0,
        instrumentation=CallTagging(),
    )
    started = time.perf_counter()
    with anyio.fail_after(10):
        outcomes = await run_all(served, runner)
    took = time.perf_counter() - started
    await served.server.aclose()

    check("Deadlines (real clock, expiry 4 s)", served, outcomes, handlers, took)
    assert len(handlers.finished) == 3 and len(handlers.cancelled) == 6
    assert took < 4
