"""runflow reads run event streams itself (`runflow.backends._sse`): it must see exactly the
events the SDK's own `AsyncStream` yields, from the hosted API's recorded streams, however the
bytes are cut into chunks and whatever line endings the server uses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openai import AsyncOpenAI

from runflow import StreamDroppedError, StreamError
from runflow.backends import EventStream
from runflow.backends._openai import OpenAIBackend

pytestmark = pytest.mark.anyio

RECORDINGS = Path("/work/shared/fixtures/openai-recordings/assistants")


def recorded_streams() -> dict[str, bytes]:
    """Every streamed answer in the recordings (of the sync client's files: the async
    twins carry the same kind of streams), by file and entry."""
    streams: dict[str, bytes] = {}
    for path in sorted(RECORDINGS.glob("*.json")):
        if path.stem.endswith("Async"):
            continue
        for number, entry in enumerate(json.loads(path.read_text())["Entries"]):
            body = entry.get("ResponseBody")
            if isinstance(body, list) and any(line.startswith("event:") for line in body):
                streams[f"{path.stem}#{number}"] = "".join(body).encode()
    return streams


STREAMS = recorded_streams()
Chunking = Callable[[bytes], list[bytes]]


def whole(body: bytes) -> list[bytes]:
    return [body]


def every(size: int) -> Chunking:
    return lambda body: [body[i : i + size] for i in range(0, len(body), size)]


Chunks = Callable[[], AsyncIterator[bytes]]


def chunks_of(body: bytes, chunking: Chunking = whole) -> Chunks:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in chunking(body):
            yield chunk

    return chunks


def client_answering(chunks: Chunks) -> AsyncOpenAI:
    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, headers=headers, content=chunks())

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(answer))
    return AsyncOpenAI(base_url="http://recorded/v1", api_key="x", http_client=http)


async def sdk_events(body: bytes) -> list[Any]:
    async with client_answering(chunks_of(body)) as client:
        stream = await client.beta.threads.runs.create(
            thread_id="thread_1", assistant_id="asst_1", stream=True
        )
        return [event async for event in stream]


async def runflow_events(body: bytes, chunking: Chunking = whole) -> list[Any]:
    return await events_read(chunks_of(body, chunking), [])


async def events_read(chunks: Chunks, seen: list[Any]) -> list[Any]:
    """The events runflow reads from a body of `chunks`, into `seen` as they come."""
    async with client_answering(chunks) as client:
        answer = await OpenAIBackend(client).create_run(
            thread_id="thread_1", assistant_id="asst_1", options={}, stream=True
        )
        assert not hasattr(answer, "run")
        stream: EventStream = answer
        try:
            async for event in stream:
                seen.append(event)
        finally:
            await stream.aclose()
    return seen


def described(events: list[Any]) -> list[tuple[str, str, Any]]:
    return [(type(event).__name__, event.event, event.model_dump()) for event in events]


def test_the_recordings_hold_streams_of_every_kind() -> None:
    names = {line[7:] for body in STREAMS.values() for line in body.decode().splitlines()}
    assert len(STREAMS) >= 4
    assert {"thread.run.requires_action", "thread.message.delta", "thread.run.step.delta"} <= names


@pytest.mark.parametrize("name", sorted(STREAMS))
@pytest.mark.parametrize("chunking", [whole, every(1), every(7), every(4096)], ids=repr)
async def test_runflow_reads_the_events_the_sdk_reads(name: str, chunking: Chunking) -> None:
    body = STREAMS[name]
    expected = described(await sdk_events(body))
    assert len(expected) > 3
    assert described(await runflow_events(body, chunking)) == expected


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
async def test_any_line_ending_reads_the_same(ending: str) -> None:
    body = STREAMS[sorted(STREAMS)[0]]
    other = body.decode().replace("\n", ending).encode()
    for chunking in (whole, every(1), every(5)):
        assert described(await runflow_events(other, chunking)) == described(await sdk_events(body))


def run_json(status: str) -> dict[str, Any]:
    return {
        "id": "run_1",
        "object": "thread.run",
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "status": status,
        "created_at": 1,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "parallel_tool_calls": True,
    }


async def test_data_the_sdk_does_not_know_is_built_as_leniently_as_the_sdk_builds_it() -> None:
    run = {**run_json("in_progress"), "status": "exploding", "a_field_from_later": [1]}
    body = f"event: thread.run.in_progress\ndata: {json.dumps(run)}\n\n".encode()
    [event] = await runflow_events(body)
    assert described([event]) == described(await sdk_events(body))
    assert event.data.status == "exploding"


async def test_comments_multiline_data_and_fields_without_a_space() -> None:
    data = json.dumps(run_json("queued"), indent=1).splitlines()
    body = (
        (
            ": a comment, then a retry and an id nobody needs\nretry: 10\nid: 7\n"
            "event:thread.run.queued\n" + "".join(f"data:{line}\n" for line in data) + "\n"
            "event: thread.run.mystery\ndata: {}\n\n"  # newer than the SDK: skipped
            "event: thread.run.queued\n\n"  # no data: no event
            "event: done\ndata: [DONE]\n\n"
            "event: thread.run.completed\ndata: {}\n\n"  # after [DONE]: not read
        ).encode()
    )
    events = await runflow_events(body, every(3))
    assert [(event.event, event.data.status) for event in events] == [
        ("thread.run.queued", "queued")
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "server_error", "message": "boom"}, "boom"),
        ({"error": {"message": "nested boom"}}, "nested boom"),
        ("[1, 2", "unreadable"),
    ],
)
async def test_an_error_event_is_a_stream_error(data: Any, message: str) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    body = f"event: thread.run.queued\ndata: {json.dumps(run_json('queued'))}\n\n".encode()
    body += f"event: error\ndata: {text}\n\n".encode()
    with pytest.raises(StreamError, match=message):
        await runflow_events(body)


@pytest.mark.parametrize("data", [b"{nope", b"\xff"])
async def test_data_that_is_not_json_is_a_stream_error(data: bytes) -> None:
    with pytest.raises(StreamError, match="unreadable"):
        await runflow_events(b"event: thread.run.queued\ndata: " + data + b"\n\n")


async def test_a_body_cut_by_the_transport_is_a_dropped_stream() -> None:
    first = f"event: thread.run.queued\ndata: {json.dumps(run_json('queued'))}\n\n".encode()

    async def cut() -> AsyncIterator[bytes]:
        yield first
        raise httpx2.RemoteProtocolError("peer closed connection")

    seen: list[Any] = []
    with pytest.raises(StreamDroppedError, match="peer closed"):
        await events_read(cut, seen)
    assert [event.event for event in seen] == ["thread.run.queued"]
