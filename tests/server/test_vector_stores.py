"""The vector store API through `AsyncOpenAI` with strict response validation.

Covers the operations of openai-python's tests/api_resources/test_vector_stores.py and
tests/api_resources/vector_stores/ (stores, files, file batches, search, the polling helpers),
with real objects in place of their placeholder ids.
"""

from __future__ import annotations

import openai
import pytest

from runflow.testing import FakeClock

from .conftest import Server
from .vector_support import Search, open_search

pytestmark = pytest.mark.anyio

GUIDE = (
    "The espresso machine must be descaled every 200 shots with citric acid.\n"
    "Steam wand cleaning takes thirty seconds after each milk drink."
)
POLICY = "Refunds are accepted within 30 days of purchase when the receipt is shown."


@pytest.fixture
async def search(server: Server, clock: FakeClock) -> Search:
    return await open_search(server, clock)


async def test_store_lifecycle(search: Search, clock: FakeClock) -> None:
    client = search.client
    file_id = await search.upload("guide.txt", GUIDE)
    store = await client.vector_stores.create(
        name="Manuals",
        description="coffee",
        file_ids=[file_id],
        metadata={"team": "support"},
        expires_after={"anchor": "last_active_at", "days": 7},
        chunking_strategy={"type": "auto"},
    )
    assert store.status == "in_progress"
    assert store.file_counts.total == 1 and store.file_counts.in_progress == 1
    assert store.expires_at == store.last_active_at + 7 * 86_400
    await search.service.wait_idle()
    done = await client.vector_stores.retrieve(store.id)
    assert done.status == "completed" and done.file_counts.completed == 1
    assert done.usage_bytes >= len(GUIDE)

    updated = await client.vector_stores.update(
        store.id, name="Renamed", metadata={"team": "ops"}, expires_after=None
    )
    assert (updated.name, updated.metadata, updated.expires_at) == (
        "Renamed",
        {"team": "ops"},
        None,
    )

    clock.advance(10)
    second = await client.vector_stores.create(name="Second")
    listed = await client.vector_stores.list(limit=1, order="asc")
    assert [s.id for s in listed.data] == [store.id] and listed.has_more
    after = await client.vector_stores.list(after=store.id, order="asc")
    assert [s.id for s in after.data] == [second.id]
    before = await client.vector_stores.list(before=second.id, order="asc")
    assert [s.id for s in before.data] == [store.id]

    deleted = await client.vector_stores.delete(store.id)
    assert deleted.deleted and deleted.id == store.id
    with pytest.raises(openai.NotFoundError, match="No vector store found with id"):
        await client.vector_stores.retrieve(store.id)


async def test_store_expires_after_last_activity(search: Search, clock: FakeClock) -> None:
    store = await search.client.vector_stores.create(
        name="short", expires_after={"anchor": "last_active_at", "days": 1}
    )
    clock.advance(86_400)
    expired = await search.client.vector_stores.retrieve(store.id)
    assert expired.status == "expired"
    page = await search.client.vector_stores.search(store.id, query="anything")
    assert page.data == []


async def test_files_in_a_store(search: Search) -> None:
    client = search.client
    store = await client.vector_stores.create(name="docs")
    guide, policy = await search.upload("guide.md", GUIDE), await search.upload("p.txt", POLICY)
    added = await client.vector_stores.files.create(
        vector_store_id=store.id,
        file_id=guide,
        attributes={"kind": "manual", "year": 2024, "public": True},
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50},
        },
    )
    assert added.status == "in_progress" and added.vector_store_id == store.id
    await client.vector_stores.files.create(vector_store_id=store.id, file_id=policy)
    await search.service.wait_idle()

    got = await client.vector_stores.files.retrieve(file_id=guide, vector_store_id=store.id)
    assert got.status == "completed" and got.last_error is None
    assert got.chunking_strategy is not None and got.chunking_strategy.type == "static"
    assert got.attributes == {"kind": "manual", "year": 2024, "public": True}

    changed = await client.vector_stores.files.update(
        file_id=guide, vector_store_id=store.id, attributes={"kind": "guide"}
    )
    assert changed.attributes == {"kind": "guide"}

    listed = await client.vector_stores.files.list(
        vector_store_id=store.id, filter="completed", limit=10, order="asc"
    )
    assert [f.id for f in listed.data] == [guide, policy]
    assert (await client.vector_stores.files.list(store.id, filter="failed")).data == []

    content = await client.vector_stores.files.content(file_id=guide, vector_store_id=store.id)
    assert "".join(part.text or "" for part in content.data) == GUIDE

    removed = await client.vector_stores.files.delete(file_id=guide, vector_store_id=store.id)
    assert removed.deleted and removed.object == "vector_store.file.deleted"
    left = await client.vector_stores.retrieve(store.id)
    assert left.file_counts.total == 1
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.files.retrieve(file_id=guide, vector_store_id=store.id)
    assert (await client.files.retrieve(guide)).id == guide  # the upload itself stays


