"""The server against malformed requests, and its security properties.

- Every route (all three mounts), with hypothesis-drawn bodies, ids and queries: a 4xx in the
  API's error shape or a success, never a 5xx, never a crash; oversized bodies, bad multipart,
  unknown fields, bad ids.
- With an API key set, every route refuses a request without it; ids in paths and cursors cannot
  reach another thread's data; uploaded file names cannot escape the storage directory; the key
  appears in no log record, span or captured output.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from runflow import OpenTelemetryInstrumentation, Runner, ToolRegistry
from runflow.testing import LocalServer, inprocess_client
from runflow_server import Scenario, create_app

from .support import report, size

AZURE_VERSION = "api-version=2024-05-01-preview"
SCENARIO = Scenario.model_validate(
    {
        "name": "hostile",
        "steps": [
            {"tool_calls": [{"name": "echo", "arguments": {"text": "a"}}]},
            {"message": "said {outputs}"},
        ],
    }
)


def api_routes(app: Starlette) -> list[tuple[str, str]]:
    """(method, path template) of every API route, under every mount (the playground's
    redirect and static files are not API routes)."""
    found = []
    for mount in app.routes:
        if not isinstance(mount, Mount) or mount.path == "/playground":
            continue
        for route in mount.routes:
            assert isinstance(route, Route) and route.methods is not None
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, mount.path + route.path))
    return found


@dataclass
class World:
    """Two threads with everything under them, and a file."""

    ids: dict[str, list[str]]
    """Per path parameter: the ids that exist (thread A's first, then thread B's)."""


async def populate(http: httpx2.AsyncClient, app: Starlette) -> World:
    assistant = (await http.post("/v1/assistants", json={"model": "gpt-4o"})).json()["id"]
    ids: dict[str, list[str]] = {"assistant_id": [assistant], "project": ["proj"]}
    for name in ("A", "B"):
        thread = (
            await http.post("/v1/threads", json={"messages": [{"role": "user", "content": name}]})
        ).json()["id"]
        run = (
            await http.post(f"/v1/threads/{thread}/runs", json={"assistant_id": assistant})
        ).json()["id"]
        await app.state.engine.wait_until_settled()
        message = (await http.get(f"/v1/threads/{thread}/messages")).json()["data"][0]["id"]
        step = (await http.get(f"/v1/threads/{thread}/runs/{run}/steps")).json()["data"][0]["id"]
        for key, value in (
            ("thread_id", thread),
            ("run_id", run),
            ("message_id", message),
            ("step_id", step),
        ):
            ids.setdefault(key, []).append(value)
    upload = await http.post(
        "/v1/files", files={"file": ("notes.txt", b"hello")}, data={"purpose": "assistants"}
    )
    ids["file_id"] = [upload.json()["id"]]
    return World(ids)


@asynccontextmanager
async def served(**options: Any) -> AsyncIterator[tuple[Starlette, httpx2.AsyncClient]]:
    """The app (`create_app` options) and a raw client sending its key, if it has one."""
    async with LocalServer(scenario=SCENARIO, origin="http://rf.test", **options) as server:
        if "api_key" in options:
            server.http.headers["authorization"] = f"Bearer {options['api_key']}"
        yield server.app, server.http


def assert_api_answer(response: httpx2.Response) -> None:
    """Not a 5xx; an error is in the API's shape."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str)
        assert error["param"] is None or isinstance(error["param"], str)
        assert error["code"] is None or isinstance(error["code"], str)


