"""Size limits: the request body caps (413) and the hosted API's field limits (400)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import Message

from runflow_server import Scenario, create_app, serve_command
from runflow_server.bodies import MAX_MESSAGE_CHARS, MAX_TOOL_OUTPUTS_BYTES
from runflow_server.middleware import MAX_BODY_BYTES, MAX_UPLOAD_BYTES

from .conftest import Server
from .support import serve_in_thread

pytestmark = pytest.mark.anyio

CAP = 1000
UPLOAD_CAP = 5000


def json_body(size: int) -> bytes:
    """A valid create-assistant body of exactly `size` bytes."""
    body = b'{"model": "gpt-4o"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


async def chunks(body: bytes, size: int = 97) -> AsyncIterator[bytes]:
    """`body` in pieces, sent without a Content-Length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def multipart(file_size: int) -> tuple[bytes, str]:
    """An upload of a `file_size`-byte file: (body, content type)."""
    body = (
        b'--xx\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
        b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
        + b"x" * file_size
        + b"\r\n--xx--\r\n"
    )
    return body, "multipart/form-data; boundary=xx"


def assert_too_large(response: httpx2.Response, cap: int) -> None:
    assert response.status_code == 413, (response.status_code, response.text[:200])
    assert response.json() == {
        "error": {
            "message": f"Request too large: the body of this request may be at most {cap} bytes.",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_too_large",
        }
    }


@pytest.fixture
async def capped(server: Server) -> tuple[Starlette, httpx2.AsyncClient]:
    app, _, http = await server.open(max_body_bytes=CAP, max_upload_bytes=UPLOAD_CAP)
    return app, http


class Recorder:
    """Calls an ASGI app directly: how much of the body it read, what it answered."""

    def __init__(self, body: bytes, declared: int | None = None) -> None:
        self.pieces = [body[i : i + 100] for i in range(0, len(body), 100)] or [b""]
        self.declared = declared
        self.read = 0
        self.sent: list[Message] = []

    async def send_to(self, app: Starlette, path: str = "/v1/assistants") -> int:
        headers = [(b"content-type", b"application/json")]
        if self.declared is not None:
            headers.append((b"content-length", str(self.declared).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 1),
        }
        await app(scope, self.receive, self.send)
        return int(self.sent[0]["status"])

    async def receive(self) -> Message:
        if self.read < len(self.pieces):
            self.read += 1
            more = self.read < len(self.pieces)
            return {"type": "http.request", "body": self.pieces[self.read - 1], "more_body": more}
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


# -- the body caps -----------------------------------------------------------------------------


async def test_a_body_up_to_the_cap_is_taken_one_byte_more_is_a_413(
    capped: tuple[Starlette, httpx2.AsyncClient],
) -> None:
    _, http = capped
    at_cap = await http.post("/v1/assistants", content=json_body(CAP))
    over = await http.post("/v1/assistants", content=json_body(CAP + 1))

    assert at_cap.status_code == 200 and at_cap.json()["model"] == "gpt-4o"
    assert_too_large(over, CAP)
    assert (await http.get("/v1/assistants")).json()["data"] == [at_cap.json()]


async def test_a_chunked_body_is_counted_as_it_arrives(
    capped: tuple[Starlette, httpx2.AsyncClient],
) -> None:
    _, http = capped
    at_cap = await http.post("/v1/assistants", content=chunks(json_body(CAP)))
    over = await http.post("/v1/assistants", content=chunks(json_body(CAP + 1)))
    far_over = await http.post("/v1/threads", content=chunks(b"[" + b"1," * 5000 + b"1]"))

    assert "content-length" not in at_cap.request.headers
    assert at_cap.status_code == 200
    assert_too_large(over, CAP)
    assert_too_large(far_over, CAP)
    assert [a["id"] for a in (await http.get("/v1/assistants")).json()["data"]] == [
        at_cap.json()["id"]
    ]


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    capped: tuple[Starlette, httpx2.AsyncClient],
) -> None:
    app, _ = capped
    declared = Recorder(json_body(CAP + 1), declared=CAP + 1)
    streamed = Recorder(json_body(CAP + 301))

    assert await declared.send_to(app) == 413
    assert declared.read == 0  # not one byte of the body was read
    assert await streamed.send_to(app) == 413
    assert streamed.read == 11  # read up to the 100-byte piece that passed the cap, no further


