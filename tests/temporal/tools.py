"""Tools for the Temporal tests' worker processes (`--tools tests.temporal.tools:registry`).

`slow_step` reports to a probe (a TCP listener of the test at `RUNFLOW_TEMPORAL_PROBE`,
HOST:PORT) that it started, with its call id and process id, then waits for the probe's `go`:
the test knows which process runs which call without sleeping, and can kill it there.
`whoami` answers with the process id (how the load is shared); `io_wait` waits on I/O.
"""

from __future__ import annotations

import asyncio
import os

from runflow import ToolContext, ToolRegistry

registry = ToolRegistry()


@registry.tool
async def slow_step(step: str, context: ToolContext) -> str:
    """A step that waits for the test's go.

    Args:
        step: the step's name.
    """
    host, _, port = os.environ["RUNFLOW_TEMPORAL_PROBE"].rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"started {context.tool_call_id} {os.getpid()}\n".encode())
        await writer.drain()
        answer = await reader.readline()
    finally:
        writer.close()
    if answer.strip() != b"go":
        raise RuntimeError(f"the probe said {answer!r}")
    return f"{step} done by {os.getpid()}"


@registry.tool
async def whoami(n: int) -> str:
    """The process running the call.

    Args:
        n: which run asks.
    """
    return f"{n}:{os.getpid()}"


@registry.tool
async def io_wait(ms: int) -> str:
    """Wait `ms` milliseconds, as a tool waiting on a remote service would.

    Args:
        ms: milliseconds.
    """
    await asyncio.sleep(ms / 1000)
    return f"waited {ms}"
