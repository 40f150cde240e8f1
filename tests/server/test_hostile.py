"""Hostile input: each a 4xx at the boundary, leaving nothing a later read cannot serve."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from runflow_server.parsing import MAX_JSON_DEPTH

pytestmark = pytest.mark.anyio

FUNCTION = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def with_parameters(raw: str) -> bytes:
    """A create-assistant body whose function `parameters` are `raw`, sent verbatim."""
    return (
        b'{"model": "gpt-4o", "tools": [{"type": "function", "function": {"name": "f",'
        b' "parameters": ' + raw.encode() + b"}}]}"
    )


def assert_400(response: httpx2.Response, text: str, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert text in error["message"], error["message"]
    assert error["param"] == param
    return error


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"maximum": NaN}', id="nan"),
        pytest.param('{"maximum": Infinity}', id="infinity"),
        pytest.param('{"minimum": -Infinity}', id="minus-infinity"),
        pytest.param('{"maximum": 1e999}', id="float-overflow"),
    ],
)
async def test_non_standard_json_is_refused_and_nothing_is_stored(
    http: httpx2.AsyncClient, raw: str
) -> None:
    response = await http.post("/v1/assistants", content=with_parameters(raw))

    assert_400(response, "We could not parse the JSON body of your request")
    listed = await http.get("/v1/assistants")
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_nan_in_a_streamed_thread_and_run_is_refused_before_any_event(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    tools = '[{"type": "function", "function": {"name": "f", "parameters": {"x": NaN}}}]'
    thread = '{"messages": [{"role": "user", "content": "hi"}]}'
    body = f'{{"assistant_id": "{assistant.id}", "stream": true, "thread": {thread}, '
    body += f'"tools": {tools}}}'

    response = await http.post("/v1/threads/runs", content=body)

    assert_400(response, "NaN is not a JSON number")
    assert response.headers["content-type"].startswith("application/json")
    threads = await http.get("/api/projects/p/threads")  # Foundry lists every thread
    assert threads.status_code == 200 and threads.json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000, id="arrays-100000"),
        pytest.param('{"a":' * 100_000, id="objects-100000"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="closed-arrays-100000"),
    ],
)
async def test_absurd_nesting_is_a_400_not_a_recursion_error(
    http: httpx2.AsyncClient, body: str
) -> None:
    response = await http.post("/v1/assistants", content=body)

    assert_400(response, "nested too deeply")


def nested(levels: int) -> str:
    """`levels` objects inside each other: `{"a": {"a": {}}}` is 3."""
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


async def test_tool_parameters_nested_980_deep_are_refused_and_64_levels_are_served(
    http: httpx2.AsyncClient,
) -> None:
    # The body, `tools`, the tool and its `function` are 4 levels above the parameters.
    refused = await http.post("/v1/assistants", content=with_parameters(nested(980)))
    too_deep = await http.post(
        "/v1/assistants", content=with_parameters(nested(MAX_JSON_DEPTH - 3))
    )
    created = await http.post("/v1/assistants", content=with_parameters(nested(MAX_JSON_DEPTH - 4)))

    assert_400(refused, "nested too deeply")
    assert_400(too_deep, "nested too deeply")
    assert created.status_code == 200, created.text[:300]
    listed = await http.get("/v1/assistants")
    assert [item["id"] for item in listed.json()["data"]] == [created.json()["id"]]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param("limit=+5", "invalid_type", id="plus"),
        pytest.param("limit=%205", "invalid_type", id="space"),
        pytest.param("limit=5%20", "invalid_type", id="trailing-space"),
        pytest.param("limit=%D9%A3", "invalid_type", id="arabic-indic-three"),
        pytest.param("limit=-1", "invalid_type", id="minus"),
        pytest.param("limit=1e1", "invalid_type", id="exponent"),
        pytest.param("limit=" + "9" * 5000, "invalid_type", id="5000-digits"),
        pytest.param("limit=0", "integer_below_min_value", id="zero"),
        pytest.param("limit=101", "integer_above_max_value", id="101"),
    ],
)
async def test_limit_takes_ascii_digits_from_1_to_100(
    http: httpx2.AsyncClient, query: str, code: str
) -> None:
    response = await http.get(f"/v1/assistants?{query}")

    assert assert_400(response, "Invalid 'limit'", "limit")["code"] == code


async def test_limit_of_plain_digits_still_pages(client: openai.AsyncOpenAI) -> None:
    for _ in range(3):
        await client.beta.assistants.create(model="gpt-4o")

    page = await client.beta.assistants.list(limit=2)

    assert len(page.data) == 2 and page.has_more


@pytest.mark.parametrize(
    ("field", "where"),
    [
        pytest.param("instructions", "run", id="run-instructions"),
        pytest.param("additional_instructions", "run", id="additional-instructions"),
        pytest.param("instructions", "thread-and-run", id="thread-and-run-instructions"),
    ],
)
async def test_run_instructions_are_capped_like_the_assistants(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient, field: str, where: str
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    path = f"/v1/threads/{thread.id}/runs" if where == "run" else "/v1/threads/runs"
    body = {"assistant_id": assistant.id, field: "x" * 256_001}

    response = await http.post(path, json=body)

    error = assert_400(
        response,
        f"Invalid '{field}': string too long. Expected a string with maximum length 256000,"
        " but got a string with length 256001 instead.",
        field,
    )
    assert error["code"] == "string_above_max_length"
    runs = await client.beta.threads.runs.list(thread.id)
    assert runs.data == []
    exactly = await http.post(f"/v1/threads/{thread.id}/runs", json={**body, field: "x" * 256_000})
    assert exactly.status_code == 200


@pytest.mark.parametrize(
    ("options", "message", "code"),
    [
        pytest.param(
            {"truncation_strategy": {"type": "last_messages", "last_messages": 0}},
            "Invalid 'truncation_strategy.last_messages': integer below minimum value. Expected"
            " a value >= 1, but got 0 instead.",
            "integer_below_min_value",
            id="last-messages-0",
        ),
        pytest.param(
            {"truncation_strategy": {"type": "last_messages", "last_messages": -3}},
            "Invalid 'truncation_strategy.last_messages': integer below minimum value. Expected"
            " a value >= 1, but got -3 instead.",
            "integer_below_min_value",
            id="last-messages-negative",
        ),
        pytest.param(
            {"max_prompt_tokens": 10**1000},
            "Invalid 'max_prompt_tokens': integer above maximum value. Expected a value <="
            " 2147483647, but got 1000000000000000000000000000000000000000... instead.",
            "integer_above_max_value",
            id="max-prompt-tokens-10e1000",
        ),
        pytest.param(
            {"max_completion_tokens": 255},
            "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >="
            " 256, but got 255 instead.",
            "integer_below_min_value",
            id="max-completion-tokens-255",
        ),
        pytest.param(
            {"temperature": 2.5},
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but"
            " got 2.5 instead.",
            "decimal_above_max_value",
            id="temperature",
        ),
    ],
)
async def test_absurd_run_limits_are_refused(
    client: openai.AsyncOpenAI,
    http: httpx2.AsyncClient,
    options: dict[str, Any],
    message: str,
    code: str,
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    body = json.dumps({"assistant_id": assistant.id, **options})

    response = await http.post(f"/v1/threads/{thread.id}/runs", content=body)

    assert assert_400(response, message, message.split("'")[1])["code"] == code
    assert (await client.beta.threads.runs.list(thread.id)).data == []


def upload(filename: str, *, named: str | None = None) -> tuple[bytes, str]:
    """A multipart upload whose file part is called `filename` (sent as raw bytes)."""
    body = b'--xx\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
    if named is not None:
        body += b'--xx\r\nContent-Disposition: form-data; name="filename"\r\n\r\n'
        body += named.encode() + b"\r\n"
    body += b'--xx\r\nContent-Disposition: form-data; name="file"; filename="'
    body += filename.encode() + b'"\r\n\r\nhello\r\n--xx--\r\n'
    return body, "multipart/form-data; boundary=xx"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("../../etc/passwd", "passwd", id="dot-dot"),
        pytest.param("/etc/shadow", "shadow", id="absolute"),
        pytest.param("C:\\Users\\me\\notes.txt", "notes.txt", id="windows-path"),
        pytest.param("notes ✓.txt", "notes ✓.txt", id="plain-unicode"),
    ],
)
async def test_upload_names_with_directories_keep_only_the_file_name(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient, sent: str, kept: str
) -> None:
    body, content_type = upload(sent)

    response = await http.post("/v1/files", content=body, headers={"content-type": content_type})

    assert response.status_code == 200, response.text
    assert response.json()["filename"] == kept
    retrieved = await client.files.retrieve(response.json()["id"])
    assert retrieved.filename == kept


NOT_MULTIPART = "The request body is not valid multipart/form-data."


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        pytest.param("a\x00b.txt", "Invalid file name", id="nul"),
        pytest.param("a\rb.txt", NOT_MULTIPART, id="cr-breaks-the-part-header"),
        pytest.param("tab\there.txt", "Invalid file name", id="tab"),
        pytest.param("\x7f.txt", "Invalid file name", id="del"),
        pytest.param("..", "Invalid file name", id="dot-dot-only"),
        pytest.param("dir/", "Invalid file name", id="directory"),
        pytest.param("x" * 256, "Invalid file name", id="256-characters"),
        pytest.param("a\nSet-Cookie: x.txt", "Invalid file name", id="lf"),
    ],
)
async def test_upload_names_that_cannot_be_kept_are_refused(
    client: openai.AsyncOpenAI, http: httpx2.AsyncClient, sent: str, message: str
) -> None:
    body, content_type = upload(sent)

    response = await http.post("/v1/files", content=body, headers={"content-type": content_type})

    param = "file" if message != NOT_MULTIPART else None
    assert_400(response, message, param)
    assert (await client.files.list()).data == []


async def test_the_sdk_percent_encodes_control_characters_and_that_name_is_kept(
    client: openai.AsyncOpenAI,
) -> None:
    created = await client.files.create(file=("a\r\nb.txt", b"x"), purpose="assistants")

    assert created.filename == "a%0D%0Ab.txt"


async def test_the_filename_field_is_azures_and_checked_too(http: httpx2.AsyncClient) -> None:
    body, content_type = upload("upload.bin", named="notes.txt")
    headers = {"content-type": content_type}
    bad, _ = upload("upload.bin", named="a\nb")

    foundry = await http.post("/api/projects/p/files", content=body, headers=headers)
    openai_v1 = await http.post("/v1/files", content=body, headers=headers)
    refused = await http.post("/api/projects/p/files", content=bad, headers=headers)

    assert foundry.status_code == 200 and foundry.json()["filename"] == "notes.txt"
    assert_400(openai_v1, "Unrecognized request argument supplied: filename", "filename")
    assert_400(refused, "Invalid file name", "filename")
