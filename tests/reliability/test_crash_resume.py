"""Crash and resume: worker processes killed with SIGKILL mid-run, resumed from their journal; a
server restarted on its `--db` mid-run.

The server runs in a subprocess (`python -m runflow_server --db ... --scenario ...`). Worker
processes (`crash_worker.py`) drive one run per thread with a `Journal`; each is killed (by
itself at a chosen point: after a create request was answered, before a call's dispatch, inside
a handler just after its side effect, between the journal write of a batch and its submission,
after a submission was answered; or by the test after a random delay) and a new process resumes,
until one finishes. Handlers append `call_id round` to a file (fsync) before returning, so every
execution is counted, per process.

Invariants: every thread has exactly one run, completed, with the right outputs (run steps) and
final message; the journal has every run ended and an output for every call the server asked
for; no handler ran in a process that started with that call's output already journaled (the
delivery guarantee); a handler that ran twice ran first in a process that was killed before
that call's batch was journaled (the documented window; counted and reported by the kill that
cut it). Then a server is stopped and started again on the same `--db` and port while runs wait
in requires_action (SIGTERM), and killed while they are in progress (SIGKILL): every run ends
completed, every handler ran once.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from anyio.streams.text import TextReceiveStream
from openai import AsyncOpenAI

from runflow import (
    RetryPolicy,
    RunEvent,
    Runner,
    RunResult,
    RunStatus,
    StatusChanged,
    SubmissionEnded,
    ToolContext,
    ToolRegistry,
)

from .crash_worker import KILL_POINTS
from .support import counted, report, size

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).with_name("crash_worker.py")
SEED = 20240607


def calls(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": {"n": n}} for name, n in pairs]}


ROUNDS = [
    calls(("lookup", 1), ("compute", 2)),
    calls(("compute", 3)),
    calls(("lookup", 4), ("compute", 5), ("lookup", 6)),
    calls(("compute", 7), ("lookup", 8)),
]
CALLS_PER_RUN = sum(len(step["tool_calls"]) for step in ROUNDS)
CRASH_STEPS = [*ROUNDS, {"message": "done: {outputs}"}]
CRASH_MESSAGE = "done: 49, found 8"


def expected_output(name: str, arguments: str) -> str:
    """What the handlers (crash_worker.py and the restart test's) answer."""
    n = json.loads(arguments)["n"]
    return f"found {n}" if name == "lookup" else str(n * n)


# -- the server, in its own process ------------------------------------------------------------


class ServerProcess:
    """`python -m runflow_server` on a SQLite file; started again on the same file and port.
    uvicorn's access log (its stdout) goes to `access.log`, across restarts."""

    READY = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
    SUBMISSION = re.compile(
        r'"POST /v1/threads/\w+/runs/(\w+)/submit_tool_outputs HTTP/[\d.]+" (\d+)'
    )

    def __init__(self, directory: Path, steps: list[dict[str, Any]]) -> None:
        self.db = directory / "server.db"
        self.scenario = directory / "scenario.json"
        self.scenario.write_text(json.dumps({"name": "crash", "steps": steps}))
        self.port = 0
        self.log: list[str] = []
        self.access_log = directory / "access.log"
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start and wait for uvicorn's "running on" line (port 0 the first time: any port)."""
        command = [sys.executable, "-m", "runflow_server", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--db", str(self.db)]
        command += ["--scenario", str(self.scenario)]
        with self.access_log.open("a") as access:
            process = subprocess.Popen(command, stdout=access, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()
        found: list[int] = []

        def read() -> None:  # drains stderr for the server's whole life
            assert process.stderr is not None
            for line in process.stderr:
                self.log.append(line.rstrip())
                match = self.READY.search(line)
                if match and not ready.is_set():
                    found.append(int(match.group(1)))
                    ready.set()
            ready.set()  # the process ended

        self._process, self._reader = process, threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(timeout) or not found:
            self.stop(signal.SIGKILL)
            raise RuntimeError("the server did not start:\n" + "\n".join(self.log[-20:]))
        self.port = found[0]

    def stop(self, how: signal.Signals = signal.SIGTERM, timeout: float = 15) -> str:
        """Stop the server; SIGKILL when SIGTERM has not ended it within `timeout`. Says how
        it ended."""
        process, reader = self._process, self._reader
        if process is None or reader is None:
            return "not running"
        self._process = self._reader = None
        ended = how.name
        process.send_signal(how)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
            ended = f"{how.name}, then SIGKILL after {timeout:.0f} s"
        reader.join(timeout)
        assert process.stderr is not None
        process.stderr.close()
        return ended

    def submissions(self) -> tuple[Counter[str], Counter[int]]:
        """Submissions the server answered: accepted (200) per run, and all per status."""
        accepted: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        for match in self.SUBMISSION.finditer(self.access_log.read_text()):
            statuses[int(match.group(2))] += 1
            if match.group(2) == "200":
                accepted[match.group(1)] += 1
        return accepted, statuses

    @contextmanager
    def running(self) -> Iterator[ServerProcess]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


@dataclass
class Inspected:
    """A thread as the server sees it."""

    runs: list[Any]
    outputs: dict[str, str] = field(default_factory=dict)  # call id -> output it got
    wrong_outputs: int = 0
    message: str = ""
    batches: list[list[str]] = field(default_factory=list)  # the call ids of each tool round


async def inspect_threads(client: AsyncOpenAI, thread_ids: list[str]) -> dict[str, Inspected]:
    """Runs, tool calls (with the outputs they got) and last message of every thread."""
    found: dict[str, Inspected] = {}
    limiter = anyio.CapacityLimiter(8)

    async def inspect(thread_id: str) -> None:
        async with limiter:
            runs = (await client.beta.threads.runs.list(thread_id, limit=100)).data
            seen = Inspected(runs)
            for run in runs:
                steps = await client.beta.threads.runs.steps.list(
                    run.id, thread_id=thread_id, limit=100
                )
                for step in steps.data:
                    if step.step_details.type != "tool_calls":
                        continue
                    seen.batches.append([call.id for call in step.step_details.tool_calls])
                    for call in step.step_details.tool_calls:
                        assert call.type == "function"
                        output = call.function.output or ""
                        seen.outputs[call.id] = output
                        if output != expected_output(call.function.name, call.function.arguments):
                            seen.wrong_outputs += 1
            messages = await client.beta.threads.messages.list(thread_id, order="desc", limit=1)
            for message in messages.data:
                seen.message = "".join(
                    part.text.value for part in message.content if part.type == "text"
                )
            found[thread_id] = seen

    async with anyio.create_task_group() as group:
        for thread_id in thread_ids:
            group.start_soon(inspect, thread_id)
    return found


async def make_threads(client: AsyncOpenAI, count: int) -> tuple[str, list[str]]:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread_ids: list[str] = [""] * count
    limiter = anyio.CapacityLimiter(8)

    async def make(index: int) -> None:
        async with limiter:
            messages = [{"role": "user", "content": f"job {index}"}]
            thread_ids[index] = (await client.beta.threads.create(messages=messages)).id  # type: ignore[arg-type]

    async with anyio.create_task_group() as group:
        for index in range(count):
            group.start_soon(make, index)
    return assistant.id, thread_ids


# -- worker processes --------------------------------------------------------------------------


@dataclass
class Round:
    """One worker process and how it was to die."""

    number: int
    kill: str
    """A point of crash_worker.KILL_POINTS, `signal` (the test kills it) or `none`."""
    kill_at: int
    mode: str
    delay: float
    journaled_before: frozenset[str]
    """The call ids whose output was in the journal when this process started."""
    returncode: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def describe(self) -> str:
        how = {"signal": f"signal after {self.delay:.2f} s", "none": "none"}
        landed = "" if self.killed or self.kill == "none" else ", did not land"
        return f"{how.get(self.kill, f'{self.kill} #{self.kill_at}')} ({self.mode}{landed})"


@dataclass
class Experiment:
    directory: Path
    base_url: str
    assistant_id: str
    threads: Path
    timeout: float

    @property
    def journal(self) -> Path:
        return self.directory / "journal.db"

    @property
    def effects(self) -> Path:
        return self.directory / "effects.log"

    def journaled_outputs(self) -> frozenset[str]:
        if not self.journal.exists():
            return frozenset()
        with closing_db(self.journal) as db:
            return frozenset(row[0] for row in db.execute("SELECT call_id FROM outputs"))

    def effects_log(self) -> tuple[dict[str, list[int]], set[tuple[str, int, str]]]:
        """Call id -> the rounds (processes) its handler ran in, in order; and the marks
        (call id, round, `returned` or `journaling`) of how far each call got."""
        ran: dict[str, list[int]] = defaultdict(list)
        marks: set[tuple[str, int, str]] = set()
        if self.effects.exists():
            for line in self.effects.read_text().splitlines():
                call_id, number, what = line.split()
                if what == "ran":
                    ran[call_id].append(int(number))
                else:
                    marks.add((call_id, int(number), what))
        return ran, marks

    async def run(self, plan: Round) -> None:
        command = [sys.executable, str(WORKER), "--base-url", f"{self.base_url}/v1"]
        command += ["--assistant", self.assistant_id, "--threads", str(self.threads)]
        command += ["--journal", str(self.journal), "--effects", str(self.effects)]
        command += ["--round", str(plan.number), "--mode", plan.mode]
        command += ["--seed", str(SEED + plan.number)]
        if plan.kill in KILL_POINTS:
            command += ["--kill", plan.kill, "--kill-at", str(plan.kill_at)]
        log = self.directory / f"worker-{plan.number}.log"
        started = time.perf_counter()
        lines: list[str] = []
        with log.open("w") as stderr:
            process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=stderr)
            async with process:
                assert process.stdout is not None
                stdout = process.stdout
                ready = anyio.Event()

                async def read() -> None:
                    buffered = ""
                    async for chunk in TextReceiveStream(stdout):
                        buffered += chunk
                        *complete, buffered = buffered.split("\n")
                        lines.extend(complete)
                        if "ready" in complete:
                            ready.set()
                    lines.extend([buffered] if buffered else [])

                with anyio.move_on_after(self.timeout) as waiting:
                    async with anyio.create_task_group() as group:
                        group.start_soon(read)
                        if plan.kill == "signal":
                            with anyio.move_on_after(self.timeout / 2):
                                await ready.wait()
                            await anyio.sleep(plan.delay)  # the experiment, not a wait for state
                            if process.returncode is None:
                                process.send_signal(signal.SIGKILL)
                        await process.wait()
                if waiting.cancelled_caught:
                    process.kill()
                    await process.wait()
        plan.returncode = process.returncode
        plan.seconds = time.perf_counter() - started
        if waiting.cancelled_caught:
            pytest.fail(f"worker {plan.number} did not end in {self.timeout} s; see {log}")
        if plan.returncode == 0:
            plan.summary = json.loads(lines[-1])
        elif not plan.killed:
            pytest.fail(
                f"worker {plan.number} exited {plan.returncode}:\n{log.read_text()[-3000:]}"
            )


@contextmanager
def closing_db(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path)
    try:
        yield db
    finally:
        db.close()


def kill_plan(rng: random.Random, kill_rounds: int) -> list[str]:
    """After-create first (the first process creates every run), then every other point once,
    then random ones. The points a worker kills itself at always land (see `plan_round`); a
    kill from the test after a random delay may come after the process finished everything,
    which ends the experiment: the first one comes after each self-kill point had its turn."""
    own = list(KILL_POINTS[1:])
    rng.shuffle(own)
    plan = ["after-create", *own, "signal"]
    plan += [rng.choice([*own, "signal"]) for _ in range(kill_rounds - len(plan))]
    return plan[:kill_rounds]


def plan_round(
    rng: random.Random, number: int, kill: str, runs: int, journaled: frozenset[str]
) -> Round:
    """Where this round's process dies: the K-th time it reaches its point, K drawn within the
    work left (so the kill lands at a varied moment, and does land)."""
    left = max(1, runs * CALLS_PER_RUN - len(journaled))
    ceiling = {
        "after-create": runs,
        "before-dispatch": left // 2,
        "in-handler": left // 2,
        "before-submit": left // 4,
        "during-submit": left // 4,
    }.get(kill, 1)
    return Round(
        number=number,
        kill=kill,
        kill_at=rng.randint(1, max(1, ceiling)),
        mode="poll" if rng.random() < 0.3 else "stream",
        delay=rng.uniform(0.05, 0.4 + 0.004 * left),
        journaled_before=journaled,
    )


async def test_workers_killed_at_random_points_resume_every_run(tmp_path: Path) -> None:
    runs, kill_rounds = size(20, 1000), size(6, 24)
    rng = random.Random(SEED)
    server = ServerProcess(tmp_path, CRASH_STEPS)
    started = time.perf_counter()
    with server.running():
        async with AsyncOpenAI(base_url=f"{server.url}/v1", api_key="test") as client:
            with anyio.fail_after(size(60, 300)):
                assistant_id, thread_ids = await make_threads(client, runs)
            threads = tmp_path / "threads.json"
            threads.write_text(json.dumps(thread_ids))
            experiment = Experiment(tmp_path, server.url, assistant_id, threads, size(90, 600))
            rounds: list[Round] = []
            for number, kill in enumerate([*kill_plan(rng, kill_rounds), "none"]):
                journaled = experiment.journaled_outputs()
                plan = plan_round(rng, number, kill, runs, journaled)
                rounds.append(plan)
                await experiment.run(plan)
                if not plan.killed:
                    break  # this process drove every run to its end
            with anyio.fail_after(size(60, 300)):
                seen = await inspect_threads(client, thread_ids)
    took = time.perf_counter() - started

    last = rounds[-1]
    accepted, answered = server.submissions()
    executions, marks = experiment.effects_log()
    final_journal = experiment.journaled_outputs()
    with closing_db(experiment.journal) as db:
        journal_runs = db.execute("SELECT thread_id, run_id, ended_status FROM runs").fetchall()
    asked = {call_id for thread in seen.values() for call_id in thread.outputs}
    by_number = {plan.number: plan for plan in rounds}
    # A handler that ran in a process which started with that call's output journaled.
    reexecuted = [
        (call_id, number)
        for call_id, numbers in executions.items()
        for number in numbers
        if call_id in by_number[number].journaled_before
    ]
    twice = {call_id: numbers for call_id, numbers in executions.items() if len(numbers) > 1}
    # Every execution but the last must have been cut by the kill of its process.
    uncut = [
        (call_id, numbers)
        for call_id, numbers in twice.items()
        if any(not by_number[n].killed or n == numbers[-1] for n in numbers[:-1])
    ]
    # Why the first execution did not count: where the kill found the call (its batch is
    # journaled once its last call is done, one output after another).
    batch_of = {call_id: batch for t in seen.values() for batch in t.batches for call_id in batch}

    def cut(call_id: str, number: int) -> str:
        if any((other, number, "journaling") in marks for other in batch_of[call_id]):
            return "batch done, its journal writes not all committed"
        if (call_id, number, "returned") in marks:
            return "handler returned, others of its batch still running"
        return "cut inside its handler"

    why = Counter(cut(call_id, numbers[0]) for call_id, numbers in twice.items())
    by_kill = Counter(by_number[numbers[0]].kill for numbers in twice.values())
    kills = Counter(plan.kill for plan in rounds if plan.killed)
    statuses = Counter(run.status for thread in seen.values() for run in thread.runs)
    runs_per_thread = Counter(len(thread.runs) for thread in seen.values())
    report(
        "Crash and resume (SIGKILL, journal)",
        [
            ("runs (one per thread)", runs),
            ("tool calls asked by the server", len(asked)),
            (
                "worker processes (stream / poll)",
                f"{len(rounds)} ({sum(p.mode == 'stream' for p in rounds)}"
                f" / {sum(p.mode == 'poll' for p in rounds)})",
            ),
            ("kills, by point", counted(kills)),
            ("resumes (processes after the first)", len(rounds) - 1),
            (
                "planned kills that did not land (the process finished first)",
                sum(1 for plan in rounds if plan.kill != "none" and not plan.killed),
            ),
            ("runs per final status (server)", counted(statuses)),
            ("runs per thread (count: threads)", counted(runs_per_thread)),
            ("handler executions", sum(len(numbers) for numbers in executions.values())),
            ("handlers run twice (the documented window)", len(twice)),
            ("... why the first execution did not count", counted(why)),
            ("... by the kill point of the process that ran them first", counted(by_kill)),
            ("journaled outputs re-executed", len(reexecuted)),
            ("submissions answered by the server (status: count)", counted(answered)),
            ("accepted submissions per run (count: runs)", counted(Counter(accepted.values()))),
            ("wrong outputs at the server", sum(t.wrong_outputs for t in seen.values())),
            ("worker seconds, by round", ", ".join(f"{p.seconds:.1f}" for p in rounds)),
            ("wall time (s)", f"{took:.1f}"),
        ],
        note="Processes (round: kill point, the K-th time it is reached, or the delay after "
        + "`ready` of the test's SIGKILL; mode): "
        + "; ".join(f"{p.number}: {p.describe()}" for p in rounds),
    )
    assert last.returncode == 0 and last.summary, "no worker finished"
    log = (tmp_path / f"worker-{last.number}.log").read_text()[-3000:]
    assert last.summary["unfinished"] == 0, f"the last worker left runs unfinished:\n{log}"
    assert runs_per_thread == Counter({1: runs})
    assert statuses == Counter({"completed": runs})
    assert all(thread.message == CRASH_MESSAGE for thread in seen.values())
    assert sum(t.wrong_outputs for t in seen.values()) == 0
    assert len(asked) == runs * CALLS_PER_RUN
    # the journal: one run per thread, every run ended, every asked call's output recorded
    assert sorted(row[0] for row in journal_runs) == sorted(thread_ids)
    assert {row[2] for row in journal_runs} == {"completed"}
    assert final_journal == asked
    # every asked call ran at least once; none ran twice in one process
    assert set(executions) == asked
    assert all(len(set(numbers)) == len(numbers) for numbers in executions.values())
    # the delivery guarantee, and re-executions only in the documented window
    assert reexecuted == []
    assert uncut == []
    # outputs submitted once: one accepted submission per tool round, none refused
    assert set(answered) == {200}
    assert accepted == {run.id: len(ROUNDS) for t in seen.values() for run in t.runs}
    assert set(kills) >= set(KILL_POINTS), kills  # a kill landed at every point


# -- the server restarted on its --db ----------------------------------------------------------

RESTART_STEPS = [
    calls(("lookup", 1), ("compute", 2)),
    {"delay": size(2, 4)},
    calls(("compute", 3)),
    {"message": "done: {outputs}"},
]
RESTART_RETRY = RetryPolicy(max_attempts=200, initial_backoff=0.05, max_backoff=0.5, budget=30)


@dataclass
class GatedTools:
    """Handlers that count their executions; first-round calls wait at a gate."""

    first_round: int
    executions: Counter[str] = field(default_factory=Counter)
    arrived: int = 0
    all_arrived: anyio.Event = field(default_factory=anyio.Event)
    gate: anyio.Event = field(default_factory=anyio.Event)

    def registry(self) -> ToolRegistry:
        registry = ToolRegistry()

        @registry.tool
        async def lookup(n: int, context: ToolContext) -> str:
            """Look something up."""
            await self._ran(n, context)
            return f"found {n}"

        @registry.tool
        async def compute(n: int, context: ToolContext) -> int:
            """Compute something."""
            await self._ran(n, context)
            return n * n

        return registry

    async def _ran(self, n: int, context: ToolContext) -> None:
        self.executions[context.tool_call_id] += 1
        if n in (1, 2):
            self.arrived += 1
            if self.arrived == self.first_round:
                self.all_arrived.set()
            await self.gate.wait()


@dataclass
class FirstRoundProgress:
    """From the runs' own events: whose first outputs the server has accepted, and which of
    those have come back for their second round (the rest are in the delay step)."""

    runs: int
    submitted: set[str] = field(default_factory=set)
    second_round: set[str] = field(default_factory=set)
    all_submitted: anyio.Event = field(default_factory=anyio.Event)

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, SubmissionEnded) and event.error is None:
            self.submitted.add(event.run_id)
            if len(self.submitted) == self.runs:
                self.all_submitted.set()
        elif isinstance(event, StatusChanged) and self._asks_again(event):
            self.second_round.add(event.run_id)

    def _asks_again(self, event: StatusChanged) -> bool:
        return event.status is RunStatus.REQUIRES_ACTION and event.run_id in self.submitted

    def in_delay(self) -> Counter[str]:
        return Counter({"in_progress": len(self.submitted - self.second_round)})


async def statuses(client: AsyncOpenAI, thread_ids: list[str]) -> Counter[str]:
    """The status of each thread's run (with the round it waits on when requires_action)."""
    found: Counter[str] = Counter()
    limiter = anyio.CapacityLimiter(16)

    async def look(thread_id: str) -> None:
        async with limiter:
            runs = (await client.beta.threads.runs.list(thread_id, limit=100)).data
        for run in runs:
            if run.status == "requires_action" and run.required_action is not None:
                first = run.required_action.submit_tool_outputs.tool_calls[0].function
                round_ = "round 1" if json.loads(first.arguments)["n"] in (1, 2) else "round 2"
                found[f"requires_action ({round_})"] += 1
            else:
                found[run.status] += 1

    async with anyio.create_task_group() as group:
        for thread_id in thread_ids:
            group.start_soon(look, thread_id)
    return found


async def test_runs_end_correctly_across_server_restarts(tmp_path: Path) -> None:
    runs = size(8, 200)
    server = ServerProcess(tmp_path, RESTART_STEPS)
    tools = GatedTools(first_round=2 * runs)
    results: list[RunResult] = []
    started = time.perf_counter()
    restarts: list[tuple[str, Counter[str], str, float]] = []

    progress = FirstRoundProgress(runs)

    async def restart(how: signal.Signals, before: Counter[str]) -> None:
        stopping = time.perf_counter()
        ended = await anyio.to_thread.run_sync(server.stop, how)
        if how is signal.SIGTERM:
            tools.gate.set()  # the first-round outputs now meet a stopped server
        await anyio.to_thread.run_sync(server.start)
        restarts.append((how.name, before, ended, time.perf_counter() - stopping))

    with server.running():
        async with (
            AsyncOpenAI(base_url=f"{server.url}/v1", api_key="test") as inspect,
            AsyncOpenAI(base_url=f"{server.url}/v1", api_key="test", max_retries=0) as client,
        ):
            assistant_id, thread_ids = await make_threads(inspect, runs)
            runner = Runner(client, tools.registry(), retry=RESTART_RETRY, max_concurrent_runs=runs)

            async def drive(thread_id: str) -> None:
                result = await runner.run(
                    thread_id=thread_id, assistant_id=assistant_id, on_event=progress.on_event
                )
                results.append(result)

            with anyio.fail_after(size(90, 300)):
                async with anyio.create_task_group() as group:
                    for thread_id in thread_ids:
                        group.start_soon(drive, thread_id)
                    # 1: every run waits in requires_action, its handlers running: SIGTERM
                    await tools.all_arrived.wait()
                    await restart(signal.SIGTERM, await statuses(inspect, thread_ids))
                    # 2: every run has its first outputs in, and is in progress (a delay
                    # step): SIGKILL, the server crashes. Told by the runs' events, not by
                    # asking the server (a sweep of every thread can outlast the delay)
                    await progress.all_submitted.wait()
                    await restart(signal.SIGKILL, progress.in_delay())
            seen = await inspect_threads(inspect, thread_ids)
    took = time.perf_counter() - started

    asked = {call_id for thread in seen.values() for call_id in thread.outputs}
    accepted, answered = server.submissions()
    final = Counter(result.status.value for result in results)
    runs_per_thread = Counter(len(thread.runs) for thread in seen.values())
    report(
        "Server restarts on its --db (runs in flight)",
        [
            ("runs (one per thread)", runs),
            *[
                (
                    f"restart {index} ({how}): run statuses before / stopped by / down for (s)",
                    f"{counted(before)} / {ended} / {down:.1f}",
                )
                for index, (how, before, ended, down) in enumerate(restarts, 1)
            ],
            ("retries (runflow)", sum(result.retries for result in results)),
            ("runs per final status", counted(final)),
            ("runs per thread (count: threads)", counted(runs_per_thread)),
            ("tool calls asked / executed", f"{len(asked)} / {sum(tools.executions.values())}"),
            ("handlers run twice", sum(1 for n in tools.executions.values() if n > 1)),
            ("submissions answered by the server (status: count)", counted(answered)),
            ("accepted submissions per run (count: runs)", counted(Counter(accepted.values()))),
            ("wrong outputs at the server", sum(t.wrong_outputs for t in seen.values())),
            ("wall time (s)", f"{took:.1f}"),
        ],
    )
    assert final == Counter({RunStatus.COMPLETED.value: runs})
    assert runs_per_thread == Counter({1: runs})
    assert all(thread.message == "done: 9" for thread in seen.values())
    assert sum(t.wrong_outputs for t in seen.values()) == 0
    assert len(asked) == 3 * runs
    assert set(tools.executions) == asked
    assert all(n == 1 for n in tools.executions.values())
    assert set(answered) == {200}
    assert accepted == {run.id: 2 for t in seen.values() for run in t.runs}
    assert restarts[0][1] == Counter({"requires_action (round 1)": runs})
    assert restarts[1][1]["in_progress"] >= 1
