"""Wire shapes: the SDK models accept every object; field sets match the recordings."""

from __future__ import annotations

from pathlib import Path

import httpx2
import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from .conftest import Server
from .support import recording, validate

pytestmark = pytest.mark.anyio

# What the server adds on purpose to the recorded field sets (see runflow_server.app).
MESSAGE_EXTRAS = {"status", "completed_at", "incomplete_at", "incomplete_details"}
STEP_EXTRAS = {"expired_at", "metadata"}


def recorded(name: str, index: int) -> dict[str, object]:
    body: dict[str, object] = recording(name)[index]["ResponseBody"]
    return body


async def test_objects_validate_and_match_the_recorded_field_sets(
    http: httpx2.AsyncClient, settle: object
) -> None:
    assistant = (await http.post("/v1/assistants", json={"model": "gpt-4o"})).json()
    thread = (await http.post("/v1/threads", json={})).json()
    message = (
        await http.post(
            f"/v1/threads/{thread['id']}/messages", json={"role": "user", "content": "Hello!"}
        )
    ).json()
    run = (
        await http.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]})
    ).json()
    await settle()  # type: ignore[operator]
    steps = (await http.get(f"/v1/threads/{thread['id']}/runs/{run['id']}/steps")).json()

    validate(Assistant, assistant)
    validate(Thread, thread)
    validate(Message, message)
    validate(Run, run)
    validate(RunStep, steps["data"][0])
    assert assistant.keys() == recorded("BasicRunOperationsWork.json", 0).keys()
    assert thread.keys() == recorded("BasicRunOperationsWork.json", 1).keys()
    assert message.keys() - MESSAGE_EXTRAS == recorded("BasicRunOperationsWork.json", 3).keys()
    assert run.keys() == recorded("BasicRunOperationsWork.json", 4).keys()
    recorded_step = recorded("BasicRunStepFunctionalityWorks.json", -1)["data"][0]  # type: ignore[index]
    assert steps["data"][0].keys() - STEP_EXTRAS == recorded_step.keys()


async def test_a_new_run_looks_like_the_recorded_one(http: httpx2.AsyncClient) -> None:
    assistant = (await http.post("/v1/assistants", json={"model": "gpt-4o"})).json()
    thread = (await http.post("/v1/threads", json={})).json()
    run = (
        await http.post(f"/v1/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]})
    ).json()

    expected = dict(recorded("BasicRunOperationsWork.json", 4))
    for volatile in ("id", "assistant_id", "thread_id", "created_at", "expires_at"):
        expected.pop(volatile)
    expected["instructions"] = ""  # recorded null; the SDK's strict validation wants a string
    assert {key: run[key] for key in expected} == expected
    assert run["expires_at"] == run["created_at"] + 600
    assert run["id"].startswith("run_") and len(run["id"]) == len("run_") + 24


async def test_retrieve_run_parses_as_the_sdk_run_and_asks_for_a_poll_interval(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)

    response = await http.get(f"/v1/threads/{thread.id}/runs/{run.id}")
    retrieved = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)

    assert isinstance(retrieved, Run)
    assert Run.model_validate(response.json()).instructions == "Be brief."
    assert int(response.headers["openai-poll-after-ms"]) > 0


async def test_run_options_are_stored_and_echoed(client: openai.AsyncOpenAI) -> None:
    assistant = await client.beta.assistants.create(
        model="gpt-4o", instructions="Base.", temperature=0.5
    )
    thread = await client.beta.threads.create()
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    run = await client.beta.threads.runs.create(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="gpt-4o-mini",
        additional_instructions="Extra.",
        additional_messages=[{"role": "user", "content": "added"}],
        tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        metadata={"key": "value"},
        parallel_tool_calls=False,
        top_p=0.9,
        max_completion_tokens=500,
    )
    retrieved = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)

    assert retrieved.model == "gpt-4o-mini"
    assert retrieved.instructions == "Base.\n\nExtra."
    assert retrieved.tools[0].type == "function"
    assert retrieved.tools[0].function.name == "lookup"  # type: ignore[union-attr]
    assert retrieved.tool_choice is not None and retrieved.tool_choice.type == "function"  # type: ignore[union-attr]
    assert retrieved.metadata == {"key": "value"}
    assert retrieved.parallel_tool_calls is False
    assert (retrieved.temperature, retrieved.top_p) == (0.5, 0.9)
    assert retrieved.max_completion_tokens == 500
    messages = await client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    assert messages.data[0].content[0].text.value == "added"  # type: ignore[union-attr]


