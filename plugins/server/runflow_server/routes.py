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

from .assistant_files import assistant_file_routes
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
from .file_search import vector_store_routes
from .file_search.resources import attach_messages, with_real_stores
from .file_search.tool import step_view
from .files import file_routes
from .records import Assistant, Message, Run, Step, Thread
from .routing import Handler, delete, endpoint, page, respond
from .sse import event_stream
from .views import View, view_of

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


def _stream(
    request: Request, body: RunBody | ThreadAndRunBody | SubmitToolOutputsBody
) -> View | None:
    """The view of the event stream the request asks for; None when it asks for none."""
    return view_of(request.scope) if body.stream else None


def _run_response(
    request: Request,
    run: Run,
    subscription: Subscription | None,
    first: tuple[Event, ...] = (),
) -> Response:
    if subscription is not None:
        return StreamingResponse(
            event_stream(subscription, first=first), media_type="text/event-stream; charset=utf-8"
        )
    return respond(request, run, headers={"openai-poll-after-ms": POLL_AFTER_MS})


async def create_assistant(request: Request, engine: RunEngine) -> Response:
    body = parse_body(AssistantBody, await request.body())
    body = with_real_stores(engine, body, param="tool_resources", for_thread=False)
    return respond(request, engine.catalog.create_assistant(body))


async def list_assistants(request: Request, engine: RunEngine) -> Response:
    return page(request, engine, Assistant, None)


async def retrieve_assistant(request: Request, engine: RunEngine) -> Response:
    return respond(request, engine.assistant(request.path_params["assistant_id"]))


async def update_assistant(request: Request, engine: RunEngine) -> Response:
    body = parse_body(AssistantUpdateBody, await request.body())
    assistant_id = request.path_params["assistant_id"]
    body = with_real_stores(engine, body, param="tool_resources", for_thread=False)
    return respond(request, engine.catalog.update_assistant(assistant_id, body))


async def delete_assistant(request: Request, engine: RunEngine) -> Response:
    return delete(engine, engine.assistant(request.path_params["assistant_id"]))


def _new_thread(request: Request, engine: RunEngine, body: ThreadBody) -> Thread:
    """A thread with its messages; `vector_stores` helpers and file-search attachments made real,
    all in one transaction."""
    body = with_real_stores(engine, body, param="tool_resources", for_thread=True)
    with engine.store.transaction():
        thread = engine.catalog.create_thread(body, project=request.path_params.get("project"))
        return attach_messages(engine, thread, body.messages or [])


async def create_thread(request: Request, engine: RunEngine) -> Response:
    body = parse_body(ThreadBody, await request.body())
    return respond(request, _new_thread(request, engine, body))


async def retrieve_thread(request: Request, engine: RunEngine) -> Response:
    return respond(request, engine.thread(request.path_params["thread_id"]))


async def update_thread(request: Request, engine: RunEngine) -> Response:
    body = parse_body(ThreadUpdateBody, await request.body())
    body = with_real_stores(engine, body, param="tool_resources", for_thread=True)
    return respond(request, engine.catalog.update_thread(request.path_params["thread_id"], body))


async def delete_thread(request: Request, engine: RunEngine) -> Response:
    return delete(engine, engine.thread(request.path_params["thread_id"]))


async def create_message(request: Request, engine: RunEngine) -> Response:
    body = parse_body(MessageBody, await request.body())
    with engine.store.transaction():  # the message and its file-search attachments, or neither
        message = engine.add_message(request.path_params["thread_id"], body)
        attach_messages(engine, engine.thread(message.thread_id), [body])
    return respond(request, message)


async def list_messages(request: Request, engine: RunEngine) -> Response:
    thread_id = engine.thread(request.path_params["thread_id"]).id
    run_id = request.query_params.get("run_id")
    return page(request, engine, Message, thread_id, {"run_id": run_id} if run_id else None)


def _message(request: Request, engine: RunEngine) -> Message:
    params = request.path_params
    return engine.catalog.message(params["thread_id"], params["message_id"])


async def retrieve_message(request: Request, engine: RunEngine) -> Response:
    return respond(request, _message(request, engine))


async def update_message(request: Request, engine: RunEngine) -> Response:
    body = parse_body(MetadataBody, await request.body())
    params = request.path_params
    message = engine.catalog.update_message(params["thread_id"], params["message_id"], body)
    return respond(request, message)


async def delete_message(request: Request, engine: RunEngine) -> Response:
    return delete(engine, _message(request, engine))


async def create_run(request: Request, engine: RunEngine) -> Response:
    include = _check_include(request)
    body = parse_body(RunBody, await request.body())
    run, subscription = engine.create_run(
        request.path_params["thread_id"], body, subscribe=_stream(request, body), include=include
    )
    attach_messages(engine, engine.thread(run.thread_id), body.additional_messages or [])
    return _run_response(request, run, subscription)


async def create_thread_and_run(request: Request, engine: RunEngine) -> Response:
    body = parse_body(ThreadAndRunBody, await request.body())
    engine.assistant(body.assistant_id)
    thread_body = body.thread or ThreadBody()
    if body.tool_resources is not None:
        thread_body = thread_body.model_copy(update={"tool_resources": body.tool_resources})
    thread = _new_thread(request, engine, thread_body)
    stream = _stream(request, body)
    run, subscription = engine.create_run(thread.id, body, subscribe=stream)
    first = Event.of("thread.created", thread, stream or "v2")
    return _run_response(request, run, subscription, (first,))


async def list_runs(request: Request, engine: RunEngine) -> Response:
    thread_id = engine.thread(request.path_params["thread_id"]).id
    engine.active_run(thread_id)  # expires the overdue ones before they are listed
    return page(request, engine, Run, thread_id)


async def retrieve_run(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    return _run_response(request, engine.run(params["thread_id"], params["run_id"]), None)


async def update_run(request: Request, engine: RunEngine) -> Response:
    body = parse_body(MetadataBody, await request.body())
    params = request.path_params
    run = engine.update_run(params["thread_id"], params["run_id"], body)
    return _run_response(request, run, None)


async def submit_tool_outputs(request: Request, engine: RunEngine) -> Response:
    body = parse_body(SubmitToolOutputsBody, await request.body())
    params = request.path_params
    run, subscription = engine.submit_tool_outputs(
        params["thread_id"], params["run_id"], body, subscribe=_stream(request, body)
    )
    return _run_response(request, run, subscription)


async def cancel_run(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    return _run_response(request, engine.cancel_run(params["thread_id"], params["run_id"]), None)


async def list_run_steps(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    shown = step_view(_check_include(request))
    run = engine.run(params["thread_id"], params["run_id"])
    return page(request, engine, Step, run.id, render=shown)


async def retrieve_run_step(request: Request, engine: RunEngine) -> Response:
    params = request.path_params
    shown = step_view(_check_include(request))
    run = engine.run(params["thread_id"], params["run_id"])
    step = engine.get(Step, params["step_id"], parent=run.id)
    return JSONResponse(shown(step.to_wire(view_of(request.scope))))


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
        for method, path, handler in (
            TABLE + file_routes() + vector_store_routes() + assistant_file_routes()
        )
    ]
