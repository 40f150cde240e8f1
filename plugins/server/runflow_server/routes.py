"""The HTTP routes under `/v1`: parse the request, call the engine, shape the response.

Handlers stay small: bodies are validated by the models in `bodies.py`, every rule about runs
lives in `engine.py`, and `endpoint` turns an `APIError` (or, as a last resort, any exception)
into the API's error shape, so bad input never becomes a crash or a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .bodies import (
    AssistantBody,
    MessageBody,
    RunBody,
    SubmitToolOutputsBody,
    ThreadAndRunBody,
    ThreadBody,
    parse_body,
)
from .engine import RunEngine
from .errors import APIError, bad_request, error_body, not_found
from .events import Event, Subscription
from .objects import assistant_object, page_object, thread_object, user_message_object
from .sse import event_stream
from .store import Kind

__all__ = ["routes"]

JSON = dict[str, Any]
Handler = Callable[[Request, RunEngine], Awaitable[Response]]
log = logging.getLogger(__name__)

# How long a client polling a run should wait before asking again.
POLL_AFTER_MS = "200"


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            return await handler(request, request.app.state.engine)
        except APIError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            body = error_body(
                "The server had an error processing your request.", type="server_error"
            )
            return JSONResponse(body, status_code=500)

    return run


def _run_response(
    run: JSON, subscription: Subscription | None, first: tuple[Event, ...] = ()
) -> Response:
    if subscription is not None:
        return StreamingResponse(
            event_stream(subscription, first=first), media_type="text/event-stream; charset=utf-8"
        )
    return JSONResponse(run, headers={"openai-poll-after-ms": POLL_AFTER_MS})


def _page(request: Request, engine: RunEngine, kind: Kind, parent: str) -> Response:
    query = request.query_params
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise bad_request("Invalid 'limit': expected an integer from 1 to 100.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("Invalid 'order': expected 'asc' or 'desc'.", param="order")
    direction: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"
    try:
        page = engine.store.page(
            kind,
            parent,
            limit=limit,
            order=direction,
            after=query.get("after"),
            before=query.get("before"),
        )
    except KeyError as exc:
        name = exc.args[0]
        raise bad_request(f"Invalid '{name}': no such object in this list.", param=name) from exc
    return JSONResponse(page_object(page.data, has_more=page.has_more))


async def create_assistant(request: Request, engine: RunEngine) -> Response:
    body = parse_body(AssistantBody, await request.body())
    engine.brains.check_metadata(body.metadata)
    assistant = assistant_object(body, created_at=engine.now())
    engine.store.insert("assistants", assistant)
    return JSONResponse(assistant)


async def retrieve_assistant(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(engine.assistant(request.path_params["assistant_id"]))


def _new_thread(engine: RunEngine, body: ThreadBody) -> JSON:
    now = engine.now()
    thread = thread_object(body, created_at=now)
    with engine.store.transaction():
        engine.store.insert("threads", thread)
        for message in body.messages or []:
            engine.store.insert(
                "messages",
                user_message_object(thread["id"], message, created_at=now),
                parent=thread["id"],
            )
    return thread


async def create_thread(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(_new_thread(engine, parse_body(ThreadBody, await request.body())))


async def retrieve_thread(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(engine.thread(request.path_params["thread_id"]))


async def create_message(request: Request, engine: RunEngine) -> Response:
    body = parse_body(MessageBody, await request.body())
    return JSONResponse(engine.add_message(request.path_params["thread_id"], body))


async def list_messages(request: Request, engine: RunEngine) -> Response:
    thread_id = engine.thread(request.path_params["thread_id"])["id"]
    return _page(request, engine, "messages", thread_id)


async def retrieve_message(request: Request, engine: RunEngine) -> Response:
    thread_id = engine.thread(request.path_params["thread_id"])["id"]
    message_id = request.path_params["message_id"]
    message = engine.store.get("messages", message_id, parent=thread_id)
    if message is None:
        raise not_found("message", message_id)
    return JSONResponse(message)


async def create_run(request: Request, engine: RunEngine) -> Response:
    body = parse_body(RunBody, await request.body())
    run, subscription = engine.create_run(
        request.path_params["thread_id"], body, subscribe=bool(body.stream)
    )
    return _run_response(run, subscription)


async def create_thread_and_run(request: Request, engine: RunEngine) -> Response:
    body = parse_body(ThreadAndRunBody, await request.body())
    engine.assistant(body.assistant_id)
    thread_body = body.thread or ThreadBody()
    if body.tool_resources is not None:
        thread_body = thread_body.model_copy(update={"tool_resources": body.tool_resources})
    thread = _new_thread(engine, thread_body)
    run, subscription = engine.create_run(thread["id"], body, subscribe=bool(body.stream))
    return _run_response(run, subscription, (Event.of("thread.created", thread),))


async def list_runs(request: Request, engine: RunEngine) -> Response:
    thread_id = engine.thread(request.path_params["thread_id"])["id"]
    engine.refresh_thread_runs(thread_id)
    return _page(request, engine, "runs", thread_id)


async def retrieve_run(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    return _run_response(engine.run(params["thread_id"], params["run_id"]), None)


async def submit_tool_outputs(request: Request, engine: RunEngine) -> Response:
    body = parse_body(SubmitToolOutputsBody, await request.body())
    params = request.path_params
    run, subscription = engine.submit_tool_outputs(
        params["thread_id"], params["run_id"], body, subscribe=bool(body.stream)
    )
    return _run_response(run, subscription)


async def cancel_run(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    return _run_response(engine.cancel_run(params["thread_id"], params["run_id"]), None)


async def list_run_steps(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    run = engine.run(params["thread_id"], params["run_id"])
    return _page(request, engine, "run_steps", run["id"])


async def retrieve_run_step(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    run = engine.run(params["thread_id"], params["run_id"])
    step = engine.store.get("run_steps", params["step_id"], parent=run["id"])
    if step is None:
        raise not_found("run step", params["step_id"])
    return JSONResponse(step)


def routes(prefix: str = "/v1") -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("POST", "/assistants", create_assistant),
        ("GET", "/assistants/{assistant_id}", retrieve_assistant),
        ("POST", "/threads", create_thread),
        ("POST", "/threads/runs", create_thread_and_run),
        ("GET", "/threads/{thread_id}", retrieve_thread),
        ("POST", "/threads/{thread_id}/messages", create_message),
        ("GET", "/threads/{thread_id}/messages", list_messages),
        ("GET", "/threads/{thread_id}/messages/{message_id}", retrieve_message),
        ("POST", "/threads/{thread_id}/runs", create_run),
        ("GET", "/threads/{thread_id}/runs", list_runs),
        ("GET", "/threads/{thread_id}/runs/{run_id}", retrieve_run),
        ("POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", submit_tool_outputs),
        ("POST", "/threads/{thread_id}/runs/{run_id}/cancel", cancel_run),
        ("GET", "/threads/{thread_id}/runs/{run_id}/steps", list_run_steps),
        ("GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}", retrieve_run_step),
    ]
    return [
        Route(prefix + path, endpoint(handler), methods=[method]) for method, path, handler in table
    ]
