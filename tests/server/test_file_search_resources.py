"""`tool_resources.file_search`: the `vector_stores` helper makes real stores, one store at
most, attachments for file search fill the thread's store."""

from __future__ import annotations

import pytest

from runflow.testing import FakeClock
from runflow_server.errors import APIError
from runflow_server.file_search.resources import attach_files, resolve_file_search

from .conftest import Server
from .vector_support import open_search

pytestmark = pytest.mark.anyio


async def test_helper_creates_a_real_store(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    file_id = await search.upload("foods.txt", "Filip Carola: cake")
    resources = {"file_search": {"vector_stores": [{"file_ids": [file_id]}]}}
    resolved = resolve_file_search(
        search.service, resources, param="tool_resources", for_thread=True
    )
    assert resolved is not None
    (store_id,) = resolved["file_search"]["vector_store_ids"]
    assert "vector_stores" not in resolved["file_search"]
    await search.service.wait_idle()
    store = await search.client.vector_stores.retrieve(store_id)
    assert store.file_counts.completed == 1
    assert store.expires_after is not None and store.expires_after.days == 7


@pytest.mark.parametrize(
    ("file_search", "error"),
    [
        pytest.param({"vector_store_ids": ["vs_a", "vs_b"]}, "maximum length 1", id="two-ids"),
        pytest.param(
            {"vector_store_ids": ["vs_a"], "vector_stores": [{"file_ids": []}]},
            "got an array with length 2",
            id="id-and-helper",
        ),
        pytest.param({"vector_store_ids": ["vs_nope"]}, "No vector store found", id="unknown"),
        pytest.param({"vector_stores": [{"file_ids": ["file-x"]}]}, "No such File", id="no-file"),
    ],
)
async def test_bad_resources_create_nothing(
    server: Server, clock: FakeClock, file_search: dict[str, object], error: str
) -> None:
    search = await open_search(server, clock)
    with pytest.raises(APIError, match=error):
        resolve_file_search(
            search.service, {"file_search": file_search}, param="tool_resources", for_thread=False
        )
    assert (await search.client.vector_stores.list()).data == []


async def test_attachments_fill_the_thread_store(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    first, second = await search.upload("a.txt", "alpha"), await search.upload("b.txt", "beta")
    for_code = [{"file_id": first, "tools": [{"type": "code_interpreter"}]}]
    assert attach_files(search.service, {}, for_code) is None

    made = attach_files(
        search.service, {}, [{"file_id": first, "tools": [{"type": "file_search"}]}]
    )
    assert made is not None
    (store_id,) = made["file_search"]["vector_store_ids"]
    again = attach_files(
        search.service, made, [{"file_id": second, "tools": [{"type": "file_search"}]}]
    )
    assert again is not None and again["file_search"]["vector_store_ids"] == [store_id]
    await search.service.wait_idle()
    store = await search.client.vector_stores.retrieve(store_id)
    assert store.file_counts.completed == 2 and store.expires_after is not None
