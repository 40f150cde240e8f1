"""Contract tests: schemathesis against the official OpenAPI spec's Assistants and Files operations.

Each operation gets a fixed number of derandomized cases, positive (valid per the spec) and
negative (invalid per the spec), sent in-process to the ASGI app. Every response must be a non-5xx
that fits the (patched, `openapi.py`) spec: its status, content type and body schema; invalid
input must be refused with a 4xx in the API's error shape.

The spec has no links between operations, so the ids in paths are chained by hand: a `World` of
real objects is made first (an assistant with a function tool, a file, an idle thread with a
message and a finished run, a busy thread whose run waits in requires_action) and every case's
path parameters name them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.applications import Starlette

from runflow_server import create_app

from .openapi import assistants_spec, operations

CASES = 12  # per operation and mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
TOOL = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}
OPERATION_IDS = sorted(op["operationId"] for op in operations(assistants_spec()))
# Operations on the busy thread (its run waits for tool outputs); the rest use the idle one.
ON_BUSY_RUN = {"cancelRun", "submitToolOuputsToRun", "getRunStep", "listRunSteps"}


@dataclass
class World:
    ids: dict[str, str]
    busy: dict[str, str]


@pytest.fixture(scope="module")
def schema() -> Iterator[OpenApiSchema]:
    loaded = schemathesis.openapi.from_dict(assistants_spec())
    yield loaded
    asgi.shutdown_lifespans()


def make_world(app: Starlette) -> World:
    with asgi.get_client(app) as http:

        def post(path: str, **body: Any) -> dict[str, Any]:
            response = http.post(f"/v1{path}", json=body)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        assistant = post("/assistants", model="gpt-4o", tools=[TOOL])
        upload = http.post(
            "/v1/files", files={"file": ("a.txt", b"hello")}, data={"purpose": "assistants"}
        )
        thread = post("/threads", messages=[{"role": "user", "content": "Hi"}])
        message = post(f"/threads/{thread['id']}/messages", role="user", content="Again")
        run = http.post(
            f"/v1/threads/{thread['id']}/runs",
            json={"assistant_id": assistant["id"], "stream": True},
        )
        busy_thread = post("/threads", messages=[{"role": "user", "content": "Ping"}])
        busy_run = http.post(
            f"/v1/threads/{busy_thread['id']}/runs",
            json={"assistant_id": assistant["id"], "stream": True, "tool_choice": "required"},
        )
        assert "thread.run.requires_action" in busy_run.text
        steps = http.get(f"/v1/threads/{busy_thread['id']}/runs/{_run_id(busy_run.text)}/steps")
        ids = {
            "assistant_id": assistant["id"],
            "file_id": upload.json()["id"],
            "thread_id": thread["id"],
            "message_id": message["id"],
            "run_id": _run_id(run.text),
        }
        busy = {
            **ids,
            "thread_id": busy_thread["id"],
            "run_id": _run_id(busy_run.text),
            "step_id": steps.json()["data"][0]["id"],
        }
        return World(ids=ids, busy=busy)


def _run_id(stream: str) -> str:
    for line in stream.splitlines():
        if line.startswith("data: {") and '"thread.run"' in line:
            return str(schemathesis.core.deserialization.json.loads(line[6:])["id"])
    raise AssertionError(f"no run in the stream: {stream[:200]}")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_operation_keeps_the_contract(
    schema: OpenApiSchema, operation_id: str, mode: GenerationMode
) -> None:
    app = create_app()
    world = make_world(app)
    operation = schema.find_operation_by_id(operation_id)
    names = {p.name for p in operation.path_parameters}
    ids = world.busy if operation_id in ON_BUSY_RUN else world.ids
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters={name: ids[name] for name in names}
    )

    @given(data=st.data())
    @settings(
        max_examples=CASES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(data: st.DataObject) -> None:
        case = data.draw(strategy)
        response = case.call(app=app)
        case.validate_response(response, checks=CHECKS)

    check()
