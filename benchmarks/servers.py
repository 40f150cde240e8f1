"""Where the run server runs: in this process (ASGI transport) or in a child process (loopback).

Both hand out openai clients bound to the server and read the `Probe`'s figures. The child
process is `python -m benchmarks.serve` on 127.0.0.1 and a free port; it is stopped on exit.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio
import httpx2
from openai import AsyncOpenAI

from benchmarks.probe import Probe, ProbeStats
from benchmarks.serve import run_server_app
from runflow.testing import inprocess_client

__all__ = [
    "IN_PROCESS",
    "LOOPBACK",
    "BenchServer",
    "Loopback",
    "in_process",
    "loopback",
    "serving",
]

IN_PROCESS = "in-process"
LOOPBACK = "loopback"
_STARTUP_SECONDS = 30.0


class BenchServer(Protocol):
    where: str

    def client(self) -> AsyncOpenAI: ...

    async def stats(self) -> ProbeStats: ...

    async def reset(self) -> None: ...


class _InProcess:
    where = IN_PROCESS

    def __init__(self, scenarios: dict[str, Any]) -> None:
        self.app = run_server_app(scenarios)
        self.probe = Probe(self.app)

    def client(self) -> AsyncOpenAI:
        return inprocess_client(self.probe)

    async def stats(self) -> ProbeStats:
        return self.probe.stats()

    async def reset(self) -> None:
        self.probe.reset()


class Loopback:
    where = LOOPBACK

    def __init__(self, port: int) -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.control = httpx2.AsyncClient(base_url=self.origin, timeout=120)

    def client(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=f"{self.origin}/v1", api_key="bench", max_retries=0)

    async def stats(self) -> ProbeStats:
        response = await self.control.get("/_bench/stats")
        response.raise_for_status()
        return ProbeStats.from_json(response.json())

    async def reset(self) -> None:
        (await self.control.post("/_bench/reset")).raise_for_status()

    async def wait_until_up(self, process: subprocess.Popen[bytes]) -> None:
        give_up = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < give_up:
            if process.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with {process.returncode}")
            try:
                await self.stats()
                return
            except httpx2.TransportError:
                await anyio.sleep(0.05)
        raise RuntimeError("the benchmark server did not come up")


@asynccontextmanager
async def in_process(scenarios: dict[str, Any]) -> AsyncIterator[_InProcess]:
    server = _InProcess(scenarios)
    try:
        yield server
    finally:
        await server.app.state.engine.aclose()


@asynccontextmanager
async def loopback(
    scenarios: dict[str, Any] | None = None, *, bare: bool = False, unlimited: bool = False
) -> AsyncIterator[Loopback]:
    """`python -m benchmarks.serve` in a child process, for the duration of the block
    (`unlimited`: without `runflow serve`'s bound on concurrent connections)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "benchmarks.serve", "--port", str(_free_port())]
        if unlimited:
            command.append("--unlimited")
        if bare:
            command.append("--bare")
        else:
            path = Path(tmp) / "scenarios.json"
            path.write_text(json.dumps(scenarios or {}))
            command += ["--scenarios", str(path)]
        process = _spawn(command)
        server = Loopback(int(command[4]))
        try:
            await server.wait_until_up(process)
            yield server
        finally:
            await server.control.aclose()
            process.terminate()
            process.wait(timeout=10)


@asynccontextmanager
async def serving(where: str, scenarios: dict[str, Any]) -> AsyncIterator[BenchServer]:
    if where == IN_PROCESS:
        async with in_process(scenarios) as server:
            yield server
    else:
        async with loopback(scenarios) as remote:
            yield remote


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
