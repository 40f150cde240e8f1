"""`runflow serve` / `python -m runflow_server`: a real server on a loopback port."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from runflow_server import serve_command

from .support import read_stream

SCENARIO = """
name: loopback
steps:
  - tool_calls: [{name: ping}]
  - message: "pong: {outputs}"
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """Start the server on a free port; yield its /v1 URL; stop it."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    command = [sys.executable, "-m", "runflow_server", "--port", "0", "--scenario", str(scenario)]
    command += ["--db", str(tmp_path / "runs.db")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # uvicorn says where it listens once it does
            if found := re.search(r"Uvicorn running on (http://\S+)", line):
                yield f"{found.group(1)}/v1"
                break
        else:
            pytest.fail(f"the server exited with {process.wait()} before listening")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.anyio
async def test_a_run_over_loopback_http(served: str) -> None:
    async with openai.AsyncOpenAI(base_url=served, api_key="local", max_retries=0) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o")
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "ping?"}])
        first = await read_stream(
            await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
        )
        run = first[-1].data
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        second = await read_stream(
            await client.beta.threads.runs.submit_tool_outputs(
                run.id,
                thread_id=thread.id,
                tool_outputs=[{"tool_call_id": call.id, "output": "42"}],
                stream=True,
            )
        )

    assert second[-1].event == "thread.run.completed"
    assert second[-3].data.content[0].text.value == "pong: 42"


def test_a_bad_scenario_file_stops_serve_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: [{message: '{nope}'}]")

    assert serve_command(["--port", "0", "--scenario", str(bad)]) == 2
    assert capsys.readouterr().err == (
        f"runflow serve: {bad}: step 1: unknown placeholder {{nope}} (known: {{outputs}},"
        " {output.TOOL}, {last_user_message}, {search.top}, {search.results}, {code.output})\n"
    )


def test_a_bad_fault_file_stops_serve_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("rules: [{kind: explode}]")

    assert serve_command(["--port", "0", "--faults", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"runflow serve: {bad}: not a fault configuration")
