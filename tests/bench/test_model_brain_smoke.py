"""`python -m benchmarks.model_brain --smoke` runs and writes its figures."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.model_brain import main


def test_the_model_brain_benchmark_runs(tmp_path: Path) -> None:
    # Its own thread: the command starts an event loop, and a session-wide async fixture of
    # an earlier test (tests/temporal's) may keep anyio's loop alive in this one.
    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(main, ["--smoke", "--out", str(tmp_path)]).result() == 0
    result = json.loads((tmp_path / "model_brain.json").read_text())
    latency = result["latency"]
    assert latency["deltas"] == {"direct": 5, "server": 5}
    assert latency["first_delta_ms"]["server"] > 0
    assert [level["runs"] for level in result["concurrency"]] == [1, 4]
    assert all(level["failed"] == 0 for level in result["concurrency"])
    assert "| concurrent runs |" in (tmp_path / "model_brain.md").read_text()
