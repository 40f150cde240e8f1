"""The official OpenAPI description, cut down to the Assistants and Files operations and patched
for its known gaps (`/work/shared/specs/README.md`), ready for schemathesis.

Every patch below is a place where the spec disagrees with what the hosted API did (the
recordings in `/work/shared/fixtures/openai-recordings`), not a place where this server is let
off: the server must answer within the patched spec.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC = Path("/work/shared/specs/openai-openapi.yaml")
PREFIXES = ("/assistants", "/threads", "/files")
# Operations whose body has `stream: true`, answered with `text/event-stream`.
STREAMING = ("createRun", "createThreadAndRun", "submitToolOuputsToRun")
# Statuses the spec leaves out but the hosted API answers, in its error shape: 400 (invalid
# input), 401 (bad key), 404 (unknown id); `4XX` covers them all.
ERROR = {"$ref": "#/components/schemas/ErrorResponse"}

# One server-sent event, as schemathesis parses a stream (it checks every event of it).
SSE_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["event", "data"],
}

JSON = dict[str, Any]


@cache
def _load() -> JSON:
    loaded: JSON = yaml.load(SPEC.read_text(), Loader=yaml.CSafeLoader)
    return loaded


def assistants_spec() -> JSON:
    """A fresh copy of the patched spec (schemathesis keeps references into it)."""
    spec = copy.deepcopy(_load())
    spec["paths"] = {p: ops for p, ops in spec["paths"].items() if p.startswith(PREFIXES)}
    spec["servers"] = [{"url": "/v1"}]
    spec["components"] = _nullable(spec["components"])
    spec["paths"] = _nullable(spec["paths"])
    _null_list_ids(spec["components"]["schemas"])
    _patch_file(spec["components"]["schemas"]["OpenAIFile"])
    for operation in operations(spec):
        _add_error_responses(operation)
        if operation["operationId"] in STREAMING:
            content = operation["responses"]["200"]["content"]
            content["text/event-stream"] = {"schema": SSE_EVENT}
        if operation["operationId"] == "downloadFile":  # the spec says JSON; it is the bytes
            content = operation["responses"]["200"]["content"]
            content["application/octet-stream"] = {"schema": {"type": "string"}}
    return spec


def operations(spec: JSON) -> list[JSON]:
    return [
        operation
        for methods in spec["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` (still used here, in a 3.1 document) as 3.1 says it."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        return {"anyOf": [node, {"type": "null"}]}
    return node


def _null_list_ids(schemas: JSON) -> None:
    """`first_id` / `last_id` of list responses are null for an empty list (recorded)."""
    for schema in schemas.values():
        properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
        for name in ("first_id", "last_id"):
            if properties.get(name, {}).get("type") == "string":
                properties[name] = {**properties[name], "type": ["string", "null"]}


def _patch_file(schema: JSON) -> None:
    """A file's `expires_at` and `status_details` are null when unset (recorded), and its
    `purpose` may be `evals`, which the upload's own enum (and the recorded error text) allow."""
    properties = schema["properties"]
    for name in ("expires_at", "status_details"):
        properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
    properties["purpose"]["enum"].append("evals")


def _add_error_responses(operation: JSON) -> None:
    operation["responses"].setdefault(
        "4XX",
        {"description": "Error", "content": {"application/json": {"schema": ERROR}}},
    )
