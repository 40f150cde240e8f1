"""The HTTP routes of the Assistants API: parse the request, call the engine, shape the response.

`routes()` is the one table of them; `app.py` mounts it under `/v1`, `/openai` and
`/api/projects/{project}`. Files are in `files.py`.

Handlers stay small: bodies are validated by the models in `bodies.py`, every rule about runs
lives in `engine.py`, and errors become the API's error shape in `routing.endpoint`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .bodies import (
    AssistantBody,
    AssistantUpdateBody,
    MessageBody,
    MetadataBody,
    RunBody,
    SubmitToolOutputsBody,
    ThreadAndRunBody,
    ThreadBody,
    ThreadUpdateBody,
    parse_body,
)
from .engine import RunEngine
from .errors import bad_request
from .events import Event, Subscription
from .files import file_routes
from .objects import (
    assistant_object,
    assistant_update,
    thread_object,
    tool_resources_object,
    user_message_object,
)
from .routing import Handler, delete, endpoint, page
from .sse import event_stream

__all__ = ["routes"]

JSON = dict[str, Any]

# How long a client polling a run should wait before asking again.
POLL_AFTER_MS = "200"
# The one value the `include[]` query of runs and run steps takes (accepted, never filled).
INCLUDABLE = "step_details.tool_calls[*].file_search.results[*].content"


def _check_include(request: Request) -> list[str]:
    """The request's `include[]` values; 400 for one the API does not know."""
    values = request.query_params.getlist("include[]")
    for value in values:
        if value != INCLUDABLE:
            raise bad_request(
                f"Invalid value: '{value}'. Supported values are: '{INCLUDABLE}'.",
                param="include[]",
                code="invalid_value",
            )
    return values


def _run_response(
    run: JSON, subscription: Subscription | None, first: tuple[Event, ...] = ()
) -> Response:
    if subscription is not None:
        return StreamingResponse(
            event_stream(subscription, first=first), media_type="text/event-stream; charset=utf-8"
        )
    return JSONResponse(run, headers={"openai-poll-after-ms": POLL_AFTER_MS})


async def create_assistant(request: Request, engine: RunEngine) -> Response:
    body = parse_body(AssistantBody, await request.body())
    engine.brains.check_metadata(body.metadata)
    assistant = assistant_object(body, created_at=engine.now())
    engine.store.insert("assistants", assistant)
    return JSONResponse(assistant)


async def list_assistants(request: Request, engine: RunEngine) -> Response:
    return page(request, engine, "assistants", None)


