"""The model brain's cost: what the run server adds between a Chat Completions model and a client.

    uv run python -m benchmarks.model_brain [--smoke] [--out DIR]

Two child processes on 127.0.0.1: the fake Chat Completions endpoint
(`runflow_server.model.fake`, under uvicorn) and `python -m runflow_server --model-base-url`
pointing at it. Measured from this process with the `openai` client:

- **Latency**: the fake streams a text of `pieces` deltas, `pause` seconds apart. Directly
  (`chat.completions.create(stream=True)` against the fake) and through the server (a streamed
  run, `thread.message.delta` events), `repeats` times each, alternating: time to the first
  delta after the request is sent, and the gaps between deltas. The server's added latency is
  the difference of the medians.
- **Concurrency**: the fake answers after a fixed `delay` (5 deltas at once); after one
  warm-up run, N runs at once through one server
  process, for growing N: wall time, runs per second, run latency p50 / p99, failures, CPU
  per run of the server, the fake and this client process. A level
  is sustained when every run completes and p99 stays under `delay` + 1 s.

Writes `model_brain.json` and `model_brain.md` to `--out` (`benchmarks/results/`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from openai import AsyncOpenAI

from runflow_server.model.fake import FakeChatModel, Scripted

RESULTS = Path(__file__).parent / "results"
WORD = "token "
ANSWER_PIECES = 5  # the answer of the concurrency runs, sent at once after the delay


@dataclass(frozen=True)
class Plan:
    pieces: int = 40
    pause: float = 0.01
    repeats: int = 15
    delay: float = 0.5
    levels: tuple[int, ...] = (1, 10, 50, 100, 200)


SMOKE = Plan(pieces=5, pause=0.0, repeats=2, delay=0.05, levels=(1, 4))


def serve_fake(port: int, pieces: int, pause: float, delay: float) -> None:
    """The child process of the fake endpoint: every request gets the same text."""
    answer = Scripted.text(WORD * pieces, pieces=pieces, pause=pause, delay=delay)
    fake = FakeChatModel(responder=lambda body: answer)
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _child(command: list[str], port: int) -> Iterator[int]:
    """A child process, once it accepts connections on `port`; its log goes to a temp file
    (a pipe nobody reads would fill up and stop it)."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stderr=log, stdout=log)
        try:
            give_up = time.monotonic() + 30
            while True:
                if process.poll() is not None or time.monotonic() > give_up:
                    log.seek(0)
                    raise RuntimeError(f"{command[2:4]} did not start: {log.read()[-2000:]!r}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Servers:
    fake_url: str
    server_url: str
    fake_pid: int
    server_pid: int


@contextmanager
def servers(pieces: int, pause: float, delay: float) -> Iterator[Servers]:
    """The fake (answering `pieces` deltas `pause` apart, `delay` after each request) and the
    run server in front of it."""
    fake_port, server_port = _free_port(), _free_port()
    fake = [sys.executable, "-m", "benchmarks.model_brain", "--serve-fake", str(fake_port)]
    fake += ["--pieces", str(pieces), "--pause", str(pause), "--delay", str(delay)]
    server = [sys.executable, "-m", "runflow_server", "--port", str(server_port)]
    server += ["--model-base-url", f"http://127.0.0.1:{fake_port}/v1"]
    with _child(fake, fake_port) as fake_pid, _child(server, server_port) as server_pid:
        yield Servers(
            f"http://127.0.0.1:{fake_port}/v1",
            f"http://127.0.0.1:{server_port}/v1",
            fake_pid,
            server_pid,
        )


async def _direct(client: AsyncOpenAI) -> list[float]:
    """Arrival times of the deltas, from just before the request."""
    start = time.perf_counter()
    times: list[float] = []
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Talk"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            times.append(time.perf_counter() - start)
    return times


async def _through_server(client: AsyncOpenAI, assistant_id: str) -> tuple[list[float], str]:
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Talk"}])
    start = time.perf_counter()
    times: list[float] = []
    status = "?"
    stream = await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant_id, stream=True
    )
    async for event in stream:
        if event.event == "thread.message.delta":
            times.append(time.perf_counter() - start)
        elif event.event.startswith("thread.run.") and "step" not in event.event:
            status = getattr(event.data, "status", status)
    return times, status


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


async def latency(plan: Plan) -> dict[str, Any]:
    with servers(plan.pieces, plan.pause, 0.0) as up:
        direct = AsyncOpenAI(base_url=up.fake_url, api_key="k", max_retries=0)
        served = AsyncOpenAI(base_url=up.server_url, api_key="k", max_retries=0)
        assistant = await served.beta.assistants.create(model="gpt-4o-mini")
        firsts: dict[str, list[float]] = {"direct": [], "server": []}
        gaps: dict[str, list[float]] = {"direct": [], "server": []}
        counts: dict[str, list[int]] = {"direct": [], "server": []}
        for _ in range(plan.repeats):
            times = await _direct(direct)
            firsts["direct"].append(times[0])
            gaps["direct"] += _gaps(times)
            counts["direct"].append(len(times))
            times, status = await _through_server(served, assistant.id)
            assert status == "completed", status
            firsts["server"].append(times[0])
            gaps["server"] += _gaps(times)
            counts["server"].append(len(times))
        await direct.close()
        await served.close()
    ms = {k: 1000 * statistics.median(v) for k, v in firsts.items()}
    gap = {k: 1000 * statistics.median(v) if v else 0.0 for k, v in gaps.items()}
    return {
        "first_delta_ms": ms,
        "added_first_delta_ms": ms["server"] - ms["direct"],
        "gap_ms": gap,
        "added_gap_ms": gap["server"] - gap["direct"],
        "deltas": {k: statistics.median(v) for k, v in counts.items()},
    }