async def test_thread_with_initial_messages_keeps_their_content(client: openai.AsyncOpenAI) -> None:
    request = recording("ThreadWithInitialMessagesWorks.json")[0]["RequestBody"]
    thread = await client.beta.threads.create(**request)
    listed = await client.beta.threads.messages.list(thread_id=thread.id, order="asc")

    expected = recording("ThreadWithInitialMessagesWorks.json")[1]["ResponseBody"]["data"]
    got = [m.model_dump(include={"role", "content", "metadata"}) for m in listed.data]
    want = [{k: m[k] for k in ("role", "content", "metadata")} for m in expected]
    assert got == want


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        pytest.param("/v1/assistants", b"{nope", "We could not parse the JSON body", id="bad-json"),
        pytest.param("/v1/assistants", b"[1]", "must be a JSON object", id="not-an-object"),
        pytest.param("/v1/assistants", b"{}", "Missing required parameter: 'model'.", id="missing"),
        pytest.param(
            "/v1/assistants",
            b'{"model": "m", "colour": 1}',
            "Unrecognized request argument supplied: colour",
            id="unknown-field",
        ),
        pytest.param(
            "/v1/assistants",
            b'{"model": "m", "tools": [{"type": "function", "function": {"name": 7}}]}',
            "Invalid value for 'tools[0].function.name'",
            id="bad-tool-name",
        ),
        pytest.param(
            "/v1/assistants",
            b'{"model": "m", "temperature": 9}',
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 9",
            id="out-of-range",
        ),
        pytest.param(
            "/v1/threads",
            b'{"messages": [{"role": "robot", "content": "x"}]}',
            "Invalid value for 'messages[0].role'",
            id="bad-role",
        ),
    ],
)
async def test_malformed_bodies_are_400s_in_the_error_shape(
    http: httpx2.AsyncClient, path: str, body: bytes, message: str
) -> None:
    response = await http.post(path, content=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error.keys() == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert message in error["message"]


async def test_not_found_texts(client: openai.AsyncOpenAI, http: httpx2.AsyncClient) -> None:
    thread = await client.beta.threads.create()
    cases = {
        "/v1/assistants/asst_X": "No assistant found with id 'asst_X'.",
        "/v1/threads/thread_X/runs/run_Y": "No thread found with id 'thread_X'.",
        f"/v1/threads/{thread.id}/runs/run_Y": "No run found with id 'run_Y'.",
    }
    for path, message in cases.items():
        response = await http.get(path)
        assert (response.status_code, response.json()["error"]["message"]) == (404, message)

    with pytest.raises(openai.NotFoundError, match="No assistant found with id 'asst_X'"):
        await client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_X")
    unknown = await http.get("/v1/nothing")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (GET /v1/nothing)"


async def test_pagination(client: openai.AsyncOpenAI, http: httpx2.AsyncClient) -> None:
    thread = await client.beta.threads.create()
    empty = (await http.get(f"/v1/threads/{thread.id}/messages")).json()
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }

    ids = []
    for number in range(5):
        message = await client.beta.threads.messages.create(
            thread_id=thread.id, role="user", content=f"m{number}"
        )
        ids.append(message.id)

    first = await client.beta.threads.messages.list(thread_id=thread.id, limit=2, order="asc")
    assert [m.id for m in first.data] == ids[:2] and first.has_more
    second = await client.beta.threads.messages.list(
        thread_id=thread.id, limit=2, order="asc", after=ids[1]
    )
    assert [m.id for m in second.data] == ids[2:4]
    newest = await client.beta.threads.messages.list(thread_id=thread.id, limit=3)
    assert [m.id for m in newest.data] == ids[::-1][:3]
    before = await client.beta.threads.messages.list(thread_id=thread.id, before=ids[2])
    assert [m.id for m in before.data] == [ids[4], ids[3]]
    every = [m.id async for m in client.beta.threads.messages.list(thread_id=thread.id, limit=2)]
    assert every == ids[::-1]

    page = (await http.get(f"/v1/threads/{thread.id}/messages?limit=2&order=asc")).json()
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[0], ids[1], True)
    for query in ("limit=0", "limit=101", "order=up", "after=msg_nope"):
        response = await http.get(f"/v1/threads/{thread.id}/messages?{query}")
        assert response.status_code == 400, query


async def test_a_file_database_outlives_the_app(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _, first, _ = await server.open(db=db)
    assistant = await first.beta.assistants.create(model="gpt-4o", name="kept")
    _, second, _ = await server.open(db=db)

    assert (await second.beta.assistants.retrieve(assistant.id)).name == "kept"