# -- malformed requests, drawn by hypothesis ------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
FIELDS = [
    "model", "name", "instructions", "tools", "metadata", "messages", "role", "content",
    "assistant_id", "thread", "stream", "tool_outputs", "tool_choice", "attachments",
    "truncation_strategy", "max_prompt_tokens", "response_format", "file_ids", "purpose",
]  # fmt: skip
bodies = st.one_of(
    st.none(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5).map(
        lambda v: json.dumps(v).encode()
    ),
    st.binary(max_size=200),
)
hostile_ids = st.one_of(
    st.sampled_from(
        [
            "..",
            "../../etc/passwd",
            "%2e%2e%2f%2e%2e%2fetc",
            "thread_' OR '1'='1",
            "run_1; DROP TABLE runs",
            "x" * 5000,
            "☃",
            "%00",
            "thread_",
            "file-" + "A" * 24,
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
)
queries = st.dictionaries(
    st.sampled_from(["limit", "order", "after", "before", "run_id", "purpose", "api-version"]),
    st.text(max_size=20),
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn, routes: list[tuple[str, str]]) -> dict[str, Any]:
    method, template = draw(st.sampled_from(routes))
    params = {name: draw(st.none() | hostile_ids) for name in re.findall(r"{(\w+)}", template)}
    return {
        "method": method,
        "template": template,
        "params": params,
        "body": draw(bodies),
        "content_type": draw(
            st.sampled_from(["application/json", "text/plain", "multipart/form-data", None])
        ),
        "query": draw(queries),
        "azure_version": draw(st.booleans()),
    }


ROUTES = api_routes(create_app())


@settings(
    max_examples=size(150, 3000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(requests(ROUTES), min_size=1, max_size=8))
def test_malformed_requests_get_a_4xx_in_the_api_shape_never_a_5xx(
    batch: list[dict[str, Any]],
) -> None:
    async def send_all() -> None:
        async with served() as (app, http):
            world = await populate(http, app)
            for request in batch:
                path = request["template"]
                for name, value in request["params"].items():
                    value = world.ids.get(name, ["x"])[0] if value is None else value
                    path = path.replace("{" + name + "}", quote(value, safe="/.%'") or "x")
                query = dict(request["query"])
                if request["azure_version"]:
                    query["api-version"] = "2024-05-01-preview"
                headers = {}
                if request["content_type"] is not None:
                    headers["content-type"] = request["content_type"]
                response = await http.request(
                    request["method"], path, params=query, content=request["body"], headers=headers
                )
                assert_api_answer(response)
            # the server still works
            assert (await http.get("/v1/assistants")).status_code == 200

    anyio.run(send_all)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        pytest.param("no boundary", b"garbage", "multipart/form-data", id="no-boundary"),
        pytest.param(
            "truncated",
            b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
            "multipart/form-data; boundary=xx",
            id="truncated",
        ),
        pytest.param(
            "no file part",
            b'--xx\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
            b"assistants\r\n--xx--\r\n",
            "multipart/form-data; boundary=xx",
            id="no-file",
        ),
        pytest.param("json instead", b'{"purpose": "assistants"}', "application/json", id="json"),
        pytest.param("nothing", b"", None, id="empty"),
    ],
)
async def test_bad_multipart_uploads_are_refused(
    name: str, content: bytes, content_type: str | None
) -> None:
    async with served() as (_, http):
        headers = {"content-type": content_type} if content_type else {}
        response = await http.post("/v1/files", content=content, headers=headers)

    assert 400 <= response.status_code < 500
    assert_api_answer(response)


@pytest.mark.anyio
async def test_oversized_bodies_are_refused() -> None:
    async with served() as (app, http):
        world = await populate(http, app)
        thread = world.ids["thread_id"][0]
        huge_body = await http.post(
            "/v1/threads",
            content=b"{" + b" " * 32_000_000 + b"}",
            headers={"content-type": "application/json"},
        )
        huge_message = await http.post(
            "/v1/threads/" + world.ids["thread_id"][1] + "/messages",
            json={"role": "user", "content": "x" * 8_000_000},
        )
        run = world.ids["run_id"][0]
        steps = (await http.get(f"/v1/threads/{thread}/runs/{run}")).json()
        call_id = steps["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        huge_output = await http.post(
            f"/v1/threads/{thread}/runs/{run}/submit_tool_outputs",
            json={"tool_outputs": [{"tool_call_id": call_id, "output": "x" * 8_000_000}]},
        )

    for response in (huge_body, huge_message, huge_output):
        assert 400 <= response.status_code < 500, response.status_code
        assert_api_answer(response)


# -- security -------------------------------------------------------------------------------

SECRET = "sk-reliability-SECRET-4f9a1c"


def concrete(template: str) -> str:
    path = re.sub(r"{(\w+)}", lambda m: {"project": "proj"}.get(m.group(1), "x_1"), template)
    return path + ("?" + AZURE_VERSION if path.startswith("/openai") else "")


@pytest.mark.anyio
async def test_with_an_api_key_every_route_refuses_requests_without_it() -> None:
    app = create_app(api_key=SECRET)
    routes = [*api_routes(app), ("GET", "/nowhere"), ("POST", "/v1/unknown")]
    attempts = [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": "Bearer "},
        {"authorization": SECRET},  # no "Bearer "
        {"authorization": f"Basic {SECRET}"},
        {"api-key": "wrong"},
        {"api-key": SECRET[:-1]},
        {"x-api-key": SECRET},
    ]
    refused = 0
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://rf.test"
    ) as http:
        for method, template in routes:
            for headers in attempts:
                url = concrete(template)
                response = await http.request(method, url, headers=headers, json={})
                assert response.status_code == 401, (method, url, headers, response.status_code)
                assert response.json()["error"]["code"] == "invalid_api_key"
                refused += 1
            # the key in the query string is not a key either
            response = await http.request(method, concrete(template) + f"&api-key={SECRET}")
            assert response.status_code == 401
            # and with the key, no route says 401
            for headers in ({"authorization": f"Bearer {SECRET}"}, {"api-key": SECRET}):
                response = await http.request(method, concrete(template), headers=headers)
                assert response.status_code != 401, (method, template)
        await app.state.engine.aclose()
    report(
        "Security: API key",
        [("routes (3 mounts + unknown paths)", len(routes)), ("requests refused", refused)],
    )


