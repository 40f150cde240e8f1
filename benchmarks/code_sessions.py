"""`python -m benchmarks.code_sessions [--sessions N] [--cells N]`: what a code session costs.

Real sandboxed sessions (bubblewrap, as `runflow serve` runs them), one process run:

- **cold start**: a new server's first session, up to its first answer (includes building
  matplotlib's font list, once per server);
- **warm start**: each further session, up to its first answer (median);
- **trivial cell**: `execute("pass")` in a live session, round trip (median);
- **first import**: `import numpy, pandas, matplotlib.pyplot` in a fresh session;
- **memory**: PSS (shared pages split between the processes sharing them) of all the processes
  of one sandbox, idle and after those imports, with N sessions live;
- **fit**: how many such sessions 24 GB holds (memory bound; an idle kernel uses no CPU, so 2
  cores bound only how many *execute* at once: two), and how many if each used all of its
  memory limit (address space, 2 GiB by default).

Writes `benchmarks/results/code_sessions.json` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import anyio

from runflow_server.code_interpreter import CodeSessions, SessionConfig

RESULTS = Path(__file__).parent / "results" / "code_sessions.json"
MACHINE_BYTES = 24 * 1024**3
IMPORTS = "import numpy, pandas, matplotlib.pyplot"


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def pss_bytes(pid: int) -> int:
    """The PSS of a process tree, in bytes."""
    total = 0
    for member in _tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


async def _timed(sessions: CodeSessions, key: str, code: str) -> float:
    started = time.perf_counter()
    result = await sessions.execute(key, code)
    if result.status != "ok":
        raise RuntimeError(f"{code!r} failed: {result.logs}")
    return time.perf_counter() - started


async def measure(live: int, cells: int) -> dict[str, float]:
    """Every figure, from one server with `live` sessions."""
    sessions = CodeSessions(SessionConfig(max_sessions=live))
    limit = sessions.config.limits.memory_bytes
    try:
        cold = await _timed(sessions, "s0", "1")
        warm = [await _timed(sessions, f"s{n}", "1") for n in range(1, live)]
        trivial = [await _timed(sessions, "s0", "pass") for _ in range(cells)]
        idle_pss = [pss_bytes(pid) for pid in _pids(sessions, live)]
        first_import = await _timed(sessions, "s1", IMPORTS)
        for n in range(2, live):
            await _timed(sessions, f"s{n}", IMPORTS)
        await _timed(sessions, "s0", IMPORTS)
        loaded_pss = [pss_bytes(pid) for pid in _pids(sessions, live)]
    finally:
        await sessions.aclose()
    per_session = statistics.median(loaded_pss)
    return {
        "sessions_live": live,
        "cold_start_s": cold,
        "warm_start_median_s": statistics.median(warm) if warm else float("nan"),
        "trivial_cell_median_ms": statistics.median(trivial) * 1000,
        "trivial_cell_p90_ms": sorted(trivial)[int(len(trivial) * 0.9)] * 1000,
        "first_import_s": first_import,
        "pss_idle_median_mib": statistics.median(idle_pss) / 2**20,
        "pss_after_imports_median_mib": per_session / 2**20,
        "sessions_fitting_24_gib": int(MACHINE_BYTES // per_session),
        "sessions_fitting_24_gib_at_their_memory_limit": MACHINE_BYTES // limit,
    }


def _pids(sessions: CodeSessions, live: int) -> list[int]:
    pids = [sessions.kernel_pid(f"s{n}") for n in range(live)]
    return [pid for pid in pids if pid is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.code_sessions")
    parser.add_argument("--sessions", type=int, default=6, help="sessions live at once (6)")
    parser.add_argument("--cells", type=int, default=50, help="trivial cells timed (50)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output ({RESULTS})")
    args = parser.parse_args(argv)
    figures = anyio.run(measure, max(args.sessions, 2), args.cells)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print("| figure | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