async def _one_run(client: AsyncOpenAI, assistant_id: str, thread_id: str) -> tuple[float, str]:
    start = time.perf_counter()
    status = "?"
    try:
        stream = await client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True
        )
        async for event in stream:
            if event.event.startswith("thread.run.") and "step" not in event.event:
                status = getattr(event.data, "status", status)
    except Exception as exc:  # a failure is a figure here, not a crash
        status = type(exc).__name__
    return time.perf_counter() - start, status


async def concurrency(plan: Plan) -> list[dict[str, Any]]:
    levels = []
    with servers(ANSWER_PIECES, 0.0, plan.delay) as up:
        client = AsyncOpenAI(base_url=up.server_url, api_key="k", max_retries=0, timeout=120)
        assistant = await client.beta.assistants.create(model="gpt-4o-mini")
        warm = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        await _one_run(client, assistant.id, warm.id)  # first-use costs out of the figures
        for level in plan.levels:
            threads = [
                await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
                for _ in range(level)
            ]
            results: list[tuple[float, str]] = []

            async def run(thread_id: str, sink: list[tuple[float, str]] = results) -> None:
                sink.append(await _one_run(client, assistant.id, thread_id))

            start, server_cpu, fake_cpu = (
                time.perf_counter(),
                cpu_seconds(up.server_pid),
                cpu_seconds(up.fake_pid),
            )
            client_cpu = time.process_time()
            async with anyio.create_task_group() as group:
                for thread in threads:
                    group.start_soon(run, thread.id)
            wall = time.perf_counter() - start
            cpu = {
                "server": cpu_seconds(up.server_pid) - server_cpu,
                "fake": cpu_seconds(up.fake_pid) - fake_cpu,
                "client": time.process_time() - client_cpu,
            }
            durations = sorted(d for d, _ in results)
            failures = Counter(status for _, status in results if status != "completed")
            failed = sum(failures.values())
            p99 = durations[min(len(durations) - 1, int(0.99 * len(durations)))]
            levels.append(
                {
                    "runs": level,
                    "wall_s": wall,
                    "runs_per_s": level / wall,
                    "p50_s": statistics.median(durations),
                    "p99_s": p99,
                    "failed": failed,
                    "failures": dict(failures),
                    "cpu_ms_per_run": {k: 1000 * v / level for k, v in cpu.items()},
                    "sustained": failed == 0 and p99 < plan.delay + 1.0,
                }
            )
        await client.close()
    return levels


def to_markdown(result: dict[str, Any]) -> str:
    lat, plan = result["latency"], result["plan"]
    lines = [
        f"Fake model: {plan['pieces']} deltas {plan['pause'] * 1000:.0f} ms apart, "
        f"{plan['repeats']} repeats (latency); {ANSWER_PIECES} deltas at once after "
        f"{plan['delay'] * 1000:.0f} ms (concurrency).",
        "",
        "| | direct to the fake | through the run server | added |",
        "|---|---|---|---|",
        f"| first delta (median) | {lat['first_delta_ms']['direct']:.1f} ms | "
        f"{lat['first_delta_ms']['server']:.1f} ms | {lat['added_first_delta_ms']:+.1f} ms |",
        f"| gap between deltas (median) | {lat['gap_ms']['direct']:.2f} ms | "
        f"{lat['gap_ms']['server']:.2f} ms | {lat['added_gap_ms']:+.2f} ms |",
        f"| deltas per answer (median) | {lat['deltas']['direct']:.0f} | "
        f"{lat['deltas']['server']:.0f} | |",
        "",
        "| concurrent runs | wall | runs/s | p50 | p99 | failed | sustained "
        "| CPU per run: server / fake / client |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for level in result["concurrency"]:
        cpu = level["cpu_ms_per_run"]
        lines.append(
            f"| {level['runs']} | {level['wall_s']:.2f} s | {level['runs_per_s']:.1f} | "
            f"{level['p50_s']:.2f} s | {level['p99_s']:.2f} s | {level['failed']} | "
            f"{'yes' if level['sustained'] else 'no'} | "
            f"{cpu['server']:.1f} / {cpu['fake']:.1f} / {cpu['client']:.1f} ms |"
        )
    return "\n".join(lines) + "\n"


async def measure(plan: Plan) -> dict[str, Any]:
    return {
        "plan": asdict(plan),
        "latency": await latency(plan),
        "concurrency": await concurrency(plan),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_brain", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="seconds: checks that it runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve-fake", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--pieces", type=int, default=Plan.pieces, help=argparse.SUPPRESS)
    parser.add_argument("--pause", type=float, default=Plan.pause, help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake is not None:
        serve_fake(args.serve_fake, args.pieces, args.pause, args.delay)
        return 0
    result = anyio.run(measure, SMOKE if args.smoke else Plan())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "model_brain.json").write_text(json.dumps(result, indent=2) + "\n")
    table = to_markdown(result)
    (args.out / "model_brain.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", "The Assistants API is deprecated|deprecated$")
    sys.exit(main())
