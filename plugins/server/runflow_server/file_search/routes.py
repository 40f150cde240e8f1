"""The vector store routes (`/vector_stores/...`), mounted with the rest of the API.

Parse the whole request, look the objects up, ask `FileSearch` for one change, answer with
the record's wire shape. Lists page like every list of the API (`limit` 1-100, `order`,
`after`, `before`); a vector store's files can be filtered by status (`filter`). Unknown ids
are 404s in the API's words (`No vector store found with id 'vs_X'.`).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..engine import RunEngine
from ..errors import APIError, bad_request, not_found
from ..objects import page_object
from ..routing import Handler, unknown_cursor
from .records import FileBatch, FileStatus, VectorStore, VectorStoreFile
from .requests import (
    AttributesBody,
    BatchBody,
    FileBody,
    SearchBody,
    StoreBody,
    StoreUpdateBody,
    strategy,
)
from .search import Query
from .service import FileSearch, NoSuchUpload

__all__ = ["vector_store_routes"]

JSON = dict[str, Any]
Body = TypeVar("Body", bound=BaseModel)
_POLL_AFTER = {"openai-poll-after-ms": "50"}  # ingestion is quick here: poll soon


def parse(model: type[Body], raw: bytes) -> Body:
    """A request body, validated; a 400 naming the first bad parameter otherwise."""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise bad_request("We could not parse the JSON body of your request.") from exc
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        param = ".".join(str(part) for part in error["loc"] if _is_field(part))
        if error["type"] == "extra_forbidden":
            raise bad_request(
                f"Unrecognized request argument supplied: {param}", param=param
            ) from exc
        message = error["msg"].removeprefix("Value error, ")
        if not param:
            raise bad_request(f"Invalid request: {message}.") from exc
        raise bad_request(f"Invalid '{param}': {message}.", param=param) from exc


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list"})


def _is_field(part: object) -> bool:
    """Whether a pydantic error location part names a field or an index (not a union
    member's tag such as `ComparisonFilter` or `constrained-str`)."""
    if isinstance(part, int):
        return True
    text = str(part)
    return text not in _UNION_TAGS and re.fullmatch(r"[a-z_][A-Za-z0-9_]*", text) is not None


def _service(request: Request, engine: RunEngine) -> FileSearch:
    return FileSearch.of(engine.store, engine.clock.now)


def _store(service: FileSearch, request: Request) -> VectorStore:
    store_id = request.path_params["vector_store_id"]
    found = service.tables.get_store(store_id)
    if found is None:
        raise not_found("vector store", store_id)
    return found


def _file(service: FileSearch, request: Request) -> VectorStoreFile:
    store = _store(service, request)
    file_id = request.path_params["file_id"]
    found = service.tables.get_file(store.id, file_id)
    if found is None:
        raise APIError(404, f"No file found with id '{file_id}' in vector store '{store.id}'.")
    return found


def _batch(service: FileSearch, request: Request) -> FileBatch:
    store = _store(service, request)
    batch_id = request.path_params["batch_id"]
    found = service.tables.get_batch(store.id, batch_id)
    if found is None:
        raise not_found("file batch", batch_id)
    return found


def _no_upload(exc: NoSuchUpload) -> APIError:
    return APIError(404, f"No such File object: {exc.args[0]}", param="file_id")


def _paging(request: Request) -> tuple[int, Literal["asc", "desc"], str | None, str | None]:
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
    return limit, "asc" if order == "asc" else "desc", query.get("after"), query.get("before")


def _list(data: list[JSON], has_more: bool) -> Response:
    return JSONResponse(page_object(data, has_more=has_more))


async def create_store(request: Request, engine: RunEngine) -> Response:
    body = parse(StoreBody, await request.body())
    service = _service(request, engine)
    for file_id in body.file_ids or []:
        try:
            service.upload(file_id)
        except NoSuchUpload as exc:
            raise _no_upload(exc) from exc
    days = None if body.expires_after is None else body.expires_after.days
    store = service.create_store(
        name=body.name or "", metadata=body.metadata or {}, expires_after_days=days,
        description=body.description,
    )  # fmt: skip
    chunking = strategy(body.chunking_strategy)
    for file_id in dict.fromkeys(body.file_ids or []):
        service.add_file(store, file_id, chunking=chunking)
    return JSONResponse(service.wire(store), headers=_POLL_AFTER)


async def list_stores(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    try:
        stores, more = service.tables.page_stores(*_paging(request))
    except KeyError as exc:
        raise unknown_cursor(exc.args[0]) from exc
    return _list([service.wire(store) for store in stores], more)


async def retrieve_store(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    return JSONResponse(service.wire(_store(service, request)), headers=_POLL_AFTER)


async def update_store(request: Request, engine: RunEngine) -> Response:
    body = parse(StoreUpdateBody, await request.body())
    service = _service(request, engine)
    store = _store(service, request)
    changes: JSON = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.metadata is not None:
        changes["metadata"] = body.metadata
    if "expires_after" in body.model_fields_set:
        changes["expires_after_days"] = (
            None if body.expires_after is None else body.expires_after.days
        )
    updated = replace(store, **changes).touched(int(engine.clock.now()))
    service.tables.save_store(updated)
    return JSONResponse(service.wire(updated))


async def delete_store(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    store = _store(service, request)
    service.delete_store(store.id)
    return JSONResponse({"id": store.id, "object": "vector_store.deleted", "deleted": True})


async def search_store(request: Request, engine: RunEngine) -> Response:
    body = parse(SearchBody, await request.body())
    service = _service(request, engine)
    store = _store(service, request)
    queries = (body.query,) if isinstance(body.query, str) else tuple(body.query)
    ranking = body.ranking_options
    hybrid = None if ranking is None else ranking.hybrid_search
    query = Query(
        queries, body.max_num_results, 0.0 if ranking is None else ranking.score_threshold,
        body.filters,
        1.0 if hybrid is None else hybrid.text_weight,
        1.0 if hybrid is None else hybrid.embedding_weight,
    )  # fmt: skip
    hits = await service.search([store.id], query)
    names = {hit.file_id: _filename(service, hit.file_id) for hit in hits}
    data = [
        {"file_id": hit.file_id, "filename": names[hit.file_id], "score": hit.score,
         "attributes": hit.attributes, "content": [{"type": "text", "text": hit.text}]}
        for hit in hits
    ]  # fmt: skip
    page = {"object": "vector_store.search_results.page", "search_query": list(queries),
            "data": data, "has_more": False, "next_page": None}  # fmt: skip
    return JSONResponse(page)


def _filename(service: FileSearch, file_id: str) -> str:
    try:
        return service.upload(file_id)[0]
    except NoSuchUpload:
        return file_id


async def create_file(request: Request, engine: RunEngine) -> Response:
    body = parse(FileBody, await request.body())
    service = _service(request, engine)
    store = _store(service, request)
    try:
        added = service.add_file(
            store, body.file_id, attributes=body.attributes,
            chunking=strategy(body.chunking_strategy),
        )  # fmt: skip
    except NoSuchUpload as exc:
        raise _no_upload(exc) from exc
    return JSONResponse(added.to_wire(), headers=_POLL_AFTER)


async def list_files(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    store = _store(service, request)
    status = _status_filter(request)
    try:
        files, more = service.tables.page_files(store.id, *_paging(request), status=status)
    except KeyError as exc:
        raise unknown_cursor(exc.args[0]) from exc
    return _list([file.to_wire() for file in files], more)


def _status_filter(request: Request) -> FileStatus | None:
    raw = request.query_params.get("filter")
    if raw is None:
        return None
    try:
        return FileStatus(raw)
    except ValueError as exc:
        raise bad_request(
            "Invalid 'filter': expected one of 'in_progress', 'completed', 'failed', 'cancelled'.",
            param="filter",
        ) from exc


async def retrieve_file(request: Request, engine: RunEngine) -> Response:
    return JSONResponse(_file(_service(request, engine), request).to_wire(), headers=_POLL_AFTER)


async def update_file(request: Request, engine: RunEngine) -> Response:
    body = parse(AttributesBody, await request.body())
    service = _service(request, engine)
    found = _file(service, request)
    updated = replace(found, attributes=body.attributes or {})
    service.tables.save_file(updated)
    return JSONResponse(updated.to_wire())


async def delete_file(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    found = _file(service, request)
    service.delete_file(found.vector_store_id, found.id)
    return JSONResponse({"id": found.id, "object": "vector_store.file.deleted", "deleted": True})


async def file_content(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    found = _file(service, request)
    texts = service.tables.file_text(found.vector_store_id, found.id)
    data = [{"type": "text", "text": text} for text in texts]
    page = {"object": "vector_store.file_content.page", "data": data, "has_more": False,
            "next_page": None}  # fmt: skip
    return JSONResponse(page)


async def create_batch(request: Request, engine: RunEngine) -> Response:
    body = parse(BatchBody, await request.body())
    service = _service(request, engine)
    store = _store(service, request)
    try:
        batch = service.create_batch(store, body.entries())
    except NoSuchUpload as exc:
        raise _no_upload(exc) from exc
    return JSONResponse(service.batch_wire(batch), headers=_POLL_AFTER)


async def retrieve_batch(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    return JSONResponse(service.batch_wire(_batch(service, request)), headers=_POLL_AFTER)


async def cancel_batch(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    return JSONResponse(service.batch_wire(service.cancel_batch(_batch(service, request))))


async def list_batch_files(request: Request, engine: RunEngine) -> Response:
    service = _service(request, engine)
    batch = _batch(service, request)
    status = _status_filter(request)
    try:
        files, more = service.tables.page_files(
            batch.vector_store_id, *_paging(request), status=status, batch_id=batch.id
        )
    except KeyError as exc:
        raise unknown_cursor(exc.args[0]) from exc
    return _list([file.to_wire() for file in files], more)


_STORE = "/vector_stores/{vector_store_id}"
_FILE = _STORE + "/files/{file_id}"
_BATCH = _STORE + "/file_batches/{batch_id}"


def vector_store_routes() -> list[tuple[str, str, Handler]]:
    """The vector store routes, as (method, path, handler), for the route table."""
    return [
        ("POST", "/vector_stores", create_store),
        ("GET", "/vector_stores", list_stores),
        ("GET", _STORE, retrieve_store),
        ("POST", _STORE, update_store),
        ("DELETE", _STORE, delete_store),
        ("POST", _STORE + "/search", search_store),
        ("POST", _STORE + "/files", create_file),
        ("GET", _STORE + "/files", list_files),
        ("GET", _FILE, retrieve_file),
        ("POST", _FILE, update_file),
        ("DELETE", _FILE, delete_file),
        ("GET", _FILE + "/content", file_content),
        ("POST", _STORE + "/file_batches", create_batch),
        ("GET", _BATCH, retrieve_batch),
        ("POST", _BATCH + "/cancel", cancel_batch),
        ("GET", _BATCH + "/files", list_batch_files),
    ]