async def test_the_default_caps() -> None:
    app = create_app()
    try:
        over = Recorder(b"", declared=MAX_BODY_BYTES + 1)
        at_cap = Recorder(b"", declared=MAX_BODY_BYTES)
        upload_path = Recorder(b"", declared=MAX_BODY_BYTES + 1)

        assert await over.send_to(app) == 413
        assert await at_cap.send_to(app, "/v1/threads") == 200  # passes; the body is empty
        assert await upload_path.send_to(app, "/v1/files") == 413  # JSON to /files: the JSON cap
    finally:
        await app.state.engine.aclose()
    assert (MAX_BODY_BYTES, MAX_UPLOAD_BYTES) == (16 * 2**20, 513 * 2**20)


async def test_uploads_have_their_own_cap(capped: tuple[Starlette, httpx2.AsyncClient]) -> None:
    _, http = capped
    overhead = len(multipart(0)[0])
    at_cap, content_type = multipart(UPLOAD_CAP - overhead)
    over, _ = multipart(UPLOAD_CAP - overhead + 1)
    headers = {"content-type": content_type}

    uploaded = await http.post("/v1/files", content=at_cap, headers=headers)
    refused = await http.post("/v1/files", content=over, headers=headers)
    refused_chunked = await http.post("/v1/files", content=chunks(over), headers=headers)
    # the upload cap is for uploads only: a multipart body elsewhere gets the JSON cap
    elsewhere = await http.post("/v1/threads", content=at_cap, headers=headers)

    assert uploaded.status_code == 200 and uploaded.json()["bytes"] == UPLOAD_CAP - overhead
    assert_too_large(refused, UPLOAD_CAP)
    assert_too_large(refused_chunked, UPLOAD_CAP)
    assert_too_large(elsewhere, CAP)
    assert len((await http.get("/v1/files")).json()["data"]) == 1


@pytest.mark.parametrize("cut", [10, 60, 130])
async def test_a_multipart_body_cut_short_is_a_400(
    capped: tuple[Starlette, httpx2.AsyncClient], cut: int
) -> None:
    _, http = capped
    body, content_type = multipart(100)
    response = await http.post(
        "/v1/files", content=body[:cut], headers={"content-type": content_type}
    )

    assert response.status_code == 400
    assert "closing boundary" in response.json()["error"]["message"]


async def test_the_caps_over_http() -> None:
    app = create_app(max_body_bytes=CAP)
    try:
        with serve_in_thread(app) as url:
            async with httpx2.AsyncClient(base_url=url) as http:
                at_cap = await http.post("/v1/assistants", content=json_body(CAP))
                over = await http.post("/v1/assistants", content=json_body(100 * CAP))
                chunked = await http.post("/v1/assistants", content=chunks(json_body(100 * CAP)))
                after = await http.get("/v1/assistants")
    finally:
        await app.state.engine.aclose()

    assert at_cap.status_code == 200
    assert_too_large(over, CAP)
    assert_too_large(chunked, CAP)
    assert after.status_code == 200 and len(after.json()["data"]) == 1


async def test_serve_takes_the_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Starlette] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))

    assert serve_command(["--max-body-bytes", str(CAP), "--max-upload-bytes", "2000"]) == 0
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=served[0]), base_url="http://rf.test"
    ) as http:
        assert_too_large(await http.post("/v1/threads", content=b" " * (CAP + 1)), CAP)
        body, content_type = multipart(2000)
        headers = {"content-type": content_type}
        assert_too_large(await http.post("/v1/files", content=body, headers=headers), 2000)
    await served[0].state.engine.aclose()
    with pytest.raises(SystemExit):
        serve_command(["--max-body-bytes", "0"])
    with pytest.raises(ValueError, match="positive"):
        create_app(max_upload_bytes=0)


