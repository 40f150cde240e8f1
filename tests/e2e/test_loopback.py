"""`runflow serve` over real loopback HTTP, driven by the Runner."""

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from openai import AsyncOpenAI

from runflow import Runner, RunStatus, ToolRegistry

pytestmark = pytest.mark.anyio

SCENARIO = """
name: loopback
steps:
  - tool_calls:
      - {name: add, arguments: {a: 2, b: 3}}
      - {name: add, arguments: {a: 10, b: 20}}
  - message: "sums: {outputs}"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    port = free_port()
    command = [sys.executable, "-m", "runflow", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--db", str(tmp_path / "runs.db")]
    command += ["--scenario", str(scenario)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # uvicorn says when it listens
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail(f"runflow serve exited with {process.wait()} before listening")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


async def test_a_run_over_loopback_http(served: str) -> None:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int) -> int:
        return a + b

    async with AsyncOpenAI(base_url=served, api_key="local", max_retries=0) as client:
        assistant = await client.beta.assistants.create(
            model="gpt-4o", tools=registry.definitions()
        )
        thread = await client.beta.threads.create(
            messages=[{"role": "user", "content": "add things"}]
        )
        result = await Runner(client, registry).run(thread_id=thread.id, assistant_id=assistant.id)

    assert result.status is RunStatus.COMPLETED
    assert result.output_text == "sums: 5, 30"


async def test_streamed_runs_keep_one_connection(served: str) -> None:
    """Each stream is read to its end, so its HTTP/1.1 connection serves the next request."""
    connects: list[str] = []

    async def trace(name: str, info: dict[str, object]) -> None:
        if name == "connection.connect_tcp.complete":
            connects.append(name)

    async def traced(request: httpx2.Request) -> None:
        request.extensions["trace"] = trace

    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int) -> int:
        return a + b

    http = httpx2.AsyncClient(event_hooks={"request": [traced]})
    async with AsyncOpenAI(base_url=served, api_key="local", http_client=http) as client:
        assistant = await client.beta.assistants.create(
            model="gpt-4o", tools=registry.definitions()
        )
        for _ in range(2):
            thread = await client.beta.threads.create()
            runner = Runner(client, registry)
            result = await runner.run(thread_id=thread.id, assistant_id=assistant.id)
            assert result.status is RunStatus.COMPLETED

    assert len(connects) == 1
