"""A worker process for the crash-and-resume test (`test_crash_resume.py`): drives runs with a
journal, and may die by SIGKILL at a chosen point.

    python tests/reliability/crash_worker.py --base-url URL --assistant ID --threads FILE \\
        --journal PATH --effects PATH --round N [--mode stream|poll] \\
        [--kill POINT --kill-at K] [--seed S]

Every process does the same: `runner.resume()` (the runs the journal holds unfinished), then a
run on each thread of `--threads` the journal does not know of yet (never started, or whose
`run_started` entry never reached the disk: then no create request was sent either). The first
process simply finds an empty journal.

Handlers record their side effect durably: a line `call_id round ran` appended to `--effects`
(O_APPEND, fsync), so the test counts executions per call id and per process. Two more lines
tell how far a call got when its process died: `call_id round returned` just before its handler
returns, and `call_id round journaling` when the Runner asks the journal to write its output
(the batch is complete; the write is not committed yet).

`--kill POINT --kill-at K`: the process SIGKILLs itself the K-th time it reaches POINT:

- `after-create`: a create request was answered (the run exists), before reading the answer;
- `before-dispatch`: a tool call is about to be dispatched (`ToolCallStarted`), its handler not
  run yet (other calls of the batch, and of other runs, may be in flight);
- `in-handler`: inside a handler, just after its side effect was recorded (the documented
  window: the side effect is done, the batch's outputs are not journaled);
- `before-submit`: the batch's outputs are journaled, the submission is not sent;
- `during-submit`: the submission was sent and answered, the answer not read.

The test also kills workers from outside (SIGKILL after a random delay; `--kill none`). Prints
`ready` once the Runner is built, and a JSON summary on its last line when it ends by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from openai import AsyncOpenAI

from runflow import (
    Journal,
    OpenAIBackend,
    RetryPolicy,
    RunEvent,
    Runner,
    RunResult,
    ToolCallRecord,
    ToolCallStarted,
    ToolContext,
    ToolRegistry,
)
from runflow.backends import RunAnswer, ToolOutput

KILL_POINTS = ("after-create", "before-dispatch", "in-handler", "before-submit", "during-submit")
RETRY = RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=1.0, budget=30)
PAUSE = 0.02
"""Handlers wait up to this long (random) before and after their side effect."""


class Killer:
    """SIGKILLs this process the `at`-th time it reaches `point`."""

    def __init__(self, point: str, at: int) -> None:
        self.point = point
        self.at = at
        self._seen = 0
        self._lock = threading.Lock()  # sync handlers reach it from worker threads

    def reached(self, point: str) -> None:
        if point != self.point:
            return
        with self._lock:
            self._seen += 1
            if self._seen >= self.at:
                os.kill(os.getpid(), signal.SIGKILL)

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, ToolCallStarted):
            self.reached("before-dispatch")


class Effects:
    """The side effects of the handlers: one line per execution, on disk before they return."""

    def __init__(self, path: str, round_number: int) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._round = round_number

    def record(self, call_id: str, what: str) -> None:
        self.mark(call_id, what)
        os.fsync(self._fd)

    def mark(self, call_id: str, what: str) -> None:
        """A line that survives the process's SIGKILL (not a power cut: no fsync)."""
        os.write(self._fd, f"{call_id} {self._round} {what}\n".encode())


class MarkingJournal(Journal):
    """The journal, marking in the effects file each output it is asked to write."""

    def __init__(self, path: str, effects: Effects) -> None:
        super().__init__(path)
        self._effects = effects

    async def output_recorded(self, run_id: str, record: ToolCallRecord) -> None:
        self._effects.mark(record.call_id, "journaling")
        await super().output_recorded(run_id, record)


def tools(effects: Effects, killer: Killer, rng: random.Random) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def lookup(n: int, context: ToolContext) -> str:
        """Look something up (async handler)."""
        await anyio.sleep(rng.uniform(0, PAUSE))
        effects.record(context.tool_call_id, "ran")
        killer.reached("in-handler")
        await anyio.sleep(rng.uniform(0, PAUSE))
        effects.mark(context.tool_call_id, "returned")
        return f"found {n}"

    @registry.tool
    def compute(n: int, context: ToolContext) -> int:
        """Compute something (sync handler, in a worker thread)."""
        time.sleep(rng.uniform(0, PAUSE))
        effects.record(context.tool_call_id, "ran")
        killer.reached("in-handler")
        time.sleep(rng.uniform(0, PAUSE))
        effects.mark(context.tool_call_id, "returned")
        return n * n

    return registry


class DyingBackend(OpenAIBackend):
    """The real backend, in a process that dies at the killer's point."""

    def __init__(self, client: AsyncOpenAI, killer: Killer) -> None:
        super().__init__(client)
        self._killer = killer

    async def create_run(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any], stream: bool
    ) -> RunAnswer:
        answer = await super().create_run(
            thread_id=thread_id, assistant_id=assistant_id, options=options, stream=stream
        )
        self._killer.reached("after-create")  # the request took effect; its answer is unread
        return answer

    async def submit_tool_outputs(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput], stream: bool
    ) -> RunAnswer:
        self._killer.reached("before-submit")
        answer = await super().submit_tool_outputs(
            thread_id=thread_id, run_id=run_id, tool_outputs=tool_outputs, stream=stream
        )
        self._killer.reached("during-submit")
        return answer


def journaled_threads(path: str) -> set[str]:
    """The threads the journal holds a run for (finished or not)."""
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT thread_id FROM runs") if row[0]}
    finally:
        db.close()


async def work(args: argparse.Namespace, threads: list[str]) -> dict[str, Any]:
    effects = Effects(args.effects, args.round)
    journal = MarkingJournal(args.journal, effects)  # creates the file and tables if missing
    known = journaled_threads(args.journal)
    killer = Killer(args.kill, args.kill_at)
    rng = random.Random(args.seed)
    results: list[RunResult] = []
    async with AsyncOpenAI(base_url=args.base_url, api_key="test", max_retries=0) as client:
        runner = Runner(
            DyingBackend(client, killer),
            tools(effects, killer, rng),
            mode=args.mode,
            retry=RETRY,
            max_concurrent_runs=max(1, len(threads)),
            journal=journal,
        )
        print("ready", flush=True)
        resumed = await runner.resume(on_event=killer.on_event)
        pending = [thread for thread in threads if thread not in known]

        async def start(thread_id: str) -> None:
            result = await runner.run(
                thread_id=thread_id, assistant_id=args.assistant, on_event=killer.on_event
            )
            results.append(result)

        async with anyio.create_task_group() as group:
            for thread_id in pending:
                group.start_soon(start, thread_id)
    unfinished = len(await journal.unfinished())  # runs resume() could not finish this time
    journal.close()
    return {
        "unfinished": unfinished,
        "resumed": len(resumed),
        "started": len(pending),
        "statuses": dict(Counter(r.status.value for r in [*resumed, *results])),
        "retries": sum(r.retries for r in [*resumed, *results]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--assistant", required=True)
    parser.add_argument("--threads", required=True, help="JSON file: the thread ids to run on")
    parser.add_argument("--journal", required=True)
    parser.add_argument("--effects", required=True)
    parser.add_argument("--round", type=int, required=True, help="written with each effect")
    parser.add_argument("--mode", choices=("stream", "poll"), default="stream")
    parser.add_argument("--kill", choices=("none", *KILL_POINTS), default="none")
    parser.add_argument("--kill-at", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threads: list[str] = json.loads(Path(args.threads).read_text())
    summary = anyio.run(work, args, threads)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
