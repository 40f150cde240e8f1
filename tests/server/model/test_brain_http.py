"""`ModelBrain` against the fake endpoint over real HTTP (uvicorn on 127.0.0.1): deltas come
as the model sends them, and a consumer that goes away closes the model's stream."""

from __future__ import annotations

import threading

import anyio
import pytest

from runflow.testing import FakeClock
from runflow_server.brains import Fail, TextDelta
from runflow_server.model import ModelBrain, ModelConfig
from runflow_server.model.fake import FakeChatModel, Scripted

from ..support import serve_in_thread
from .support import NOW, make_turn

pytestmark = pytest.mark.anyio


def brain_for(url: str, clock: FakeClock | None = None) -> ModelBrain:
    config = ModelConfig.model_validate(
        {"providers": [{"name": "fake", "base_url": f"{url}/v1", "api_key": "k"}]}
    )
    return ModelBrain(config, clock=clock or FakeClock(start=NOW))


async def test_deltas_arrive_before_the_answer_ends_and_leaving_closes_the_stream() -> None:
    gate = threading.Event()  # the fake holds the rest of its answer until the gate opens
    fake = FakeChatModel.of(Scripted.text("word " * 20, pieces=20, gate=gate, gate_after=2))
    with serve_in_thread(fake.app) as url:
        brain = brain_for(url)
        events = brain.respond(make_turn("Talk"))
        first = await events.__anext__()  # sent while the fake still holds the rest back
        assert first == TextDelta("word ")
        await events.aclose()  # the engine stops asking: the run was cancelled
        closed = await anyio.to_thread.run_sync(fake.disconnected.wait, 10.0)
        gate.set()
        await brain.aclose()
    assert closed and fake.disconnects == 1


async def test_a_dropped_connection_mid_stream_is_retried() -> None:
    whole = Scripted.text("All good.", pieces=3)
    fake = FakeChatModel.of(Scripted(whole.chunks[:2], end="abort"), whole)
    with serve_in_thread(fake.app) as url:
        clock = FakeClock(start=NOW)
        brain = brain_for(url, clock)
        async with clock.autojump():
            events = [event async for event in brain.respond(make_turn("Hi"))]
        await brain.aclose()
    assert not [e for e in events if isinstance(e, Fail)], events
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "All good."
    assert len(fake.requests) == 2
