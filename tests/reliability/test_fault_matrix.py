"""The fault matrix: many runs at once, each with several tool rounds, against a server that
injects faults (seeded) into about one request in five: 429 with Retry-After, 500 and 503 (before
and after the request took effect), connections dropped (before and after), SSE streams cut
mid-run, added latency.

Invariants, for every run: it ends in the status its scenario intends (never expired, never an
exception); one run per thread (creation is idempotent); every tool call the server asked for ran
its handler exactly once and had its outputs accepted exactly once. Submissions are counted at
the server, inside the fault injector (`CountSubmissions`), where a 200 means the outputs landed
even if the client never saw it; handler runs are counted by the handlers themselves.

In-process (the ASGI app behind httpx's ASGI transport) and over loopback HTTP (uvicorn in a
thread: drops close the TCP connection, cut streams abort it). Quick sizes in CI; `RUNFLOW_SOAK=1`
for 5,000 runs (README.md).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from openai import AsyncOpenAI

from runflow import RetryPolicy, Runner, RunResult, RunStatus, ToolRegistry
from runflow.testing import FakeClock, LocalServer
from runflow_server import FaultConfig, FaultRule, Scenario
from tests.server.support import serve_in_thread

from .support import (
    CallTagging,
    Ledger,
    counted,
    counting_server,
    current_call,
    report,
    size,
)

pytestmark = pytest.mark.anyio

S = RunStatus

ROUNDS: list[dict[str, Any]] = [
    {
        "tool_calls": [
            {"name": "lookup", "arguments": {"n": 1}},
            {"name": "compute", "arguments": {"n": 2}},
        ]
    },
    {"tool_calls": [{"name": "lookup", "arguments": {"n": 3}}]},
    {
        "tool_calls": [
            {"name": "compute", "arguments": {"n": 4}},
            {"name": "lookup", "arguments": {"n": 5}},
            {"name": "compute", "arguments": {"n": 6}},
        ]
    },
]
SCENARIOS = {
    "completes": [*ROUNDS, {"message": "done: {outputs}"}],
    "fails": [*ROUNDS[:2], {"fail": {"code": "server_error", "message": "scripted failure"}}],
    "incomplete": [*ROUNDS[:2], {"incomplete": {"reason": "max_completion_tokens"}}],
}
INTENDED = {"completes": S.COMPLETED, "fails": S.FAILED, "incomplete": S.INCOMPLETE}

# About one request in five (lookups too) meets a status or drop fault; SSE responses may
# also be cut.
FAULTS = [
    FaultRule(kind="latency", latency_ms=5, rate=0.05),
    FaultRule(kind="status", status=429, retry_after=0.01, rate=0.04),
    FaultRule(kind="status", status=500, rate=0.03),
    FaultRule(kind="status", status=503, when="after", rate=0.03),
    FaultRule(kind="drop", rate=0.03),
    FaultRule(kind="drop", when="after", rate=0.03),
    FaultRule(kind="status", status=502, when="after", method="POST", rate=0.04),
    FaultRule(kind="cut_stream", after_events=2, rate=0.04),
    FaultRule(kind="cut_stream", after_events=6, rate=0.03),
]
RETRY = RetryPolicy(max_attempts=12, initial_backoff=0.005, max_backoff=0.1, budget=10)


@dataclass
class Outcome:
    scenario: str
    thread_id: str
    mode: str
    status: str = "not finished"
    retries: int = 0


@dataclass
class Tally:
    executions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def tools(self) -> ToolRegistry:
        registry = ToolRegistry()

        @registry.tool
        async def lookup(n: int) -> str:
            """Look something up (async handler)."""
            self._ran()
            await anyio.lowlevel.checkpoint()
            return f"found {n}"

        @registry.tool
        def compute(n: int) -> int:
            """Compute something (sync handler, in a worker thread)."""
            self._ran()
            return n * n

        return registry

    def _ran(self) -> None:
        run, call = current_call()
        self.executions[(run.id, call.id)] += 1


SCENARIO_MODELS = {
    name: Scenario.model_validate({"name": name, "steps": steps})
    for name, steps in SCENARIOS.items()
}


@asynccontextmanager
async def in_process(server: LocalServer) -> AsyncIterator[AsyncOpenAI]:
    async with server:
        yield server.client


@asynccontextmanager
async def over_loopback(server: LocalServer) -> AsyncIterator[AsyncOpenAI]:
    with serve_in_thread(server.app, backlog=1024) as url:  # a thousand runs connect at once
        async with AsyncOpenAI(base_url=f"{url}/v1", api_key="test", max_retries=0) as client:
            yield client


async def prepare(client: AsyncOpenAI, runs: int) -> list[Outcome]:
    """One assistant per scenario, one thread per run (made before any fault is switched on)."""
    assistants = {}
    for name in SCENARIOS:
        assistant = await client.beta.assistants.create(model="gpt-4o", metadata={"scenario": name})
        assistants[name] = assistant.id
    outcomes = []
    names = list(SCENARIOS)
    for index in range(runs):
        thread = await client.beta.threads.create(
            messages=[{"role": "user", "content": f"run {index}"}]
        )
        mode = "poll" if index % 4 == 3 else "stream"
        outcomes.append(Outcome(names[index % len(names)], thread.id, mode))
    return outcomes, assistants  # type: ignore[return-value]


async def drive_all(
    client: AsyncOpenAI, outcomes: list[Outcome], assistants: dict[str, str], tally: Tally
) -> None:
    tagging = CallTagging()
    runners = {
        mode: Runner(
            client,
            tally.tools(),
            mode=mode,  # type: ignore[arg-type]
            retry=RETRY,
            max_concurrent_runs=len(outcomes),
            instrumentation=tagging,
        )
        for mode in ("stream", "poll")
    }

    async def drive(outcome: Outcome) -> None:
        try:
            result = await runners[outcome.mode].run(
                thread_id=outcome.thread_id, assistant_id=assistants[outcome.scenario]
            )
        except Exception as exc:
            outcome.status = f"raised {type(exc).__name__}: {exc}"[:200]
            return
        outcome.status = result.status.value
        outcome.retries = result.retries

    async with anyio.create_task_group() as group:
        for outcome in outcomes:
            group.start_soon(drive, outcome)


async def server_truth(
    client: AsyncOpenAI, outcomes: list[Outcome]
) -> tuple[Counter[str], set[tuple[str, str]]]:
    """Runs per thread (by count), and every (run, call id) the server asked outputs for."""
    runs_per_thread: Counter[str] = Counter()
    asked: set[tuple[str, str]] = set()
    limiter = anyio.CapacityLimiter(20)

    async def inspect(outcome: Outcome) -> None:
        async with limiter:
            runs = await client.beta.threads.runs.list(outcome.thread_id, limit=100)
            runs_per_thread[str(len(runs.data))] += 1
            for run in runs.data:
                steps = await client.beta.threads.runs.steps.list(
                    run.id, thread_id=outcome.thread_id, limit=100
                )
                for step in steps.data:
                    if step.step_details.type == "tool_calls":
                        asked.update((run.id, call.id) for call in step.step_details.tool_calls)

    async with anyio.create_task_group() as group:
        for outcome in outcomes:
            group.start_soon(inspect, outcome)
    return runs_per_thread, asked


@pytest.mark.parametrize(
    ("transport", "runs"),
    [
        pytest.param("in-process", size(200, 5000), id="in-process"),
        pytest.param("loopback", size(40, 1000), id="loopback"),
    ],
)
async def test_every_run_ends_as_intended_under_injected_faults(transport: str, runs: int) -> None:
    ledger = Ledger()
    server = counting_server(ledger, scenarios=SCENARIO_MODELS)
    app = server.app
    tally = Tally()
    connect = in_process if transport == "in-process" else over_loopback
    async with connect(server) as client:
        outcomes, assistants = await prepare(client, runs)  # type: ignore[misc]
        app.state.faults = FaultConfig(seed=20240601, rules=FAULTS)
        started = time.perf_counter()
        with anyio.fail_after(size(120, 1800)):
            await drive_all(client, outcomes, assistants, tally)
        took = time.perf_counter() - started
        app.state.faults = None
        runs_per_thread, asked = await server_truth(client, outcomes)

    accepted = ledger.per_call()
    duplicates = sum(n - 1 for n in tally.executions.values() if n > 1)
    duplicate_outputs = sum(n - 1 for n in accepted.values() if n > 1)
    lost = sorted(call for call in asked if accepted[call] == 0)
    never_ran = sorted(call for call in asked if tally.executions[call] == 0)
    unasked = sorted(call for call in tally.executions if call not in asked)
    statuses = Counter(outcome.status for outcome in outcomes)
    wrong = [o for o in outcomes if o.status != INTENDED[o.scenario].value]
    faults = dict(app.state.fault_counts)
    report(
        f"Fault matrix ({transport})",
        [
            (
                "runs (stream / poll)",
                f"{runs} ({sum(o.mode == 'stream' for o in outcomes)}"
                f" / {sum(o.mode == 'poll' for o in outcomes)})",
            ),
            ("tool calls asked by the server", len(asked)),
            ("faults injected, by kind", counted(Counter(faults))),
            (
                "faults injected, total (latency excluded)",
                sum(v for k, v in faults.items() if k != "latency"),
            ),
            ("retries (runflow)", sum(o.retries for o in outcomes)),
            ("submissions refused (status: count)", counted(ledger.refused)),
            ("runs per final status", counted(statuses)),
            ("runs not in their intended status", len(wrong)),
            ("runs per thread (count: threads)", counted(runs_per_thread)),
            ("duplicate handler executions", duplicates),
            ("duplicate accepted outputs", duplicate_outputs),
            ("lost outputs", len(lost)),
            ("wall time (s)", f"{took:.1f}"),
        ],
        note="Faults (seed 20240601): "
        + ", ".join(r.model_dump_json(exclude_defaults=True) for r in FAULTS),
    )
    assert sum(v for k, v in faults.items() if k != "latency") > runs // 2  # faults did happen
    assert not wrong, [(o.scenario, o.mode, o.status) for o in wrong[:5]]
    assert runs_per_thread == Counter({"1": runs})
    assert duplicates == 0 and duplicate_outputs == 0
    assert lost == [] and never_ran == [] and unasked == []


# -- focused sequences: the bugs the matrix found ----------------------------------------------


async def one_run_against(
    faults: list[FaultRule], clock: FakeClock | None = None
) -> tuple[RunResult | Exception, list[Any], Tally]:
    """One run of the `completes` scenario with `faults`; the result (or what was raised), the
    runs on its thread, and the handler tally."""
    server = LocalServer(scenarios=SCENARIO_MODELS, clock=clock)
    app = server.app
    tally = Tally()
    async with in_process(server) as client:
        outcomes, assistants = await prepare(client, 1)  # type: ignore[misc]
        app.state.faults = FaultConfig(seed=1, rules=faults)
        runner = Runner(client, tally.tools(), retry=RETRY, instrumentation=CallTagging())
        outcome: RunResult | Exception
        try:
            with anyio.fail_after(30):
                if clock is None:
                    outcome = await runner.run(
                        thread_id=outcomes[0].thread_id, assistant_id=assistants["completes"]
                    )
                else:
                    runner = Runner(
                        client,
                        tally.tools(),
                        retry=RETRY,
                        clock=clock,
                        instrumentation=CallTagging(),
                    )
                    async with clock.autojump():
                        outcome = await runner.run(
                            thread_id=outcomes[0].thread_id,
                            assistant_id=assistants["completes"],
                        )
        except Exception as exc:
            outcome = exc
        app.state.faults = None
        runs = (await client.beta.threads.runs.list(outcomes[0].thread_id)).data
    return outcome, runs, tally


async def test_a_failed_lookup_after_an_ambiguous_create_does_not_wait_for_itself() -> None:
    clock = FakeClock()
    outcome, runs, tally = await one_run_against(
        [
            FaultRule(
                kind="status", status=503, when="after", method="POST", path="/runs$", times=1
            ),
            FaultRule(
                kind="status", status=429, retry_after=0.01, method="GET", path="/runs$", times=1
            ),
        ],
        clock=clock,
    )

    assert isinstance(outcome, RunResult), outcome
    assert outcome.status is S.COMPLETED
    assert [run.status for run in runs] == ["completed"]  # no run expired, no second run
    assert all(n == 1 for n in tally.executions.values())


async def test_a_failed_check_after_an_ambiguous_submission_does_not_submit_again() -> None:
    outcome, runs, tally = await one_run_against(
        [
            FaultRule(
                kind="status", status=502, when="after", path="/submit_tool_outputs$", times=1
            ),
            FaultRule(
                kind="status",
                status=429,
                retry_after=0.01,
                method="GET",
                path="/runs/run_\\w+$",
                times=1,
            ),
        ]
    )

    assert isinstance(outcome, RunResult), outcome
    assert outcome.status is S.COMPLETED
    assert [run.status for run in runs] == ["completed"]
    assert all(n == 1 for n in tally.executions.values())
