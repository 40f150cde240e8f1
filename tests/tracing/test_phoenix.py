"""Opt-in: the demo's trace, sent to a real Arize Phoenix over OTLP/HTTP and read back.

Skipped unless asked for, because Phoenix is a large install (~850 MB) that `uv sync` leaves
out. To run it::

    uv sync --group phoenix
    RUNFLOW_PHOENIX=1 uv run pytest -p no:phoenix tests/tracing/test_phoenix.py
    uv sync                      # removes Phoenix again

(`-p no:phoenix`: Phoenix installs a pytest plugin whose import warns, and warnings are errors
here.)
It starts Phoenix on 127.0.0.1 (a free port, a temporary working directory, no outside
resources), runs `runflow demo --otlp URL` against it, and reads the spans back through
Phoenix's REST API: the tree must be whole, the run an AGENT span and the tool calls TOOL spans.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from runflow._demo import run_demo

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        os.environ.get("RUNFLOW_PHOENIX") != "1" or find_spec("phoenix") is None,
        reason="opt-in: RUNFLOW_PHOENIX=1 with arize-phoenix installed (uv sync --group phoenix)",
    ),
]

STARTUP_SECONDS = 180
INGEST_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read()) if "json" in response.headers["content-type"] else None


def wait_until(deadline_seconds: float, ready: Any) -> Any:
    """Poll an outside process (Phoenix) until `ready()` returns something truthy."""
    give_up = time.monotonic() + deadline_seconds
    while time.monotonic() < give_up:
        try:
            value = ready()
        except (urllib.error.URLError, ConnectionError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"not ready after {deadline_seconds}s")


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, working_dir = free_port(), tmp_path_factory.mktemp("phoenix")
    environment = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
    }
    with Path(working_dir, "phoenix.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "phoenix.server.main", "serve"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(STARTUP_SECONDS, lambda: server.poll() is None and _healthy(url))
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
        return bool(response.status == 200)


def tree(spans: list[dict[str, Any]]) -> list[str]:
    """`indent + name [kind]` per span, children by start time."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span.get("parent_id"), []).append(span)
    lines: list[str] = []

    def visit(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            lines.append(f"{'  ' * depth}{span['name']} [{span['span_kind']}]")
            visit(span["context"]["span_id"], depth + 1)

    visit(None, 0)
    return lines


async def test_phoenix_shows_the_demo_run_as_an_agent_with_its_tools(phoenix: str) -> None:
    out = io.StringIO()

    assert await run_demo(out, otlp=phoenix) == 0

    printed = out.getvalue()
    assert f"sent 9 spans to {phoenix}" in printed
    match = re.search(r"spans \(trace ([0-9a-f]{32})\)", printed)
    assert match is not None
    trace_id = match.group(1)

    def the_trace() -> list[dict[str, Any]] | None:
        spans = get(f"{phoenix}/v1/projects/default/spans?limit=100")["data"]
        mine = [span for span in spans if span["context"]["trace_id"] == trace_id]
        return mine if len(mine) == 9 else None

    spans = wait_until(INGEST_SECONDS, the_trace)
    [root] = [span for span in spans if span.get("parent_id") is None]
    assert tree(spans) == [
        f"{root['name']} [AGENT]",
        "  run_step tool_calls [LLM]",
        "  execute_tool get_weather [TOOL]",
        "  execute_tool get_local_time [TOOL]",
        "  submit_tool_outputs [UNKNOWN]",
        "  run_step tool_calls [LLM]",
        "  execute_tool convert_temperature [TOOL]",
        "  submit_tool_outputs [UNKNOWN]",
        "  run_step message_creation [LLM]",
    ]
    assert root["name"] == "invoke_agent Trip helper"
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["status_code"] == "UNSET"
    for span in spans:
        if span["span_kind"] == "TOOL":
            assert span["name"] == f"execute_tool {span['attributes']['gen_ai.tool.name']}"
            assert span["parent_id"] == root["context"]["span_id"]
