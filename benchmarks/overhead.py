"""`python -m benchmarks.overhead [--rounds 0 1 3] [--calls 1]`: client CPU per run, no network.

One run of each shape is recorded over loopback (the answers of its requests, byte for byte),
then replayed from memory by an httpx transport: the `openai` client, httpx and the contender
do all their usual work, but no socket, server or other process takes part. The hand-written
streaming loop and runflow run the same replayed answers, so the difference between them is
runflow's own work per run, with little of the machine's noise: the steady figure to compare
changes to runflow's loop with (the loopback grid adds sockets, the server and the load).

Prints microseconds of thread CPU per run (median of `--repeats` batches of `--runs` runs).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Awaitable, Callable

import anyio
import httpx2
from openai import AsyncOpenAI

from benchmarks.contenders import hand_stream, runflow_stream
from benchmarks.measure import assistant_for
from benchmarks.servers import loopback
from benchmarks.workload import Shape, Toolbox, scenarios
from runflow import NoInstrumentation, Runner

__all__ = ["Recorded", "Replay", "contenders", "main", "record", "replayed_client"]

Recorded = dict[str, list[bytes]]
"""The answers to a run's requests, by kind (`create`, `submit`), in the order they came."""
RunOnce = Callable[[], Awaitable[str]]


def _kind(request: httpx2.Request) -> str:
    return "submit" if request.url.path.endswith("/submit_tool_outputs") else "create"


class _Recording(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.answers: Recorded = defaultdict(list)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if "/runs" in request.url.path:
            self.answers[_kind(request)].append(body)
        return httpx2.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def record(shape: Shape) -> Recorded:
    """The answers to one streamed run of `shape`, from the run server over loopback."""
    recording = _Recording()
    async with (
        loopback(scenarios([shape])) as server,
        httpx2.AsyncClient(transport=recording) as http,
    ):
        base_url = f"{server.origin}/v1"
        client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, http_client=http)
        toolbox = Toolbox()
        assistant_id = await assistant_for(client, shape, toolbox)
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
        recording.answers.clear()
        assert await hand_stream(client, assistant_id, thread.id, toolbox) == "completed"
    return dict(recording.answers)


class Replay(httpx2.AsyncBaseTransport):
    """Answers a run's requests with the recorded answers: creation, then each submission."""

    def __init__(self, answers: Recorded) -> None:
        self.answers = answers
        self._submitted = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if _kind(request) == "create":
            self._submitted, body = 0, self.answers["create"][0]
        else:
            body, self._submitted = self.answers["submit"][self._submitted], self._submitted + 1
        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return httpx2.Response(200, headers=headers, content=body)


def contenders(client: AsyncOpenAI, toolbox: Toolbox) -> dict[str, RunOnce]:
    """The contenders measured, each a run on the replayed answers."""

    async def untraced() -> str:
        runner = Runner(client, toolbox.registry, instrumentation=NoInstrumentation())
        result = await runner.run(thread_id="thread_replayed", assistant_id="asst_replayed")
        return result.run.status

    def on(run_once: Callable[[AsyncOpenAI, str, str, Toolbox], Awaitable[str]]) -> RunOnce:
        return lambda: run_once(client, "asst_replayed", "thread_replayed", toolbox)

    return {
        "hand-stream": on(hand_stream),
        "runflow-stream": on(runflow_stream),
        "runflow-stream, NoInstrumentation": untraced,
    }


def replayed_client(answers: Recorded) -> AsyncOpenAI:
    http = httpx2.AsyncClient(transport=Replay(answers))
    base_url = "http://replay/v1"
    return AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0, http_client=http)


async def measure(shape: Shape, runs: int, repeats: int) -> dict[str, float]:
    """Microseconds of CPU per run, by contender: the median over `repeats` small batches of
    `runs` runs, the contenders taking turns batch by batch in a rotating order (so a drift of
    the machine's speed reaches them all alike), GC off inside a batch."""
    client = replayed_client(await record(shape))
    measured = list(contenders(client, Toolbox()).items())
    for _, run_once in measured:
        for _ in range(10):
            assert await run_once() == "completed"
    batches: dict[str, list[float]] = {name: [] for name, _ in measured}
    for repeat in range(repeats):
        turn = repeat % len(measured)
        for name, run_once in measured[turn:] + measured[:turn]:
            gc.collect()
            gc.disable()
            started = time.thread_time()
            for _ in range(runs):
                await run_once()
            batches[name].append((time.thread_time() - started) / runs * 1e6)
            gc.enable()
    await client.close()
    return {name: statistics.median(values) for name, values in batches.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__)
    parser.add_argument("--rounds", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=90)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for rounds in args.rounds:
        shape = Shape(rounds, args.calls)
        figures = anyio.run(measure, shape, args.runs, args.repeats)
        base = figures["hand-stream"]
        for name, micros in figures.items():
            ratio = micros / base
            print(f"{shape.label:<10} {name:<36} {micros:8.1f} µs CPU per run ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
