"""Unknown ids in `tool_resources` are refused with a 404, as unknown message attachments are,
and leave nothing behind."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest

from runflow.testing import FakeClock

from .conftest import Server

pytestmark = pytest.mark.anyio

FILES = {"code_interpreter": {"file_ids": ["file-nope"]}}
STORES = {"file_search": {"vector_store_ids": ["vs_nope"]}}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        pytest.param(FILES, "No file found with id 'file-nope'.", id="file"),
        pytest.param(STORES, "No vector store found with id 'vs_nope'.", id="vector-store"),
    ],
)
async def test_unknown_ids_are_404s_everywhere(
    http: httpx2.AsyncClient, client: openai.AsyncOpenAI, resources: Any, message: str
) -> None:
    assistant = (await http.post("/v1/assistants", json={"model": "gpt-4o"})).json()
    thread = (await http.post("/v1/threads", json={})).json()
    attempts = [
        ("/v1/assistants", {"model": "gpt-4o", "tool_resources": resources}),
        (f"/v1/assistants/{assistant['id']}", {"tool_resources": resources}),
        ("/v1/threads", {"tool_resources": resources}),
        (f"/v1/threads/{thread['id']}", {"tool_resources": resources}),
        ("/v1/threads/runs", {"assistant_id": assistant["id"], "tool_resources": resources}),
        (
            "/v1/threads/runs",
            {"assistant_id": assistant["id"], "thread": {"tool_resources": resources}},
        ),
    ]
    for url, body in attempts:
        response = await http.post(url, json=body)
        assert response.status_code == 404, (url, response.text)
        error = response.json()["error"]
        assert error == {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    assert len((await client.beta.assistants.list()).data) == 1
    assert (await client.beta.threads.retrieve(thread["id"])).tool_resources.model_dump(  # type: ignore[union-attr]
        exclude_none=True
    ) == {}


async def test_known_ids_are_accepted(server: Server, clock: FakeClock) -> None:
    _, client, http = await server.open(clock=clock)
    upload = await client.files.create(file=("a.txt", b"hello"), purpose="assistants")
    store = await client.vector_stores.create(name="notes")
    resources = {
        "code_interpreter": {"file_ids": [upload.id]},
        "file_search": {"vector_store_ids": [store.id]},
    }
    response = await http.post("/v1/threads", json={"tool_resources": resources})
    assert response.status_code == 200 and response.json()["tool_resources"] == resources
