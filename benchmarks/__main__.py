"""`python -m benchmarks [--smoke | --quick | --full] [--out DIR]`: run the suite, write results.

Writes `latest.json` (every figure, summarised) and `latest.md` (the tables) to `--out`
(`benchmarks/results/` by default, in which case the table also goes into benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import anyio

from benchmarks.markdown import to_markdown
from benchmarks.report import summarise
from benchmarks.suite import PLANS, run_suite

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    modes = parser.add_mutually_exclusive_group()
    for mode, what in (
        ("smoke", "seconds: checks that the suite runs (the test suite uses it)"),
        ("quick", "a few minutes (the default)"),
        ("full", "every figure at full size: long, not for CI"),
    ):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode, help=what)
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"output folder ({RESULTS})")
    args = parser.parse_args(argv)
    plan = PLANS[args.mode or "quick"]
    # The SDK warns on every Assistants call; the hand-written baselines make those calls too.
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    started = time.monotonic()

    def progress(step: str) -> None:
        print(
            f"[{plan.mode} {time.monotonic() - started:5.0f} s] {step}", file=sys.stderr, flush=True
        )

    results = anyio.run(run_suite, plan, progress)
    summary = summarise(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(summary, indent=2) + "\n")
    table = to_markdown(summary)
    (args.out / "latest.md").write_text(table)
    if args.out == RESULTS:
        _show_in_readme(table)
    print(table)
    return 0


def _show_in_readme(table: str) -> None:
    """Put the latest table into benchmarks/README.md, between its two markers."""
    readme = Path(__file__).parent / "README.md"
    text = readme.read_text()
    start, end = "<!-- results:start -->\n", "<!-- results:end -->"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    readme.write_text(before + start + table + end + after)


if __name__ == "__main__":
    sys.exit(main())