# -- the field limits --------------------------------------------------------------------------


def too_long(param: str, length: int) -> dict[str, Any]:
    return {
        "message": f"Invalid '{param}': string too long. Expected a string with maximum length"
        f" {MAX_MESSAGE_CHARS}, but got a string with length {length} instead.",
        "type": "invalid_request_error",
        "param": param,
        "code": "string_above_max_length",
    }


async def test_message_content_is_at_most_256000_characters(
    http: httpx2.AsyncClient, client: openai.AsyncOpenAI
) -> None:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = (await http.post("/v1/threads", json={})).json()["id"]
    most, over = "é" * MAX_MESSAGE_CHARS, "x" * (MAX_MESSAGE_CHARS + 1)
    messages = f"/v1/threads/{thread}/messages"

    taken = await http.post(messages, json={"role": "user", "content": most})
    refused = [
        await http.post(messages, json={"role": "user", "content": over}),
        await http.post(
            messages,
            json={
                "role": "user",
                "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": over}],
            },
        ),
        await http.post("/v1/threads", json={"messages": [{"role": "user", "content": over}]}),
        await http.post(
            f"/v1/threads/{thread}/runs",
            json={
                "assistant_id": assistant.id,
                "additional_messages": [{"role": "user", "content": over}],
            },
        ),
        await http.post(
            "/v1/threads/runs",
            json={
                "assistant_id": assistant.id,
                "thread": {"messages": [{"role": "user", "content": over}]},
            },
        ),
    ]

    assert taken.status_code == 200
    assert taken.json()["content"][0]["text"]["value"] == most
    assert [response.status_code for response in refused] == [400] * 5
    assert [response.json()["error"] for response in refused] == [
        too_long(param, MAX_MESSAGE_CHARS + 1)
        for param in (
            "content",
            "content[1].text",
            "messages[0].content",
            "additional_messages[0].content",
            "thread.messages[0].content",
        )
    ]
    listed = (await http.get(messages)).json()["data"]
    assert [m["id"] for m in listed] == [taken.json()["id"]]


SCENARIO = Scenario.model_validate(
    {
        "name": "two-tools",
        "steps": [
            {"tool_calls": [{"name": "a"}, {"name": "b"}]},
            {"message": "done"},
        ],
    }
)


async def test_tool_outputs_together_are_less_than_512_kb(server: Server) -> None:
    app, client, http = await server.open(scenario=SCENARIO)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert run.required_action is not None
    first, second = (call.id for call in run.required_action.submit_tool_outputs.tool_calls)
    url = f"/v1/threads/{thread.id}/runs/{run.id}/submit_tool_outputs"

    def outputs(a: str, b: str) -> dict[str, Any]:
        return {
            "tool_outputs": [
                {"tool_call_id": first, "output": a},
                {"tool_call_id": second, "output": b},
            ]
        }

    half = MAX_TOOL_OUTPUTS_BYTES // 2
    refused = [
        await http.post(url, json=outputs("x" * half, "x" * half)),  # exactly 512 KiB
        await http.post(url, json=outputs("é" * (half // 2), "x" * half)),  # UTF-8 bytes count
        await http.post(url, json=outputs("x" * 8_000_000, "")),
    ]
    taken = await http.post(url, json=outputs("x" * half, "x" * (half - 1)))

    assert MAX_TOOL_OUTPUTS_BYTES == 524_288
    assert [response.status_code for response in refused] == [400] * 3
    assert {str(response.json()["error"]) for response in refused} == {
        str(
            {
                "message": "'tool_outputs' too large: the combined tool outputs must be less"
                " than 512kb.",
                "type": "invalid_request_error",
                "param": "tool_outputs",
                "code": "invalid_value",
            }
        )
    }
    assert taken.status_code == 200 and taken.json()["status"] == "queued"
