"""What a first real user found on the server that the rest of the suite did not: each test is
one finding, driven with the real `openai` client as a v1 (Azure `2024-02-15-preview`) or v2
client would drive it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import openai
import pytest

pytestmark = pytest.mark.anyio

V1 = "2024-02-15-preview"
MESSAGES = "/threads/{t}/messages"


def azure_v1(http: httpx2.AsyncClient) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://testserver",
        api_version=V1,
        api_key="key",
        http_client=http,
        max_retries=0,
    )


async def assistant_with_files(
    client: openai.AsyncAzureOpenAI, count: int
) -> tuple[str, list[str]]:
    """A v1 assistant and the ids of `count` files attached through its files route, in order."""
    assistant: Any = await client.post(
        "/assistants", body={"model": "m", "tools": [{"type": "code_interpreter"}]}, cast_to=object
    )
    ids = []
    for number in range(count):
        file = await client.files.create(file=(f"{number}.csv", b"x\n"), purpose="assistants")
        await client.post(
            f"/assistants/{assistant['id']}/files", body={"file_id": file.id}, cast_to=object
        )
        ids.append(file.id)
    return assistant["id"], ids


async def test_v1_assistant_files_list_pages_like_every_list(http: httpx2.AsyncClient) -> None:
    client = azure_v1(http)
    assistant_id, ids = await assistant_with_files(client, 3)
    files = f"/openai/assistants/{assistant_id}/files"

    async def listed(**query: Any) -> Any:
        response = await http.get(files, params={"api-version": V1, **query})
        return response.status_code, response.json()

    status, first = await listed(limit=1, order="asc")
    _, rest = await listed(limit=5, order="asc", after=ids[0])
    _, newest = await listed(limit=1)
    _, before = await listed(order="asc", before=ids[2])
    bad_order, _ = await listed(order="sideways")
    bad_cursor, _ = await listed(after="file-nope")
    bad_limit, _ = await listed(limit=0)

    assert status == 200
    assert [item["id"] for item in first["data"]] == ids[:1] and first["has_more"] is True
    assert [item["id"] for item in rest["data"]] == ids[1:] and rest["has_more"] is False
    assert [item["id"] for item in newest["data"]] == ids[2:] and newest["has_more"] is True
    assert [item["id"] for item in before["data"]] == ids[:2]
    assert (bad_order, bad_cursor, bad_limit) == (400, 400, 400)


async def test_v1_an_assistant_takes_no_more_files_than_its_body_may_name(
    http: httpx2.AsyncClient,
) -> None:
    client = azure_v1(http)
    assistant_id, ids = await assistant_with_files(client, 20)
    extra = await client.files.create(file=("21.csv", b"x\n"), purpose="assistants")

    refused = await http.post(
        f"/openai/assistants/{assistant_id}/files",
        params={"api-version": V1},
        json={"file_id": extra.id},
    )
    again = await http.post(
        f"/openai/assistants/{assistant_id}/files",
        params={"api-version": V1},
        json={"file_id": ids[0]},
    )
    shown: Any = await client.get(f"/assistants/{assistant_id}", cast_to=object)
    # What a v1 client reads back it can send back.
    updated = await http.post(
        f"/openai/assistants/{assistant_id}",
        params={"api-version": V1},
        json={"file_ids": shown["file_ids"]},
    )

    assert refused.status_code == 400 and refused.json()["error"]["param"] == "file_id"
    assert again.status_code == 200  # attaching an attached file again is no new file
    assert shown["file_ids"] == ids and updated.status_code == 200


async def test_v1_a_deleted_file_the_assistant_still_names_can_be_detached(
    http: httpx2.AsyncClient,
) -> None:
    client = azure_v1(http)
    assistant_id, (kept, gone) = await assistant_with_files(client, 2)
    await client.files.delete(gone)
    files = f"/openai/assistants/{assistant_id}/files"

    before: Any = await client.get(f"/assistants/{assistant_id}", cast_to=object)
    detached = await http.delete(f"{files}/{gone}", params={"api-version": V1})
    after: Any = await client.get(f"/assistants/{assistant_id}", cast_to=object)
    updated = await http.post(
        f"/openai/assistants/{assistant_id}",
        params={"api-version": V1},
        json={"file_ids": after["file_ids"]},
    )

    assert before["file_ids"] == [kept, gone]
    assert detached.status_code == 200 and detached.json()["deleted"] is True
    assert after["file_ids"] == [kept] and updated.status_code == 200


async def test_v1_a_file_attached_to_a_retrieval_assistant_is_searched(
    http: httpx2.AsyncClient, settle: Callable[[], Awaitable[None]]
) -> None:
    """The assistant has `retrieval` and no files yet (so no vector store): the file attached
    later through its files route is what its runs search, as a v1 user attached them."""
    client = azure_v1(http)
    v2 = openai.AsyncAzureOpenAI(
        azure_endpoint="http://testserver", api_version="2024-05-01-preview", api_key="key",
        http_client=http, max_retries=0,
    )  # fmt: skip
    notes = await client.files.create(file=("zoo.txt", b"Zebras run fast."), purpose="assistants")
    assistant: Any = await client.post(
        "/assistants", body={"model": "m", "tools": [{"type": "retrieval"}]}, cast_to=object
    )
    files = f"/assistants/{assistant['id']}/files"
    await client.post(files, body={"file_id": notes.id}, cast_to=object)
    await client.post(files, body={"file_id": notes.id}, cast_to=object)  # again: no change
    await settle()

    resources = (await v2.beta.assistants.retrieve(assistant["id"])).tool_resources
    assert resources is not None and resources.file_search is not None
    (store_id,) = resources.file_search.vector_store_ids or []
    in_store = await v2.vector_stores.files.list(store_id)
    run: Any = await client.post(
        "/threads/runs",
        body={
            "assistant_id": assistant["id"],
            "thread": {"messages": [{"role": "user", "content": "zebras"}]},
        },
        cast_to=object,
    )
    await settle()
    messages: Any = await client.get(f"/threads/{run['thread_id']}/messages", cast_to=object)

    assert [item.id for item in in_store.data] == [notes.id]
    answer = messages["data"][0]["content"][0]["text"]
    assert "Zebras run fast." in answer["value"]
    assert answer["annotations"][0]["file_citation"]["file_id"] == notes.id


async def test_an_update_setting_model_to_null_is_refused_and_leaves_the_assistant_whole(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o", name="kept")

    refused = await http.post(f"/v1/assistants/{assistant.id}", json={"model": None})
    renamed = await http.post(f"/v1/assistants/{assistant.id}", json={"name": None})
    after = await client.beta.assistants.retrieve(assistant.id)
    listed = await client.beta.assistants.list()

    assert refused.status_code == 400 and refused.json()["error"]["param"] == "model"
    assert renamed.status_code == 200
    assert after.model == "gpt-4o" and after.name is None
    assert [item.id for item in listed.data] == [assistant.id]


async def test_a_deleted_file_leaves_every_vector_store_and_is_no_longer_searched(
    client: openai.AsyncOpenAI, settle: Callable[[], Awaitable[None]]
) -> None:
    """As the hosted API: "Delete a file and remove it from all vector stores"."""
    gone = await client.files.create(
        file=("otters.txt", b"Otters hold hands."), purpose="assistants"
    )
    kept = await client.files.create(
        file=("dams.txt", b"Beavers build dams."), purpose="assistants"
    )
    first = await client.vector_stores.create(file_ids=[gone.id, kept.id])
    second = await client.vector_stores.create(file_ids=[gone.id])
    await settle()
    await client.files.delete(gone.id)

    in_first = await client.vector_stores.files.list(first.id)
    in_second = await client.vector_stores.files.list(second.id)
    counts = (await client.vector_stores.retrieve(second.id)).file_counts
    found = await client.vector_stores.search(first.id, query="otters")

    assert [item.id for item in in_first.data] == [kept.id]
    assert in_second.data == [] and counts.total == 0
    assert all(result.file_id != gone.id for result in found.data)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        pytest.param(MESSAGES, {"file_ids": "f"}, "file_ids", id="message-not-a-list"),
        pytest.param(MESSAGES, {"file_ids": [1]}, "file_ids[0]", id="message-not-a-string"),
        pytest.param(MESSAGES, {"file_ids": ["f"] * 11}, "file_ids", id="message-11-files"),
        pytest.param(
            "/threads", {"messages": [{"file_ids": ["f"] * 11}]}, "messages[0].file_ids",
            id="thread-message-11-files",
        ),
        pytest.param("/assistants", {"file_ids": ["f"] * 21}, "file_ids", id="assistant-21-files"),
        pytest.param("/assistants", {"file_ids": [None]}, "file_ids[0]", id="assistant-null-file"),
    ],
)  # fmt: skip
async def test_v1_file_ids_errors_name_the_v1_field_the_client_sent(
    http: httpx2.AsyncClient, path: str, body: dict[str, Any], param: str
) -> None:
    """v1 clients send `file_ids` (at most 10 on a message, 20 on an assistant, as v1 had);
    an error about them names `file_ids`, not the v2 field the server keeps them in."""
    thread = (await http.post("/openai/threads", params={"api-version": V1}, json={})).json()
    if "messages" in body:
        body = {"messages": [{"role": "user", "content": "x", **body["messages"][0]}]}
    elif "/messages" in path:
        body = {"role": "user", "content": "x", **body}
    else:
        body = {"model": "m", "tools": [{"type": "retrieval"}], **body}

    response = await http.post(
        "/openai" + path.format(t=thread["id"]), params={"api-version": V1}, json=body
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
