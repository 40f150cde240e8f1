"""The rest of the API surface: CRUD, pagination, files, limits and errors, through the client."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai.types.beta.threads import Run

from runflow.testing import FakeClock
from runflow_server.records import Message

from .conftest import Server

pytestmark = pytest.mark.anyio


async def test_assistants_update_delete_and_page(client: openai.AsyncOpenAI) -> None:
    made = [await client.beta.assistants.create(model="gpt-4o", name=f"a{i}") for i in range(5)]

    first = await client.beta.assistants.list(limit=2)
    second = await client.beta.assistants.list(limit=2, after=first.data[-1].id)
    backwards = await client.beta.assistants.list(limit=2, order="asc", before=made[2].id)
    updated = await client.beta.assistants.update(made[0].id, instructions="Be brief.")
    deleted = await client.beta.assistants.delete(made[1].id)

    assert [a.name for a in first.data] == ["a4", "a3"] and first.has_more
    assert [a.name for a in second.data] == ["a2", "a1"]
    assert [a.name for a in backwards.data] == ["a0", "a1"]
    assert updated.instructions == "Be brief." and updated.name == "a0"
    assert deleted.deleted and deleted.object == "assistant.deleted"
    with pytest.raises(openai.NotFoundError, match=f"No assistant found with id '{made[1].id}'"):
        await client.beta.assistants.retrieve(made[1].id)


async def test_an_empty_list_has_null_ids(http: httpx2.AsyncClient) -> None:
    body = (await http.get("/v1/assistants")).json()

    assert body == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize(
    ("query", "param"),
    [
        pytest.param("limit=0", "limit", id="limit-0"),
        pytest.param("limit=101", "limit", id="limit-101"),
        pytest.param("order=up", "order", id="order"),
        pytest.param("after=asst_nope", "after", id="after"),
    ],
)
async def test_bad_list_parameters_are_400(
    http: httpx2.AsyncClient, query: str, param: str
) -> None:
    response = await http.get(f"/v1/assistants?{query}")

    assert response.status_code == 400 and response.json()["error"]["param"] == param


async def test_threads_and_messages_update_delete_and_filter(
    server: Server, clock: FakeClock
) -> None:
    app, client, _ = await server.open(clock=clock)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "one"}])
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1
    )
    message = await client.beta.threads.messages.create(thread.id, role="user", content="two")

    by_run = await client.beta.threads.messages.list(thread.id, run_id=run.id)
    updated = await client.beta.threads.messages.update(
        message.id, thread_id=thread.id, metadata={"k": "v"}
    )
    gone = await client.beta.threads.messages.delete(message.id, thread_id=thread.id)
    run = await client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"r": "1"})
    renamed = await client.beta.threads.update(thread.id, metadata={"topic": "t"})
    deleted = await client.beta.threads.delete(thread.id)

    assert [m.role for m in by_run.data] == ["assistant"]
    assert updated.metadata == {"k": "v"} and gone.object == "thread.message.deleted"
    assert run.metadata == {"r": "1"} and renamed.metadata == {"topic": "t"}
    assert deleted.deleted and app.state.engine.store.children(Message, thread.id) == []


async def test_files_upload_download_list_delete_and_attach(client: openai.AsyncOpenAI) -> None:
    uploaded = await client.files.create(file=("notes.txt", b"hello files"), purpose="assistants")
    other = await client.files.create(file=("cat.png", b"\x89PNG"), purpose="vision")
    thread = await client.beta.threads.create()

    message = await client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="Read it",
        attachments=[{"file_id": uploaded.id, "tools": [{"type": "file_search"}]}],
    )
    content = await client.files.content(uploaded.id)
    listed = await client.files.list(purpose="assistants")
    deleted = await client.files.delete(other.id)

    assert uploaded.id.startswith("file-") and uploaded.bytes == 11
    assert uploaded.status == "processed" and uploaded.filename == "notes.txt"
    assert message.attachments[0].file_id == uploaded.id  # type: ignore[index]
    assert content.content == b"hello files"
    assert [f.id for f in listed.data] == [uploaded.id]
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError, match=f"No such File object: {other.id}"):
        await client.files.retrieve(other.id)
    with pytest.raises(openai.NotFoundError):
        await client.beta.threads.messages.create(
            thread.id, role="user", content="x", attachments=[{"file_id": other.id}]
        )


async def test_a_bad_purpose_is_refused_with_the_api_text(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="'world_domination' is not one of"):
        await client.files.create(file=("x.txt", b"x"), purpose="world_domination")  # type: ignore[arg-type]


async def test_ids_of_the_wrong_kind_are_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await client.beta.threads.retrieve("asst_123")

    assert raised.value.message.endswith(
        "Invalid 'thread_id': 'asst_123'. Expected an ID that begins with 'thread'."
    )
    assert raised.value.param == "thread_id"


async def test_tool_and_metadata_limits(client: openai.AsyncOpenAI) -> None:
    def tools(count: int) -> list[dict[str, object]]:
        return [{"type": "function", "function": {"name": f"f{i}"}} for i in range(count)]

    assistant = await client.beta.assistants.create(model="gpt-4o", tools=tools(128))  # type: ignore[arg-type]
    thread = await client.beta.threads.create()

    with pytest.raises(openai.BadRequestError, match="maximum number of tools is 128"):
        await client.beta.assistants.create(model="gpt-4o", tools=tools(129))  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="maximum number of tools is 20"):
        await client.beta.threads.runs.create(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tools=tools(21),  # type: ignore[arg-type]
        )
    with pytest.raises(openai.BadRequestError, match="at most 16"):
        await client.beta.threads.create(metadata={str(i): "v" for i in range(17)})
    with pytest.raises(openai.BadRequestError, match="at most 512"):
        await client.beta.threads.create(metadata={"k": "v" * 513})


async def test_submitting_wrong_outputs_is_refused(
    client: openai.AsyncOpenAI, settle: object
) -> None:
    tool = {"type": "function", "function": {"name": "ping"}}
    assistant = await client.beta.assistants.create(model="gpt-4o", tools=[tool])  # type: ignore[list-item]
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice="required", poll_interval_ms=1
    )
    assert run.status == "requires_action"

    with pytest.raises(openai.BadRequestError, match="Expected tool outputs for call_ids"):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )
    with pytest.raises(openai.BadRequestError, match="Expected tool outputs for call_ids"):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[]
        )
    await client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )


async def complete(client: openai.AsyncOpenAI, words: int = 40, **options: object) -> Run:
    assistant = await client.beta.assistants.create(model="gpt-4o", instructions="Be kind.")
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": f"message {i} " * words} for i in range(6)]
    )
    return await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        poll_interval_ms=1,
        **options,  # type: ignore[arg-type]
    )


async def test_max_completion_tokens_leaves_the_run_incomplete(client: openai.AsyncOpenAI) -> None:
    # The API's smallest cap (256 tokens) and a reply quoting ~1,200 characters: ~300 tokens.
    run = await complete(client, words=120, max_completion_tokens=256)
    messages = await client.beta.threads.messages.list(run.thread_id, run_id=run.id)

    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == "max_completion_tokens"
    assert messages.data[0].status == "incomplete" and run.usage is not None


async def test_max_prompt_tokens_truncates_then_gives_up(client: openai.AsyncOpenAI) -> None:
    fits = await complete(client, max_prompt_tokens=300)
    strict = await complete(
        client,
        max_prompt_tokens=256,
        truncation_strategy={"type": "last_messages", "last_messages": 6},
    )

    assert fits.status == "completed"
    assert strict.status == "incomplete" and strict.incomplete_details is not None
    assert strict.incomplete_details.reason == "max_prompt_tokens"


async def test_instructions_override_the_assistants(client: openai.AsyncOpenAI) -> None:
    run = await complete(
        client, instructions="Answer in French.", additional_instructions="Sign as Bot."
    )

    assert run.instructions == "Answer in French.\n\nSign as Bot."


async def test_unknown_routes_and_methods_use_the_error_shape(http: httpx2.AsyncClient) -> None:
    response = await http.delete("/v1/threads")

    assert response.status_code == 405
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
