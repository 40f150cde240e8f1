"""Turning `Results` into the JSON summary and the markdown table (and the targets' verdicts).

Ratios are taken repetition by repetition against the hand-written streaming loop measured in
the same repetition, then summarised as a median with its p10-p90 (min-max under 10 samples).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from benchmarks.contenders import BASELINE, CONTENDERS
from benchmarks.measure import Batch, Spread, percentile, spread
from benchmarks.servers import IN_PROCESS, LOOPBACK
from benchmarks.suite import GridCell, Results

__all__ = ["machine", "summarise"]

JSON = dict[str, Any]
RUNFLOW = "runflow-stream"
TRACED = "runflow-traced"


def machine() -> JSON:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "openai": version("openai"),
        "commit": _commit(),
    }


def summarise(results: Results, when: datetime | None = None) -> JSON:
    grid = [_cell(cell) for cell in results.grid]
    concurrency = [_concurrency(n, batches) for n, batches in results.concurrency.items()]
    summary: JSON = {
        "mode": results.plan.mode,
        "when": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
        "seconds": round(results.seconds, 1),
        "machine": machine(),
        "contenders": {
            c.name: {"what": c.what, "unavailable": results.available[c.name]} for c in CONTENDERS
        },
        "grid": grid,
        "concurrency": concurrency,
        "server": _server(results),
    }
    summary["targets"] = _targets(summary)
    return summary


# -- summaries -------------------------------------------------------------------------------


def _cell(cell: GridCell) -> JSON:
    shape = cell.shape
    baseline = cell.batches.get(BASELINE, [])
    contenders: JSON = {}
    for name, batches in cell.batches.items():
        requests = [count for batch in batches for count in batch.requests]
        reactions = [r for batch in batches for r in batch.reactions]
        waits = [w for batch in batches for w in batch.action_waits]
        contenders[name] = {
            "requests_per_run": max(requests),
            "requests_per_run_min": min(requests),
            "wall_ms": _ms(spread([b.wall_per_run for b in batches])),
            "cpu_ms": _ms(spread([b.cpu_per_run for b in batches])),
            "wall_ratio": _json(_ratios(batches, baseline, lambda b: b.wall_per_run)),
            "cpu_ratio": _json(_ratios(batches, baseline, lambda b: b.cpu_per_run)),
            "reaction_ms": _tail(reactions),
            "action_wait_ms": _tail(waits),
            "failures": sorted({f for batch in batches for f in batch.failures}),
        }
    return {
        "where": cell.where,
        "rounds": shape.rounds,
        "calls": shape.calls,
        "delay_ms": shape.delay * 1000,
        "label": shape.label,
        "contenders": contenders,
    }


def _concurrency(n: int, measured: dict[str, list[Batch]]) -> JSON:
    baseline = measured.get(BASELINE, [])
    contenders: JSON = {}
    for name, batches in measured.items():
        server = [b.server_cpu / b.runs for b in batches if b.server_cpu is not None]
        contenders[name] = {
            "heap_kib": _scaled(spread([b.heap or 0.0 for b in batches]), 1 / 1024),
            "heap_ratio": _json(_ratios(batches, baseline, lambda b: b.heap or 0.0)),
            "runs_per_s": _json(spread([b.throughput for b in batches])),
            "throughput_ratio": _json(_ratios(batches, baseline, lambda b: b.throughput)),
            "client_cpu_ms": _ms(spread([b.cpu_per_run for b in batches])),
            "cpu_ratio": _json(_ratios(batches, baseline, lambda b: b.cpu_per_run)),
            "server_cpu_ms": _ms(spread(server)),
            "requests_per_run": max(c for b in batches for c in b.requests),
            "failures": sorted({f for batch in batches for f in batch.failures})[:5],
        }
    return {"n": n, "contenders": contenders}


def _server(results: Results) -> JSON:
    rows: list[JSON] = [
        {
            "what": row.what,
            "requests": row.requests,
            "server_cpu_us": 1e6 * row.server_cpu / row.requests,
            "requests_per_s": row.requests / row.wall,
        }
        for row in results.server
    ]
    if rows:
        floor = float(rows[0]["server_cpu_us"])
        for row in rows:
            row["cpu_vs_bare"] = row["server_cpu_us"] / floor
    lifecycles: list[JSON] = []
    for n, measured in results.concurrency.items():
        batches = measured.get(BASELINE, [])
        cpu = [b.server_cpu / b.runs for b in batches if b.server_cpu]
        if cpu:
            lifecycles.append(
                {
                    "n": n,
                    "shape": results.plan.concurrency_shape.label,
                    "server_cpu_ms": 1000 * statistics.median(cpu),
                    "lifecycles_per_cpu_s": 1 / statistics.median(cpu),
                    "runs_per_s": statistics.median([b.throughput for b in batches]),
                }
            )
    return {"requests": rows, "lifecycles": lifecycles}


def _ratios(
    batches: Sequence[Batch], baseline: Sequence[Batch], metric: Callable[[Batch], float]
) -> Spread | None:
    """Per repetition, this contender's metric over the baseline's in the same repetition."""
    pairs = zip(batches, baseline, strict=False)
    return spread([metric(b) / metric(base) for b, base in pairs if metric(base) > 0])


def _tail(seconds: list[float]) -> JSON | None:
    if not seconds:
        return None
    return {
        "p50": 1000 * percentile(seconds, 50),
        "p99": 1000 * percentile(seconds, 99),
        "n": len(seconds),
    }


def _json(value: Spread | None) -> JSON | None:
    return None if value is None else value.to_json()


def _ms(value: Spread | None) -> JSON | None:
    return _scaled(value, 1000)


def _scaled(value: Spread | None, factor: float) -> JSON | None:
    if value is None:
        return None
    scaled = Spread(value.median * factor, value.low * factor, value.high * factor, value.n)
    return scaled.to_json()


# -- targets ---------------------------------------------------------------------------------


def _targets(summary: JSON) -> list[JSON]:
    zero_delay = [cell for cell in summary["grid"] if not cell["delay_ms"]]
    targets = [
        _requests_target(summary["grid"]),
        *_reaction_targets([c for c in zero_delay if c["where"] == IN_PROCESS]),
    ]
    for name, limit in ((RUNFLOW, 1.15), (TRACED, 1.35)):
        for metric, where in (("wall", IN_PROCESS), ("wall", LOOPBACK), ("cpu", LOOPBACK)):
            cells = [c for c in zero_delay if c["where"] == where]
            targets.append(_ratio_target(cells, name, f"{metric}_ratio", where, limit))
    for entry in summary["concurrency"]:
        runflow = entry["contenders"].get(RUNFLOW)
        ratio = runflow and runflow["heap_ratio"]
        targets.append(
            _verdict(
                f"heap per concurrent run, N={entry['n']}: {RUNFLOW} / {BASELINE}",
                "≤ 1.25x",
                None if not ratio else ratio["median"],
                1.25,
                "x",
            )
        )
    return targets


def _requests_target(grid: list[JSON]) -> JSON:
    misses = [
        f"{cell['where']} {cell['label']}: {entry['requests_per_run']}"
        for cell in grid
        if (entry := cell["contenders"].get(RUNFLOW))
        and not entry["requests_per_run"] == entry["requests_per_run_min"] == 1 + cell["rounds"]
    ]
    return {
        "name": f"requests per run, {RUNFLOW}",
        "goal": "= 1 + k in every cell",
        "measured": "; ".join(misses) or "1 + k in every cell",
        "met": not misses if grid else None,
    }


def _reaction_targets(cells: list[JSON]) -> list[JSON]:
    tails = [c["contenders"][RUNFLOW]["reaction_ms"] for c in cells if RUNFLOW in c["contenders"]]
    tails = [t for t in tails if t]
    goals = (("p50", 2.0), ("p99", 10.0))
    if not tails:
        return [_verdict(f"reaction {p}, in-process", f"≤ {v:g} ms", None, v) for p, v in goals]
    worst = {p: max(t[p] for t in tails) for p, _ in goals}
    return [
        _verdict(f"reaction {p}, in-process (worst cell)", f"≤ {v:g} ms", worst[p], v, " ms")
        for p, v in goals
    ]


def _ratio_target(cells: list[JSON], name: str, key: str, where: str, limit: float) -> JSON:
    medians = [
        c["contenders"][name][key]["median"]
        for c in cells
        if name in c["contenders"] and c["contenders"][name][key]
    ]
    value = statistics.median(medians) if medians else None
    what = "wall time" if key == "wall_ratio" else "client CPU"
    verdict = _verdict(
        f"{what} per run, {where}: {name} / {BASELINE} (median over cells)",
        f"≤ {limit:g}x",
        value,
        limit,
        "x",
    )
    if medians:
        verdict["measured"] += f" (worst cell {max(medians):.2f}x)"
    return verdict


def _verdict(name: str, goal: str, value: float | None, limit: float, unit: str = "") -> JSON:
    return {
        "name": name,
        "goal": goal,
        "measured": "n/a" if value is None else f"{value:.2f}{unit}",
        "met": None if value is None else value <= limit,
    }


# -- machine -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(kib / 2**20, 1)


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--", "runflow", "plugins") else "")
