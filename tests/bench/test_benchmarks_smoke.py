"""The benchmark suite runs end to end (`python -m benchmarks --smoke`); no timings are checked."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_mode_runs_and_writes_the_results(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]

    summary = json.loads((tmp_path / "latest.json").read_text())
    assert summary["mode"] == "smoke"
    assert {"machine", "contenders", "grid", "concurrency", "server", "targets"} <= set(summary)
    assert "runflow-stream" in summary["contenders"]
    assert (tmp_path / "latest.md").read_text().startswith("### Latest results")

    cells = [cell for cell in summary["grid"] if "runflow-stream" in cell["contenders"]]
    assert {cell["rounds"] for cell in cells} == {0, 1}
    for cell in cells:
        runflow = cell["contenders"]["runflow-stream"]
        assert runflow["failures"] == []
        # Streaming makes the minimum: the create call and one submission per round.
        assert runflow["requests_per_run"] == runflow["requests_per_run_min"] == 1 + cell["rounds"]
    assert summary["concurrency"][0]["contenders"]["runflow-stream"]["failures"] == []
