"""`runflow temporal worker`: a worker process for one task queue.

    runflow temporal worker --target localhost:7233 --task-queue runs \\
        --tools myapp.tools:registry [--base-url URL] [--api-key KEY]

The openai client comes from `--base-url` / `--api-key`, or the usual `OPENAI_BASE_URL` /
`OPENAI_API_KEY` environment variables. The worker runs until interrupted (SIGINT / SIGTERM
stop it gracefully: running activities finish first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import signal
import sys

from openai import AsyncOpenAI
from temporalio.client import Client

from runflow_temporal._core import ToolRegistry
from runflow_temporal._tracing import tracing_interceptors
from runflow_temporal.worker import Worker

__all__ = ["load_registry", "temporal_command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runflow temporal", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    worker = commands.add_parser("worker", help="run workflows and tool calls for a task queue")
    worker.add_argument("--target", default="localhost:7233", help="Temporal frontend HOST:PORT")
    worker.add_argument("--namespace", default="default")
    worker.add_argument("--task-queue", required=True)
    worker.add_argument("--tools", required=True, help="the ToolRegistry, as pkg.module:name")
    worker.add_argument("--base-url", default=None, help="the Assistants API (OPENAI_BASE_URL)")
    worker.add_argument("--api-key", default=None, help="its API key (OPENAI_API_KEY)")
    worker.add_argument(
        "--at-most-once", action="append", default=[], metavar="TOOL",
        help="a tool never run twice (repeatable)",
    )  # fmt: skip
    worker.add_argument("--max-concurrent-activities", type=int, default=200)
    worker.add_argument("--identity", default=None)
    return parser


def load_registry(spec: str) -> ToolRegistry:
    """The `ToolRegistry` named by `pkg.module:attribute`.

    Raises:
        ValueError: the spec is malformed, or names something that is not a registry.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--tools must look like pkg.module:registry, not {spec!r}")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {spec!r}: {exc}") from exc
    if callable(found) and not isinstance(found, ToolRegistry):
        found = found()
    if not isinstance(found, ToolRegistry):
        raise ValueError(f"{spec!r} is a {type(found).__name__}, not a runflow ToolRegistry")
    return found


def temporal_command(argv: list[str]) -> int:
    """Parse `argv` (the arguments after `temporal`) and run the command."""
    args = _parser().parse_args(argv)
    try:
        registry = load_registry(args.tools)
    except ValueError as exc:
        print(f"runflow temporal: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, registry))
    return 0


async def _serve(args: argparse.Namespace, registry: ToolRegistry) -> None:
    client = await Client.connect(
        args.target, namespace=args.namespace, interceptors=tracing_interceptors()
    )
    openai_client = AsyncOpenAI(base_url=args.base_url, api_key=args.api_key)
    worker = Worker(
        client,
        registry,
        openai_client=openai_client,
        task_queue=args.task_queue,
        at_most_once=args.at_most_once,
        max_concurrent_activities=args.max_concurrent_activities,
        identity=args.identity,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        print(f"runflow temporal worker: polling {args.task_queue!r} on {args.target}", flush=True)
        await stop.wait()