@pytest.mark.anyio
async def test_ids_cannot_reach_another_threads_data() -> None:
    async with served() as (app, http):
        world = await populate(http, app)
        ids = world.ids
        a, b = ids["thread_id"]
        b_secrets = [ids["run_id"][1], ids["message_id"][1], ids["step_id"][1]]
        run_b, msg_b, step_b = b_secrets
        attempts = [
            ("GET", f"/v1/threads/{a}/messages/{msg_b}", None),
            ("POST", f"/v1/threads/{a}/messages/{msg_b}", {"metadata": {"k": "v"}}),
            ("DELETE", f"/v1/threads/{a}/messages/{msg_b}", None),
            ("GET", f"/v1/threads/{a}/runs/{run_b}", None),
            ("POST", f"/v1/threads/{a}/runs/{run_b}", {"metadata": {"k": "v"}}),
            ("POST", f"/v1/threads/{a}/runs/{run_b}/cancel", None),
            (
                "POST",
                f"/v1/threads/{a}/runs/{run_b}/submit_tool_outputs",
                {"tool_outputs": [{"tool_call_id": "call_x", "output": "x"}]},
            ),
            ("GET", f"/v1/threads/{a}/runs/{run_b}/steps", None),
            ("GET", f"/v1/threads/{a}/runs/{ids['run_id'][0]}/steps/{step_b}", None),
            ("GET", f"/v1/threads/{a}/messages?after={msg_b}", None),
            ("GET", f"/v1/threads/{a}/messages?before={msg_b}", None),
            ("GET", f"/v1/threads/{a}/runs?after={run_b}", None),
            ("GET", f"/v1/threads/{a}/runs/{ids['run_id'][0]}/steps?after={step_b}", None),
            ("GET", f"/v1/threads/{a}/messages?run_id={run_b}", None),
            ("GET", f"/v1/threads/{a}%2F..%2F{b}/messages", None),
            ("GET", f"/v1/threads/{b}' OR 'x'='x/messages", None),
            ("GET", f"/api/projects/other/threads/{a}/messages/{msg_b}", None),
        ]
        for method, url, body in attempts:
            response = await http.request(method, url, json=body)
            assert_api_answer(response)
            leaked = [secret for secret in b_secrets if secret in response.text]
            # an error may name the id it was given, but no data of thread B comes back
            if response.status_code < 300:
                data = response.json().get("data", [response.json()])
                assert all(item.get("thread_id") in (None, a) for item in data), (url, data)
                assert not leaked, (url, response.text[:300])
            else:
                assert '"B"' not in response.text
        # thread B is untouched
        run = (await http.get(f"/v1/threads/{b}/runs/{run_b}")).json()
        assert run["status"] == "requires_action" and run["metadata"] == {}
        assert (await http.get(f"/v1/threads/{b}/messages/{msg_b}")).status_code == 200


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.anyio
async def test_uploaded_file_names_cannot_escape_the_storage_directory(tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    names = [
        "../escaped.txt",
        "../../escaped.txt",
        str(tmp_path / "absolute-escaped.txt"),
        "..\\..\\escaped-win.txt",
        "%2e%2e%2fescaped.txt",
        "sub/../../escaped.txt",
        "\x00escaped.txt",
        "x" * 300,
    ]
    async with served(db=storage / "runs.db") as (_, http):
        for name in names:
            response = await http.post(
                "/v1/files", files={"file": (name, b"payload")}, data={"purpose": "assistants"}
            )
            assert_api_answer(response)
            if response.status_code == 200:
                content = await http.get(f"/v1/files/{response.json()['id']}/content")
                assert content.content == b"payload"

    assert files_under(tmp_path) == ["storage"] + [
        f"storage/{name}" for name in sorted(p.name for p in storage.iterdir())
    ]
    assert all(p.name.startswith("runs.db") for p in storage.iterdir())


@pytest.mark.anyio
async def test_the_api_key_appears_in_no_log_span_or_output(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caplog.set_level(logging.DEBUG)
    app = create_app(scenario=SCENARIO, api_key=SECRET)
    registry = ToolRegistry()

    @registry.tool
    async def echo(text: str) -> str:
        """Echo."""
        return text

    client = inprocess_client(app, api_key=SECRET)
    wrong = inprocess_client(app, api_key=SECRET + "-wrong")
    async with client, wrong:
        assistant = await client.beta.assistants.create(model="gpt-4o")
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        instrumentation = OpenTelemetryInstrumentation(
            tracer_provider=provider, capture_content=True
        )
        result = await Runner(client, registry, instrumentation=instrumentation).run(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert result.output_text == "said a"
        with pytest.raises(Exception, match="401"):
            await Runner(wrong, registry, instrumentation=instrumentation).run(
                thread_id=thread.id, assistant_id=assistant.id
            )
    await app.state.engine.aclose()
    provider.shutdown()

    spans = exporter.get_finished_spans()
    texts = [span.to_json() for span in spans]
    texts += [f"{record.getMessage()} {record.__dict__!r}" for record in caplog.records]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    report(
        "Security: secrets",
        [
            ("spans searched", len(spans)),
            ("log records searched (DEBUG)", len(caplog.records)),
            ("occurrences of the key", sum(text.count(SECRET) for text in texts)),
        ],
    )
    assert spans and caplog.records
    assert not [text[:300] for text in texts if SECRET in text]
