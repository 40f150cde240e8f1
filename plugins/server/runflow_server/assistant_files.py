"""Assistants v1's assistant files (`/assistants/{assistant_id}/files`), served under the v1 view
only (`views.py`); under v2 they answer as any unknown URL.

v1 attached a file to an assistant for both its tools; v2 keeps such files in its
`tool_resources`. These routes are a view over the same assistant: a file attached here joins
`tool_resources.code_interpreter.file_ids` (the `file_ids` a v1 assistant shows) and, when the
assistant has file search, its vector store (made on the first attach if it has none);
detaching takes it out of both. An `assistant.file`'s `created_at` is the file's upload time
(no attach time is kept); the list is in attach order (`order=asc`), paged as every list.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .bodies import AssistantFileBody, parse_body
from .engine import RunEngine
from .errors import APIError, not_found
from .file_search import FileSearch
from .file_search.records import VectorStore
from .records import Assistant, File
from .routing import Handler, page_of
from .views import view_of

__all__ = ["assistant_file_routes"]

JSON = dict[str, Any]


def _v1_only(request: Request) -> None:
    if view_of(request.scope) != "v1":
        raise APIError(404, f"Invalid URL ({request.method} {request.url.path})")


def _wire(assistant: Assistant, file: File) -> JSON:
    return {
        "id": file.id,
        "object": "assistant.file",
        "created_at": file.created_at,
        "assistant_id": assistant.id,
    }


def _file_ids(assistant: Assistant) -> list[str]:
    code = assistant.tool_resources.get("code_interpreter") or {}
    file_ids: list[str] = code.get("file_ids", [])
    return file_ids


def _files(engine: RunEngine, assistant: Assistant) -> list[File]:
    """The attached files that still exist (a deleted file stays named until detached)."""
    found = [engine.store.get(File, file_id) for file_id in _file_ids(assistant)]
    return [file for file in found if file is not None]


def _search_store(engine: RunEngine, assistant: Assistant) -> tuple[FileSearch, VectorStore] | None:
    """The file search service and the assistant's vector store, if it has one."""
    ids = (assistant.tool_resources.get("file_search") or {}).get("vector_store_ids") or []
    service = FileSearch.of(engine.store, engine.clock.now)
    store = service.tables.get_store(ids[0]) if ids else None
    return None if store is None else (service, store)


def _searchable(engine: RunEngine, assistant: Assistant, file_id: str) -> None:
    """Put a newly attached file in the assistant's vector store; a file search assistant
    without one gets one (as v1 `file_ids` with `retrieval` make it at creation)."""
    found = _search_store(engine, assistant)
    if found is not None:
        service, store = found
        if service.tables.get_file(store.id, file_id) is None:
            service.add_file(store, file_id)
        return
    if not any(tool.get("type") == "file_search" for tool in assistant.tools):
        return
    service = FileSearch.of(engine.store, engine.clock.now)
    store = service.create_store(name="", metadata={}, expires_after_days=None)
    service.add_file(store, file_id)
    search = {**(assistant.tool_resources.get("file_search") or {}), "vector_store_ids": [store.id]}
    resources = {**assistant.tool_resources, "file_search": search}
    engine.store.put(assistant.model_copy(update={"tool_resources": resources}))


async def create_assistant_file(request: Request, engine: RunEngine) -> Response:
    _v1_only(request)
    body = parse_body(AssistantFileBody, await request.body())
    with engine.store.transaction():  # the file in both places, or in neither
        assistant = engine.catalog.attach_file(request.path_params["assistant_id"], body.file_id)
        _searchable(engine, assistant, body.file_id)
    file = engine.store.get(File, body.file_id)
    assert file is not None  # attach_file checked it
    return JSONResponse(_wire(assistant, file))


def _attached(request: Request, engine: RunEngine) -> tuple[Assistant, str]:
    """The assistant and the id of one of its files; 404 for a file it does not name."""
    _v1_only(request)
    assistant = engine.assistant(request.path_params["assistant_id"])
    file_id = request.path_params["file_id"]
    if file_id not in _file_ids(assistant):
        raise not_found("file", file_id)
    return assistant, file_id


async def list_assistant_files(request: Request, engine: RunEngine) -> Response:
    _v1_only(request)
    assistant = engine.assistant(request.path_params["assistant_id"])
    return page_of(request, [_wire(assistant, file) for file in _files(engine, assistant)])


async def retrieve_assistant_file(request: Request, engine: RunEngine) -> Response:
    assistant, file_id = _attached(request, engine)
    file = engine.store.get(File, file_id)
    if file is None:
        raise not_found("file", file_id)
    return JSONResponse(_wire(assistant, file))


async def delete_assistant_file(request: Request, engine: RunEngine) -> Response:
    """Detach a file the assistant names, deleted or not."""
    assistant, file_id = _attached(request, engine)
    engine.catalog.attach_file(assistant.id, file_id, attach=False)
    found = _search_store(engine, assistant)
    if found is not None and found[0].tables.get_file(found[1].id, file_id) is not None:
        found[0].delete_file(found[1].id, file_id)
    return JSONResponse({"id": file_id, "object": "assistant.file.deleted", "deleted": True})


def assistant_file_routes() -> list[tuple[str, str, Handler]]:
    files = "/assistants/{assistant_id}/files"
    return [
        ("POST", files, create_assistant_file),
        ("GET", files, list_assistant_files),
        ("GET", files + "/{file_id}", retrieve_assistant_file),
        ("DELETE", files + "/{file_id}", delete_assistant_file),
    ]
