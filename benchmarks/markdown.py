"""The results table in markdown, drawn from the JSON summary alone (`report.summarise`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["to_markdown"]

JSON = dict[str, Any]
Format = Callable[[JSON], str]


def to_markdown(summary: JSON) -> str:
    names = list(summary["contenders"])
    parts = [
        _header(summary),
        _contenders(summary),
        _targets(summary["targets"]),
        _grid_table(
            summary,
            names,
            "Requests per run (counted at the server; minimum 1 + k)",
            lambda e: str(e["requests_per_run"]),
            wheres=("in-process",),
        ),
        _grid_table(
            summary,
            names,
            "Reaction latency, ms p50 / p99: requires_action response sent → submit received"
            " (zero-time handlers; pollers: from the poll that saw it)",
            lambda e: _pair(e["reaction_ms"]),
            zero_delay=True,
        ),
        _grid_table(
            summary,
            names,
            "Action wait, ms p50 / p99: run entered requires_action → submit received",
            lambda e: _pair(e["action_wait_ms"]),
            zero_delay=True,
        ),
        _grid_table(
            summary,
            names,
            "Wall time per run, ms median (x hand-stream, p10-p90 of the ratio)",
            lambda e: _with_ratio(e["wall_ms"], e["wall_ratio"]),
        ),
        _grid_table(
            summary,
            names,
            "CPU per run, ms median (x hand-stream): loopback = client process only;"
            " in-process = client + server together",
            lambda e: _with_ratio(e["cpu_ms"], e["cpu_ratio"]),
        ),
        _concurrency(summary, names),
        _server(summary["server"]),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _header(summary: JSON) -> str:
    m = summary["machine"]
    return "\n".join(
        [
            f"### Latest results: `{summary['mode']}` mode, {summary['when']}"
            f" ({summary['seconds']:.0f} s)",
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']};"
            f" Python {m['python']}, openai {m['openai']}, runflow commit {m['commit']}.",
        ]
    )


def _contenders(summary: JSON) -> str:
    rows = [
        f"| `{name}` | {c['what']} | {'n/a: ' + c['unavailable'] if c['unavailable'] else 'yes'} |"
        for name, c in summary["contenders"].items()
    ]
    return "\n".join(["| contender | what | measured |", "|---|---|---|", *rows])


def _targets(targets: list[JSON]) -> str:
    marks = {True: "met", False: "**missed**", None: "n/a"}
    rows = [f"| {t['name']} | {t['goal']} | {t['measured']} | {marks[t['met']]} |" for t in targets]
    header = ["#### Targets", "", "| target | goal | measured | |", "|---|---|---|---|"]
    return "\n".join([*header, *rows])


def _grid_table(
    summary: JSON,
    names: list[str],
    title: str,
    cell_format: Format,
    *,
    wheres: tuple[str, ...] = ("in-process", "loopback"),
    zero_delay: bool = False,
) -> str:
    cells = [
        c for c in summary["grid"] if c["where"] in wheres and not (zero_delay and c["delay_ms"])
    ]
    if not cells:
        return ""
    lines = [
        f"#### {title}",
        "",
        "| server | run | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for cell in cells:
        values = [_value(summary, cell["contenders"], name, cell_format) for name in names]
        lines.append(f"| {cell['where']} | {cell['label']} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _concurrency(summary: JSON, names: list[str]) -> str:
    entries = summary["concurrency"]
    if not entries:
        return ""
    lines = ["#### Concurrent runs (server in its own process, k=1, p=1)", ""]
    metrics: list[tuple[str, Format]] = [
        (
            "heap per run held in requires_action, KiB",
            lambda e: _with_ratio(e["heap_kib"], e["heap_ratio"], digits=1),
        ),
        (
            "throughput, runs/s",
            lambda e: _with_ratio(e["runs_per_s"], e["throughput_ratio"], digits=0),
        ),
        ("client CPU per run, ms", lambda e: _with_ratio(e["client_cpu_ms"], e["cpu_ratio"])),
        ("server CPU per run, ms", lambda e: _number(e["server_cpu_ms"])),
    ]
    lines += ["| N | figure | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for entry in entries:
        for label, cell_format in metrics:
            values = [_value(summary, entry["contenders"], n, cell_format) for n in names]
            lines.append(f"| {entry['n']} | {label} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def _server(server: JSON) -> str:
    if not server["requests"] and not server["lifecycles"]:
        return ""
    lines = [
        "#### The run server alone",
        "",
        "| request | server CPU per request, µs | x bare | requests/s (16 clients) |",
        "|---|---|---|---|",
    ]
    for row in server["requests"]:
        lines.append(
            f"| {row['what']} | {row['server_cpu_us']:.0f} | {row['cpu_vs_bare']:.1f}x |"
            f" {row['requests_per_s']:.0f} |"
        )
    if server["lifecycles"]:
        lines += [
            "",
            "| run lifecycles | server CPU per run, ms | lifecycles per CPU-second | runs/s |",
            "|---|---|---|---|",
        ]
        for row in server["lifecycles"]:
            lines.append(
                f"| N={row['n']} concurrent, {row['shape']} | {row['server_cpu_ms']:.2f} |"
                f" {row['lifecycles_per_cpu_s']:.0f} | {row['runs_per_s']:.0f} |"
            )
    return "\n".join(lines)


def _value(summary: JSON, measured: JSON, name: str, cell_format: Format) -> str:
    if summary["contenders"][name]["unavailable"]:
        return "n/a"
    entry = measured.get(name)
    if entry is None:
        return "-"
    text = cell_format(entry)
    return text + (" ⚠" if entry["failures"] else "")


def _pair(tail: JSON | None) -> str:
    return "-" if tail is None else f"{tail['p50']:.2f} / {tail['p99']:.2f}"


def _number(value: JSON | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value['median']:.{digits}f}"


def _with_ratio(value: JSON | None, ratio: JSON | None, digits: int = 2) -> str:
    text = _number(value, digits)
    if ratio is None or value is None:
        return text
    return f"{text} ({ratio['median']:.2f}x [{ratio['p10']:.2f}-{ratio['p90']:.2f}])"