async def test_search(search: Search) -> None:
    client = search.client
    store = await client.vector_stores.create(name="docs")
    guide, policy = await search.upload("guide.txt", GUIDE), await search.upload("p.txt", POLICY)
    await client.vector_stores.files.create(store.id, file_id=guide, attributes={"kind": "manual"})
    await client.vector_stores.files.create(store.id, file_id=policy, attributes={"kind": "legal"})
    await search.service.wait_idle()

    page = await client.vector_stores.search(
        store.id,
        query="how often to descale the espresso machine",
        max_num_results=5,
        rewrite_query=False,
        ranking_options={"ranker": "auto", "score_threshold": 0.0},
    )
    assert page.data[0].file_id == guide and page.data[0].filename == "guide.txt"
    assert page.data[0].score == 1.0 and "descaled" in page.data[0].content[0].text
    assert page.data[0].attributes == {"kind": "manual"}

    both = await client.vector_stores.search(store.id, query=["refund receipt", "descale"])
    assert {hit.file_id for hit in both.data} == {guide, policy}

    legal = await client.vector_stores.search(
        store.id,
        query="refund receipt descale",
        filters={"type": "eq", "key": "kind", "value": "legal"},
    )
    assert [hit.file_id for hit in legal.data] == [policy]
    either = await client.vector_stores.search(
        store.id,
        query="refund descale",
        filters={
            "type": "or",
            "filters": [
                {"type": "eq", "key": "kind", "value": "legal"},
                {"type": "in", "key": "kind", "value": ["manual"]},
            ],
        },
    )
    assert {hit.file_id for hit in either.data} == {guide, policy}
    nothing = await client.vector_stores.search(store.id, query="zeppelin")
    assert nothing.data == []


async def test_file_batches(search: Search) -> None:
    client = search.client
    store = await client.vector_stores.create(name="batch")
    ids = [await search.upload(f"n{i}.txt", f"note number {i}") for i in range(3)]
    batch = await client.vector_stores.file_batches.create(
        vector_store_id=store.id, file_ids=ids[:2], attributes={"src": "a"}
    )
    assert batch.status == "in_progress" and batch.file_counts.total == 2
    await search.service.wait_idle()
    done = await client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    assert done.status == "completed" and done.file_counts.completed == 2
    files = await client.vector_stores.file_batches.list_files(
        batch.id, vector_store_id=store.id, filter="completed", order="asc", limit=1
    )
    assert [f.id for f in files.data] == [ids[0]] and files.has_more

    per_file = await client.vector_stores.file_batches.create(
        vector_store_id=store.id,
        files=[{"file_id": ids[2], "attributes": {"src": "b"}}],
    )
    cancelled = await client.vector_stores.file_batches.cancel(
        per_file.id, vector_store_id=store.id
    )
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 1
    await search.service.wait_idle()
    again = await client.vector_stores.files.retrieve(ids[2], vector_store_id=store.id)
    assert again.status == "cancelled"


async def test_polling_helpers(search: Search) -> None:
    client = search.client
    store = await client.vector_stores.create(name="poll")
    file_id = await search.upload("a.txt", GUIDE)
    polled = await client.vector_stores.files.create_and_poll(
        file_id=file_id, vector_store_id=store.id
    )
    assert polled.status == "completed"
    uploaded = await client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("b.md", POLICY.encode())
    )
    assert uploaded.status == "completed"
    batch = await client.vector_stores.file_batches.upload_and_poll(
        store.id, files=[("c.txt", b"first"), ("d.txt", b"second")]
    )
    assert batch.status == "completed" and batch.file_counts.completed == 2
    ready = await client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[file_id]
    )
    assert ready.status == "completed"
    assert (await client.vector_stores.retrieve(store.id)).file_counts.total == 4


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
            id="chunk-too-small",
        ),
        pytest.param(
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101},
                }
            },
            "half of max_chunk_size_tokens",
            id="overlap-over-half",
        ),
        pytest.param({"expires_after": {"anchor": "last_active_at", "days": 0}}, "days", id="days"),
        pytest.param({"file_ids": ["file-nope"]}, "No such File object: file-nope", id="no-file"),
        pytest.param({"colour": "blue"}, "Unrecognized request argument supplied: colour", id="x"),
    ],
)
async def test_bad_requests_are_refused(
    search: Search, call: dict[str, object], message: str
) -> None:
    with pytest.raises(openai.APIStatusError, match=message):
        await search.client.vector_stores.create(name="x", extra_body=call)
    assert (await search.client.vector_stores.list()).data == []


async def test_unknown_ids_and_bad_lists(search: Search) -> None:
    client = search.client
    store = await client.vector_stores.create(name="x")
    with pytest.raises(openai.NotFoundError, match="No such File object"):
        await client.vector_stores.files.create(store.id, file_id="file-missing")
    with pytest.raises(openai.NotFoundError, match="in vector store"):
        await client.vector_stores.files.retrieve("file-missing", vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError, match="file batch"):
        await client.vector_stores.file_batches.retrieve("vsfb_x", vector_store_id=store.id)
    with pytest.raises(openai.BadRequestError, match="limit"):
        await client.vector_stores.list(limit=0)
    with pytest.raises(openai.BadRequestError, match="after"):
        await client.vector_stores.files.list(store.id, after="file-unknown")
    with pytest.raises(openai.BadRequestError, match="max_num_results"):
        await client.vector_stores.search(store.id, query="a", max_num_results=51)


async def test_every_prefix_serves_the_api(search: Search) -> None:
    http = search.client._client
    created = await http.post(
        "http://testserver/openai/vector_stores?api-version=2024-05-01-preview", json={"name": "az"}
    )
    assert created.status_code == 200
    found = await http.get(
        f"http://testserver/api/projects/p1/vector_stores/{created.json()['id']}"
    )
    assert found.json()["name"] == "az"
