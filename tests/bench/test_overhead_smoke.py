"""`python -m benchmarks.overhead` replays a recorded run through runflow and the hand loop."""

from __future__ import annotations

import anyio

from benchmarks.overhead import contenders, record, replayed_client
from benchmarks.workload import Shape, Toolbox


def test_a_replayed_run_completes_through_runflow_and_the_hand_loop() -> None:
    answers = anyio.run(record, Shape(1))
    assert [len(answers["create"]), len(answers["submit"])] == [1, 1]

    async def each_once() -> list[str]:
        client = replayed_client(answers)
        statuses = [await run_once() for run_once in contenders(client, Toolbox()).values()]
        await client.close()
        return statuses

    assert anyio.run(each_once) == ["completed"] * 3