async def retrieve_assistant(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(engine.assistant(request.path_params["assistant_id"]))


async def update_assistant(request: Request, engine: RunEngine) -> Response:
    assistant = engine.assistant(request.path_params["assistant_id"])
    body = parse_body(AssistantUpdateBody, await request.body())
    engine.brains.check_metadata(body.metadata)
    updated = assistant_update(assistant, body)
    engine.store.save("assistants", updated)
    return JSONResponse(updated)


async def delete_assistant(request: Request, engine: RunEngine) -> Response:
    return delete(engine, "assistants", engine.assistant(request.path_params["assistant_id"]))


def _new_thread(engine: RunEngine, body: ThreadBody) -> JSON:
    now = engine.now()
    engine.check_attachments(body.messages or [])
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


async def update_thread(request: Request, engine: RunEngine) -> Response:
    thread = engine.thread(request.path_params["thread_id"])
    body = parse_body(ThreadUpdateBody, await request.body())
    if body.tool_resources is not None:
        thread["tool_resources"] = tool_resources_object(body.tool_resources)
    if body.metadata is not None:
        thread["metadata"] = body.metadata
    engine.store.save("threads", thread)
    return JSONResponse(thread)


async def delete_thread(request: Request, engine: RunEngine) -> Response:
    return delete(engine, "threads", engine.thread(request.path_params["thread_id"]))


async def create_message(request: Request, engine: RunEngine) -> Response:
    body = parse_body(MessageBody, await request.body())
    return JSONResponse(engine.add_message(request.path_params["thread_id"], body))


async def list_messages(request: Request, engine: RunEngine) -> Response:
    thread_id = engine.thread(request.path_params["thread_id"])["id"]
    run_id = request.query_params.get("run_id")
    return page(request, engine, "messages", thread_id, {"run_id": run_id} if run_id else None)


def _message(request: Request, engine: RunEngine) -> JSON:
    thread_id = engine.thread(request.path_params["thread_id"])["id"]
    return engine.get("messages", request.path_params["message_id"], parent=thread_id)


async def retrieve_message(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(_message(request, engine))


async def update_message(request: Request, engine: RunEngine) -> Response:
    message = _message(request, engine)
    body = parse_body(MetadataBody, await request.body())
    if body.metadata is not None:
        message["metadata"] = body.metadata
        engine.store.save("messages", message)
    return JSONResponse(message)


async def delete_message(request: Request, engine: RunEngine) -> Response:
    return delete(engine, "messages", _message(request, engine))


async def create_run(request: Request, engine: RunEngine) -> Response:
    include = _check_include(request)
    body = parse_body(RunBody, await request.body())
    run, subscription = engine.create_run(
        request.path_params["thread_id"], body, subscribe=bool(body.stream), include=include
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
    return page(request, engine, "runs", thread_id)


async def retrieve_run(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    return _run_response(engine.run(params["thread_id"], params["run_id"]), None)


async def update_run(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    run = engine.run(params["thread_id"], params["run_id"])
    body = parse_body(MetadataBody, await request.body())
    if body.metadata is not None:
        run["metadata"] = body.metadata
        engine.store.save("runs", run)
    return _run_response(run, None)


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
    _check_include(request)
    run = engine.run(params["thread_id"], params["run_id"])
    return page(request, engine, "run_steps", run["id"])


async def retrieve_run_step(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    _check_include(request)
    run = engine.run(params["thread_id"], params["run_id"])
    return JSONResponse(engine.get("run_steps", params["step_id"], parent=run["id"]))


_ASSISTANTS = "/assistants/{assistant_id}"
_THREAD = "/threads/{thread_id}"
_MESSAGE = _THREAD + "/messages/{message_id}"
_RUN = _THREAD + "/runs/{run_id}"

TABLE: list[tuple[str, str, Handler]] = [
    ("POST", "/assistants", create_assistant),
    ("GET", "/assistants", list_assistants),
    ("GET", _ASSISTANTS, retrieve_assistant),
    ("POST", _ASSISTANTS, update_assistant),
    ("DELETE", _ASSISTANTS, delete_assistant),
    ("POST", "/threads", create_thread),
    ("POST", "/threads/runs", create_thread_and_run),
    ("GET", _THREAD, retrieve_thread),
    ("POST", _THREAD, update_thread),
    ("DELETE", _THREAD, delete_thread),
    ("POST", _THREAD + "/messages", create_message),
    ("GET", _THREAD + "/messages", list_messages),
    ("GET", _MESSAGE, retrieve_message),
    ("POST", _MESSAGE, update_message),
    ("DELETE", _MESSAGE, delete_message),
    ("POST", _THREAD + "/runs", create_run),
    ("GET", _THREAD + "/runs", list_runs),
    ("GET", _RUN, retrieve_run),
    ("POST", _RUN, update_run),
    ("POST", _RUN + "/submit_tool_outputs", submit_tool_outputs),
    ("POST", _RUN + "/cancel", cancel_run),
    ("GET", _RUN + "/steps", list_run_steps),
    ("GET", _RUN + "/steps/{step_id}", retrieve_run_step),
]


def routes() -> list[Route]:
    """Every route of the API, without a prefix."""
    return [
        Route(path, endpoint(handler), methods=[method])
        for method, path, handler in TABLE + file_routes()
    ]
