"""`python -m benchmarks.scale [--runs 1000 5000]`: many concurrent runs over loopback.

Each size N runs N runs at once, each on its own thread, one round of one call to a tool that
sleeps 0.5 s, against one run server in a child process. Each contender runs in a child
process of its own, so its peak RSS is its own; the figures are its wall time, its CPU time
(`time.process_time()`, the client alone) and its peak RSS, with ratios against `hand-stream`
from the same invocation. Results go to `benchmarks/results/scale.json` and are printed.

So that both contenders do the same work, nothing in the set-up fails a request: the server
has no bound on concurrent connections (`runflow serve` answers 503 past 1,024) and the
client's connect timeout is 120 s (the default 5 s passes while the client's event loop is busy
starting thousands of runs, before it handles their connections). A run that fails anyway is
counted and reported.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import httpx2

from benchmarks.contenders import CONTENDERS
from benchmarks.measure import assistant_for
from benchmarks.servers import Loopback, loopback
from benchmarks.workload import Shape, Toolbox, scenarios

__all__ = ["main"]

SHAPE = Shape(1, 1, 0.5)
NAMES = ("hand-stream", "runflow-stream")
RESULTS = Path(__file__).parent / "results" / "scale.json"


async def _child(origin: str, name: str, runs: int) -> dict[str, Any]:
    """One contender, `runs` runs at once (threads made first, not measured)."""
    contender = next(c for c in CONTENDERS if c.name == name)
    server = Loopback(int(origin.rsplit(":", 1)[1]))
    client = server.client().with_options(timeout=httpx2.Timeout(600.0, connect=120.0))
    toolbox = Toolbox(SHAPE.delay)
    assistant_id = await assistant_for(client, SHAPE, toolbox)
    limiter = anyio.CapacityLimiter(64)
    threads: list[str] = []

    async def make() -> None:
        async with limiter:
            thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
            threads.append(thread.id)

    async with anyio.create_task_group() as group:
        for _ in range(runs):
            group.start_soon(make)
    statuses: list[str] = []

    async def one(thread_id: str) -> None:
        try:
            statuses.append(await contender.run_once(client, assistant_id, thread_id, toolbox))
        except Exception as exc:
            cause = exc.__cause__
            statuses.append(type(exc).__name__ + ("" if cause is None else f" ({cause!r})"))

    started, cpu = time.perf_counter(), time.process_time()
    async with anyio.create_task_group() as group:
        for thread_id in threads:
            group.start_soon(one, thread_id)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    await server.control.aclose()
    failed = [s for s in statuses if s != "completed"]
    return {
        "contender": name,
        "runs": runs,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "failed": len(failed),
        "failures": sorted(set(failed))[:5],
    }


async def _size(runs: int) -> list[dict[str, Any]]:
    rows = []
    async with loopback(scenarios([SHAPE]), unlimited=True) as server:
        for name in NAMES:
            command = [sys.executable, "-m", "benchmarks.scale", "--child", name]
            command += ["--origin", server.origin, "--runs", str(runs)]
            done = await anyio.run_process(command, check=True)
            rows.append(json.loads(done.stdout.decode().strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    base = rows[0]
    for row in rows:
        row["cpu_ratio"] = round(row["cpu_s"] / base["cpu_s"], 2)
        row["wall_ratio"] = round(row["wall_s"] / base["wall_s"], 2)
        row["rss_ratio"] = round(row["peak_rss_mib"] / base["peak_rss_mib"], 2)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--child", choices=NAMES, help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if args.child:
        print(json.dumps(anyio.run(_child, args.origin, args.child, args.runs[0])))
        return 0
    rows = [row for runs in args.runs for row in anyio.run(_size, runs)]
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    for row in rows:
        print(
            f"N={row['runs']:>5} {row['contender']:<15} wall {row['wall_s']:>7.2f} s "
            f"({row['wall_ratio']:.2f}x)  cpu {row['cpu_s']:>7.2f} s ({row['cpu_ratio']:.2f}x)  "
            f"peak RSS {row['peak_rss_mib']:>6.1f} MiB ({row['rss_ratio']:.2f}x)  "
            f"failed {row['failed']} {row['failures']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
