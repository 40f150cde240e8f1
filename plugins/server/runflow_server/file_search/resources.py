"""`tool_resources.file_search` of assistants and threads, and message attachments.

- The `vector_stores` helper (`{"vector_stores": [{"file_ids", "chunking_strategy",
  "metadata"}]}`) creates a real store with those files; the object then shows its id in
  `vector_store_ids`, as the hosted API answered.
- An assistant or a thread has at most one vector store (ids and helpers together), refused
  otherwise with the hosted API's text; an id must name an existing store.
- A thread's stores made by the helper or by attachments expire 7 days after their last use.
- A message attachment with the `file_search` tool adds its file to the thread's store,
  creating that store when the thread has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from ..bodies import MessageBody, ToolResources
from ..clock import Clock
from ..errors import APIError, bad_request
from ..records import Thread
from ..store import Store
from .records import AUTO_CHUNKING, Chunking
from .service import FileSearch, NoSuchUpload

__all__ = [
    "THREAD_STORE_DAYS",
    "attach_files",
    "attach_messages",
    "resolve_file_search",
    "with_real_stores",
]

JSON = dict[str, Any]
Body = TypeVar("Body", bound=BaseModel)
THREAD_STORE_DAYS = 7


def _chunking(raw: Any) -> Chunking:
    if not isinstance(raw, dict) or raw.get("type") != "static":
        return AUTO_CHUNKING
    static = raw.get("static") or {}
    return Chunking(int(static["max_chunk_size_tokens"]), int(static["chunk_overlap_tokens"]))


def resolve_file_search(
    service: FileSearch, resources: JSON | None, *, param: str, for_thread: bool
) -> JSON | None:
    """`resources` (a `tool_resources` dict as the body gave it) with the `vector_stores`
    helper turned into real stores; a 400 / 404 before anything is created when it is wrong.

    Args:
        param: the request's name for `tool_resources` in error texts
            (`tool_resources`, `thread.tool_resources`).
        for_thread: stores made for a thread expire 7 days after their last use.
    """
    if not resources or not isinstance(resources.get("file_search"), dict):
        return resources
    search = dict(resources["file_search"])
    ids = list(search.get("vector_store_ids") or [])
    helpers = list(search.pop("vector_stores", None) or [])
    count = len(ids) + len(helpers)
    if count > 1:
        raise bad_request(
            f"Invalid '{param}.file_search.vector_store_ids': array too long. Expected an array"
            f" with maximum length 1, but got an array with length {count} instead.",
            param=f"{param}.file_search.vector_store_ids",
            code="array_above_max_length",
        )
    for store_id in ids:
        if service.tables.get_store(store_id) is None:
            raise APIError(404, f"No vector store found with id '{store_id}'.")
    for helper in helpers:
        file_ids = list(helper.get("file_ids") or [])
        _check_uploads(service, file_ids)
        store = service.create_store(
            name="", metadata=dict(helper.get("metadata") or {}),
            expires_after_days=THREAD_STORE_DAYS if for_thread else None,
        )  # fmt: skip
        for file_id in dict.fromkeys(file_ids):
            service.add_file(store, file_id, chunking=_chunking(helper.get("chunking_strategy")))
        ids.append(store.id)
    search["vector_store_ids"] = ids
    return {**resources, "file_search": search}


def _check_uploads(service: FileSearch, file_ids: Sequence[str]) -> None:
    for file_id in file_ids:
        try:
            service.upload(file_id)
        except NoSuchUpload as exc:
            raise APIError(404, f"No such File object: {file_id}", param="file_id") from exc


def attach_files(
    service: FileSearch, tool_resources: Mapping[str, Any], attachments: Sequence[JSON]
) -> JSON | None:
    """A thread's new `tool_resources` after a message's attachments for `file_search` were
    added to its store (made when it has none); None when no attachment is for file search."""
    file_ids = [
        item["file_id"]
        for item in attachments
        if any(tool.get("type") == "file_search" for tool in item.get("tools") or [])
    ]
    if not file_ids:
        return None
    _check_uploads(service, file_ids)
    resources: JSON = dict(tool_resources)
    search: JSON = dict(resources.get("file_search") or {})
    ids = list(search.get("vector_store_ids") or [])
    store = service.tables.get_store(ids[0]) if ids else None
    if store is None:
        store = service.create_store(name="", metadata={}, expires_after_days=THREAD_STORE_DAYS)
        ids = [store.id]
    for file_id in dict.fromkeys(file_ids):
        if service.tables.get_file(store.id, file_id) is None:
            service.add_file(store, file_id)
    search["vector_store_ids"] = ids
    resources["file_search"] = search
    return resources


class _Engine(Protocol):
    @property
    def store(self) -> Store: ...
    @property
    def clock(self) -> Clock: ...


def with_real_stores(engine: _Engine, body: Body, *, param: str, for_thread: bool) -> Body:
    """The body with its `tool_resources.file_search.vector_stores` helper made real stores."""
    resources: ToolResources | None = getattr(body, "tool_resources", None)
    if resources is None or resources.file_search is None:
        return body
    service = FileSearch.of(engine.store, engine.clock.now)
    resolved = resolve_file_search(
        service, resources.model_dump(exclude_none=True), param=param, for_thread=for_thread
    )
    return body.model_copy(update={"tool_resources": ToolResources.model_validate(resolved)})


def attach_messages(engine: _Engine, thread: Thread, messages: Iterable[MessageBody]) -> Thread:
    """Add the messages' `file_search` attachments to the thread's store (made if need be);
    the thread with its new `tool_resources`."""
    attachments = [item.model_dump() for m in messages for item in m.attachments or []]
    if not attachments:
        return thread
    service = FileSearch.of(engine.store, engine.clock.now)
    resources = attach_files(service, thread.tool_resources, attachments)
    if resources is None:
        return thread
    thread = thread.model_copy(update={"tool_resources": resources})
    engine.store.put(thread)
    return thread
