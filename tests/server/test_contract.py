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

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.schemas import APIOperation
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

KEY = "sk-contract"
CASES = int(os.environ.get("CONTRACT_CASES", "25"))  # per operation and mode
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


# (operation, mode, status) -> how many cases got it; checked by the last test.
STATUSES: Counter[tuple[str, str, int]] = Counter()


@dataclass
class World:
    """Real objects for the path ids (and body ids) of generated cases."""

    ids: dict[str, str]  # the idle thread: a user message, a finished run
    busy: dict[str, str]  # the busy thread: a run in requires_action, its tool_calls step
    call_id: str  # the tool call that run waits on

    def path_parameters(self, operation: APIOperation) -> dict[str, str]:
        ids = self.busy if operation.definition.raw["operationId"] in ON_BUSY_RUN else self.ids
        return {parameter.name: ids[parameter.name] for parameter in operation.path_parameters}

    def chain(self, node: Any) -> None:
        """Point the ids a valid body names (assistant, file, tool call) at real objects; tool
        outputs answer the one call the busy run waits on."""
        if isinstance(node, dict) and isinstance(node.get("tool_outputs"), list):
            outputs = node["tool_outputs"] or [{"output": "4"}]
            node["tool_outputs"] = [{**outputs[0], "tool_call_id": self.call_id}]
        if isinstance(node, list):
            for item in node:
                self.chain(item)
        elif isinstance(node, dict):
            for key in node.keys() & {"assistant_id", "file_id", "tool_call_id"}:
                node[key] = self.call_id if key == "tool_call_id" else self.ids[key]
            for value in node.values():
                self.chain(value)


@pytest.fixture(scope="module")
def schema() -> Iterator[OpenApiSchema]:
    yield schemathesis.openapi.from_dict(assistants_spec())
    asgi.shutdown_lifespans()


def make_world(app: Starlette) -> World:
    with asgi.get_client(app) as http:
        http.headers["Authorization"] = f"Bearer {KEY}"

        def post(path: str, **body: Any) -> dict[str, Any]:
            response = http.post(f"/v1{path}", json=body)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        def stream(path: str, **body: Any) -> dict[str, Any]:
            """The run at the end of a streamed run's events."""
            events = http.post(f"/v1{path}", json={**body, "stream": True}).text.split("\n\n")
            last_run = [e for e in events if e.startswith("event: thread.run.")][-1]
            return json.loads(last_run.split("data: ", 1)[1])  # type: ignore[no-any-return]

        assistant = post("/assistants", model="gpt-4o", tools=[TOOL])
        upload = http.post(
            "/v1/files", files={"file": ("a.txt", b"hello")}, data={"purpose": "assistants"}
        )
        thread = post("/threads", messages=[{"role": "user", "content": "Hi"}])
        message = post(f"/threads/{thread['id']}/messages", role="user", content="Again")
        run = stream(f"/threads/{thread['id']}/runs", assistant_id=assistant["id"])
        busy_thread = post("/threads", messages=[{"role": "user", "content": "Ping"}])
        busy_run = stream(
            f"/threads/{busy_thread['id']}/runs",
            assistant_id=assistant["id"],
            tool_choice="required",
        )
        steps = http.get(f"/v1/threads/{busy_thread['id']}/runs/{busy_run['id']}/steps").json()
    ids = {
        "assistant_id": assistant["id"],
        "file_id": upload.json()["id"],
        "thread_id": thread["id"],
        "message_id": message["id"],
        "run_id": run["id"],
    }
    busy = {
        **ids,
        "thread_id": busy_thread["id"],
        "run_id": busy_run["id"],
        "step_id": steps["data"][0]["id"],
    }
    call_id = busy_run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    return World(ids=ids, busy=busy, call_id=call_id)


def _auth(case: Case) -> dict[str, str] | None:
    """The server's key, unless this negative case is about a broken `Authorization` header."""
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if header is not None and header.mode.is_negative:
        return None
    return {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_operation_keeps_the_contract(
    schema: OpenApiSchema, operation_id: str, mode: GenerationMode
) -> None:
    app = create_app(api_key=KEY)
    world = make_world(app)
    operation = schema.find_operation_by_id(operation_id)
    # Negative cases of operations without a body break their path ids instead.
    fixed = mode.is_positive or operation.body
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=world.path_parameters(operation) if fixed else None
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
        if mode.is_positive:
            world.chain(case.body)
        response = case.call(app=app, headers=_auth(case))
        STATUSES[(operation_id, mode.value, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def test_every_operation_was_reached_and_refused() -> None:
    """The chained ids work: every operation tried answered a 2xx to some valid case, and
    a 4xx to some invalid one."""
    tried = {(operation, mode) for operation, mode, _ in STATUSES}
    for operation, mode in tried:
        statuses = {status for op, m, status in STATUSES if (op, m) == (operation, mode)}
        wanted = 200 if mode == "positive" else 400
        assert any(wanted <= status < wanted + 100 for status in statuses), (operation, mode)
