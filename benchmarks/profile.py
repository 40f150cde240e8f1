"""Profile one contender with pyinstrument: where a run's time goes.

    python -m benchmarks.profile [--contender runflow-stream] [--rounds 1] [--calls 1]
                                 [--runs 300] [--where loopback] [--html out.html]

Runs are made one after the other, after a warm-up; with `--where loopback` the server is in
another process, so the profile shows the client alone.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import anyio
from pyinstrument import Profiler

from benchmarks.contenders import CONTENDERS, Contender
from benchmarks.measure import assistant_for, run_batch
from benchmarks.servers import IN_PROCESS, LOOPBACK, serving
from benchmarks.workload import Shape, Toolbox, scenarios


async def profile(contender: Contender, shape: Shape, runs: int, where: str) -> Profiler:
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    async with serving(where, scenarios([shape])) as server:
        client = server.client()
        assistant_id = await assistant_for(client, shape, Toolbox())
        await run_batch(server, client, contender, shape, assistant_id, runs=5)
        profiler.start()
        batch = await run_batch(server, client, contender, shape, assistant_id, runs=runs)
        profiler.stop()
        await client.close()
    print(
        f"{contender.name}, {shape.label}, {where}: {1000 * batch.wall_per_run:.2f} ms wall,"
        f" {1000 * batch.cpu_per_run:.2f} ms CPU per run (profiled)",
        file=sys.stderr,
    )
    return profiler


def main(argv: list[str] | None = None) -> int:
    names = {contender.name: contender for contender in CONTENDERS}
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--contender", choices=sorted(names), default="runflow-stream")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--where", choices=(IN_PROCESS, LOOPBACK), default=LOOPBACK)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    shape = Shape(args.rounds, args.calls)
    profiler = anyio.run(profile, names[args.contender], shape, args.runs, args.where)
    print(profiler.output_text(unicode=True, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    sys.exit(main())
