"""A server that says things no real server would: malformed SSE and malformed run objects.

A hand-written Starlette app serves the bytes of each case to the real `openai` client and the
Runner. For each, the run must end quickly (no hang) with a RunResult or a typed runflow error
(`RunflowError`; for an unreadable stream or run, a `ProtocolError`), never an exception from
deeper down (a KeyError, a JSONDecodeError, a pydantic error...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from openai import AsyncOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runflow import RetryPolicy, RunflowError, Runner, RunResult, ToolRegistry

from .support import report

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000


def run_json(status: str = "queued", **fields: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": "run_1",
        "object": "thread.run",
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "status": status,
        "created_at": NOW,
        "expires_at": NOW + 600,
        "model": "gpt-4o",
        "instructions": "",
        "tools": [],
        "metadata": {},
        "parallel_tool_calls": True,
        "required_action": None,
    }
    return {**run, **fields}


def requires(calls: Any) -> dict[str, Any]:
    return run_json(
        "requires_action",
        required_action={
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": calls},
        },
    )


def sse(*events: tuple[str, Any], done: bool = True) -> bytes:
    out = b""
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out += f"event: {name}\ndata: {text}\n\n".encode()
    return out + (b"event: done\ndata: [DONE]\n\n" if done else b"")


CREATED = ("thread.run.created", run_json())


@dataclass
class Case:
    stream: bytes
    """The body of the SSE answer to run creation."""
    run: Any = None
    """What retrieving the run answers (JSON, or raw text when a str); the run completed if None."""


CASES: dict[str, Case] = {
    "truncated line": Case(b'event: thread.run.created\ndata: {"id": "run_1", "obj'),
    "truncated event after the run": Case(
        sse(CREATED, done=False) + b'event: thread.run.requires_action\ndata: {"id": "ru'
    ),
    "unknown events only": Case(sse(("thread.run.exploded", {"id": "x"}), ("ping", "{}"))),
    "unknown events around the run": Case(
        sse(("mystery", {}), CREATED, ("thread.run.teleported", run_json("in_progress")))
    ),
    "invalid JSON in data": Case(sse(("thread.run.created", "{not json"))),
    "invalid JSON after the run": Case(sse(CREATED, ("thread.run.in_progress", "{not json"))),
    "data without event": Case(b"data: " + json.dumps(run_json()).encode() + b"\n\n"),
    "binary garbage": Case(b"\x00\xff\xfe event: \x80\n\ndata: \xc3\x28\n\n"),
    "run with no fields": Case(sse(("thread.run.created", {"object": "thread.run"}))),
    "run that is a list": Case(sse(("thread.run.created", [1, 2, 3]))),
    "unknown status": Case(sse(CREATED, ("thread.run.in_progress", run_json("exploding")))),
    "back from a terminal status": Case(
        sse(
            CREATED,
            ("thread.run.completed", run_json("completed")),
            ("thread.run.in_progress", run_json("in_progress")),
        ),
    ),
    "requires_action without the action": Case(
        sse(CREATED, ("thread.run.requires_action", run_json("requires_action")))
    ),
    "tool_calls not a list": Case(sse(CREATED, ("thread.run.requires_action", requires("many")))),
    "tool call without function": Case(
        sse(
            CREATED,
            ("thread.run.requires_action", requires([{"id": "call_1", "type": "function"}])),
        )
    ),
    "expires_at not a number": Case(
        sse(
            CREATED,
            (
                "thread.run.requires_action",
                {
                    **requires(
                        [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "echo", "arguments": "{}"},
                            }
                        ]
                    ),
                    "expires_at": "soon",
                },
            ),
        )
    ),
    "error event": Case(
        sse(CREATED, ("error", {"message": "boom", "type": "server_error", "code": None}))
    ),
    "error event with garbage": Case(sse(CREATED, ("error", "[1, 2"))),
    "stream ends, run unreadable": Case(sse(CREATED, done=False), run="<html>oops</html>"),
    "stream ends, run is a list": Case(sse(CREATED, done=False), run=[]),
    "stream ends, run has no status": Case(sse(CREATED, done=False), run={"id": "run_1"}),
}


def malformed_app(case: Case) -> Starlette:
    async def create(request: Request) -> Response:
        return Response(case.stream, media_type="text/event-stream")

    async def retrieve(request: Request) -> Response:
        if case.run is None:
            return JSONResponse(run_json("completed"))
        if isinstance(case.run, str):
            return Response(case.run, media_type="application/json")
        return JSONResponse(case.run)

    async def cancel(request: Request) -> Response:
        return JSONResponse(run_json("cancelled"))

    async def listing(request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        )

    async def submit(request: Request) -> Response:
        return JSONResponse(run_json("queued"))

    return Starlette(
        routes=[
            Route("/v1/threads/{t}/runs", create, methods=["POST"]),
            Route("/v1/threads/{t}/runs", listing, methods=["GET"]),
            Route("/v1/threads/{t}/runs/{r}", retrieve, methods=["GET"]),
            Route("/v1/threads/{t}/runs/{r}/cancel", cancel, methods=["POST"]),
            Route("/v1/threads/{t}/runs/{r}/submit_tool_outputs", submit, methods=["POST"]),
            Route("/v1/threads/{t}/messages", listing, methods=["GET"]),
        ]
    )


def echo_tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def echo(text: str = "") -> str:
        """Echo."""
        return text

    return registry


async def outcome_of(case: Case) -> RunResult | BaseException:
    app = malformed_app(case)
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://bad.test")
    async with AsyncOpenAI(
        base_url="http://bad.test/v1", api_key="x", http_client=http, max_retries=0
    ) as client:
        runner = Runner(
            client, echo_tools(), retry=RetryPolicy(max_attempts=2, initial_backoff=0.001)
        )
        try:
            with anyio.fail_after(10):
                return await runner.run(thread_id="thread_1", assistant_id="asst_1")
        except Exception as exc:
            return exc


SEEN: dict[str, str] = {}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_a_malformed_server_gives_a_typed_error_or_a_result(name: str) -> None:
    outcome = await outcome_of(CASES[name])

    SEEN[name] = (
        f"{outcome.status.value} run" if isinstance(outcome, RunResult) else type(outcome).__name__
    )
    report("Malformed server answers: what the Runner did", sorted(SEEN.items()))
    assert not isinstance(outcome, TimeoutError), "the Runner hung"
    assert isinstance(outcome, RunResult | RunflowError), repr(outcome)
