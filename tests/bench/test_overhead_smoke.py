"""`python -m benchmarks.overhead` replays a recorded run through runflow and the hand loop."""

from __future__ import annotations

import anyio

from benchmarks.overhead import Replay, contenders, record
from benchmarks.workload import Shape, Toolbox


def test_a_replayed_run_completes_through_runflow_and_the_hand_loop() -> None:
    streams = anyio.run(record, Shape(1))
    assert len(streams) == 2  # the creation's stream and one submission's

    async def each_once() -> list[str]:
        return [await run_once() for run_once in contenders(Replay(streams), Toolbox()).values()]

    assert anyio.run(each_once) == ["completed"] * 3
