"""Assistants v1 views: the Japanese quickstart's v1 flows under `api-version=2024-02-15-preview`.

The page (`shared/docs/azure-assistants/quickstart.ja.txt`) creates a code-interpreter
assistant, a thread, a message, a run, and lists the messages; its printed objects carry
`file_ids` and no `tool_resources` / `attachments`. Those flows go through the SDK's raw
requests (`client.post(..., cast_to=object)`: the v2 models of today's SDK would not parse v1
shapes), with files attached the v1 way and the v1 `retrieval` tool; the same objects read
under a v2 api-version show the v2 shapes of the same records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import openai
import pytest

from runflow_server.views import delta_v1, request_v1, step_details_v1

pytestmark = pytest.mark.anyio

V1 = "2024-02-15-preview"
INSTRUCTIONS = "You are a helpful AI assistant who makes interesting visualizations based on data."


def azure(http: httpx2.AsyncClient, version: str) -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(
        azure_endpoint="http://testserver",
        api_version=version,
        api_key="key",
        http_client=http,
        max_retries=0,
    )


async def post(client: openai.AsyncAzureOpenAI, path: str, body: dict[str, Any]) -> Any:
    return await client.post(path, body=body, cast_to=object)


async def get(client: openai.AsyncAzureOpenAI, path: str) -> Any:
    return await client.get(path, cast_to=object)


async def test_the_quickstart_v1_flows(
    http: httpx2.AsyncClient, settle: Callable[[], Awaitable[None]]
) -> None:
    v1, v2 = azure(http, V1), azure(http, "2024-05-01-preview")
    data = await v1.files.create(file=("data.csv", b"x,y\n0,0\n"), purpose="assistants")

    assistant = await post(
        v1,
        "/assistants",
        {
            "name": "Data Visualization",
            "instructions": INSTRUCTIONS,
            "tools": [{"type": "code_interpreter"}, {"type": "retrieval"}],
            "model": "gpt-4-1106-preview",
            "file_ids": [data.id],
        },
    )
    thread = await post(v1, "/threads", {})
    message = await post(
        v1,
        f"/threads/{thread['id']}/messages",
        {"role": "user", "content": "Create a visualization of a sinewave", "file_ids": [data.id]},
    )
    listed = await get(v1, f"/threads/{thread['id']}/messages")
    run = await post(v1, f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    await settle()
    run = await get(v1, f"/threads/{thread['id']}/runs/{run['id']}")
    after = await get(v1, f"/threads/{thread['id']}/messages")

    assert assistant["file_ids"] == [data.id] and "tool_resources" not in assistant
    assert assistant["tools"] == [{"type": "code_interpreter"}, {"type": "retrieval"}]
    assert assistant["name"] == "Data Visualization" and assistant["object"] == "assistant"
    assert set(thread) == {"id", "object", "created_at", "metadata"}
    assert message["file_ids"] == [data.id] and "attachments" not in message
    assert [item["file_ids"] for item in listed["data"]] == [[data.id]]
    assert run["status"] == "completed" and run["file_ids"] == []
    assert {"type": "retrieval"} in run["tools"] and "tool_resources" not in run
    reply = after["data"][0]
    assert reply["role"] == "assistant" and reply["file_ids"] == []
    assert "Create a visualization of a sinewave" in reply["content"][0]["text"]["value"]

    # The same records under v2: the v2 shapes, with the files where v2 keeps them.
    as_v2 = await v2.beta.assistants.retrieve(assistant["id"])
    message_v2 = await v2.beta.threads.messages.retrieve(message["id"], thread_id=thread["id"])
    assert [tool.type for tool in as_v2.tools] == ["code_interpreter", "file_search"]
    assert as_v2.tool_resources is not None and as_v2.tool_resources.code_interpreter is not None
    assert as_v2.tool_resources.code_interpreter.file_ids == [data.id]
    assert [a.file_id for a in message_v2.attachments or []] == [data.id]


async def test_v1_refuses_the_v2_fields(http: httpx2.AsyncClient) -> None:
    v1 = azure(http, V1)
    thread = await post(v1, "/threads", {})
    attachments = [{"file_id": "file-x", "tools": [{"type": "file_search"}]}]

    with pytest.raises(openai.BadRequestError) as refused:
        await post(
            v1,
            f"/threads/{thread['id']}/messages",
            {"role": "user", "content": "hi", "attachments": attachments},
        )
    with pytest.raises(openai.BadRequestError) as in_thread:
        await post(
            v1,
            "/threads",
            {"messages": [{"role": "user", "content": "hi", **{"attachments": attachments}}]},
        )
    with pytest.raises(openai.BadRequestError) as resources:
        await post(v1, "/assistants", {"model": "m", "tool_resources": {}})

    assert refused.value.body == {
        "message": "Unrecognized request argument supplied: attachments",
        "type": "invalid_request_error",
        "param": "attachments",
        "code": None,
    }
    assert isinstance(in_thread.value.body, dict)
    assert in_thread.value.body["param"] == "messages[0].attachments"
    assert isinstance(resources.value.body, dict)
    assert resources.value.body["param"] == "tool_resources"


async def test_the_openai_beta_v1_header_and_v1_streams(
    http: httpx2.AsyncClient, client: openai.AsyncOpenAI
) -> None:
    headers = {"OpenAI-Beta": "assistants=v1"}
    made = await http.post(
        "/v1/assistants",
        json={"model": "gpt-4", "tools": [{"type": "retrieval"}], "file_ids": []},
        headers=headers,
    )
    assistant = made.json()
    body = {
        "assistant_id": assistant["id"],
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": "hi", "file_ids": []}]},
    }

    async with http.stream("POST", "/v1/threads/runs", json=body, headers=headers) as stream:
        text = "".join([chunk async for chunk in stream.aiter_text()])

    v2 = await client.beta.assistants.retrieve(assistant["id"])
    assert made.status_code == 200 and assistant["tools"] == [{"type": "retrieval"}]
    assert assistant["file_ids"] == [] and "tool_resources" not in assistant
    assert [tool.type for tool in v2.tools] == ["file_search"]
    events = [block for block in text.split("\n\n") if block]
    assert events[0].startswith("event: thread.created\n")
    assert '"tool_resources"' not in text and '"attachments"' not in text
    assert '"file_ids":[]' in text and '{"type":"retrieval"}' in text
    assert events[-1] == "event: done\ndata: [DONE]"


async def test_v2_bodies_pass_byte_for_byte(http: httpx2.AsyncClient) -> None:
    made = await http.post(
        "/openai/assistants?api-version=2024-05-01-preview",
        json={"model": "m", "tools": [{"type": "file_search"}]},
    )
    v1_tool = await http.post(
        "/openai/assistants?api-version=2024-05-01-preview",
        json={"model": "m", "tools": [{"type": "retrieval"}]},
    )

    assert made.status_code == 200 and "tool_resources" in made.json()
    assert v1_tool.status_code == 400


def test_file_search_calls_render_as_retrieval_in_steps_and_deltas() -> None:
    call = {"id": "call_1", "type": "file_search", "file_search": {"results": []}}
    step = {"step_details": {"type": "tool_calls", "tool_calls": [call]}}
    delta = {
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{**call, "index": 0}]}},
    }

    rendered = step_details_v1(step["step_details"])
    rendered_delta = delta_v1(delta)

    assert rendered["tool_calls"] == [{"id": "call_1", "type": "retrieval", "retrieval": {}}]
    assert rendered_delta["delta"]["step_details"]["tool_calls"] == [
        {"id": "call_1", "index": 0, "type": "retrieval", "retrieval": {}}
    ]


def test_request_v1_maps_every_place_a_v1_body_holds_files() -> None:
    thread_and_run = request_v1(
        "/threads/runs",
        {
            "assistant_id": "asst_1",
            "tools": [{"type": "retrieval"}, {"type": "code_interpreter"}],
            "thread": {"messages": [{"role": "user", "content": "x", "file_ids": ["file-a"]}]},
        },
    )
    assistant = request_v1("/assistants/asst_1", {"file_ids": ["file-a"], "tools": []})

    both = [{"type": "code_interpreter"}, {"type": "file_search"}]
    assert thread_and_run["tools"] == [{"type": "file_search"}, {"type": "code_interpreter"}]
    assert thread_and_run["thread"]["messages"][0]["attachments"] == [
        {"file_id": "file-a", "tools": both}
    ]
    assert assistant["tool_resources"] == {"code_interpreter": {"file_ids": ["file-a"]}}


async def test_v1_assistant_files_are_a_view_of_the_assistants_files(
    http: httpx2.AsyncClient,
) -> None:
    v1, v2 = azure(http, V1), azure(http, "2024-05-01-preview")
    first = await v1.files.create(file=("a.csv", b"a\n"), purpose="assistants")
    second = await v1.files.create(file=("b.csv", b"b\n"), purpose="assistants")
    assistant = await post(
        v1,
        "/assistants",
        {"model": "m", "tools": [{"type": "retrieval"}], "file_ids": [first.id]},
    )
    files = f"/assistants/{assistant['id']}/files"

    attached = await post(v1, files, {"file_id": second.id})
    listed = await get(v1, files)
    one = await get(v1, f"{files}/{second.id}")
    shown = await get(v1, f"/assistants/{assistant['id']}")
    store_id = (await v2.beta.assistants.retrieve(assistant["id"])).tool_resources
    removed = await v1.delete(f"{files}/{first.id}", cast_to=object)
    after = await get(v1, f"/assistants/{assistant['id']}")
    unknown = await http.post(
        f"/openai{files}", params={"api-version": V1}, json={"file_id": "file-nope"}
    )
    on_v2 = await http.get(f"/openai{files}", params={"api-version": "2024-05-01-preview"})

    assert attached == {
        "id": second.id,
        "object": "assistant.file",
        "created_at": second.created_at,
        "assistant_id": assistant["id"],
    }
    assert {item["id"] for item in listed["data"]} == {first.id, second.id}
    assert one == attached and shown["file_ids"] == [first.id, second.id]
    assert store_id is not None and store_id.file_search is not None
    (vector_store,) = store_id.file_search.vector_store_ids or []
    in_store = await v2.vector_stores.files.list(vector_store)
    assert {item.id for item in in_store.data} == {second.id}  # the first left with its delete
    assert removed == {"id": first.id, "object": "assistant.file.deleted", "deleted": True}
    assert after["file_ids"] == [second.id]
    assert unknown.status_code == 404 and on_v2.status_code == 404
